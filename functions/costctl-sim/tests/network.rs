//! The network tier under targeted faults: a NAT gateway create whose answer is lost (the
//! client token must keep it from being made twice), and a route replacement that is skipped
//! (the invariants must name the route).

use costctl_sim::scenario::{NetworkPlan, network_trial};
use costctl_sim::world::World;
use serde_json::json;

/// One NAT gateway in `subnet-0pa` whose default route goes into `rtb-0priva`: private (no
/// Elastic IP, which EC2 would refuse to a second gateway and so hide a double create) or
/// public with `eipalloc-0nata`.
fn one_nat(public: bool, start: &'static str) -> NetworkPlan {
    let mut nat = json!({
        "subnet_id": "subnet-0pa",
        "connectivity_type": if public { "public" } else { "private" },
        "tags": {"costctl:stack": "order-tracking-dev", "Name": "ot-dev-nat-0"},
        "routes": [{"route_table_id": "rtb-0priva", "destination_cidr_block": "0.0.0.0/0"}],
    });
    if public {
        nat["allocation_id"] = "eipalloc-0nata".into();
    }
    NetworkPlan {
        nats: vec![nat],
        endpoints: vec![json!({
            "service_name": "com.amazonaws.eu-west-1.ecr.api",
            "vpc_id": "vpc-0ot",
            "subnet_ids": ["subnet-0a", "subnet-0b"],
            "security_group_ids": ["sg-0vpce"],
            "private_dns_enabled": false,
            "tags": {"costctl:stack": "order-tracking-dev"},
        })],
        tag_versions: false,
        start,
    }
}

/// The NAT gateways in `subnet` that are not deleted, with their states.
fn nats_in(w: &World, subnet: &str) -> Vec<(String, String)> {
    w.eph
        .net
        .nats
        .values()
        .filter(|n| n.subnet == subnet && n.state != "deleted")
        .map(|n| (n.id.clone(), n.state.clone()))
        .collect()
}

/// The answer of CreateNatGateway (and of CreateVpcEndpoint) is lost, and EC2 does not list
/// the new gateway for 30 s: the engine's retry finds nothing, sends the create again with the
/// same client token, and EC2 answers with the first gateway. One gateway, one endpoint, the
/// route pointing at it.
#[test]
fn a_nat_create_whose_answer_is_lost_makes_no_second_gateway() {
    let lossy = |w: &mut World| {
        w.eph.net.describe_lag_ms = (30_000, 30_000);
        w.lose_answers.insert("ec2:CreateNatGateway".into(), 1);
        w.lose_answers.insert("ec2:CreateVpcEndpoint".into(), 1);
    };
    let world = network_trial(&one_nat(false, "fresh"), lossy);
    let w = world.lock();
    let trace = w.trace.join("\n");
    assert!(w.violations.is_empty(), "{:?}\n{trace}", w.violations);
    assert!(
        trace.contains("ec2:CreateNatGateway took effect, answer lost"),
        "{trace}"
    );
    assert!(
        trace.contains(
            "ec2:CreateNatGateway with token costctl-g1-subnet-0pa answers with nat-00000000000000001 (pending)"
        ),
        "the retry was not answered through the token:\n{trace}"
    );
    assert_eq!(
        nats_in(&w, "subnet-0pa"),
        vec![("nat-00000000000000001".to_string(), "available".to_string())],
        "{trace}"
    );
    let endpoints: Vec<&str> = w
        .eph
        .net
        .endpoints
        .values()
        .filter(|e| e.service.ends_with("ecr.api") && e.vpc == "vpc-0ot" && e.state != "deleted")
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(endpoints.len(), 1, "{endpoints:?}\n{trace}");
    let route = w
        .eph
        .net
        .route("rtb-0priva", "0.0.0.0/0")
        .expect("the route");
    assert_eq!(
        route.target,
        costctl_sim::network::Target::Nat("nat-00000000000000001".into())
    );

    // What the token protects against: an EC2 that forgot it makes a second gateway (and a
    // second endpoint, private DNS being off), and the invariant says so.
    let world = network_trial(&one_nat(false, "fresh"), |w| {
        lossy(w);
        w.eph.net.ignore_client_tokens = true;
    });
    let w = world.lock();
    assert!(
        w.violations.iter().any(|v| v
            == "2 live NAT gateways in subnet-0pa at once: nat-00000000000000001 pending, nat-00000000000000004 pending"),
        "{:?}\n{}",
        w.violations,
        w.trace.join("\n")
    );
}

/// ReplaceRoute answers `Ok` without replacing the route (a sim-only fault switch): the route
/// still points at the gateway deleted long ago, and the convergence check names it, with the
/// gateway it should point at.
#[test]
fn a_skipped_route_replacement_is_caught() {
    let plan = one_nat(true, "blackhole");
    // The same trial without the fault converges.
    let world = network_trial(&plan, |_| {});
    let w = world.lock();
    assert!(
        w.violations.is_empty(),
        "{:?}\n{}",
        w.violations,
        w.trace.join("\n")
    );
    let route = w
        .eph
        .net
        .route("rtb-0priva", "0.0.0.0/0")
        .expect("the route");
    assert_eq!(w.eph.net.route_state(route), "active");
    drop(w);

    let world = network_trial(&plan, |w| w.eph.net.skip_route_changes = true);
    let w = world.lock();
    let wrong = "route:rtb-0priva 0.0.0.0/0 targets nat-0old0 (blackhole), not nat-00000000000000001, the live NAT gateway of subnet-0pa";
    assert_eq!(
        w.differs_from("order-tracking-dev", costctl_core::DesiredState::Running),
        vec![wrong.to_string()],
        "{}",
        w.trace.join("\n")
    );
    assert!(
        w.violations.iter().any(|v| v
            == &format!(
                "not converged to running (generation 1) 24 ticks after faults stopped: {wrong}"
            )),
        "{:?}\n{}",
        w.violations,
        w.trace.join("\n")
    );
}

/// EC2's eventual consistency in the scenarios: a NAT gateway or endpoint just created is not
/// listed for 1–5 s. These seeds show three bugs outside the simulation (the README's "Known
/// bugs"): a client token that changes with every request (1396, 6601) or with the clock
/// after a spent one (5215, 7250, 8644) lets a retry make a second gateway or endpoint, and a
/// reconcile reports `hibernated` converged right after creating gateways EC2 does not list
/// yet (7082). More seeds: `COSTCTL_SIM_SEEDS=2000 cargo test … -- --ignored`.
#[test]
#[ignore = "known bugs in the client tokens and the converged report (see the README)"]
fn eventually_consistent_ec2() {
    let more = std::env::var("COSTCTL_SIM_SEEDS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let lag = |w: &mut World| w.eph.net.describe_lag_ms = costctl_sim::network::EC2_DESCRIBE_LAG_MS;
    let failed: Vec<String> = [1396, 5215, 6601, 7082, 7250, 8644]
        .into_iter()
        .chain(0..more)
        .map(|seed| costctl_sim::run_with(seed, lag))
        .filter(|out| !out.ok())
        .map(|out| format!("seed {}: {}", out.seed, out.violations.join("; ")))
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}
