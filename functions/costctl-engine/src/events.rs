//! Transition events: what a reconcile changed or could not do, as EventBridge events
//! (`source: "costctl"`), so that people hear of a failed resume at 08:00 without reading logs.
//! Which events a reconcile makes is decided here, purely, from the report before and after;
//! the engine sends them with at most one `PutEvents` per reconcile, and a failure to send
//! never fails the transition (the events wait for the next reconcile of this process).
//! Detail types and fields: docs/events.md, "Events costctl publishes".

use crate::report::{Report, StepOutcome};
use crate::store::{Lockout, Snooze, StackState};
use costctl_core::DesiredState;
use costctl_core::event::Trigger;
use costctl_core::plan::{Note, Problem};
use serde::{Deserialize, Serialize};

/// The `source` of every event costctl publishes.
pub const SOURCE: &str = "costctl";

/// At most this many entries go in one `PutEvents` call (the API's limit).
pub const MAX_ENTRIES: usize = 10;

/// The entries of one `PutEvents` call must total less than 256 KB, counted as the EventBridge
/// User Guide's "Calculating PutEvents event entry size" says: the UTF-8 bytes of `Source`,
/// `DetailType` and `Detail` (costctl sets no `Time` and no `Resources`).
pub const MAX_REQUEST_BYTES: usize = 256 * 1024;

/// An event's entry size, as EventBridge counts it against [`MAX_REQUEST_BYTES`].
pub fn entry_size(e: &Event) -> usize {
    let detail = serde_json::to_string(&e.detail).map_or(0, |d| d.len());
    SOURCE.len() + e.detail_type.as_str().len() + detail
}

/// How many of `queued` (oldest first) go into the next `PutEvents`: at most
/// [`MAX_ENTRIES`], totalling less than [`MAX_REQUEST_BYTES`] (an event that alone reaches the
/// limit is never queued: [`sendable`]).
pub fn batch_len(queued: &[Event]) -> usize {
    let mut total = 0;
    queued
        .iter()
        .take(MAX_ENTRIES)
        .take_while(|e| {
            total += entry_size(e);
            total < MAX_REQUEST_BYTES
        })
        .count()
}

/// Whether EventBridge can take the event at all. Its lists are capped ([`LISTED`] entries
/// each), so only very long messages can make one too large.
pub fn sendable(e: &Event) -> bool {
    entry_size(e) < MAX_REQUEST_BYTES
}

/// How many unsent events the engine keeps for the next try; older ones are dropped (and
/// logged) first.
pub const MAX_UNSENT: usize = 100;

/// The kinds of event, as EventBridge `detail-type`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DetailType {
    /// The stack's observed state changed (`from` → `to`).
    #[serde(rename = "Stack State Changed")]
    StateChanged,
    /// The reconcile ended short of the desired state: a step failed permanently, retries ran
    /// out, or the plan has a problem only a person can solve.
    #[serde(rename = "Stack Transition Failed")]
    TransitionFailed,
    /// The fidelity rule kept a resource a pause would have deleted ("lossless or kept").
    #[serde(rename = "Resource Kept")]
    ResourceKept,
    /// A budget alert locked the stack's resumes out.
    #[serde(rename = "Budget Lockout")]
    BudgetLockout,
    /// A budget alert acted on a stack whose schedules were snoozed.
    #[serde(rename = "Snooze Overridden")]
    SnoozeOverridden,
}

impl DetailType {
    pub const ALL: [DetailType; 5] = [
        DetailType::StateChanged,
        DetailType::TransitionFailed,
        DetailType::ResourceKept,
        DetailType::BudgetLockout,
        DetailType::SnoozeOverridden,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DetailType::StateChanged => "Stack State Changed",
            DetailType::TransitionFailed => "Stack Transition Failed",
            DetailType::ResourceKept => "Resource Kept",
            DetailType::BudgetLockout => "Budget Lockout",
            DetailType::SnoozeOverridden => "Snooze Overridden",
        }
    }
}

/// One event: its detail type and detail (the JSON EventBridge carries under `detail`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub detail_type: DetailType,
    pub detail: Detail,
}

/// What every costctl event carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Detail {
    pub stack: String,
    /// The request generation the reconcile carried out.
    pub generation: u64,
    /// The observed state before (`running`, `paused`, `hibernated`, `transitioning`, or
    /// `unknown` for a stack never reconciled).
    pub from: String,
    /// The observed state after.
    pub to: String,
    pub desired: DesiredState,
    pub converged: bool,
    /// What asked for the transition (`schedule`, `budget`, `cli`, `manual`, …).
    pub trigger: Trigger,
    /// The request's reason (who asked and why, as recorded).
    pub reason: String,
    /// Estimated cost per hour before and after (`costctl_core::cost`).
    pub cost_per_hour_before: f64,
    pub cost_per_hour_after: f64,
    /// What it costs per hour when running.
    pub cost_per_hour_running: f64,
    /// Steps done by this reconcile, and the failed ones in full.
    pub steps: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_steps: Vec<StepOutcome>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// The resources kept by the fidelity rule, each with the fields that prevent deleting it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<Note>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockout: Option<Lockout>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snooze: Option<Snooze>,
    /// The budget that acted (budget events only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<String>,
    pub at_ms: i64,
}

