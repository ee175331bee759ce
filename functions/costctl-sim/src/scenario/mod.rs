//! One seeded scenario: a stack, a sequence of triggers (schedules, budget alerts, manual
//! invokes, ticks, status), faults while the triggers arrive, then a quiet period in which the
//! stack must converge to the newest desired state within a bounded number of ticks.

mod ledger;
mod serving;
mod tier;

use crate::clock::{Executor, SimClock, Step};
use crate::cloud::{Caller, Shared, SimCloud};
use crate::rng::Rng;
use crate::store::MemStore;
use crate::world::{Faults, MINUTE, World};
use costctl_core::Selector;
use costctl_core::config::Config;
use costctl_core::observation::{Bounds, DbSpec};
use costctl_core::plan::{MskOnPause, NetworkOnPause, Policy, RdsOnPause};
use costctl_engine::engine::Options;
use costctl_engine::report::Report;
use costctl_engine::service::TickEntry;
use costctl_engine::{Answer, Engine, Mode, Service};
use futures::FutureExt;
pub use ledger::{
    BudgetEpisode, DAY_MS, FEBRUARY_MS, HOUR_MS, OfficeHours, WEEK_START_MS, office_hours,
};
use serde_json::{Value, json};
pub use serving::{Serving, resume_to_serving};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tier::ephemeral_spec;
pub(crate) use tier::{CERT, CERT_API, TG_API, TG_WEB, WEB_ACL};
pub use tier::{NetworkPlan, build_network, draw_network, ephemeral_world, network_world};

pub const STACK: &str = "order-tracking-dev";
/// Ticks run this often (the EventBridge schedule of the tick).
pub const TICK_MS: i64 = 5 * MINUTE;
/// Once faults stop, the stack must be at its desired state within this many ticks.
pub const CONVERGE_TICKS: i64 = 24;
/// The Lambda timeout of every invocation.
pub const INVOCATION_MS: i64 = 300_000;
const START_MS: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

/// A trigger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    SchedulePause,
    ScheduleResume,
    /// Forecast ≥ 100 %: paused (reduce-only function).
    BudgetForecast,
    /// Actual ≥ 100 %: hibernated with a lockout (reduce-only function).
    BudgetActual,
    ManualResume {
        force: bool,
    },
    ManualHibernate,
    Tick,
    Status,
    /// `terraform apply` with spec version `spec` (an index into the scenario's versions):
    /// the `aws_lambda_invocation` is created, or updated from the version in Terraform's state.
    TerraformApply {
        spec: usize,
    },
    /// `terraform destroy`: the invocation's delete, with the version in Terraform's state.
    TerraformDestroy,
    /// A person holds the schedules off for this many minutes.
    Snooze {
        minutes: u32,
    },
    Unsnooze,
}

/// The result of one scenario.
#[derive(Debug)]
pub struct Outcome {
    pub seed: u64,
    pub violations: Vec<String>,
    pub trace: Vec<String>,
    pub invocations: usize,
    pub calls: u64,
    pub crashes: u32,
    pub virtual_ms: i64,
    /// The scenario had a network tier (NAT gateways, endpoints).
    pub network: bool,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// The failure message: the seed, how to replay it, what broke, and the trace.
    pub fn explain(&self) -> String {
        format!(
            "simulation seed {seed} failed:\n  {}\nreplay: COSTCTL_SIM_SEED={seed} cargo test -p costctl-sim --test sim sim -- --nocapture\ntrace:\n{}",
            self.violations.join("\n  "),
            self.trace.join("\n"),
            seed = self.seed
        )
    }
}

/// The report kind that marks a request as reached.
pub const REACHED_BY: &str = "reconcile report";

