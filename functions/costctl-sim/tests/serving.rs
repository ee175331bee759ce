//! Resume-to-serving over many seeds: every resume serves again within three hours of virtual
//! time, no service is serving before the databases, load balancers and clusters it may need
//! (the design's ordering), and the distribution is printed (BENCHMARKS.md quotes it):
//!
//!     COSTCTL_SIM_SERVING_SEEDS=1000 cargo test -p costctl-sim --test serving -- --nocapture

use costctl_core::DesiredState;
use costctl_sim::scenario::{Serving, resume_to_serving};
use std::collections::BTreeMap;

fn seeds() -> u64 {
    std::env::var("COSTCTL_SIM_SERVING_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50)
}

fn minutes(ms: i64) -> String {
    format!("{:.1} min", ms as f64 / 60_000.0)
}

fn quantile(sorted: &[i64], q: f64) -> i64 {
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn summary(level: DesiredState, runs: &[Serving]) -> String {
    let mut totals: Vec<i64> = runs.iter().map(|r| r.total_ms).collect();
    totals.sort_unstable();
    let mut gates: Vec<i64> = runs.iter().filter_map(|r| r.gate().map(|g| g.1)).collect();
    gates.sort_unstable();
    let mut after: Vec<i64> = runs
        .iter()
        .filter_map(|r| r.gate().map(|g| r.total_ms - g.1))
        .collect();
    after.sort_unstable();
    let mut last: BTreeMap<String, usize> = BTreeMap::new();
    for r in runs {
        if let Some((g, _)) = r.gate() {
            let kind = g.split([':', ' ']).next().unwrap_or(g).to_string();
            *last.entry(kind).or_default() += 1;
        }
    }
    format!(
        "resume from {level} over {} seeds: serving after median {}, p90 {}, worst {}; the services' gate (last of rds/alb/msk/ssm/alias ready) median {}, worst {}; services steady after the gate median {}, worst {}; the gate was last ready: {last:?}",
        runs.len(),
        minutes(quantile(&totals, 0.5)),
        minutes(quantile(&totals, 0.9)),
        minutes(*totals.last().unwrap()),
        minutes(quantile(&gates, 0.5)),
        minutes(*gates.last().unwrap()),
        minutes(quantile(&after, 0.5)),
        minutes(*after.last().unwrap()),
    )
}

#[test]
fn resumes_serve_again_in_the_designs_order() {
    for level in [DesiredState::Paused, DesiredState::Hibernated] {
        let runs: Vec<Serving> = (0..seeds()).map(|s| resume_to_serving(s, level)).collect();
        for r in &runs {
            assert!(
                r.violations.is_empty(),
                "seed {} ({level}): {:?}\nready: {:?}",
                r.seed,
                r.violations,
                r.ready_ms
            );
            assert!(
                r.ready_ms.keys().any(|k| k.starts_with("ecs:"))
                    && r.ready_ms.keys().any(|k| k.starts_with("rds:")),
                "seed {}: {:?}",
                r.seed,
                r.ready_ms
            );
        }
        println!("{}", summary(level, &runs));
    }
}
