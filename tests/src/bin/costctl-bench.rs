//! costctl-bench: pause and resume of reference stacks through the built Lambda `bootstrap`
//! (a fresh process per invocation, so every figure includes a cold start), against the
//! emulator with injected latency and throttling. See BENCHMARKS.md; `scripts/bench` builds the
//! release binaries and runs this.
//!
//! For every size (N services over K clusters, each with an autoscaling target; M RDS
//! instances; one ALB with HTTP and HTTPS listeners and rules; one MSK Serverless cluster) and
//! every throttle fraction, it measures per invocation: time from process start to the end of
//! init and to the response, the reconcile's own time, peak RSS (VmHWM of the still-running
//! process after it answered), and requests per AWS operation as counted inside the SDK client
//! (the function logs them), cross-checked against the emulator's own count. It verifies that a
//! pause paused everything and that a resume gave back exactly what was there.

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use costctl_tests::runtime_api::{Outcome, RuntimeApi};
use costctl_tests::stack::{self, DemoStack, Ephemeral, StackSpec};
use costctl_tests::{Emulator, EmulatorOptions, requests_between, start_with_stack};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};

#[derive(Debug, Parser)]
#[command(about = "Benchmarks costctl's Lambda function on reference stacks (see BENCHMARKS.md)")]
struct Args {
    /// The Lambda bootstrap binary to measure (a release build of costctl-lambda).
    #[arg(long)]
    bootstrap: PathBuf,
    /// Stack sizes as N,K,M: N ECS services over K clusters, M RDS instances.
    #[arg(long = "size", value_parser = parse_size, num_args = 1.., default_values = ["10,1,2", "50,2,5", "200,4,10", "1000,10,20"])]
    sizes: Vec<Size>,
    /// Latency the emulator adds to every AWS request, in milliseconds.
    #[arg(long, default_value_t = 50)]
    latency_ms: u64,
    /// Fractions of AWS requests the emulator throttles; every size runs once per fraction.
    #[arg(long = "throttle", num_args = 1.., default_values = ["0", "0.3"])]
    throttles: Vec<f64>,
    /// The invocation's time budget (Lambda timeout), in seconds.
    #[arg(long, default_value_t = 60)]
    budget_s: u64,
    /// Seed of the emulator's throttling.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Instead of one stack per size, this many stacks of each size, paused and then resumed
    /// by one `reconcile` tick each (the requests recorded beforehand, as a schedule would).
    #[arg(long, default_value_t = 0)]
    tick_stacks: usize,
    /// COSTCTL_CONCURRENCY of the function (AWS calls in flight); unset: its default.
    #[arg(long)]
    concurrency: Option<usize>,
    /// Also write every measurement as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct Size {
    services: usize,
    clusters: usize,
    databases: usize,
}

fn parse_size(s: &str) -> Result<Size, String> {
    let parts: Vec<usize> = s
        .split(',')
        .map(|p| p.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("`{s}`: {e} (expected N,K,M)"))?;
    match parts[..] {
        [services, clusters, databases] if clusters > 0 && services >= clusters => Ok(Size {
            services,
            clusters,
            databases,
        }),
        [_, _, _] => Err(format!(
            "`{s}`: need at least one cluster and one service per cluster"
        )),
        _ => Err(format!("`{s}`: expected N,K,M")),
    }
}

/// One invocation of the function, measured.
#[derive(Debug, Clone, Serialize)]
struct Measurement {
    size: Size,
    latency_ms: u64,
    throttle: f64,
    event: &'static str,
    /// Stacks the invocation acted on (a tick reconciles every configured stack).
    stacks: usize,
    /// Process start → first `/invocation/next` (runtime init, configuration, SDK clients).
    init_ms: f64,
    /// Process start → response through the runtime API.
    response_ms: f64,
    /// The reconcile's own elapsed time as the report gives it (pause/resume only).
    reconcile_ms: Option<u64>,
    converged: Option<bool>,
    passes: Option<u64>,
    peak_rss_kib: u64,
    /// Resident memory after the invocation: anonymous (heap, stacks) and file-backed (the
    /// binary's pages it touched), KiB.
    rss_anon_kib: u64,
    rss_file_kib: u64,
    /// Requests per `Service.Operation`, counted by the function's SDK interceptor.
    client: BTreeMap<String, Value>,
    /// The longest chain of calls each waiting for the previous one's answer (the function's
    /// `round_trips`: `costctl_aws::dependent_round_trips`).
    round_trips: u64,
    /// That chain, operation by operation (the function's `critical_path`).
    critical_path: String,
    calls: u64,
    attempts: u64,
    retries: u64,
    writes: u64,
    reads: u64,
    state_store: u64,
    /// Requests and throttled requests as the emulator counted them.
    emulator_requests: u64,
    emulator_throttled: u64,
    /// CPU time the emulator spent answering (moto is single-threaded behind Python's GIL,
    /// so this part of the wall time is the emulator's, not costctl's).
    emulator_cpu_ms: f64,
    /// `2N + M + 2 + ceil(N/10) + 10`, the request target of a pause or resume (issue 17):
    /// one write per service and per scalable target (every bench service is autoscaled), one
    /// per database, the ALB and the MSK cluster; a describe per ten services; ten more reads.
    target: u64,
    verified: String,
}

