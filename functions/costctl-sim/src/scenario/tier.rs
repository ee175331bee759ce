//! A scenario's ephemeral tier: the networking, certificates, target groups and web ACL that
//! exist for it (and another stack's ALB and cluster beside it), and the versions of its spec
//! that Terraform sends, varied by seed.

use super::STACK;
use crate::rng::Rng;
use crate::world::World;
use costctl_core::spec::{
    ClientAuthenticationSpec, DnsOptionsSpec, EphemeralSpec, IpAddressType, KafkaClusterSpec,
    NatGatewaySpec, Scheme, VpcEndpointSpec,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The networking, certificate and target groups that exist for the ephemeral tier, and the
/// load balancer and cluster of another stack.
pub fn ephemeral_world(w: &mut World) {
    let e = &mut w.eph;
    e.enabled = true;
    e.subnets
        .extend(["subnet-0a", "subnet-0b", "subnet-0c"].map(String::from));
    e.security_groups
        .extend(["sg-0alb", "sg-0msk"].map(String::from));
    e.certificates.extend([CERT, CERT_API].map(String::from));
    e.web_acls.insert(WEB_ACL.into());
    e.target_groups.extend([TG_WEB, TG_API].map(String::from));
    let id = e.next_id();
    let arn = crate::ephemeral::lb_arn("billing-alb", id);
    e.lbs.insert(
        arn.clone(),
        crate::ephemeral::SimLb {
            arn: arn.clone(),
            name: "billing-alb".into(),
            state: "active".into(),
            ready_at: 0,
            dns_name: "billing-alb-1.eu-west-1.elb.amazonaws.com".into(),
            scheme: Scheme::Internal,
            ip_address_type: IpAddressType::Ipv4,
            subnets: vec!["subnet-0a".into(), "subnet-0b".into()],
            security_groups: vec!["sg-0alb".into()],
            attributes: BTreeMap::new(),
            tags: [("costctl:stack".to_string(), "billing-prod".to_string())].into(),
            listeners: BTreeMap::new(),
            web_acl_arn: None,
        },
    );
    e.foreign.insert("alb:billing-alb".into(), arn);
    let id = e.next_id();
    let arn = crate::ephemeral::msk_arn("billing-msk", id);
    e.kafkas.insert(
        arn.clone(),
        crate::ephemeral::SimKafka {
            arn: arn.clone(),
            name: "billing-msk".into(),
            state: "ACTIVE".into(),
            until: 0,
            spec: KafkaClusterSpec {
                name: "billing-msk".into(),
                vpc_configs: Vec::new(),
                client_authentication: ClientAuthenticationSpec { sasl_iam: true },
                tags: BTreeMap::new(),
                bootstrap_parameter: None,
            },
            bootstrap: "boot-billing:9098".into(),
        },
    );
    e.foreign.insert("msk:billing-msk".into(), arn);
    w.foreign
        .extend(["alb:billing-alb", "msk:billing-msk"].map(String::from));
}

pub(crate) const CERT: &str = "arn:aws:acm:eu-west-1:123456789012:certificate/ot-dev";
pub(crate) const CERT_API: &str = "arn:aws:acm:eu-west-1:123456789012:certificate/ot-dev-api";
pub(crate) const TG_WEB: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ot-dev-web/1";
pub(crate) const TG_API: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ot-dev-api/2";
pub(crate) const WEB_ACL: &str = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/ot-dev/0d4e5f6a-1b2c-4d3e-8f9a-0b1c2d3e4f5a";

/// One version of the stack's ephemeral-tier spec, as Terraform would send it: an ALB (HTTP
/// redirect, HTTPS with rules, published DNS name, an alias) and/or an MSK Serverless cluster
/// (bootstrap string published). Later versions change attributes, tags, rules, additional
/// certificates, listener attributes and the web ACL in place, or drop one of the two.
pub(super) fn ephemeral_spec(
    rng: &mut Rng,
    version: usize,
    network: Option<(&NetworkPlan, &mut Rng)>,
) -> Value {
    let (lb, msk) = match rng.below(if version == 0 { 5 } else { 7 }) {
        0 => (true, false),
        1 => (false, true),
        5 => (true, false),
        6 => (false, true),
        _ => (true, true),
    };
    let idle = ["60", "120", "300"][rng.below(3) as usize];
    let protected = rng.chance(100);
    let tagged = rng.chance(500);
    let mut tags = serde_json::json!({"Project": "order-tracking", "Version": version.to_string()});
    if tagged {
        tags["costctl:stack"] = STACK.into();
    }
    let api = if rng.chance(500) { "/api/*" } else { "/v2/*" };
    let mut rules = vec![serde_json::json!({"priority": 10,
        "conditions": [{"field": "path-pattern", "values": [api]}],
        "actions": [{"type": "forward", "target_group_arn": TG_API}]})];
    if rng.chance(500) {
        rules.push(serde_json::json!({"priority": 20,
            "conditions": [{"field": "http-header", "http_header_name": "X-Canary", "values": ["1"]}],
            "actions": [{"type": "fixed-response", "fixed_response": {"status_code": "503", "content_type": "text/plain", "message_body": "paused"}}]}));
    }
    let mut attributes = serde_json::json!({"idle_timeout.timeout_seconds": idle});
    if protected {
        attributes["deletion_protection.enabled"] = "true".into();
    }
    let mut https = serde_json::json!({"port": 443, "protocol": "HTTPS", "certificate_arn": CERT,
        "default_actions": [{"type": "forward", "target_group_arn": TG_WEB}],
        "rules": rules});
    if rng.chance(500) {
        https["additional_certificate_arns"] = serde_json::json!([CERT_API]);
    }
    if rng.chance(500) {
        https["attributes"] = serde_json::json!({"routing.http.response.server.enabled": "false"});
    }
    let web_acl = rng.chance(500).then_some(WEB_ACL);
    let lbs = if lb {
        serde_json::json!([{
            "name": "ot-dev-alb",
            "subnets": ["subnet-0a", "subnet-0b"],
            "security_groups": ["sg-0alb"],
            "attributes": attributes,
            "tags": tags,
            "web_acl_arn": web_acl,
            "dns_name_parameter": "/order-tracking/dev/alb_dns_name",
            "aliases": [{"zone_id": "Z0123456789ABC", "name": "app.example.com"}],
            "listeners": [
                {"port": 80, "protocol": "HTTP", "default_actions": [
                    {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}}]},
                https
            ]
        }])
    } else {
        serde_json::json!([])
    };
    let mut msk_tags = serde_json::json!({"Project": "order-tracking"});
    if tagged {
        msk_tags["costctl:stack"] = STACK.into();
    }
    let msks = if msk {
        serde_json::json!([{
            "name": "ot-dev-msk",
            "vpc_configs": [{"subnet_ids": ["subnet-0a", "subnet-0b", "subnet-0c"], "security_group_ids": ["sg-0msk"]}],
            "client_authentication": {"sasl_iam": true},
            "tags": msk_tags,
            "bootstrap_parameter": "/order-tracking/dev/kafka_bootstrap"
        }])
    } else {
        serde_json::json!([])
    };
    let mut input = json!({"load_balancers": lbs, "kafka_clusters": msks});
    if let Some((plan, nrng)) = network {
        let (nats, endpoints) = network_spec(plan, nrng, version);
        input["nat_gateways"] = nats;
        input["vpc_endpoints"] = endpoints;
    }
    EphemeralSpec::from_value(&input).expect("the scenario's specs are valid");
    input
}

