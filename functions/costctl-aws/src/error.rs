//! How an AWS SDK error becomes a [`CloudError`]: throttling and transport trouble are
//! transient, "no such resource" is not found, the rest is a rejection carrying AWS's code and
//! message. The error type itself is the engine's (`costctl_engine::error`); this is the one
//! place that knows the SDK's error shapes.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use costctl_engine::error::THROTTLING_CODES;
pub use costctl_engine::error::{CloudError, CloudResult};

/// Error codes the SDK retries as transient besides throttling
/// ([`costctl_engine::error::THROTTLING_CODES`]): after the SDK's retries are spent these
/// still mean "later", not "never".
const OTHER_TRANSIENT: &[&str] = &[
    "PriorRequestNotComplete",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Codes by which the services say "no such resource".
const NOT_FOUND: &[&str] = &[
    "ResourceNotFoundException",
    "NotFoundException",
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
    "DBSnapshotNotFound",
    "DBSnapshotNotFoundFault",
    "LoadBalancerNotFound",
    "ListenerNotFound",
    "TargetGroupNotFound",
    "CertificateNotFound",
    "ServiceNotFoundException",
    "ServiceNotActiveException",
    "ClusterNotFoundException",
    "ObjectNotFoundException",
    "ParameterNotFound",
    "NoSuchHostedZone",
    "SubnetNotFound",
    "InvalidSubnet",
    "InvalidSecurityGroup",
    "NatGatewayNotFound",
    "InvalidNatGatewayID.NotFound",
    "InvalidVpcEndpointId.NotFound",
];

/// Classifies SDK errors; `CloudError::from_sdk(op, resource, err)` at every call site.
pub trait FromSdk {
    fn from_sdk<E, R>(
        operation: &'static str,
        resource: impl Into<String>,
        err: SdkError<E, R>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static;
}

impl FromSdk for CloudError {
    fn from_sdk<E, R>(
        operation: &'static str,
        resource: impl Into<String>,
        err: SdkError<E, R>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let resource = resource.into();
        match &err {
            SdkError::ServiceError(se) => {
                let e = se.err();
                let code = e.code().unwrap_or("Unknown").to_string();
                let message = e
                    .message()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{e}"));
                if THROTTLING_CODES.contains(&code.as_str())
                    || OTHER_TRANSIENT.contains(&code.as_str())
                {
                    CloudError::Transient {
                        operation,
                        resource,
                        code,
                        message,
                    }
                } else if NOT_FOUND.contains(&code.as_str()) {
                    CloudError::NotFound {
                        operation,
                        resource,
                        code,
                        message,
                    }
                } else if code == "Unknown"
                    || code.starts_with("InternalFailure")
                    || code == "ServiceUnavailable"
                {
                    CloudError::Transient {
                        operation,
                        resource,
                        code,
                        message,
                    }
                } else {
                    CloudError::Rejected {
                        operation,
                        resource,
                        code,
                        message,
                    }
                }
            }
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => CloudError::Transient {
                operation,
                resource,
                code: "Transport".into(),
                message: error_chain(&err),
            },
            _ => CloudError::Rejected {
                operation,
                resource,
                code: "Client".into(),
                message: error_chain(&err),
            },
        }
    }
}

/// The whole `source()` chain: the SDK's top-level messages alone ("dispatch failure") hide
/// the cause a user needs (connection refused, bad endpoint…).
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut cur = err.source();
    while let Some(e) = cur {
        parts.push(e.to_string());
        cur = e.source();
    }
    parts.join(": ")
}
