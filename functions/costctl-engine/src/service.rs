//! The service: one decoded [`Request`] in, one typed [`Answer`] out. This is what the Lambda
//! handler runs (both deployments: the full function and the reduce-only one that budget alerts
//! reach) and what the simulation's scenarios invoke with their virtual clock, so that the
//! seeds check the routing users run: budget levels and lockouts, escalation, RDS auto-start
//! ownership, the reduce-only partition. The decisions are [`crate::policy`]; this module only
//! reads the state they need and carries them out through the [`Engine`].

pub use crate::answer::{Answer, BudgetAnswer, LoweringOutcome, TickEntry};
use crate::engine::{Options, RequestSpec, Transition};
use crate::policy::{self, BudgetVerdict, LoweringVerdict};
use crate::snooze::{self, SnoozeRefusal};
use crate::store::{LoweringRequest, StackState};
use crate::{Cloud, Engine, EngineError, SpecResult, StateStore, StoreError};
use costctl_core::DesiredState;
use costctl_core::budget::BudgetAlert;
use costctl_core::config::{Config, StackConfig};
use costctl_core::event::{EventError, Request, TfAction, Trigger};
use costctl_core::spec::EphemeralSpec;
use futures::StreamExt;
use std::time::Duration;
use time::OffsetDateTime;

/// A cloud's discovery shared between stacks while this lives (`Cloud::share_discovery`).
struct SharedDiscovery<'a, C: Cloud>(&'a C);

impl<'a, C: Cloud> SharedDiscovery<'a, C> {
    fn on(cloud: &'a C) -> Self {
        cloud.share_discovery(true);
        SharedDiscovery(cloud)
    }
}

impl<C: Cloud> Drop for SharedDiscovery<'_, C> {
    fn drop(&mut self) {
        self.0.share_discovery(false);
    }
}

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
pub enum ServiceError {
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
    #[error("snooze of stack `{stack}` refused: {refusal}")]
    Snooze {
        stack: String,
        refusal: SnoozeRefusal,
    },
    #[error(transparent)]
    Engine(EngineError),
    /// A Terraform create failed after it had created something, which was deleted again:
    /// Terraform keeps no state of a failed create, so `terraform destroy` would never see it.
    #[error("{error}; rolled back: deleted {} made by this create (apply again to retry)", .deleted.join(", "))]
    CreateRolledBack {
        error: Box<ServiceError>,
        deleted: Vec<String>,
    },
}

impl From<EngineError> for ServiceError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Store(StoreError::LockedOut {
                stack,
                until_ms,
                reason,
            }) => ServiceError::LockedOut {
                stack,
                until: rfc3339_ms(until_ms),
                reason,
            },
            other => ServiceError::Engine(other),
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        EngineError::from(e).into()
    }
}

impl ServiceError {
    /// The Lambda error type: tells a caller (and a retry policy) a permanent refusal from a
    /// failure worth retrying.
    pub fn error_type(&self) -> &'static str {
        match self {
            ServiceError::Event(_) => "InvalidEvent",
            ServiceError::UnknownStack(_) => "UnknownStack",
            ServiceError::Refused(_) => "Refused",
            ServiceError::LockedOut { .. } => "LockedOut",
            ServiceError::Snooze { .. } => "InvalidSnooze",
            ServiceError::Engine(EngineError::Store(e)) if e.is_transient() => "Retryable",
            ServiceError::Engine(EngineError::Cloud(e)) if e.is_transient() => "Retryable",
            ServiceError::Engine(_) => "Failed",
            ServiceError::CreateRolledBack { error, .. } => error.error_type(),
        }
    }
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

pub struct Service<C, S> {
    engine: Engine<C, S>,
    config: Config,
    mode: Mode,
}

impl<C: Cloud, S: StateStore> Service<C, S> {
    pub fn new(cloud: C, store: S, config: Config, mode: Mode, options: Options) -> Self {
        Self::with_engine(Engine::new(cloud, store, options), config, mode)
    }

