//! The planner's network tier: NAT gateways with their routes and interface endpoints, as plain
//! examples (the emulator tests drive the same plans against EC2's API).

use costctl_core::action::{Action, NetworkGate, client_token, spent_token_successor};
use costctl_core::manifest::{CREATE_SETTLE_MS, CreateToken, Manifest, ServiceRecord};
use costctl_core::observation::{
    EndpointObs, NatObs, Observation, RouteObs, ServiceObs, route_key,
};
use costctl_core::plan::{Goal, NetworkOnPause, Plan, Policy, plan, plan_with};
use costctl_core::spec::{EphemeralSpec, NatGatewaySpec, VpcEndpointSpec};
use costctl_core::state::DesiredState;
use serde_json::json;
use std::collections::BTreeMap;

fn nat_spec() -> NatGatewaySpec {
    serde_json::from_value(json!({
        "subnet_id": "subnet-pub0",
        "allocation_id": "eipalloc-0a",
        "tags": {"Project": "ot"},
        "routes": [{"route_table_id": "rtb-priv0", "destination_cidr_block": "0.0.0.0/0"}],
    }))
    .unwrap()
}

fn endpoint_spec() -> VpcEndpointSpec {
    serde_json::from_value(json!({
        "service_name": "com.amazonaws.eu-west-1.ecr.api",
        "vpc_id": "vpc-0a",
        "subnet_ids": ["subnet-priv0", "subnet-priv1"],
        "security_group_ids": ["sg-0e"],
        "tags": {"Project": "ot"},
    }))
    .unwrap()
}

fn nat(id: &str, state: &str) -> NatObs {
    NatObs {
        id: id.into(),
        state: state.into(),
        spec: nat_spec(),
        of_stack: true,
        unsupported: Vec::new(),
        duplicates: Vec::new(),
    }
}

fn endpoint(id: &str, state: &str) -> EndpointObs {
    EndpointObs {
        id: id.into(),
        state: state.into(),
        spec: endpoint_spec(),
        of_stack: true,
        unsupported: Vec::new(),
        duplicates: Vec::new(),
    }
}

fn service(desired: u32) -> ServiceObs {
    ServiceObs {
        cluster: "c".into(),
        name: "web".into(),
        desired,
        running: desired,
        pending: 0,
        status: "ACTIVE".into(),
        tags: BTreeMap::new(),
        public_ip: false,
    }
}

fn goal(desired: DesiredState, policy: Policy) -> Goal {
    Goal {
        desired,
        generation: 7,
        policy,
    }
}

fn kinds(p: &Plan) -> Vec<String> {
    p.steps.iter().map(|s| s.action.kind()).collect()
}

fn position(p: &Plan, kind: &str) -> usize {
    p.steps
        .iter()
        .position(|s| s.action.kind() == kind)
        .unwrap_or_else(|| panic!("no {kind} in {:#?}", p.steps))
}

/// Whether step `later` waits (directly or not) for step `first`.
fn waits_for(p: &Plan, later: usize, first: usize) -> bool {
    let mut todo = vec![later];
    let mut seen = vec![false; p.steps.len()];
    while let Some(s) = todo.pop() {
        for &a in &p.steps[s].after {
            if a == first {
                return true;
            }
            if !seen[a] {
                seen[a] = true;
                todo.push(a);
            }
        }
    }
    false
}

#[test]
fn a_pause_deletes_gateways_and_endpoints_after_the_services_and_waits_until_they_are_gone() {
    let obs = Observation {
        services: vec![service(2)],
        nat_gateways: [("subnet-pub0".to_string(), nat("nat-1", "available"))].into(),
        vpc_endpoints: [(
            "com.amazonaws.eu-west-1.ecr.api".to_string(),
            endpoint("vpce-1", "available"),
        )]
        .into(),
        ..Observation::default()
    };
    let p = plan(
        &goal(DesiredState::Paused, Policy::default()),
        &obs,
        &Manifest::default(),
    );
    // Write-ahead: the specs are recorded before anything is deleted.
    assert_eq!(p.manifest.nat_gateways["subnet-pub0"], nat_spec());
    assert_eq!(
        p.manifest.vpc_endpoints["com.amazonaws.eu-west-1.ecr.api"],
        endpoint_spec()
    );
    let drained = position(&p, "await_service_count");
    let del_nat = position(&p, "delete_nat_gateway");
    let del_vpce = position(&p, "delete_vpc_endpoint");
    assert!(waits_for(&p, del_nat, drained) && waits_for(&p, del_vpce, drained));
    assert!(p.steps.iter().any(|s| s.action
        == Action::AwaitNatGateway {
            subnet: "subnet-pub0".into(),
            state: NetworkGate::Deleted
        }));
    assert!(
        kinds(&p).contains(&"await_vpc_endpoint".to_string()),
        "{:?}",
        kinds(&p)
    );
}

