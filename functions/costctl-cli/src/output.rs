//! Text and JSON output of the command line.

use costctl_core::Plan;
use costctl_core::price::Prices;
use costctl_core::savings::{self, Savings};
use costctl_engine::report::StepOutcome;
use costctl_engine::store::HistoryEntry;
use costctl_engine::{Report, SpecResult};

/// `println!` that ends the process quietly (status 0) when stdout is closed, as in
/// `costctl status --output json | head`: the reader chose to stop reading, which is no error
/// worth a panic and a backtrace.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut stdout = std::io::stdout().lock();
        if let Err(e) = writeln!(stdout, $($arg)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            panic!("writing to stdout: {e}");
        }
    }};
}

pub struct Printer {
    json: bool,
}

/// One line per executed step on a terminal, as it happens.
pub fn progress_line(o: &StepOutcome) {
    let mark = match o.outcome.as_str() {
        "ok" => "done ",
        "retry" => "retry",
        _ => "FAIL ",
    };
    match &o.error {
        Some(e) => eprintln!("  [{mark}] {} — {e}", o.description),
        None => eprintln!("  [{mark}] {}", o.description),
    }
}

impl Printer {
    pub fn new(json: bool) -> Self {
        Printer { json }
    }

    fn json(&self, v: &impl serde::Serialize) {
        out!(
            "{}",
            serde_json::to_string_pretty(v).expect("output serialises")
        );
    }

    pub fn message(&self, json: &serde_json::Value, text: &str) {
        if self.json {
            self.json(json);
        } else {
            out!("{text}");
        }
    }