    /// Over an engine built by the caller (the simulation's, with its virtual clock). The
    /// engine is made reduce-only when the mode is.
    pub fn with_engine(mut engine: Engine<C, S>, config: Config, mode: Mode) -> Self {
        if mode == Mode::ReduceOnly {
            engine.set_reduce_only();
        }
        engine.set_exclusions(&config);
        Service {
            engine,
            config,
            mode,
        }
    }

    pub fn engine(&self) -> &Engine<C, S> {
        &self.engine
    }

    fn stack(&self, name: &str) -> Result<&StackConfig, ServiceError> {
        self.config
            .stack(name)
            .map_err(|e| ServiceError::UnknownStack(e.to_string()))
    }

    /// Decodes a raw payload (any event `docs/events.md` lists) and handles it: the entry point
    /// of the Lambda handler and of the simulation's invocations.
    pub async fn handle_event(
        &self,
        payload: &serde_json::Value,
        deadline_ms: i64,
    ) -> Result<Answer, ServiceError> {
        let request = Request::from_value(payload)?;
        self.handle(request, deadline_ms).await
    }

    /// Handles one request; `deadline_ms` is the invocation's deadline (unix ms).
    pub async fn handle(&self, request: Request, deadline_ms: i64) -> Result<Answer, ServiceError> {
        tracing::info!(
            kind = request.request_kind(),
            stack = request.stack().unwrap_or(""),
            "request"
        );
        if self.mode == Mode::ReduceOnly
            && let Some(why) = policy::reduce_only_refusal(&request)
        {
            return Err(ServiceError::Refused(why));
        }
        match request {
            Request::Pause {
                stack,
                level,
                trigger,
            } => {
                let spec = policy::request(self.stack(&stack)?, level, trigger);
                self.transition(&stack, spec, deadline_ms).await
            }
            Request::Resume {
                stack,
                force,
                trigger,
                until,
            } => {
                let cfg = self.stack(&stack)?;
                let now = self.engine.now_ms();
                if trigger == Trigger::Schedule
                    && let Some(entry) = snooze::closed_today(cfg, now)
                {
                    return self.calendar_skip(&stack, entry.entry.clone()).await;
                }
                let by = format!("{} resume", trigger.as_str());
                let hold = match &until {
                    Some(end) => Some(
                        snooze::snooze(
                            &cfg.time_zone,
                            &cfg.snooze,
                            end,
                            now,
                            &by,
                            "resume --until",
                        )
                        .map_err(|refusal| ServiceError::Snooze {
                            stack: stack.clone(),
                            refusal,
                        })?,
                    ),
                    None if matches!(trigger, Trigger::Manual | Trigger::Cli) => {
                        self.engine.resume_hold(&stack, cfg, &by).await?
                    }
                    None => None,
                };
                let spec = RequestSpec {
                    force,
                    snooze: hold,
                    ..policy::request(cfg, DesiredState::Running, trigger)
                };
                self.transition(&stack, spec, deadline_ms).await
            }
            Request::Snooze {
                stack,
                until,
                reason,
                by,
            } => self.snooze(&stack, &until, &by, &reason).await,
            Request::Unsnooze { stack, by } => {
                self.stack(&stack)?;
                let ended = self.engine.unsnooze(&stack, &by, Trigger::Manual).await?;
                Ok(Answer::Unsnoozed {
                    stack,
                    unsnoozed: ended.is_some(),
                    ended,
                })
            }
            Request::Status { stack } => {
                let cfg = self.stack(&stack)?;
                match self.engine.inspect(&stack, None, Some(&cfg.selector)).await {
                    Ok((report, _)) => Ok(Answer::Report(Box::new(report))),
                    // A configured stack with nothing deployed yet (Terraform's first apply
                    // asks before it creates anything): running is what it is meant to be.
                    Err(EngineError::NothingSelected { selector, .. }) => Ok(Answer::Empty {
                        stack,
                        desired_state: DesiredState::Running,
                        state: "empty",
                        converged: true,
                        lockout: None,
                        message: format!("no resource matches {selector} yet"),
                    }),
                    Err(e) => Err(e.into()),
                }
            }
            Request::Plan { stack, target } => {
                let cfg = self.stack(&stack)?;
                let (report, plan) = self
                    .engine
                    .inspect(&stack, Some(target), Some(&cfg.selector))
                    .await?;
                Ok(Answer::Plan {
                    report: Box::new(report),
                    plan: Box::new(plan),
                })
            }
            Request::Reconcile { stack } => self.tick(stack.as_deref(), deadline_ms).await,
            Request::BudgetAlerts(alerts) => {
                let mut budget_alerts = Vec::new();
                for alert in &alerts {
                    budget_alerts.push(self.budget_alert(alert, deadline_ms).await?);
                }
                Ok(Answer::BudgetAlerts { budget_alerts })
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

    /// Carries out one request: the full function records it and reconciles at once; the
    /// reduce-only one only records it in its own partition.
    async fn transition(
        &self,
        stack: &str,
        spec: RequestSpec,
        deadline_ms: i64,
    ) -> Result<Answer, ServiceError> {
        if self.mode == Mode::ReduceOnly {
            // Only ever lowering (a raising request was refused above), and only recorded: the
            // reduce-only role may write its own partition of the state table and nothing else
            // that changes anything, so IAM, not this code, keeps it from raising cost.
            let req = LoweringRequest {
                desired: spec.desired,
                trigger: spec.trigger,
                reason: spec.reason,
                at_ms: self.engine.now_ms(),
                lockout: spec.lockout,
            };
            self.engine.store().put_lowering(stack, &req).await?;
            return Ok(Answer::Recorded {
                stack: stack.to_string(),
                desired_state: req.desired,
                recorded: true,
                carried_out_by: "the full function's next reconcile tick",
            });
        }
        let desired = spec.desired;
        let (state, transition) = match self
            .engine
            .request_and_reconcile(stack, spec, deadline_ms)
            .await
        {
            Err(EngineError::Store(StoreError::Snoozed { snooze: held, .. })) => {
                return self.snooze_skip(stack, desired, held).await;
            }
            other => other?,
        };
        Ok(match transition {
            Transition::Reconciled(report) => Answer::Report(report),
            Transition::Queued { owner } => Answer::Queued {
                stack: stack.to_string(),
                desired_state: state.desired,
                generation: state.generation,
                queued_behind: owner,
            },
        })
    }

    /// A scheduled request the store refused because a snooze holds: recorded in the history
    /// as skipped, answered with who holds the stack until when.
    async fn snooze_skip(
        &self,
        stack: &str,
        asked: DesiredState,
        held: crate::store::Snooze,
    ) -> Result<Answer, ServiceError> {
        let cfg = self.stack(stack)?;
        let skipped = snooze::describe(&held, &cfg.time_zone);
        self.engine
            .skipped(
                stack,
                asked,
                serde_json::json!({ "skipped": skipped, "snooze": held }),
            )
            .await?;
        Ok(Answer::Held {
            stack: stack.to_string(),
            asked,
            skipped,
            snooze: Some(held),
            calendar_entry: None,
        })
    }

    /// A scheduled resume on a day the stack's calendar closes: the stack stays as it is.
    async fn calendar_skip(&self, stack: &str, entry: String) -> Result<Answer, ServiceError> {
        let skipped = format!("closed by calendar entry `{entry}`");
        self.engine
            .skipped(
                stack,
                DesiredState::Running,
                serde_json::json!({ "skipped": skipped, "calendar_entry": entry }),
            )
            .await?;
        Ok(Answer::Held {
            stack: stack.to_string(),
            asked: DesiredState::Running,
            skipped,
            snooze: None,
            calendar_entry: Some(entry),
        })
    }

    /// `snooze`: checks the end against the stack's bound and sets it. A configured stack never
    /// requested is recorded as running first (a snooze needs the stack's item in the store).
    async fn snooze(
        &self,
        stack: &str,
        until: &costctl_core::calendar::SnoozeEnd,
        by: &str,
        reason: &str,
    ) -> Result<Answer, ServiceError> {
        let cfg = self.stack(stack)?;
        let now = self.engine.now_ms();
        let wanted = snooze::snooze(&cfg.time_zone, &cfg.snooze, until, now, by, reason).map_err(
            |refusal| ServiceError::Snooze {
                stack: stack.to_string(),
                refusal,
            },
        )?;
        let before = match self.engine.snooze(stack, &wanted, Trigger::Manual).await {
            Err(EngineError::Store(StoreError::UnknownStack { .. })) => {
                let first = RequestSpec {
                    reason: "recorded with the stack's first snooze".into(),
                    ..policy::request(cfg, DesiredState::Running, Trigger::Manual)
                };
                self.engine.request(stack, first).await?;
                self.engine.snooze(stack, &wanted, Trigger::Manual).await?
            }
            other => other?,
        };
        Ok(Answer::Snoozed {
            stack: stack.to_string(),
            snoozed_until: costctl_core::calendar::display(wanted.until_ms, &cfg.time_zone.tz),
            replaced: before.snooze_at(now).cloned(),
            snooze: wanted,
        })
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
    ) -> Result<Answer, ServiceError> {
        let cfg = self.stack(stack)?;
        if action == TfAction::Delete {
            let result = self.engine.delete_spec(stack, spec).await?;
            return Ok(Answer::Spec(Box::new(result)));
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
            Ok(result) => return Ok(Answer::Spec(Box::new(result))),
            Err(e) => ServiceError::from(e),
        };
        let Some(before) = before else {
            return Err(err);
        };
        Err(self.roll_back_create(stack, spec, &before, err).await)
    }

    /// Deletes what a failed Terraform create made (the ALBs and clusters of `spec` that did not
    /// exist before it), so that nothing is left that no Terraform state names; returns the
    /// create's error, saying what was deleted.
    async fn roll_back_create(
        &self,
        stack: &str,
        spec: &EphemeralSpec,
        before: &SpecResult,
        err: ServiceError,
    ) -> ServiceError {
        let after = match self.engine.spec_result(stack, spec).await {
            Ok(after) => after,
            Err(e) => {
                tracing::error!(stack, error = %e, "create failed; could not look up what it made");
                return err;
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
            nat_gateways: spec
                .nat_gateways
                .iter()
                .filter(|n| {
                    after.nat_gateways.contains_key(&n.subnet_id)
                        && !before.nat_gateways.contains_key(&n.subnet_id)
                })
                .cloned()
                .collect(),
            vpc_endpoints: spec
                .vpc_endpoints
                .iter()
                .filter(|e| {
                    after.vpc_endpoints.contains_key(&e.service_name)
                        && !before.vpc_endpoints.contains_key(&e.service_name)
                })
                .cloned()
                .collect(),
        };
        if made.is_empty() {
            return err;
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
            .chain(
                made.nat_gateways
                    .iter()
                    .map(|n| format!("nat:{}", n.subnet_id)),
            )
            .chain(
                made.vpc_endpoints
                    .iter()
                    .map(|e| format!("vpce:{}", e.service_name)),
            )
            .collect();
        match self.engine.roll_back_spec(stack, &made).await {
            Ok(_) => ServiceError::CreateRolledBack {
                error: Box::new(err),
                deleted,
            },
            Err(e) => {
                tracing::error!(stack, error = %e, made = ?deleted, "create failed and its rollback failed too: delete these with `costctl delete-spec`");
                err
            }
        }
    }

    /// The stack's stored desired state (`running` for a stack never requested).
    async fn current(&self, stack: &str) -> Result<DesiredState, ServiceError> {
        Ok(self
            .engine
            .store()
            .load(stack)
            .await?
            .map_or(DesiredState::Running, |s| s.desired))
    }

    /// Applies the requests the reduce-only function recorded for `stack`, oldest first, as
    /// lowering requests only ([`policy::lowering`]); every handled item is dropped. Returns
    /// what was done with each.
    async fn apply_lowering(&self, stack: &str) -> Result<Vec<LoweringOutcome>, ServiceError> {
        let cfg = self.stack(stack)?;
        let store = self.engine.store();
        let mut out = Vec::new();
        for (item, parsed) in store.lowering(stack).await? {
            let outcome = match policy::lowering(cfg, &parsed, self.current(stack).await?) {
                LoweringVerdict::Ignore(ignored) => {
                    tracing::warn!(stack, item, reason = %ignored, "reduce-only item ignored");
                    LoweringOutcome::Ignored {
                        item: item.clone(),
                        ignored,
                    }
                }
                LoweringVerdict::Nothing(level) => LoweringOutcome::Requested {
                    item: item.clone(),
                    requested: level,
                    trigger: parsed.as_ref().map_or(Trigger::Budget, |r| r.trigger),
                },
                LoweringVerdict::Request(spec) => {
                    let (requested, trigger) = (spec.desired, spec.trigger);
                    match self.engine.request(stack, spec).await {
                        // The stack's policy lets a snooze hold budget requests off too.
                        Err(EngineError::Store(StoreError::Snoozed { snooze: held, .. })) => {
                            LoweringOutcome::Ignored {
                                item: item.clone(),
                                ignored: format!(
                                    "held: {} (snooze.budget_overrides is false)",
                                    snooze::describe(&held, &cfg.time_zone)
                                ),
                            }
                        }
                        other => {
                            other?;
                            LoweringOutcome::Requested {
                                item: item.clone(),
                                requested,
                                trigger,
                            }
                        }
                    }
                }
            };
            store.drop_lowering(stack, &item).await?;
            out.push(outcome);
        }
        Ok(out)
    }

    /// The periodic tick: first the requests the reduce-only function recorded, then continue
    /// unfinished transitions and repair drift, stack by stack.
    async fn tick(&self, only: Option<&str>, deadline_ms: i64) -> Result<Answer, ServiceError> {
        if let Some(name) = only {
            // One stack asked for by name: its error is the answer's.
            self.stack(name)?;
            let entry = self.tick_stack(name, deadline_ms).await?;
            return Ok(Answer::Tick {
                reconciled: vec![entry],
            });
        }
        // Every stack, several at once (each under its own lease), answered in the
        // configuration's order. A stack whose tick fails is reported as failed and holds
        // no other back; one that waits on AWS holds only its own slot. The stacks share one
        // account-wide discovery for the tick's duration (ended however the tick ends, so a
        // warm process never keeps a tick's listing).
        let _sharing = SharedDiscovery::on(self.engine.cloud());
        let names: Vec<String> = self.config.stacks.keys().cloned().collect();
        let reconciled = futures::stream::iter(names)
            .map(|name| async move {
                match self.tick_stack(&name, deadline_ms).await {
                    Ok(entry) => entry,
                    Err(e) => TickEntry::Failed {
                        stack: name,
                        error: e.to_string(),
                    },
                }
            })
            .buffered(self.engine.options().stacks_at_once.max(1))
            .collect()
            .await;
        Ok(Answer::Tick { reconciled })
    }

    async fn tick_stack(&self, name: &str, deadline_ms: i64) -> Result<TickEntry, ServiceError> {
        let failed = |e: &dyn std::fmt::Display| TickEntry::Failed {
            stack: name.to_string(),
            error: e.to_string(),
        };
        let lowering = match self.apply_lowering(name).await {
            Ok(done) => done,
            Err(e) => return Ok(failed(&e)),
        };
        let Some(state) = self.engine.store().load(name).await? else {
            return Ok(TickEntry::Skipped {
                stack: name.to_string(),
                skipped: "never requested".into(),
            });
        };
        let cfg = self.stack(name)?;
        if let Some(spec) = policy::escalation(cfg, &state, self.engine.now_ms()) {
            self.engine.request(name, spec).await?;
        }
        Ok(
            match self.engine.reconcile_or_queue(name, deadline_ms).await {
                Ok(Transition::Reconciled(report)) if lowering.is_empty() => {
                    TickEntry::Report(report)
                }
                Ok(Transition::Reconciled(report)) => TickEntry::WithLowering {
                    reduce_only_requests: lowering,
                    report,
                },
                Ok(Transition::Queued { owner, .. }) => TickEntry::Skipped {
                    stack: name.to_string(),
                    skipped: format!("being reconciled by {owner}"),
                },
                Err(e) => failed(&e),
            },
        )
    }

    async fn budget_alert(
        &self,
        alert: &BudgetAlert,
        deadline_ms: i64,
    ) -> Result<BudgetAnswer, ServiceError> {
        let Some((stack, budget_cfg)) = self.config.stack_for_budget(&alert.budget_name) else {
            return Err(ServiceError::UnknownStack(format!(
                "budget `{}` maps to no configured stack (configure it under a stack's `budgets`)",
                alert.budget_name
            )));
        };
        let state: Option<StackState> = self.engine.store().load(stack).await?;
        let current = state.as_ref().map_or(DesiredState::Running, |s| s.desired);
        let now = self.engine.now_ms();
        let overrides = self.stack(stack)?.snooze.budget_overrides;
        let snooze_overridden = state
            .as_ref()
            .and_then(|s| s.snooze_at(now))
            .filter(|_| overrides)
            .cloned();
        match policy::budget(alert, budget_cfg, current, now) {
            BudgetVerdict::BelowThresholds => Ok(BudgetAnswer::BelowThresholds {
                budget: alert.budget_name.clone(),
                stack: stack.to_string(),
                action: "none",
                reason: "below every configured threshold",
            }),
            BudgetVerdict::Lower { level, lockout } => {
                let locks = lockout.is_some();
                let spec = RequestSpec {
                    lockout: lockout.clone(),
                    ..policy::request(self.stack(stack)?, level, Trigger::Budget)
                };
                // Sent with the reconcile's own events (one PutEvents), or on their own when
                // the transition is recorded for another invocation.
                self.engine.queue_events(crate::events::for_budget(
                    stack,
                    state.as_ref(),
                    level,
                    &alert.budget_name,
                    lockout.as_ref(),
                    snooze_overridden.as_ref(),
                    now,
                ));
                let outcome = self.transition(stack, spec, deadline_ms).await;
                self.engine.send_events().await;
                let report = outcome?;
                Ok(BudgetAnswer::Lowered {
                    budget: alert.budget_name.clone(),
                    stack: stack.to_string(),
                    level,
                    lockout: locks,
                    snooze_overridden,
                    report: Box::new(report),
                })
            }
        }
    }

    async fn rds_auto_start(
        &self,
        instance_id: &str,
        deadline_ms: i64,
    ) -> Result<Answer, ServiceError> {
        let described = self
            .engine
            .cloud()
            .describe_db_instances(&[instance_id.to_string()])
            .await
            .map_err(EngineError::from)?;
        for (name, cfg) in &self.config.stacks {
            let Some(state) = self.engine.store().load(name).await? else {
                continue;
            };
            if !policy::owns_instance(cfg, &state, instance_id, &described) {
                continue;
            }
            let Some(level) = policy::auto_start(cfg, &state) else {
                return Ok(Answer::Nothing {
                    stack: name.clone(),
                    instance: instance_id.to_string(),
                    action: "none",
                    reason: "the stack is meant to be running",
                });
            };
            let spec = policy::request(cfg, level, Trigger::RdsEvent);
            return self.transition(name, spec, deadline_ms).await;
        }
        Err(ServiceError::UnknownStack(format!(
            "RDS instance `{instance_id}` belongs to no configured stack; nothing done"
        )))
    }
}
