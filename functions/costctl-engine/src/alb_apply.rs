//! The one ALB apply loop: both clouds run it, so the call sequence the simulation faults is
//! the one production sends.
//!
//! [`apply_alb`] checks the spec's dependencies, reads the load balancer as it is, asks the
//! pure planner ([`alb_calls`]) for the calls that bring it to the spec, and sends them stage by
//! stage ([`alb_stages`]: the calls of a stage at once, the next stage once they are answered)
//! with the lease fence before each call: a call answered late (or a process frozen between
//! two calls) cannot let this invocation change the load balancer after a newer one has taken
//! the lease. The clouds supply only the reads and the sending of one call ([`AlbCalls`]).

use crate::cloud::fence;
use crate::error::CloudResult;
use async_trait::async_trait;
use costctl_core::alb::{AlbCall, LiveAlb, alb_calls, alb_stages};
use costctl_core::spec::LoadBalancerSpec;
use futures::StreamExt;
use std::collections::BTreeMap;

/// What a sequence of calls has learnt so far: the load balancer's ARN (CreateLoadBalancer
/// answers it) and its listeners' ARNs by port (CreateListener answers a new one).
#[derive(Debug, Clone, Default)]
pub struct AlbTarget {
    pub arn: String,
    pub listeners: BTreeMap<u16, String>,
}

impl AlbTarget {
    pub fn of(live: Option<&LiveAlb>) -> Self {
        live.map(|l| Self {
            arn: l.arn.clone(),
            listeners: l
                .listeners
                .iter()
                .map(|x| (x.spec.port, x.arn.clone()))
                .collect(),
        })
        .unwrap_or_default()
    }

    /// The ARN of the listener on `port` (an earlier call created it, or it existed).
    pub fn listener(&self, port: u16) -> &str {
        self.listeners.get(&port).map_or("", String::as_str)
    }
}

/// What one call's answer adds to an [`AlbTarget`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Learnt {
    Nothing,
    /// CreateLoadBalancer's ARN.
    LoadBalancer(String),
    /// CreateListener's ARN, by port.
    Listener(u16, String),
    /// DeleteListener freed this port.
    ListenerGone(u16),
}

impl AlbTarget {
    fn learn(&mut self, learnt: Learnt) {
        match learnt {
            Learnt::Nothing => {}
            Learnt::LoadBalancer(arn) => self.arn = arn,
            Learnt::Listener(port, arn) => {
                self.listeners.insert(port, arn);
            }
            Learnt::ListenerGone(port) => {
                self.listeners.remove(&port);
            }
        }
    }
}

/// Calls of one stage in flight at once: a load balancer with many rules is still applied in
/// few round trips, without a burst ELB's API would throttle.
const CALLS_AT_ONCE: usize = 8;

/// The reads and the one-call sends a cloud gives the apply loop.
#[async_trait]
pub trait AlbCalls: Send + Sync {
    /// Refuses, naming it, a certificate or target group the spec names that does not exist.
    async fn check_alb_dependencies(&self, spec: &LoadBalancerSpec) -> CloudResult<()>;
    /// The load balancer of that name as it is, or `None`.
    async fn live_alb(&self, name: &str) -> CloudResult<Option<LiveAlb>>;
    /// Sends `call` (one of [`alb_calls`] for `spec`) to the load balancer and listeners
    /// `target` knows, answering what the call made or freed. Calls of one stage are sent
    /// at once.
    async fn send_alb_call(
        &self,
        spec: &LoadBalancerSpec,
        call: &AlbCall,
        target: &AlbTarget,
    ) -> CloudResult<Learnt>;
    /// Unix milliseconds, on the clock the fence compares with.
    fn now_ms(&self) -> i64;
}

