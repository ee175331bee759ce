//! What the service answers: one typed value per request, serialised once (the shapes are
//! listed in `docs/events.md`, "Answers"). The simulation and the handler tests match on these
//! instead of reading JSON back by field name.

use crate::SpecResult;
use crate::report::Report;
use crate::store::Lockout;
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
}

impl Answer {
    /// The report inside, where there is one (a transition, a status, a budget alert's).
    pub fn report(&self) -> Option<&Report> {
        match self {
            Answer::Report(r) | Answer::Plan { report: r, .. } => Some(r),
            _ => None,
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
        report: Box<Answer>,
    },
    BelowThresholds {
        budget: String,
        stack: String,
        action: &'static str,
        reason: &'static str,
    },
}
