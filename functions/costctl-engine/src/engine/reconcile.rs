//! The reconcile loop: the lease, passes of observe → plan → execute until converged, blocked
//! or out of time, and `run_until` over several reconciles.

use super::*;
use crate::events;
use crate::observe::{Parts, observe_parts};
use costctl_core::observation::service_key;
use costctl_core::savings::LedgerPoint;

/// What a pass says should happen next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// The stack is at its desired state.
    Converged,
    /// A step failed permanently, or the plan has a problem only a person can solve.
    Blocked,
    /// The invocation's deadline (less the margin) has come: the next invocation continues.
    OutOfTime,
    /// Steps ran (or the manifest write was fenced): renew the lease and pass again at once.
    Continue,
    /// Nothing could run yet: wait, renew the lease, pass again.
    Wait(Duration),
}

impl<C: Cloud, S: StateStore> Engine<C, S> {
    /// One reconcile: holds the lease, runs passes until converged, blocked or out of time.
    pub async fn reconcile(&self, stack: &str, deadline_ms: i64) -> Result<Report, EngineError> {
        self.reconcile_with(stack, deadline_ms, None, None).await
    }

    /// A reconcile that may plan its first pass on the observation its request just made, and
    /// start from the state its request's write leased (`taken`) instead of taking the lease.
    ///
    /// A newer request that arrives after the last pass's renewal of the lease is carried out
    /// here too, by a reconcile that follows at once (see `reconcile_once`): its requester was
    /// told that the lease holder carries it out (`Queued`).
    pub(super) async fn reconcile_with(
        &self,
        stack: &str,
        deadline_ms: i64,
        mut fresh: Option<Fresh>,
        mut taken: Option<StackState>,
    ) -> Result<Report, EngineError> {
        let mut ended: Option<Report> = None;
        loop {
            match self
                .reconcile_once(stack, deadline_ms, fresh.take(), taken.take())
                .await
            {
                Ok((report, false)) => return Ok(report),
                Ok((report, true)) => ended = Some(report),
                Err(e) => {
                    return match ended {
                        // The follow-up for a newer request could not run (its own invocation
                        // took the stack first, or the store failed): ours ended as reported,
                        // and the newer request is left to its requester or the next tick.
                        Some(report) => {
                            if !matches!(e, EngineError::Store(StoreError::LeaseHeld { .. })) {
                                tracing::warn!(stack, error = %e, "reconcile of the newer request");
                            }
                            Ok(report)
                        }
                        None => Err(e),
                    };
                }
            }
        }
    }