#[test]
fn the_policy_keeps_them_and_what_cannot_be_recreated_is_kept_with_its_reason() {
    let mut two_addresses = nat("nat-1", "available");
    two_addresses
        .unsupported
        .push("nat_gateway_addresses: 2 addresses".into());
    let obs = Observation {
        nat_gateways: [("subnet-pub0".to_string(), two_addresses)].into(),
        vpc_endpoints: [(
            "com.amazonaws.eu-west-1.ecr.api".to_string(),
            endpoint("vpce-1", "available"),
        )]
        .into(),
        ..Observation::default()
    };
    let p = plan(
        &goal(DesiredState::Paused, Policy::default()),
        &obs,
        &Manifest::default(),
    );
    assert!(!kinds(&p).contains(&"delete_nat_gateway".to_string()));
    let note = p
        .notes
        .iter()
        .find(|n| n.resource == "nat:subnet-pub0")
        .unwrap();
    assert!(
        note.kept && note.message.contains("2 addresses"),
        "{note:?}"
    );
    assert!(kinds(&p).contains(&"delete_vpc_endpoint".to_string()));

    let keep = Policy {
        network_on_pause: NetworkOnPause::Keep,
        ..Policy::default()
    };
    let p = plan(
        &goal(DesiredState::Paused, keep),
        &obs,
        &Manifest::default(),
    );
    assert!(
        p.steps.is_empty(),
        "nothing deleted under keep: {:#?}",
        p.steps
    );
    assert!(
        p.notes
            .iter()
            .any(|n| n.resource.starts_with("vpce:") && n.message.contains("network_on_pause"))
    );
}

#[test]
fn someone_elses_gateway_in_a_recorded_subnet_is_never_deleted_nor_doubled() {
    let mut foreign = nat("nat-9", "available");
    foreign.of_stack = false;
    let obs = Observation {
        nat_gateways: [("subnet-pub0".to_string(), foreign)].into(),
        ..Observation::default()
    };
    let p = plan(
        &goal(DesiredState::Paused, Policy::default()),
        &obs,
        &Manifest::default(),
    );
    assert!(p.steps.is_empty() && p.manifest.nat_gateways.is_empty());
    let manifest = Manifest {
        nat_gateways: [("subnet-pub0".to_string(), nat_spec())].into(),
        ..Manifest::default()
    };
    let p = plan(
        &goal(DesiredState::Running, Policy::default()),
        &obs,
        &manifest,
    );
    assert!(!kinds(&p).contains(&"create_nat_gateway".to_string()));
    assert!(p.problems[0].message.contains("nat-9"), "{:?}", p.problems);
}

