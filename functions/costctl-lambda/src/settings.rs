//! Settings from the environment, validated at cold start.
//!
//! | variable | meaning |
//! |---|---|
//! | `COSTCTL_STATE_TABLE` | DynamoDB state table (required) |
//! | `COSTCTL_MODE` | `full` (default) or `reduce-only` |
//! | `COSTCTL_CONFIG` | the configuration JSON (docs/config.md), inline |
//! | `COSTCTL_CONFIG_PARAMETER` | or: the SSM parameter holding it (String or SecureString) |
//! | `COSTCTL_POLL_MS` | wait between observations while only waits remain (default 5000) |
//! | `COSTCTL_CONCURRENCY` | AWS calls in flight at once while acting (1–256, default 16) |
//! | `COSTCTL_ENDPOINT_URL` | endpoint override for every AWS service (tests, emulator) |

use costctl_core::config::Config;
use costctl_engine::Mode;
use costctl_engine::engine::Options;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{0}")]
    Invalid(String),
    #[error("set exactly one of COSTCTL_CONFIG and COSTCTL_CONFIG_PARAMETER")]
    ConfigSource,
    #[error("reading SSM parameter {name}: {message}")]
    Parameter { name: String, message: String },
    #[error("invalid configuration in {source_name}: {error}")]
    Config {
        source_name: String,
        error: costctl_core::config::ConfigError,
    },
}

/// The function's runtime threads by default: 0, the current-thread runtime. The work is
/// waiting on AWS, not computing, and one thread measured less memory than two workers
/// (BENCHMARKS.md, "Memory").
pub const DEFAULT_WORKER_THREADS: usize = 0;

#[derive(Debug, Clone)]
pub struct Settings {
    pub state_table: String,
    pub mode: Mode,
    inline_config: Option<String>,
    config_parameter: Option<String>,
    pub poll_ms: u64,
    pub concurrency: usize,
    /// Tokio worker threads (`COSTCTL_WORKER_THREADS`); 0: the current-thread runtime.
    pub worker_threads: usize,
    /// Stacks a tick reconciles at once (`COSTCTL_TICK_STACKS`).
    pub tick_stacks: usize,
    pub endpoint_url: Option<String>,
    /// The EventBridge bus transition events go to (`COSTCTL_EVENT_BUS`); none: not sent.
    pub event_bus: Option<String>,
    function_name: String,
}

/// Whether `bus` is an EventBridge event bus name (`[/.\-_A-Za-z0-9]{1,256}`) or ARN.
pub fn is_event_bus(bus: &str) -> bool {
    if let Some(rest) = bus.strip_prefix("arn:") {
        return rest.contains(":events:") && rest.contains(":event-bus/");
    }
    (1..=256).contains(&bus.len())
        && bus
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/.-_".contains(&b))
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The whole number `name` holds, within `range`; `default` when unset. A value outside says
/// what was `expected`.
fn count(
    name: &str,
    range: std::ops::RangeInclusive<usize>,
    default: usize,
    expected: &str,
) -> Result<usize, SettingsError> {
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| SettingsError::Invalid(format!("{name}=`{v}`: expected {expected}"))),
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        let state_table =
            var("COSTCTL_STATE_TABLE").ok_or(SettingsError::Missing("COSTCTL_STATE_TABLE"))?;
        let mode = Mode::parse(&var("COSTCTL_MODE").unwrap_or_else(|| "full".into()))
            .map_err(SettingsError::Invalid)?;
        let inline_config = var("COSTCTL_CONFIG");
        let config_parameter = var("COSTCTL_CONFIG_PARAMETER");
        if inline_config.is_some() == config_parameter.is_some() {
            return Err(SettingsError::ConfigSource);
        }
        let poll_ms = match var("COSTCTL_POLL_MS") {
            None => 5000,
            Some(v) => v.parse().map_err(|_| {
                SettingsError::Invalid(format!("COSTCTL_POLL_MS=`{v}`: expected milliseconds"))
            })?,
        };
        let concurrency = count(
            "COSTCTL_CONCURRENCY",
            1..=256,
            Options::default().concurrency,
            "a number of calls from 1 to 256",
        )?;
        let worker_threads = count(
            "COSTCTL_WORKER_THREADS",
            0..=16,
            DEFAULT_WORKER_THREADS,
            "0 (one thread) to 16",
        )?;
        let tick_stacks = count(
            "COSTCTL_TICK_STACKS",
            1..=64,
            Options::default().stacks_at_once,
            "a number of stacks from 1 to 64",
        )?;
        let event_bus = var("COSTCTL_EVENT_BUS");
        if let Some(bus) = &event_bus
            && !is_event_bus(bus)
        {
            return Err(SettingsError::Invalid(format!(
                "COSTCTL_EVENT_BUS=`{bus}`: expected an EventBridge event bus name (letters, digits, . - _ /) or ARN"
            )));
        }
        Ok(Settings {
            state_table,
            event_bus,
            mode,
            inline_config,
            config_parameter,
            poll_ms,
            concurrency,
            worker_threads,
            tick_stacks,
            endpoint_url: var("COSTCTL_ENDPOINT_URL"),
            function_name: var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "costctl".into()),
        })
    }

    pub async fn load_config(&self, sdk: &aws_config::SdkConfig) -> Result<Config, SettingsError> {
        let (raw, source_name) = match (&self.inline_config, &self.config_parameter) {
            (Some(raw), _) => (raw.clone(), "COSTCTL_CONFIG".to_string()),
            (None, Some(name)) => {
                let out = aws_sdk_ssm::Client::new(sdk)
                    .get_parameter()
                    .name(name)
                    .with_decryption(true)
                    .send()
                    .await
                    .map_err(|e| SettingsError::Parameter {
                        name: name.clone(),
                        message: <costctl_aws::CloudError as costctl_aws::FromSdk>::from_sdk(
                            "ssm:GetParameter",
                            name.clone(),
                            e,
                        )
                        .to_string(),
                    })?;
                let value = out
                    .parameter()
                    .and_then(|p| p.value())
                    .unwrap_or_default()
                    .to_string();
                (value, format!("SSM parameter {name}"))
            }
            (None, None) => return Err(SettingsError::ConfigSource),
        };
        Config::from_json(&raw).map_err(|error| SettingsError::Config { source_name, error })
    }

    pub fn engine_options(&self) -> Options {
        Options {
            owner: format!("lambda-{}-{}", self.function_name, std::process::id()),
            poll_interval: Duration::from_millis(self.poll_ms),
            concurrency: self.concurrency,
            stacks_at_once: self.tick_stacks,
            ..Options::default()
        }
    }
}
