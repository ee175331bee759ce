//! Reconcile: observe → plan → execute the ready steps within a time budget → persist → report.

use crate::cloud::{Cloud, fence};
use crate::error::CloudError;
use crate::observe::{observe, observe_known, observe_with};
use crate::report::{Report, StepOutcome};
use crate::store::{HistoryEntry, Lockout, NewRequest, StackState, StateStore, StoreError};
use async_trait::async_trait;
use costctl_core::observation::{Bounds, KafkaObs, LoadBalancerObs, scalable_resource_id};
use costctl_core::plan::Note;
use costctl_core::plan::{Action, Goal, Plan, Policy, Step};
use costctl_core::spec::{EphemeralSpec, SpecError};
use costctl_core::{DesiredState, Observation, Selector};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Time, so that a simulated cloud can run on virtual time.
#[async_trait]
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
    async fn sleep(&self, d: Duration);
}

/// Wall-clock time and tokio sleeps.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
    async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
}

#[derive(Debug, Clone)]
pub struct Options {
    /// At most this many AWS calls run at once.
    pub concurrency: usize,
    /// How long a lease lasts without renewal; renewed every pass.
    pub lease_ttl: Duration,
    /// How long to wait before re-observing when only gates (waits) remain.
    pub poll_interval: Duration,
    /// Stop starting new work this long before the deadline, to persist and answer in time.
    pub safety_margin: Duration,
    /// Who holds the lease (Lambda request id, host and pid…).
    pub owner: String,
    /// Refuse every step that does not reduce cost (the budget-alert deployment): even if a
    /// stack's stored desired state is `running`, this engine never starts anything.
    pub reduce_only: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            concurrency: 16,
            lease_ttl: Duration::from_secs(120),
            poll_interval: Duration::from_secs(5),
            safety_margin: Duration::from_secs(3),
            owner: format!("costctl-{}", std::process::id()),
            reduce_only: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Cloud(#[from] CloudError),
    #[error(
        "stack `{stack}`: {selector} match no ECS service or RDS instance, and nothing is recorded for it"
    )]
    NothingSelected { stack: String, selector: String },
    #[error("invalid selector for stack `{stack}`: {source}")]
    Selector {
        stack: String,
        #[source]
        source: costctl_core::selector::SelectorError,
    },
    #[error(
        "stack `{stack}`: request {ours} was superseded by request {newer} ({desired} by {trigger})"
    )]
    Superseded {
        stack: String,
        ours: u64,
        newer: u64,
        desired: DesiredState,
        trigger: String,
    },
    #[error("stack `{stack}` did not reach {desired} before the deadline")]
    Timeout {
        stack: String,
        desired: DesiredState,
    },
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error("stack `{stack}`: the ephemeral tier could not be brought to the spec: {}", .reasons.join("; "))]
    SpecNotApplied { stack: String, reasons: Vec<String> },
}

/// A request for a desired state, as every entry point builds it.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    pub desired: DesiredState,
    pub trigger: String,
    pub reason: String,
    /// Needed the first time a stack is seen; later requests reuse the stored one.
    pub selector: Option<Selector>,
    pub policy: Option<Policy>,
    pub force: bool,
    pub lockout: Option<Lockout>,
}

impl RequestSpec {
    pub fn new(desired: DesiredState, trigger: &str) -> Self {
        RequestSpec {
            desired,
            trigger: trigger.into(),
            reason: String::new(),
            selector: None,
            policy: None,
            force: false,
            lockout: None,
        }
    }
}

/// Called for every executed step (the CLI's progress display).
pub type Progress = Arc<dyn Fn(&StepOutcome) + Send + Sync>;

pub struct Engine<C, S> {
    cloud: C,
    store: S,
    clock: Arc<dyn Clock>,
    options: Options,
    progress: Option<Progress>,
    /// The observation `request` made to check that a new stack selects something, handed to
    /// the reconcile that follows it (see [`Engine::take_fresh`]).
    fresh: std::sync::Mutex<Option<Fresh>>,
}

/// An observation a moment old, for one stack with nothing recorded yet.
struct Fresh {
    stack: String,
    selector: Selector,
    at_ms: i64,
    obs: Observation,
}

/// How old the request's observation may be for the reconcile to plan on it instead of looking
/// again. Every step is idempotent and re-checked on the next pass, so a plan made on a
/// one-second-old picture is as safe as one made on a picture that ages while its steps run.
const FRESH_FOR_MS: i64 = 1_000;

impl<C: Cloud, S: StateStore> Engine<C, S> {
    pub fn new(cloud: C, store: S, options: Options) -> Self {
        Engine {
            cloud,
            store,
            clock: Arc::new(SystemClock),
            options,
            progress: None,
            fresh: std::sync::Mutex::new(None),
        }
    }

    fn keep_fresh(&self, fresh: Fresh) {
        *self.fresh.lock().unwrap_or_else(|e| e.into_inner()) = Some(fresh);
    }

