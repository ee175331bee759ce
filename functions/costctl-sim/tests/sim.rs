//! The seed-driven simulation runner.
//!
//! - default: `COSTCTL_SIM_SEEDS` seeds (2000 unless set: half of them with an ephemeral tier,
//!   which takes about twice as long, two in five of those with a network tier too: the debug
//!   test takes about 140 s on two cores) starting at `COSTCTL_SIM_START` (0);
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
    let mut network = 0u64;
    for seed in start..start + seeds {
        let out = costctl_sim::run(seed);
        assert!(out.ok(), "{}", out.explain());
        network += u64::from(out.network);
        calls += out.calls;
        crashes += u64::from(out.crashes);
        invocations += out.invocations;
        virtual_ms += out.virtual_ms;
    }
    println!(
        "simulated {seeds} seeds from {start} in {:.1}s ({network} with a network tier): {invocations} invocations, {calls} calls, {crashes} crashes, {:.0} virtual days",
        t0.elapsed().as_secs_f64(),
        virtual_ms as f64 / 86_400_000.0
    );
    // About a fifth of the seeds have NAT gateways and endpoints (two in five of the half with
    // an ephemeral tier), or the campaign says little about them.
    assert!(
        seeds < 100 || network * 8 > seeds,
        "only {network} of {seeds} seeds with a network tier"
    );
}

#[test]
fn same_seed_same_trace() {
    // 20: a network tier (adopted from Terraform).
    for seed in [1, 77, 4242, 20] {
        assert_eq!(costctl_sim::run(seed).trace, costctl_sim::run(seed).trace);
    }
}

/// Seeds that found real bugs (see the README of this crate); they must stay green.
#[test]
fn regression_seeds() {
    // 9, 40, 604, 311: the ephemeral tier (an orphaned cluster after a failed create, a cluster
    // recorded while being deleted, a report judged against a spec stored after it, a second
    // cluster created after a late lookup answer outlived the lease; 9936: an ALB apply that
    // went on after its lease expired; 1522: a Terraform delete sent after its lease ended,
    // the answer to its lease request having come 3 minutes late; 2801: an ALB rightly kept
    // by a pause, its web ACL not named by the spec Terraform gave meanwhile, that the
    // invariant took for a leftover).
    // Replayed as they were found (9867, 604, 311 and 2801 draw a network tier now: without
    // it), and as the campaign runs them now.
    for seed in [8, 775, 1633, 9867, 9, 40, 604, 311, 9936, 1522, 2801] {
        let out = costctl_sim::run_without_network(seed);
        assert!(!out.network && out.ok(), "{}", out.explain());
        let out = costctl_sim::run(seed);
        assert!(out.ok(), "{}", out.explain());
    }
}

/// The ALB apply loop (production's pure diff and fenced loop, the simulated cloud's calls)
/// sends no changing call once its fence time has come, whatever call a late answer delays,
/// and a second apply completes what a fenced one left.
#[test]
fn alb_apply_sends_nothing_after_its_fence() {
    let seeds = env_u64("COSTCTL_FENCE_SEEDS").unwrap_or(400);
    let (mut sent, mut cut) = (0, 0);
    for seed in 0..seeds {
        let (n, fenced) = costctl_sim::alb::fence_trial(seed).unwrap_or_else(|e| panic!("{e}"));
        sent += n;
        cut += usize::from(fenced);
    }
    println!("{seeds} trials: {sent} changing calls, {cut} first applies stopped by the fence");
    // Both outcomes must be common, or the trials prove nothing about the fence.
    let seeds = usize::try_from(seeds).unwrap_or(usize::MAX);
    assert!(
        cut > seeds / 5 && cut < seeds * 4 / 5,
        "{cut} of {seeds} cut"
    );
    assert!(sent > seeds * 5, "the trials sent only {sent} calls");
}