const STACK: &str = "bench";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    ensure!(
        args.bootstrap.is_file(),
        "no bootstrap binary at {} (scripts/bench builds it)",
        args.bootstrap.display()
    );
    for t in &args.throttles {
        ensure!((0.0..1.0).contains(t), "--throttle {t}: must be in [0, 1)");
    }
    let mut all = Vec::new();
    for size in &args.sizes {
        for (i, &throttle) in args.throttles.iter().enumerate() {
            let runs = if args.tick_stacks > 0 {
                bench_tick(&args, *size, throttle).await
            } else {
                bench_one(&args, *size, throttle, i == 0).await
            }
            .with_context(|| format!("size {size:?}, throttle {throttle}"))?;
            for m in &runs {
                eprintln!("{}", row(m));
                eprintln!("  critical path ({}): {}", m.round_trips, m.critical_path);
                eprintln!(
                    "  memory after: {:.1} MiB anonymous, {:.1} MiB file",
                    m.rss_anon_kib as f64 / 1024.0,
                    m.rss_file_kib as f64 / 1024.0
                );
            }
            all.extend(runs);
        }
    }
    println!("{}", table(&all));
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&all)?)?;
    }
    let wrong: Vec<&str> = all
        .iter()
        .filter(|m| m.verified.starts_with("WRONG"))
        .map(|m| m.event)
        .collect();
    ensure!(wrong.is_empty(), "not done or not exact: {wrong:?}");
    Ok(())
}

async fn bench_one(
    args: &Args,
    size: Size,
    throttle: f64,
    with_status: bool,
) -> Result<Vec<Measurement>> {
    let spec = StackSpec {
        autoscale_every: 1,
        ..StackSpec::new("bench", size.clusters, size.services, size.databases)
    };
    let built = Instant::now();
    let (emu, sdk, demo) = start_with_stack(
        EmulatorOptions {
            seed: args.seed,
            ..EmulatorOptions::default()
        },
        &spec,
    )
    .await?;
    let eph = stack::build_ephemeral(&sdk, &demo).await?;
    let before = demo.picture(&sdk).await?;
    eprintln!(
        "emulator up, {} services / {} clusters / {} databases + ALB + MSK built in {:.1} s",
        size.services,
        size.clusters,
        size.databases,
        built.elapsed().as_secs_f64()
    );
    let config = json!({
        "stacks": { STACK: {
            "tags": { "Project": spec.project, "Env": "dev" },
            "policy": { "msk_on_pause": "delete", "rds_on_pause": "stop" }
        }}
    })
    .to_string();
    let budget = Duration::from_secs(args.budget_s);
    let mut out = Vec::new();

    if with_status {
        // The cold start proper: no injected latency, so what is measured is the function.
        emu.configure(json!({"latency_ms": 0, "throttle_fraction": 0}))
            .await?;
        let mut m = invoke(
            args,
            &emu,
            &config,
            json!({"action": "status", "stack": STACK}),
            budget,
        )
        .await?;
        m.verified = "status answered".into();
        out.push(m.finish(size, 0, 0.0, "status (0 ms)"));
    }

    // Latency and throttling only while the function runs: the checks around it read the
    // emulator directly and must not be throttled.
    let under_load = |action: &'static str, seed: u64| {
        let (emu, config) = (&emu, &config);
        async move {
            emu.configure(
                json!({"latency_ms": args.latency_ms, "throttle_fraction": throttle, "seed": seed}),
            )
            .await?;
            let event = json!({"action": action, "stack": STACK, "trigger": "schedule"});
            let measured = invoke(args, emu, config, event, budget).await;
            emu.configure(json!({"latency_ms": 0, "throttle_fraction": 0}))
                .await?;
            measured
        }
    };
    let mut pause = under_load("pause", args.seed).await?;
    pause.verified = verify_paused(&sdk, &demo, &eph).await;
    out.push(pause.finish(size, args.latency_ms, throttle, "pause"));

    let mut resume = under_load("resume", args.seed + 1).await?;
    resume.verified = verify_restored(&sdk, &demo, &eph, &before).await?;
    out.push(resume.finish(size, args.latency_ms, throttle, "resume"));
    for m in &out {
        if m.event != "status (0 ms)" && m.converged != Some(true) {
            bail!(
                "{} of {size:?} did not converge within one invocation",
                m.event
            );
        }
        if !m.verified.starts_with("status")
            && m.verified != "paused"
            && m.verified != "restored exactly"
        {
            bail!("{} of {size:?} was wrong: {}", m.event, m.verified);
        }
    }
    Ok(out)
}