    /// The request's observation of `stack`, once, if it is young enough and was made for the
    /// same selector on a stack that still has nothing recorded.
    fn take_fresh(&self, stack: &str, state: &StackState) -> Option<Observation> {
        let fresh = self
            .fresh
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()?;
        let usable = fresh.stack == stack
            && fresh.selector == state.selector
            && state.manifest.is_empty()
            && state.spec.is_none()
            && self.clock.now_ms() - fresh.at_ms <= FRESH_FOR_MS;
        usable.then_some(fresh.obs)
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn cloud(&self) -> &C {
        &self.cloud
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Validates and stores a request; returns the stored state and its history entry.
    async fn record_request(
        &self,
        stack: &str,
        spec: RequestSpec,
    ) -> Result<(StackState, HistoryEntry), EngineError> {
        let existing = self.store.load(stack).await?;
        let selector = match (&spec.selector, &existing) {
            (Some(sel), _) => sel.clone(),
            (None, Some(state)) => state.selector.clone(),
            (None, None) => {
                return Err(StoreError::UnknownStack {
                    stack: stack.into(),
                }
                .into());
            }
        };
        selector
            .validate()
            .map_err(|source| EngineError::Selector {
                stack: stack.into(),
                source,
            })?;
        let manifest = existing
            .as_ref()
            .map(|s| s.manifest.clone())
            .unwrap_or_default();
        let has_spec = existing.as_ref().is_some_and(|s| s.spec.is_some());
        if manifest.is_empty() && !has_spec {
            let obs = observe(&self.cloud, &selector, &manifest).await?;
            if obs.is_empty() {
                return Err(EngineError::NothingSelected {
                    stack: stack.into(),
                    selector: selector.to_string(),
                });
            }
            self.keep_fresh(Fresh {
                stack: stack.into(),
                selector: selector.clone(),
                at_ms: self.clock.now_ms(),
                obs,
            });
        }
        let policy = spec
            .policy
            .or(existing.as_ref().map(|s| s.policy))
            .unwrap_or_default();
        let req = NewRequest {
            desired: spec.desired,
            trigger: spec.trigger.clone(),
            reason: spec.reason.clone(),
            selector,
            policy,
            force: spec.force,
            lockout: spec.lockout.clone(),
        };
        let now = self.clock.now_ms();
        let state = self.store.request(stack, &req, now).await?;
        let entry = HistoryEntry {
            at_ms: now,
            generation: state.generation,
            kind: "request".into(),
            desired: spec.desired,
            trigger: spec.trigger,
            detail: serde_json::json!({ "reason": spec.reason, "force": spec.force, "lockout": spec.lockout }),
        };
        Ok((state, entry))
    }

    /// Records a request. Bad input changes nothing: an invalid selector, or one that selects
    /// nothing for a stack with nothing recorded, is refused before anything is written.
    pub async fn request(&self, stack: &str, spec: RequestSpec) -> Result<StackState, EngineError> {
        let (state, entry) = self.record_request(stack, spec).await?;
        self.store.append_history(stack, &entry).await?;
        Ok(state)
    }

    /// Records a request and reconciles at once, as one invocation does. The request's history
    /// entry is written while the reconcile takes the lease: one round trip less before the
    /// first AWS call. The reconcile's own outcome (e.g. the lease is held by another
    /// invocation) is returned beside the recorded state.
    pub async fn request_and_reconcile(
        &self,
        stack: &str,
        spec: RequestSpec,
        deadline_ms: i64,
    ) -> Result<(StackState, Result<Report, EngineError>), EngineError> {
        let (state, entry) = self.record_request(stack, spec).await?;
        let (history, report) = futures::join!(
            self.store.append_history(stack, &entry),
            self.reconcile(stack, deadline_ms)
        );
        history?;
        Ok((state, report))
    }

    /// Observes and plans without acting: what `status` and `plan` show. A stack the store
    /// does not know yet can be inspected with an explicit selector (nothing is written).
    pub async fn inspect(
        &self,
        stack: &str,
        desired: Option<DesiredState>,
        selector: Option<&Selector>,
    ) -> Result<(Report, Plan), EngineError> {
        let state = self.store.load(stack).await?;
        let (selector, manifest, generation, stored_desired, policy, lockout) =
            match (&state, selector) {
                (_, Some(sel)) => {
                    sel.validate().map_err(|source| EngineError::Selector {
                        stack: stack.into(),
                        source,
                    })?;
                    let s = state.as_ref();
                    (
                        sel.clone(),
                        s.map(|s| s.manifest.clone()).unwrap_or_default(),
                        s.map_or(0, |s| s.generation),
                        s.map_or(DesiredState::Running, |s| s.desired),
                        s.map(|s| s.policy).unwrap_or_default(),
                        s.and_then(|s| s.lockout.clone()),
                    )
                }
                (Some(s), None) => (
                    s.selector.clone(),
                    s.manifest.clone(),
                    s.generation,
                    s.desired,
                    s.policy,
                    s.lockout.clone(),
                ),
                (None, None) => {
                    return Err(StoreError::UnknownStack {
                        stack: stack.into(),
                    }
                    .into());
                }
            };
        // Status (no target state given) also lists the snapshots costctl kept.
        let status = desired.is_none();
        let desired = desired.unwrap_or(stored_desired);
        let spec = state.as_ref().and_then(|s| s.spec.clone());
        let obs = observe_with(&self.cloud, &selector, &manifest, spec.as_ref()).await?;
        if obs.is_empty() && manifest.is_empty() && spec.is_none() {
            return Err(EngineError::NothingSelected {
                stack: stack.into(),
                selector: selector.to_string(),
            });
        }
        let goal = Goal {
            desired,
            generation: generation + u64::from(desired != stored_desired),
            policy,
        };
        let plan = costctl_core::plan_with(&goal, &obs, &manifest, spec.as_ref());
        let mut report = Report::new(stack, desired, generation);
        report.describe(&obs, &plan);
        report.lockout = lockout;
        if status {
            let mut ids: Vec<String> = manifest.db_instances.keys().cloned().collect();
            ids.extend(obs.db_instances.iter().map(|d| d.id.clone()));
            ids.sort();
            ids.dedup();
            let snapshots = self.cloud.kept_snapshots(&ids).await?;
            report.kept_snapshots(&snapshots, &manifest);
        }
        Ok((report, plan))
    }

    /// One reconcile: holds the lease, runs passes until converged, blocked or out of time.
    pub async fn reconcile(&self, stack: &str, deadline_ms: i64) -> Result<Report, EngineError> {
        let started = self.clock.now_ms();
        let owner = self.options.owner.clone();
        let ttl = i64::try_from(self.options.lease_ttl.as_millis()).unwrap_or(i64::MAX);
        let mut state = self.store.lease(stack, &owner, started, ttl).await?;
        let result = self
            .passes(stack, &owner, ttl, deadline_ms, &mut state)
            .await;
        let mut report = match result {
            Ok(report) => report,
            Err(e) => {
                let _ = self.store.release(stack, &owner).await;
                return Err(e);
            }
        };
        report.elapsed_ms = u64::try_from(self.clock.now_ms() - started).unwrap_or(0);
        report.lockout = state.lockout.clone();
        let stored = report.for_storage();
        self.store.finish(stack, &owner, &stored).await?;
        if !report.done.is_empty() || !report.errors.is_empty() {
            self.store
                .append_history(
                    stack,
                    &HistoryEntry {
                        at_ms: self.clock.now_ms(),
                        generation: report.generation,
                        kind: "reconcile".into(),
                        desired: report.desired_state,
                        trigger: state.trigger.clone(),
                        detail: serde_json::json!({
                            "state": report.state,
                            "converged": report.converged,
                            "steps": stored["done"],
                            "errors": stored["errors"],
                            "notes": stored["notes"],
                            "omitted": stored.get("omitted"),
                        }),
                    },
                )
                .await?;
        }
        Ok(report)
    }

    async fn passes(
        &self,
        stack: &str,
        owner: &str,
        ttl: i64,
        deadline_ms: i64,
        state: &mut StackState,
    ) -> Result<Report, EngineError> {
        let margin = i64::try_from(self.options.safety_margin.as_millis()).unwrap_or(0);
        let poll = self.options.poll_interval;
        let mut report = Report::new(stack, state.desired, state.generation);
        // The services found by the first observation: later passes describe them by key.
        let mut known: Option<(Selector, Vec<String>)> = None;
        let mut fresh = self.take_fresh(stack, state);
        loop {
            report.passes += 1;
            report.desired_state = state.desired;
            report.generation = state.generation;
            let observed = match fresh.take() {
                Some(obs) => Ok(obs),
                None => {
                    let keys = known
                        .as_ref()
                        .filter(|(sel, _)| *sel == state.selector)
                        .map(|(_, keys)| keys.as_slice());
                    let looking = observe_known(
                        &self.cloud,
                        &state.selector,
                        &state.manifest,
                        state.spec.as_ref(),
                        keys,
                    );
                    match self.before(deadline_ms - margin, looking).await {
                        Some(observed) => observed,
                        // Out of time while looking (throttled reads): what is left is the
                        // next invocation's; the report says the stack has not converged.
                        None => return Ok(report),
                    }
                }
            };
            let obs = match observed {
                Ok(obs) => obs,
                Err(e) if e.is_transient() && self.clock.now_ms() + margin < deadline_ms => {
                    report.errors.push(format!("observe: {e}"));
                    self.clock.sleep(poll).await;
                    *state = self
                        .store
                        .lease(stack, owner, self.clock.now_ms(), ttl)
                        .await?;
                    report.errors.pop();
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if known.as_ref().is_none_or(|(sel, _)| *sel != state.selector) {
                known = Some((
                    state.selector.clone(),
                    obs.services.iter().map(|s| s.key()).collect(),
                ));
            }
            let goal = Goal {
                desired: state.desired,
                generation: state.generation,
                policy: state.policy,
            };
            let plan = costctl_core::plan_with(&goal, &obs, &state.manifest, state.spec.as_ref());
            report.describe(&obs, &plan);

            // Write-ahead: the manifest that protects this pass's destructive calls is stored
            // before any of them is made.
            if plan.manifest != state.manifest {
                match self
                    .store
                    .save_manifest(stack, owner, state.generation, &plan.manifest)
                    .await
                {
                    Ok(()) => state.manifest = plan.manifest.clone(),
                    Err(StoreError::Fenced { .. }) => {
                        *state = self
                            .store
                            .lease(stack, owner, self.clock.now_ms(), ttl)
                            .await?;
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            if plan.is_converged() || self.clock.now_ms() + margin >= deadline_ms {
                return Ok(report);
            }

            let lease_until = state.lease.as_ref().map_or(i64::MIN, |l| l.expires_at_ms);
            let (executed, failed_permanently) = self
                .execute(
                    stack,
                    &plan,
                    &obs,
                    &mut report,
                    lease_until,
                    deadline_ms - margin,
                )
                .await;
            if failed_permanently {
                // Re-plan once more so that the report shows what is left.
                let obs = observe_with(
                    &self.cloud,
                    &state.selector,
                    &state.manifest,
                    state.spec.as_ref(),
                )
                .await?;
                let plan =
                    costctl_core::plan_with(&goal, &obs, &state.manifest, state.spec.as_ref());
                report.describe(&obs, &plan);
                return Ok(report);
            }
            if executed == 0 {
                if !plan.problems.is_empty() {
                    return Ok(report); // blocked: needs a person
                }
                let left = deadline_ms - margin - self.clock.now_ms();
                if left <= 0 {
                    return Ok(report);
                }
                let wait = poll.min(Duration::from_millis(u64::try_from(left).unwrap_or(0)));
                self.clock.sleep(wait).await;
            }
            // Renew the lease and read the newest request in one call.
            *state = self
                .store
                .lease(stack, owner, self.clock.now_ms(), ttl)
                .await?;
        }
    }

    /// Runs the ready steps, pipelined under the concurrency bound. Returns how many
    /// steps succeeded and whether one failed permanently.
    async fn execute(
        &self,
        stack: &str,
        plan: &Plan,
        obs: &Observation,
        report: &mut Report,
        lease_until: i64,
        stop_at: i64,
    ) -> (usize, bool) {
        // A step starts only while our lease will outlast it by a wide margin: once the lease
        // has expired (a slow answer, a frozen process), another invocation may have taken the
        // stack over and acted on a newer request; this plan is stale. Skipped steps count as
        // transient: the next pass renews the lease (or learns it was taken) and re-plans.
        let guard = i64::try_from(self.options.lease_ttl.as_millis() / 2).unwrap_or(i64::MAX);
        // A call is abandoned (its retries stop) one attempt timeout before the lease ends, or
        // at the deadline: a throttled retry loop must not land a write after another
        // invocation took the stack over with a newer request. (At most a quarter of the lease,
        // so that a step started with half the lease left always gets time to run.)
        let margin = i64::try_from(
            crate::aws::ATTEMPT_TIMEOUT
                .min(self.options.lease_ttl / 4)
                .as_millis(),
        )
        .unwrap_or(0);
        let call_until = stop_at.min(lease_until.saturating_sub(margin));
        let run = |step: Step| async move {
            let result = if self.clock.now_ms().saturating_add(guard) >= lease_until {
                Err(CloudError::Transient {
                    operation: "lease",
                    resource: step.action.resource(),
                    code: "LeaseExpiring".into(),
                    message: "the lease on the stack is about to expire; not started".into(),
                })
            } else {
                match self
                    .before(call_until, self.apply(&step.action, obs, lease_until))
                    .await
                {
                    Some(result) => result,
                    None => Err(CloudError::Transient {
                        operation: "deadline",
                        resource: step.action.resource(),
                        code: "DeadlineReached".into(),
                        message: "no answer before the invocation's deadline or the end of \
                                  its lease; the next pass checks whether it took effect"
                            .into(),
                    }),
                }
            };
            (step, result)
        };
        // Pipelined, not in waves: a step starts as soon as its own dependencies are done (a
        // service's UpdateService right after its RegisterScalableTarget), so one slow call
        // holds back only what depends on it. At most `concurrency` calls are in flight.
        let limit = self.options.concurrency.max(1);
        let mut started = vec![false; plan.steps.len()];
        let mut done: Vec<usize> = Vec::new();
        let mut in_flight = futures::stream::FuturesUnordered::new();
        let mut executed = 0;
        let mut permanent = false;
        loop {
            if !permanent && self.clock.now_ms() < stop_at && in_flight.len() < limit {
                let ready: Vec<Step> = plan
                    .ready(&done)
                    .filter(|s| !started[s.id])
                    .take(limit - in_flight.len())
                    .cloned()
                    .collect();
                for step in ready {
                    started[step.id] = true;
                    in_flight.push(run(step));
                }
            }
            let Some((step, result)) = in_flight.next().await else {
                break;
            };
            let outcome = StepOutcome {
                resource: step.action.resource(),
                action: action_name(&step.action).into(),
                description: step.action.to_string(),
                outcome: match &result {
                    Ok(()) => "ok",
                    Err(e) if e.is_transient() => "retry",
                    Err(_) => "failed",
                }
                .into(),
                error: result.as_ref().err().map(ToString::to_string),
                at_ms: self.clock.now_ms(),
            };
            tracing::info!(
                stack,
                resource = %outcome.resource,
                action = %outcome.action,
                outcome = %outcome.outcome,
                error = outcome.error.as_deref().unwrap_or(""),
                "step"
            );
            if let Some(progress) = &self.progress {
                progress(&outcome);
            }
            match result {
                Ok(()) => {
                    done.push(step.id);
                    executed += 1;
                }
                Err(e) if e.is_transient() => {}
                Err(e) => {
                    // Nothing new starts; what is in flight finishes and is reported.
                    permanent = true;
                    report.errors.push(e.to_string());
                }
            }
            report.done.push(outcome);
        }
        (executed, permanent)
    }

    /// Runs `fut` unless `stop_at` (ms) comes first. A call still unanswered then (a retry
    /// loop under heavy throttling) is abandoned so that the invocation answers before Lambda
    /// kills it; every step is idempotent and re-checked by the next pass, so an abandoned call
    /// that did take effect is simply found done.
    async fn before<T>(
        &self,
        stop_at: i64,
        fut: impl std::future::Future<Output = T>,
    ) -> Option<T> {
        let left = u64::try_from(stop_at - self.clock.now_ms())
            .ok()
            .filter(|&l| l > 0)?;
        let timer = self.clock.sleep(Duration::from_millis(left));
        futures::pin_mut!(fut);
        match futures::future::select(fut, timer).await {
            futures::future::Either::Left((value, _)) => Some(value),
            futures::future::Either::Right(_) => None,
        }
    }

    async fn apply(
        &self,
        action: &Action,
        obs: &Observation,
        lease_until: i64,
    ) -> Result<(), CloudError> {
        if self.options.reduce_only && !action.reduces_cost() {
            return Err(CloudError::refused(
                action.resource(),
                format!("this deployment can only reduce cost; refusing to {action}"),
            ));
        }
        match action {
            Action::SetScalingBounds {
                cluster,
                service,
                min,
                max,
            } => {
                self.cloud
                    .set_scalable_target(
                        &scalable_resource_id(cluster, service),
                        Bounds {
                            min: *min,
                            max: *max,
                        },
                    )
                    .await
            }
            Action::SetDesiredCount {
                cluster,
                service,
                count,
            } => self.cloud.set_desired_count(cluster, service, *count).await,
            Action::StopDb { id } => self.cloud.stop_db(id).await,
            Action::StartDb { id } => self.cloud.start_db(id).await,
            Action::DeleteDb { id, final_snapshot } => {
                self.cloud.delete_db(id, final_snapshot).await
            }
            Action::RestoreDb { id, snapshot, spec } => {
                self.cloud.restore_db(id, snapshot, spec).await
            }
            Action::ModifyDb { id, spec, fields } => self.cloud.modify_db(id, spec, fields).await,
            Action::ApplyLoadBalancer { spec } => {
                let margin = i64::try_from(self.options.safety_margin.as_millis()).unwrap_or(0);
                self.cloud
                    .apply_load_balancer(spec, lease_until.saturating_sub(margin))
                    .await
            }
            Action::DeleteLoadBalancer { arn, .. } => self.cloud.delete_load_balancer(arn).await,
            Action::CreateKafkaCluster { spec } => {
                let margin = i64::try_from(self.options.safety_margin.as_millis()).unwrap_or(0);
                self.cloud
                    .create_kafka_cluster(spec, lease_until.saturating_sub(margin))
                    .await
            }
            Action::DeleteKafkaCluster { arn, .. } => self.cloud.delete_kafka_cluster(arn).await,
            // The values to publish exist only once the resource does: they are read from the
            // observation the plan was made from (the step is planned after the gate that
            // waits for them, so a later pass has them).
            Action::PublishKafkaBootstrap { cluster, parameter } => {
                let boot = obs
                    .kafka_clusters
                    .get(cluster)
                    .filter(|c| c.state == "ACTIVE")
                    .and_then(|c| c.bootstrap.as_deref())
                    .ok_or_else(|| not_yet(format!("msk:{cluster}"), "bootstrap brokers"))?;
                self.cloud.put_parameter(parameter, boot).await
            }
            Action::PublishLoadBalancerDns {
                load_balancer,
                parameter,
            } => {
                let lb = obs
                    .load_balancers
                    .get(load_balancer)
                    .ok_or_else(|| not_yet(format!("alb:{load_balancer}"), "DNS name"))?;
                self.cloud.put_parameter(parameter, &lb.dns_name).await
            }
            Action::UpsertAlias {
                load_balancer,
                zone_id,
                name,
            } => {
                let lb = obs
                    .load_balancers
                    .get(load_balancer)
                    .ok_or_else(|| not_yet(format!("alb:{load_balancer}"), "DNS name"))?;
                self.cloud
                    .upsert_alias(zone_id, name, &lb.dns_name, &lb.zone_id)
                    .await
            }
            Action::SetAlarmActions { names, enabled } => {
                self.cloud.set_alarm_actions(names, *enabled).await
            }
            Action::PointAlarm {
                name,
                load_balancer,
                definition,
                actions_enabled,
            } => {
                let dimension = obs
                    .load_balancers
                    .get(load_balancer)
                    .and_then(|lb| costctl_core::observation::lb_dimension(&lb.arn))
                    .ok_or_else(|| not_yet(format!("alb:{load_balancer}"), "the ALB's ID"))?;
                self.cloud
                    .put_metric_alarm(
                        name,
                        &definition.pointed_at(load_balancer, dimension),
                        *actions_enabled,
                    )
                    .await
            }
            Action::AwaitServiceCount { .. }
            | Action::AwaitDb { .. }
            | Action::AwaitDbModified { .. }
            | Action::AwaitSnapshot { .. }
            | Action::AwaitLoadBalancer { .. }
            | Action::AwaitKafkaCluster { .. }
            | Action::AwaitAll { .. } => Ok(()),
        }
    }

    /// Runs reconciles until the stack reaches the state of request `generation`, the request
    /// is superseded, a step fails permanently, or the timeout passes. Waits while another
    /// invocation holds the lease (it converges to the newest request too).
    pub async fn run_until(
        &self,
        stack: &str,
        generation: u64,
        timeout: Duration,
    ) -> Result<Report, EngineError> {
        let deadline =
            self.clock.now_ms() + i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX / 2);
        loop {
            let report = match self.reconcile(stack, deadline).await {
                Ok(r) => Some(r),
                Err(EngineError::Store(StoreError::LeaseHeld { .. })) => None,
                Err(e) => return Err(e),
            };
            if let Some(state) = self.store.load(stack).await?
                && state.generation > generation
            {
                return Err(EngineError::Superseded {
                    stack: stack.into(),
                    ours: generation,
                    newer: state.generation,
                    desired: state.desired,
                    trigger: state.trigger,
                });
            }
            if let Some(report) = report
                && (report.converged || !report.errors.is_empty() || !report.problems.is_empty())
            {
                return Ok(report);
            }
            if self.clock.now_ms() >= deadline {
                let (report, _) = self.inspect(stack, None, None).await?;
                if report.converged {
                    return Ok(report);
                }
                return Err(EngineError::Timeout {
                    stack: stack.into(),
                    desired: report.desired_state,
                });
            }
            self.clock
                .sleep(self.options.poll_interval.min(Duration::from_secs(1)))
                .await;
        }
    }
}

fn action_name(action: &Action) -> &'static str {
    match action {
        Action::SetScalingBounds { .. } => "set_scaling_bounds",
        Action::SetDesiredCount { .. } => "set_desired_count",
        Action::AwaitServiceCount { .. } => "await_service_count",
        Action::StopDb { .. } => "stop_db",
        Action::StartDb { .. } => "start_db",
        Action::DeleteDb { .. } => "delete_db",
        Action::RestoreDb { .. } => "restore_db",
        Action::ModifyDb { .. } => "modify_db",
        Action::AwaitDb { .. } => "await_db",
        Action::AwaitDbModified { .. } => "await_db_modified",
        Action::AwaitSnapshot { .. } => "await_snapshot",
        Action::ApplyLoadBalancer { .. } => "apply_load_balancer",
        Action::DeleteLoadBalancer { .. } => "delete_load_balancer",
        Action::AwaitLoadBalancer { .. } => "await_load_balancer",
        Action::CreateKafkaCluster { .. } => "create_kafka_cluster",
        Action::DeleteKafkaCluster { .. } => "delete_kafka_cluster",
        Action::AwaitKafkaCluster { .. } => "await_kafka_cluster",
        Action::AwaitAll { .. } => "await_all",
        Action::PublishKafkaBootstrap { .. } => "publish_kafka_bootstrap",
        Action::PublishLoadBalancerDns { .. } => "publish_load_balancer_dns",
        Action::UpsertAlias { .. } => "upsert_alias",
        Action::SetAlarmActions { enabled: true, .. } => "enable_alarm_actions",
        Action::SetAlarmActions { enabled: false, .. } => "disable_alarm_actions",
        Action::PointAlarm { .. } => "point_alarm",
    }
}

/// A value to publish is not known yet: try again on the next pass.
fn not_yet(resource: String, what: &str) -> CloudError {
    CloudError::Transient {
        operation: "publish",
        resource,
        code: "NotYetAvailable".into(),
        message: format!("{what} not known yet"),
    }
}

/// What `apply-spec` answers (and Terraform's `aws_lambda_invocation` result):
/// `docs/ephemeral-spec.md`, "Result".
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SpecResult {
    pub stack: String,
    pub load_balancers: BTreeMap<String, LoadBalancerResult>,
    pub kafka_clusters: BTreeMap<String, KafkaResult>,
    /// What the user should know (a deletion-protected ALB not deleted, a paused stack…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LoadBalancerResult {
    pub arn: String,
    pub dns_name: String,
    pub zone_id: String,
    /// By port, as a string (JSON object keys).
    pub listener_arns: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct KafkaResult {
    pub arn: String,
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_brokers: Option<String>,
}

impl<C: Cloud, S: StateStore> Engine<C, S> {
    /// Terraform's create/update (and `costctl apply-spec`): validates the spec (nothing is
    /// changed when it is invalid), stores it with the stack, and when the stack's desired state
    /// is `running` creates or updates the resources now and waits until they match it. A paused
    /// stack only records the spec: it is used on the next resume (a `terraform apply` must not
    /// un-pause a stack). Idempotent: applying the same spec again creates nothing.
    ///
    /// A stack the store does not know is created (desired `running`) with `selector`.
    pub async fn apply_spec(
        &self,
        stack: &str,
        spec: &EphemeralSpec,
        selector: Option<Selector>,
        timeout: Duration,
    ) -> Result<SpecResult, EngineError> {
        spec.validate()?;
        self.cloud.check_spec_dependencies(spec).await?;
        // Replacing the stored spec would orphan what it names and `spec` does not (Terraform
        // forgets its previous input when a create fails): delete those first.
        if let Some(stored) = self.store.load(stack).await?.and_then(|s| s.spec) {
            let removed = stored.without(spec);
            if !removed.is_empty() {
                self.delete_spec(stack, &removed).await?;
            }
        }
        let state = match self.store.load(stack).await? {
            Some(state) => state,
            None => {
                let selector = selector.ok_or_else(|| StoreError::UnknownStack {
                    stack: stack.into(),
                })?;
                selector
                    .validate()
                    .map_err(|source| EngineError::Selector {
                        stack: stack.into(),
                        source,
                    })?;
                let req = NewRequest {
                    desired: DesiredState::Running,
                    trigger: "apply-spec".into(),
                    reason: "ephemeral tier created from a spec".into(),
                    selector,
                    policy: Policy::default(),
                    force: false,
                    lockout: None,
                };
                let now = self.clock.now_ms();
                let state = self.store.request(stack, &req, now).await?;
                self.store
                    .append_history(
                        stack,
                        &HistoryEntry {
                            at_ms: now,
                            generation: state.generation,
                            kind: "request".into(),
                            desired: DesiredState::Running,
                            trigger: "apply-spec".into(),
                            detail: serde_json::json!({ "reason": req.reason }),
                        },
                    )
                    .await?;
                state
            }
        };
        self.store.set_spec(stack, Some(spec)).await?;
        let mut notes = Vec::new();
        if state.desired == DesiredState::Running {
            let report = self.run_until(stack, state.generation, timeout).await?;
            if !report.succeeded() {
                let mut reasons = report.errors.clone();
                reasons.extend(
                    report
                        .problems
                        .iter()
                        .map(|p| format!("{}: {}", p.resource, p.message)),
                );
                if reasons.is_empty() {
                    reasons.push(format!("stack is {}", report.state));
                }
                return Err(EngineError::SpecNotApplied {
                    stack: stack.into(),
                    reasons,
                });
            }
            notes = report.notes;
        } else {
            notes.push(Note {
                resource: format!("stack:{stack}"),
                message: format!(
                    "the stack is {}: the spec is recorded and used on the next resume; nothing was created",
                    state.desired
                ),
            });
        }
        let mut result = self.spec_result(stack, spec).await?;
        result.notes.extend(notes);
        Ok(result)
    }

    /// The load balancers and MSK clusters a spec names that exist now, found by name only.
    async fn find_spec_resources(
        &self,
        spec: &EphemeralSpec,
    ) -> Result<(Vec<LoadBalancerObs>, Vec<KafkaObs>), EngineError> {
        let none = Selector::Names(Default::default());
        let lb_names: Vec<String> = spec.load_balancers.iter().map(|l| l.name.clone()).collect();
        let msk_names: Vec<String> = spec.kafka_clusters.iter().map(|c| c.name.clone()).collect();
        Ok(futures::try_join!(
            self.cloud.find_load_balancers(&none, &lb_names),
            self.cloud.find_kafka_clusters(&none, &msk_names),
        )?)
    }

    /// Waits, until `until` (the lease's end less the margin), for the clusters to be gone: MSK Serverless keeps its VPC
    /// endpoints, which use the security groups Terraform deletes next, until the delete is
    /// done. Still there when the lease would end: a transient error (the next `terraform
    /// destroy` finds the cluster deleting and waits again).
    async fn await_clusters_gone(
        &self,
        kafkas: &[KafkaObs],
        until: i64,
    ) -> Result<(), EngineError> {
        if kafkas.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = kafkas.iter().map(|c| c.spec.name.clone()).collect();
        let none = Selector::Names(Default::default());
        let poll = self.options.poll_interval;
        let poll_ms = i64::try_from(poll.as_millis()).unwrap_or(0);
        loop {
            let left = self.cloud.find_kafka_clusters(&none, &names).await?;
            let Some(first) = left.first() else {
                return Ok(());
            };
            if self.clock.now_ms() + poll_ms >= until {
                return Err(CloudError::Transient {
                    operation: "kafka:DescribeClusterV2",
                    resource: format!("msk:{}", first.spec.name),
                    code: "StillDeleting".into(),
                    message: "the cluster is still being deleted; its VPC endpoints and their security groups go with it: try again in a few minutes".into(),
                }
                .into());
            }
            self.clock.sleep(poll).await;
        }
    }

    /// What exists now of the resources a spec names.
    pub async fn spec_result(
        &self,
        stack: &str,
        spec: &EphemeralSpec,
    ) -> Result<SpecResult, EngineError> {
        let (lbs, kafkas) = self.find_spec_resources(spec).await?;
        let mut result = SpecResult {
            stack: stack.into(),
            ..SpecResult::default()
        };
        for lb in lbs {
            let listener_arns = self
                .cloud
                .listener_arns(&lb.arn)
                .await?
                .into_iter()
                .map(|(port, arn)| (port.to_string(), arn))
                .collect();
            result.load_balancers.insert(
                lb.spec.name.clone(),
                LoadBalancerResult {
                    arn: lb.arn,
                    dns_name: lb.dns_name,
                    zone_id: lb.zone_id,
                    listener_arns,
                },
            );
        }
        for c in kafkas {
            result.kafka_clusters.insert(
                c.spec.name.clone(),
                KafkaResult {
                    arn: c.arn,
                    state: c.state,
                    bootstrap_brokers: c.bootstrap,
                },
            );
        }
        Ok(result)
    }

    /// Terraform's delete (and `costctl delete-spec`): deletes the load balancers and clusters
    /// the spec names (a deletion-protected ALB is not deleted, and the result says so), then
    /// forgets them: they leave the stored spec and the manifest, so no resume recreates them.
    /// Runs under the stack's lease when the stack is known; a stack the store does not know
    /// only has its resources deleted.
    pub async fn delete_spec(
        &self,
        stack: &str,
        spec: &EphemeralSpec,
    ) -> Result<SpecResult, EngineError> {
        self.delete_spec_with(stack, spec, true).await
    }

    /// As [`Engine::delete_spec`], without waiting for the clusters to be gone: undoing a
    /// failed create, whose invocation has little time left and whose security groups stay.
    pub async fn roll_back_spec(
        &self,
        stack: &str,
        spec: &EphemeralSpec,
    ) -> Result<SpecResult, EngineError> {
        self.delete_spec_with(stack, spec, false).await
    }

    async fn delete_spec_with(
        &self,
        stack: &str,
        spec: &EphemeralSpec,
        wait_for_clusters: bool,
    ) -> Result<SpecResult, EngineError> {
        let owner = self.options.owner.clone();
        let ttl = i64::try_from(self.options.lease_ttl.as_millis()).unwrap_or(i64::MAX / 2);
        let margin = i64::try_from(self.options.safety_margin.as_millis()).unwrap_or(0);
        // The lease ends `ttl` after the instant it was asked for, however late the answer
        // comes: no delete is sent after that (less the margin).
        let asked_at = self.clock.now_ms();
        let state = match self.store.load(stack).await? {
            Some(_) => Some(self.store.lease(stack, &owner, asked_at, ttl).await?),
            None => None,
        };
        let not_after = state.as_ref().map(|_| asked_at + ttl - margin);
        let outcome = self
            .delete_spec_leased(stack, spec, state.as_ref(), not_after, wait_for_clusters)
            .await;
        if state.is_some() {
            let _ = self.store.release(stack, &owner).await;
        }
        outcome
    }

    async fn delete_spec_leased(
        &self,
        stack: &str,
        spec: &EphemeralSpec,
        state: Option<&StackState>,
        not_after: Option<i64>,
        wait_for_clusters: bool,
    ) -> Result<SpecResult, EngineError> {
        let owner = self.options.owner.as_str();
        // Under a lease (a known stack), each delete is fenced on its end.
        let fenced = |op: &'static str, resource: &str| match not_after {
            Some(t) => fence(self.clock.now_ms(), t, op, resource),
            None => Ok(()),
        };
        let (lbs, kafkas) = self.find_spec_resources(spec).await?;
        let mut result = SpecResult {
            stack: stack.into(),
            ..SpecResult::default()
        };
        let mut done = Vec::new();
        for lb in &lbs {
            if lb.deletion_protection {
                result.notes.push(Note {
                    resource: format!("alb:{}", lb.spec.name),
                    message: "deletion protection is on: the load balancer was not deleted".into(),
                });
                continue;
            }
            fenced("elasticloadbalancing:DeleteLoadBalancer", &lb.arn)?;
            self.cloud.delete_load_balancer(&lb.arn).await?;
            done.push(serde_json::json!({"resource": format!("alb:{}", lb.spec.name), "action": "delete_load_balancer"}));
        }
        // The alias records costctl pointed at them: deleted with the load balancer (only those
        // that still point at it; a record pointing elsewhere is someone else's).
        for want in &spec.load_balancers {
            let Some(lb) = lbs.iter().find(|l| l.spec.name == want.name) else {
                continue;
            };
            if lb.deletion_protection {
                continue;
            }
            for alias in &want.aliases {
                fenced("route53:ChangeResourceRecordSets", &alias.name)?;
                self.cloud
                    .delete_alias(&alias.zone_id, &alias.name, &lb.dns_name)
                    .await?;
                done.push(serde_json::json!({"resource": format!("route53:{}/{}", alias.zone_id, alias.name.trim_end_matches('.')), "action": "delete_alias"}));
            }
        }
        for c in &kafkas {
            if c.state != "DELETING" {
                fenced("kafka:DeleteCluster", &c.arn)?;
                self.cloud.delete_kafka_cluster(&c.arn).await?;
                done.push(serde_json::json!({"resource": format!("msk:{}", c.spec.name), "action": "delete_kafka_cluster"}));
            }
        }
        if wait_for_clusters {
            let ttl = i64::try_from(self.options.lease_ttl.as_millis()).unwrap_or(i64::MAX / 2);
            let margin = i64::try_from(self.options.safety_margin.as_millis()).unwrap_or(0);
            let until = not_after.unwrap_or_else(|| self.clock.now_ms() + ttl - margin);
            self.await_clusters_gone(&kafkas, until).await?;
        }
        if let Some(state) = state {
            let mut manifest = state.manifest.clone();
            for lb in &spec.load_balancers {
                manifest.load_balancers.remove(&lb.name);
            }
            for c in &spec.kafka_clusters {
                manifest.kafka_clusters.remove(&c.name);
            }
            if manifest != state.manifest {
                self.store
                    .save_manifest(stack, owner, state.generation, &manifest)
                    .await?;
            }
            // What the stored spec still names once this one is gone.
            let remaining = state
                .spec
                .as_ref()
                .map(|s| s.without(spec))
                .filter(|s| !s.is_empty());
            // Not after the lease either: a newer invocation may be storing a newer spec.
            fenced("dynamodb:UpdateItem", &format!("stack:{stack}"))?;
            self.store.set_spec(stack, remaining.as_ref()).await?;
            self.store
                .append_history(
                    stack,
                    &HistoryEntry {
                        at_ms: self.clock.now_ms(),
                        generation: state.generation,
                        kind: "delete-spec".into(),
                        desired: state.desired,
                        trigger: "delete-spec".into(),
                        detail: serde_json::json!({ "steps": done, "notes": result.notes }),
                    },
                )
                .await?;
        }
        Ok(result)
    }
}
