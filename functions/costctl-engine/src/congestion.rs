//! Concurrency that adapts to throttling: one additive-increase, multiplicative-decrease
//! window per AWS service.
//!
//! ECS, Application Auto Scaling, RDS and the others each have their own request rate limits
//! (token buckets per account and region), so a service that throttles narrows only its own
//! window. A window starts at the engine's bound (`Options::concurrency`), so an unthrottled
//! pause runs as wide as allowed. After each window's worth of requests to a service (one
//! round of calls), the share of them AWS throttled decides: more than half, and the window
//! halves; otherwise it grows by one call, up to the bound. Random, light throttling (the SDK
//! retries it at little cost) therefore leaves the window open; a service answering most calls
//! with throttling is sent about as much as it lets through, instead of being retried at full
//! width until the retries run out. Windows live as long as the engine (a warm Lambda process),
//! so what one invocation learned the next starts from.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Above this share of throttled requests in a round, the window halves.
pub const THROTTLED_SHARE: f64 = 0.5;

/// The narrowest a window gets: the SDK's retries with backoff take care of the rest.
pub const MIN_WINDOW: usize = 2;

/// A round is at least this many requests, so that a narrow window is not judged on one call.
const MIN_ROUND: u64 = 8;

/// Requests to one service and how many of them were throttled, counted from some start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Throttling {
    pub attempts: u64,
    pub throttled: u64,
}

#[derive(Debug, Clone)]
struct Window {
    limit: f64,
    /// Calls to the service in flight now, from every reconcile of the engine.
    in_flight: usize,
    /// This round's requests so far.
    round: Throttling,
    /// The cloud's own count when it was last read (clouds that count their requests).
    metered: Option<Throttling>,
}

/// A window that changed at the end of a round.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    pub service: &'static str,
    pub from: usize,
    pub to: usize,
    /// The round's share of throttled requests.
    pub throttled_share: f64,
}

/// A call's place in its service's window, given back when the call ends or is dropped (a
/// reconcile abandoned at its deadline leaves no place taken in a warm process).
pub struct Slot {
    windows: Arc<Mutex<Windows>>,
    service: &'static str,
}

impl Slot {
    /// A place taken with [`Windows::try_start`].
    pub fn taken(windows: &Arc<Mutex<Windows>>, service: &'static str) -> Self {
        Slot {
            windows: Arc::clone(windows),
            service,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.windows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .release(self.service);
    }
}

/// The windows of every service an engine has called.
#[derive(Debug, Clone)]
pub struct Windows {
    max: usize,
    by_service: BTreeMap<&'static str, Window>,
}

impl Windows {
    /// Windows that start (and grow back) to `max` calls in flight per service.
    pub fn new(max: usize) -> Self {
        Windows {
            max: max.max(1),
            by_service: BTreeMap::new(),
        }
    }

    /// How many calls to `service` may be in flight now.
    pub fn limit(&self, service: &str) -> usize {
        self.by_service
            .get(service)
            .map_or(self.max, |w| (w.limit as usize).clamp(1, self.max))
    }

    /// Takes a place for one call to `service` if its window has one.
    pub fn try_start(&mut self, service: &'static str) -> bool {
        let limit = self.limit(service);
        let w = self.window(service);
        let room = w.in_flight < limit;
        if room {
            w.in_flight += 1;
        }
        room
    }

    /// Gives back the place of a call that ended (or was abandoned).
    pub fn release(&mut self, service: &'static str) {
        let w = self.window(service);
        w.in_flight = w.in_flight.saturating_sub(1);
    }

    /// The cloud's running count of `service`'s requests (`Cloud::throttling`): what is new
    /// since the last reading is this round's evidence.
    pub fn metered(&mut self, service: &'static str, total: Throttling) -> Option<Change> {
        let w = self.window(service);
        let before = w.metered.replace(total).unwrap_or_default();
        let new = Throttling {
            attempts: total.attempts.saturating_sub(before.attempts),
            throttled: total.throttled.saturating_sub(before.throttled),
        };
        self.record(service, new)
    }

