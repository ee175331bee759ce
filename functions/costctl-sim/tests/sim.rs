//! The seed-driven simulation runner.
//!
//! - default: `COSTCTL_SIM_SEEDS` seeds (2000 unless set: half of them with an ephemeral tier,
//!   which takes about twice as long, keeping the debug test near 80 s on two cores) starting at `COSTCTL_SIM_START` (0);
//! - many more: `COSTCTL_SIM_SEEDS=100000 cargo test -p costctl-sim --release --test sim`;
//! - one seed, with its whole trace: `COSTCTL_SIM_SEED=1234 cargo test -p costctl-sim --release --test sim -- --nocapture`.

use std::time::Instant;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[test]
fn sim() {
    if let Some(seed) = env_u64("COSTCTL_SIM_SEED") {
        let out = costctl_sim::run(seed);
        println!("{}", out.trace.join("\n"));
        assert!(out.ok(), "{}", out.explain());
        return;
    }
    let start = env_u64("COSTCTL_SIM_START").unwrap_or(0);
    let seeds = env_u64("COSTCTL_SIM_SEEDS").unwrap_or(2000);
    let t0 = Instant::now();
    let (mut calls, mut crashes, mut invocations, mut virtual_ms) = (0u64, 0u64, 0usize, 0i64);
    for seed in start..start + seeds {
        let out = costctl_sim::run(seed);
        assert!(out.ok(), "{}", out.explain());
        calls += out.calls;
        crashes += u64::from(out.crashes);
        invocations += out.invocations;
        virtual_ms += out.virtual_ms;
    }
    println!(
        "simulated {seeds} seeds from {start} in {:.1}s: {invocations} invocations, {calls} calls, {crashes} crashes, {:.0} virtual days",
        t0.elapsed().as_secs_f64(),
        virtual_ms as f64 / 86_400_000.0
    );
}

#[test]
fn same_seed_same_trace() {
    for seed in [1, 77, 4242] {
        assert_eq!(costctl_sim::run(seed).trace, costctl_sim::run(seed).trace);
    }
}

/// Seeds that found real bugs (see the README of this crate); they must stay green.
#[test]
fn regression_seeds() {
    // 9, 40, 604, 311: the ephemeral tier (an orphaned cluster after a failed create, a cluster
    // recorded while being deleted, a report judged against a spec stored after it, a second
    // cluster created after a late lookup answer outlived the lease; 9936: an ALB apply that
    // went on after its lease expired).
    for seed in [8, 775, 1633, 9867, 9, 40, 604, 311, 9936] {
        let out = costctl_sim::run(seed);
        assert!(out.ok(), "{}", out.explain());
    }
}
