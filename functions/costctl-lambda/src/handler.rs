//! The function's logic: one decoded [`Request`] in, one JSON answer out.
//!
//! Kept apart from `main.rs` so that tests call it directly, and so that the same handler serves
//! both deployments: the full function and the reduce-only one that budget alerts reach.

use costctl_aws::engine::Options;
use costctl_aws::store::{Lockout, LoweringRequest};
use costctl_aws::{
    AwsCloud, Cloud, DynamoStore, Engine, EngineError, RequestSpec, StateStore, StoreError,
};
use costctl_core::budget::{self, BudgetAlert};
use costctl_core::config::{Config, RdsAutoStartPolicy, StackConfig};
use costctl_core::event::{EventError, Request, TfAction};
use costctl_core::spec::EphemeralSpec;
use costctl_core::{DesiredState, Selector};
use serde_json::{Value, json};
use std::time::Duration;
use time::OffsetDateTime;

/// Which deployment this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Schedules, manual invokes, Terraform: may create and start.
    Full,
    /// Budget alerts (and RDS auto-start events): refuses anything that could raise cost.
    ReduceOnly,
}

impl Mode {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "full" => Ok(Mode::Full),
            "reduce-only" => Ok(Mode::ReduceOnly),
            other => Err(format!(
                "COSTCTL_MODE=`{other}`: expected `full` or `reduce-only`"
            )),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error("invalid event: {0}")]
    Event(#[from] EventError),
    #[error("{0}")]
    UnknownStack(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error(
        "resume of stack `{stack}` refused: budget lockout until {until} ({reason}); a manual invoke with \"force\": true overrides it"
    )]
    LockedOut {
        stack: String,
        until: String,
        reason: String,
    },
    #[error(transparent)]
    Engine(EngineError),
    /// A Terraform create failed after it had created something, which was deleted again:
    /// Terraform keeps no state of a failed create, so `terraform destroy` would never see it.
    #[error("{error}; rolled back: deleted {} made by this create (apply again to retry)", .deleted.join(", "))]
    CreateRolledBack {
        error: Box<HandlerError>,
        deleted: Vec<String>,
    },
}

impl From<EngineError> for HandlerError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Store(StoreError::LockedOut {
                stack,
                until_ms,
                reason,
            }) => HandlerError::LockedOut {
                stack,
                until: rfc3339_ms(until_ms),
                reason,
            },
            other => HandlerError::Engine(other),
        }
    }
}

impl HandlerError {
    /// The Lambda error type: tells a caller (and a retry policy) a permanent refusal from a
    /// failure worth retrying.
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::Event(_) => "InvalidEvent",
            HandlerError::UnknownStack(_) => "UnknownStack",
            HandlerError::Refused(_) => "Refused",
            HandlerError::LockedOut { .. } => "LockedOut",
            HandlerError::Engine(EngineError::Store(e)) if e.is_transient() => "Retryable",
            HandlerError::Engine(EngineError::Cloud(e)) if e.is_transient() => "Retryable",
            HandlerError::Engine(_) => "Failed",
            HandlerError::CreateRolledBack { error, .. } => error.error_type(),
        }
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(e: HandlerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.error_type().to_string(),
            error_message: e.to_string(),
        }
    }
}

pub struct Handler<C = AwsCloud, S = DynamoStore> {
    engine: Engine<C, S>,
    config: Config,
    mode: Mode,
}

fn rfc3339_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

impl<C: Cloud, S: StateStore> Handler<C, S> {
    pub fn new(cloud: C, store: S, config: Config, mode: Mode, mut options: Options) -> Self {
        options.reduce_only = mode == Mode::ReduceOnly;
        Handler {
            engine: Engine::new(cloud, store, options),
            config,
            mode,
        }
    }

    fn stack(&self, name: &str) -> Result<&StackConfig, HandlerError> {
        self.config
            .stack(name)
            .map_err(|e| HandlerError::UnknownStack(e.to_string()))
    }

