//! The `costctl` binary end to end against the emulator: what an engineer types.

use costctl_tests::Emulator;
use costctl_tests::stack::{self, StackSpec};
use std::process::Output;

/// Distinctive fake credentials and the demo databases' master password: no output of any
/// command in these tests may contain them (checked by [`Cli::run`] on every run).
const ACCESS_KEY_ID: &str = "AKIACLICANARY3Z8Q5W";
const SECRET_ACCESS_KEY: &str = "cli-canary-secret-2c7e9a4f1b";
const DB_PASSWORD: &str = "not-a-real-password";

struct Cli<'a> {
    emu: &'a Emulator,
    table: &'a str,
}

impl Cli<'_> {
    async fn run(&self, args: &[&str]) -> Output {
        self.run_logged(args, Some("trace")).await
    }

    /// At the default log level (no `COSTCTL_LOG`): what a user sees.
    async fn run_default(&self, args: &[&str]) -> Output {
        self.run_logged(args, None).await
    }

    async fn run_logged(&self, args: &[&str], log: Option<&str>) -> Output {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_costctl"));
        match log {
            Some(level) => command.env("COSTCTL_LOG", level),
            None => command.env_remove("COSTCTL_LOG"),
        };
        let out = command
            .args([
                "--endpoint-url",
                &self.emu.endpoint,
                "--region",
                "us-east-1",
                "--state-table",
                self.table,
            ])
            .args(args)
            .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
            .env_remove("AWS_PROFILE")
            .env("COSTCTL_POLL_MS", "50")
            .output()
            .await
            .expect("costctl runs");
        let all = text(&out);
        for secret in [ACCESS_KEY_ID, SECRET_ACCESS_KEY, DB_PASSWORD] {
            if let Some(line) = all.lines().find(|l| l.contains(secret)) {
                panic!(
                    "`costctl {}` printed the secret `{secret}`: {line}",
                    args.join(" ")
                );
            }
        }
        out
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_pause_status_resume_history_with_tags() {
    let emu = Emulator::start().await.unwrap();
    let sdk = emu.sdk_config().await;
    let demo = stack::build(&sdk, &StackSpec::new("cli", 1, 3, 1))
        .await
        .unwrap();
    let before = demo.picture(&sdk).await.unwrap();
    let cli = Cli {
        emu: &emu,
        table: "costctl-state",
    };

    let o = cli.run(&["init"]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("created state table costctl-state"));
    let o = cli.run(&["init"]).await;
    assert!(text(&o).contains("already exists"));

    let o = cli
        .run(&[
            "plan",
            "paused",
            "--stack",
            "cli-dev",
            "--tag",
            "Project=cli",
            "--tag",
            "Env=dev",
        ])
        .await;
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("set desired count of cli-c0/cli-svc000 to 0"),
        "{out}"
    );
    assert!(out.contains("stop RDS instance cli-db0"), "{out}");
    assert_eq!(
        demo.picture(&sdk).await.unwrap(),
        before,
        "plan changes nothing"
    );

    let o = cli
        .run(&[
            "pause",
            "--stack",
            "cli-dev",
            "--tag",
            "Project=cli",
            "--tag",
            "Env=dev",
        ])
        .await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("reached paused"), "{}", text(&o));

    // Later commands find the stack by name alone.
    let o = cli
        .run(&["--output", "json", "status", "--stack", "cli-dev"])
        .await;
    assert!(o.status.success(), "{}", text(&o));
    let status: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(status["state"], "paused");
    assert_eq!(status["desired_state"], "paused");
    assert!(
        status["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["state"].as_str().unwrap().contains("resumes at"))
    );
    // Structured fields per resource: nothing to parse out of the sentence.
    let resources = status["resources"].as_array().unwrap();
    let svc = resources
        .iter()
        .find(|r| r["id"] == "cli-c0/cli-svc000")
        .unwrap_or_else(|| panic!("{status}"));
    assert_eq!(svc["kind"], "ecs");
    assert_eq!(svc["status"], "scaled-to-zero");
    assert_eq!(svc["desired"], 0);
    assert_eq!(svc["running"], 0);
    assert_eq!(svc["cost_per_hour"], 0.0);
    let before_count = before.desired["cli-c0/cli-svc000"];
    assert_eq!(svc["resumes_to"], before_count, "{svc}");
    let db = resources
        .iter()
        .find(|r| r["id"] == "cli-db0")
        .unwrap_or_else(|| panic!("{status}"));
    assert_eq!(
        (db["kind"].as_str(), db["status"].as_str()),
        (Some("rds"), Some("stopped"))
    );

    let o = cli.run(&["resume", "--stack", "cli-dev"]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(demo.picture(&sdk).await.unwrap(), before);

    let o = cli.run(&["history", "--stack", "cli-dev"]).await;
    assert!(o.status.success());
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(stdout.lines().count(), 4, "{stdout}");

    // The savings ledger: the pause and the resume each recorded a point.
    let o = cli
        .run(&["--output", "json", "savings", "--stack", "cli-dev"])
        .await;
    assert!(o.status.success(), "{}", text(&o));
    let saved: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let month = saved["month"].as_str().unwrap().to_string();
    assert_eq!(month.len(), 7, "{saved}");
    assert!(
        saved["savings"]["hours"]["paused"].as_f64().unwrap() > 0.0,
        "{saved}"
    );
    assert!(
        saved["savings"]["hours"]["running"].as_f64().unwrap() >= 0.0,
        "{saved}"
    );
    assert!(saved["savings"]["saved"].as_f64().unwrap() > 0.0, "{saved}");
    assert!(
        saved["savings"]["covered_from_ms"].as_i64().is_some(),
        "the ledger began today: {saved}"
    );
    assert_eq!(
        saved["savings"]["days"].as_array().unwrap().len(),
        1,
        "{saved}"
    );
    assert_eq!(saved["prices"]["region"], "us-east-1");
    assert!(
        saved["prices"]["source"]
            .as_str()
            .unwrap()
            .contains("us-east-1")
    );
    let o = cli.run_default(&["savings", "--stack", "cli-dev"]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stderr), "");
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(out.starts_with(&format!("cli-dev: {month} (UTC)")), "{out}");
    assert!(
        out.contains("ledger from ") && out.contains("\nsaved "),
        "{out}"
    );
    assert_eq!(out.lines().filter(|l| l.contains('│')).count(), 1, "{out}");
    assert!(out.lines().all(|l| l.chars().count() <= 80), "{out}");
    let o = cli
        .run_default(&["savings", "--stack", "cli-dev", "--month", "2020-01"])
        .await;
    assert!(
        text(&o).contains("no ledger for this period"),
        "{}",
        text(&o)
    );
    for (args, needle) in [
        (
            &["savings", "--stack", "cli-dev", "--month", "2026-13"][..],
            "invalid month `2026-13`: expected YYYY-MM",
        ),
        (
            &["savings", "--stack", "no-such-stack"],
            "stack `no-such-stack` is not in the state store",
        ),
    ] {
        let o = cli.run_default(args).await;
        assert!(!o.status.success(), "{args:?}");
        assert!(text(&o).contains(needle), "{args:?}: {}", text(&o));
    }
    // Status shows the month so far, in text and JSON.
    let o = cli.run_default(&["status", "--stack", "cli-dev"]).await;
    assert!(text(&o).contains("saved this month: "), "{}", text(&o));
    let o = cli
        .run_default(&["--output", "json", "status", "--stack", "cli-dev"])
        .await;
    let status: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        status["savings_month_to_date"]["saved"].as_f64().unwrap() > 0.0,
        "{status}"
    );

    // At the default level a command that succeeds prints nothing on stderr (before, the
    // credential caps raised the SDK to debug: about 130 lines per command).
    for args in [
        &["init"][..],
        &["status", "--stack", "cli-dev"],
        &["--output", "json", "status", "--stack", "cli-dev"],
        &["plan", "paused", "--stack", "cli-dev"],
        &["history", "--stack", "cli-dev"],
        &["--output", "json", "savings", "--stack", "cli-dev"],
        &["savings", "--stack", "cli-dev"],
        &["pause", "--stack", "cli-dev"],
        &["resume", "--stack", "cli-dev"],
    ] {
        let o = cli.run_default(args).await;
        assert!(o.status.success(), "{args:?}: {}", text(&o));
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            "",
            "`costctl {}` printed on stderr",
            args.join(" ")
        );
    }

    // Snooze: set, shown in status (text and JSON) and history, ended by unsnooze.
    let o = cli
        .run_default(&[
            "snooze", "--stack", "cli-dev", "--for", "2h", "--reason", "demo",
        ])
        .await;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stderr), "");
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        out.contains("schedules snoozed until") && out.contains("(demo)"),
        "{out}"
    );
    let o = cli.run_default(&["status", "--stack", "cli-dev"]).await;
    assert!(text(&o).contains("schedules snoozed until"), "{}", text(&o));
    let o = cli
        .run_default(&["--output", "json", "status", "--stack", "cli-dev"])
        .await;
    let status: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(status["snooze"]["reason"], "demo", "{status}");
    let o = cli
        .run_default(&["history", "--stack", "cli-dev", "--limit", "1"])
        .await;
    assert!(
        text(&o).contains("snooze") && text(&o).contains("demo"),
        "{}",
        text(&o)
    );
    for (args, needle) in [
        (
            &["snooze", "--stack", "cli-dev", "--until", "25:00"][..],
            "cannot read the time `25:00`",
        ),
        (
            &["snooze", "--stack", "cli-dev", "--for", "8d"],
            "longer than this stack allows",
        ),
        (
            &[
                "snooze",
                "--stack",
                "cli-dev",
                "--until",
                "2020-01-01T00:00:00Z",
            ],
            "not in the future",
        ),
        (
            &["snooze", "--stack", "cli-dev", "--for", "3x"],
            "cannot read the duration `3x`",
        ),
        (&["snooze", "--stack", "cli-dev"], "--until"),
    ] {
        let o = cli.run_default(args).await;
        assert!(!o.status.success(), "{args:?}");
        assert!(text(&o).contains(needle), "{args:?}: {}", text(&o));
    }
    let o = cli
        .run_default(&["--output", "json", "unsnooze", "--stack", "cli-dev"])
        .await;
    let ended: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(ended["unsnoozed"], true, "{ended}");
    assert_eq!(
        ended["ended"]["reason"], "demo",
        "the 2 h snooze, untouched by the refusals"
    );
    let o = cli.run_default(&["status", "--stack", "cli-dev"]).await;
    assert!(!text(&o).contains("snoozed"), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misuse_gets_clear_errors_and_changes_nothing() {
    let emu = Emulator::start().await.unwrap();
    let sdk = emu.sdk_config().await;
    let demo = stack::build(&sdk, &StackSpec::new("mis", 1, 2, 1))
        .await
        .unwrap();
    let before = demo.picture(&sdk).await.unwrap();
    let cli = Cli {
        emu: &emu,
        table: "costctl-state",
    };

    // Missing state table.
    let o = cli
        .run(&["pause", "--stack", "mis", "--tag", "Project=mis"])
        .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("state table `costctl-state` does not exist"),
        "{}",
        text(&o)
    );

    cli.run(&["init"]).await;
    // Invalid tag syntax.
    let o = cli
        .run(&["pause", "--stack", "mis", "--tag", "Project"])
        .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("invalid tag `Project`"), "{}", text(&o));
    // Tags matching nothing.
    let o = cli
        .run(&["pause", "--stack", "mis", "--tag", "Project=nothing"])
        .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("match no ECS service or RDS instance"),
        "{}",
        text(&o)
    );
    // Unknown stack without a selector.
    let o = cli.run(&["resume", "--stack", "never-seen"]).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("stack `never-seen` is not in the state store"),
        "{}",
        text(&o)
    );
    // Unknown state and unknown command are usage errors.
    let o = cli.run(&["plan", "asleep", "--stack", "mis"]).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("unknown state `asleep`"), "{}", text(&o));
    let o = cli.run(&["explode"]).await;
    assert_eq!(o.status.code(), Some(2));
    // A config file with a typo names the field.
    let bad = std::env::temp_dir().join(format!("costctl-bad-config-{}.json", std::process::id()));
    std::fs::write(
        &bad,
        r#"{"stacks": {"mis": {"tags": {"Project": "mis"}, "polcy": {}}}}"#,
    )
    .unwrap();
    let o = cli
        .run(&["--config", bad.to_str().unwrap(), "pause", "--stack", "mis"])
        .await;
    std::fs::remove_file(&bad).ok();
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("polcy"), "{}", text(&o));
    // A missing config file is named.
    let o = cli
        .run(&[
            "--config",
            "/nonexistent/costctl.json",
            "pause",
            "--stack",
            "mis",
        ])
        .await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("reading /nonexistent/costctl.json"),
        "{}",
        text(&o)
    );
    // A stack the config file does not define is named, with the ones it does.
    let cfg = std::env::temp_dir().join(format!("costctl-cfg-{}.json", std::process::id()));
    std::fs::write(&cfg, r#"{"stacks": {"mis": {"tags": {"Project": "mis"}}}}"#).unwrap();
    let o = cli
        .run(&[
            "--config",
            cfg.to_str().unwrap(),
            "pause",
            "--stack",
            "other",
        ])
        .await;
    std::fs::remove_file(&cfg).ok();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("unknown stack `other`") && text(&o).contains("mis"),
        "{}",
        text(&o)
    );
    // A command without its stack, and a forced pause, are usage errors.
    let o = cli.run(&["pause"]).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("--stack"), "{}", text(&o));
    let o = cli.run(&["pause", "--stack", "mis", "--force"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));

    assert_eq!(demo.picture(&sdk).await.unwrap(), before);
}

