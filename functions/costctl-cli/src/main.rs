//! `costctl`: pause and resume a stack from a laptop, over the same engine the Lambda runs.

mod output;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use costctl_aws::{AwsCloud, Connection, DynamoStore};
use costctl_core::calendar::SnoozeEnd;
use costctl_core::config::{Config, StackConfig};
use costctl_core::event::Trigger;
use costctl_core::plan::Policy;
use costctl_core::price::Prices;
use costctl_core::savings;
use costctl_core::{DesiredState, Selector};
use costctl_engine::engine::{Options, Progress};
use costctl_engine::{Engine, EngineError, RequestSpec, StateStore, StoreError, Transition};
use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Pause idle AWS stacks (ECS, RDS, ALB, MSK Serverless) and bring them back exactly as they were.
#[derive(Debug, Parser)]
#[command(name = "costctl", version, about)]
struct Cli {
    /// AWS region (default: from the environment / profile).
    #[arg(long, global = true, env = "AWS_REGION")]
    region: Option<String>,
    /// Named profile of the AWS config files (as `aws --profile`; default: AWS_PROFILE).
    #[arg(long, global = true, value_name = "NAME")]
    profile: Option<String>,
    /// Endpoint URL for every AWS service (e.g. the local emulator).
    #[arg(long, global = true, env = "COSTCTL_ENDPOINT_URL")]
    endpoint_url: Option<String>,
    /// DynamoDB table holding costctl's state.
    #[arg(
        long,
        global = true,
        env = "COSTCTL_STATE_TABLE",
        default_value = "costctl-state"
    )]
    state_table: String,
    /// EventBridge bus to publish transition events to (as the Lambda functions do); none:
    /// the command line publishes none.
    #[arg(
        long,
        global = true,
        env = "COSTCTL_EVENT_BUS",
        value_name = "NAME|ARN"
    )]
    event_bus: Option<String>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
    /// Configuration file (JSON, docs/config.md): stacks with their selectors and policies.
    #[arg(long, global = true, env = "COSTCTL_CONFIG_FILE")]
    config: Option<std::path::PathBuf>,
    /// Show costctl's own progress (-v) and details (-vv) on stderr. AWS SDK logs only with
    /// COSTCTL_LOG naming their targets, e.g. COSTCTL_LOG=aws_smithy_runtime=debug.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
struct StackArgs {
    /// The stack's name in the state store.
    #[arg(long)]
    stack: String,
    /// Select the stack's resources by tag (repeatable; all must match), e.g. --tag Project=ot.
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    tags: Vec<String>,
}