    /// Handles one invocation; `deadline_ms` is the invocation's deadline (unix ms).
    pub async fn handle(&self, payload: Value, deadline_ms: i64) -> Result<Value, HandlerError> {
        let request = Request::from_value(&payload)?;
        tracing::info!(
            kind = request.request_kind(),
            stack = request.stack().unwrap_or(""),
            "request"
        );
        if self.mode == Mode::ReduceOnly && request.increases_cost() {
            return Err(HandlerError::Refused(format!(
                "this is the reduce-only function: `{}` can raise cost; invoke the full function",
                request.request_kind()
            )));
        }
        if self.mode == Mode::ReduceOnly && matches!(request, Request::Reconcile { .. }) {
            return Err(HandlerError::Refused(
                "this is the reduce-only function: its role can change no resource, so it records requests and the full function's reconcile tick carries them out; invoke the full function to reconcile".into(),
            ));
        }
        match request {
            Request::Pause {
                stack,
                level,
                trigger,
            } => {
                self.transition(&stack, level, trigger.as_str(), false, None, deadline_ms)
                    .await
            }
            Request::Resume {
                stack,
                force,
                trigger,
            } => {
                self.transition(
                    &stack,
                    DesiredState::Running,
                    trigger.as_str(),
                    force,
                    None,
                    deadline_ms,
                )
                .await
            }
            Request::Status { stack } => {
                let cfg = self.stack(&stack)?;
                match self.engine.inspect(&stack, None, Some(&cfg.selector)).await {
                    Ok((report, _)) => Ok(json!(report)),
                    // A configured stack with nothing deployed yet (Terraform's first apply
                    // asks before it creates anything): running is what it is meant to be.
                    Err(EngineError::NothingSelected { selector, .. }) => Ok(json!({
                        "stack": stack,
                        "desired_state": DesiredState::Running,
                        "state": "empty",
                        "converged": true,
                        "lockout": null,
                        "message": format!("no resource matches {selector} yet"),
                    })),
                    Err(e) => Err(e.into()),
                }
            }
            Request::Plan { stack, target } => {
                let cfg = self.stack(&stack)?;
                let (report, plan) = self
                    .engine
                    .inspect(&stack, Some(target), Some(&cfg.selector))
                    .await?;
                Ok(json!({ "report": report, "plan": plan }))
            }
            Request::Reconcile { stack } => self.tick(stack.as_deref(), deadline_ms).await,
            Request::BudgetAlerts(alerts) => {
                let mut answers = Vec::new();
                for alert in &alerts {
                    answers.push(self.budget_alert(alert, deadline_ms).await?);
                }
                Ok(json!({ "budget_alerts": answers }))
            }
            Request::RdsAutoStart { instance_id, .. } => {
                self.rds_auto_start(&instance_id, deadline_ms).await
            }
            Request::Terraform {
                tf_action,
                stack,
                spec,
                prev_spec,
                ..
            } => {
                self.terraform(&stack, tf_action, &spec, prev_spec.as_ref(), deadline_ms)
                    .await
            }
        }
    }

