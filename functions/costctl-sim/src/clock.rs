//! Virtual time and a deterministic single-threaded executor.
//!
//! Time only moves when every task is blocked on a [`SimClock`] sleep: the executor then jumps
//! to the earliest timer. Among the tasks that are ready, a seeded generator picks which one runs
//! next, so two to four concurrent invocations interleave differently for every seed and
//! identically for the same seed. A task can be dropped at any await point (a crash).

use crate::rng::Rng;
use async_trait::async_trait;
use costctl_engine::engine::Clock;
use futures::future::LocalBoxFuture;
use futures::task::{ArcWake, waker};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

#[derive(Default)]
struct ClockInner {
    now: i64,
    timers: BTreeMap<(i64, u64), Waker>,
    seq: u64,
}

/// Virtual time, shared by the simulated cloud, the store and every engine.
#[derive(Clone, Default)]
pub struct SimClock {
    inner: Arc<Mutex<ClockInner>>,
}

impl SimClock {
    pub fn new(start_ms: i64) -> Self {
        let clock = SimClock::default();
        clock.lock().now = start_ms;
        clock
    }

    fn lock(&self) -> MutexGuard<'_, ClockInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn now(&self) -> i64 {
        self.lock().now
    }

    /// The earliest pending timer.
    pub fn next_deadline(&self) -> Option<i64> {
        self.lock().timers.keys().next().map(|k| k.0)
    }

    /// Moves time forward to `t` and wakes every timer due by then.
    pub fn advance_to(&self, t: i64) {
        let due: Vec<Waker> = {
            let mut inner = self.lock();
            if t > inner.now {
                inner.now = t;
            }
            let now = inner.now;
            let keys: Vec<(i64, u64)> = inner
                .timers
                .range(..(now + 1, 0))
                .map(|(k, _)| *k)
                .collect();
            keys.iter().filter_map(|k| inner.timers.remove(k)).collect()
        };
        for w in due {
            w.wake();
        }
    }

    pub fn sleep_ms(&self, ms: i64) -> Sleep {
        Sleep {
            clock: self.clone(),
            until: self.now() + ms.max(0),
            key: None,
        }
    }
}

#[async_trait]
impl Clock for SimClock {
    fn now_ms(&self) -> i64 {
        self.now()
    }
    async fn sleep(&self, d: Duration) {
        self.sleep_ms(i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4))
            .await;
    }
}

/// A virtual-time sleep.
pub struct Sleep {
    clock: SimClock,
    until: i64,
    key: Option<(i64, u64)>,
}

impl Future for Sleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut inner = self.clock.lock();
        if inner.now >= self.until {
            if let Some(k) = self.key {
                inner.timers.remove(&k);
            }
            drop(inner);
            self.key = None;
            return Poll::Ready(());
        }
        let key = match self.key {
            Some(k) => k,
            None => {
                inner.seq += 1;
                (self.until, inner.seq)
            }
        };
        inner.timers.insert(key, cx.waker().clone());
        drop(inner);
        self.key = Some(key);
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let Some(k) = self.key {
            self.clock.lock().timers.remove(&k);
        }
    }
}

struct Flag(AtomicBool);
impl ArcWake for Flag {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.store(true, Ordering::SeqCst);
    }
}

struct Task<T> {
    id: usize,
    fut: LocalBoxFuture<'static, T>,
    flag: Arc<Flag>,
}

/// What one executor step did.
pub enum Step<T> {
    /// Task `id` ran until its next await point; `Some` when it finished.
    Polled { id: usize, output: Option<T> },
    /// Nothing was ready: time jumped forward.
    Advanced { to: i64 },
    /// No task left and nothing scheduled.
    Idle,
}

/// Runs tasks on virtual time. Tasks are started at their scheduled virtual time.
pub struct Executor<T> {
    pub clock: SimClock,
    tasks: Vec<Task<T>>,
    scheduled: BTreeMap<(i64, usize), LocalBoxFuture<'static, T>>,
    rng: Rng,
}

impl<T> Executor<T> {
    pub fn new(clock: SimClock, rng: Rng) -> Self {
        Executor {
            clock,
            tasks: Vec::new(),
            scheduled: BTreeMap::new(),
            rng,
        }
    }

    /// Starts task `id` at virtual time `at` (ids must be unique).
    pub fn spawn_at(&mut self, at: i64, id: usize, fut: LocalBoxFuture<'static, T>) {
        self.scheduled.insert((at, id), fut);
    }

    pub fn live(&self) -> usize {
        self.tasks.len()
    }

    /// Drops a task at its current await point, as a crash would.
    pub fn kill(&mut self, id: usize) -> bool {
        let before = self.tasks.len();
        self.tasks.retain(|t| t.id != id);
        before != self.tasks.len()
    }

    /// The time of the next scheduled start or timer, whichever is first.
    pub fn next_event(&self) -> Option<i64> {
        let s = self.scheduled.keys().next().map(|k| k.0);
        match (s, self.clock.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn step(&mut self) -> Step<T> {
        let now = self.clock.now();
        while let Some(entry) = self.scheduled.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let ((_, id), fut) = entry.remove_entry();
            self.tasks.push(Task {
                id,
                fut,
                flag: Arc::new(Flag(AtomicBool::new(true))),
            });
        }
        let ready: Vec<usize> = (0..self.tasks.len())
            .filter(|&i| self.tasks[i].flag.0.load(Ordering::SeqCst))
            .collect();
        if ready.is_empty() {
            return match self.next_event() {
                Some(t) => {
                    self.clock.advance_to(t);
                    Step::Advanced { to: t }
                }
                None => Step::Idle,
            };
        }
        let idx = ready[usize::try_from(self.rng.below(ready.len() as u64)).unwrap_or(0)];
        let task = &mut self.tasks[idx];
        task.flag.0.store(false, Ordering::SeqCst);
        let w = waker(task.flag.clone());
        let mut cx = Context::from_waker(&w);
        let id = task.id;
        match task.fut.as_mut().poll(&mut cx) {
            Poll::Ready(out) => {
                self.tasks.remove(idx);
                Step::Polled {
                    id,
                    output: Some(out),
                }
            }
            Poll::Pending => Step::Polled { id, output: None },
        }
    }
}