#[test]
fn a_resume_creates_the_gateway_then_points_the_routes_then_scales_the_services() {
    let manifest = Manifest {
        services: [(
            "c/web".to_string(),
            ServiceRecord {
                desired: 2,
                bounds: None,
            },
        )]
        .into(),
        nat_gateways: [("subnet-pub0".to_string(), nat_spec())].into(),
        vpc_endpoints: [(
            "com.amazonaws.eu-west-1.ecr.api".to_string(),
            endpoint_spec(),
        )]
        .into(),
        ..Manifest::default()
    };
    // The old gateway is still being deleted, its route a blackhole.
    let obs = Observation {
        services: vec![service(0)],
        nat_gateways: [("subnet-pub0".to_string(), nat("nat-old", "deleting"))].into(),
        routes: [(
            route_key("rtb-priv0", "0.0.0.0/0"),
            RouteObs {
                nat_gateway_id: Some("nat-old".into()),
                other_target: None,
                state: "blackhole".into(),
            },
        )]
        .into(),
        ..Observation::default()
    };
    let p = plan(
        &goal(DesiredState::Running, Policy::default()),
        &obs,
        &manifest,
    );
    let gone = p
        .steps
        .iter()
        .position(|s| {
            s.action
                == Action::AwaitNatGateway {
                    subnet: "subnet-pub0".into(),
                    state: NetworkGate::Deleted,
                }
        })
        .expect("waits for the old gateway");
    let create = position(&p, "create_nat_gateway");
    let routes = position(&p, "point_nat_routes");
    let vpce = position(&p, "create_vpc_endpoint");
    let scale = position(&p, "set_desired_count");
    assert!(
        waits_for(&p, create, gone),
        "the Elastic IP is free only then"
    );
    assert!(waits_for(&p, routes, create));
    assert!(waits_for(&p, scale, routes) && waits_for(&p, scale, vpce));
    let Action::CreateNatGateway {
        client_token: t, ..
    } = &p.steps[create].action
    else {
        unreachable!()
    };
    assert_eq!(t, &client_token(7, "subnet-pub0"));

    // Once the new one is available, only the route that does not point at it is replaced.
    let obs = Observation {
        services: vec![service(0)],
        nat_gateways: [("subnet-pub0".to_string(), nat("nat-new", "available"))].into(),
        routes: obs.routes.clone(),
        ..Observation::default()
    };
    let p = plan(
        &goal(DesiredState::Running, Policy::default()),
        &obs,
        &manifest,
    );
    assert!(!kinds(&p).contains(&"create_nat_gateway".to_string()));
    let Action::PointNatRoutes { routes, .. } = &p.steps[position(&p, "point_nat_routes")].action
    else {
        unreachable!()
    };
    assert_eq!(routes, &nat_spec().routes);
    // Pointed: nothing left for the network.
    let mut done = obs.clone();
    done.routes.insert(
        route_key("rtb-priv0", "0.0.0.0/0"),
        RouteObs {
            nat_gateway_id: Some("nat-new".into()),
            other_target: None,
            state: "active".into(),
        },
    );
    done.vpc_endpoints.insert(
        "com.amazonaws.eu-west-1.ecr.api".into(),
        endpoint("vpce-2", "available"),
    );
    let p = plan(
        &goal(DesiredState::Running, Policy::default()),
        &done,
        &manifest,
    );
    assert!(
        p.steps
            .iter()
            .all(|s| !s.action.resource().starts_with("nat:")
                && !s.action.resource().starts_with("vpce:")),
        "{:#?}",
        p.steps
    );
}

#[test]
fn a_route_someone_pointed_elsewhere_is_left_alone_and_reported() {
    let manifest = Manifest {
        nat_gateways: [("subnet-pub0".to_string(), nat_spec())].into(),
        ..Manifest::default()
    };
    let obs = Observation {
        nat_gateways: [("subnet-pub0".to_string(), nat("nat-new", "available"))].into(),
        routes: [(
            route_key("rtb-priv0", "0.0.0.0/0"),
            RouteObs {
                nat_gateway_id: None,
                other_target: Some("tgw-0f".into()),
                state: "active".into(),
            },
        )]
        .into(),
        ..Observation::default()
    };
    let p = plan(
        &goal(DesiredState::Running, Policy::default()),
        &obs,
        &manifest,
    );
    assert!(!kinds(&p).contains(&"point_nat_routes".to_string()));
    assert!(
        p.problems
            .iter()
            .any(|x| x.resource == "route:rtb-priv0 0.0.0.0/0" && x.message.contains("tgw-0f")),
        "{:?}",
        p.problems
    );
}