    async fn transition(
        &self,
        stack: &str,
        desired: DesiredState,
        trigger: &str,
        force: bool,
        lockout: Option<Lockout>,
        deadline_ms: i64,
    ) -> Result<Value, HandlerError> {
        let cfg = self.stack(stack)?;
        if self.mode == Mode::ReduceOnly {
            // Only ever lowering (a raising request was refused above), and only recorded: the
            // reduce-only role may write its own partition of the state table and nothing else
            // that changes anything, so IAM, not this code, keeps it from raising cost.
            let req = LoweringRequest {
                desired,
                trigger: trigger.into(),
                reason: format!("{trigger} request"),
                at_ms: self.engine.now_ms(),
                lockout,
            };
            self.engine
                .store()
                .put_lowering(stack, &req)
                .await
                .map_err(EngineError::from)?;
            return Ok(json!({
                "stack": stack,
                "desired_state": desired,
                "recorded": true,
                "carried_out_by": "the full function's next reconcile tick",
            }));
        }
        let spec = RequestSpec {
            selector: Some(cfg.selector.clone()),
            policy: Some(cfg.policy),
            force,
            lockout,
            reason: format!("{trigger} request"),
            ..RequestSpec::new(desired, trigger)
        };
        let (state, reconciled) = self
            .engine
            .request_and_reconcile(stack, spec, deadline_ms)
            .await?;
        let report = match reconciled {
            Ok(report) => json!(report),
            // Another invocation holds the stack: it re-reads the request on its next pass.
            Err(EngineError::Store(StoreError::LeaseHeld { owner, .. })) => json!({
                "stack": stack,
                "desired_state": desired,
                "generation": state.generation,
                "queued_behind": owner,
            }),
            Err(e) => return Err(e.into()),
        };
        Ok(report)
    }

    /// Terraform's `aws_lambda_invocation` (CRUD) and manual apply-spec / delete-spec: create or
    /// update the ephemeral tier from the spec, or delete it. On update, resources that the
    /// previous input named and the new one does not are deleted first.
    async fn terraform(
        &self,
        stack: &str,
        action: TfAction,
        spec: &EphemeralSpec,
        prev: Option<&EphemeralSpec>,
        deadline_ms: i64,
    ) -> Result<Value, HandlerError> {
        let cfg = self.stack(stack)?;
        if action == TfAction::Delete {
            return Ok(json!(self.engine.delete_spec(stack, spec).await?));
        }
        if let Some(prev) = prev {
            let removed = prev.without(spec);
            if !removed.is_empty() {
                self.engine.delete_spec(stack, &removed).await?;
            }
        }
        // What exists before a create: a failed create deletes only what it made itself.
        let before = match action {
            TfAction::Create => Some(self.engine.spec_result(stack, spec).await?),
            _ => None,
        };
        // Leave time for the rollback below (a few lookups and deletes).
        let left = deadline_ms - self.engine.now_ms() - 6_000;
        let timeout = Duration::from_millis(u64::try_from(left).unwrap_or(0).max(1_000));
        let err = match self
            .engine
            .apply_spec(stack, spec, Some(cfg.selector.clone()), timeout)
            .await
        {
            Ok(result) => return Ok(json!(result)),
            Err(e) => HandlerError::from(e),
        };
        let Some(before) = before else {
            return Err(err);
        };
        self.roll_back_create(stack, spec, &before, err).await
    }

    /// Deletes what a failed Terraform create made (the ALBs and clusters of `spec` that did not
    /// exist before it), so that nothing is left that no Terraform state names; returns the
    /// create's error, saying what was deleted.
    async fn roll_back_create(
        &self,
        stack: &str,
        spec: &EphemeralSpec,
        before: &costctl_aws::SpecResult,
        err: HandlerError,
    ) -> Result<Value, HandlerError> {
        let after = match self.engine.spec_result(stack, spec).await {
            Ok(after) => after,
            Err(e) => {
                tracing::error!(stack, error = %e, "create failed; could not look up what it made");
                return Err(err);
            }
        };
        let made = EphemeralSpec {
            load_balancers: spec
                .load_balancers
                .iter()
                .filter(|l| {
                    after.load_balancers.contains_key(&l.name)
                        && !before.load_balancers.contains_key(&l.name)
                })
                .cloned()
                .collect(),
            kafka_clusters: spec
                .kafka_clusters
                .iter()
                .filter(|c| {
                    after.kafka_clusters.contains_key(&c.name)
                        && !before.kafka_clusters.contains_key(&c.name)
                })
                .cloned()
                .collect(),
        };
        if made.is_empty() {
            return Err(err);
        }
        let deleted: Vec<String> = made
            .load_balancers
            .iter()
            .map(|l| format!("alb:{}", l.name))
            .chain(
                made.kafka_clusters
                    .iter()
                    .map(|c| format!("msk:{}", c.name)),
            )
            .collect();
        match self.engine.roll_back_spec(stack, &made).await {
            Ok(_) => Err(HandlerError::CreateRolledBack {
                error: Box::new(err),
                deleted,
            }),
            Err(e) => {
                tracing::error!(stack, error = %e, made = ?deleted, "create failed and its rollback failed too: delete these with `costctl delete-spec`");
                Err(err)
            }
        }
    }

