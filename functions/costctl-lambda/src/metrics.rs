//! CloudWatch metrics in the Embedded Metric Format: one JSON log line per stack report of an
//! invocation, which CloudWatch Logs turns into metrics without a `PutMetricData` call (and
//! without its IAM grant). Specification: Amazon CloudWatch User Guide, "Specification:
//! Embedded metric format" — a root `_aws` object with `Timestamp` (ms) and
//! `CloudWatchMetrics` directives (`Namespace`, `Dimensions`, `Metrics`), each dimension and
//! metric named in a directive being a member of the root object.

use costctl_engine::Report;
use serde_json::{Value, json};

/// The namespace of costctl's metrics (the module's dashboard and alarms read it).
pub const NAMESPACE: &str = "costctl";

/// The metrics of one line: name, unit, value.
fn values(r: &Report) -> Vec<(&'static str, &'static str, f64)> {
    let level = match r.state.as_str() {
        "running" => 3.0,
        "transitioning" => 2.0,
        "paused" => 1.0,
        _ => 0.0, // hibernated (and unknown)
    };
    let mut out = vec![
        ("CostPerHour", "None", r.cost.now_per_hour),
        ("RunningCostPerHour", "None", r.cost.running_per_hour),
        (
            "SavingPerHour",
            "None",
            (r.cost.running_per_hour - r.cost.now_per_hour).max(0.0),
        ),
        (
            "Problems",
            "Count",
            (r.problems.len() + r.errors.len()) as f64,
        ),
        ("StateLevel", "None", level),
    ];
    // How long a reconcile that did something took: the transition's duration.
    if !r.done.is_empty() {
        out.push(("TransitionSeconds", "Seconds", r.elapsed_ms as f64 / 1000.0));
    }
    // Dollars saved since the stack's previous reconcile, at that reconcile's rates: summed
    // (statistic Sum) over a month it is the month's savings, as the ledger counts them.
    if let Some(saved) = r.saved_since_last {
        out.push(("SavedDollars", "None", saved));
    }
    // The same increments summed over the UTC month so far (a gauge: the latest value is the
    // month's saving since the ledger began).
    if let Some(m) = &r.month_saved {
        out.push(("SavedThisMonth", "None", m.dollars));
    }
    // Since when the requested state is awaited: what the overdue alarm watches (a resume
    // still not reached half an hour after its request). 0 once reached. Only a reconcile's
    // report knows its request time.
    if r.requested_at_ms > 0 && r.finished_at_ms > 0 {
        let pending = if r.converged {
            0.0
        } else {
            ((r.finished_at_ms - r.requested_at_ms).max(0) as f64) / 1000.0
        };
        out.push(("PendingSeconds", "Seconds", pending));
    }
    out
}