/// "restored exactly" when every count, bound and database is as `before` and the ALB and the
/// MSK cluster exist again; otherwise what differs.
async fn verify_restored(
    sdk: &aws_config::SdkConfig,
    demo: &DemoStack,
    eph: &Ephemeral,
    before: &stack::Picture,
) -> Result<String> {
    let after = demo.picture(sdk).await?;
    Ok(if after != *before {
        format!("RESTORED DIFFERENTLY: before {before:?} after {after:?}")
    } else {
        match stack::ephemeral_present(sdk, eph).await {
            Ok((true, true)) => "restored exactly".into(),
            Ok(present) => format!("ALB/MSK present after resume: {present:?}"),
            Err(e) => format!("could not check: {e}"),
        }
    })
}

async fn verify_paused(sdk: &aws_config::SdkConfig, demo: &DemoStack, eph: &Ephemeral) -> String {
    let picture = match demo.picture(sdk).await {
        Ok(p) => p,
        Err(e) => return format!("could not check: {e}"),
    };
    if let Some((k, v)) = picture.desired.iter().find(|(_, v)| **v != 0) {
        return format!("service {k} still has desired count {v}");
    }
    if let Some((k, v)) = picture.bounds.iter().find(|(_, v)| **v != (0, 0)) {
        return format!("scalable target {k} still has bounds {v:?}");
    }
    if let Some((k, v)) = picture
        .databases
        .iter()
        .find(|(_, d)| d.status != "stopped")
    {
        return format!("database {k} is {}", v.status);
    }
    match stack::ephemeral_present(sdk, eph).await {
        Ok((false, false)) => "paused".into(),
        Ok(present) => format!("ALB/MSK present after pause: {present:?}"),
        Err(e) => format!("could not check: {e}"),
    }
}

