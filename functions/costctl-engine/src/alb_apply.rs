//! The one ALB apply loop: both clouds run it, so the call sequence the simulation faults is
//! the one production sends.
//!
//! [`apply_alb`] checks the spec's dependencies, reads the load balancer as it is, asks the
//! pure planner ([`alb_calls`]) for the calls that bring it to the spec, and sends them one at a
//! time with the lease fence before each: a call answered late (or a process frozen between
//! two calls) cannot let this invocation change the load balancer after a newer one has taken
//! the lease. The clouds supply only the reads and the sending of one call ([`AlbCalls`]).

use crate::cloud::fence;
use crate::error::CloudResult;
use async_trait::async_trait;
use costctl_core::alb::{AlbCall, LiveAlb, alb_calls};
use costctl_core::spec::LoadBalancerSpec;
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

/// The reads and the one-call sends a cloud gives the apply loop.
#[async_trait]
pub trait AlbCalls: Send + Sync {
    /// Refuses, naming it, a certificate or target group the spec names that does not exist.
    async fn check_alb_dependencies(&self, spec: &LoadBalancerSpec) -> CloudResult<()>;
    /// The load balancer of that name as it is, or `None`.
    async fn live_alb(&self, name: &str) -> CloudResult<Option<LiveAlb>>;
    /// Sends `call` (one of [`alb_calls`] for `spec`), recording in `target` what it answers.
    async fn send_alb_call(
        &self,
        spec: &LoadBalancerSpec,
        call: &AlbCall,
        target: &mut AlbTarget,
    ) -> CloudResult<()>;
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
    cloud.check_alb_dependencies(spec).await?;
    let live = cloud.live_alb(&spec.name).await?;
    let mut target = AlbTarget::of(live.as_ref());
    for call in alb_calls(live.as_ref(), spec) {
        fence(cloud.now_ms(), not_after_ms, call.operation(), &resource)?;
        cloud.send_alb_call(spec, &call, &mut target).await?;
    }
    Ok(())
}