/// A service carrying `costctl:exclude=true` keeps its desired count through a pause and a
/// resume while its neighbours go to 0 and back; `plan` names it as excluded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_excluded_service_keeps_its_count_through_pause_and_resume() {
    let emu = Emulator::start().await.unwrap();
    let sdk = emu.sdk_config().await;
    let demo = stack::build(&sdk, &StackSpec::new("excl", 1, 3, 0))
        .await
        .unwrap();
    let (cluster, excluded) = demo.services[1].clone();
    stack::tag_service(&sdk, &cluster, &excluded, "costctl:exclude", "true")
        .await
        .unwrap();
    let before = demo.picture(&sdk).await.unwrap();
    let key = format!("{cluster}/{excluded}");
    assert!(before.desired[&key] > 0);
    let cli = Cli {
        emu: &emu,
        table: "costctl-state",
    };
    assert!(cli.run(&["init"]).await.status.success());
    let tags = ["--tag", "Project=excl", "--tag", "Env=dev"];
    let o = cli
        .run_default(&[&["plan", "paused", "--stack", "excl-dev"][..], &tags].concat())
        .await;
    assert!(o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains(&format!("ecs:{key}")) && out.contains("costctl:exclude=true"),
        "{out}"
    );
    assert!(
        !out.contains(&format!("set desired count of {key}")),
        "{out}"
    );

    let o = cli
        .run_default(&[&["pause", "--stack", "excl-dev"][..], &tags].concat())
        .await;
    assert!(o.status.success(), "{}", text(&o));
    let paused = demo.picture(&sdk).await.unwrap();
    for (k, d) in &paused.desired {
        if *k == key {
            assert_eq!(*d, before.desired[k], "the excluded service is untouched");
        } else {
            assert_eq!(*d, 0, "{k} is paused");
        }
    }
    let o = cli.run_default(&["resume", "--stack", "excl-dev"]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(demo.picture(&sdk).await.unwrap(), before);
}

