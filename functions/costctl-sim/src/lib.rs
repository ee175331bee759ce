//! costctl-sim: a deterministic simulated AWS for costctl's reconcile engine.
//!
//! - [`clock`]: virtual time and a seeded single-threaded executor (interleavings, crashes);
//! - [`world`]: ECS services, autoscaling, RDS instances and snapshots with realistic durations
//!   and AWS's rules, the state store's items, faults, the trace and the invariants;
//! - [`ephemeral`]: ALBs, MSK Serverless clusters, SSM parameters and alias records, with AWS's
//!   durations and naming rules (ALB names unique, MSK names not);
//! - [`network`]: Elastic IPs, route tables, NAT gateways and interface VPC endpoints, with
//!   EC2's durations, refusals and client tokens;
//! - [`alb`]: the ALB apply's calls (the production diff and loop) applied to the world;
//! - [`cloud`]: [`SimCloud`] (the `Cloud` trait), one handle per invocation;
//! - [`store`]: [`MemStore`] (the `StateStore` trait, DynamoStore's conditional semantics);
//! - [`scenario`]: one seeded scenario of triggers, faults and a convergence check.
//!
//! Test-only: nothing here is linked into a Lambda binary.

pub mod alb;
pub mod caller;
pub mod clock;
pub mod cloud;
pub mod ephemeral;
pub mod network;
pub mod rng;
pub mod scenario;
pub mod store;
pub mod world;

pub use cloud::SimCloud;
pub use scenario::{Outcome, run, run_with, run_without_network};
pub use store::MemStore;