/// One EMF line for `report`, as of `now_ms`.
pub fn emf_line(report: &Report, function: &str, now_ms: i64) -> String {
    let metrics = values(report);
    let mut root = json!({
        "_aws": {
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [["Stack"]],
                "Metrics": metrics.iter().map(|(name, unit, _)| json!({"Name": name, "Unit": unit})).collect::<Vec<_>>(),
            }],
        },
        "Stack": report.stack,
        // Members that are not metrics: searchable in Logs Insights, no metric cost.
        "State": report.state,
        "Desired": report.desired_state,
        "Generation": report.generation,
        "Function": function,
    });
    for (name, _, v) in metrics {
        root[name] = Value::from(v);
    }
    root.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use costctl_core::DesiredState;

    /// The specification's rules, checked on a line: a root `_aws` object with an integer
    /// `Timestamp` and an array of 1+ directives; each with a 1–1024 character `Namespace`,
    /// `Dimensions` an array of dimension sets of at most 30 names, each a string member of the
    /// root, and 1–100 `Metrics`, each with a `Name` that is a numeric member of the root and,
    /// if present, a `Unit` among CloudWatch's units.
    fn check_emf(line: &str) -> Result<(), String> {
        const UNITS: [&str; 27] = [
            "Seconds",
            "Microseconds",
            "Milliseconds",
            "Bytes",
            "Kilobytes",
            "Megabytes",
            "Gigabytes",
            "Terabytes",
            "Bits",
            "Kilobits",
            "Megabits",
            "Gigabits",
            "Terabits",
            "Percent",
            "Count",
            "Bytes/Second",
            "Kilobytes/Second",
            "Megabytes/Second",
            "Gigabytes/Second",
            "Terabytes/Second",
            "Bits/Second",
            "Kilobits/Second",
            "Megabits/Second",
            "Gigabits/Second",
            "Terabits/Second",
            "Count/Second",
            "None",
        ];
        let v: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let aws = v
            .get("_aws")
            .and_then(Value::as_object)
            .ok_or("no _aws object")?;
        aws.get("Timestamp")
            .and_then(Value::as_i64)
            .ok_or("_aws.Timestamp is not an integer")?;
        let directives = aws
            .get("CloudWatchMetrics")
            .and_then(Value::as_array)
            .filter(|d| !d.is_empty())
            .ok_or("_aws.CloudWatchMetrics is not a non-empty array")?;
        for d in directives {
            let ns = d["Namespace"].as_str().ok_or("no Namespace")?;
            if ns.is_empty() || ns.len() > 1024 {
                return Err("Namespace length".into());
            }
            for set in d["Dimensions"].as_array().ok_or("no Dimensions array")? {
                let set = set.as_array().ok_or("a dimension set is not an array")?;
                if set.len() > 30 {
                    return Err("more than 30 dimensions".into());
                }
                for name in set {
                    let name = name.as_str().ok_or("a dimension name is not a string")?;
                    v.get(name)
                        .and_then(Value::as_str)
                        .ok_or(format!("dimension {name} is not a string member"))?;
                }
            }
            let metrics = d["Metrics"].as_array().ok_or("no Metrics array")?;
            if metrics.is_empty() || metrics.len() > 100 {
                return Err("1 to 100 metrics".into());
            }
            for m in metrics {
                let name = m["Name"].as_str().ok_or("a metric has no Name")?;
                v.get(name)
                    .and_then(Value::as_f64)
                    .ok_or(format!("metric {name} is not a numeric member"))?;
                if let Some(unit) = m.get("Unit")
                    && !UNITS.contains(&unit.as_str().unwrap_or(""))
                {
                    return Err(format!("unit {unit} of {name}"));
                }
            }
        }
        Ok(())
    }

    #[test]
    fn lines_follow_the_embedded_metric_format() {
        let mut r = Report::new("order-tracking-dev", DesiredState::Paused, 4);
        r.state = "paused".into();
        r.cost.now_per_hour = 0.01;
        r.cost.running_per_hour = 0.15;
        r.errors.push("x".into());
        let line = emf_line(&r, "costctl-full", 1_796_000_000_000);
        check_emf(&line).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["Stack"], "order-tracking-dev");
        assert!((v["SavingPerHour"].as_f64().unwrap() - 0.14).abs() < 1e-9);
        assert_eq!(v["Problems"], 1.0);
        assert_eq!(v["StateLevel"], 1.0);
        assert!(v.get("TransitionSeconds").is_none(), "no step, no duration");
        assert!(
            v.get("SavedDollars").is_none(),
            "no previous reconcile, no saving"
        );
        assert!(
            v.get("PendingSeconds").is_none(),
            "a status knows no request time"
        );

        // A reconcile 40 minutes into a resume it has not reached, 5 minutes after the last.
        r.requested_at_ms = 1_796_000_000_000 - 40 * 60_000;
        r.finished_at_ms = 1_796_000_000_000;
        r.saved_since_last = Some(0.14 * 5.0 / 60.0);
        r.month_saved = Some(costctl_engine::report::MonthSaved {
            month: "2026-11".into(),
            dollars: 3.5,
        });
        let line = emf_line(&r, "costctl-full", 1_796_000_000_000);
        check_emf(&line).unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["PendingSeconds"], 2400.0);
        assert_eq!(v["SavedThisMonth"], 3.5);
        assert!((v["SavedDollars"].as_f64().unwrap() - 0.011_666).abs() < 1e-5);
        r.converged = true;
        let v: Value = serde_json::from_str(&emf_line(&r, "f", 1)).unwrap();
        assert_eq!(v["PendingSeconds"], 0.0, "reached: nothing pending");
        assert!(!line.contains('\n'), "one line");

        // The validator refuses what the specification refuses.
        for bad in [
            r#"{"Stack":"s","CostPerHour":1}"#,
            r#"{"_aws":{"Timestamp":"now","CloudWatchMetrics":[]}}"#,
            r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"costctl","Dimensions":[["Stack"]],"Metrics":[{"Name":"CostPerHour"}]}]},"CostPerHour":1}"#,
            r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"costctl","Dimensions":[["Stack"]],"Metrics":[{"Name":"CostPerHour","Unit":"Dollars"}]}]},"Stack":"s","CostPerHour":1}"#,
        ] {
            assert!(check_emf(bad).is_err(), "{bad}");
        }
    }
}
