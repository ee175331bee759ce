//! [`MemStore`]: the `StateStore` trait over the simulated world's items, one handle per
//! invocation, with DynamoStore's conditional semantics exactly (lease, generation fence,
//! manifest, history, spec).

use crate::cloud::Caller;
use crate::world::World;
use async_trait::async_trait;
use costctl_core::savings::LedgerPoint;
use costctl_core::spec::EphemeralSpec;
use costctl_core::{DesiredState, Manifest};
use costctl_engine::report::Report;
use costctl_engine::store::{
    HistoryEntry, Lease, LockoutRule, LoweringItem, LoweringRequest, NewRequest, Snooze,
    SnoozeRule, StackState, StateStore, StoreError, StoreResult,
};

/// The in-memory state store, as one invocation sees it: DynamoStore's conditions exactly.
#[derive(Clone)]
pub struct MemStore(pub Caller);

impl MemStore {
    async fn call<R>(
        &self,
        op: &str,
        write: bool,
        effect: impl FnOnce(&mut World, i64) -> StoreResult<R> + Send,
    ) -> StoreResult<R> {
        let c = &self.0;
        let faults = c
            .before(op, write)
            .await
            .map_err(|code| StoreError::Transient {
                code: code.to_string(),
                message: format!("dynamodb {op} (simulated)"),
            })?;
        let result = {
            let mut w = c.world.lock();
            let now = w.now;
            let r = effect(&mut w, now);
            if write {
                w.check();
            }
            r
        };
        c.after(op, faults, result.is_ok())
            .await
            .map_err(|code| StoreError::Transient {
                code: code.to_string(),
                message: format!("dynamodb {op} (simulated)"),
            })?;
        result
    }

