//! Counting AWS requests inside the client, per `Service.Operation`.
//!
//! Every AWS call costs latency, counts against an account-wide API rate and shows up in
//! CloudTrail, so how many calls a pause makes is a figure worth knowing in production as well
//! as in benchmarks. [`RequestCounter`] is an SDK interceptor: it sees each operation once and
//! each attempt (retries after throttling included), so it counts exactly what crossed the wire,
//! independently of any emulator.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextRef,
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::{ConfigBag, Storable, StoreReplace};
use serde::Serialize;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One operation's span, from when the code asked for it to its final answer (retries
/// included), in microseconds since the counter was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start_us: u64,
    pub end_us: u64,
}

/// The longest chain of operations in which each one started only after the previous one had
/// answered: the dependent round trips an invocation's time is made of (at 50 ms a call, 15 of
/// them are 0.75 s whatever the concurrency). Spans that overlap are not dependent.
pub fn dependent_round_trips(spans: &[Span]) -> usize {
    let mut by_start: Vec<Span> = spans.to_vec();
    by_start.sort_by_key(|s| s.start_us);
    // Spans already chained, by end: once one has ended before a start it counts for every
    // later start too, so the best chain seen so far only grows.
    let mut open: BinaryHeap<Reverse<(u64, usize)>> = BinaryHeap::new();
    let (mut best_ended, mut longest) = (0, 0);
    for s in by_start {
        while let Some(Reverse((end, chain))) = open.peek().copied() {
            if end > s.start_us {
                break;
            }
            open.pop();
            best_ended = best_ended.max(chain);
        }
        let chain = best_ended + 1;
        longest = longest.max(chain);
        open.push(Reverse((s.end_us, chain)));
    }
    longest
}

/// When an operation started, kept in its own configuration layer until it ends.
#[derive(Debug, Clone, Copy)]
struct Started(Instant);

impl Storable for Started {
    type Storer = StoreReplace<Self>;
}

/// Counts of one `Service.Operation`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Operations started (what the code asked for).
    pub calls: u64,
    /// HTTP requests sent: calls plus retries.
    pub attempts: u64,
    /// Responses with an error status (throttling, 5xx, client errors).
    pub error_responses: u64,
}

impl Counts {
    /// Requests beyond one per call: what throttling and transient errors cost.
    pub fn retries(&self) -> u64 {
        self.attempts.saturating_sub(self.calls)
    }
}

/// Request counts by `Service.Operation` (e.g. `ECS.UpdateService`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RequestCounts(pub BTreeMap<String, Counts>);

impl RequestCounts {
    pub fn total(&self) -> Counts {
        self.0.values().fold(Counts::default(), |a, c| Counts {
            calls: a.calls + c.calls,
            attempts: a.attempts + c.attempts,
            error_responses: a.error_responses + c.error_responses,
        })
    }

    /// `self - earlier`, leaving out operations that did not change: the requests of one
    /// invocation when the counter lives as long as the process.
    pub fn since(&self, earlier: &RequestCounts) -> RequestCounts {
        let mut out = BTreeMap::new();
        for (op, c) in &self.0 {
            let b = earlier.0.get(op).copied().unwrap_or_default();
            let d = Counts {
                calls: c.calls.saturating_sub(b.calls),
                attempts: c.attempts.saturating_sub(b.attempts),
                error_responses: c.error_responses.saturating_sub(b.error_responses),
            };
            if d != Counts::default() {
                out.insert(op.clone(), d);
            }
        }
        RequestCounts(out)
    }
}

/// An SDK interceptor counting operations and attempts. Cheap to clone: clones share counts.
#[derive(Debug, Clone)]
pub struct RequestCounter {
    counts: Arc<Mutex<BTreeMap<String, Counts>>>,
    spans: Arc<Mutex<Vec<Span>>>,
    origin: Instant,
}

impl Default for RequestCounter {
    fn default() -> Self {
        RequestCounter {
            counts: Arc::default(),
            spans: Arc::default(),
            origin: Instant::now(),
        }
    }
}