    /// Applies the requests the reduce-only function recorded for `stack`, oldest first, as
    /// lowering requests only: one that would raise cost (or is not a request at all: the
    /// partition is writable by the reduce-only principal, by hand too) is dropped, and so is
    /// every handled one. Returns what was done with each.
    async fn apply_lowering(&self, stack: &str) -> Result<Vec<Value>, HandlerError> {
        let cfg = self.stack(stack)?;
        let store = self.engine.store();
        let items = store.lowering(stack).await.map_err(EngineError::from)?;
        let mut out = Vec::new();
        for (sk, parsed) in items {
            let outcome = match parsed {
                Err(e) => {
                    tracing::warn!(stack, sk, error = %e, "ignored: not a request");
                    json!({ "item": sk, "ignored": format!("not a request: {e}") })
                }
                Ok(req) if !req.desired.is_down() => {
                    tracing::warn!(stack, sk, desired = ?req.desired, "ignored: would raise cost");
                    json!({ "item": sk, "ignored": format!("a request for {:?} from the reduce-only partition would raise cost", req.desired) })
                }
                Ok(req) => {
                    let current = store
                        .load(stack)
                        .await
                        .map_err(EngineError::from)?
                        .map_or(DesiredState::Running, |s| s.desired);
                    let level = budget::requested_level(req.desired, current);
                    if level != current || req.lockout.is_some() {
                        let spec = RequestSpec {
                            selector: Some(cfg.selector.clone()),
                            policy: Some(cfg.policy),
                            lockout: req.lockout.clone(),
                            reason: req.reason.clone(),
                            ..RequestSpec::new(level, req.trigger.as_str())
                        };
                        self.engine.request(stack, spec).await?;
                    }
                    json!({ "item": sk, "requested": level, "trigger": req.trigger })
                }
            };
            store
                .drop_lowering(stack, &sk)
                .await
                .map_err(EngineError::from)?;
            out.push(outcome);
        }
        Ok(out)
    }

    /// The periodic tick: first the requests the reduce-only function recorded, then continue
    /// unfinished transitions and repair drift, stack by stack.
    async fn tick(&self, only: Option<&str>, deadline_ms: i64) -> Result<Value, HandlerError> {
        let names: Vec<String> = match only {
            Some(name) => {
                self.stack(name)?;
                vec![name.to_string()]
            }
            None => self.config.stacks.keys().cloned().collect(),
        };
        let mut out = Vec::new();
        for name in names {
            let lowering = match self.apply_lowering(&name).await {
                Ok(done) => done,
                Err(e) => {
                    out.push(json!({ "stack": name, "error": e.to_string() }));
                    continue;
                }
            };
            let Some(state) = self
                .engine
                .store()
                .load(&name)
                .await
                .map_err(EngineError::from)?
            else {
                out.push(json!({ "stack": name, "skipped": "never requested" }));
                continue;
            };
            let cfg = self.stack(&name)?;
            // Escalate a long pause to hibernation when the policy says so.
            if let Some(days) = cfg.policy.hibernate_after_days
                && state.desired == DesiredState::Paused
                && self.engine.now_ms() - state.requested_at_ms >= i64::from(days) * 86_400_000
            {
                let spec = RequestSpec {
                    selector: Some(cfg.selector.clone()),
                    policy: Some(cfg.policy),
                    reason: format!("paused for {days} day(s): hibernate_after_days"),
                    ..RequestSpec::new(DesiredState::Hibernated, "policy")
                };
                self.engine.request(&name, spec).await?;
            }
            match self.engine.reconcile(&name, deadline_ms).await {
                Ok(report) if lowering.is_empty() => out.push(json!(report)),
                Ok(report) => {
                    out.push(json!({ "reduce_only_requests": lowering, "report": report }))
                }
                Err(EngineError::Store(StoreError::LeaseHeld { owner, .. })) => out.push(
                    json!({ "stack": name, "skipped": format!("being reconciled by {owner}") }),
                ),
                Err(e) => out.push(json!({ "stack": name, "error": e.to_string() })),
            }
        }
        Ok(json!({ "reconciled": out }))
    }