#[test]
fn a_given_spec_that_changes_the_elastic_ip_is_a_problem_not_a_silent_swap() {
    let mut given = nat_spec();
    given.allocation_id = Some("eipalloc-0b".into());
    let spec = EphemeralSpec {
        nat_gateways: vec![given],
        ..EphemeralSpec::default()
    };
    let obs = Observation {
        nat_gateways: [("subnet-pub0".to_string(), nat("nat-1", "available"))].into(),
        ..Observation::default()
    };
    let p = plan_with(
        &goal(DesiredState::Running, Policy::default()),
        &obs,
        &Manifest::default(),
        Some(&spec),
    );
    assert!(
        p.problems[0].message.contains("allocation_id"),
        "{:?}",
        p.problems
    );
}

#[test]
fn client_tokens_are_stable_within_a_request_and_fit_ec2s_limit() {
    assert_eq!(client_token(3, "subnet-0a"), client_token(3, "subnet-0a"));
    assert_ne!(client_token(3, "subnet-0a"), client_token(4, "subnet-0a"));
    let long = format!("com.amazonaws.vpce.eu-west-1.vpce-svc-{}", "0".repeat(40));
    let t = client_token(u64::MAX, &long);
    assert!(t.len() <= 64 && t.is_ascii(), "{t}");
    assert_ne!(t, client_token(u64::MAX, &format!("{long}1")));
}

#[test]
fn a_spent_tokens_successor_is_derived_from_it_and_what_it_made() {
    let t = client_token(3, "subnet-0a");
    let next = spent_token_successor(&t, "nat-0old");
    assert_eq!(
        next,
        spent_token_successor(&t, "nat-0old"),
        "no clock in it"
    );
    assert_ne!(next, spent_token_successor(&t, "nat-0other"));
    assert_ne!(
        next,
        spent_token_successor(&client_token(4, "subnet-0a"), "nat-0old")
    );
    assert_ne!(next, t);
    let long = format!("costctl-g{}-{}", u64::MAX, "f".repeat(16));
    let long_next = spent_token_successor(&long, &format!("vpce-{}", "0".repeat(17)));
    assert!(long_next.len() <= 64 && long_next.bytes().all(|b| b.is_ascii_graphic()));
}

fn token(token: &str, sent_at_ms: i64) -> CreateToken {
    CreateToken {
        token: token.into(),
        sent_at_ms,
    }
}

fn create_token_of(p: &Plan, kind: &str) -> String {
    match &p.steps[position(p, kind)].action {
        Action::CreateNatGateway { client_token, .. }
        | Action::CreateVpcEndpoint { client_token, .. } => client_token.clone(),
        other => panic!("{other:?}"),
    }
}

/// A resume superseding another (or retrying a create whose answer was lost) while EC2 does
/// not list what the first create made yet: the recorded token is sent again, so AWS answers
/// with that; a create without one records its own, with the time, before it is sent.
#[test]
fn a_resume_sends_the_recorded_token_and_records_the_ones_it_sends() {
    let manifest = Manifest {
        nat_gateways: [("subnet-pub0".to_string(), nat_spec())].into(),
        vpc_endpoints: [(
            "com.amazonaws.eu-west-1.ecr.api".to_string(),
            endpoint_spec(),
        )]
        .into(),
        create_tokens: [(
            "nat:subnet-pub0".to_string(),
            token("costctl-g5-subnet-pub0", 1_000),
        )]
        .into(),
        ..Manifest::default()
    };
    let obs = Observation {
        observed_at_ms: 4_000,
        ..Observation::default()
    };
    let p = plan(
        &goal(DesiredState::Running, Policy::default()),
        &obs,
        &manifest,
    );
    assert_eq!(
        create_token_of(&p, "create_nat_gateway"),
        "costctl-g5-subnet-pub0"
    );
    let vpce = client_token(7, "com.amazonaws.eu-west-1.ecr.api");
    assert_eq!(create_token_of(&p, "create_vpc_endpoint"), vpce);
    assert_eq!(
        p.manifest.create_tokens,
        BTreeMap::from([
            (
                "nat:subnet-pub0".to_string(),
                token("costctl-g5-subnet-pub0", 4_000)
            ),
            (
                "vpce:com.amazonaws.eu-west-1.ecr.api".to_string(),
                token(&vpce, 4_000)
            ),
        ])
    );
    assert_eq!(
        p.manifest.nat_gateways, manifest.nat_gateways,
        "records kept"
    );
}

