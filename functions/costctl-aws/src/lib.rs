//! costctl-aws: the I/O half of costctl.
//!
//! - [`Cloud`]: the trait the reconcile loop acts through; [`AwsCloud`] implements it over the
//!   AWS SDK (one module per service: [`ecs`], [`autoscaling`], [`rds`], [`elbv2`], [`msk`],
//!   [`publish`] for SSM parameters and Route53 aliases);
//! - [`StateStore`]: desired state, generation, lease, manifest and history per stack;
//!   [`DynamoStore`] keeps them in DynamoDB with conditional writes;
//! - [`alb_apply::apply_alb`]: the one ALB apply loop (pure diff, fenced calls) both clouds run;
//! - [`Engine`]: observe → plan → execute → persist → report;
//! - [`RequestCounter`]: AWS requests per operation, counted inside the SDK client.

pub mod alb_apply;
pub mod autoscaling;
pub mod aws;
pub mod cloud;
pub mod cloudwatch;
pub mod dynamo;
pub mod ecs;
pub mod elbv2;
mod elbv2_apply;
mod elbv2_spec;
pub mod engine;
pub mod error;
pub mod msk;
pub mod network;
pub mod observe;
pub mod publish;
pub mod rds;
pub mod report;
pub mod requests;
pub mod store;

pub use aws::{AwsCloud, Connection, QUIET_SECRETS, load_config, secret_caps};
pub use cloud::Cloud;
pub use engine::{Engine, EngineError, Options, RequestSpec, SpecResult};
pub use error::CloudError;
pub use report::Report;
pub use requests::{RequestCounter, RequestCounts};
pub use store::{DynamoStore, StateStore, StoreError};