    /// One reconcile; `true` with its report when a newer request arrived after the last
    /// renewal of the lease (its finish was fenced; a converged pass's manifest is then left
    /// as it was).
    async fn reconcile_once(
        &self,
        stack: &str,
        deadline_ms: i64,
        fresh: Option<Fresh>,
        taken: Option<StackState>,
    ) -> Result<(Report, bool), EngineError> {
        let started = self.clock.now_ms();
        let lease = Lease::new(&self.options);
        let mut state = match taken {
            Some(state) => state,
            None => lease.take(&self.store, stack, started).await?,
        };
        let fresh = self.usable(fresh, stack, &state);
        let mut last_manifest = None;
        let result = self
            .passes(
                stack,
                &lease,
                deadline_ms,
                &mut state,
                fresh,
                &mut last_manifest,
            )
            .await;
        let mut report = match result {
            Ok(report) => report,
            Err(e) => {
                let _ = lease.release(&self.store, stack).await;
                return Err(e);
            }
        };
        report.elapsed_ms = u64::try_from(self.clock.now_ms() - started).unwrap_or(0);
        report.lockout = state.lockout.clone();
        report.snooze = state.snooze_at(self.clock.now_ms()).cloned();
        report.requested_at_ms = state.requested_at_ms;
        report.finished_at_ms = self.clock.now_ms();
        let before = state.last_report.clone();
        report.saved_since_last = before.as_ref().and_then(|b| saved_between(b, &report));
        report.month_saved = Some(month_saved(before.as_ref(), &report));
        let stored = report.for_storage();
        // The final report, the ledger point and the history entry at once: none of them
        // needs another's answer (the history records what was done whether or not the lease
        // was still ours at the end).
        let history =
            (!report.done.is_empty() || !report.errors.is_empty()).then(|| HistoryEntry {
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
            });
        // Finished only while this request is the newest: a newer one that came after the
        // last renewal is carried out by the reconcile that follows (`reconcile_with`), not
        // left for the next tick.
        let finishing = async {
            let finished = self
                .store
                .finish_current(
                    stack,
                    lease.owner(),
                    state.generation,
                    last_manifest.as_ref(),
                    &stored,
                )
                .await;
            match finished {
                // A newer request (or a lost lease, which the plain finish then says): this
                // report stands, and the records stay as they were for the newer request.
                Err(StoreError::Fenced { .. }) => {
                    (self.store.finish(stack, lease.owner(), &stored).await, true)
                }
                other => (other, false),
            }
        };
        let ((finished, newer), (), appended) = futures::join!(
            finishing,
            self.record_ledger(stack, before.as_ref(), &report),
            async {
                match &history {
                    Some(entry) => self.store.append_history(stack, entry).await,
                    None => Ok(()),
                }
            }
        );
        finished?;
        appended?;
        let detail = events::detail(
            before.as_ref(),
            &report,
            &state,
            report.cost_at_start.unwrap_or(report.cost.now_per_hour),
            self.clock.now_ms(),
        );
        self.queue_events(events::for_reconcile(before.as_ref(), &detail, &report));
        self.send_events().await;
        Ok((report, newer))
    }

    /// Appends a ledger point when this reconcile observed a new state or cost rate. A failed
    /// write is logged and fails nothing: the previous rate then stands until the next change.
    async fn record_ledger(&self, stack: &str, before: Option<&Report>, report: &Report) {
        let point = ledger_point(report);
        // A report stored before the ledger existed has no end time: record a first point.
        if before.is_some_and(|b| b.finished_at_ms > 0 && !ledger_point(b).differs(&point)) {
            return;
        }
        match self.store.append_ledger(stack, &point).await {
            Ok(()) | Err(StoreError::Unsupported { .. }) => {}
            Err(e) => tracing::warn!(stack, error = %e, "savings ledger: point not recorded"),
        }
    }

    /// Passes until one says the reconcile is over: renewing the lease (and reading the newest
    /// request) between passes, waiting where a pass asks to.
    async fn passes(
        &self,
        stack: &str,
        lease: &Lease,
        deadline_ms: i64,
        state: &mut StackState,
        fresh: Option<Observation>,
        last_manifest: &mut Option<Manifest>,
    ) -> Result<Report, EngineError> {
        let mut report = Report::new(stack, state.desired, state.generation);
        // The services found by the first observation: later passes describe them by key.
        let mut known: Option<(Selector, Vec<String>)> = None;
        // Set by a pass that acted: the look it planned from and what its steps changed, so
        // that the next look reads only what may differ (`Changed::next_look`).
        let mut changed: Option<Changed> = None;
        let mut fresh: Option<Looked> = fresh.map(Looked::full);
        loop {
            let pass = self
                .pass(
                    stack,
                    lease,
                    deadline_ms,
                    state,
                    &mut report,
                    &mut known,
                    fresh.take(),
                    &mut changed,
                    last_manifest,
                )
                .await;
            match self.next_after(pass, lease, deadline_ms)? {
                Next::Converged | Next::Blocked | Next::OutOfTime => return Ok(report),
                Next::Continue => {}
                Next::Wait(d) => self.clock.sleep(d).await,
            }
            // The lease is renewed while the next pass's observation is made: looking needs no
            // lease, only acting does, and the two would otherwise be two round trips in a row.
            // The observation is used only if the renewal left what it looked for unchanged (a
            // newer request may name another selector; the manifest is ours while we hold the
            // lease, so it is unchanged unless the lease was lost, which ends the reconcile).
            let changed = changed.take();
            let looking = async {
                match &changed {
                    Some(c) => {
                        let parts = c.next_look();
                        observe_parts(
                            &self.cloud,
                            &state.selector,
                            &state.manifest,
                            state.spec.as_ref(),
                            &c.before,
                            &parts,
                        )
                        .await
                        .map(|obs| Looked {
                            obs,
                            read: Some(parts),
                        })
                    }
                    None => self
                        .observe(
                            &state.selector,
                            &state.manifest,
                            state.spec.as_ref(),
                            known_keys(&known, &state.selector),
                        )
                        .await
                        .map(Looked::full),
                }
            };
            let (renewed, looked) = futures::join!(
                lease.take(&self.store, stack, self.clock.now_ms()),
                self.before(deadline_ms - lease.margin_ms(), looking)
            );
            let renewed = renewed?;
            fresh = match looked {
                Some(Ok(looked))
                    if renewed.selector == state.selector
                        && renewed.manifest == state.manifest
                        && renewed.spec == state.spec =>
                {
                    Some(looked)
                }
                // Failed, out of time or stale: the pass looks again and handles what it finds.
                _ => None,
            };
            *state = renewed;
        }
    }

