//! The costctl Lambda function as a library: [`handler::handle`] over the engine's service, and
//! [`settings`] read from the environment at cold start. `main.rs` wires them to the Lambda
//! runtime with the AWS adapters.

pub mod handler;
pub mod metrics;
pub mod settings;