// ---- the network tier ----

/// The stack's VPC and the foreign one.
pub(crate) const VPC: &str = "vpc-0ot";
const BILLING_VPC: &str = "vpc-0billing";
/// Public subnets (one NAT gateway each) and the private route tables their routes go into.
const PUBLIC_SUBNETS: [&str; 3] = ["subnet-0pa", "subnet-0pb", "subnet-0pc"];
const PRIVATE_TABLES: [&str; 3] = ["rtb-0priva", "rtb-0privb", "rtb-0privc"];
const ALLOCATIONS: [&str; 3] = ["eipalloc-0nata", "eipalloc-0natb", "eipalloc-0natc"];
const SERVICES: [&str; 6] = ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssm", "sts"];
/// The route table of another stack, whose default route goes to that stack's NAT gateway.
const BILLING_TABLE: &str = "rtb-0billing";

/// A scenario's network tier: what its spec versions draw from.
#[derive(Debug, Clone)]
pub struct NetworkPlan {
    /// NAT gateway specs (JSON), one per public subnet used.
    pub nats: Vec<Value>,
    /// Interface endpoint specs (JSON).
    pub endpoints: Vec<Value>,
    /// Later versions change the NAT gateways' and endpoints' tags (reported, not changed).
    pub tag_versions: bool,
    /// How the network began: `fresh` (no route yet), `blackhole` (the routes point at a NAT
    /// gateway deleted long ago) or `adopted` (Terraform's NAT gateways, routes and endpoints,
    /// which the first apply-spec takes over).
    pub start: &'static str,
}

