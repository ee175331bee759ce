//! The savings ledger: the estimated cost rate of a stack at each observed change, and what it
//! adds up to — dollars saved = ∫ (running rate − actual rate) dt, per UTC calendar month and
//! per day, with the hours spent in each state and what the stack cost while it was down.
//!
//! Pure: the state store keeps the points ([`LedgerPoint`]), the engine appends one when a
//! reconcile observes a new state or cost rate, and [`summarize`] integrates them. Between two
//! points the rate is the earlier one's (a step function): a reconcile observes every change it
//! makes, and the tick observes the rest within its period.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

const HOUR_MS: f64 = 3_600_000.0;
const DAY_MS: i64 = 86_400_000;

/// From `at_ms` on, the stack was in `state` and cost `now_per_hour`; running it would have
/// cost `running_per_hour`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerPoint {
    pub at_ms: i64,
    /// The observed state: `running`, `paused`, `hibernated` or `transitioning`.
    pub state: String,
    pub now_per_hour: f64,
    pub running_per_hour: f64,
}

impl LedgerPoint {
    /// What `ms` milliseconds at this point's rates cost, and would have cost running: the
    /// one integration step of the ledger (the summaries and the `SavedDollars` metric).
    pub fn costs_over(&self, ms: i64) -> (f64, f64) {
        let hours = ms as f64 / HOUR_MS;
        (self.now_per_hour * hours, self.running_per_hour * hours)
    }

    /// What `ms` milliseconds at this point's rates saved.
    pub fn saved_over(&self, ms: i64) -> f64 {
        let (cost, running) = self.costs_over(ms);
        running - cost
    }

    /// Whether `next` says something this point does not (a new state or a new rate).
    pub fn differs(&self, next: &LedgerPoint) -> bool {
        self.state != next.state
            || (self.now_per_hour - next.now_per_hour).abs() > 1e-9
            || (self.running_per_hour - next.running_per_hour).abs() > 1e-9
    }
}

/// The points a store answers for `[from_ms, to_ms)` out of all of a stack's (in time order):
/// the last one before `from_ms`, then those inside.
pub fn window(points: &[LedgerPoint], from_ms: i64, to_ms: i64) -> Vec<LedgerPoint> {
    let first = points.partition_point(|p| p.at_ms < from_ms);
    let end = points.partition_point(|p| p.at_ms < to_ms);
    points[first.saturating_sub(1)..end.max(first.saturating_sub(1))].to_vec()
}

/// One UTC day of a summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Day {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub saved: f64,
    pub cost: f64,
    /// Hours paused or hibernated.
    pub hours_down: f64,
}

/// What a stack saved over a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Savings {
    pub stack: String,
    /// The period asked for, `[from, to)` in unix ms (`to` is now for the current month).
    pub from_ms: i64,
    pub to_ms: i64,
    /// Where the ledger's record begins inside the period, when it began after `from_ms`
    /// (costctl was installed, or upgraded to a version that keeps the ledger, since): nothing
    /// before it is counted. `None`: the whole period is covered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covered_from_ms: Option<i64>,
    /// Dollars saved: what running all the time would have cost, less what it cost.
    pub saved: f64,
    /// What the stack cost over the covered period, by the estimates.
    pub cost: f64,
    /// What it would have cost running all the time.
    pub running_cost: f64,
    /// What it cost while paused or hibernated: storage, snapshots, addresses that keep
    /// costing. (Transitions are neither: they are counted in `hours` as `transitioning`.)
    pub cost_while_down: f64,
    /// Hours in each observed state.
    pub hours: BTreeMap<String, f64>,
    pub days: Vec<Day>,
}