/// Checks a report (stored by `finish`, or returned by `status`) against the world: a report
/// that says "converged" must be true. A converged report of the newest request marks that
/// request as reached (nothing may undo it afterwards).
pub fn check_report(w: &mut World, stack: &str, who: &str, report: &Report, what: &str) {
    if !report.converged {
        return;
    }
    let (desired, generation) = (report.desired_state, Some(report.generation));
    let state = report.state.as_str();
    if state != desired.as_str() {
        w.violation(format!(
            "{who}: {what} is converged but says state `{state}`"
        ));
    }
    let diff = match w.seen_spec.get(who).cloned() {
        Some(spec) if what == REACHED_BY => w.differs_from_spec(stack, desired, spec.as_ref()),
        _ => w.differs_from(stack, desired),
    };
    if !diff.is_empty() {
        w.violation(format!(
            "{who}: {what} claims {desired}, but {}",
            diff.join("; ")
        ));
    }
    // Only a reconcile (under the lease) reaches a request; `status` merely looks. A status
    // that is true now may be overtaken by a pass already under way for an older request: that
    // pass re-reads the request at its next renewal.
    let current = w.store.get(stack).map(|s| s.generation);
    if what == REACHED_BY && generation.is_some() && generation == current {
        w.reached = generation;
    }
}

struct Scenario {
    world: Shared,
    clock: SimClock,
    /// The versions of the ephemeral-tier spec Terraform sends, as it sends them (empty: the
    /// stack has none).
    spec_inputs: Vec<Value>,
    config: Config,
    terraform: Rc<RefCell<TerraformState>>,
}

/// What Terraform's state holds of the `aws_lambda_invocation`: the version it last applied
/// successfully (a failed create leaves nothing, a failed update or destroy the old version),
/// and its state lock (a second run while one is under way fails at once).
#[derive(Debug, Default)]
struct TerraformState {
    applied: Option<usize>,
    locked: bool,
}

impl Scenario {
    fn caller(&self, inv: usize, kind: &str) -> Caller {
        Caller {
            world: self.world.clone(),
            clock: self.clock.clone(),
            inv,
            owner: format!("inv{inv}-{kind}"),
            stack: STACK.into(),
            terraform: kind.starts_with("terraform"),
        }
    }

    /// The function as one invocation runs it: the production [`Service`] over this
    /// invocation's view of the simulated cloud and store, on the virtual clock.
    fn service(&self, inv: usize, kind: &str, mode: Mode) -> Service<SimCloud, MemStore> {
        let caller = self.caller(inv, kind);
        let options = Options {
            concurrency: 4,
            lease_ttl: Duration::from_secs(120),
            poll_interval: Duration::from_secs(10),
            safety_margin: Duration::from_secs(3),
            owner: caller.owner.clone(),
            reduce_only: false,
            stacks_at_once: 4,
        };
        let engine = Engine::new(SimCloud(caller.clone()), MemStore(caller), options)
            .with_clock(Arc::new(self.clock.clone()));
        Service::with_engine(engine, self.config.clone(), mode)
    }