fn stack_tags(name: &str) -> Value {
    json!({"costctl:stack": STACK, "Project": "order-tracking", "Name": name})
}

/// Draws the network tier of a scenario and builds what exists around it: the VPCs, public
/// subnets, Elastic IPs, route tables (with routes costctl never touches: local, a transit
/// gateway), another stack's NAT gateway, route table and endpoint, the S3 gateway endpoint
/// Terraform owns (with the stack's tags), and, by seed, an old blackholed NAT gateway or the
/// NAT gateways and endpoints Terraform made before costctl owned them.
pub fn network_world(w: &mut World, rng: &mut Rng) -> NetworkPlan {
    let plan = draw_network(rng);
    build_network(w, &plan);
    plan
}

/// Draws a scenario's network tier: 1–3 NAT gateways (one per public subnet, most of them
/// public with an Elastic IP) with 1–2 routes each, 0–6 interface endpoints.
pub fn draw_network(rng: &mut Rng) -> NetworkPlan {
    let k = 1 + rng.below(3) as usize;
    let mut nats = Vec::new();
    for i in 0..k {
        let public = !rng.chance(200);
        let mut routes = vec![
            json!({"route_table_id": PRIVATE_TABLES[i], "destination_cidr_block": "0.0.0.0/0"}),
        ];
        if rng.chance(500) {
            routes.push(if i + k < 3 {
                json!({"route_table_id": PRIVATE_TABLES[i + k], "destination_cidr_block": "0.0.0.0/0"})
            } else if rng.chance(500) {
                json!({"route_table_id": PRIVATE_TABLES[i], "destination_ipv6_cidr_block": "64:ff9b::/96"})
            } else {
                json!({"route_table_id": PRIVATE_TABLES[i], "destination_prefix_list_id": "pl-0partner"})
            });
        }
        let mut nat = json!({
            "subnet_id": PUBLIC_SUBNETS[i],
            "connectivity_type": if public { "public" } else { "private" },
            "tags": stack_tags(&format!("ot-dev-nat-{i}")),
            "routes": routes,
        });
        if public {
            nat["allocation_id"] = ALLOCATIONS[i].into();
        } else if rng.chance(500) {
            nat["private_ip_address"] = format!("10.0.{}.10", 200 + i).into();
        }
        nats.push(nat);
    }
    let n_endpoints = rng.below(7) as usize;
    let first = rng.below(SERVICES.len() as u64) as usize;
    let mut endpoints = Vec::new();
    for j in 0..n_endpoints {
        let s = SERVICES[(first + j) % SERVICES.len()];
        let mut subnets = vec!["subnet-0a", "subnet-0b"];
        if rng.chance(500) {
            subnets.push("subnet-0c");
        }
        let mut e = json!({
            "service_name": format!("com.amazonaws.{}.{s}", crate::ephemeral::REGION),
            "vpc_id": VPC,
            "subnet_ids": subnets,
            "security_group_ids": ["sg-0vpce"],
            "tags": stack_tags(&format!("ot-dev-{s}")),
        });
        // Without private DNS EC2 allows a second endpoint: only the client token and the
        // lookup keep it from being made.
        if rng.chance(200) {
            e["private_dns_enabled"] = false.into();
        }
        match rng.below(8) {
            0 => {
                e["policy"] = json!({"Version": "2012-10-17", "Statement": [
                    {"Effect": "Allow", "Principal": "*", "Action": ["ecr:*", "logs:*", "ssm:*", "secretsmanager:GetSecretValue", "sts:*"], "Resource": "*"}]});
            }
            // The default policy spelt out: the same as none.
            1 => {
                e["policy"] = json!({"Statement": [
                    {"Action": "*", "Effect": "Allow", "Principal": "*", "Resource": "*"}]});
            }
            2 => e["dns_options"] = json!({"dns_record_ip_type": "ipv4"}),
            _ => {}
        }
        endpoints.push(e);
    }
    let start = match rng.below(4) {
        0 => "blackhole",
        1 => "adopted",
        _ => "fresh",
    };
    NetworkPlan {
        nats,
        endpoints,
        tag_versions: rng.chance(250),
        start,
    }
}

