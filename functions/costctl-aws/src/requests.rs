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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub start_us: u64,
    pub end_us: u64,
    /// `Service.Operation`, as in [`RequestCounts`].
    pub op: Arc<str>,
}

/// The longest chain of operations in which each one started only after the previous one had
/// answered: the dependent round trips an invocation's time is made of (at 50 ms a call, 15 of
/// them are 0.75 s whatever the concurrency). Spans that overlap are not dependent.
pub fn dependent_round_trips(spans: &[Span]) -> usize {
    critical_path(spans).len()
}

/// The chain [`dependent_round_trips`] counts, in order: the calls to remove or overlap to make
/// an invocation faster. Of chains equally long, the one whose calls started first.
pub fn critical_path(spans: &[Span]) -> Vec<&Span> {
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by_key(|&i| (spans[i].start_us, spans[i].end_us));
    // Spans already chained, by end: once one has ended before a start it counts for every
    // later start too, so the best chain seen so far only grows.
    let mut open: BinaryHeap<Reverse<(u64, usize, usize)>> = BinaryHeap::new();
    let mut before: Vec<Option<usize>> = vec![None; spans.len()];
    let mut best_ended: Option<(usize, usize)> = None; // (chain length, span)
    let mut longest: Option<(usize, usize)> = None;
    for i in order {
        while let Some(Reverse((end, chain, j))) = open.peek().copied() {
            if end > spans[i].start_us {
                break;
            }
            open.pop();
            if best_ended.is_none_or(|(c, _)| chain > c) {
                best_ended = Some((chain, j));
            }
        }
        before[i] = best_ended.map(|(_, j)| j);
        let chain = best_ended.map_or(0, |(c, _)| c) + 1;
        if longest.is_none_or(|(c, _)| chain > c) {
            longest = Some((chain, i));
        }
        open.push(Reverse((spans[i].end_us, chain, i)));
    }
    let mut path = Vec::new();
    let mut at = longest.map(|(_, i)| i);
    while let Some(i) = at {
        path.push(&spans[i]);
        at = before[i];
    }
    path.reverse();
    path
}

/// The chain as a line: operations in order, repeats folded (`ECS.DescribeServices ×3`).
pub fn critical_path_line(path: &[&Span]) -> String {
    let mut parts: Vec<(&str, usize)> = Vec::new();
    for s in path {
        match parts.last_mut() {
            Some((op, n)) if *op == &*s.op => *n += 1,
            _ => parts.push((&s.op, 1)),
        }
    }
    parts
        .iter()
        .map(|(op, n)| {
            if *n == 1 {
                op.to_string()
            } else {
                format!("{op} ×{n}")
            }
        })
        .collect::<Vec<_>>()
        .join(" > ")
}

/// When an operation started and what it is, kept in its own configuration layer until it ends.
#[derive(Debug, Clone)]
struct Started(Instant, Arc<str>);

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

    fn op(cfg: &ConfigBag) -> String {
        match cfg.load::<Metadata>() {
            Some(m) => format!("{}.{}", m.service(), m.name()),
            None => "unknown".to_string(),
        }
    }

    fn bump(&self, cfg: &ConfigBag, f: impl FnOnce(&mut Counts)) {
        f(self.lock().entry(Self::op(cfg)).or_default());
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
        let op = Self::op(cfg);
        self.lock().entry(op.clone()).or_default().calls += 1;
        cfg.interceptor_state()
            .store_put(Started(Instant::now(), Arc::from(op)));
        Ok(())
    }

    fn read_after_execution(
        &self,
        _context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(Started(start, op)) = cfg.load::<Started>().cloned() {
            let span = Span {
                start_us: self.micros(start),
                end_us: self.micros(Instant::now()),
                op,
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
        let span = |start_us, end_us| Span {
            start_us,
            end_us,
            op: Arc::from(format!("Op.{start_us}")),
        };
        assert_eq!(dependent_round_trips(&[]), 0);
        // A lease (0–50), then ten writes in flight together (50–100 … 59–120), then an
        // observation that waits for all of them (120–170) and the finish (170–220).
        let mut trace = vec![span(0, 50)];
        trace.extend((0..10).map(|i| span(50 + i, 100 + 2 * i)));
        trace.extend([span(120, 170), span(170, 220)]);
        assert_eq!(dependent_round_trips(&trace), 4);
        // The chain named: the lease, the write that ended first (every later call waited
        // for it as well as for the others), the observation and the finish.
        let ops = |p: Vec<&Span>| p.iter().map(|s| s.op.to_string()).collect::<Vec<_>>();
        assert_eq!(
            ops(critical_path(&trace)),
            ["Op.0", "Op.50", "Op.120", "Op.170"]
        );
        // Two independent sequences side by side: the longer one counts.
        let two = [
            span(0, 10),
            span(10, 20),
            span(20, 30),
            span(0, 25),
            span(26, 40),
        ];
        assert_eq!(dependent_round_trips(&two), 3);
        assert_eq!(ops(critical_path(&two)), ["Op.0", "Op.10", "Op.20"]);
        // Order of the trace does not matter; overlapping calls do not chain.
        let mut rev = two.to_vec();
        rev.reverse();
        assert_eq!(dependent_round_trips(&rev), 3);
        assert_eq!(ops(critical_path(&rev)), ["Op.0", "Op.10", "Op.20"]);
        assert_eq!(
            dependent_round_trips(&[span(0, 10), span(5, 15), span(9, 20)]),
            1
        );
    }

    #[test]
    fn the_chain_reads_as_a_line_with_repeats_folded() {
        let span = |op: &str, start_us| Span {
            start_us,
            end_us: start_us + 5,
            op: Arc::from(op),
        };
        let trace = [
            span("DynamoDB.UpdateItem", 0),
            span("ECS.DescribeServices", 10),
            span("ECS.DescribeServices", 20),
            span("ECS.UpdateService", 30),
            span("DynamoDB.UpdateItem", 40),
        ];
        assert_eq!(
            critical_path_line(&critical_path(&trace)),
            "DynamoDB.UpdateItem > ECS.DescribeServices ×2 > ECS.UpdateService > DynamoDB.UpdateItem"
        );
        assert_eq!(critical_path_line(&[]), "");
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