    /// The one error policy of a pass: an observation that failed transiently is retried after
    /// a poll interval while there is time; every other error ends the reconcile.
    fn next_after(
        &self,
        pass: Result<Next, EngineError>,
        lease: &Lease,
        deadline_ms: i64,
    ) -> Result<Next, EngineError> {
        match pass {
            Err(EngineError::Cloud(e))
                if e.is_transient() && self.clock.now_ms() + lease.margin_ms() < deadline_ms =>
            {
                tracing::debug!(error = %e, "observe failed; trying again");
                Ok(Next::Wait(self.options.poll_interval))
            }
            other => other,
        }
    }

    /// One pass, in the shape of a controller's reconcile: observe, plan, write the manifest
    /// ahead, execute the ready steps; returns what to do next.
    #[allow(clippy::too_many_arguments)]
    async fn pass(
        &self,
        stack: &str,
        lease: &Lease,
        deadline_ms: i64,
        state: &mut StackState,
        report: &mut Report,
        known: &mut Option<(Selector, Vec<String>)>,
        fresh: Option<Looked>,
        changed: &mut Option<Changed>,
        last_manifest: &mut Option<Manifest>,
    ) -> Result<Next, EngineError> {
        let margin = lease.margin_ms();
        report.passes += 1;
        report.desired_state = state.desired;
        report.generation = state.generation;
        let Looked { obs, read } = match fresh {
            Some(looked) => looked,
            None => {
                let keys = known_keys(known, &state.selector);
                let looking =
                    self.observe(&state.selector, &state.manifest, state.spec.as_ref(), keys);
                match self.before(deadline_ms - margin, looking).await {
                    Some(observed) => Looked::full(observed?),
                    // Out of time while looking (throttled reads): what is left is the next
                    // invocation's; the report says the stack has not converged.
                    None => return Ok(Next::OutOfTime),
                }
            }
        };
        if known.as_ref().is_none_or(|(sel, _)| *sel != state.selector) {
            *known = Some((
                state.selector.clone(),
                obs.services.iter().map(|s| s.key()).collect(),
            ));
        }
        let goal = Goal {
            desired: state.desired,
            generation: state.generation,
            policy: state.policy,
        };
        let plan = self
            .exclusion(stack)
            .plan(&goal, &obs, &state.manifest, state.spec.as_ref());
        report.describe(&obs, &plan, &self.prices);

        // A converged pass protects no call: its manifest (a resume forgets its records once
        // the stack is back) is written with the final report, in the same conditional write.
        if plan.is_converged() {
            *last_manifest = (plan.manifest != state.manifest).then(|| plan.manifest.clone());
            return Ok(Next::Converged);
        }
        // Write-ahead: the manifest that protects this pass's destructive calls is stored
        // before any of them is made.
        if plan.manifest != state.manifest {
            match self
                .store
                .save_manifest(stack, lease.owner(), state.generation, &plan.manifest)
                .await
            {
                Ok(()) => state.manifest = plan.manifest.clone(),
                // A newer request arrived (or the lease was lost): renew and re-plan.
                Err(StoreError::Fenced { .. }) => return Ok(Next::Continue),
                Err(e) => return Err(e.into()),
            }
        }
        if self.clock.now_ms() + margin >= deadline_ms {
            return Ok(Next::OutOfTime);
        }

        let lease_until = state.lease.as_ref().map_or(i64::MIN, |l| l.expires_at_ms);
        let (executed, failed_permanently, started) = self
            .execute(
                stack,
                &plan,
                &obs,
                report,
                lease_until,
                deadline_ms - margin,
            )
            .await;
        if failed_permanently {
            // Re-plan once more so that the report shows what is left. (Not retried: the
            // reconcile is over either way, and the report already names the failed step.)
            match self
                .observe(&state.selector, &state.manifest, state.spec.as_ref(), None)
                .await
            {
                Ok(obs) => {
                    let plan = self.exclusion(stack).plan(
                        &goal,
                        &obs,
                        &state.manifest,
                        state.spec.as_ref(),
                    );
                    report.describe(&obs, &plan, &self.prices);
                }
                Err(e) => report
                    .errors
                    .push(format!("observe after the failed step: {e}")),
            }
            return Ok(Next::Blocked);
        }
        if executed > 0 {
            *changed = Some(Changed::by(&plan, &started, obs, read));
            return Ok(Next::Continue);
        }
        if !plan.problems.is_empty() {
            return Ok(Next::Blocked); // needs a person
        }
        // Nothing could run yet (gates waiting on AWS): wait a poll interval, or what is left.
        let left = deadline_ms - margin - self.clock.now_ms();
        if left <= 0 {
            return Ok(Next::OutOfTime);
        }
        let poll = self.options.poll_interval;
        Ok(Next::Wait(poll.min(Duration::from_millis(
            u64::try_from(left).unwrap_or(0),
        ))))
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
            let reconciled = self
                .reconcile_with(stack, deadline, fresh.take(), None)
                .await;
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

/// A look and what it read: everything (`read` is `None`), or the parts a partial look
/// read again (it kept the rest from the look before).
struct Looked {
    obs: Observation,
    read: Option<Parts>,
}

impl Looked {
    fn full(obs: Observation) -> Self {
        Looked { obs, read: None }
    }
}

/// What a pass that acted leaves the next look: the look it planned from, what that look read,
/// and what the pass's steps changed.
struct Changed {
    before: Observation,
    read: Option<Parts>,
    touched: Parts,
}

impl Changed {
    /// The parts each started step may have changed (a step that failed or was not answered
    /// too: the look reads its part either way), by the AWS service the step calls. A step of
    /// a service not named here makes the next look read everything.
    fn by(plan: &Plan, started: &[usize], before: Observation, read: Option<Parts>) -> Self {
        let mut touched = Parts::default();
        for step in started.iter().filter_map(|&id| plan.steps.get(id)) {
            match (step.action.api_service(), &step.action) {
                (
                    "ecs" | "application-autoscaling",
                    Action::SetScalingBounds {
                        cluster, service, ..
                    }
                    | Action::SetDesiredCount {
                        cluster, service, ..
                    },
                ) => {
                    touched.services.insert(service_key(cluster, service));
                }
                ("rds", _) => touched.databases = true,
                // An alarm is re-pointed at, or muted with, a load balancer.
                ("elasticloadbalancing" | "cloudwatch", _) => touched.load_balancers = true,
                ("kafka", _) => touched.kafka = true,
                ("ssm" | "route53", _) => touched.published = true,
                ("ec2", _) => touched.network = true,
                ("none", _) => {}
                _ => {
                    touched = Parts::all(before.services.iter().map(|s| s.key()));
                    break;
                }
            }
        }
        Changed {
            before,
            read,
            touched,
        }
    }

    /// What the next look reads: what the steps changed, and what the look before kept (so that
    /// nothing planned from is older than the look the last pass planned from).
    fn next_look(&self) -> Parts {
        let kept = match &self.read {
            None => Parts::default(),
            Some(read) => Parts::except(
                &Parts::all(self.before.services.iter().map(|s| s.key())),
                read,
            ),
        };
        kept.union(&self.touched)
    }
}

/// The services the reconcile's first look found, if it looked with this selector.
fn known_keys<'a>(
    known: &'a Option<(Selector, Vec<String>)>,
    selector: &Selector,
) -> Option<&'a [String]> {
    known
        .as_ref()
        .filter(|(sel, _)| sel == selector)
        .map(|(_, keys)| keys.as_slice())
}