    /// The event a trigger sends, as AWS or Terraform sends it (the budget alerts are the
    /// fixtures the Lambda tests use); Terraform's need the version its state holds.
    fn payload(&self, trigger: Trigger, applied: Option<usize>) -> Value {
        let action = |action: &str, extra: Value| {
            let mut v = json!({"action": action, "stack": STACK});
            if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
                m.extend(e);
            }
            v
        };
        let input = |i: usize| action("apply-spec", json!({"spec": self.spec_inputs[i]}));
        match trigger {
            Trigger::SchedulePause => action("pause", json!({"trigger": "schedule"})),
            Trigger::ScheduleResume => action("resume", json!({"trigger": "schedule"})),
            Trigger::ManualResume { force } => action("resume", json!({"force": force})),
            Trigger::ManualHibernate => action("pause", json!({"level": "hibernated"})),
            Trigger::BudgetForecast => fixture(BUDGET_FORECASTED),
            Trigger::BudgetActual => fixture(BUDGET_ACTUAL),
            Trigger::Tick => action("reconcile", json!({})),
            Trigger::Status => action("status", json!({})),
            Trigger::TerraformApply { spec } => {
                let tf = match applied {
                    None => json!({"action": "create"}),
                    Some(prev) => json!({"action": "update", "prev_input": input(prev)}),
                };
                action(
                    "apply-spec",
                    json!({"spec": self.spec_inputs[spec], "tf": tf}),
                )
            }
            Trigger::Snooze { minutes } => action(
                "snooze",
                json!({"for": format!("{minutes}m"), "reason": "demo", "by": "sim"}),
            ),
            Trigger::Unsnooze => action("unsnooze", json!({"by": "sim"})),
            Trigger::TerraformDestroy => {
                let prev = applied.expect("a destroy is sent only with a version in the state");
                action(
                    "apply-spec",
                    json!({"spec": self.spec_inputs[prev], "tf": {"action": "delete", "prev_input": input(prev)}}),
                )
            }
        }
    }

    /// One invocation, through the entry point the Lambda handler uses
    /// ([`Service::handle_event`]): budget alerts reach the reduce-only function, which records
    /// them for the next tick; everything else the full function.
    fn invocation(
        &self,
        inv: usize,
        trigger: Trigger,
    ) -> futures::future::LocalBoxFuture<'static, String> {
        let kind = match trigger {
            Trigger::SchedulePause => "schedule-pause",
            Trigger::ScheduleResume => "schedule-resume",
            Trigger::BudgetForecast => "budget-forecast",
            Trigger::BudgetActual => "budget-actual",
            Trigger::ManualResume { force: true } => "manual-resume-force",
            Trigger::ManualResume { force: false } => "manual-resume",
            Trigger::ManualHibernate => "manual-hibernate",
            Trigger::Tick => "tick",
            Trigger::Status => "status",
            Trigger::TerraformApply { .. } => "terraform-apply",
            Trigger::TerraformDestroy => "terraform-destroy",
            Trigger::Snooze { .. } => "snooze",
            Trigger::Unsnooze => "unsnooze",
        };
        let mode = match trigger {
            Trigger::BudgetForecast | Trigger::BudgetActual => Mode::ReduceOnly,
            _ => Mode::Full,
        };
        let service = self.service(inv, kind, mode);
        let world = self.world.clone();
        let owner = format!("inv{inv}-{kind}");
        let tf = self.terraform.clone();
        let terraform = matches!(
            trigger,
            Trigger::TerraformApply { .. } | Trigger::TerraformDestroy
        );
        // Terraform's state lock: a second run while one is under way fails at once.
        let applied = if terraform {
            let mut tf = tf.borrow_mut();
            if tf.locked {
                return futures::future::ready(
                    "terraform: the state is locked by another run".to_string(),
                )
                .boxed_local();
            }
            if trigger == Trigger::TerraformDestroy && tf.applied.is_none() {
                return futures::future::ready("terraform destroy: nothing in the state".into())
                    .boxed_local();
            }
            tf.locked = true;
            tf.applied
        } else {
            None
        };
        let payload = self.payload(trigger, applied);
        async move {
            let started = service.engine().now_ms();
            let deadline = started + INVOCATION_MS;
            let before = world.lock().version;
            let answer = service.handle_event(&payload, deadline).await;
            // No scheduled request is lost after a snooze expires: one held must have been
            // held by a snooze still valid when the invocation began.
            if let Ok(Answer::Held {
                snooze: Some(s), ..
            }) = &answer
                && s.until_ms <= started
            {
                world.lock().violation(format!(
                    "{owner}: held by a snooze that had ended at {} before the invocation began at {started}",
                    s.until_ms
                ));
            }
            if terraform {
                // What Terraform's state holds afterwards: the applied version after a success,
                // nothing after a destroy; a failed create leaves nothing (the service rolled
                // back what it made), a failed update or destroy the old version.
                let mut tf = tf.borrow_mut();
                tf.applied = match (&answer, trigger) {
                    (Ok(_), Trigger::TerraformApply { spec }) => Some(spec),
                    (Ok(_), _) => None,
                    (Err(_), _) => applied,
                };
                tf.locked = false;
            }
            match answer {
                Ok(Answer::Report(report)) if trigger == Trigger::Status => {
                    let mut w = world.lock();
                    if w.version == before {
                        check_report(&mut w, STACK, &owner, &report, "status");
                    }
                    format!("status: {} (converged {})", report.state, report.converged)
                }
                Ok(answer) => describe(&answer),
                Err(e) => format!("error ({}): {e}", e.error_type()),
            }
        }
        .boxed_local()
    }
}

/// The budget notifications the Lambda tests use: ACTUAL at 104 % (hibernate, lock out until
/// the next month) and FORECASTED at 131 % (pause).
const BUDGET_ACTUAL: &str =
    include_str!("../../../costctl-core/tests/fixtures/sns-budget-actual.json");
const BUDGET_FORECASTED: &str =
    include_str!("../../../costctl-core/tests/fixtures/sns-budget-forecasted.json");

fn fixture(raw: &str) -> Value {
    serde_json::from_str(raw).expect("the fixtures are JSON")
}

