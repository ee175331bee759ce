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
//!
//! It also decodes everything that comes in from outside into types the rest of the program can
//! trust, rejecting bad input with an error that names the field and value:
//! - [`event::Request`]: every Lambda payload (schedules, manual invokes, SNS budget alerts, the
//!   RDS auto-start event, Terraform's `aws_lambda_invocation`);
//! - [`config::Config`]: stacks, resource selectors, pause policy, budget rules;
//! - [`budget::BudgetAlert`] and [`budget::evaluate`]: the AWS Budgets letter and its policy;
//! - [`spec::EphemeralSpec`]: the ALB / MSK Serverless spec of the ephemeral tier.
//!
//! [`alb::alb_calls`] is the ALB apply as a pure diff: the calls both clouds execute.

pub mod action;
pub mod alb;
pub mod budget;
pub mod calendar;
pub mod config;
pub mod cost;
pub mod ephemeral;
pub mod event;
pub mod exclude;
pub mod iam;
pub mod manifest;
pub mod network;
pub mod observation;
pub mod plan;
pub mod price;
pub mod restore;
pub mod savings;
pub mod schedule;
pub mod selector;
pub mod spec;
pub mod state;
pub mod trigger;

pub use manifest::Manifest;
pub use observation::Observation;
pub use plan::{Action, Goal, Plan, Policy, Step, plan, plan_with};
pub use selector::Selector;
pub use state::DesiredState;
