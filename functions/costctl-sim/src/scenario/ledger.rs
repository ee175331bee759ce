//! Weeks of office hours on the virtual clock, for the savings ledger: the reference stack
//! paused at 19:00 and resumed at 07:00 on weekdays (so paused over the weekend), optionally
//! hibernated by a budget alert and brought back by a forced resume, with the tick every five
//! minutes — the production service on the simulated cloud without faults. The ledger the
//! reconciles kept is then summed by the production [`costctl_engine::Engine::savings`].

use super::*;
use costctl_core::savings::Savings;

/// Monday 2026-01-05 00:00 UTC.
pub const WEEK_START_MS: i64 = START_MS + 4 * DAY_MS;
/// Sunday 2026-02-01 00:00 UTC.
pub const FEBRUARY_MS: i64 = START_MS + 31 * DAY_MS;
pub const HOUR_MS: i64 = 60 * MINUTE;
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// A budget alert (ACTUAL ≥ 100 %: hibernate, lock out) and the forced resume that ends it, as
/// offsets from the first day of the run.
#[derive(Debug, Clone, Copy)]
pub struct BudgetEpisode {
    pub alert_at: i64,
    pub forced_resume_at: i64,
}

/// What a run of office hours gives.
pub struct OfficeHours {
    /// Over `[first_day_ms, first_day_ms + days)`.
    pub savings: Savings,
    pub violations: Vec<String>,
    pub trace: Vec<String>,
    /// The stack's last stored report (its `month_saved` is what the metric says).
    pub last_report: Option<Report>,
}

/// The reference stack (web ×2 with autoscaling, worker ×1, one db.t4g.micro of 20 GB) through
/// `days` days of office hours from `first_day_ms` (a UTC midnight), with `budget` if given.
/// The run begins at 18:00 the day before and pauses at 19:00, so the first day starts paused,
/// as after a night.
pub fn office_hours(first_day_ms: i64, days: i64, budget: Option<BudgetEpisode>) -> OfficeHours {
    let run_start = first_day_ms - 6 * HOUR_MS;
    let clock = SimClock::new(run_start);
    let mut rng = Rng::new(7);
    let mut world = World::new(rng.fork(), run_start);
    let tags: BTreeMap<String, String> = [("costctl:stack".to_string(), STACK.to_string())].into();
    world.add_service(
        "orders",
        "web",
        2,
        Some(Bounds { min: 2, max: 4 }),
        tags.clone(),
        true,
    );
    world.add_service("orders", "worker", 1, None, tags.clone(), true);
    world.add_db("orders-db", false, spec(0, &tags), true);
    let scenario = quiet(world, &clock, tags, Vec::new());
    let shared = scenario.world.clone();
    let end = first_day_ms + days * DAY_MS;
    let mut exec: Executor<String> = Executor::new(clock.clone(), rng.fork());
    let mut inv = 0usize;
    let mut spawn = |exec: &mut Executor<String>, at: i64, trig: Trigger| {
        inv += 1;
        exec.spawn_at(at, inv, scenario.invocation(inv, trig));
    };
    spawn(
        &mut exec,
        first_day_ms - 5 * HOUR_MS,
        Trigger::SchedulePause,
    );
    for day in 0..days {
        let midnight = first_day_ms + day * DAY_MS;
        // 1970-01-01 was a Thursday: Monday is 0, Saturday 5, Sunday 6.
        if (midnight.div_euclid(DAY_MS) + 3).rem_euclid(7) >= 5 {
            continue;
        }
        spawn(&mut exec, midnight + 7 * HOUR_MS, Trigger::ScheduleResume);
        spawn(&mut exec, midnight + 19 * HOUR_MS, Trigger::SchedulePause);
    }
    if let Some(b) = budget {
        spawn(&mut exec, first_day_ms + b.alert_at, Trigger::BudgetActual);
        spawn(
            &mut exec,
            first_day_ms + b.forced_resume_at,
            Trigger::ManualResume { force: true },
        );
    }
    let mut tick = run_start + TICK_MS;
    while tick < end {
        spawn(&mut exec, tick, Trigger::Tick);
        tick += TICK_MS;
    }
    // The ledger, summed by the engine as `costctl savings` sums it, once the period is over.
    let reader = scenario.service(inv + 1, "savings", Mode::Full);
    let summed = async move {
        match reader.engine().savings(STACK, first_day_ms, end).await {
            Ok(s) => serde_json::to_string(&s).expect("savings serialise"),
            Err(e) => format!("error: {e}"),
        }
    }
    .boxed_local();
    exec.spawn_at(end, usize::MAX, summed);
    let mut result = None;
    loop {
        match exec.step() {
            Step::Idle => break,
            Step::Advanced { .. } => shared.lock().advance(clock.now()),
            Step::Polled {
                id,
                output: Some(out),
            } if id == usize::MAX => result = Some(out),
            Step::Polled {
                id,
                output: Some(out),
            } => {
                if !out.starts_with("reconciled: generation") || out.contains("errors [\"") {
                    shared.lock().log(format!("inv{id}: {out}"));
                }
            }
            Step::Polled { .. } => {}
        }
    }
    let w = shared.lock();
    let out = result.unwrap_or_else(|| "error: the savings task did not finish".into());
    let savings = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}"));
    OfficeHours {
        savings,
        violations: w.violations.clone(),
        trace: w.trace.clone(),
        last_report: w.store.get(STACK).and_then(|s| s.last_report.clone()),
    }
}
