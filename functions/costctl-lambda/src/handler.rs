//! The Lambda boundary: a [`LambdaEvent`] in, a typed [`Answer`] or a [`Diagnostic`] out.
//!
//! Everything between is the engine's [`Service`] (decoding with its strict messages, the
//! request policy, the reconcile), so that this function, the command line and the simulation
//! run the same code. A library function over any `Cloud` and `StateStore`: unit tests call it
//! directly with `LambdaEvent::new(payload, context)`, no process and no Runtime API.

use costctl_engine::{Answer, Cloud, Service, ServiceError, StateStore};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::Value;

/// How long an invocation may run when the context carries no deadline (a test's
/// `Context::default()`): the function's maximum timeout.
const NO_DEADLINE_MS: i64 = 900_000;

/// Handles one invocation until its deadline.
pub async fn handle<C: Cloud, S: StateStore>(
    service: &Service<C, S>,
    event: LambdaEvent<Value>,
) -> Result<Answer, Diagnostic> {
    let deadline = match i64::try_from(event.context.deadline) {
        Ok(0) | Err(_) => service.engine().now_ms() + NO_DEADLINE_MS,
        Ok(ms) => ms,
    };
    service
        .handle_event(&event.payload, deadline)
        .await
        .map_err(|e| {
            tracing::warn!(error_type = e.error_type(), error = %e, "request refused or failed");
            diagnostic(&e)
        })
}

/// The Lambda error: its type tells a caller (and a retry policy) a permanent refusal from a
/// failure worth retrying (`ServiceError::error_type`).
pub fn diagnostic(e: &ServiceError) -> Diagnostic {
    Diagnostic {
        error_type: e.error_type().to_string(),
        error_message: e.to_string(),
    }
}
