//! No credential and no database password ever appears in what costctl writes: the function's
//! logs, its answers, and what it stores (reports, history). The function logs at `trace` (more
//! than any deployment would) with distinctive fake credentials, against the emulator, through a
//! full hibernate / status / budget alert / resume cycle; every byte it produced is searched for
//! them and for the demo database's master password.

use costctl_engine::StateStore;
use costctl_tests::Emulator;
use costctl_tests::runtime_api::RuntimeApi;
use costctl_tests::stack::{self, StackSpec};
use serde_json::Value;
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

const T: Duration = Duration::from_secs(60);
const ACCESS_KEY_ID: &str = "AKIACANARY7Q4X2ZK9WE";
const SECRET_ACCESS_KEY: &str = "canary-secret-5f0c9d2b7e4a1c8f3b6d9e2a";
const SESSION_TOKEN: &str = "canary-session-token-8b1e7c4d2f9a";
/// The master password `costctl_tests::stack` gives every demo database.
const DB_PASSWORD: &str = "not-a-real-password";
const SECRETS: [&str; 4] = [ACCESS_KEY_ID, SECRET_ACCESS_KEY, SESSION_TOKEN, DB_PASSWORD];

fn fixture(name: &str) -> Value {
    let path = costctl_tests::repo_root()
        .join("functions/costctl-core/tests/fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn assert_clean(what: &str, text: &str) {
    for secret in SECRETS {
        if let Some(line) = text.lines().find(|l| l.contains(secret)) {
            panic!("{what} contains the secret `{secret}`: {line}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credential_or_password_in_logs_answers_or_state() {
    let emu = Emulator::start().await.unwrap();
    let sdk = emu.sdk_config().await;
    let _demo = stack::build(&sdk, &StackSpec::new("order-tracking", 1, 2, 1))
        .await
        .unwrap();
    let store = costctl_aws::DynamoStore::new(&sdk, "costctl-state");
    store.create_table().await.unwrap();
    let api = RuntimeApi::start().await.unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_bootstrap"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", &api.addr)
        .env("AWS_LAMBDA_FUNCTION_NAME", "costctl-full")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/costctl")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env("AWS_SESSION_TOKEN", SESSION_TOKEN)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("COSTCTL_ENDPOINT_URL", &emu.endpoint)
        .env("COSTCTL_STATE_TABLE", "costctl-state")
        .env("COSTCTL_MODE", "full")
        .env("COSTCTL_CONFIG", fixture("config-example.json").to_string())
        .env("COSTCTL_POLL_MS", "50")
        .env("RUST_LOG", "trace")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("bootstrap starts");
    // Drain both pipes while the function runs (debug logs are long).
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let stdout = tokio::spawn(async move {
        let mut s = Vec::new();
        out.read_to_end(&mut s).await.ok();
        s
    });
    let stderr = tokio::spawn(async move {
        let mut s = Vec::new();
        err.read_to_end(&mut s).await.ok();
        s
    });

    let mut answers = String::new();
    for name in [
        "manual-status.json",
        "manual-pause-hibernate.json",
        "manual-status.json",
        "sns-budget-actual.json",
        "manual-plan.json",
        "manual-resume-force.json",
        "schedule-reconcile.json",
        "reject-unknown-action.json",
    ] {
        let outcome = api.invoke(fixture(name), T).await.unwrap();
        answers.push_str(&format!("{name}: {outcome:?}\n"));
    }
    assert!(answers.contains("hibernated"), "{answers}");
    child.kill().await.unwrap();
    let stdout = String::from_utf8_lossy(&stdout.await.unwrap()).to_string();
    let logs = format!(
        "{stdout}{}",
        String::from_utf8_lossy(&stderr.await.unwrap())
    );
    assert!(logs.contains("\"step\""), "the logs show the steps: {logs}");
    // Metrics in the Embedded Metric Format: one line per stack report, the hibernation's with
    // its duration (EMF lines are checked against the specification in costctl_lambda::metrics).
    let emf: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|l| l.contains("\"_aws\":"))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(emf.len() >= 5, "{} EMF lines", emf.len());
    assert!(
        emf.iter().all(|m| m["Stack"] == "order-tracking-dev"
            && m["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "costctl"
            && m["Function"] == "costctl-full"),
        "{emf:?}"
    );
    assert!(
        emf.iter()
            .any(|m| m["State"] == "hibernated" && m["TransitionSeconds"].as_f64().is_some()),
        "{emf:?}"
    );

    // Each invocation's `aws requests` line carries its dependent round trips: one at least
    // when it called AWS (a refused action calls nothing), never more than its calls.
    let requests: Vec<serde_json::Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["message"] == "aws requests")
        .collect();
    assert!(
        requests.len() >= 5,
        "{} `aws requests` lines",
        requests.len()
    );
    for r in &requests {
        let (trips, calls) = (
            r["fields"]["round_trips"].as_u64().unwrap_or(0),
            r["fields"]["calls"].as_u64().unwrap_or(0),
        );
        assert!(trips <= calls && (trips == 0) == (calls == 0), "{r}");
    }
    assert!(
        requests
            .iter()
            .any(|r| r["fields"]["round_trips"].as_u64() < r["fields"]["calls"].as_u64()),
        "some invocation ran calls side by side: {requests:?}"
    );
    assert_clean("the function's logs", &logs);
    assert_clean("the function's answers", &answers);
    let state = store.load("order-tracking-dev").await.unwrap().unwrap();
    let history = store.history("order-tracking-dev", 100).await.unwrap();
    assert!(!history.is_empty());
    assert_clean(
        "the state store",
        &format!(
            "{}{}",
            serde_json::to_string(&state).unwrap(),
            serde_json::to_string(&history).unwrap()
        ),
    );
}