#[derive(Debug, Args)]
struct WaitArgs {
    /// Record the request and run one reconcile pass only.
    #[arg(long)]
    no_wait: bool,
    /// Give up waiting after this many seconds.
    #[arg(long, default_value_t = 1800)]
    timeout: u64,
    /// Why (recorded in the history).
    #[arg(long, default_value = "")]
    reason: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create the state table if it is missing.
    Init,
    /// Show the stack's desired and observed state, per resource.
    Status(StackArgs),
    /// Show the steps that would bring the stack to a state, in order, without acting.
    Plan {
        #[arg(value_parser = parse_state)]
        state: DesiredState,
        #[command(flatten)]
        stack: StackArgs,
    },
    /// Pause the stack (ECS to 0, RDS stopped); --hibernate also snapshots and deletes RDS.
    Pause {
        #[command(flatten)]
        stack: StackArgs,
        #[arg(long)]
        hibernate: bool,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Bring the stack back exactly as it was. At night (inside the schedules' off window) the
    /// schedules are held until their next boundary, so the resume is not undone minutes later.
    Resume {
        #[command(flatten)]
        stack: StackArgs,
        /// Override a budget lockout.
        #[arg(long)]
        force: bool,
        /// Also hold the schedules off until TIME (HH:MM or `tomorrow HH:MM` in the stack's
        /// time zone, `YYYY-MM-DD HH:MM`, or RFC 3339).
        #[arg(long, value_name = "TIME")]
        until: Option<String>,
        #[command(flatten)]
        wait: WaitArgs,
    },
    /// Hold the stack's scheduled pauses and resumes off until a time (manual, budget and
    /// Terraform requests still act).
    Snooze {
        #[command(flatten)]
        stack: StackArgs,
        /// Until TIME: HH:MM or `tomorrow HH:MM` in the stack's time zone, `YYYY-MM-DD HH:MM`,
        /// or RFC 3339.
        #[arg(
            long,
            value_name = "TIME",
            required_unless_present = "for_",
            conflicts_with = "for_"
        )]
        until: Option<String>,
        /// For DURATION from now, e.g. 3h, 90m, 1h30m.
        #[arg(long = "for", value_name = "DURATION")]
        for_: Option<String>,
        /// Why (shown in status and history).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// End the stack's snooze: the next scheduled pause or resume acts.
    Unsnooze {
        #[command(flatten)]
        stack: StackArgs,
    },
    /// Create or update the stack's ephemeral tier (ALB, MSK Serverless) from a spec file
    /// (docs/ephemeral-spec.md) and store the spec with the stack. A paused stack only records it.
    ApplySpec {
        /// The spec (JSON).
        file: std::path::PathBuf,
        #[command(flatten)]
        stack: StackArgs,
        /// Give up waiting after this many seconds.
        #[arg(long, default_value_t = 1800)]
        timeout: u64,
    },
    /// Delete the load balancers and clusters a spec file names, and forget them.
    DeleteSpec {
        file: std::path::PathBuf,
        #[command(flatten)]
        stack: StackArgs,
    },
    /// What pausing saved in a month (UTC): dollars, hours per state, the cost while down, and
    /// a bar per day.
    Savings {
        #[command(flatten)]
        stack: StackArgs,
        /// The month, YYYY-MM (default: this month, to now).
        #[arg(long, value_parser = parse_month)]
        month: Option<String>,
    },
    /// Show the stack's recorded requests and reconciles, newest first.
    History {
        #[command(flatten)]
        stack: StackArgs,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

fn parse_state(s: &str) -> Result<DesiredState, String> {
    s.parse()
        .map_err(|e: costctl_core::state::UnknownState| e.to_string())
}

/// Exit code when the requested state was not reached (errors exit with 1, usage with 2).
const NOT_REACHED: u8 = 3;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("costctl: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The crates whose logs are costctl's own (what `-v` shows).
const OWN_TARGETS: [&str; 5] = [
    "costctl",
    "costctl_cli",
    "costctl_engine",
    "costctl_aws",
    "costctl_core",
];

/// The SDK crates that log warnings of their own (a config file named by the environment but
/// missing, a region IMDS could not give, with the whole HTTP response).
const SDK_TARGETS: [&str; 5] = [
    "aws_config",
    "aws_runtime",
    "aws_smithy_runtime",
    "aws_smithy_http_client",
    "aws_credential_types",
];

/// Logs on stderr: warnings only by default, costctl's own progress with `-v`, its details with
/// `-vv`; `COSTCTL_LOG` (a tracing filter) replaces both. No level ever raises an SDK target
/// that was not named, and none shows a credential (see QUIET_SECRETS).
fn init_logging(verbose: u8) {
    let named = std::env::var("COSTCTL_LOG").is_ok_and(|v| !v.trim().is_empty());
    let mut filter = match std::env::var("COSTCTL_LOG") {
        Ok(v) if !v.trim().is_empty() => {
            tracing_subscriber::EnvFilter::try_new(&v).unwrap_or_else(|e| {
                eprintln!(
                    "costctl: warning: COSTCTL_LOG `{v}` is not a log filter ({e}); using warn"
                );
                "warn".into()
            })
        }
        _ => {
            let own = match verbose {
                0 => None,
                1 => Some("info"),
                _ => Some("debug"),
            };
            // The SDK's own warnings are replaced by costctl's one-line errors (see
            // costctl_aws::access); they show when COSTCTL_LOG names them.
            let mut directives = vec!["warn".to_string()];
            directives.extend(SDK_TARGETS.iter().map(|t| format!("{t}=error")));
            if let Some(level) = own {
                directives.extend(OWN_TARGETS.iter().map(|t| format!("{t}={level}")));
            }
            tracing_subscriber::EnvFilter::new(directives.join(","))
        }
    };
    let most_verbose = filter
        .max_level_hint()
        .unwrap_or(tracing::level_filters::LevelFilter::TRACE);
    for directive in costctl_aws::secret_caps(most_verbose) {
        filter = filter.add_directive(directive.parse().expect("a valid directive"));
    }
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(named || verbose > 1)
        .init();
}

type CliEngine = Engine<AwsCloud, DynamoStore>;

async fn run(cli: Cli) -> Result<ExitCode> {
    let config = match &cli.config {
        Some(path) => {
            let raw = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Some(
                Config::from_json(&raw)
                    .with_context(|| format!("invalid configuration {}", path.display()))?,
            )
        }
        None => None,
    };
    let conn = Connection {
        region: cli.region.clone(),
        endpoint_url: cli.endpoint_url.clone(),
        profile: cli.profile.clone(),
    };
    let sdk = costctl_aws::load_config(&conn).await;
    costctl_aws::check_access(&sdk, &conn, &cli.state_table).await?;
    tracing::info!(
        region = sdk.region().map(ToString::to_string).unwrap_or_default(),
        endpoint = cli.endpoint_url.as_deref().unwrap_or("AWS"),
        profile = costctl_aws::access::profile_name(&conn),
        table = cli.state_table,
        "AWS reachable"
    );
    let store = DynamoStore::new(&sdk, &cli.state_table);
    let mut options = Options {
        owner: format!("cli-{}", std::process::id()),
        ..Options::default()
    };
    if let Some(ms) = std::env::var("COSTCTL_POLL_MS")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        options.poll_interval = Duration::from_millis(ms);
    }
    let mut engine = Engine::new(
        AwsCloud::new(&sdk).with_event_bus(cli.event_bus.clone()),
        store,
        options,
    );
    if let Some(config) = &config {
        engine.set_exclusions(config);
    }
    let region = sdk.region().map(ToString::to_string).unwrap_or_default();
    let prices = match &config {
        Some(c) => c.prices_for(&region),
        None => Prices::for_region(&region, &Default::default()),
    };
    engine = engine.with_prices(prices);
    let out = output::Printer::new(cli.output == OutputFormat::Json);
    if cli.output == OutputFormat::Text && std::io::stderr().is_terminal() {
        let progress: Progress = Arc::new(output::progress_line);
        engine = engine.with_progress(progress);
    }

    match cli.command {
        Command::Init => {
            let created = engine.store().create_table().await?;
            out.message(
                &serde_json::json!({"table": cli.state_table, "created": created}),
                &if created {
                    format!("created state table {}", cli.state_table)
                } else {
                    format!("state table {} already exists", cli.state_table)
                },
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Status(args) => {
            let (selector, _) = resolve(&args, config.as_ref())?;
            let (report, _) = engine.inspect(&args.stack, None, selector.as_ref()).await?;
            let now = engine.now_ms();
            let (from, to) = savings::month_bounds(&savings::month_of(now))?;
            // A stack with nothing recorded yet has no ledger: status shows none.
            let month = match engine.savings(&args.stack, from, to).await {
                Ok(m) => Some(m),
                Err(EngineError::Store(StoreError::UnknownStack { .. })) => None,
                Err(e) => return Err(e.into()),
            };
            out.status(&report, month.as_ref());
            Ok(ExitCode::SUCCESS)
        }
        Command::Savings { stack, month } => {
            let month = month.unwrap_or_else(|| savings::month_of(engine.now_ms()));
            let (from, to) = savings::month_bounds(&month)?;
            let result = engine.savings(&stack.stack, from, to).await?;
            out.savings(&result, &month, engine.prices());
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan { state, stack } => {
            let (selector, _) = resolve(&stack, config.as_ref())?;
            let (report, plan) = engine
                .inspect(&stack.stack, Some(state), selector.as_ref())
                .await?;
            out.plan(&report, &plan);
            Ok(ExitCode::SUCCESS)
        }
        Command::Pause {
            stack,
            hibernate,
            wait,
        } => {
            let desired = if hibernate {
                DesiredState::Hibernated
            } else {
                DesiredState::Paused
            };
            transition(
                &engine,
                &out,
                &stack,
                config.as_ref(),
                desired,
                false,
                None,
                &wait,
            )
            .await
        }
        Command::Resume {
            stack,
            force,
            until,
            wait,
        } => {
            let cfg = stack_config(&stack, config.as_ref())?;
            let now = engine.now_ms();
            let hold = match until {
                Some(text) => Some(snooze_until(
                    &cfg,
                    &stack.stack,
                    &text,
                    None,
                    now,
                    "resume --until",
                )?),
                None => engine.resume_hold(&stack.stack, &cfg, &who()).await?,
            };
            transition(
                &engine,
                &out,
                &stack,
                config.as_ref(),
                DesiredState::Running,
                force,
                hold,
                &wait,
            )
            .await
        }
        Command::Snooze {
            stack,
            until,
            for_,
            reason,
        } => {
            let cfg = stack_config(&stack, config.as_ref())?;
            let text = until.or(for_.clone()).unwrap_or_default();
            let wanted = snooze_until(
                &cfg,
                &stack.stack,
                &text,
                for_.as_deref(),
                engine.now_ms(),
                &reason,
            )?;
            let before = engine.snooze(&stack.stack, &wanted, Trigger::Cli).await?;
            let replaced = before.snooze_at(engine.now_ms()).cloned();
            let text = costctl_engine::snooze::describe(&wanted, &cfg.time_zone);
            out.message(
                &serde_json::json!({"stack": stack.stack, "snoozed_until": costctl_core::calendar::display(wanted.until_ms, &cfg.time_zone.tz), "snooze": wanted, "replaced": replaced}),
                &format!("stack {}: schedules {text}", stack.stack),
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Unsnooze { stack } => {
            let cfg = stack_config(&stack, config.as_ref())?;
            let ended = engine.unsnooze(&stack.stack, &who(), Trigger::Cli).await?;
            let text = match &ended {
                Some(z) => format!(
                    "stack {}: snooze until {} ended; the next scheduled pause or resume acts",
                    stack.stack,
                    costctl_core::calendar::display(z.until_ms, &cfg.time_zone.tz)
                ),
                None => format!("stack {}: no snooze held", stack.stack),
            };
            out.message(
                &serde_json::json!({"stack": stack.stack, "unsnoozed": ended.is_some(), "ended": ended}),
                &text,
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::ApplySpec {
            file,
            stack,
            timeout,
        } => {
            let raw = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let spec = costctl_core::spec::EphemeralSpec::from_json(&raw)
                .with_context(|| format!("{} (nothing was changed)", file.display()))?;
            let (selector, _) = resolve(&stack, config.as_ref())?;
            let result = engine
                .apply_spec(&stack.stack, &spec, selector, Duration::from_secs(timeout))
                .await?;
            out.spec_result(&result, "applied");
            Ok(ExitCode::SUCCESS)
        }
        Command::DeleteSpec { file, stack } => {
            let raw = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let value: serde_json::Value = serde_json::from_str(&raw)
                .with_context(|| format!("{}: not JSON (nothing was changed)", file.display()))?;
            // The shape only: a rule added since must not make deleting impossible.
            let spec = costctl_core::spec::EphemeralSpec::from_value_unvalidated(&value)
                .with_context(|| format!("{} (nothing was changed)", file.display()))?;
            let result = engine.delete_spec(&stack.stack, &spec).await?;
            out.spec_result(&result, "deleted");
            Ok(ExitCode::SUCCESS)
        }
        Command::History { stack, limit } => {
            let entries = engine.store().history(&stack.stack, limit).await?;
            if entries.is_empty() && engine.store().load(&stack.stack).await?.is_none() {
                bail!(StoreError::UnknownStack { stack: stack.stack });
            }
            out.history(&entries);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The selector and policy for a stack: `--tag` first, then the configuration file, else the
/// ones stored with the stack (None).
fn resolve(
    args: &StackArgs,
    config: Option<&Config>,
) -> Result<(Option<Selector>, Option<Policy>)> {
    if !args.tags.is_empty() {
        let sel = Selector::from_tag_args(&args.tags)?;
        let policy = config
            .and_then(|c| c.stack(&args.stack).ok())
            .map(|s| s.policy);
        return Ok((Some(sel), policy));
    }
    if let Some(config) = config {
        let stack = config.stack(&args.stack)?;
        return Ok((Some(stack.selector.clone()), Some(stack.policy)));
    }
    Ok((None, None))
}

/// The stack's configuration, or (without a configuration file) one with the defaults: UTC,
/// no schedules, no calendar, a one-week snooze bound.
fn stack_config(args: &StackArgs, config: Option<&Config>) -> Result<StackConfig> {
    if let Some(config) = config {
        return Ok(config.stack(&args.stack)?.clone());
    }
    let json = format!(
        r#"{{"stacks":{{"{}":{{"tags":{{"costctl:stack":"-"}}}}}}}}"#,
        args.stack
    );
    let config = Config::from_json(&json).context("stack name")?;
    Ok(config.stacks[&args.stack].clone())
}

/// Who asks, for the history: the local user.
fn who() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_default();
    if user.is_empty() {
        "cli".into()
    } else {
        format!("cli ({user})")
    }
}

/// A snooze until `text` (or for `duration`), checked against the stack's bound.
fn snooze_until(
    cfg: &StackConfig,
    stack: &str,
    text: &str,
    duration: Option<&str>,
    now_ms: i64,
    reason: &str,
) -> Result<costctl_engine::store::Snooze> {
    let end = match duration {
        Some(d) => SnoozeEnd::parse_for(d)?,
        None => SnoozeEnd::parse_until(text, &cfg.time_zone.name)?,
    };
    costctl_engine::snooze::snooze(&cfg.time_zone, &cfg.snooze, &end, now_ms, &who(), reason)
        .with_context(|| format!("snooze of stack `{stack}` refused (nothing was changed)"))
}

#[allow(clippy::too_many_arguments)]
async fn transition(
    engine: &CliEngine,
    out: &output::Printer,
    args: &StackArgs,
    config: Option<&Config>,
    desired: DesiredState,
    force: bool,
    snooze: Option<costctl_engine::store::Snooze>,
    wait: &WaitArgs,
) -> Result<ExitCode> {
    let (selector, policy) = resolve(args, config)?;
    let spec = RequestSpec {
        reason: wait.reason.clone(),
        selector,
        policy,
        force,
        snooze,
        budget_overrides_snooze: config
            .and_then(|c| c.stack(&args.stack).ok())
            .is_none_or(|s| s.snooze.budget_overrides),
        ..RequestSpec::new(desired, Trigger::Cli)
    };
    let timeout = Duration::from_secs(wait.timeout);
    tracing::info!(stack = args.stack, desired = %desired, force, "requesting");
    let report = if wait.no_wait {
        let deadline = engine.now_ms() + i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX / 2);
        let deadline = deadline.min(engine.now_ms() + 60_000);
        match engine
            .request_and_reconcile(&args.stack, spec, deadline)
            .await?
        {
            (_, Transition::Reconciled(r)) => *r,
            (state, Transition::Queued { owner }) => {
                out.message(
                    &serde_json::json!({"stack": args.stack, "generation": state.generation, "queued_behind": owner}),
                    &format!("request {} recorded; {owner} is reconciling the stack and will carry it out", state.generation),
                );
                return Ok(ExitCode::SUCCESS);
            }
        }
    } else {
        engine.request_and_wait(&args.stack, spec, timeout).await?.1
    };
    out.report(&report);
    if report.succeeded() || (wait.no_wait && report.errors.is_empty()) {
        Ok(ExitCode::SUCCESS)
    } else {
        Ok(ExitCode::from(NOT_REACHED))
    }
}

/// `--month`: a UTC calendar month, YYYY-MM.
fn parse_month(s: &str) -> Result<String, String> {
    savings::month_bounds(s)
        .map(|_| s.to_string())
        .map_err(|e| e.to_string())
}