    /// Evidence of requests to `service`: `attempts` made, `throttled` of them throttled.
    pub fn record(&mut self, service: &'static str, seen: Throttling) -> Option<Change> {
        let max = self.max;
        let w = self.window(service);
        w.round.attempts += seen.attempts;
        w.round.throttled += seen.throttled;
        let round = MIN_ROUND.max(w.limit as u64);
        if w.round.attempts < round {
            return None;
        }
        let share = w.round.throttled as f64 / w.round.attempts as f64;
        w.round = Throttling::default();
        let from = w.limit as usize;
        w.limit = if share > THROTTLED_SHARE {
            (w.limit / 2.0).max(MIN_WINDOW.min(max) as f64)
        } else {
            (w.limit + 1.0).min(max as f64)
        };
        let to = w.limit as usize;
        (to != from).then_some(Change {
            service,
            from,
            to,
            throttled_share: share,
        })
    }

    fn window(&mut self, service: &'static str) -> &mut Window {
        let max = self.max;
        self.by_service.entry(service).or_insert_with(|| Window {
            limit: max as f64,
            in_flight: 0,
            round: Throttling::default(),
            metered: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(attempts: u64, throttled: u64) -> Throttling {
        Throttling {
            attempts,
            throttled,
        }
    }

    #[test]
    fn a_throttling_service_halves_its_own_window_and_grows_back_by_one_a_round() {
        let mut w = Windows::new(64);
        assert_eq!(w.limit("ecs"), 64);
        // A round of 64 requests, 40 throttled: halved.
        let change = w.record("ecs", calls(64, 40)).expect("a change");
        assert_eq!((change.from, change.to), (64, 32));
        assert_eq!(w.limit("ecs"), 32);
        // Other services keep theirs.
        assert_eq!(w.limit("application-autoscaling"), 64);
        // Rounds are a window's worth: 31 requests decide nothing yet.
        assert_eq!(w.record("ecs", calls(31, 31)), None);
        assert_eq!(w.limit("ecs"), 32);
        // The 32nd ends a mostly throttled round: 16.
        assert_eq!(w.record("ecs", calls(1, 0)).map(|c| c.to), Some(16));
        // Clean rounds add one call each.
        for expected in 17..=20 {
            w.record("ecs", calls(expected as u64 - 1, 0));
            assert_eq!(w.limit("ecs"), expected);
        }
    }

    #[test]
    fn light_random_throttling_leaves_the_window_open_and_it_never_passes_the_bound_or_floor() {
        let mut w = Windows::new(16);
        for _ in 0..100 {
            w.record("rds", calls(16, 5)); // 30 %: the SDK's retries handle it
        }
        assert_eq!(w.limit("rds"), 16);
        for _ in 0..100 {
            w.record("rds", calls(16, 16));
        }
        assert_eq!(w.limit("rds"), MIN_WINDOW);
        // A narrow window is judged on at least MIN_ROUND requests, not one.
        assert_eq!(w.record("rds", calls(1, 0)), None);
        assert_eq!(w.limit("rds"), MIN_WINDOW);
    }

    #[test]
    fn places_are_taken_up_to_the_window_and_given_back_by_dropped_slots() {
        let windows = Arc::new(Mutex::new(Windows::new(2)));
        let take = || windows.lock().unwrap().try_start("ecs");
        assert!(take());
        let a = Slot::taken(&windows, "ecs");
        assert!(take());
        let b = Slot::taken(&windows, "ecs");
        assert!(!take(), "the window of 2 is full");
        assert!(
            windows.lock().unwrap().try_start("rds"),
            "other services have their own"
        );
        drop(a);
        assert!(take());
        let _c = Slot::taken(&windows, "ecs");
        drop(b);
        assert!(take());
    }

    #[test]
    fn a_metered_count_is_read_as_what_is_new_since_the_last_reading() {
        let mut w = Windows::new(8);
        // The first reading is all new: 8 requests, 6 throttled.
        assert_eq!(w.metered("ecs", calls(8, 6)).map(|c| c.to), Some(4));
        // Unchanged counts add nothing.
        assert_eq!(w.metered("ecs", calls(8, 6)), None);
        // 8 more, none throttled: one more call.
        assert_eq!(w.metered("ecs", calls(16, 6)).map(|c| c.to), Some(5));
    }
}