/// `tick_stacks` stacks of `size`, each built like the single-stack bench's, all configured
/// in one function: a pause request is recorded for every stack (no latency, as a schedule's
/// reduce-only function or an earlier invocation would have), then one `reconcile` tick under
/// latency and throttling must pause them all; then the same for resume, which must give each
/// stack back exactly.
async fn bench_tick(args: &Args, size: Size, throttle: f64) -> Result<Vec<Measurement>> {
    use costctl_core::DesiredState;
    use costctl_core::event::Trigger;
    let n = args.tick_stacks;
    let built = Instant::now();
    let spec = |i: usize| StackSpec {
        autoscale_every: 1,
        ..StackSpec::new(
            &format!("bench{i}"),
            size.clusters,
            size.services,
            size.databases,
        )
    };
    let (emu, sdk, first) = start_with_stack(
        EmulatorOptions {
            seed: args.seed,
            ..EmulatorOptions::default()
        },
        &spec(0),
    )
    .await?;
    let mut stacks = vec![first];
    for i in 1..n {
        stacks.push(stack::build(&sdk, &spec(i)).await?);
    }
    let mut ephemeral = Vec::new();
    let mut before = Vec::new();
    for demo in &stacks {
        ephemeral.push(stack::build_ephemeral(&sdk, demo).await?);
        before.push(demo.picture(&sdk).await?);
    }
    eprintln!(
        "emulator up, {n} stacks of {} services / {} clusters / {} databases + ALB + MSK built in {:.1} s",
        size.services,
        size.clusters,
        size.databases,
        built.elapsed().as_secs_f64()
    );
    let name = |i: usize| format!("bench-{i}");
    let config: serde_json::Map<String, Value> = (0..n)
        .map(|i| {
            (
                name(i),
                json!({
                    "tags": { "Project": format!("bench{i}"), "Env": "dev" },
                    "policy": { "msk_on_pause": "delete", "rds_on_pause": "stop" }
                }),
            )
        })
        .collect();
    let config = json!({ "stacks": config }).to_string();
    let engine = costctl_engine::Engine::new(
        costctl_aws::AwsCloud::new(&sdk),
        costctl_aws::DynamoStore::new(&sdk, costctl_tests::STATE_TABLE),
        costctl_engine::engine::Options::default(),
    );
    let budget = Duration::from_secs(args.budget_s);
    let mut out = Vec::new();
    for (event, desired) in [
        ("tick: pause", DesiredState::Paused),
        ("tick: resume", DesiredState::Running),
    ] {
        for (i, demo) in stacks.iter().enumerate() {
            let selector = costctl_core::Selector::from_tag_args(&demo.spec.tag_args())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            engine
                .request(
                    &name(i),
                    costctl_engine::RequestSpec {
                        selector: Some(selector),
                        ..costctl_engine::RequestSpec::new(desired, Trigger::Schedule)
                    },
                )
                .await
                .map_err(|e| anyhow::anyhow!("recording the request of {}: {e}", name(i)))?;
        }
        emu.configure(
            json!({"latency_ms": args.latency_ms, "throttle_fraction": throttle, "seed": args.seed}),
        )
        .await?;
        let measured = invoke(args, &emu, &config, json!({"action": "reconcile"}), budget).await;
        emu.configure(json!({"latency_ms": 0, "throttle_fraction": 0}))
            .await?;
        let mut m = measured?;
        let entries = m.response["reconciled"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let converged = entries
            .iter()
            .filter(|e| e["converged"].as_bool() == Some(true))
            .count();
        let mut wrong = Vec::new();
        for (i, demo) in stacks.iter().enumerate() {
            let verdict = if desired == DesiredState::Paused {
                verify_paused(&sdk, demo, &ephemeral[i]).await
            } else {
                verify_restored(&sdk, demo, &ephemeral[i], &before[i]).await?
            };
            if verdict != "paused" && verdict != "restored exactly" {
                wrong.push(format!("{}: {verdict}", name(i)));
            }
        }
        m.verified = if wrong.is_empty() {
            format!(
                "{converged} of {n} converged, all {}",
                if desired == DesiredState::Paused {
                    "paused"
                } else {
                    "restored exactly"
                }
            )
        } else {
            format!("WRONG: {}", wrong.join("; "))
        };
        let ok = wrong.is_empty() && converged == n && entries.len() == n;
        let mut measurement = m.finish(size, args.latency_ms, throttle, event);
        measurement.stacks = n;
        measurement.converged = Some(ok);
        // The tick's own time is the invocation's: it answers once every stack is done.
        measurement.reconcile_ms = None;
        let unfinished: Vec<String> = entries
            .iter()
            .filter(|e| e["converged"].as_bool() != Some(true))
            .map(|e| {
                let report = if e["report"].is_object() {
                    &e["report"]
                } else {
                    e
                };
                format!(
                    "{} state {} passes {} elapsed {} ms errors {} skipped {} error {}",
                    report["stack"],
                    report["state"],
                    report["passes"],
                    report["elapsed_ms"],
                    report["errors"],
                    e["skipped"],
                    e["error"]
                )
            })
            .collect();
        if !ok {
            // Recorded, shown in the table, and the run fails once every figure is printed.
            eprintln!(
                "{event} of {n} stacks ({} entries, answered in {:.0} ms): {}\nnot converged: {}",
                entries.len(),
                measurement.response_ms,
                measurement.verified,
                unfinished.join("\n  ")
            );
            if !measurement.verified.starts_with("WRONG") {
                measurement.verified = format!("WRONG: {}", measurement.verified);
            }
        }
        out.push(measurement);
    }
    Ok(out)
}

/// Raw figures of one invocation, before the bench's labels are attached.
struct Invocation {
    init_ms: f64,
    response_ms: f64,
    response: Value,
    peak_rss_kib: u64,
    rss_anon_kib: u64,
    rss_file_kib: u64,
    client: BTreeMap<String, Value>,
    round_trips: u64,
    critical_path: String,
    emulator: BTreeMap<String, u64>,
    emulator_throttled: u64,
    emulator_cpu_ms: f64,
    verified: String,
}

impl Invocation {
    fn finish(
        self,
        size: Size,
        latency_ms: u64,
        throttle: f64,
        event: &'static str,
    ) -> Measurement {
        let count = |v: &Value, k: &str| v[k].as_u64().unwrap_or(0);
        let (mut calls, mut attempts, mut writes, mut reads, mut state_store) = (0, 0, 0, 0, 0);
        for (op, c) in &self.client {
            calls += count(c, "calls");
            attempts += count(c, "attempts");
            let name = op.rsplit('.').next().unwrap_or(op);
            if op.starts_with("DynamoDB.") {
                state_store += count(c, "calls");
            } else if ["Describe", "List", "Get"]
                .iter()
                .any(|p| name.starts_with(p))
            {
                reads += count(c, "calls");
            } else {
                writes += count(c, "calls");
            }
        }
        let n = size.services as u64;
        Measurement {
            size,
            latency_ms,
            throttle,
            event,
            stacks: 1,
            init_ms: self.init_ms,
            response_ms: self.response_ms,
            reconcile_ms: self.response["elapsed_ms"].as_u64(),
            converged: self.response["converged"].as_bool(),
            passes: self.response["passes"].as_u64(),
            peak_rss_kib: self.peak_rss_kib,
            rss_anon_kib: self.rss_anon_kib,
            rss_file_kib: self.rss_file_kib,
            client: self.client,
            round_trips: self.round_trips,
            critical_path: self.critical_path,
            calls,
            attempts,
            retries: attempts.saturating_sub(calls),
            writes,
            reads,
            state_store,
            emulator_requests: self.emulator.values().sum(),
            emulator_throttled: self.emulator_throttled,
            emulator_cpu_ms: self.emulator_cpu_ms,
            target: 2 * n + size.databases as u64 + 2 + n.div_ceil(10) + 10,
            verified: self.verified,
        }
    }
}

/// Starts a fresh `bootstrap` process, hands it one event through the runtime API, and
/// measures it. The function's per-invocation "aws requests" log line carries the client-side
/// counts; they must agree with the emulator's.
async fn invoke(
    args: &Args,
    emu: &Emulator,
    config: &str,
    event: Value,
    budget: Duration,
) -> Result<Invocation> {
    let api = RuntimeApi::start().await?;
    let mut cmd = api.function_command(&args.bootstrap, &emu.endpoint, "full", config);
    if let Some(n) = args.concurrency {
        cmd.env("COSTCTL_CONCURRENCY", n.to_string());
    }
    // The function's own settings a comparison may vary, passed through when set.
    for name in ["COSTCTL_WORKER_THREADS", "COSTCTL_TICK_STACKS"] {
        if let Some(v) = std::env::var_os(name) {
            cmd.env(name, v);
        }
    }
    let echo = std::env::var_os("COSTCTL_BENCH_ECHO_LOGS").is_some();
    cmd.env(
        "RUST_LOG",
        std::env::var("COSTCTL_BENCH_RUST_LOG").unwrap_or_else(|_| "info".into()),
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    let stats_before = emu.stats().await?;
    let started = Instant::now();
    let mut child = cmd.spawn().context("starting the bootstrap")?;
    let pid = child.id().context("bootstrap pid")?;
    let stdout = child.stdout.take().context("bootstrap stdout")?;
    let logs = tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        let mut found = None;
        while let Ok(Some(line)) = lines.next_line().await {
            if echo {
                eprintln!("{line}");
            }
            let Ok(v) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if v["fields"]["message"] == "aws requests" {
                let round_trips = v["fields"]["round_trips"].as_u64().unwrap_or(0);
                let path = v["fields"]["critical_path"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                found = v["fields"]["requests"]
                    .as_str()
                    .and_then(|s| serde_json::from_str::<BTreeMap<String, Value>>(s).ok())
                    .map(|r| (r, round_trips, path));
            }
        }
        found
    });
    let outcome = api.invoke(event, budget).await?;
    let response_ms = started.elapsed().as_secs_f64() * 1e3;
    // The process is still alive, polling for its next invocation: its high-water mark now is
    // the peak of the whole cold start and invocation.
    let (peak_rss_kib, rss_anon_kib, rss_file_kib) = peak_rss_kib(pid)?;
    let init_ms = api
        .first_poll()
        .map_or(f64::NAN, |t| (t - started).as_secs_f64() * 1e3);
    // Give the log line (written after the response is sent) a moment, then stop the process.
    tokio::time::sleep(Duration::from_millis(200)).await;
    child.kill().await?;
    let (client, round_trips, critical_path) = logs
        .await?
        .context("the function logged no `aws requests` line")?;
    let stats_after = emu.stats().await?;
    let emulator = requests_between(&stats_before, &stats_after);
    let emulator_throttled: u64 = after_minus_before(&stats_before, &stats_after, "throttled");
    let emulator_cpu_ms = stats_after["cpu_ms"].as_f64().unwrap_or(0.0)
        - stats_before["cpu_ms"].as_f64().unwrap_or(0.0);
    let response = match outcome {
        Outcome::Response(v) => v,
        other => bail!("the function failed: {other:?}"),
    };
    cross_check(&client, &emulator)?;
    Ok(Invocation {
        init_ms,
        response_ms,
        response,
        peak_rss_kib,
        rss_anon_kib,
        rss_file_kib,
        client,
        round_trips,
        critical_path,
        emulator,
        emulator_throttled,
        emulator_cpu_ms,
        verified: String::new(),
    })
}

fn after_minus_before(before: &Value, after: &Value, key: &str) -> u64 {
    let sum = |v: &Value| -> u64 {
        v[key]
            .as_object()
            .map_or(0, |m| m.values().filter_map(Value::as_u64).sum())
    };
    sum(after).saturating_sub(sum(before))
}

/// The SDK interceptor's attempts per operation must equal what the emulator received for the
/// same action: the two counts are made independently, on either side of the wire.
fn cross_check(client: &BTreeMap<String, Value>, emulator: &BTreeMap<String, u64>) -> Result<()> {
    let mut by_action: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (op, c) in client {
        let action = op.rsplit('.').next().unwrap_or(op);
        by_action.entry(action).or_default().0 += c["attempts"].as_u64().unwrap_or(0);
    }
    for (key, n) in emulator {
        let action = key.rsplit(':').next().unwrap_or(key);
        by_action.entry(action).or_default().1 += n;
    }
    let differ: Vec<String> = by_action
        .iter()
        .filter(|(_, (c, e))| c != e)
        .map(|(a, (c, e))| format!("{a}: client {c}, emulator {e}"))
        .collect();
    ensure!(
        differ.is_empty(),
        "client and emulator counts differ: {}",
        differ.join("; ")
    );
    Ok(())
}

/// Peak resident set size of a running process (`VmHWM`), in KiB.
/// The process's peak RSS, and where its memory is now: `(VmHWM, RssAnon, RssFile)` in KiB.
/// Heap and stacks are anonymous; the binary's code and data pages it has touched are file
/// pages (they count in Lambda's memory too).
fn peak_rss_kib(pid: u32) -> Result<(u64, u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .context("reading /proc/<pid>/status (Linux only)")?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .with_context(|| format!("no {name} in /proc/<pid>/status"))
    };
    Ok((field("VmHWM:")?, field("RssAnon:")?, field("RssFile:")?))
}