/// Integrates the ledger over `[from_ms, to_ms)`. `points` are in time order and should
/// include the last point before `from_ms` (the rate in force when the period begins).
pub fn summarize(stack: &str, points: &[LedgerPoint], from_ms: i64, to_ms: i64) -> Savings {
    let mut out = Savings {
        stack: stack.into(),
        from_ms,
        to_ms,
        covered_from_ms: None,
        saved: 0.0,
        cost: 0.0,
        running_cost: 0.0,
        cost_while_down: 0.0,
        hours: BTreeMap::new(),
        days: Vec::new(),
    };
    let mut days: BTreeMap<i64, Day> = BTreeMap::new();
    for (i, p) in points.iter().enumerate() {
        let start = p.at_ms.max(from_ms);
        let end = points.get(i + 1).map_or(to_ms, |n| n.at_ms).min(to_ms);
        if end <= start {
            continue;
        }
        if i == 0 && p.at_ms > from_ms {
            out.covered_from_ms = Some(p.at_ms);
        }
        // Split at UTC midnights so that each day gets its own share.
        let mut t = start;
        while t < end {
            let day = t.div_euclid(DAY_MS);
            let until = ((day + 1) * DAY_MS).min(end);
            let hours = (until - t) as f64 / HOUR_MS;
            let (cost, running) = p.costs_over(until - t);
            out.cost += cost;
            out.running_cost += running;
            *out.hours.entry(p.state.clone()).or_default() += hours;
            let d = days.entry(day).or_insert_with(|| Day {
                date: date_of(day * DAY_MS),
                saved: 0.0,
                cost: 0.0,
                hours_down: 0.0,
            });
            d.saved += running - cost;
            d.cost += cost;
            if is_down(&p.state) {
                out.cost_while_down += cost;
                d.hours_down += hours;
            }
            t = until;
        }
    }
    if points.is_empty() {
        out.covered_from_ms = Some(to_ms);
    }
    out.saved = out.running_cost - out.cost;
    out.days = days.into_values().collect();
    out
}

/// Paused or hibernated: what "down" means in a summary.
pub fn is_down(state: &str) -> bool {
    matches!(state, "paused" | "hibernated")
}

/// Hours paused or hibernated.
pub fn hours_down(s: &Savings) -> f64 {
    s.hours
        .iter()
        .filter(|(k, _)| is_down(k))
        .map(|(_, h)| h)
        .sum()
}

fn date_of(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
        .unwrap_or_default()
}

/// A month asked for on the command line (`YYYY-MM`) is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid month `{0}`: expected YYYY-MM, e.g. 2026-11")]
pub struct BadMonth(pub String);

/// The UTC calendar month `YYYY-MM` as `[first instant, first instant of the next)`, in ms.
pub fn month_bounds(month: &str) -> Result<(i64, i64), BadMonth> {
    let bad = || BadMonth(month.to_string());
    let (y, m) = month.split_once('-').ok_or_else(bad)?;
    if y.len() != 4 || m.len() != 2 {
        return Err(bad());
    }
    let year: i16 = y.parse().map_err(|_| bad())?;
    let mon: i8 = m.parse().map_err(|_| bad())?;
    let first = Date::new(year, mon, 1).map_err(|_| bad())?;
    let next = first
        .checked_add(jiff::Span::new().months(1))
        .map_err(|_| bad())?;
    let ms = |d: Date| -> Result<i64, BadMonth> {
        Ok(d.to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|_| bad())?
            .timestamp()
            .as_millisecond())
    };
    Ok((ms(first)?, ms(next)?))
}

/// The UTC month (`YYYY-MM`) an instant falls in.
pub fn month_of(ms: i64) -> String {
    date_of(ms)[..7].to_string()
}

/// Money as people read it: to the cent, and `<$0.01` for a positive amount below half a cent
/// (a pause of a few minutes), which would otherwise read as nothing.
pub fn dollars(x: f64) -> String {
    if x > 0.0 && x < 0.005 {
        "<$0.01".into()
    } else {
        format!("${x:.2}")
    }
}

/// The columns a chart line may use (a terminal's classic width).
pub const CHART_WIDTH: usize = 80;

