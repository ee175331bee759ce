//! Errors of the AWS layer, split the way a reconciler needs them: transient (try again on the
//! next pass) or permanent (a person must change something).

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Error codes AWS uses for throttling (the SDK's own list, plus the ones the SDK retries as
/// transient): after the SDK's retries are spent these still mean "later", not "never".
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "SlowDown",
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
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudError {
    /// The resource does not exist.
    #[error("{operation} {resource}: not found ({code}: {message})")]
    NotFound {
        operation: &'static str,
        resource: String,
        code: String,
        message: String,
    },
    /// Throttled, timed out or a 5xx after the SDK's own retries: retry on a later pass.
    #[error("{operation} {resource}: temporary failure ({code}: {message})")]
    Transient {
        operation: &'static str,
        resource: String,
        code: String,
        message: String,
    },
    /// AWS refused the request; retrying the same request will not help.
    #[error("{operation} {resource}: {code}: {message}")]
    Rejected {
        operation: &'static str,
        resource: String,
        code: String,
        message: String,
    },
    /// costctl itself refuses (a safety rule, an unusable answer from AWS).
    #[error("{resource}: {message}")]
    Refused { resource: String, message: String },
}

impl CloudError {
    pub fn is_transient(&self) -> bool {
        matches!(self, CloudError::Transient { .. })
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, CloudError::NotFound { .. })
    }

    /// The AWS error code, where AWS gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            CloudError::NotFound { code, .. }
            | CloudError::Transient { code, .. }
            | CloudError::Rejected { code, .. } => Some(code),
            CloudError::Refused { .. } => None,
        }
    }

    /// "No such resource" becomes `Ok(None)`: for lookups where absence is an answer.
    pub fn absent_as_none<T>(self) -> CloudResult<Option<T>> {
        if self.is_not_found() {
            Ok(None)
        } else {
            Err(self)
        }
    }

    pub fn refused(resource: impl Into<String>, message: impl Into<String>) -> Self {
        CloudError::Refused {
            resource: resource.into(),
            message: message.into(),
        }
    }

    /// Classifies an SDK error of `operation` on `resource`.
    pub fn from_sdk<E, R>(
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
                if THROTTLING.contains(&code.as_str()) {
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

pub type CloudResult<T> = Result<T, CloudError>;
