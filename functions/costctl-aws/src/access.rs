//! Can costctl reach AWS at all? One quick check before a command does anything, so that a
//! missing region, missing or expired credentials and an unreachable endpoint each end in one
//! line naming the cause and the fix, within seconds — instead of the SDK's multi-line chain
//! of every credential provider, or ten retried connection attempts (~15 s) before
//! "connection refused".

use crate::aws::Connection;
use aws_config::SdkConfig;
use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use std::time::Duration;

/// How long the credential chain may take (an unreachable instance metadata service is the
/// slow case: the SDK's own IMDS client tries for about a second per attempt).
pub const CREDENTIALS_TIMEOUT: Duration = Duration::from_secs(3);
/// How long opening the connection to the endpoint may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(1500);
/// How long the one probe request may take in all.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(2500);

/// Why costctl cannot talk to AWS; each message is one line with the fix in it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccessError {
    #[error("no AWS region: pass --region, set AWS_REGION, or set `region` in profile `{profile}`")]
    NoRegion { profile: String },
    #[error("unknown AWS region `{region}`: region names look like eu-west-1 or us-east-1")]
    BadRegion { region: String },
    #[error(
        "no AWS credentials found (looked in: the environment (AWS_ACCESS_KEY_ID), profile `{profile}` in {files}, a web identity token, ECS container credentials, EC2 instance metadata): sign in with `aws sso login --profile NAME` and pass --profile NAME, or export credentials"
    )]
    NoCredentials { profile: String, files: String },
    #[error(
        "the SSO session of profile `{profile}` has expired or was never started: run `aws sso login --profile {profile}`"
    )]
    SsoLogin { profile: String },
    #[error("AWS profile `{profile}` is not defined in {files} (profiles there: {known})")]
    UnknownProfile {
        profile: String,
        files: String,
        known: String,
    },
    #[error("AWS profile `{profile}` cannot be used ({files}): {cause}")]
    Profile {
        profile: String,
        files: String,
        cause: String,
    },
    #[error("could not load AWS credentials from profile `{profile}`: {cause}")]
    Credentials { profile: String, cause: String },
    #[error("cannot reach AWS at {endpoint}: {cause}; {fix}")]
    Unreachable {
        endpoint: String,
        cause: String,
        fix: String,
    },
    #[error("AWS refused the credentials of profile `{profile}` ({code}): {fix}")]
    Rejected {
        profile: String,
        code: String,
        fix: String,
    },
}

/// The profile the SDK reads: `--profile`, else `AWS_PROFILE`, else `default`.
pub fn profile_name(conn: &Connection) -> String {
    conn.profile
        .clone()
        .or_else(|| std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty()))
        .unwrap_or_else(|| "default".into())
}

/// The shared config and credentials files the SDK reads, for messages.
fn profile_files() -> String {
    let file = |var: &str, default: &str| {
        std::env::var(var)
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.into())
    };
    format!(
        "{} and {}",
        file("AWS_CONFIG_FILE", "~/.aws/config"),
        file("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")
    )
}

pub use costctl_core::price::is_region_name;

/// Every message of an error and its sources, joined.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// The innermost message of an error (e.g. "Connection refused (os error 111)").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last = e;
    while let Some(s) = last.source() {
        last = s;
    }
    last.to_string()
}

/// What a failed credential chain means for the person running costctl.
pub fn credentials_error(e: &CredentialsError, profile: &str) -> AccessError {
    let text = chain(e);
    let files = profile_files();
    if text.to_ascii_lowercase().contains("sso") {
        return AccessError::SsoLogin {
            profile: profile.into(),
        };
    }
    match e {
        CredentialsError::CredentialsNotLoaded(_) => AccessError::NoCredentials {
            profile: profile.into(),
            files,
        },
        CredentialsError::InvalidConfiguration(_) => AccessError::Profile {
            profile: profile.into(),
            files,
            cause: root_cause(e),
        },
        _ => AccessError::Credentials {
            profile: profile.into(),
            cause: text,
        },
    }
}