/// A pause that lists nothing a recorded token made may be looking too early: until the
/// settle time has passed it waits for EC2 to list it (and is not converged); then it keeps
/// the token, for the resume to send again, and is done. What is listed is deleted and its
/// token forgotten.
#[test]
fn a_pause_waits_for_what_an_unlisted_create_made_then_keeps_its_token() {
    let recorded = BTreeMap::from([(
        "nat:subnet-pub0".to_string(),
        token("costctl-g5-subnet-pub0", 100_000),
    )]);
    let manifest = Manifest {
        create_tokens: recorded.clone(),
        ..Manifest::default()
    };
    let listed = Action::AwaitNatGateway {
        subnet: "subnet-pub0".into(),
        state: NetworkGate::Listed,
    };
    let pause = goal(DesiredState::Paused, Policy::default());
    let early = Observation {
        observed_at_ms: 100_000 + CREATE_SETTLE_MS - 1,
        ..Observation::default()
    };
    let p = plan(&pause, &early, &manifest);
    assert!(p.steps.iter().any(|s| s.action == listed), "{:#?}", p.steps);
    assert!(!p.is_converged());
    assert_eq!(p.manifest.create_tokens, recorded);

    let settled = Observation {
        observed_at_ms: 100_000 + CREATE_SETTLE_MS,
        ..Observation::default()
    };
    let p = plan(&pause, &settled, &manifest);
    assert!(p.steps.iter().all(|s| s.action != listed), "{:#?}", p.steps);
    assert!(p.is_converged(), "{:#?}", p.steps);
    assert_eq!(p.manifest.create_tokens, recorded);

    let seen = Observation {
        observed_at_ms: 100_500,
        nat_gateways: [("subnet-pub0".to_string(), nat("nat-new", "pending"))].into(),
        ..Observation::default()
    };
    let p = plan(&pause, &seen, &manifest);
    assert!(p.steps.iter().all(|s| s.action != listed));
    assert!(
        kinds(&p).contains(&"delete_nat_gateway".to_string()),
        "{:?}",
        kinds(&p)
    );
    assert!(p.manifest.create_tokens.is_empty());
}

#[test]
fn invalid_network_specs_name_every_field() {
    let err = EphemeralSpec::from_value(&json!({
        "load_balancers": [], "kafka_clusters": [],
        "nat_gateways": [
            {"subnet_id": "subnet-a", "allocation_id": "eipalloc-1",
             "routes": [{"route_table_id": "rtb-1"},
                        {"route_table_id": "rtb-1", "destination_cidr_block": "0.0.0.0/99"}]},
            {"subnet_id": "subnet-a", "connectivity_type": "private", "allocation_id": "eipalloc-2"},
        ],
        "vpc_endpoints": [
            {"service_name": "ecr", "vpc_id": "vpc-1", "subnet_ids": [], "security_group_ids": ["sg-1"],
             "policy": "allow all", "dns_options": {"dns_record_ip_type": "ipv5"}},
        ],
    }))
    .unwrap_err()
    .to_string();
    for path in [
        "nat_gateways[0].routes[0]",
        "nat_gateways[0].routes[1]",
        "nat_gateways[1].subnet_id",
        "nat_gateways[1].allocation_id",
        "vpc_endpoints[0].service_name",
        "vpc_endpoints[0].subnet_ids",
        "vpc_endpoints[0].policy",
        "vpc_endpoints[0].dns_options.dns_record_ip_type",
    ] {
        assert!(
            err.contains(&format!("`{path}`")),
            "{path} missing from: {err}"
        );
    }
    // Unknown fields are refused, as everywhere in the spec.
    let err = EphemeralSpec::from_value(&json!({
        "load_balancers": [], "kafka_clusters": [],
        "nat_gateways": [{"subnet_id": "subnet-a", "allocation_id": "eipalloc-1", "eip": "x"}],
    }))
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("nat_gateways[0]") && err.contains("eip"),
        "{err}"
    );
}