fn row(m: &Measurement) -> String {
    format!(
        "| {}{},{},{} | {} ms | {:.0}% | {} | {:.1} | {:.0} | {} | {:.0} | {} | {:.1} | {} | {} | {} | {} | {} | {} | {} | {} |",
        if m.stacks > 1 {
            format!("{} × ", m.stacks)
        } else {
            String::new()
        },
        m.size.services,
        m.size.clusters,
        m.size.databases,
        m.latency_ms,
        m.throttle * 100.0,
        m.event,
        m.init_ms,
        m.response_ms,
        m.reconcile_ms.map_or("-".into(), |v| v.to_string()),
        m.emulator_cpu_ms,
        m.passes.map_or("-".into(), |v| v.to_string()),
        m.peak_rss_kib as f64 / 1024.0,
        m.round_trips,
        m.calls,
        m.writes,
        m.reads,
        m.state_store,
        m.retries,
        if m.event == "pause" || m.event == "resume" {
            m.target.to_string()
        } else {
            "-".into()
        },
        m.verified,
    )
}

fn table(all: &[Measurement]) -> String {
    let mut s = String::from(
        "| N,K,M | latency | throttled | event | init ms | response ms | reconcile ms | emulator CPU ms | passes | peak RSS MiB | dependent round trips | calls | writes | reads | state store | retries | request target | check |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for m in all {
        s.push_str(&row(m));
        s.push('\n');
    }
    s
}