/// Checks region, credentials and the endpoint with one DynamoDB `DescribeTable` of the state
/// table, tried once with short timeouts. Any answer from the service other than a refusal of
/// the credentials means AWS is reachable (a missing table is for the command to report).
pub async fn check_access(
    sdk: &SdkConfig,
    conn: &Connection,
    table: &str,
) -> Result<(), AccessError> {
    let profile = profile_name(conn);
    if (conn.profile.is_some() || std::env::var_os("AWS_PROFILE").is_some())
        && let Some(unknown) = unknown_profile(&profile).await
    {
        return Err(unknown);
    }
    let Some(region) = sdk.region().map(ToString::to_string) else {
        return Err(AccessError::NoRegion { profile });
    };
    if !is_region_name(&region) {
        return Err(AccessError::BadRegion { region });
    }
    let Some(provider) = sdk.credentials_provider() else {
        return Err(AccessError::NoCredentials {
            profile,
            files: profile_files(),
        });
    };
    match tokio::time::timeout(CREDENTIALS_TIMEOUT, provider.provide_credentials()).await {
        Err(_) => {
            return Err(AccessError::Credentials {
                profile,
                cause: format!(
                    "no credential source answered within {} s (is the EC2 instance metadata service, or the SSO portal, reachable?)",
                    CREDENTIALS_TIMEOUT.as_secs()
                ),
            });
        }
        Ok(Err(e)) => return Err(credentials_error(&e, &profile)),
        Ok(Ok(_)) => {}
    }

    let endpoint = conn
        .endpoint_url
        .clone()
        .unwrap_or_else(|| format!("https://dynamodb.{region}.amazonaws.com"));
    let config = aws_sdk_dynamodb::config::Builder::from(sdk)
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_timeout(PROBE_TIMEOUT)
                .build(),
        )
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let fix = if conn.endpoint_url.is_some() {
        "check --endpoint-url (or COSTCTL_ENDPOINT_URL)".to_string()
    } else {
        format!("check the network, a proxy, and that region `{region}` exists")
    };
    let unreachable = |cause: String| AccessError::Unreachable {
        endpoint: endpoint.clone(),
        cause,
        fix: fix.clone(),
    };
    let err = match client.describe_table().table_name(table).send().await {
        Ok(_) => return Ok(()),
        Err(e) => e,
    };
    match &err {
        SdkError::ServiceError(e) => {
            let code = e.err().code().unwrap_or_default().to_string();
            let fix = match code.as_str() {
                "ExpiredTokenException" | "ExpiredToken" => format!(
                    "the session has expired: sign in again (`aws sso login --profile {profile}`) or refresh the exported credentials"
                ),
                "UnrecognizedClientException" | "InvalidClientTokenId" => {
                    "the access key is not known to AWS in this partition: check the exported keys or the profile".into()
                }
                "InvalidSignatureException" | "SignatureDoesNotMatch" => {
                    "the secret key does not match the access key, or the clock is off".into()
                }
                _ => return Ok(()),
            };
            Err(AccessError::Rejected { profile, code, fix })
        }
        SdkError::TimeoutError(_) => Err(unreachable(format!(
            "no answer within {:.1} s",
            PROBE_TIMEOUT.as_secs_f64()
        ))),
        SdkError::DispatchFailure(e) => {
            if e.is_timeout() {
                return Err(unreachable(format!(
                    "no connection within {:.1} s",
                    CONNECT_TIMEOUT.as_secs_f64()
                )));
            }
            if let Some(c) = find_credentials_error(&err) {
                return Err(credentials_error(c, &profile));
            }
            let text = chain(&err);
            let cause = if text.contains("dns error") || text.contains("failed to lookup") {
                format!("the host name does not resolve ({})", root_cause(&err))
            } else {
                root_cause(&err)
            };
            Err(unreachable(cause))
        }
        SdkError::ResponseError(_) => Err(unreachable(format!(
            "the answer is not from AWS ({})",
            root_cause(&err)
        ))),
        _ => Err(unreachable(chain(&err))),
    }
}

/// The error for a named profile the shared files do not define (a typo in `--profile`), or
/// None when it is defined or the files cannot be read (the credential error says more then).
async fn unknown_profile(profile: &str) -> Option<AccessError> {
    let files = aws_runtime::env_config::file::EnvConfigFiles::default();
    let set = aws_config::profile::load(
        &aws_types::os_shim_internal::Fs::real(),
        &aws_types::os_shim_internal::Env::real(),
        &files,
        None,
    )
    .await
    .ok()?;
    if set.get_profile(profile).is_some() {
        return None;
    }
    let mut known: Vec<&str> = set.profiles().collect();
    known.sort_unstable();
    Some(AccessError::UnknownProfile {
        profile: profile.into(),
        files: profile_files(),
        known: if known.is_empty() {
            "none".into()
        } else {
            known.join(", ")
        },
    })
}

/// A credential failure found among an error's sources (the SDK reports one as a dispatch
/// failure of the request that needed the credentials).
fn find_credentials_error<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a CredentialsError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(c) = s.downcast_ref::<CredentialsError>() {
            return Some(c);
        }
        source = s.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names() {
        for ok in [
            "eu-west-1",
            "us-east-1",
            "us-gov-west-1",
            "ap-southeast-5",
            "cn-north-1",
        ] {
            assert!(is_region_name(ok), "{ok}");
        }
        for bad in [
            "eu-west",
            "EU-WEST-1",
            "euwest1",
            "eu-west-x",
            "e-west-1",
            "",
            "eu--1",
        ] {
            assert!(!is_region_name(bad), "{bad}");
        }
    }

    #[test]
    fn credential_failures_say_what_to_do() {
        let none = CredentialsError::not_loaded("no providers in chain provided credentials");
        let e = credentials_error(&none, "dev");
        assert!(matches!(e, AccessError::NoCredentials { .. }), "{e}");
        let text = e.to_string();
        assert!(
            text.contains("profile `dev`")
                && text.contains("instance metadata")
                && !text.contains('\n'),
            "{text}"
        );
        let sso =
            CredentialsError::provider_error("the SSO token has expired and cannot be refreshed");
        assert_eq!(
            credentials_error(&sso, "dev").to_string(),
            "the SSO session of profile `dev` has expired or was never started: run `aws sso login --profile dev`"
        );
        let bad = CredentialsError::invalid_configuration("profile `typo` was not defined");
        let e = credentials_error(&bad, "typo");
        assert!(
            e.to_string().contains("profile `typo` was not defined"),
            "{e}"
        );
    }
}
