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
    BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

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
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    counts: Arc<Mutex<BTreeMap<String, Counts>>>,
}

impl RequestCounter {
    pub fn new() -> Self {
        Self::default()
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
