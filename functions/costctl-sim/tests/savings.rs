//! The savings ledger over simulated weeks: what the production engine recorded and summed,
//! against a hand calculation.

use costctl_core::price::{HOURS_PER_MONTH, Prices};
use costctl_core::savings::{CHART_WIDTH, render};
use costctl_sim::scenario::{
    BudgetEpisode, DAY_MS, FEBRUARY_MS, HOUR_MS, WEEK_START_MS, office_hours,
};

/// A week of office hours (Mon–Fri 07:00–19:00 UTC running, nights and the weekend paused)
/// with a budget alert on Wednesday at 20:00 that hibernates the stack until a person forces a
/// resume on Thursday at 09:00 (the 07:00 scheduled resume is refused by the lockout).
#[test]
fn a_week_of_office_hours_and_a_budget_hibernation_saves_what_the_hand_calculation_says() {
    let run = office_hours(
        WEEK_START_MS,
        7,
        Some(BudgetEpisode {
            alert_at: 2 * DAY_MS + 20 * HOUR_MS,
            forced_resume_at: 3 * DAY_MS + 9 * HOUR_MS,
        }),
    );
    assert!(
        run.violations.is_empty(),
        "{:?}\n{}",
        run.violations,
        run.trace.join("\n")
    );

    // By hand, from the us-east-1 list prices: three 0.25 vCPU / 0.5 GB Fargate tasks, one
    // db.t4g.micro with 20 GB of gp2.
    let task = 0.25 * 0.04048 + 0.5 * 0.004445;
    let storage = 20.0 * 0.115 / HOURS_PER_MONTH;
    let snapshot = 20.0 * 0.095 / HOURS_PER_MONTH;
    let running = 3.0 * task + 0.016 + storage;
    let paused = storage;
    let hibernated = snapshot;
    // Hours of the week (168): running Mon, Tue, Wed, Fri 07–19 and Thu 09–19 = 58;
    // hibernated Wed 20:00 – Thu 09:00 = 13; paused the other 97 (Mon 00–07, three nights of
    // 12 h, Wed 19–20, Friday 19:00 to Monday 00:00 = 53).
    let (h_run, h_hib) = (58.0, 13.0);
    let h_paused = 168.0 - h_run - h_hib;
    let expected = h_paused * (running - paused) + h_hib * (running - hibernated);
    let cost_down = h_paused * paused + h_hib * hibernated;

    let s = &run.savings;
    let off = (s.saved - expected).abs() / expected;
    assert!(
        off < 0.01,
        "saved {:.4} by the ledger, {expected:.4} by hand ({:.2} % off)\n{}",
        s.saved,
        off * 100.0,
        render(s, "2026-01", "test")
    );
    assert!((s.running_cost - 168.0 * running).abs() / (168.0 * running) < 0.01);
    assert!(
        (s.cost_while_down - cost_down).abs() / cost_down < 0.05,
        "cost while down {:.4}, by hand {cost_down:.4}",
        s.cost_while_down
    );
    let hours = |k: &str| s.hours.get(k).copied().unwrap_or(0.0);
    assert!((hours("running") - h_run).abs() < 1.5, "{:?}", s.hours);
    assert!((hours("hibernated") - h_hib).abs() < 1.0, "{:?}", s.hours);
    assert!((hours("paused") - h_paused).abs() < 1.5, "{:?}", s.hours);
    assert!(hours("transitioning") < 2.0, "{:?}", s.hours);
    let total: f64 = s.hours.values().sum();
    assert!(
        (total - 168.0).abs() < 1e-6,
        "the ledger covers the whole week: {total}"
    );
    assert_eq!(s.covered_from_ms, None);
    // Per day: the weekend saves a whole day's running cost, a weekday half of it.
    assert_eq!(s.days.len(), 7);
    let day = 24.0 * (running - paused);
    assert!(
        (s.days[5].saved - day).abs() / day < 0.01,
        "{:?}",
        s.days[5]
    );
    assert!(
        (s.days[1].saved - day / 2.0).abs() / day < 0.02,
        "{:?}",
        s.days[1]
    );
    // The prices the sim's engine used are the default table's.
    assert_eq!(Prices::default().region, "us-east-1");
}

/// February 2026 of office hours with a budget hibernation from Wednesday the 18th at 21:00
/// to a forced resume on Thursday the 19th at 08:00, printed as `costctl savings` prints it
/// (`docs/savings.md` shows this output): every line fits 80 columns.
#[test]
fn a_simulated_month_renders_in_80_columns() {
    let run = office_hours(
        FEBRUARY_MS,
        28,
        Some(BudgetEpisode {
            alert_at: 17 * DAY_MS + 21 * HOUR_MS,
            forced_resume_at: 18 * DAY_MS + 8 * HOUR_MS,
        }),
    );
    assert!(run.violations.is_empty(), "{:?}", run.violations);
    let prices = Prices::default();
    let text = render(
        &run.savings,
        "2026-02",
        &format!("{} ({})", prices.source, prices.as_of),
    );
    println!("{text}");
    assert_eq!(text.lines().filter(|l| l.contains('│')).count(), 28);
    for line in text.lines() {
        assert!(line.chars().count() <= CHART_WIDTH, "{line}");
    }
    // Weekends save the most: their bars are the longest.
    let bar = |date: &str| {
        text.lines()
            .find(|l| l.starts_with(date))
            .map(|l| l.chars().filter(|c| *c == '█').count())
            .unwrap_or(0)
    };
    assert!(bar("02-07") > bar("02-04"), "{text}");
    assert!(
        run.savings.hours["hibernated"] > 10.0,
        "{:?}",
        run.savings.hours
    );
}
