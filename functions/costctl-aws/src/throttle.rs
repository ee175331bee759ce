//! Counting each service's requests and throttled answers inside the client, for the engine's
//! concurrency windows (`costctl_engine::congestion`).
//!
//! The SDK retries a throttled request itself, so the engine never sees most throttling in a
//! call's result; this interceptor sees every attempt. An answer is throttling when its status
//! is 429, or it is an error whose code (the `x-amzn-ErrorType` header of the JSON protocols,
//! the `<Code>` / `__type` of the body in every protocol) is one of
//! [`THROTTLING_CODES`](costctl_engine::error::THROTTLING_CODES).

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    AfterDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use costctl_engine::congestion::Throttling;
use costctl_engine::error::THROTTLING_CODES;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Counts per service (IAM's name: `ecs`, `rds`, …), shared by every client of one cloud.
#[derive(Debug, Clone, Default)]
pub struct ThrottleMeter {
    counts: Arc<Mutex<BTreeMap<&'static str, Throttling>>>,
}

impl ThrottleMeter {
    /// The interceptor of one service's client.
    pub fn for_service(&self, service: &'static str) -> ServiceMeter {
        ServiceMeter {
            meter: self.clone(),
            service,
        }
    }

    /// Requests and throttled answers of `service` so far.
    pub fn get(&self, service: &str) -> Throttling {
        self.lock().get(service).copied().unwrap_or_default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, Throttling>> {
        // Poisoned only by a panic while counting: the counts stay usable.
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The [`ThrottleMeter`] interceptor of one service's client.
#[derive(Debug, Clone)]
pub struct ServiceMeter {
    meter: ThrottleMeter,
    service: &'static str,
}

/// The response headers that carry an error's code.
pub const ERROR_CODE_HEADERS: [&str; 2] = ["x-amzn-ErrorType", "x-amzn-query-error"];

/// Whether an answer says "too many requests"; `code_headers` are the values of
/// [`ERROR_CODE_HEADERS`] it carries.
pub fn is_throttling(status: u16, code_headers: &[&str], body: &[u8]) -> bool {
    if status == 429 {
        return true;
    }
    if status < 400 {
        return false;
    }
    // `x-amzn-ErrorType: ThrottlingException:http://internal.amazon.com/...`,
    // `x-amzn-query-error: Throttling;Sender`.
    for header in code_headers {
        let code = header.split([':', ';']).next().unwrap_or_default();
        let code = code.rsplit('#').next().unwrap_or(code);
        if THROTTLING_CODES.contains(&code) {
            return true;
        }
    }
    // `<Code>Throttling</Code>` (query and EC2 protocols) or `"__type":"…#ThrottlingException"`
    // (JSON): a whole code between a tag or quote (or a namespace's `#`) and a tag or quote,
    // not a word inside a message.
    THROTTLING_CODES.iter().any(|code| {
        let code = code.as_bytes();
        body.windows(code.len()).enumerate().any(|(i, w)| {
            w == code
                && i > 0
                && matches!(body[i - 1], b'>' | b'"' | b'#')
                && matches!(body.get(i + code.len()), Some(b'<' | b'"'))
        })
    })
}

impl Intercept for ServiceMeter {
    fn name(&self) -> &'static str {
        "costctl.ThrottleMeter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.meter.lock().entry(self.service).or_default().attempts += 1;
        Ok(())
    }

    // After deserialization: the body of a non-streaming answer has been read into memory.
    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response();
        let status = response.status().as_u16();
        let headers: Vec<&str> = ERROR_CODE_HEADERS
            .iter()
            .filter_map(|h| response.headers().get(*h))
            .collect();
        if status >= 400
            && is_throttling(
                status,
                &headers,
                response.body().bytes().unwrap_or_default(),
            )
        {
            self.meter.lock().entry(self.service).or_default().throttled += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttling_is_recognised_in_every_protocol_and_nothing_else_is() {
        // awsJson (ECS, Application Auto Scaling): header and body.
        assert!(is_throttling(
            400,
            &[
                "ThrottlingException:http://internal.amazon.com/coral/com.amazon.coral.availability/"
            ],
            b""
        ));
        assert!(is_throttling(
            400,
            &[],
            br#"{"__type":"com.amazon.coral.availability#ThrottlingException","message":"Rate exceeded"}"#
        ));
        // awsQuery (RDS, ELBv2, CloudWatch) and EC2.
        assert!(is_throttling(
            400,
            &[],
            b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error></ErrorResponse>"
        ));
        assert!(is_throttling(
            503,
            &[],
            b"<Response><Errors><Error><Code>RequestLimitExceeded</Code></Error></Errors></Response>"
        ));
        assert!(is_throttling(429, &[], b""));
        // Query-compatible CBOR (CloudWatch): the header says it; the binary body is not read
        // as text.
        assert!(is_throttling(
            400,
            &["Throttling;Sender"],
            b"\xbf\x66__type\x73ThrottlingException\xff"
        ));
        assert!(!is_throttling(
            400,
            &["ResourceNotFound;Sender"],
            b"\xbf\x66__type\x73ThrottlingException\xff"
        ));
        // Not throttling: another error, a message that only mentions the word, a success.
        assert!(!is_throttling(
            400,
            &[],
            br#"{"__type":"ValidationException","message":"not Throttling"}"#
        ));
        assert!(!is_throttling(
            400,
            &["ClusterNotFoundException:"],
            br#"{"__type":"ClusterNotFoundException","message":"Throttling is not the problem"}"#
        ));
        assert!(!is_throttling(
            400,
            &[],
            b"<Error><Code>InvalidDBInstanceState</Code><Message>ThrottlingException mentioned</Message></Error>"
        ));
        assert!(!is_throttling(200, &[], b"<Code>Throttling</Code>"));
    }
}