/// Builds the network of `plan` in the world (see [`network_world`]).
pub fn build_network(w: &mut World, plan: &NetworkPlan) {
    use crate::network::{SimEip, SimEndpoint, SimNat, SimRoute, SimRouteTable, Target};
    let e = &mut w.eph;
    e.subnets.extend(
        PUBLIC_SUBNETS
            .iter()
            .chain(&["subnet-0pbill", "subnet-0bill"])
            .map(|s| s.to_string()),
    );
    e.security_groups
        .extend(["sg-0vpce", "sg-0billvpce"].map(String::from));
    let billing: BTreeMap<String, String> =
        [("costctl:stack".to_string(), "billing-prod".to_string())].into();
    let ours: BTreeMap<String, String> = [("costctl:stack".to_string(), STACK.to_string())].into();
    let net = &mut e.net;
    net.enabled = true;
    net.describe_lag_ms = crate::network::EC2_DESCRIBE_LAG_MS;
    net.stack_tags = ours.clone();
    net.vpcs.extend([VPC, BILLING_VPC].map(String::from));
    for (i, a) in ALLOCATIONS.iter().enumerate() {
        net.eips.insert(
            a.to_string(),
            SimEip {
                allocation_id: a.to_string(),
                public_ip: format!("203.0.113.{}", 10 + i),
                association: None,
            },
        );
    }
    for (a, assoc, ip) in [
        ("eipalloc-0bill", "nat-0billing", "203.0.113.50"),
        ("eipalloc-0bastion", "eni-0bastion", "203.0.113.60"),
    ] {
        net.eips.insert(
            a.into(),
            SimEip {
                allocation_id: a.into(),
                public_ip: ip.into(),
                association: Some(assoc.into()),
            },
        );
    }
    let route = |table: &str, cidr: &str, target: Target| {
        (
            cidr.to_string(),
            SimRoute {
                spec: costctl_core::spec::NatRouteSpec {
                    route_table_id: table.into(),
                    destination_cidr_block: Some(cidr.into()),
                    destination_ipv6_cidr_block: None,
                    destination_prefix_list_id: None,
                },
                target,
            },
        )
    };
    for t in PRIVATE_TABLES {
        net.route_tables.insert(
            t.into(),
            SimRouteTable {
                vpc: VPC.into(),
                routes: [
                    route(t, "10.0.0.0/16", Target::Other("local".into())),
                    route(t, "10.99.0.0/16", Target::Other("tgw-0shared".into())),
                ]
                .into(),
            },
        );
    }
    net.route_tables.insert(
        "rtb-0public".into(),
        SimRouteTable {
            vpc: VPC.into(),
            routes: [
                route("rtb-0public", "10.0.0.0/16", Target::Other("local".into())),
                route("rtb-0public", "0.0.0.0/0", Target::Other("igw-0ot".into())),
            ]
            .into(),
        },
    );
    net.route_tables.insert(
        BILLING_TABLE.into(),
        SimRouteTable {
            vpc: BILLING_VPC.into(),
            routes: [
                route(BILLING_TABLE, "10.1.0.0/16", Target::Other("local".into())),
                route(
                    BILLING_TABLE,
                    "0.0.0.0/0",
                    Target::Nat("nat-0billing".into()),
                ),
            ]
            .into(),
        },
    );
    let nat = |id: &str,
               subnet: &str,
               allocation: Option<&str>,
               tags: &BTreeMap<String, String>,
               state: &str| SimNat {
        id: id.into(),
        subnet: subnet.into(),
        connectivity: if allocation.is_some() {
            costctl_core::spec::NatConnectivity::Public
        } else {
            costctl_core::spec::NatConnectivity::Private
        },
        allocation_id: allocation.map(String::from),
        private_ip: "10.0.250.5".into(),
        tags: tags.clone(),
        state: state.into(),
        until: 0,
        visible_at: 0,
        token: None,
    };
    net.nats.insert(
        "nat-0billing".into(),
        nat(
            "nat-0billing",
            "subnet-0pbill",
            Some("eipalloc-0bill"),
            &billing,
            "available",
        ),
    );
    let endpoint = |id: &str,
                    kind: &'static str,
                    service: &str,
                    vpc: &str,
                    subnets: &[&str],
                    groups: &[&str],
                    tags: &BTreeMap<String, String>| SimEndpoint {
        id: id.into(),
        kind,
        service: service.into(),
        vpc: vpc.into(),
        subnets: subnets.iter().map(|s| s.to_string()).collect(),
        groups: groups.iter().map(|s| s.to_string()).collect(),
        private_dns: kind == "Interface",
        policy: crate::network::full_access_policy(),
        ip_address_type: Default::default(),
        dns_options: Default::default(),
        tags: tags.clone(),
        state: "available".into(),
        until: 0,
        visible_at: 0,
        token: None,
    };
    net.endpoints.insert(
        "vpce-0billingecr".into(),
        endpoint(
            "vpce-0billingecr",
            "Interface",
            &format!("com.amazonaws.{}.ecr.api", crate::ephemeral::REGION),
            BILLING_VPC,
            &["subnet-0bill"],
            &["sg-0billvpce"],
            &billing,
        ),
    );
    // Terraform's, with the stack's tags (provider default tags): never captured, never deleted.
    net.endpoints.insert(
        "vpce-0s3gateway".into(),
        endpoint(
            "vpce-0s3gateway",
            "Gateway",
            &format!("com.amazonaws.{}.s3", crate::ephemeral::REGION),
            VPC,
            &[],
            &[],
            &ours,
        ),
    );

    let specs: Vec<NatGatewaySpec> = plan
        .nats
        .iter()
        .map(|n| serde_json::from_value(n.clone()).expect("the scenario's NAT specs parse"))
        .collect();
    let endpoint_specs: Vec<VpcEndpointSpec> = plan
        .endpoints
        .iter()
        .map(|e| serde_json::from_value(e.clone()).expect("the scenario's endpoint specs parse"))
        .collect();
    match plan.start {
        "blackhole" => {
            for (i, s) in specs.iter().enumerate() {
                let old = format!("nat-0old{i}");
                let mut n = nat(
                    &old,
                    &s.subnet_id,
                    s.allocation_id.as_deref(),
                    &s.tags,
                    "deleted",
                );
                n.connectivity = s.connectivity_type;
                net.nats.insert(old.clone(), n);
                for r in &s.routes {
                    let table = net
                        .route_tables
                        .get_mut(&r.route_table_id)
                        .expect("a private table");
                    table.routes.insert(
                        r.destination().into(),
                        SimRoute {
                            spec: r.clone(),
                            target: Target::Nat(old.clone()),
                        },
                    );
                }
            }
        }
        "adopted" => {
            for (i, s) in specs.iter().enumerate() {
                let id = format!("nat-0terraform{i}");
                let mut n = nat(
                    &id,
                    &s.subnet_id,
                    s.allocation_id.as_deref(),
                    &s.tags,
                    "available",
                );
                n.connectivity = s.connectivity_type;
                n.private_ip = s
                    .private_ip_address
                    .clone()
                    .unwrap_or_else(|| format!("10.0.{}.20", 10 + i));
                if let Some(a) = &s.allocation_id {
                    net.eips.get_mut(a).expect("an allocation").association = Some(id.clone());
                }
                net.nats.insert(id.clone(), n);
                for r in &s.routes {
                    let table = net
                        .route_tables
                        .get_mut(&r.route_table_id)
                        .expect("a private table");
                    table.routes.insert(
                        r.destination().into(),
                        SimRoute {
                            spec: r.clone(),
                            target: Target::Nat(id.clone()),
                        },
                    );
                }
            }
            for (j, s) in endpoint_specs.iter().enumerate() {
                let id = format!("vpce-0terraform{j}");
                let mut e = endpoint(
                    &id,
                    "Interface",
                    &s.service_name,
                    &s.vpc_id,
                    &[],
                    &[],
                    &s.tags,
                );
                e.subnets = s.subnet_ids.clone();
                e.groups = s.security_group_ids.clone();
                e.private_dns = s.private_dns_enabled;
                e.policy = s
                    .policy
                    .clone()
                    .unwrap_or_else(crate::network::full_access_policy);
                e.dns_options = DnsOptionsSpec {
                    dns_record_ip_type: Some(
                        s.dns_options
                            .dns_record_ip_type
                            .clone()
                            .unwrap_or_else(|| "ipv4".into()),
                    ),
                    private_dns_only_for_inbound_resolver_endpoint: Some(false),
                };
                net.endpoints.insert(id, e);
            }
        }
        _ => {}
    }
    net.protect(&[BILLING_TABLE]);
    w.foreign.insert("nat:subnet-0pbill".into());
}

