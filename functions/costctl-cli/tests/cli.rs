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

    let o = cli.run(&["resume", "--stack", "cli-dev"]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(demo.picture(&sdk).await.unwrap(), before);

    let o = cli.run(&["history", "--stack", "cli-dev"]).await;
    assert!(o.status.success());
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(stdout.lines().count(), 4, "{stdout}");

    // At the default level a command that succeeds prints nothing on stderr (before, the
    // credential caps raised the SDK to debug: about 130 lines per command).
    for args in [
        &["status", "--stack", "cli-dev"][..],
        &["--output", "json", "status", "--stack", "cli-dev"],
        &["plan", "paused", "--stack", "cli-dev"],
        &["history", "--stack", "cli-dev"],
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
