//! The reconcile loop: the lease, passes of observe → plan → execute until converged, blocked
//! or out of time, and `run_until` over several reconciles.

use super::*;

impl<C: Cloud, S: StateStore> Engine<C, S> {
    /// One reconcile: holds the lease, runs passes until converged, blocked or out of time.
    pub async fn reconcile(&self, stack: &str, deadline_ms: i64) -> Result<Report, EngineError> {
        self.reconcile_with(stack, deadline_ms, None).await
    }

    /// A reconcile that may plan its first pass on the observation its request just made.
    pub(super) async fn reconcile_with(
        &self,
        stack: &str,
        deadline_ms: i64,
        fresh: Option<Fresh>,
    ) -> Result<Report, EngineError> {
        let started = self.clock.now_ms();
        let owner = self.options.owner.clone();
        let ttl = i64::try_from(self.options.lease_ttl.as_millis()).unwrap_or(i64::MAX);
        let mut state = self.store.lease(stack, &owner, started, ttl).await?;
        let fresh = self.usable(fresh, stack, &state);
        let result = self
            .passes(stack, &owner, ttl, deadline_ms, &mut state, fresh)
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
                        trigger: state.trigger,
                        detail: serde_json::json!({
                            "state": report.state,
                            "converged": report.converged,
                            "steps": stored.done,
                            "errors": stored.errors,
                            "notes": stored.notes,
                            "omitted": (!stored.omitted.is_empty()).then_some(&stored.omitted),
                        }),
                    },
                )
                .await?;
        }
        Ok(report)
    }

    pub(super) async fn passes(
        &self,
        stack: &str,
        owner: &str,
        ttl: i64,
        deadline_ms: i64,
        state: &mut StackState,
        mut fresh: Option<Observation>,
    ) -> Result<Report, EngineError> {
        let margin = i64::try_from(self.options.safety_margin.as_millis()).unwrap_or(0);
        let poll = self.options.poll_interval;
        let mut report = Report::new(stack, state.desired, state.generation);
        // The services found by the first observation: later passes describe them by key.
        let mut known: Option<(Selector, Vec<String>)> = None;
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

    /// Runs reconciles until the stack reaches the state of request `generation`, the request
    /// is superseded, a step fails permanently, or the timeout passes. Waits while another
    /// invocation holds the lease (it converges to the newest request too).
    pub async fn run_until(
        &self,
        stack: &str,
        generation: u64,
        timeout: Duration,
    ) -> Result<Report, EngineError> {
        self.run_until_with(stack, generation, timeout, None).await
    }

    /// `run_until` whose first reconcile may plan on the request's own observation.
    pub(super) async fn run_until_with(
        &self,
        stack: &str,
        generation: u64,
        timeout: Duration,
        mut fresh: Option<Fresh>,
    ) -> Result<Report, EngineError> {
        let deadline =
            self.clock.now_ms() + i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX / 2);
        loop {
            let reconciled = self.reconcile_with(stack, deadline, fresh.take()).await;
            let report = match Transition::of(reconciled)? {
                Transition::Reconciled(r) => Some(*r),
                Transition::Queued { .. } => None,
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