    /// A finish (report stored, lease released) while `owner` holds the lease and, if given,
    /// `generation` is current; with the manifest of a converged pass when there is one.
    async fn finish_where(
        &self,
        stack: &str,
        owner: &str,
        generation: Option<u64>,
        manifest: Option<&Manifest>,
        report: &Report,
    ) -> StoreResult<()> {
        self.call("UpdateItem(finish)", true, |w, _| {
            let state = held(w, stack, owner, generation, "finish")?;
            state.lease = None;
            state.last_report = Some(report.clone());
            if let Some(m) = manifest {
                state.manifest = m.clone();
                w.log(format!(
                    "{owner}: manifest saved (generation {}) with the report",
                    generation.unwrap_or(0)
                ));
            }
            crate::scenario::check_report(w, stack, owner, report, "reconcile report");
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl StateStore for MemStore {
    async fn load(&self, stack: &str) -> StoreResult<Option<StackState>> {
        self.call("GetItem", false, |w, _| Ok(w.store.get(stack).cloned()))
            .await
    }

    async fn request(&self, stack: &str, req: &NewRequest, now_ms: i64) -> StoreResult<StackState> {
        let owner = self.0.owner.clone();
        self.call("UpdateItem(request)", true, |w, _| {
            let mut state = w.store.get(stack).cloned().unwrap_or_else(|| {
                StackState::new(stack, req.trigger, req.selector.clone(), req.policy)
            });
            let snooze_rule = req.snooze_rule();
            // Invariants of snoozes and calendars, over what the store is asked to record (the
            // service's decisions, whatever path they took to get here).
            if req.trigger == costctl_core::event::Trigger::Schedule {
                let utc = costctl_core::calendar::zone("UTC").expect("UTC is a zone");
                let day = costctl_core::calendar::local_date(now_ms, &utc);
                if req.desired == DesiredState::Running
                    && let Some(entry) = w.calendar.closed_on(day)
                {
                    let entry = entry.entry.clone();
                    w.violation(format!(
                        "{owner}: a scheduled resume was recorded on {day}, closed by calendar entry `{entry}`"
                    ));
                }
            }
            if snooze_rule == SnoozeRule::MustNotHold
                && let Some(s) = state.snooze_at(now_ms)
            {
                return Err(StoreError::Snoozed {
                    stack: stack.into(),
                    snooze: s.clone(),
                });
            }
            match req.lockout_rule() {
                LockoutRule::Set(lock) => state.lockout = Some(lock),
                LockoutRule::Clear => state.lockout = None,
                LockoutRule::MustNotHold => {
                    if let Some(lock) = state.lockout.as_ref().filter(|l| l.holds_at(now_ms)) {
                        return Err(StoreError::LockedOut {
                            stack: stack.into(),
                            until_ms: lock.until_ms,
                            reason: lock.reason.clone(),
                        });
                    }
                }
                LockoutRule::Untouched => {}
            }
            if req.trigger == costctl_core::event::Trigger::Schedule
                && let Some(s) = state.snooze_at(now_ms)
            {
                let until = s.until_ms;
                w.violation(format!(
                    "{owner}: a scheduled {} was recorded while a snooze held until {until}",
                    req.desired
                ));
            }
            match snooze_rule {
                SnoozeRule::Set(s) => state.snooze = Some(s),
                // MustNotHold got here with no snooze or an expired one, which it removes.
                SnoozeRule::Clear | SnoozeRule::MustNotHold => state.snooze = None,
                SnoozeRule::Untouched => {}
            }
            state.desired = req.desired;
            state.trigger = req.trigger;
            state.reason = req.reason.clone();
            state.requested_at_ms = now_ms;
            state.selector = req.selector.clone();
            state.policy = req.policy;
            state.generation += 1;
            w.log(format!(
                "{owner}: request {} -> generation {} ({})",
                req.desired, state.generation, req.trigger
            ));
            w.store.insert(stack.into(), state.clone());
            Ok(state)
        })
        .await
    }

    async fn set_snooze(&self, stack: &str, snooze: Option<&Snooze>) -> StoreResult<StackState> {
        let owner = self.0.owner.clone();
        self.call("UpdateItem(snooze)", true, |w, _| {
            let Some(state) = w.store.get_mut(stack) else {
                return Err(StoreError::UnknownStack {
                    stack: stack.into(),
                });
            };
            let before = state.clone();
            state.snooze = snooze.cloned();
            w.log(format!(
                "{owner}: snooze {}",
                snooze.map_or("ended".to_string(), |s| format!("until {}", s.until_ms))
            ));
            Ok(before)
        })
        .await
    }

    async fn lease(
        &self,
        stack: &str,
        owner: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> StoreResult<StackState> {
        self.call("UpdateItem(lease)", true, |w, _| {
            let Some(state) = w.store.get_mut(stack) else {
                return Err(StoreError::UnknownStack {
                    stack: stack.into(),
                });
            };
            match &state.lease {
                Some(l) if l.owner != owner && l.expires_at_ms >= now_ms => {
                    Err(StoreError::LeaseHeld {
                        stack: stack.into(),
                        owner: l.owner.clone(),
                        expires_at_ms: l.expires_at_ms,
                    })
                }
                prev => {
                    let took_over = prev.as_ref().is_some_and(|l| l.owner != owner);
                    let prev_owner = prev.as_ref().map(|l| l.owner.clone());
                    state.lease = Some(Lease {
                        owner: owner.into(),
                        expires_at_ms: now_ms + ttl_ms,
                    });
                    let s = state.clone();
                    w.seen_spec.insert(owner.to_string(), s.spec.clone());
                    if took_over {
                        w.log(format!(
                            "{owner}: takes over the expired lease of {}",
                            prev_owner.unwrap_or_default()
                        ));
                    }
                    Ok(s)
                }
            }
        })
        .await
    }

    async fn release(&self, stack: &str, owner: &str) -> StoreResult<()> {
        self.call("UpdateItem(release)", true, |w, _| {
            if let Some(state) = w.store.get_mut(stack)
                && state.lease.as_ref().is_some_and(|l| l.owner == owner)
            {
                state.lease = None;
            }
            Ok(())
        })
        .await
    }

    async fn save_manifest(
        &self,
        stack: &str,
        owner: &str,
        generation: u64,
        manifest: &Manifest,
    ) -> StoreResult<()> {
        self.call("UpdateItem(manifest)", true, |w, _| {
            held(w, stack, owner, Some(generation), "save_manifest")?.manifest = manifest.clone();
            w.log(format!("{owner}: manifest saved (generation {generation})"));
            Ok(())
        })
        .await
    }

    async fn finish(&self, stack: &str, owner: &str, report: &Report) -> StoreResult<()> {
        self.finish_where(stack, owner, None, None, report).await
    }

    async fn finish_current(
        &self,
        stack: &str,
        owner: &str,
        generation: u64,
        manifest: Option<&Manifest>,
        report: &Report,
    ) -> StoreResult<()> {
        self.finish_where(stack, owner, Some(generation), manifest, report)
            .await
    }

    async fn append_history(&self, stack: &str, entry: &HistoryEntry) -> StoreResult<()> {
        self.call("PutItem(history)", true, |w, _| {
            w.history
                .entry(stack.into())
                .or_default()
                .push(entry.clone());
            Ok(())
        })
        .await
    }

    async fn history(&self, stack: &str, limit: usize) -> StoreResult<Vec<HistoryEntry>> {
        self.call("Query(history)", false, |w, _| {
            Ok(w.history
                .get(stack)
                .map(|h| h.iter().rev().take(limit).cloned().collect())
                .unwrap_or_default())
        })
        .await
    }

    async fn append_ledger(&self, stack: &str, point: &LedgerPoint) -> StoreResult<()> {
        self.call("PutItem(ledger)", true, |w, _| {
            let points = w.ledger.entry(stack.into()).or_default();
            // Sorted, as the sort key keeps DynamoDB's.
            let at = points.partition_point(|p| p.at_ms <= point.at_ms);
            points.insert(at, point.clone());
            Ok(())
        })
        .await
    }

    async fn ledger(&self, stack: &str, from_ms: i64, to_ms: i64) -> StoreResult<Vec<LedgerPoint>> {
        self.call("Query(ledger)", false, |w, _| {
            Ok(w.ledger
                .get(stack)
                .map(|p| costctl_core::savings::window(p, from_ms, to_ms))
                .unwrap_or_default())
        })
        .await
    }

    async fn stacks(&self) -> StoreResult<Vec<String>> {
        self.call("Scan", false, |w, _| Ok(w.store.keys().cloned().collect()))
            .await
    }

    async fn set_spec(&self, stack: &str, spec: Option<&EphemeralSpec>) -> StoreResult<()> {
        let owner = self.0.owner.clone();
        self.call("UpdateItem(spec)", true, |w, _| {
            let Some(state) = w.store.get_mut(stack) else {
                return Err(StoreError::UnknownStack {
                    stack: stack.into(),
                });
            };
            state.spec = spec.cloned();
            // A status under way when the spec changes is not judged against either.
            w.version += 1;
            w.log(format!(
                "{owner}: spec {}",
                spec.map_or("forgotten".to_string(), |s| format!(
                    "set ({} ALB, {} MSK)",
                    s.load_balancers.len(),
                    s.kafka_clusters.len()
                ))
            ));
            Ok(())
        })
        .await
    }

    async fn put_lowering(&self, stack: &str, req: &LoweringRequest) -> StoreResult<()> {
        let owner = self.0.owner.clone();
        self.call("PutItem(lowering)", true, |w, now| {
            let items = w.lowering.entry(stack.to_string()).or_default();
            let sk = format!("REQ#{now:013}#{owner}#{}", items.len());
            items.push((sk, req.clone()));
            w.log(format!(
                "{owner}: reduce-only request {} ({}) recorded",
                req.desired, req.trigger
            ));
            Ok(())
        })
        .await
    }

    async fn lowering(&self, stack: &str) -> StoreResult<Vec<LoweringItem>> {
        self.call("Query(lowering)", false, |w, _| {
            Ok(w.lowering
                .get(stack)
                .map(|items| {
                    items
                        .iter()
                        .map(|(sk, r)| (sk.clone(), Ok(r.clone())))
                        .collect()
                })
                .unwrap_or_default())
        })
        .await
    }

    async fn drop_lowering(&self, stack: &str, sk: &str) -> StoreResult<()> {
        self.call("DeleteItem(lowering)", true, |w, _| {
            if let Some(items) = w.lowering.get_mut(stack) {
                items.retain(|(k, _)| k != sk);
            }
            Ok(())
        })
        .await
    }
}

/// The stack's state while `owner` holds its lease (and `generation`, if given, is current),
/// DynamoStore's conditions; otherwise `Fenced`, and the trace says which write was.
fn held<'w>(
    w: &'w mut World,
    stack: &str,
    owner: &str,
    generation: Option<u64>,
    what: &str,
) -> StoreResult<&'w mut StackState> {
    let holds = w.store.get(stack).is_some_and(|s| {
        s.lease.as_ref().is_some_and(|l| l.owner == owner)
            && generation.is_none_or(|g| s.generation == g)
    });
    let fenced = || StoreError::Fenced {
        stack: stack.into(),
        owner: owner.into(),
        generation: generation.unwrap_or(0),
    };
    if !holds {
        w.log(format!("{owner}: {what} fenced"));
        return Err(fenced());
    }
    w.store.get_mut(stack).ok_or_else(fenced)
}