/// At most this many entries of each list go into an event (an entry is at most 256 KB).
const LISTED: usize = 20;

fn first<T: Clone>(items: &[T]) -> Vec<T> {
    items.iter().take(LISTED).cloned().collect()
}

/// The detail of a reconcile's events: `before` is the report of the previous reconcile (as
/// stored), `after` this reconcile's, `cost_before` the cost rate its first pass observed.
pub fn detail(
    before: Option<&Report>,
    after: &Report,
    state: &StackState,
    cost_before: f64,
    at_ms: i64,
) -> Detail {
    let failed: Vec<StepOutcome> = after
        .done
        .iter()
        .filter(|s| s.outcome == "failed")
        .take(LISTED)
        .cloned()
        .collect();
    Detail {
        stack: after.stack.clone(),
        generation: after.generation,
        from: before.map_or_else(|| "unknown".to_string(), |r| r.state.clone()),
        to: after.state.clone(),
        desired: after.desired_state,
        converged: after.converged,
        trigger: state.trigger,
        reason: state.reason.clone(),
        cost_per_hour_before: cost_before,
        cost_per_hour_after: after.cost.now_per_hour,
        cost_per_hour_running: after.cost.running_per_hour,
        steps: after.done.len(),
        failed_steps: failed,
        problems: first(&after.problems),
        errors: first(&after.errors),
        kept: after
            .notes
            .iter()
            .filter(|n| n.kept)
            .take(LISTED)
            .cloned()
            .collect(),
        lockout: after.lockout.clone(),
        snooze: after.snooze.clone(),
        budget: None,
        at_ms,
    }
}

/// The events of one reconcile. Each says something new, so a stack blocked on the same
/// problem is not announced again at every scheduled tick:
/// - `Stack State Changed` when the observed state differs from the previous reconcile's;
/// - `Stack Transition Failed` when the desired state was not reached with errors or problems
///   that differ from the previous reconcile's;
/// - `Resource Kept` when a resource is kept that the previous reconcile did not keep.
pub fn for_reconcile(before: Option<&Report>, detail: &Detail, after: &Report) -> Vec<Event> {
    let mut out = Vec::new();
    let event = |detail_type| Event {
        detail_type,
        detail: detail.clone(),
    };
    if detail.from != detail.to {
        out.push(event(DetailType::StateChanged));
    }
    let stored = after.for_storage();
    let repeated = before.is_some_and(|b| {
        b.generation == after.generation
            && b.problems == stored.problems
            && b.errors == stored.errors
    });
    if !after.converged && (!after.errors.is_empty() || !after.problems.is_empty()) && !repeated {
        out.push(event(DetailType::TransitionFailed));
    }
    let known = |n: &Note| before.is_some_and(|b| b.notes.iter().any(|o| o == n));
    if after.notes.iter().any(|n| n.kept && !known(n)) {
        out.push(event(DetailType::ResourceKept));
    }
    out
}