/// `costctl` with nothing of this machine's AWS setup: an empty environment, a home and
/// config files of its own, and instance metadata pointed at a closed port on 127.0.0.1 (so
/// the credential chain never leaves this machine).
fn bare_costctl(home: &std::path::Path, closed: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_costctl"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", closed);
    command
}

/// A port on 127.0.0.1 nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_problems_end_in_one_line_with_the_fix_within_seconds() {
    let emu = Emulator::start().await.unwrap();
    let home = std::env::temp_dir().join(format!("costctl-access-{}", std::process::id()));
    std::fs::create_dir_all(home.join(".aws/sso/cache")).unwrap();
    // A profile with keys, one signed in through IAM Identity Center whose cached token has
    // expired (the file `aws sso login` writes, named by the SHA-1 of the session name).
    std::fs::write(
        home.join("config"),
        format!(
            "[profile dev]\nregion = us-east-1\naws_access_key_id = {ACCESS_KEY_ID}\naws_secret_access_key = {SECRET_ACCESS_KEY}\n\n\
             [profile sso-dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Developer\nregion = eu-west-1\n\n\
             [sso-session corp]\nsso_start_url = https://example.awsapps.com/start\nsso_region = eu-west-1\n"
        ),
    )
    .unwrap();
    // SHA-1("corp"): aws-config names the cache file of SSO session `corp` so.
    std::fs::write(
        home.join(".aws/sso/cache/ee0bfd2552fbd840c02cc48b6e823320543c450f.json"),
        r#"{"accessToken":"expired","expiresAt":"2026-01-01T00:00:00Z","region":"eu-west-1","startUrl":"https://example.awsapps.com/start"}"#,
    )
    .unwrap();
    let imds = format!("http://127.0.0.1:{}", closed_port());
    let unreachable = format!("http://127.0.0.1:{}", closed_port());

    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["--region", "us-east-1", "--endpoint-url", &emu.endpoint],
            "no AWS credentials found (looked in: the environment",
        ),
        (
            vec!["--profile", "sso-dev", "--endpoint-url", &emu.endpoint],
            "run `aws sso login --profile sso-dev`",
        ),
        (
            vec!["--profile", "dev", "--endpoint-url", &unreachable],
            "cannot reach AWS at http://127.0.0.1:",
        ),
        (
            vec!["--profile", "dev", "--region", "eu-west"],
            "unknown AWS region `eu-west`",
        ),
        (
            vec!["--profile", "dve", "--endpoint-url", &emu.endpoint],
            "AWS profile `dve` is not defined in",
        ),
    ];
    for (args, needle) in cases {
        let started = std::time::Instant::now();
        let o = bare_costctl(&home, &imds)
            .args(&args)
            .args(["status", "--stack", "demo"])
            .output()
            .await
            .unwrap();
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(o.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
        assert!(o.stdout.is_empty(), "{args:?}");
        assert!(
            took < std::time::Duration::from_secs(5),
            "{args:?} took {took:?}"
        );
        assert!(!stderr.contains(SECRET_ACCESS_KEY) && !stderr.contains(ACCESS_KEY_ID));
    }

    // --profile selects the profile of AWS_CONFIG_FILE: its region and keys reach the emulator.
    let o = bare_costctl(&home, &imds)
        .args(["--profile", "dev", "--endpoint-url", &emu.endpoint, "init"])
        .output()
        .await
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stderr), "");
    assert!(
        text(&o).contains("created state table costctl-state"),
        "{}",
        text(&o)
    );
    // -v shows costctl's own progress; -vv never the SDK's; COSTCTL_LOG naming it does.
    let verbose = |extra: &'static [&'static str], log: Option<&'static str>| {
        let mut c = bare_costctl(&home, &imds);
        if let Some(l) = log {
            c.env("COSTCTL_LOG", l);
        }
        c.args(["--profile", "dev", "--endpoint-url", &emu.endpoint])
            .args(extra)
            .args(["status", "--stack", "nothing-here"]);
        c
    };
    let o = verbose(&["-v"], None).output().await.unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(stderr.contains("INFO"), "-v: {stderr}");
    let o = verbose(&["-vv"], None).output().await.unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        !stderr.contains("aws_smithy") && !stderr.contains("aws_config"),
        "-vv raised an SDK target: {stderr}"
    );
    let o = verbose(&[], Some("aws_smithy_runtime=debug"))
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(stderr.contains("aws_smithy_runtime"), "{stderr}");
    for secret in [ACCESS_KEY_ID, SECRET_ACCESS_KEY] {
        assert!(!stderr.contains(secret), "SDK debug printed a credential");
    }
    std::fs::remove_dir_all(&home).ok();
}

/// `costctl status --output json | head -1`: the reader stops reading; costctl ends quietly
/// (status 0, no panic, no backtrace) instead of "failed printing to stdout: Broken pipe".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_ends_the_command_quietly() {
    let emu = Emulator::start().await.unwrap();
    let sdk = emu.sdk_config().await;
    stack::build(&sdk, &StackSpec::new("pipe", 1, 2, 0))
        .await
        .unwrap();
    let table = "costctl-pipe";
    let cli = Cli { emu: &emu, table };
    assert!(cli.run(&["init"]).await.status.success());
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_costctl"));
    let mut child = command
        .args(["--endpoint-url", &emu.endpoint, "--region", "us-east-1"])
        .args(["--state-table", table, "status", "--stack", "pipe-dev"])
        .args([
            "--tag",
            "Project=pipe",
            "--tag",
            "Env=dev",
            "--output",
            "json",
        ])
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY)
        .env_remove("AWS_PROFILE")
        .env_remove("COSTCTL_LOG")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The read end closes before costctl writes anything.
    drop(child.stdout.take());
    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
