//! costctl-aws: the AWS half of costctl, over the official AWS SDK for Rust.
//!
//! - [`AwsCloud`]: `costctl_engine::Cloud` over the SDK (one module per service: [`ecs`],
//!   [`autoscaling`], [`rds`], [`elbv2`], [`msk`], [`cloudwatch`], [`publish`] for SSM
//!   parameters and Route53 aliases);
//! - [`DynamoStore`]: `costctl_engine::StateStore` in DynamoDB with conditional writes;
//! - [`error::FromSdk`]: the one place SDK errors are classified into `CloudError`;
//! - [`access::check_access`]: one quick probe that turns a missing region, missing or expired
//!   credentials and an unreachable endpoint into one line with the fix;
//! - [`RequestCounter`]: AWS requests per operation, counted inside the SDK client;
//! - [`throttle::ThrottleMeter`]: requests and throttled answers per service, which the
//!   engine's concurrency windows adapt to.
//!
//! The engine itself (reconcile loop, traits, reports) is `costctl-engine`.

pub mod access;
pub mod autoscaling;
pub mod aws;
pub mod cloudwatch;
pub mod dynamo;
pub mod ecs;
pub mod elbv2;
mod elbv2_apply;
mod elbv2_spec;
pub mod error;
pub mod events;
pub mod msk;
pub mod network;
pub mod publish;
pub mod rds;
pub mod requests;
pub mod throttle;
pub mod vpc;

// The engine's modules, under the names the adapters use for them.
use costctl_engine::{alb_apply, cloud, report, store};

pub use access::{AccessError, check_access};
pub use aws::{AwsCloud, Connection, QUIET_SECRETS, load_config, secret_caps};
pub use dynamo::DynamoStore;
pub use error::{CloudError, FromSdk};
pub use requests::{
    RequestCounter, RequestCounts, Span, critical_path, critical_path_line, dependent_round_trips,
};