/// The events of a budget alert that acts on `stack` (its state before the request in
/// `state`): a lockout, and a snooze it overrides. Queued before the transition so that they
/// go out with the reconcile's own events.
pub fn for_budget(
    stack: &str,
    state: Option<&StackState>,
    level: DesiredState,
    budget: &str,
    lockout: Option<&Lockout>,
    overridden: Option<&Snooze>,
    at_ms: i64,
) -> Vec<Event> {
    let last = state.and_then(|s| s.last_report.as_ref());
    let observed = last.map_or_else(|| "unknown".to_string(), |r| r.state.clone());
    let cost = last.map(|r| r.cost).unwrap_or_default();
    let detail = Detail {
        stack: stack.to_string(),
        generation: state.map_or(1, |s| s.generation + 1),
        from: observed.clone(),
        to: observed,
        desired: level,
        converged: false,
        trigger: Trigger::Budget,
        reason: lockout.map(|l| l.reason.clone()).unwrap_or_default(),
        cost_per_hour_before: cost.now_per_hour,
        cost_per_hour_after: cost.now_per_hour,
        cost_per_hour_running: cost.running_per_hour,
        steps: 0,
        failed_steps: Vec::new(),
        problems: Vec::new(),
        errors: Vec::new(),
        kept: Vec::new(),
        lockout: lockout.cloned(),
        snooze: overridden.cloned(),
        budget: Some(budget.to_string()),
        at_ms,
    };
    let mut out = Vec::new();
    if lockout.is_some() {
        out.push(Event {
            detail_type: DetailType::BudgetLockout,
            detail: detail.clone(),
        });
    }
    if overridden.is_some() {
        out.push(Event {
            detail_type: DetailType::SnoozeOverridden,
            detail,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use costctl_core::Selector;
    use costctl_core::plan::Policy;

    fn state() -> StackState {
        StackState {
            desired: DesiredState::Paused,
            generation: 3,
            reason: "nightly".into(),
            ..StackState::new(
                "dev",
                Trigger::Schedule,
                Selector::Tags([("Env".to_string(), "dev".to_string())].into()),
                Policy::default(),
            )
        }
    }

    fn report(state: &str, converged: bool) -> Report {
        let mut r = Report::new("dev", DesiredState::Paused, 3);
        r.state = state.into();
        r.converged = converged;
        r
    }

    #[test]
    fn batches_stay_under_the_request_size_and_the_entry_count() {
        let event = |bytes: usize| Event {
            detail_type: DetailType::TransitionFailed,
            detail: Detail {
                errors: vec!["x".repeat(bytes)],
                ..detail(None, &report("paused", true), &state(), 0.0, 0)
            },
        };
        let small: Vec<Event> = (0..12).map(|_| event(100)).collect();
        assert_eq!(batch_len(&small), MAX_ENTRIES);
        // Three of 100 KB: two fit in 256 KB, the third waits for the next call.
        let big: Vec<Event> = (0..3).map(|_| event(100 * 1024)).collect();
        assert_eq!(batch_len(&big), 2);
        let total: usize = big[..2].iter().map(entry_size).sum();
        assert!(total < MAX_REQUEST_BYTES);
        assert!(!sendable(&event(MAX_REQUEST_BYTES)));
        assert!(sendable(&event(1000)));
        // The size counts Source, DetailType and the Detail JSON, as EventBridge does.
        let e = event(10);
        let detail = serde_json::to_string(&e.detail).unwrap();
        assert_eq!(
            entry_size(&e),
            "costctl".len() + "Stack Transition Failed".len() + detail.len()
        );
    }

    #[test]
    fn a_change_is_announced_once_and_a_repeated_failure_is_not() {
        let running = report("running", true);
        let paused = report("paused", true);
        let d = detail(Some(&running), &paused, &state(), 0.3, 1);
        let events = for_reconcile(Some(&running), &d, &paused);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].detail_type, DetailType::StateChanged);
        assert_eq!((d.from.as_str(), d.to.as_str()), ("running", "paused"));
        // The next tick finds nothing new.
        let d = detail(Some(&paused), &paused, &state(), 0.0, 2);
        assert!(for_reconcile(Some(&paused), &d, &paused).is_empty());

        let mut failed = report("transitioning", false);
        failed.errors.push("acm: certificate not found".into());
        let d = detail(Some(&paused), &failed, &state(), 0.0, 3);
        let kinds: Vec<_> = for_reconcile(Some(&paused), &d, &failed)
            .into_iter()
            .map(|e| e.detail_type)
            .collect();
        assert_eq!(
            kinds,
            [DetailType::StateChanged, DetailType::TransitionFailed]
        );
        let stored = failed.for_storage();
        let d = detail(Some(&stored), &failed, &state(), 0.0, 4);
        assert!(
            for_reconcile(Some(&stored), &d, &failed).is_empty(),
            "the same failure again"
        );
    }

    #[test]
    fn a_kept_resource_is_announced_when_first_kept() {
        let mut paused = report("paused", true);
        paused.notes.push(Note {
            resource: "alb:web".into(),
            message: "kept, not deleted (it keeps costing): mutual TLS".into(),
            kept: true,
        });
        let running = report("running", true);
        let d = detail(Some(&running), &paused, &state(), 0.3, 1);
        let events = for_reconcile(Some(&running), &d, &paused);
        assert_eq!(events.len(), 2);
        assert_eq!(events[1].detail_type, DetailType::ResourceKept);
        assert_eq!(events[1].detail.kept[0].resource, "alb:web");
        let d = detail(Some(&paused), &paused, &state(), 0.1, 2);
        assert!(for_reconcile(Some(&paused), &d, &paused).is_empty());
    }

    /// The examples of docs/events.md are events this module makes: they read back as a
    /// detail type and a [`Detail`], and every detail type is documented.
    #[test]
    fn documented_examples_are_real_events() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/events.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let section = &doc[doc
            .find("## Events costctl publishes")
            .expect("the section")..];
        let mut examples = 0;
        for block in section.split("```json\n").skip(1) {
            let json = &block[..block.find("```").unwrap()];
            let v: serde_json::Value = serde_json::from_str(json).unwrap();
            assert_eq!(v["source"], SOURCE);
            let _: DetailType = serde_json::from_value(v["detail-type"].clone()).unwrap();
            let d: Detail = serde_json::from_value(v["detail"].clone())
                .unwrap_or_else(|e| panic!("{e}: {json}"));
            assert_eq!(serde_json::to_value(&d).unwrap(), v["detail"], "round trip");
            examples += 1;
        }
        assert_eq!(examples, 3);
        for t in DetailType::ALL {
            assert!(section.contains(&format!("`{}`", t.as_str())), "{t:?}");
        }
    }

    #[test]
    fn detail_types_serialise_as_documented() {
        for t in DetailType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
    }
}
