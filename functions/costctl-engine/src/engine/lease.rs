//! [`Lease`]: this invocation's hold on a stack — who holds it, how long one grant lasts, and the
//! margins that keep every call inside the grant. The one place the engine's lease arithmetic
//! lives; the store keeps the grant itself (`store::Lease`) with conditional writes.

use super::Options;
use crate::cloud::ATTEMPT_TIMEOUT;
use crate::store::{StackState, StateStore, StoreResult};

#[derive(Debug, Clone)]
pub struct Lease {
    owner: String,
    ttl_ms: i64,
    margin_ms: i64,
    /// How long before the grant ends a call's retries stop: one attempt timeout, at most a
    /// quarter of the grant (so that a step started with half the grant left gets time to run).
    call_margin_ms: i64,
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4)
}

impl Lease {
    pub fn new(options: &Options) -> Self {
        Lease {
            owner: options.owner.clone(),
            ttl_ms: ms(options.lease_ttl),
            margin_ms: ms(options.safety_margin),
            call_margin_ms: ms(ATTEMPT_TIMEOUT.min(options.lease_ttl / 4)),
        }
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn ttl_ms(&self) -> i64 {
        self.ttl_ms
    }

    /// Acquires or renews the grant as of `now_ms` and returns the stack's latest state (the
    /// newest request comes with every renewal).
    pub async fn take<S: StateStore>(
        &self,
        store: &S,
        stack: &str,
        now_ms: i64,
    ) -> StoreResult<StackState> {
        store.lease(stack, &self.owner, now_ms, self.ttl_ms).await
    }

    pub async fn release<S: StateStore>(&self, store: &S, stack: &str) -> StoreResult<()> {
        store.release(stack, &self.owner).await
    }

    /// The last instant a write may be sent under a grant asked for at `asked_at_ms`: the
    /// grant ends one TTL after the ask however late the answer came, less the safety margin.
    pub fn not_after(&self, asked_at_ms: i64) -> i64 {
        asked_at_ms
            .saturating_add(self.ttl_ms)
            .saturating_sub(self.margin_ms)
    }

    /// The last instant a fenced call (an ALB apply, an MSK create) may send under a grant that
    /// ends at `until_ms`.
    pub fn fence_at(&self, until_ms: i64) -> i64 {
        until_ms.saturating_sub(self.margin_ms)
    }

    /// Whether a step may start at `now_ms` under a grant that ends at `until_ms`: only while
    /// the grant outlasts it by half a TTL. Once it has expired (a slow answer, a frozen
    /// process) another invocation may have taken the stack over with a newer request.
    pub fn may_start(&self, now_ms: i64, until_ms: i64) -> bool {
        now_ms.saturating_add(self.ttl_ms / 2) < until_ms
    }

    /// When a call under a grant ending at `until_ms` is abandoned (its retries stop), so that
    /// a throttled retry loop cannot land a write after another invocation took over.
    pub fn calls_until(&self, until_ms: i64) -> i64 {
        until_ms.saturating_sub(self.call_margin_ms)
    }

    /// The safety margin kept before an invocation's deadline.
    pub fn margin_ms(&self) -> i64 {
        self.margin_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn lease(ttl_s: u64) -> Lease {
        Lease::new(&Options {
            lease_ttl: Duration::from_secs(ttl_s),
            safety_margin: Duration::from_secs(3),
            owner: "me".into(),
            ..Options::default()
        })
    }

    #[test]
    fn the_grant_ends_one_ttl_after_the_ask_less_the_margin() {
        let l = lease(120);
        assert_eq!(l.not_after(1_000), 1_000 + 120_000 - 3_000);
        assert_eq!(l.fence_at(50_000), 47_000);
    }

    #[test]
    fn a_step_starts_only_with_half_the_grant_left() {
        let l = lease(120);
        assert!(l.may_start(0, 60_001));
        assert!(!l.may_start(0, 60_000));
    }

    #[test]
    fn calls_stop_one_attempt_timeout_before_the_end_at_most_a_quarter_grant() {
        // 120 s grant: the 20 s attempt timeout.
        assert_eq!(lease(120).calls_until(100_000), 80_000);
        // 40 s grant: a quarter, 10 s.
        assert_eq!(lease(40).calls_until(100_000), 90_000);
    }
}
