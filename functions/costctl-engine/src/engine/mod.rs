//! Reconcile: observe → plan → execute the ready steps within a time budget → persist → report.

use crate::cloud::{Cloud, fence};
use crate::error::{CloudError, CloudResult};
use crate::observe::observe_known;
use crate::report::{Report, StepOutcome};
use crate::store::{
    HistoryEntry, Lockout, NewRequest, Snooze, SnoozeRule, StackState, StateStore, StoreError,
};
use async_trait::async_trait;
use costctl_core::event::Trigger;
use costctl_core::exclude::Exclusion;
use costctl_core::observation::{
    Bounds, EndpointObs, KafkaObs, LoadBalancerObs, NatObs, scalable_resource_id,
};
use costctl_core::plan::Note;
use costctl_core::plan::{Action, Goal, Plan, Policy, Step};
use costctl_core::price::Prices;
use costctl_core::spec::{EphemeralSpec, SpecError};
use costctl_core::{DesiredState, Manifest, Observation, Selector};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

mod execute;
mod lease;
mod reconcile;
mod spec;

pub use lease::Lease;
pub use spec::{KafkaResult, LoadBalancerResult, NetworkResult, SpecResult};

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
    /// At most this many AWS calls run at once, and the width each AWS service's window
    /// starts at and grows back to ([`crate::congestion`]): a service that throttles gets
    /// fewer.
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
    /// How many stacks one tick reconciles at once. Each makes its own calls under its own
    /// lease; the AWS services' concurrency windows are shared, so a throttling service
    /// narrows for all of them.
    pub stacks_at_once: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            concurrency: 64,
            lease_ttl: Duration::from_secs(120),
            poll_interval: Duration::from_secs(5),
            safety_margin: Duration::from_secs(3),
            owner: format!("costctl-{}", std::process::id()),
            reduce_only: false,
            stacks_at_once: 8,
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
        trigger: Trigger,
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

/// A request for a desired state, as every entry point builds it ([`crate::policy::request`]
/// for a configured stack).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSpec {
    pub desired: DesiredState,
    pub trigger: Trigger,
    pub reason: String,
    /// Needed the first time a stack is seen; later requests reuse the stored one.
    pub selector: Option<Selector>,
    pub policy: Option<Policy>,
    pub force: bool,
    pub lockout: Option<Lockout>,
    /// Hold scheduled transitions until then, set with the request (`resume --until`).
    pub snooze: Option<Snooze>,
    /// A budget request ends a snooze instead of being held by it (default; the stack's
    /// `snooze.budget_overrides`).
    pub budget_overrides_snooze: bool,
}

impl RequestSpec {
    pub fn new(desired: DesiredState, trigger: Trigger) -> Self {
        RequestSpec {
            desired,
            trigger,
            reason: String::new(),
            selector: None,
            policy: None,
            force: false,
            lockout: None,
            snooze: None,
            budget_overrides_snooze: true,
        }
    }
}

/// What became of a request an invocation asked to be carried out now.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// This invocation held the stack and reconciled it.
    Reconciled(Box<Report>),
    /// Another invocation (`owner`) holds the stack; it carries the request out.
    Queued { owner: String },
}

impl Transition {
    /// The one place where "the lease is held" is an answer rather than an error.
    fn of(reconciled: Result<Report, EngineError>) -> Result<Self, EngineError> {
        match reconciled {
            Ok(report) => Ok(Transition::Reconciled(Box::new(report))),
            Err(EngineError::Store(StoreError::LeaseHeld { owner, .. })) => {
                Ok(Transition::Queued { owner })
            }
            Err(e) => Err(e),
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
    /// Per stack, what is selected but never changed ([`Exclusion`]); a stack not listed
    /// excludes what carries the default tag.
    exclusions: BTreeMap<String, Exclusion>,
    exclude_tag_key: String,
    /// Transition events not sent yet (a `PutEvents` failed): sent with the next reconcile's.
    unsent: std::sync::Mutex<Vec<crate::events::Event>>,
    /// The price table of the region the engine acts in (cost estimates, the savings ledger).
    prices: Arc<Prices>,
    /// Calls in flight allowed per AWS service, narrowed by throttling; kept for the engine's
    /// life (a warm Lambda process), so the next invocation starts from what this one learned.
    windows: Arc<std::sync::Mutex<crate::congestion::Windows>>,
}

/// An observation a moment old, made by the request and passed to the reconcile that follows
/// it: for a stack with nothing recorded, the look that checks it selects something; for one
/// with a manifest or a spec, the look made while the request was written. It is planned on
/// only if the reconcile's state has the selector, manifest and spec it looked with.
pub(super) struct Fresh {
    stack: String,
    selector: Selector,
    manifest: Manifest,
    spec: Option<EphemeralSpec>,
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
            progress: None,
            exclusions: BTreeMap::new(),
            exclude_tag_key: costctl_core::exclude::DEFAULT_TAG_KEY.to_string(),
            unsent: std::sync::Mutex::new(Vec::new()),
            prices: Arc::new(Prices::default()),
            windows: Arc::new(std::sync::Mutex::new(crate::congestion::Windows::new(
                options.concurrency,
            ))),
            options,
        }
    }

