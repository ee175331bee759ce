//! costctl-core: the pure half of costctl.
//!
//! Nothing here talks to AWS or needs an async runtime. It holds the vocabulary shared by the
//! adapters, the Lambda functions and the command line:
//!
//! - [`DesiredState`]: the power level a stack is asked to reach;
//! - [`Observation`]: what the adapters saw;
//! - [`Manifest`]: what must be remembered to undo a pause (written ahead of destructive calls);
//! - [`plan()`]: the pure planner producing a [`Plan`] of idempotent [`Step`]s;
//! - [`cost`]: the estimated hourly cost of what was observed;
//! - [`iam`]: the IAM action each AWS call needs.

pub mod cost;
pub mod iam;
pub mod manifest;
pub mod observation;
pub mod plan;
pub mod selector;
pub mod state;

pub use manifest::Manifest;
pub use observation::Observation;
pub use plan::{Action, Goal, Plan, Policy, Step, plan};
pub use selector::Selector;
pub use state::DesiredState;
