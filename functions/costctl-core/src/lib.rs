//! costctl-core: the pure half of costctl.
//!
//! Nothing here talks to AWS or needs an async runtime. It holds the vocabulary shared by the
//! adapters, the Lambda functions and the command line: [`DesiredState`], and the table of IAM
//! actions each AWS call needs ([`iam`]).

pub mod budget;
pub mod config;
pub mod event;
pub mod iam;
pub mod spec;
pub mod state;

pub use state::DesiredState;
