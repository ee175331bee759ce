//! What the service answers: one typed value per request, serialised once (the shapes are
//! listed in `docs/events.md`, "Answers"). The simulation and the handler tests match on these
//! instead of reading JSON back by field name.

use crate::SpecResult;
use crate::report::Report;
use crate::store::{Lockout, Snooze};
use costctl_core::event::Trigger;
use costctl_core::{DesiredState, Plan};
use serde::Serialize;

/// What an invocation answers, serialised once (`docs/events.md`, "Answers").
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Answer {
    /// What a pause, resume, status or reconcile of one stack reached.
    Report(Box<Report>),
    /// The request was recorded; another invocation holds the stack and carries it out.
    Queued {
        stack: String,
        desired_state: DesiredState,
        generation: u64,
        queued_behind: String,
    },
    /// The reduce-only function recorded a lowering request for the full function's tick.
    Recorded {
        stack: String,
        desired_state: DesiredState,
        recorded: bool,
        carried_out_by: &'static str,
    },
    /// `status` of a configured stack with nothing deployed yet.
    Empty {
        stack: String,
        desired_state: DesiredState,
        state: &'static str,
        converged: bool,
        lockout: Option<Lockout>,
        message: String,
    },
    Plan {
        report: Box<Report>,
        plan: Box<Plan>,
    },
    /// The periodic tick: one entry per stack.
    Tick {
        reconciled: Vec<TickEntry>,
    },
    BudgetAlerts {
        budget_alerts: Vec<BudgetAnswer>,
    },
    /// An event that asked for nothing (an RDS auto-start of a stack meant to run).
    Nothing {
        stack: String,
        instance: String,
        action: &'static str,
        reason: &'static str,
    },
    /// `apply-spec` / `delete-spec` / Terraform's lifecycle.
    Spec(Box<SpecResult>),
    /// A scheduled request that changed nothing: a snooze holds the schedules off, or the
    /// stack's calendar closes the day (for resumes).
    Held {
        stack: String,
        /// What the schedule asked for.
        asked: DesiredState,
        /// "snoozed until … by … (reason)" or "closed by calendar entry `…`".
        skipped: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        snooze: Option<Snooze>,
        #[serde(skip_serializing_if = "Option::is_none")]
        calendar_entry: Option<String>,
    },
    /// `snooze`: the schedules are held until `snoozed_until` (RFC 3339 in the stack's zone).
    Snoozed {
        stack: String,
        snoozed_until: String,
        snooze: Snooze,
        /// The snooze this one replaced, if one held.
        replaced: Option<Snooze>,
    },
    /// `unsnooze`: the snooze that held, if one did.
    Unsnoozed {
        stack: String,
        unsnoozed: bool,
        ended: Option<Snooze>,
    },
}

impl Answer {
    /// The report inside, where there is one (a transition, a status, a budget alert's).
    pub fn report(&self) -> Option<&Report> {
        match self {
            Answer::Report(r) | Answer::Plan { report: r, .. } => Some(r),
            _ => None,
        }
    }

    /// Every stack report inside (a tick has one per stack, a budget alert one per alert),
    /// for the metrics of an invocation.
    pub fn reports(&self) -> Vec<&Report> {
        match self {
            Answer::Report(r) | Answer::Plan { report: r, .. } => vec![r],
            Answer::Tick { reconciled } => reconciled
                .iter()
                .filter_map(|e| match e {
                    TickEntry::Report(r) | TickEntry::WithLowering { report: r, .. } => {
                        Some(r.as_ref())
                    }
                    _ => None,
                })
                .collect(),
            Answer::BudgetAlerts { budget_alerts } => budget_alerts
                .iter()
                .flat_map(|a| match a {
                    BudgetAnswer::Lowered { report, .. } => report.reports(),
                    BudgetAnswer::BelowThresholds { .. } => Vec::new(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// One stack of a tick.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum TickEntry {
    Report(Box<Report>),
    WithLowering {
        reduce_only_requests: Vec<LoweringOutcome>,
        report: Box<Report>,
    },
    Skipped {
        stack: String,
        skipped: String,
    },
    Failed {
        stack: String,
        error: String,
    },
}

/// What the tick did with one item of the reduce-only partition.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum LoweringOutcome {
    Requested {
        item: String,
        requested: DesiredState,
        trigger: Trigger,
    },
    Ignored {
        item: String,
        ignored: String,
    },
}

/// What one budget alert did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum BudgetAnswer {
    Lowered {
        budget: String,
        stack: String,
        level: DesiredState,
        lockout: bool,
        /// The snooze this alert overrode (and ended), if one held: cost control outranks it.
        #[serde(skip_serializing_if = "Option::is_none")]
        snooze_overridden: Option<Snooze>,
        report: Box<Answer>,
    },
    BelowThresholds {
        budget: String,
        stack: String,
        action: &'static str,
        reason: &'static str,
    },
}
