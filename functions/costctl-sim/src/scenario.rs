//! One seeded scenario: a stack, a sequence of triggers (schedules, budget alerts, manual
//! invokes, ticks, status), faults while the triggers arrive, then a quiet period in which the
//! stack must converge to the newest desired state within a bounded number of ticks.

use crate::clock::{Executor, SimClock, Step};
use crate::cloud::{Caller, MemStore, Shared, SimCloud};
use crate::rng::Rng;
use crate::world::{Faults, MINUTE, World};
use costctl_aws::engine::{Options, RequestSpec};
use costctl_aws::store::{Lockout, StateStore};
use costctl_aws::{Engine, EngineError, StoreError};
use costctl_core::DesiredState;
use costctl_core::Selector;
use costctl_core::observation::{Bounds, DbSpec};
use costctl_core::plan::{Policy, RdsOnPause};
use futures::FutureExt;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
pub fn check_report(w: &mut World, stack: &str, who: &str, report: &serde_json::Value, what: &str) {
    let converged = report.get("converged").and_then(|v| v.as_bool()) == Some(true);
    let desired = report
        .get("desired_state")
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse::<DesiredState>().ok());
    let generation = report.get("generation").and_then(|v| v.as_u64());
    let (Some(desired), true) = (desired, converged) else {
        return;
    };
    let state = report.get("state").and_then(|v| v.as_str()).unwrap_or("");
    if state != desired.as_str() {
        w.violation(format!(
            "{who}: {what} is converged but says state `{state}`"
        ));
    }
    let diff = w.differs_from(stack, desired);
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
    selector: Selector,
    policy: Policy,
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

    fn engine(&self, inv: usize, kind: &str, reduce_only: bool) -> Engine<SimCloud, MemStore> {
        let caller = self.caller(inv, kind);
        let options = Options {
            concurrency: 4,
            lease_ttl: Duration::from_secs(120),
            poll_interval: Duration::from_secs(10),
            safety_margin: Duration::from_secs(3),
            owner: caller.owner.clone(),
            reduce_only,
        };
        Engine::new(SimCloud(caller.clone()), MemStore(caller), options)
            .with_clock(Arc::new(self.clock.clone()))
    }

    /// One invocation, as the Lambda handler runs it: record the request, then reconcile.
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
        };
        let reduce_only = matches!(trigger, Trigger::BudgetForecast | Trigger::BudgetActual);
        let engine = self.engine(inv, kind, reduce_only);
        let world = self.world.clone();
        let selector = self.selector.clone();
        let policy = self.policy;
        let owner = format!("inv{inv}-{kind}");
        async move {
            let deadline = engine.now_ms() + INVOCATION_MS;
            let request = |desired: DesiredState,
                           trig: &str,
                           force: bool,
                           lockout: Option<Lockout>| RequestSpec {
                selector: Some(selector.clone()),
                policy: Some(policy),
                force,
                lockout,
                reason: format!("{trig} request"),
                ..RequestSpec::new(desired, trig)
            };
            let spec = match trigger {
                Trigger::SchedulePause => {
                    Some(request(DesiredState::Paused, "schedule", false, None))
                }
                Trigger::ScheduleResume => {
                    Some(request(DesiredState::Running, "schedule", false, None))
                }
                Trigger::ManualResume { force } => {
                    Some(request(DesiredState::Running, "manual", force, None))
                }
                Trigger::ManualHibernate => {
                    Some(request(DesiredState::Hibernated, "manual", false, None))
                }
                Trigger::BudgetForecast | Trigger::BudgetActual => {
                    // A budget alert only ever moves a stack down.
                    let current = match engine.store().load(STACK).await {
                        Ok(s) => s.map_or(DesiredState::Running, |s| s.desired),
                        Err(e) => return format!("error: {e}"),
                    };
                    let (level, lockout) = if trigger == Trigger::BudgetActual {
                        let until_ms = engine.now_ms() + 30 * 24 * 60 * MINUTE;
                        (
                            DesiredState::Hibernated,
                            Some(Lockout {
                                until_ms,
                                reason: "budget actual at 104%".into(),
                            }),
                        )
                    } else {
                        (DesiredState::Paused, None)
                    };
                    Some(request(level.max(current), "budget", false, lockout))
                }
                Trigger::Tick => None,
                Trigger::Status => {
                    let before = world.lock().version;
                    return match engine.inspect(STACK, None, None).await {
                        Ok((report, _)) => {
                            let mut w = world.lock();
                            if w.version == before {
                                let json =
                                    serde_json::to_value(&report).expect("reports serialise");
                                check_report(&mut w, STACK, &owner, &json, "status");
                            }
                            format!("status: {} (converged {})", report.state, report.converged)
                        }
                        Err(e) => format!("status error: {e}"),
                    };
                }
            };
            if let Some(spec) = spec
                && let Err(e) = engine.request(STACK, spec).await
            {
                return format!("request refused: {e}");
            }
            match engine.reconcile(STACK, deadline).await {
                Ok(r) => format!(
                    "reconciled: generation {} {} state {} converged {} errors {:?} problems {:?}",
                    r.generation, r.desired_state, r.state, r.converged, r.errors, r.problems
                ),
                Err(EngineError::Store(StoreError::LeaseHeld { owner, .. })) => {
                    format!("queued behind {owner}")
                }
                Err(e) => format!("error: {e}"),
            }
        }
        .boxed_local()
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

/// Runs scenario `seed`.
pub fn run(seed: u64) -> Outcome {
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
    let policy = Policy {
        rds_on_pause: if rng.chance(500) {
            RdsOnPause::Snapshot
        } else {
            RdsOnPause::Stop
        },
        ..Policy::default()
    };
    world.rds_on_pause = policy.rds_on_pause;
    let intensity = rng.below(4) as u32; // 0: no faults … 3: many
    world.faults = Faults {
        transient: 30 * intensity,
        lost_answer: 15 * intensity,
        crash: 4 * intensity,
        stall: 2 * intensity,
        max_crashes: 1 + intensity,
    };
    world.log(format!(
        "seed {seed}: {n_services} services, {n_dbs} instances, policy {policy:?}, fault intensity {intensity}"
    ));
    let shared = Shared(Arc::new(Mutex::new(world)));
    let scenario = Scenario {
        world: shared.clone(),
        clock: clock.clone(),
        selector: Selector::Tags(tags),
        policy,
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
    // Convergence: the newest desired state is reached, and said so.
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
        let claims = state
            .last_report
            .as_ref()
            .and_then(|r| r.get("converged"))
            .and_then(|v| v.as_bool());
        if claims != Some(true) {
            w.violation(format!(
                "the last report does not say converged ({claims:?})"
            ));
        }
    }
    Outcome {
        seed,
        violations: w.violations.clone(),
        trace: w.trace.clone(),
        invocations: inv,
        calls: w.calls,
        crashes: w.crashes,
        virtual_ms: now - START_MS,
    }
}