/// The text report: totals, hours per state, and one bar per day of the dollars saved, every
/// line at most [`CHART_WIDTH`] columns.
pub fn render(s: &Savings, month: &str, prices_source: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}: {month} (UTC)", s.stack);
    match s.covered_from_ms {
        Some(t) if t >= s.to_ms => {
            let _ = writeln!(
                out,
                "no ledger for this period: costctl records the cost rate from its first reconcile on"
            );
            return out;
        }
        Some(t) => {
            let _ = writeln!(out, "ledger from {} on", stamp(t));
        }
        None => {}
    }
    let _ = writeln!(
        out,
        "saved {}  (running throughout: {}; it cost {})",
        dollars(s.saved),
        dollars(s.running_cost),
        dollars(s.cost)
    );
    let _ = writeln!(
        out,
        "paused or hibernated {:.1} h, costing {} (storage, snapshots, addresses)",
        hours_down(s),
        dollars(s.cost_while_down)
    );
    let hours: Vec<String> = ["running", "paused", "hibernated", "transitioning"]
        .iter()
        .filter_map(|k| s.hours.get(*k).map(|h| format!("{k} {h:.1} h")))
        .collect();
    let _ = writeln!(out, "hours: {}", hours.join(", "));
    out.push_str(&wrap(
        &format!("prices: {prices_source}"),
        CHART_WIDTH,
        "        ",
    ));
    if !s.days.is_empty() {
        let _ = writeln!(out);
        out.push_str(&chart(&s.days));
    }
    out
}

/// One line per day: `MM-DD │bar… $x.xx`, the longest bar for the best day.
fn chart(days: &[Day]) -> String {
    // "12-01 │" (7) + bar + " " + amount (up to 10).
    const BAR: usize = CHART_WIDTH - 7 - 1 - 10;
    let max = days.iter().map(|d| d.saved).fold(0.0_f64, f64::max);
    let mut out = String::new();
    for d in days {
        let eighths = if max > 0.0 {
            ((d.saved.max(0.0) / max) * (BAR * 8) as f64).round() as usize
        } else {
            0
        };
        let mut bar = "█".repeat(eighths / 8);
        if eighths % 8 > 0 {
            bar.push(['▏', '▎', '▍', '▌', '▋', '▊', '▉'][eighths % 8 - 1]);
        }
        let _ = writeln!(out, "{} │{bar} {}", &d.date[5..], dollars(d.saved));
    }
    out
}

