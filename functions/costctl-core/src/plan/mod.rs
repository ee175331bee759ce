//! The planner: a pure function from (goal, observation, manifest) to an ordered plan.
//!
//! The plan holds every step still needed to reach the goal, including the ones that cannot run
//! yet, each with the steps it must wait for. A step is idempotent: the reconcile loop
//! re-observes and re-plans after every batch, so a step that already took effect simply
//! disappears from the next plan. `Await*` steps are gates: they are never executed, they vanish
//! once the observation shows what they wait for.

use crate::manifest::Manifest;
use crate::observation::Observation;
use crate::spec::EphemeralSpec;
use crate::state::DesiredState;
use serde::{Deserialize, Serialize};

pub use crate::action::{Action, DbGate, KafkaGate, Name};
pub use crate::config::{MskOnPause, NetworkOnPause, Policy, RdsOnPause};

mod network;
mod pause;
mod resume;
mod tier;

/// What the planner is asked to reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Goal {
    pub desired: DesiredState,
    /// Generation of the request; names final snapshots so two hibernations never collide.
    pub generation: u64,
    pub policy: Policy,
}

/// A step of the plan. `after` holds ids of steps of the same plan that must finish first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub id: usize,
    #[serde(flatten)]
    pub action: Action,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<usize>,
}

/// Something the user should know that is not a step (e.g. a safety rule changed the action).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub resource: String,
    pub message: String,
    /// The resource is kept (not deleted) because a resume could not recreate it exactly:
    /// "lossless or kept". Such a note is also published as a `Resource Kept` event.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kept: bool,
}

/// Something that blocks the goal and needs a person (e.g. a missing snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub resource: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// The manifest to persist before any step runs (write-ahead).
    pub manifest: Manifest,
    pub notes: Vec<Note>,
    pub problems: Vec<Problem>,
}

impl Plan {
    /// The goal is reached: nothing to do, nothing to wait for, nothing blocking.
    pub fn is_converged(&self) -> bool {
        self.steps.is_empty() && self.problems.is_empty()
    }

    /// Steps that can run now: not gates, and everything they wait for is in `done`.
    pub fn ready<'a>(&'a self, done: &'a [usize]) -> impl Iterator<Item = &'a Step> + 'a {
        let mut is_done = vec![false; self.steps.len()];
        for &d in done {
            if let Some(slot) = is_done.get_mut(d) {
                *slot = true;
            }
        }
        self.steps.iter().filter(move |s| {
            !s.action.is_gate()
                && !is_done[s.id]
                && s.after
                    .iter()
                    .all(|&d| is_done.get(d).copied().unwrap_or(false))
        })
    }
}

/// Builds the plan. Pure: same inputs, same plan.
pub fn plan(goal: &Goal, obs: &Observation, manifest: &Manifest) -> Plan {
    plan_with(goal, obs, manifest, None)
}

/// Builds the plan for a stack that also has a desired ephemeral-tier spec (given by
/// `apply-spec`). For `running`, the spec's resources are created or brought to the spec; it
/// wins over a spec captured into the manifest. A paused stack only remembers it.
pub fn plan_with(
    goal: &Goal,
    obs: &Observation,
    manifest: &Manifest,
    spec: Option<&EphemeralSpec>,
) -> Plan {
    let mut b = Builder {
        plan: Plan {
            manifest: manifest.clone(),
            ..Plan::default()
        },
    };
    match goal.desired {
        DesiredState::Running => b.resume(goal.generation, obs, spec),
        down => b.pause(goal, down, obs, spec),
    }
    b.plan
}

/// The final snapshot name for a hibernation of `id` under request `generation`.
pub fn final_snapshot_name(id: &str, generation: u64) -> String {
    // RDS snapshot identifiers: letters, digits, hyphens; at most 255 characters. Starting with
    // the instance id lets IAM scope snapshot permissions by the stack naming convention.
    format!("{id}-costctl-g{generation}")
}

struct Builder {
    plan: Plan,
}

impl Builder {
    fn push(&mut self, action: Action, after: Vec<usize>) -> usize {
        let id = self.plan.steps.len();
        self.plan.steps.push(Step { id, action, after });
        id
    }

    /// One dependency standing for all of `deps` (see [`Action::AwaitAll`]).
    fn join(&mut self, deps: Vec<usize>, what: &str) -> Vec<usize> {
        if deps.len() <= 1 {
            return deps;
        }
        vec![self.push(Action::AwaitAll { what: what.into() }, deps)]
    }

    fn note(&mut self, resource: String, message: String) {
        self.plan.notes.push(Note {
            resource,
            message,
            kept: false,
        });
    }

    /// A note that the fidelity rule keeps the resource (see [`Note::kept`]).
    fn kept(&mut self, resource: String, message: String) {
        self.plan.notes.push(Note {
            resource,
            message,
            kept: true,
        });
    }

    fn problem(&mut self, resource: String, message: String) {
        self.plan.problems.push(Problem { resource, message });
    }
}