/// Spans kept between two [`RequestCounter::take_spans`]: a bound, so that a caller that
/// never takes them does not grow without end (a 1,000-service pause makes ~4,000 calls).
const MAX_SPANS: usize = 100_000;

impl RequestCounter {
    pub fn new() -> Self {
        Self::default()
    }

    /// The spans of the operations that ended since the last call (one invocation's).
    pub fn take_spans(&self) -> Vec<Span> {
        std::mem::take(&mut *self.spans.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn micros(&self, t: Instant) -> u64 {
        u64::try_from(t.duration_since(self.origin).as_micros()).unwrap_or(u64::MAX)
    }

    pub fn snapshot(&self) -> RequestCounts {
        RequestCounts(self.lock().clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Counts>> {
        // A poisoned lock only means a panic elsewhere while counting: the counts stay usable.
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn bump(&self, cfg: &ConfigBag, f: impl FnOnce(&mut Counts)) {
        let key = match cfg.load::<Metadata>() {
            Some(m) => format!("{}.{}", m.service(), m.name()),
            None => "unknown".to_string(),
        };
        f(self.lock().entry(key).or_default());
    }
}

impl Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "costctl.RequestCounter"
    }

    // Not `read_before_execution`: client-level interceptors run it before the operation's
    // configuration (which holds its name) is applied.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.bump(cfg, |c| c.calls += 1);
        cfg.interceptor_state().store_put(Started(Instant::now()));
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(Started(start)) = cfg.load::<Started>().copied() {
            let span = Span {
                start_us: self.micros(start),
                end_us: self.micros(Instant::now()),
            };
            let mut spans = self.spans.lock().unwrap_or_else(|e| e.into_inner());
            if spans.len() < MAX_SPANS {
                spans.push(span);
            }
        }
        Ok(())
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.bump(cfg, |c| c.attempts += 1);
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !context.response().status().is_success() {
            self.bump(cfg, |c| c.error_responses += 1);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_counts_only_calls_that_waited_for_an_answer() {
        let span = |start_us, end_us| Span { start_us, end_us };
        assert_eq!(dependent_round_trips(&[]), 0);
        // A lease (0–50), then ten writes in flight together (50–100 … 59–120), then an
        // observation that waits for all of them (120–170) and the finish (170–220).
        let mut trace = vec![span(0, 50)];
        trace.extend((0..10).map(|i| span(50 + i, 100 + 2 * i)));
        trace.extend([span(120, 170), span(170, 220)]);
        assert_eq!(dependent_round_trips(&trace), 4);
        // Two independent sequences side by side: the longer one counts.
        let two = [
            span(0, 10),
            span(10, 20),
            span(20, 30),
            span(0, 25),
            span(26, 40),
        ];
        assert_eq!(dependent_round_trips(&two), 3);
        // Order of the trace does not matter; overlapping calls do not chain.
        let mut rev = two.to_vec();
        rev.reverse();
        assert_eq!(dependent_round_trips(&rev), 3);
        assert_eq!(
            dependent_round_trips(&[span(0, 10), span(5, 15), span(9, 20)]),
            1
        );
    }

    #[test]
    fn since_keeps_only_what_changed() {
        let c = |calls, attempts, error_responses| Counts {
            calls,
            attempts,
            error_responses,
        };
        let before = RequestCounts(BTreeMap::from([
            ("ECS.ListClusters".into(), c(1, 1, 0)),
            ("RDS.StopDBInstance".into(), c(2, 3, 1)),
        ]));
        let after = RequestCounts(BTreeMap::from([
            ("ECS.ListClusters".into(), c(1, 1, 0)),
            ("RDS.StopDBInstance".into(), c(4, 7, 2)),
            ("ECS.UpdateService".into(), c(5, 5, 0)),
        ]));
        let d = after.since(&before);
        assert_eq!(
            d.0,
            BTreeMap::from([
                ("RDS.StopDBInstance".into(), c(2, 4, 1)),
                ("ECS.UpdateService".into(), c(5, 5, 0)),
            ])
        );
        assert_eq!(d.total(), c(7, 9, 1));
        assert_eq!(d.total().retries(), 2);
    }
}