    async fn budget_alert(
        &self,
        alert: &BudgetAlert,
        deadline_ms: i64,
    ) -> Result<Value, HandlerError> {
        let Some((stack, budget_cfg)) = self.config.stack_for_budget(&alert.budget_name) else {
            return Err(HandlerError::UnknownStack(format!(
                "budget `{}` maps to no configured stack (configure it under a stack's `budgets`)",
                alert.budget_name
            )));
        };
        let Some(decision) = budget::evaluate(alert, budget_cfg) else {
            return Ok(json!({
                "budget": alert.budget_name, "stack": stack, "action": "none",
                "reason": "below every configured threshold",
            }));
        };
        // A budget alert only ever moves a stack down: never from hibernated back to paused.
        let current = self
            .engine
            .store()
            .load(stack)
            .await
            .map_err(EngineError::from)?
            .map_or(DesiredState::Running, |s| s.desired);
        let level = budget::requested_level(decision.level, current);
        let lockout = decision.lockout.then(|| {
            let now = OffsetDateTime::from_unix_timestamp_nanos(
                i128::from(self.engine.now_ms()) * 1_000_000,
            )
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
            let until = alert.lockout_until(now);
            Lockout {
                until_ms: i64::try_from(until.unix_timestamp_nanos() / 1_000_000)
                    .unwrap_or(i64::MAX),
                reason: format!(
                    "budget {} {} at {:.0}% of the budget",
                    alert.budget_name,
                    alert.alert_type.as_str(),
                    decision.percent
                ),
            }
        });
        let report = self
            .transition(stack, level, "budget", false, lockout, deadline_ms)
            .await?;
        Ok(
            json!({ "budget": alert.budget_name, "stack": stack, "level": level, "lockout": decision.lockout, "report": report }),
        )
    }

    async fn rds_auto_start(
        &self,
        instance_id: &str,
        deadline_ms: i64,
    ) -> Result<Value, HandlerError> {
        let described = self
            .engine
            .cloud()
            .describe_db_instances(&[instance_id.to_string()])
            .await
            .map_err(EngineError::from)?;
        for (name, cfg) in &self.config.stacks {
            let Some(state) = self
                .engine
                .store()
                .load(name)
                .await
                .map_err(EngineError::from)?
            else {
                continue;
            };
            let ours = state.manifest.db_instances.contains_key(instance_id)
                || match &cfg.selector {
                    Selector::Names(n) => n.rds_instances.iter().any(|i| i == instance_id),
                    tags @ Selector::Tags(_) => described.iter().any(|d| {
                        tags.matches_tags(d.spec.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    }),
                };
            if !ours {
                continue;
            }
            if state.desired == DesiredState::Running {
                return Ok(
                    json!({ "stack": name, "instance": instance_id, "action": "none", "reason": "the stack is meant to be running" }),
                );
            }
            let level = match cfg.policy.rds_auto_start {
                RdsAutoStartPolicy::Stop => state.desired,
                RdsAutoStartPolicy::Hibernate => DesiredState::Hibernated,
            };
            return self
                .transition(name, level, "rds-event", false, None, deadline_ms)
                .await;
        }
        Err(HandlerError::UnknownStack(format!(
            "RDS instance `{instance_id}` belongs to no configured stack; nothing done"
        )))
    }
}