    fn header(&self, r: &Report) {
        out!(
            "stack {}: desired {} (request {}), observed {}",
            r.stack,
            r.desired_state,
            r.generation,
            r.state
        );
        if let Some(l) = &r.lockout {
            out!(
                "  budget lockout until {}: {} (`resume --force` overrides it)",
                rfc3339(l.until_ms),
                l.reason
            );
        }
        if let Some(z) = &r.snooze {
            let reason = if z.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", z.reason)
            };
            out!(
                "  schedules snoozed until {} by {}{reason}",
                rfc3339(z.until_ms),
                z.by
            );
        }
        out!(
            "  estimated cost: ${:.4}/h now, ${:.4}/h when running",
            r.cost.now_per_hour,
            r.cost.running_per_hour
        );
    }

    fn notes(&self, r: &Report) {
        for n in &r.notes {
            out!("  note: {}: {}", n.resource, n.message);
        }
        for p in &r.problems {
            out!("  PROBLEM: {}: {}", p.resource, p.message);
        }
        for e in &r.errors {
            out!("  ERROR: {e}");
        }
    }

    /// The answer of apply-spec / delete-spec (the JSON is docs/ephemeral-spec.md's "Result").
    pub fn spec_result(&self, r: &SpecResult, verb: &str) {
        if self.json {
            return self.json(r);
        }
        out!("stack {}: spec {verb}", r.stack);
        for (name, lb) in &r.load_balancers {
            out!("  alb:{name:<43} {} ({})", lb.dns_name, lb.arn);
            for (port, arn) in &lb.listener_arns {
                out!("    listener {port:<6} {arn}");
            }
        }
        for (name, c) in &r.kafka_clusters {
            out!(
                "  msk:{name:<43} {} {}",
                c.state,
                c.bootstrap_brokers.as_deref().unwrap_or("")
            );
        }
        for n in &r.notes {
            out!("  note: {}: {}", n.resource, n.message);
        }
    }

    /// The stack's state, with what it saved this month so far when the ledger has it.
    pub fn status(&self, r: &Report, month: Option<&Savings>) {
        if self.json {
            let mut v = serde_json::to_value(r).expect("output serialises");
            if let (Some(m), serde_json::Value::Object(map)) = (month, &mut v) {
                map.insert(
                    "savings_month_to_date".into(),
                    serde_json::to_value(m).expect("output serialises"),
                );
            }
            return self.json(&v);
        }
        self.header(r);
        if let Some(m) = month.filter(|m| m.covered_from_ms != Some(m.to_ms)) {
            out!(
                "  saved this month: {} ({:.1} h paused or hibernated; `costctl savings` for the days)",
                savings::dollars(m.saved),
                savings::hours_down(m)
            );
        }
        for res in &r.resources {
            out!("  {:<48} {}", res.resource, res.state);
        }
        if !r.pending.is_empty() {
            out!(
                "  {} step(s) to reach {}:",
                r.pending.len(),
                r.desired_state
            );
            for p in &r.pending {
                out!("    {}", p.description);
            }
        }
        self.notes(r);
    }

    /// What a stack saved in a month: the totals and a bar per day, or the same as JSON.
    pub fn savings(&self, s: &Savings, month: &str, prices: &Prices) {
        if self.json {
            return self.json(&serde_json::json!({
                "month": month,
                "savings": s,
                "prices": {"region": prices.region, "source": prices.source, "as_of": prices.as_of},
            }));
        }
        let source = format!("{} ({})", prices.source, prices.as_of);
        let text = savings::render(s, month, &source);
        out!("{}", text.strip_suffix('\n').unwrap_or(&text));
    }

    pub fn plan(&self, r: &Report, plan: &Plan) {
        if self.json {
            return self.json(&serde_json::json!({ "report": r, "plan": plan }));
        }
        out!(
            "plan for stack {} to reach {}: {} step(s)",
            r.stack,
            r.desired_state,
            plan.steps.len()
        );
        for s in &plan.steps {
            let after = if s.after.is_empty() {
                String::new()
            } else {
                format!(
                    "  (after {})",
                    s.after
                        .iter()
                        .map(|d| format!("#{d}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            out!("  #{:<3} {}{after}", s.id, s.action);
        }
        self.notes(r);
    }

    pub fn report(&self, r: &Report) {
        if self.json {
            return self.json(r);
        }
        self.header(r);
        let ok = r.done.iter().filter(|d| d.outcome == "ok").count();
        out!(
            "  {} step(s) done, {} pending, {} pass(es), {} ms",
            ok,
            r.pending.len(),
            r.passes,
            r.elapsed_ms
        );
        self.notes(r);
        if r.succeeded() {
            out!("  reached {}", r.desired_state);
        }
    }

    pub fn history(&self, entries: &[HistoryEntry]) {
        if self.json {
            return self.json(&entries);
        }
        for e in entries {
            // Long runs keep only some steps in the store and count the rest under `omitted`.
            let steps = e.detail["steps"].as_array().map_or(0, Vec::len) as u64
                + e.detail["omitted"]["done"].as_u64().unwrap_or(0);
            let until = |v: &serde_json::Value| v["until_ms"].as_i64().map(rfc3339);
            let extra = match e.kind.as_str() {
                "request" => {
                    let mut s = e.detail["reason"].as_str().unwrap_or("").to_string();
                    if let Some(t) = until(&e.detail["snooze"]) {
                        s.push_str(&format!("; schedules held until {t}"));
                    }
                    if let Some(t) = until(&e.detail["snooze_overridden"]) {
                        s.push_str(&format!("; overrode the snooze until {t}"));
                    }
                    if let Some(t) = until(&e.detail["snooze_expired"]) {
                        s.push_str(&format!("; the snooze until {t} had expired"));
                    }
                    s
                }
                "snooze" => format!(
                    "until {} by {} {}",
                    until(&e.detail["snooze"]).unwrap_or_default(),
                    e.detail["snooze"]["by"].as_str().unwrap_or("?"),
                    e.detail["snooze"]["reason"].as_str().unwrap_or("")
                )
                .trim_end()
                .to_string(),
                "unsnooze" => match until(&e.detail["ended"]) {
                    Some(t) => format!("ended the snooze until {t}"),
                    None => "no snooze held".to_string(),
                },
                "skipped" => e.detail["skipped"].as_str().unwrap_or("").to_string(),
                _ => format!(
                    "{} step(s), now {}",
                    steps,
                    e.detail["state"].as_str().unwrap_or("?")
                ),
            };
            out!(
                "{}  #{:<4} {:<9} {:<10} {:<9} {extra}",
                rfc3339(e.at_ms),
                e.generation,
                e.kind,
                e.desired,
                e.trigger
            );
        }
    }
}

/// Unix milliseconds as an RFC 3339 UTC timestamp (to the second).
fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}