/// The stack's configuration as the Terraform module renders it: the scenario's selector and
/// policy, and the budget rules of `config-example.json`.
fn config(selector: &Selector, policy: Policy, calendar: &[String]) -> Config {
    let Selector::Tags(tags) = selector else {
        unreachable!("the scenarios select by tag")
    };
    let json = json!({"stacks": {STACK: {
        "tags": tags,
        "policy": policy,
        "calendar": calendar,
        "budgets": [{"name": "order-tracking-dev-monthly", "rules": [
            {"alert_type": "FORECASTED", "threshold_percent": 100, "level": "paused"},
            {"alert_type": "ACTUAL", "threshold_percent": 100, "level": "hibernated", "lockout": true}
        ]}]
    }}});
    Config::from_json(&json.to_string()).expect("the scenario's configuration is valid")
}

/// One line of the trace for an answer.
fn describe(answer: &Answer) -> String {
    let reconciled = |r: &Report| {
        format!(
            "reconciled: generation {} {} state {} converged {} errors {:?} problems {:?}",
            r.generation, r.desired_state, r.state, r.converged, r.errors, r.problems
        )
    };
    match answer {
        Answer::Report(r) => reconciled(r),
        Answer::Queued { queued_behind, .. } => format!("queued behind {queued_behind}"),
        Answer::Tick {
            reconciled: entries,
        } => entries
            .iter()
            .map(|e| match e {
                TickEntry::Report(r) => reconciled(r),
                TickEntry::WithLowering {
                    reduce_only_requests,
                    report,
                } => format!(
                    "{} after reduce-only requests {reduce_only_requests:?}",
                    reconciled(report)
                ),
                TickEntry::Skipped { skipped, .. } => format!("skipped: {skipped}"),
                TickEntry::Failed { error, .. } => format!("error: {error}"),
            })
            .collect::<Vec<_>>()
            .join("; "),
        Answer::Spec(r) if r.nat_gateways.is_empty() && r.vpc_endpoints.is_empty() => format!(
            "apply-spec: ok, {} ALB, {} MSK, notes {:?}",
            r.load_balancers.len(),
            r.kafka_clusters.len(),
            r.notes
        ),
        Answer::Spec(r) => format!(
            "apply-spec: ok, {} ALB, {} MSK, {} NAT, {} VPCE, notes {:?}",
            r.load_balancers.len(),
            r.kafka_clusters.len(),
            r.nat_gateways.len(),
            r.vpc_endpoints.len(),
            r.notes
        ),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

fn spec(i: usize, tags: &BTreeMap<String, String>) -> DbSpec {
    DbSpec {
        instance_class: "db.t4g.micro".into(),
        engine: "postgres".into(),
        subnet_group: Some("order-tracking-dev".into()),
        security_groups: vec![format!("sg-{i:04}")],
        allocated_storage: Some(20),
        tags: tags.clone(),
        ..DbSpec::default()
    }
}

/// A scenario without faults over `world`, the stack selected by `tags` with the default
/// policy: the harness of the measurements (the savings ledger, resume-to-serving).
fn quiet(
    mut world: World,
    clock: &SimClock,
    tags: BTreeMap<String, String>,
    spec_inputs: Vec<Value>,
) -> Scenario {
    world.faults = Faults::default();
    let policy = Policy::default();
    world.rds_on_pause = policy.rds_on_pause;
    world.msk_on_pause = policy.msk_on_pause;
    let config = config(&Selector::Tags(tags), policy, &[]);
    Scenario {
        world: Shared(Arc::new(Mutex::new(world))),
        clock: clock.clone(),
        config,
        spec_inputs,
        terraform: Rc::default(),
    }
}

/// Convergence: the newest desired state is reached, and said so.
fn check_converged(w: &mut World) {
    if let Some(state) = w.store.get(STACK).cloned() {
        let diff = w.differs_from(STACK, state.desired);
        if !diff.is_empty() {
            w.violation(format!(
                "not converged to {} (generation {}) {CONVERGE_TICKS} ticks after faults stopped: {}",
                state.desired,
                state.generation,
                diff.join("; ")
            ));
        }
        let claims = state.last_report.as_ref().map(|r| r.converged);
        if claims != Some(true) {
            w.violation(format!(
                "the last report does not say converged ({claims:?})"
            ));
        }
    }
}

/// A network trial: the world of a scenario with one service and the network of `plan` (no
/// ALB, no cluster), `tweak` applied to it, then `terraform apply` of a spec with `plan`'s NAT
/// gateways and endpoints, and ticks for two hours, without random faults; then the same
/// convergence check as a scenario's. Returns the world.
pub fn network_trial(plan: &NetworkPlan, tweak: impl FnOnce(&mut World)) -> Shared {
    network_trial_with(plan, tweak, Vec::new())
}

/// [`network_trial`] with more requests: each of `extra` is invoked that many ms after the
/// `terraform apply`.
pub fn network_trial_with(
    plan: &NetworkPlan,
    tweak: impl FnOnce(&mut World),
    extra: Vec<(i64, Trigger)>,
) -> Shared {
    let clock = SimClock::new(START_MS);
    let mut world = World::new(Rng::new(7), START_MS);
    let tags: BTreeMap<String, String> = [("costctl:stack".to_string(), STACK.to_string())].into();
    world.add_service("c0", "svc0", 2, None, tags.clone(), true);
    ephemeral_world(&mut world);
    tier::build_network(&mut world, plan);
    tweak(&mut world);
    let input = json!({
        "load_balancers": [], "kafka_clusters": [],
        "nat_gateways": plan.nats, "vpc_endpoints": plan.endpoints,
    });
    let scenario = quiet(world, &clock, tags, vec![input]);
    let shared = scenario.world.clone();
    let mut exec: Executor<String> = Executor::new(clock.clone(), Rng::new(7));
    exec.spawn_at(
        START_MS,
        1,
        scenario.invocation(1, Trigger::TerraformApply { spec: 0 }),
    );
    let end = START_MS + CONVERGE_TICKS * TICK_MS;
    let first_extra = CONVERGE_TICKS as usize + 2;
    for (i, (after_ms, trigger)) in extra.into_iter().enumerate() {
        let id = first_extra + i;
        exec.spawn_at(START_MS + after_ms, id, scenario.invocation(id, trigger));
    }
    for (i, at) in (START_MS + TICK_MS..end)
        .step_by(TICK_MS as usize)
        .enumerate()
    {
        exec.spawn_at(at, i + 2, scenario.invocation(i + 2, Trigger::Tick));
    }
    loop {
        let step = exec.step();
        let now = clock.now();
        match step {
            Step::Idle => break,
            Step::Advanced { .. } => shared.lock().advance(now),
            Step::Polled {
                id,
                output: Some(out),
            } => shared.lock().log(format!("inv{id}: {out}")),
            Step::Polled { .. } => {}
        }
        if now > end {
            break;
        }
    }
    let mut w = shared.lock();
    let now = clock.now();
    w.advance(now);
    check_converged(&mut w);
    drop(w);
    shared
}

/// Runs scenario `seed`.
pub fn run(seed: u64) -> Outcome {
    run_with(seed, |_| {})
}

/// Runs scenario `seed` with `tweak` applied to its world once it is built (a sim-only fault
/// switch, say).
pub fn run_with(seed: u64, tweak: impl FnOnce(&mut World)) -> Outcome {
    run_inner(seed, true, tweak)
}

/// Runs scenario `seed` as it was before the network tier existed: a seed that now draws one
/// runs without it (the run in which a regression seed found its bug); the others are the same
/// run as [`run`].
pub fn run_without_network(seed: u64) -> Outcome {
    run_inner(seed, false, |_| {})
}

fn run_inner(seed: u64, network_tier: bool, tweak: impl FnOnce(&mut World)) -> Outcome {
    let mut rng = Rng::new(seed);
    let clock = SimClock::new(START_MS);
    let mut world = World::new(rng.fork(), START_MS);
    let tags: BTreeMap<String, String> = [("costctl:stack".to_string(), STACK.to_string())].into();
    let other: BTreeMap<String, String> =
        [("costctl:stack".to_string(), "billing-prod".to_string())].into();

    let n_services = rng.below(5) as usize;
    for i in 0..n_services {
        let desired = u32::try_from(rng.below(4)).unwrap_or(0) + u32::from(rng.chance(800));
        let bounds = rng.chance(600).then(|| {
            let min = u32::try_from(rng.below(u64::from(desired) + 1)).unwrap_or(0);
            Bounds {
                min,
                max: desired + u32::try_from(rng.below(3)).unwrap_or(0),
            }
        });
        world.add_service(
            &format!("c{}", i % 2),
            &format!("svc{i}"),
            desired,
            bounds,
            tags.clone(),
            true,
        );
    }
    let n_dbs = rng.below(3) as usize + usize::from(n_services == 0);
    for i in 0..n_dbs {
        world.add_db(&format!("db{i}"), rng.chance(200), spec(i, &tags), true);
    }
    world.add_service(
        "c0",
        "billing",
        2,
        Some(Bounds { min: 1, max: 3 }),
        other.clone(),
        false,
    );
    if rng.chance(300) {
        world.add_db("billing-db", false, spec(9, &other), false);
    }
    // Half the scenarios have an ephemeral tier, created and changed by Terraform.
    // Its own generator, so that the scenarios without one stay what they were (the seeds of
    // `regression_seeds` replay the same runs).
    let mut erng = Rng::new(seed ^ 0x00e9_4e3e_7a1e_5eed);
    let ephemeral = erng.chance(500);
    // Some of those have a network tier too (NAT gateways with their routes, interface
    // endpoints): again their own generator, so that the others replay unchanged.
    let mut nrng = Rng::new(seed ^ 0x0000_4e47_0a75_eed5);
    let network = if ephemeral {
        ephemeral_world(&mut world);
        (nrng.chance(400) && network_tier).then(|| network_world(&mut world, &mut nrng))
    } else {
        None
    };
    let specs: Vec<Value> = if ephemeral {
        (0..4)
            .map(|v| ephemeral_spec(&mut erng, v, network.as_ref().map(|p| (p, &mut nrng))))
            .collect()
    } else {
        Vec::new()
    };
    let policy = Policy {
        rds_on_pause: if rng.chance(500) {
            RdsOnPause::Snapshot
        } else {
            RdsOnPause::Stop
        },
        msk_on_pause: if erng.chance(200) {
            MskOnPause::Keep
        } else {
            MskOnPause::Delete
        },
        network_on_pause: if network.is_some() && nrng.chance(250) {
            NetworkOnPause::Keep
        } else {
            NetworkOnPause::Delete
        },
        ..Policy::default()
    };
    world.rds_on_pause = policy.rds_on_pause;
    world.msk_on_pause = policy.msk_on_pause;
    world.network_on_pause = policy.network_on_pause;
    let intensity = rng.below(4) as u32; // 0: no faults … 3: many
    world.faults = Faults {
        transient: 30 * intensity,
        lost_answer: 15 * intensity,
        crash: 4 * intensity,
        stall: 2 * intensity,
        alb_stall: 20 * intensity,
        max_crashes: 1 + intensity,
    };
    world.log(format!(
        "seed {seed}: {n_services} services, {n_dbs} instances, {} spec versions, policy {policy:?}, fault intensity {intensity}",
        specs.len()
    ));
    if let Some(p) = &network {
        world.log(format!(
            "network tier: {} NAT gateways, {} interface endpoints, start {}, tags versioned {}",
            p.nats.len(),
            p.endpoints.len(),
            p.start,
            p.tag_versions
        ));
    }
    tweak(&mut world);
    // Snoozes and calendars: their own generator too. A fifth of the scenarios close the day
    // (UTC) their scheduled resumes fall on; a person snoozes or unsnoozes now and then.
    let mut srng = Rng::new(seed ^ 0x0005_2002_e5ca_1e4d);
    let utc = costctl_core::calendar::zone("UTC").expect("UTC is a zone");
    let closed: Vec<String> = if srng.chance(200) {
        vec![costctl_core::calendar::local_date(START_MS, &utc).to_string()]
    } else {
        Vec::new()
    };
    let config = config(&Selector::Tags(tags), policy, &closed);
    world.calendar = config.stacks[STACK].calendar.clone();
    let shared = Shared(Arc::new(Mutex::new(world)));
    let scenario = Scenario {
        world: shared.clone(),
        clock: clock.clone(),
        config,
        spec_inputs: specs.clone(),
        terraform: Rc::default(),
    };

    // Triggers: the first is the nightly pause; the others arrive over a few hours, some at
    // the same instant (concurrent invocations).
    let mut exec: Executor<String> = Executor::new(clock.clone(), rng.fork());
    let mut inv = 0usize;
    let mut kinds: BTreeMap<usize, Trigger> = BTreeMap::new();
    let mut t = START_MS + rng.range(0, 60_000);
    let mut spawn = |exec: &mut Executor<String>, at: i64, trig: Trigger, inv: &mut usize| {
        *inv += 1;
        kinds.insert(*inv, trig);
        exec.spawn_at(at, *inv, scenario.invocation(*inv, trig));
    };
    // Terraform creates the ephemeral tier (`terraform apply`), just before the nightly pause
    // or at the same time.
    if !specs.is_empty() {
        spawn(
            &mut exec,
            START_MS,
            Trigger::TerraformApply { spec: 0 },
            &mut inv,
        );
    }
    spawn(&mut exec, t, Trigger::SchedulePause, &mut inv);
    let events = 2 + rng.below(7);
    for _ in 0..events {
        t += if rng.chance(300) {
            rng.range(0, 3_000)
        } else {
            rng.range(MINUTE, 90 * MINUTE)
        };
        let trig = match rng.below(12) {
            0..=2 => Trigger::SchedulePause,
            3..=5 => Trigger::ScheduleResume,
            6 => Trigger::BudgetForecast,
            7 => Trigger::BudgetActual,
            8 | 9 => Trigger::ManualResume {
                force: rng.chance(500),
            },
            10 => Trigger::ManualHibernate,
            _ => Trigger::Status,
        };
        // A third of the events of a stack with an ephemeral tier are Terraform runs.
        let trig = if !specs.is_empty() && erng.chance(333) {
            if erng.chance(250) {
                Trigger::TerraformDestroy
            } else {
                Trigger::TerraformApply {
                    spec: erng.below(specs.len() as u64) as usize,
                }
            }
        } else {
            trig
        };
        let trig = if srng.chance(180) {
            if srng.chance(650) {
                Trigger::Snooze {
                    minutes: u32::try_from(srng.range(5, 240)).unwrap_or(60),
                }
            } else {
                Trigger::Unsnooze
            }
        } else {
            trig
        };
        spawn(&mut exec, t, trig, &mut inv);
    }
    // Sometimes a long pause: a week later RDS auto-starts stopped instances; ticks repair it.
    let long = rng.chance(100);
    let faults_end = t + 10 * MINUTE;
    let quiet_end = if long {
        faults_end + 8 * 24 * 60 * MINUTE
    } else {
        faults_end
    };
    let end = quiet_end + CONVERGE_TICKS * TICK_MS + TICK_MS / 2;
    let mut tick = START_MS + TICK_MS;
    while tick < end {
        spawn(&mut exec, tick, Trigger::Tick, &mut inv);
        let status = rng.chance(100);
        if status {
            spawn(
                &mut exec,
                tick + rng.range(0, 60_000),
                Trigger::Status,
                &mut inv,
            );
        }
        tick += if tick > faults_end && tick < quiet_end {
            60 * MINUTE
        } else {
            TICK_MS
        };
    }
    let mut faults_on = true;

    loop {
        let step = exec.step();
        let now = clock.now();
        if faults_on && now >= faults_end {
            faults_on = false;
            let mut w = shared.lock();
            w.faults = Faults::default();
            w.log("faults stop");
        }
        match step {
            Step::Idle => break,
            Step::Advanced { .. } => shared.lock().advance(now),
            Step::Polled { id, output } => {
                let crashed = shared.lock().crashed.contains(&id);
                if crashed {
                    exec.kill(id);
                }
                if let Some(out) = output {
                    let trig = kinds.get(&id).copied().unwrap_or(Trigger::Tick);
                    let mut w = shared.lock();
                    if trig != Trigger::Tick
                        || !out.starts_with("reconciled: generation")
                        || out.contains("errors [\"")
                    {
                        w.log(format!("inv{id} {trig:?}: {out}"));
                    }
                }
            }
        }
        if now > end {
            break;
        }
    }

    let mut w = shared.lock();
    let now = clock.now();
    w.advance(now);
    check_converged(&mut w);
    Outcome {
        seed,
        violations: w.violations.clone(),
        trace: w.trace.clone(),
        invocations: inv,
        calls: w.calls,
        crashes: w.crashes,
        virtual_ms: now - START_MS,
        network: network.is_some(),
    }
}
