//! Test harness: the AWS API emulator (moto with the project's patches, `tests/emulator/`) on
//! 127.0.0.1, SDK configuration pointing at it, and builders for demo stacks.
//!
//! Each [`Emulator`] is its own server process on a free port, so tests run in parallel without
//! sharing state; it exits when the handle is dropped (its stdin closes).

pub mod events;
pub mod runtime_api;
pub mod stack;

use anyhow::{Context, Result, bail};
use aws_config::{BehaviorVersion, Region, SdkConfig};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

/// The repository root (this crate lives in `tests/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// A running emulator.
pub struct Emulator {
    pub port: u16,
    pub endpoint: String,
    child: Child,
}

/// Options of the emulator launcher.
#[derive(Debug, Clone, Default)]
pub struct EmulatorOptions {
    pub latency_ms: u64,
    pub throttle_fraction: f64,
    pub seed: u64,
    pub msk_create_seconds: u64,
}

impl Emulator {
    pub async fn start() -> Result<Self> {
        Self::start_with(EmulatorOptions::default()).await
    }

    pub async fn start_with(opts: EmulatorOptions) -> Result<Self> {
        let python = std::env::var("COSTCTL_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = repo_root().join("tests/emulator/costctl_emulator.py");
        let mut child = Command::new(&python)
            .arg(&script)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .args(["--latency-ms", &opts.latency_ms.to_string()])
            .args(["--throttle-fraction", &opts.throttle_fraction.to_string()])
            .args(["--seed", &opts.seed.to_string()])
            .args(["--msk-create-seconds", &opts.msk_create_seconds.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {python} {}", script.display()))?;
        let stdout = child.stdout.take().context("emulator stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .context("emulator did not report ready within 60 s")??
            .context("emulator exited before it was ready (is moto installed? pip install -r tests/emulator/requirements.txt)")?;
        let port: u16 = line
            .strip_prefix("COSTCTL_EMULATOR_READY port=")
            .with_context(|| format!("unexpected emulator output: {line}"))?
            .trim()
            .parse()?;
        Ok(Emulator {
            port,
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
        })
    }

    /// SDK configuration for this emulator: fixed region, dummy credentials, endpoint override.
    pub async fn sdk_config(&self) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_sdk_ecs::config::Credentials::new(
                "testing", "testing", None, None, "emulator",
            ))
            .endpoint_url(&self.endpoint)
            .load()
            .await
    }

    /// Requests per `service:Action` seen by the emulator.
    pub async fn stats(&self) -> Result<serde_json::Value> {
        self.control("GET", "/_costctl/stats", "").await
    }

    pub async fn reset_stats(&self) -> Result<()> {
        self.control("POST", "/_costctl/reset-stats", "")
            .await
            .map(|_| ())
    }

    /// Changes latency / throttling at run time.
    pub async fn configure(&self, body: serde_json::Value) -> Result<()> {
        self.control("POST", "/_costctl/config", &body.to_string())
            .await
            .map(|_| ())
    }

    /// A tiny HTTP/1.0 client for the emulator's control endpoints (loopback only).
    async fn control(&self, method: &str, path: &str, body: &str) -> Result<serde_json::Value> {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        let req = format!(
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(req.as_bytes()).await?;
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await?;
        let (head, payload) = raw
            .split_once("\r\n\r\n")
            .context("malformed control response")?;
        if !head.starts_with("HTTP/1.0 200") && !head.starts_with("HTTP/1.1 200") {
            bail!("{method} {path}: {head}");
        }
        if payload.trim().is_empty() {
            return Ok(serde_json::Value::Null);
        }
        Ok(serde_json::from_str(payload)?)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// The state table the tests, the demo and the benchmark use.
pub const STATE_TABLE: &str = "costctl-state";

/// An emulator with `spec`'s demo stack built and the state table created: where most tests
/// start.
pub async fn start_with_stack(
    opts: EmulatorOptions,
    spec: &stack::StackSpec,
) -> Result<(Emulator, SdkConfig, stack::DemoStack)> {
    let emu = Emulator::start_with(opts).await?;
    let sdk = emu.sdk_config().await;
    let demo = stack::build(&sdk, spec)
        .await
        .context("building the demo stack")?;
    costctl_aws::DynamoStore::new(&sdk, STATE_TABLE)
        .create_table()
        .await
        .context("creating the state table")?;
    Ok((emu, sdk, demo))
}

/// Sums request counts per action from two stats snapshots (`after - before`).
pub fn requests_between(
    before: &serde_json::Value,
    after: &serde_json::Value,
) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    if let Some(map) = after["requests"].as_object() {
        for (k, v) in map {
            let b = before["requests"][k].as_u64().unwrap_or(0);
            let d = v.as_u64().unwrap_or(0).saturating_sub(b);
            if d > 0 {
                out.insert(k.clone(), d);
            }
        }
    }
    out
}
