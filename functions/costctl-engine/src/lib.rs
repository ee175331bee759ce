//! costctl-engine: the reconcile engine, with no AWS SDK in it.
//!
//! - [`Cloud`]: the trait the reconcile loop acts through (the AWS adapters in `costctl-aws`
//!   and the simulated cloud in `costctl-sim` implement it), with [`CloudError`] classified
//!   transient or permanent by the adapter;
//! - [`congestion`]: the concurrency windows that narrow per AWS service under throttling;
//! - [`StateStore`]: desired state, generation, lease, manifest and history per stack
//!   (`costctl-aws` keeps them in DynamoDB, the simulation in memory), with typed
//!   [`StoreError`]s;
//! - [`observe`]: one observation of a stack through a [`Cloud`];
//! - [`alb_apply::apply_alb`]: the one ALB apply loop (pure diff, fenced calls) both clouds run;
//! - [`Engine`]: observe → plan → execute → persist → report, with [`Report`] as its answer;
//! - [`events`]: the transition events a reconcile publishes (pure), sent by the engine;
//! - [`policy`]: the request policy (budget routing and lockouts, escalation, RDS auto-start
//!   ownership, the reduce-only partition), pure;
//! - [`Service`]: one decoded request in, one typed [`Answer`] out — the Lambda handler's
//!   logic, run by the simulation's scenarios too.
//!
//! The simulation depends on this crate and not on `costctl-aws`, so that every seed runs the
//! production reconcile without building the SDK.

pub mod alb_apply;
pub mod answer;
pub mod cloud;
pub mod congestion;
pub mod engine;
pub mod error;
pub mod events;
pub mod observe;
pub mod policy;
pub mod report;
pub mod service;
pub mod snooze;
pub mod store;

pub use cloud::Cloud;
pub use engine::{Engine, EngineError, Options, RequestSpec, SpecResult, Transition};
pub use error::{CloudError, CloudResult};
pub use report::Report;
pub use service::{Answer, Mode, Service, ServiceError};
pub use store::{StateStore, StoreError};
