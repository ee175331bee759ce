//! Errors of a cloud adapter, split the way a reconciler needs them: transient (try again on the
//! next pass) or permanent (a person must change something). Each adapter classifies its
//! service's errors into these (`costctl-aws`: the `FromSdk` trait); the engine reads only the
//! class.

/// Error codes by which AWS services say "too many requests" (the SDK's own list of
/// throttling errors): transient, and a reason to send fewer at once.
pub const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "SlowDown",
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
    /// AWS asked for fewer requests (a [`THROTTLING_CODES`] code), even after the SDK's
    /// retries: evidence for the concurrency windows.
    pub fn is_throttling(&self) -> bool {
        matches!(self, CloudError::Transient { code, .. } if THROTTLING_CODES.contains(&code.as_str()))
    }

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
}

pub type CloudResult<T> = Result<T, CloudError>;
