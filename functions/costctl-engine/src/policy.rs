//! The request policy: what an event asks of a stack, decided from the event, the stack's
//! configuration and what the store holds. Pure — no I/O, no clock (callers pass `now_ms`) —
//! so that every branch is a unit test; [`crate::service`] runs it for the Lambda handler, the
//! CLI and the simulation alike.

use crate::engine::RequestSpec;
use crate::store::{Lockout, LoweringRequest, StackState};
use costctl_core::budget::{self, BudgetAlert};
use costctl_core::config::{BudgetConfig, RdsAutoStartPolicy, StackConfig};
use costctl_core::event::{Request, Trigger};
use costctl_core::observation::DbObs;
use costctl_core::{DesiredState, Selector};
use time::OffsetDateTime;

const DAY_MS: i64 = 86_400_000;

/// The one way a request for a configured stack is built: its selector and policy from the
/// configuration, the trigger named in the reason.
pub fn request(cfg: &StackConfig, desired: DesiredState, trigger: Trigger) -> RequestSpec {
    RequestSpec {
        selector: Some(cfg.selector.clone()),
        policy: Some(cfg.policy),
        reason: format!("{} request", trigger.as_str()),
        budget_overrides_snooze: cfg.snooze.budget_overrides,
        ..RequestSpec::new(desired, trigger)
    }
}

/// Why the reduce-only deployment refuses a request, if it does. Its role can change no
/// resource and start nothing, so it takes only lowering requests, which it records.
pub fn reduce_only_refusal(request: &Request) -> Option<String> {
    if request.increases_cost() {
        return Some(format!(
            "this is the reduce-only function: `{}` can raise cost; invoke the full function",
            request.request_kind()
        ));
    }
    if let Request::Unsnooze { .. } = request {
        return Some("this is the reduce-only function: its role can change nothing but its own partition; invoke the full function to end a snooze".to_string());
    }
    matches!(request, Request::Reconcile { .. }).then(|| {
        "this is the reduce-only function: its role can change no resource, so it records requests and the full function's reconcile tick carries them out; invoke the full function to reconcile".to_string()
    })
}

/// What a budget alert asks of its stack.
#[derive(Debug, Clone, PartialEq)]
pub enum BudgetVerdict {
    /// No rule of the budget applies (or the spend percentage is unknown).
    BelowThresholds,
    /// Move the stack to `level` (never up: see [`budget::requested_level`]) and, where a rule
    /// says so, lock scheduled resumes out until the next budget period.
    Lower {
        level: DesiredState,
        lockout: Option<Lockout>,
    },
}

/// Budget routing: the alert's rules against the stack's stored desired state `current`.
pub fn budget(
    alert: &BudgetAlert,
    cfg: &BudgetConfig,
    current: DesiredState,
    now_ms: i64,
) -> BudgetVerdict {
    let Some(decision) = budget::evaluate(alert, cfg) else {
        return BudgetVerdict::BelowThresholds;
    };
    let lockout = decision.lockout.then(|| {
        let now = OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_ms) * 1_000_000)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let until = alert.lockout_until(now);
        Lockout {
            until_ms: i64::try_from(until.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX),
            reason: format!(
                "budget {} {} at {:.0}% of the budget",
                alert.budget_name,
                alert.alert_type.as_str(),
                decision.percent
            ),
        }
    });
    BudgetVerdict::Lower {
        level: budget::requested_level(decision.level, current),
        lockout,
    }
}

/// Escalation: a stack paused for `hibernate_after_days` (counted from its last request) is
/// asked to hibernate, by the `policy` trigger. `None`: not due, or the policy has no limit.
pub fn escalation(cfg: &StackConfig, state: &StackState, now_ms: i64) -> Option<RequestSpec> {
    let days = cfg.policy.hibernate_after_days?;
    let due = state.desired == DesiredState::Paused
        && now_ms.saturating_sub(state.requested_at_ms) >= i64::from(days) * DAY_MS;
    due.then(|| RequestSpec {
        reason: format!("paused for {days} day(s): hibernate_after_days"),
        ..request(cfg, DesiredState::Hibernated, Trigger::Policy)
    })
}

/// What the full function does with one item of the reduce-only partition.
#[derive(Debug, Clone, PartialEq)]
pub enum LoweringVerdict {
    /// Not a request (the partition is writable by the reduce-only principal, by hand too), or
    /// one that would raise cost: dropped, with why.
    Ignore(String),
    /// Record this request (the level already capped so that it never moves the stack up).
    Request(RequestSpec),
    /// Nothing to record (the stack is already there and no lockout comes with it).
    Nothing(DesiredState),
}

/// The reduce-only partition's items are applied only as lowering requests, so nothing the
/// reduce-only principal can write raises cost.
pub fn lowering(
    cfg: &StackConfig,
    item: &Result<LoweringRequest, String>,
    current: DesiredState,
) -> LoweringVerdict {
    let req = match item {
        Err(e) => return LoweringVerdict::Ignore(format!("not a request: {e}")),
        Ok(req) if !req.desired.is_down() => {
            return LoweringVerdict::Ignore(format!(
                "a request for {:?} from the reduce-only partition would raise cost",
                req.desired
            ));
        }
        Ok(req) => req,
    };
    let level = budget::requested_level(req.desired, current);
    if level == current && req.lockout.is_none() {
        return LoweringVerdict::Nothing(level);
    }
    LoweringVerdict::Request(RequestSpec {
        lockout: req.lockout.clone(),
        reason: req.reason.clone(),
        ..request(cfg, level, req.trigger)
    })
}

/// Whether an instance AWS started by itself belongs to a stack: recorded in its manifest, or
/// selected by its selector (by name, or by the tags of the described instance).
pub fn owns_instance(
    cfg: &StackConfig,
    state: &StackState,
    instance_id: &str,
    described: &[DbObs],
) -> bool {
    state.manifest.db_instances.contains_key(instance_id)
        || match &cfg.selector {
            Selector::Names(n) => n.rds_instances.iter().any(|i| i == instance_id),
            tags @ Selector::Tags(_) => described.iter().any(|d| {
                d.id == instance_id
                    && tags.matches_tags(d.spec.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            }),
        }
}

/// What an RDS auto-start (`RDS-EVENT-0154`) asks of the stack that owns the instance: nothing
/// if the stack is meant to run; otherwise the stack's state again (the next reconcile stops
/// the instance), or hibernation where the policy says so.
pub fn auto_start(cfg: &StackConfig, state: &StackState) -> Option<DesiredState> {
    if state.desired == DesiredState::Running {
        return None;
    }
    Some(match cfg.policy.rds_auto_start {
        RdsAutoStartPolicy::Stop => state.desired,
        RdsAutoStartPolicy::Hibernate => DesiredState::Hibernated,
    })
}

#[cfg(test)]
#[path = "policy/tests.rs"]
mod tests;