/// The ledger point a report stands for: from its end on, its state and rates.
fn ledger_point(report: &Report) -> LedgerPoint {
    LedgerPoint {
        at_ms: report.finished_at_ms,
        state: report.state.clone(),
        now_per_hour: report.cost.now_per_hour,
        running_per_hour: report.cost.running_per_hour,
    }
}

/// What the time since the previous reconcile saved, at the rates it ended with: the ledger's
/// own increment over that interval.
fn saved_between(before: &Report, now: &Report) -> Option<f64> {
    if before.finished_at_ms <= 0 || now.finished_at_ms <= before.finished_at_ms {
        return None;
    }
    Some(ledger_point(before).saved_over(now.finished_at_ms - before.finished_at_ms))
}

/// The month's running total: the previous report's, when it was for the same month, plus the
/// increment since it. (An interval that spans a month's end counts in the new month: at most
/// one tick's saving.)
fn month_saved(before: Option<&Report>, report: &Report) -> crate::report::MonthSaved {
    let month = costctl_core::savings::month_of(report.finished_at_ms);
    let carried = before
        .and_then(|b| b.month_saved.as_ref())
        .filter(|m| m.month == month)
        .map_or(0.0, |m| m.dollars);
    crate::report::MonthSaved {
        dollars: carried + report.saved_since_last.unwrap_or(0.0),
        month,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use costctl_core::observation::ServiceObs;

    fn service(name: &str) -> ServiceObs {
        ServiceObs {
            cluster: "c".into(),
            name: name.into(),
            desired: 1,
            running: 1,
            pending: 0,
            status: "ACTIVE".into(),
            tags: BTreeMap::new(),
            public_ip: false,
        }
    }

    fn keys(names: &[&str]) -> std::collections::BTreeSet<String> {
        names.iter().map(|n| format!("c/{n}")).collect()
    }

    #[test]
    fn a_look_after_a_full_one_reads_only_what_the_pass_changed() {
        let before = Observation {
            services: vec![service("a"), service("b")],
            ..Observation::default()
        };
        let changed = Changed {
            before,
            read: None,
            touched: Parts {
                services: keys(&["a"]),
                ..Parts::default()
            },
        };
        assert_eq!(
            changed.next_look(),
            Parts {
                services: keys(&["a"]),
                ..Parts::default()
            }
        );
    }

    #[test]
    fn what_a_partial_look_kept_the_next_one_reads_whatever_the_pass_changed() {
        let before = Observation {
            services: vec![service("a"), service("b"), service("c")],
            ..Observation::default()
        };
        // The drain check read services a and b, kept c and everything else; the pass then
        // stopped the databases.
        let changed = Changed {
            before,
            read: Some(Parts {
                services: keys(&["a", "b"]),
                ..Parts::default()
            }),
            touched: Parts {
                databases: true,
                ..Parts::default()
            },
        };
        assert_eq!(changed.next_look(), Parts::all(keys(&["c"])));
    }
}