/// The network part of version `version` of the spec: version 0 has every NAT gateway and
/// endpoint of the plan; a later one may drop a NAT gateway, an endpoint, the second routes,
/// or the whole network (Terraform switching the network mode), and with `tag_versions`
/// carries its version in the tags.
pub(super) fn network_spec(plan: &NetworkPlan, rng: &mut Rng, version: usize) -> (Value, Value) {
    let mut nats = plan.nats.clone();
    let mut endpoints = plan.endpoints.clone();
    if version > 0 {
        match rng.below(20) {
            0..=3 if nats.len() > 1 => {
                nats.remove(rng.below(nats.len() as u64) as usize);
            }
            4..=7 if !endpoints.is_empty() => {
                endpoints.remove(rng.below(endpoints.len() as u64) as usize);
            }
            8..=10 => {
                for n in &mut nats {
                    if let Some(r) = n["routes"].as_array_mut() {
                        r.truncate(1);
                    }
                }
            }
            11 => {
                nats.clear();
                endpoints.clear();
            }
            _ => {}
        }
    }
    if plan.tag_versions {
        for x in nats.iter_mut().chain(endpoints.iter_mut()) {
            x["tags"]["Version"] = version.to_string().into();
        }
    }
    (Value::Array(nats), Value::Array(endpoints))
}