/// Words wrapped at `width` columns, continuation lines indented.
fn wrap(text: &str, width: usize, indent: &str) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            out.push_str(&line);
            out.push('\n');
            line = indent.to_string();
        } else if !line.is_empty() && line != indent {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

fn stamp(ms: i64) -> String {
    Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    // 2026-11-02T00:00:00Z, a Monday.
    const MON: i64 = 1_793_577_600_000;

    fn point(at_ms: i64, state: &str, now: f64, running: f64) -> LedgerPoint {
        LedgerPoint {
            at_ms,
            state: state.into(),
            now_per_hour: now,
            running_per_hour: running,
        }
    }

    #[test]
    fn the_rate_in_force_at_the_start_counts_and_days_split_at_midnight() {
        // Paused since Sunday 19:00 at $0.01/h (running $1/h), resumed Monday 07:00, paused
        // again Monday 19:00.
        let points = [
            point(MON - 5 * H, "paused", 0.01, 1.0),
            point(MON + 7 * H, "running", 1.0, 1.0),
            point(MON + 19 * H, "paused", 0.01, 1.0),
        ];
        let s = summarize("demo", &points, MON, MON + 2 * 24 * H);
        assert_eq!(s.covered_from_ms, None);
        // Down: 7 h + 29 h = 36 h, saving 0.99 each.
        assert!((s.saved - 36.0 * 0.99).abs() < 1e-9, "{}", s.saved);
        assert!((s.cost_while_down - 36.0 * 0.01).abs() < 1e-9);
        assert!((s.hours["running"] - 12.0).abs() < 1e-9);
        assert!((s.hours["paused"] - 36.0).abs() < 1e-9);
        assert_eq!(s.days.len(), 2);
        assert_eq!(s.days[0].date, "2026-11-02");
        assert!((s.days[0].saved - 12.0 * 0.99).abs() < 1e-9);
        assert!((s.days[1].hours_down - 24.0).abs() < 1e-9);
    }

    #[test]
    fn a_ledger_that_begins_late_says_so_and_counts_nothing_before() {
        let points = [point(MON + 10 * H, "paused", 0.0, 2.0)];
        let s = summarize("demo", &points, MON, MON + 20 * H);
        assert_eq!(s.covered_from_ms, Some(MON + 10 * H));
        assert!((s.saved - 20.0).abs() < 1e-9);
        let empty = summarize("demo", &[], MON, MON + 20 * H);
        assert_eq!(empty.saved, 0.0);
        assert!(render(&empty, "2026-11", "x").contains("no ledger for this period"));
    }

    #[test]
    fn a_window_starts_with_the_rate_in_force() {
        let points: Vec<LedgerPoint> = (0..5).map(|i| point(i * 10, "paused", 0.0, 1.0)).collect();
        let at = |w: Vec<LedgerPoint>| w.iter().map(|p| p.at_ms).collect::<Vec<_>>();
        assert_eq!(at(window(&points, 15, 35)), [10, 20, 30]);
        assert_eq!(at(window(&points, 20, 30)), [10, 20]);
        assert_eq!(at(window(&points, 0, 5)), [0]);
        assert_eq!(at(window(&points, 100, 200)), [40]);
        assert!(window(&points, -10, -5).is_empty());
    }

    #[test]
    fn months_are_utc_calendar_months() {
        let (a, b) = month_bounds("2026-02").unwrap();
        assert_eq!((b - a) / (24 * H), 28);
        let (c, d) = month_bounds("2028-02").unwrap();
        assert_eq!((d - c) / (24 * H), 29);
        assert_eq!(month_of(MON), "2026-11");
        assert_eq!(
            month_bounds("2026-12").unwrap().1,
            month_bounds("2027-01").unwrap().0
        );
        for bad in [
            "2026-13",
            "2026-1",
            "26-01",
            "2026/01",
            "",
            "2026-00",
            "2026-01-01",
        ] {
            assert_eq!(month_bounds(bad), Err(BadMonth(bad.into())), "{bad}");
        }
    }

    #[test]
    fn the_chart_fits_80_columns_and_its_longest_bar_is_the_best_day() {
        let mut points = Vec::new();
        for d in 0..30 {
            let t = MON - 24 * H + d * 24 * H;
            points.push(point(t, "running", 1.2345, 1.2345));
            points.push(point(t + 7 * H + d * H / 3, "paused", 0.004, 1.2345));
        }
        let s = summarize(
            "a-stack-with-a-rather-long-name",
            &points,
            MON,
            MON + 30 * 24 * H,
        );
        let source = "built-in table for us-east-1: AWS on-demand list prices (a long sentence that goes on)";
        let text = render(&s, "2026-11", source);
        for line in text.lines() {
            assert!(
                line.chars().count() <= CHART_WIDTH,
                "{} columns: {line}",
                line.chars().count()
            );
        }
        let bars: Vec<usize> = text
            .lines()
            .filter(|l| l.contains('│'))
            .map(|l| l.chars().filter(|c| "█▏▎▍▌▋▊▉".contains(*c)).count())
            .collect();
        assert_eq!(bars.len(), 30);
        let best = s
            .days
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.saved.total_cmp(&b.1.saved))
            .unwrap()
            .0;
        assert_eq!(bars[best], *bars.iter().max().unwrap());
        assert!(bars[0] < bars[best]);
        assert!(text.contains("saved $"), "{text}");
    }
}