/// Creates the load balancer if needed and brings it to `spec`; no call is sent once the
/// clock reaches `not_after_ms`.
pub async fn apply_alb(
    cloud: &impl AlbCalls,
    spec: &LoadBalancerSpec,
    not_after_ms: i64,
) -> CloudResult<()> {
    let resource = format!("alb:{}", spec.name);
    // The load balancer is read while its dependencies are checked: both are reads, and a
    // refused dependency still sends nothing.
    let (checked, live) = futures::join!(
        cloud.check_alb_dependencies(spec),
        cloud.live_alb(&spec.name)
    );
    checked?;
    let live = live?;
    let mut target = AlbTarget::of(live.as_ref());
    for stage in alb_stages(alb_calls(live.as_ref(), spec)) {
        // Collected first: a stream over a closure would not be `Send` for every lifetime,
        // which the clouds' `async_trait` methods that run this loop need.
        let sends: Vec<_> = stage
            .iter()
            .map(|call| send_fenced(cloud, spec, call, &target, not_after_ms, &resource))
            .collect();
        let answers: Vec<CloudResult<Learnt>> = futures::stream::iter(sends)
            .buffered(CALLS_AT_ONCE)
            .collect()
            .await;
        // Every answer of the stage is learnt, then its first error ends the apply: the
        // next pass reads the load balancer again and plans only what is still missing.
        let mut failed = None;
        for answer in answers {
            match answer {
                Ok(learnt) => target.learn(learnt),
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        if let Some(e) = failed {
            return Err(e);
        }
    }
    Ok(())
}

/// One call, sent only if the fence allows it now.
async fn send_fenced(
    cloud: &impl AlbCalls,
    spec: &LoadBalancerSpec,
    call: &AlbCall,
    target: &AlbTarget,
    not_after_ms: i64,
    resource: &str,
) -> CloudResult<Learnt> {
    fence(cloud.now_ms(), not_after_ms, call.operation(), resource)?;
    cloud.send_alb_call(spec, call, target).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use costctl_core::spec::EphemeralSpec;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const TG: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api/1";

    /// A load balancer of two listeners with two rules each.
    fn spec() -> LoadBalancerSpec {
        let rules = serde_json::json!([
            {"priority": 10, "conditions": [{"field": "path-pattern", "values": ["/a/*"]}],
             "actions": [{"type": "forward", "target_group_arn": TG}]},
            {"priority": 20, "conditions": [{"field": "path-pattern", "values": ["/b/*"]}],
             "actions": [{"type": "forward", "target_group_arn": TG}]}
        ]);
        let listener = |port: u16| {
            serde_json::json!({"port": port, "protocol": "HTTP",
                "default_actions": [{"type": "forward", "target_group_arn": TG}],
                "rules": rules})
        };
        let v = serde_json::json!({"load_balancers": [{
            "name": "shop-alb", "subnets": ["subnet-a", "subnet-b"], "security_groups": ["sg-1"],
            "attributes": {"idle_timeout.timeout_seconds": "120"},
            "listeners": [listener(80), listener(8080)]
        }], "kafka_clusters": []});
        EphemeralSpec::from_value(&v)
            .expect("valid")
            .load_balancers
            .remove(0)
    }

    /// Records each call with the ARN it was sent to, and how many were in flight at once.
    #[derive(Default)]
    struct Recording {
        sent: Mutex<Vec<(&'static str, String)>>,
        in_flight: AtomicUsize,
        most: AtomicUsize,
        now_ms: i64,
    }

    /// Pending once, so that the other calls of a stage get to start.
    async fn yield_once() {
        let mut first = true;
        futures::future::poll_fn(|cx| {
            if std::mem::take(&mut first) {
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
    }

    #[async_trait]
    impl AlbCalls for Recording {
        async fn check_alb_dependencies(&self, _: &LoadBalancerSpec) -> CloudResult<()> {
            Ok(())
        }
        async fn live_alb(&self, _: &str) -> CloudResult<Option<LiveAlb>> {
            Ok(None)
        }
        async fn send_alb_call(
            &self,
            _: &LoadBalancerSpec,
            call: &AlbCall,
            target: &AlbTarget,
        ) -> CloudResult<Learnt> {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(now, Ordering::SeqCst);
            yield_once().await;
            let to = match call {
                AlbCall::CreateRule { port, .. }
                | AlbCall::ModifyListenerAttributes { port, .. } => {
                    target.listener(*port).to_string()
                }
                _ => target.arn.clone(),
            };
            self.sent.lock().unwrap().push((call.operation(), to));
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok(match call {
                AlbCall::CreateLoadBalancer => Learnt::LoadBalancer("lb".into()),
                AlbCall::CreateListener { port } => Learnt::Listener(*port, format!("l{port}")),
                _ => Learnt::Nothing,
            })
        }
        fn now_ms(&self) -> i64 {
            self.now_ms
        }
    }

    #[test]
    fn a_stage_is_sent_at_once_and_later_stages_use_what_it_answered() {
        let cloud = Recording::default();
        futures::executor::block_on(apply_alb(&cloud, &spec(), i64::MAX)).expect("applied");
        let sent = cloud.sent.into_inner().unwrap();
        let ops: Vec<&str> = sent.iter().map(|(op, _)| *op).collect();
        assert_eq!(ops.len(), 8, "{ops:?}");
        assert_eq!(ops[0], "elasticloadbalancing:CreateLoadBalancer");
        // The attributes and both listeners at once, then the four rules at once.
        assert_eq!(cloud.most.load(Ordering::SeqCst), 4);
        for (op, to) in &sent[1..] {
            let want = if op.ends_with(":CreateRule") {
                ["l80", "l8080"].as_slice()
            } else {
                ["lb"].as_slice()
            };
            assert!(want.contains(&to.as_str()), "{op} sent to {to:?}");
        }
    }

    #[test]
    fn nothing_is_sent_past_the_fence() {
        let cloud = Recording {
            now_ms: 1_000,
            ..Recording::default()
        };
        let err = futures::executor::block_on(apply_alb(&cloud, &spec(), 999)).unwrap_err();
        assert!(
            matches!(&err, crate::error::CloudError::Transient { code, .. } if code == "LeaseExpiring"),
            "{err}"
        );
        assert!(cloud.sent.into_inner().unwrap().is_empty());
    }
}