    /// Estimates costs with this price table (the default is us-east-1's built-in one).
    pub fn with_prices(mut self, prices: Prices) -> Self {
        self.prices = Arc::new(prices);
        self
    }

    pub fn prices(&self) -> &Prices {
        &self.prices
    }

    /// What `stack` saved in `[from_ms, to_ms)` by its ledger; a period reaching past now ends
    /// now.
    pub async fn savings(
        &self,
        stack: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<costctl_core::savings::Savings, EngineError> {
        if self.store.load(stack).await?.is_none() {
            return Err(StoreError::UnknownStack {
                stack: stack.into(),
            }
            .into());
        }
        let to_ms = to_ms.min(self.clock.now_ms()).max(from_ms);
        let points = self.store.ledger(stack, from_ms, to_ms).await?;
        Ok(costctl_core::savings::summarize(
            stack, &points, from_ms, to_ms,
        ))
    }

    /// Queues transition events to be sent by the next [`Engine::send_events`].
    pub fn queue_events(&self, events: Vec<crate::events::Event>) {
        let mut unsent = self.unsent.lock().expect("events lock");
        for e in events {
            if crate::events::sendable(&e) {
                unsent.push(e);
            } else {
                tracing::warn!(
                    stack = e.detail.stack,
                    detail_type = e.detail_type.as_str(),
                    bytes = crate::events::entry_size(&e),
                    "transition event dropped: larger than EventBridge takes (256 KB)"
                );
            }
        }
        let over = unsent.len().saturating_sub(crate::events::MAX_UNSENT);
        if over > 0 {
            tracing::warn!(
                dropped = over,
                "transition events dropped: PutEvents kept failing"
            );
            unsent.drain(..over);
        }
    }

    /// Sends the queued events with one `PutEvents` (the oldest first, at most
    /// [`crate::events::MAX_ENTRIES`] and under 256 KB: [`crate::events::batch_len`]). A
    /// failure is logged and the events stay queued: it never fails a transition.
    pub async fn send_events(&self) {
        let batch: Vec<crate::events::Event> = {
            let mut unsent = self.unsent.lock().expect("events lock");
            let n = crate::events::batch_len(&unsent);
            unsent.drain(..n).collect()
        };
        if batch.is_empty() {
            return;
        }
        match self.cloud.put_events(&batch).await {
            Ok(()) => {
                for e in &batch {
                    tracing::info!(
                        stack = e.detail.stack,
                        detail_type = e.detail_type.as_str(),
                        from = e.detail.from,
                        to = e.detail.to,
                        "event published"
                    );
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, events = batch.len(), "PutEvents failed; the events are sent with the next reconcile");
                let mut unsent = self.unsent.lock().expect("events lock");
                let later = std::mem::take(&mut *unsent);
                *unsent = batch;
                unsent.extend(later);
            }
        }
    }

    /// The events queued and not yet sent.
    pub fn unsent_events(&self) -> Vec<crate::events::Event> {
        self.unsent.lock().expect("events lock").clone()
    }

    /// Takes each configured stack's exclusions (tag key and names) from the configuration.
    pub fn set_exclusions(&mut self, config: &costctl_core::config::Config) {
        self.exclude_tag_key = config.exclude_tag_key.clone();
        self.exclusions = config
            .stacks
            .iter()
            .map(|(name, s)| (name.clone(), s.exclude.clone()))
            .collect();
    }

    /// Observes the stack ([`observe_known`]) and stamps the observation with the time it
    /// began: the planner compares that with when a create was sent before it believes that
    /// what the create made is not listed (EC2's describes are eventually consistent). Every
    /// observation the engine plans from is made here, so none goes without its time.
    pub(crate) async fn observe(
        &self,
        selector: &Selector,
        manifest: &Manifest,
        spec: Option<&EphemeralSpec>,
        known_services: Option<&[String]>,
    ) -> CloudResult<Observation> {
        let began = self.clock.now_ms();
        let mut obs = observe_known(&self.cloud, selector, manifest, spec, known_services).await?;
        obs.observed_at_ms = began;
        Ok(obs)
    }

    /// What `stack` excludes.
    pub(crate) fn exclusion(&self, stack: &str) -> Exclusion {
        self.exclusions
            .get(stack)
            .cloned()
            .unwrap_or_else(|| Exclusion {
                tag_key: self.exclude_tag_key.clone(),
                names: Default::default(),
            })
    }

    /// Makes this engine refuse every step that does not reduce cost (the reduce-only
    /// deployment).
    pub fn set_reduce_only(&mut self) {
        self.options.reduce_only = true;
    }

    /// The request's observation of `stack`, if it is young enough and was made for the same
    /// selector on a stack that still has nothing recorded.
    fn usable(&self, fresh: Option<Fresh>, stack: &str, state: &StackState) -> Option<Observation> {
        let fresh = fresh?;
        let usable = fresh.stack == stack
            && fresh.selector == state.selector
            && fresh.manifest == state.manifest
            && fresh.spec == state.spec
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

    pub fn options(&self) -> &Options {
        &self.options
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

    /// Validates and stores a request; returns the stored state, its history entry and the
    /// observation made on the way, if one was. With `lease`, the lease is taken in the same
    /// write where it is free ([`StateStore::request_with_lease`]); the state returned is then
    /// the leased one, marked `true`.
    async fn record_request(
        &self,
        stack: &str,
        spec: RequestSpec,
        lease: Option<&Lease>,
    ) -> Result<(StackState, HistoryEntry, Option<Fresh>, bool), EngineError> {
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
        let mut fresh = None;
        if manifest.is_empty() && !has_spec {
            let obs = self.observe(&selector, &manifest, None, None).await?;
            if obs.is_empty() {
                return Err(EngineError::NothingSelected {
                    stack: stack.into(),
                    selector: selector.to_string(),
                });
            }
            fresh = Some(Fresh {
                stack: stack.into(),
                selector: selector.clone(),
                manifest: Manifest::default(),
                spec: None,
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
            trigger: spec.trigger,
            reason: spec.reason.clone(),
            selector,
            policy,
            force: spec.force,
            lockout: spec.lockout.clone(),
            snooze: spec.snooze.clone(),
            budget_overrides_snooze: spec.budget_overrides_snooze,
        };
        let now = self.clock.now_ms();
        // A budget request ends a snooze that holds: say so in the history (read before the
        // write; the write itself clears the snooze atomically).
        let held = existing.as_ref().and_then(|s| s.snooze.clone());
        let (overridden, expired) = match (req.snooze_rule(), held) {
            (SnoozeRule::Clear, Some(s)) if s.holds_at(now) => (Some(s), None),
            (SnoozeRule::MustNotHold, Some(s)) if !s.holds_at(now) => (None, Some(s)),
            _ => (None, None),
        };
        let (state, leased) = match lease {
            // A stack with something recorded is looked at while its request is written: the
            // look needs only what the load answered, and the reconcile the request leases
            // plans on it if the write left selector, manifest and spec as they were (a look
            // that fails is made again by the first pass).
            Some(lease) if fresh.is_none() => {
                let tier = existing.as_ref().and_then(|s| s.spec.clone());
                // The look's age counts from when it was done, as a first look's does (not from
                // when it began: a stack whose look takes longer than `FRESH_FOR_MS`, a thousand
                // services, would be looked at twice; nor from when the write answered: a slow
                // answer would pass an old look as young).
                let (written, (looked, at_ms)) = futures::join!(
                    self.store
                        .request_with_lease(stack, &req, now, lease.owner(), lease.ttl_ms()),
                    async {
                        let looked = self
                            .observe(&req.selector, &manifest, tier.as_ref(), None)
                            .await;
                        (looked, self.clock.now_ms())
                    }
                );
                let written = written?;
                if written.1 {
                    fresh = looked.ok().map(|obs| Fresh {
                        stack: stack.into(),
                        selector: req.selector.clone(),
                        manifest,
                        spec: tier,
                        at_ms,
                        obs,
                    });
                }
                written
            }
            Some(lease) => {
                self.store
                    .request_with_lease(stack, &req, now, lease.owner(), lease.ttl_ms())
                    .await?
            }
            None => (self.store.request(stack, &req, now).await?, false),
        };
        let mut detail = serde_json::json!({ "reason": spec.reason, "force": spec.force, "lockout": spec.lockout });
        if let Some(snooze) = &spec.snooze {
            detail["snooze"] = serde_json::json!(snooze);
        }
        if let Some(snooze) = overridden {
            detail["snooze_overridden"] = serde_json::json!(snooze);
        }
        if let Some(snooze) = expired {
            detail["snooze_expired"] = serde_json::json!(snooze);
        }
        let entry = HistoryEntry {
            at_ms: now,
            generation: state.generation,
            kind: "request".into(),
            desired: spec.desired,
            trigger: spec.trigger,
            detail,
        };
        Ok((state, entry, fresh, leased))
    }

    /// Records a request. Bad input changes nothing: an invalid selector, or one that selects
    /// nothing for a stack with nothing recorded, is refused before anything is written.
    pub async fn request(&self, stack: &str, spec: RequestSpec) -> Result<StackState, EngineError> {
        let (state, entry, _, _) = self.record_request(stack, spec, None).await?;
        self.store.append_history(stack, &entry).await?;
        Ok(state)
    }

    /// Records a request and reconciles at once, as one invocation does. The lease is taken by
    /// the request's own write, and the request's history entry is written while the reconcile
    /// starts: two round trips less before the first AWS call. A stack another invocation
    /// holds is queued: that invocation reads the request at its next renewal and carries it
    /// out.
    pub async fn request_and_reconcile(
        &self,
        stack: &str,
        spec: RequestSpec,
        deadline_ms: i64,
    ) -> Result<(StackState, Transition), EngineError> {
        let lease = Lease::new(&self.options);
        let (state, entry, fresh, leased) = self.record_request(stack, spec, Some(&lease)).await?;
        let taken = leased.then(|| state.clone());
        let (history, transition) = futures::join!(
            self.store.append_history(stack, &entry),
            self.reconcile_with(stack, deadline_ms, fresh, taken)
        );
        history?;
        Ok((state, Transition::of(transition)?))
    }

    /// Records a request and runs reconciles until it is reached, superseded, failed or out of
    /// time ([`Engine::run_until`]); the first reconcile plans on the observation the request
    /// made, so a new stack is discovered once.
    pub async fn request_and_wait(
        &self,
        stack: &str,
        spec: RequestSpec,
        timeout: Duration,
    ) -> Result<(StackState, Report), EngineError> {
        let (state, entry, fresh, _) = self.record_request(stack, spec, None).await?;
        self.store.append_history(stack, &entry).await?;
        let report = self
            .run_until_with(stack, state.generation, timeout, fresh)
            .await?;
        Ok((state, report))
    }

    /// A reconcile, or `Queued` when another invocation holds the stack.
    pub async fn reconcile_or_queue(
        &self,
        stack: &str,
        deadline_ms: i64,
    ) -> Result<Transition, EngineError> {
        Transition::of(self.reconcile(stack, deadline_ms).await)
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
        let obs = self
            .observe(&selector, &manifest, spec.as_ref(), None)
            .await?;
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
        let plan = self
            .exclusion(stack)
            .plan(&goal, &obs, &manifest, spec.as_ref());
        let mut report = Report::new(stack, desired, generation);
        report.describe(&obs, &plan, &self.prices);
        report.lockout = lockout;
        report.snooze = state
            .as_ref()
            .and_then(|s| s.snooze_at(self.clock.now_ms()))
            .cloned();
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
}
