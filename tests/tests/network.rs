//! The network tier against the emulator: NAT gateways (with their Elastic IPs and the routes
//! that point at them) and interface VPC endpoints, deleted on pause and recreated exactly on
//! resume, before any service scales up; route tables costctl did not record stay untouched.
//!
//! The emulator imitates AWS where moto is lenient (tests/emulator/README.md): a NAT gateway is
//! `pending`/`deleting` before `available`/`deleted`, its Elastic IP is disassociated only when
//! it is deleted, routes to a deleted NAT become `blackhole`, creates honour client tokens, and
//! endpoints keep their IP address type and DNS options.

use aws_sdk_ec2 as ec2;
use costctl_aws::{AwsCloud, DynamoStore};
use costctl_core::spec::EphemeralSpec;
use costctl_core::{DesiredState, Selector};
use costctl_engine::engine::Options;
use costctl_engine::store::HistoryEntry;
use costctl_engine::{Engine, EngineError, RequestSpec, StateStore};
use costctl_tests::stack::{DemoStack, StackSpec};
use costctl_tests::{Emulator, EmulatorOptions, requests_between, start_with_stack};
use ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const TABLE: &str = costctl_tests::STATE_TABLE;

struct World {
    emu: Emulator,
    sdk: aws_config::SdkConfig,
    stack: DemoStack,
}

impl World {
    async fn new(project: &str, opts: EmulatorOptions) -> World {
        let (emu, sdk, stack) = start_with_stack(opts, &StackSpec::new(project, 1, 2, 0))
            .await
            .expect("emulator with a demo stack");
        World { emu, sdk, stack }
    }

    fn engine(&self) -> Engine<AwsCloud, DynamoStore> {
        Engine::new(
            AwsCloud::new(&self.sdk),
            DynamoStore::new(&self.sdk, TABLE),
            Options {
                owner: "test-net".into(),
                poll_interval: Duration::from_millis(50),
                lease_ttl: Duration::from_secs(30),
                ..Options::default()
            },
        )
    }

    fn ec2(&self) -> ec2::Client {
        ec2::Client::new(&self.sdk)
    }

    fn selector(&self) -> Selector {
        Selector::from_tag_args(&self.stack.spec.tag_args()).unwrap()
    }

    fn tags(&self, kind: ResourceType) -> TagSpecification {
        let mut tags: Vec<Tag> = self
            .stack
            .spec
            .tags()
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        tags.push(
            Tag::builder()
                .key("Name")
                .value("made-by-terraform")
                .build(),
        );
        TagSpecification::builder()
            .resource_type(kind)
            .set_tags(Some(tags))
            .build()
    }

    async fn allocate(&self) -> String {
        self.ec2()
            .allocate_address()
            .domain(ec2::types::DomainType::Vpc)
            .send()
            .await
            .unwrap()
            .allocation_id()
            .unwrap()
            .to_string()
    }

    async fn route_table(&self) -> String {
        self.ec2()
            .create_route_table()
            .vpc_id(&self.stack.vpc)
            .send()
            .await
            .unwrap()
            .route_table()
            .unwrap()
            .route_table_id()
            .unwrap()
            .to_string()
    }

    /// A NAT gateway as Terraform would have made it (the stack's tags), available.
    async fn nat(&self, subnet: &str, allocation: &str, tagged: bool) -> String {
        let mut req = self
            .ec2()
            .create_nat_gateway()
            .subnet_id(subnet)
            .allocation_id(allocation);
        if tagged {
            req = req.tag_specifications(self.tags(ResourceType::Natgateway));
        }
        let id = req
            .send()
            .await
            .unwrap()
            .nat_gateway()
            .unwrap()
            .nat_gateway_id()
            .unwrap()
            .to_string();
        self.nat_state(&id).await;
        id
    }

    /// The NAT gateway's state (a describe also lets the emulator's clock move it on).
    async fn nat_state(&self, id: &str) -> String {
        let out = self
            .ec2()
            .describe_nat_gateways()
            .nat_gateway_ids(id)
            .send()
            .await
            .unwrap();
        out.nat_gateways()[0].state().unwrap().as_str().to_string()
    }

    async fn route(&self, table: &str, cidr: &str, nat: &str) {
        self.ec2()
            .create_route()
            .route_table_id(table)
            .destination_cidr_block(cidr)
            .nat_gateway_id(nat)
            .send()
            .await
            .unwrap();
    }

    /// Every route of `table` as (destination, target, state).
    async fn routes(&self, table: &str) -> Vec<(String, String, String)> {
        let out = self
            .ec2()
            .describe_route_tables()
            .route_table_ids(table)
            .send()
            .await
            .unwrap();
        let mut routes: Vec<(String, String, String)> = out.route_tables()[0]
            .routes()
            .iter()
            .map(|r| {
                (
                    r.destination_cidr_block().unwrap_or_default().to_string(),
                    r.nat_gateway_id()
                        .or(r.gateway_id())
                        .unwrap_or_default()
                        .to_string(),
                    r.state().map_or("", |s| s.as_str()).to_string(),
                )
            })
            .collect();
        routes.sort();
        routes
    }

    /// The live (not deleted) NAT gateways of a subnet: (id, allocation, state).
    async fn nats_in(&self, subnet: &str) -> Vec<(String, String, String)> {
        let out = self
            .ec2()
            .describe_nat_gateways()
            .filter(Filter::builder().name("subnet-id").values(subnet).build())
            .send()
            .await
            .unwrap();
        out.nat_gateways()
            .iter()
            .filter(|n| n.state().map(|s| s.as_str()) != Some("deleted"))
            .map(|n| {
                (
                    n.nat_gateway_id().unwrap().to_string(),
                    n.nat_gateway_addresses()
                        .first()
                        .and_then(|a| a.allocation_id())
                        .unwrap_or_default()
                        .to_string(),
                    n.state().unwrap().as_str().to_string(),
                )
            })
            .collect()
    }

    /// Allocation → associated?
    async fn addresses(&self, ids: &[String]) -> BTreeMap<String, bool> {
        let out = self
            .ec2()
            .describe_addresses()
            .set_allocation_ids(Some(ids.to_vec()))
            .send()
            .await
            .unwrap();
        out.addresses()
            .iter()
            .map(|a| {
                (
                    a.allocation_id().unwrap().to_string(),
                    a.association_id().is_some() || a.network_interface_id().is_some(),
                )
            })
            .collect()
    }

    /// Every field of the stack's live interface endpoints except their IDs, ENIs, DNS names
    /// and dates, by service.
    async fn endpoints(&self) -> BTreeMap<String, (String, Value)> {
        let out = self
            .ec2()
            .describe_vpc_endpoints()
            .filters(
                Filter::builder()
                    .name("vpc-id")
                    .values(&self.stack.vpc)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        out.vpc_endpoints()
            .iter()
            .filter(|e| {
                !matches!(
                    e.state().map(|s| s.as_str().to_ascii_lowercase()).as_deref(),
                    Some("deleted" | "deleting")
                )
            })
            .map(|e| {
                let mut subnets = e.subnet_ids().to_vec();
                subnets.sort();
                let mut groups: Vec<String> = e
                    .groups()
                    .iter()
                    .map(|g| g.group_id().unwrap().to_string())
                    .collect();
                groups.sort();
                let mut tags: Vec<(String, String)> = e
                    .tags()
                    .iter()
                    .map(|t| (t.key().unwrap().into(), t.value().unwrap().into()))
                    .collect();
                tags.sort();
                let policy: Value =
                    serde_json::from_str(e.policy_document().unwrap_or("null")).unwrap();
                (
                    e.service_name().unwrap().to_string(),
                    (
                        e.vpc_endpoint_id().unwrap().to_string(),
                        json!({
                            "type": e.vpc_endpoint_type().map(|t| t.as_str()),
                            "vpc": e.vpc_id(),
                            "subnets": subnets,
                            "groups": groups,
                            "private_dns": e.private_dns_enabled(),
                            "policy": policy,
                            "ip_address_type": e.ip_address_type().map(|t| t.as_str()),
                            "dns_record_ip_type": e.dns_options().and_then(|d| d.dns_record_ip_type()).map(|t| t.as_str()),
                            "inbound_only": e.dns_options().and_then(|d| d.private_dns_only_for_inbound_resolver_endpoint()),
                            "tags": tags,
                        }),
                    ),
                )
            })
            .collect()
    }
}

async fn transition(
    w: &World,
    engine: &Engine<AwsCloud, DynamoStore>,
    stack: &str,
    desired: DesiredState,
) -> Result<(u64, costctl_engine::Report), EngineError> {
    let req = RequestSpec {
        selector: Some(w.selector()),
        ..RequestSpec::new(desired, costctl_core::event::Trigger::Cli)
    };
    let state = engine.request(stack, req).await?;
    let report = engine
        .run_until(stack, state.generation, Duration::from_secs(60))
        .await?;
    Ok((state.generation, report))
}

/// The executed steps of one generation, oldest first, as `(action, description)`.
async fn steps_of(w: &World, stack: &str, generation: u64) -> Vec<(String, String)> {
    let mut entries: Vec<HistoryEntry> = DynamoStore::new(&w.sdk, TABLE)
        .history(stack, 200)
        .await
        .unwrap();
    entries.reverse();
    entries
        .iter()
        .filter(|e| e.kind == "reconcile" && e.generation == generation)
        .flat_map(|e| e.detail["steps"].as_array().cloned().unwrap_or_default())
        .filter(|s| s["outcome"] == "ok")
        .map(|s| {
            (
                s["action"].as_str().unwrap().to_string(),
                s["description"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Where the first service was scaled up in `steps`.
fn first_scale_up(steps: &[(String, String)]) -> usize {
    steps
        .iter()
        .position(|(a, d)| {
            (a == "set_desired_count" || a == "set_scaling_bounds") && !d.ends_with(" 0")
        })
        .expect("services scaled up")
}

/// No create, replace or delete of anything (a repeated resume): the calls between two stats
/// snapshots, DynamoDB aside (the request and its history).
fn changes(calls: &BTreeMap<String, u64>) -> Vec<&String> {
    calls
        .keys()
        .filter(|k| !k.starts_with("dynamodb:"))
        .filter(|k| {
            [
                ":Create",
                ":Replace",
                ":Delete",
                ":Update",
                ":Put",
                ":Register",
            ]
            .iter()
            .any(|c| k.contains(c))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_nat_stack_pauses_and_resumes_with_the_same_elastic_ips() {
    let p = "natrt";
    let w = World::new(p, EmulatorOptions::default()).await;
    let (sa, sb) = (w.stack.subnets[0].clone(), w.stack.subnets[1].clone());
    let (ea, eb) = (w.allocate().await, w.allocate().await);
    let nat_a = w.nat(&sa, &ea, true).await;
    let nat_b = w.nat(&sb, &eb, true).await;
    let (rt_a, rt_b) = (w.route_table().await, w.route_table().await);
    w.route(&rt_a, "0.0.0.0/0", &nat_a).await;
    w.route(&rt_b, "0.0.0.0/0", &nat_b).await;
    // NAT64 of zone b goes through its gateway too: recorded with it.
    w.ec2()
        .create_route()
        .route_table_id(&rt_b)
        .destination_ipv6_cidr_block("64:ff9b::/96")
        .nat_gateway_id(&nat_b)
        .send()
        .await
        .unwrap();
    // Someone else's NAT gateway (no stack tags) in a third subnet, with its own route table:
    // never touched.
    let sc = w.stack.subnets[2].clone();
    let ec = w.allocate().await;
    let foreign = w.nat(&sc, &ec, false).await;
    let rt_other = w.route_table().await;
    w.route(&rt_other, "0.0.0.0/0", &foreign).await;
    let other_before = w.routes(&rt_other).await;
    let engine = w.engine();

    let (_, report) = transition(&w, &engine, p, DesiredState::Paused)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    assert!(w.nats_in(&sa).await.is_empty() && w.nats_in(&sb).await.is_empty());
    assert_eq!(w.nat_state(&nat_a).await, "deleted");
    // The Elastic IPs stay allocated (only disassociated): the egress address never changes.
    let eips = w.addresses(&[ea.clone(), eb.clone()]).await;
    assert_eq!(
        eips,
        BTreeMap::from([(ea.clone(), false), (eb.clone(), false)])
    );
    // The routes stay, pointing nowhere (AWS: blackhole) until the resume.
    assert_eq!(
        w.routes(&rt_a)
            .await
            .iter()
            .find(|r| r.0 == "0.0.0.0/0")
            .unwrap()
            .2,
        "blackhole"
    );
    // Status while paused: the kept Elastic IP still costs.
    let (status, _) = engine.inspect(p, None, None).await.unwrap();
    let line = status
        .resources
        .iter()
        .find(|r| r.resource == format!("nat:{sa}"))
        .expect("NAT in status");
    assert!(line.state.contains("will be recreated"), "{line:?}");
    assert!((line.cost_per_hour - 0.005).abs() < 1e-9, "{line:?}");

    let (generation, report) = transition(&w, &engine, p, DesiredState::Running)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    let now_a = w.nats_in(&sa).await;
    let now_b = w.nats_in(&sb).await;
    assert_eq!(now_a.len(), 1, "{now_a:?}");
    assert_eq!(now_b.len(), 1, "{now_b:?}");
    let (new_a, alloc_a, state_a) = &now_a[0];
    let (new_b, alloc_b, _) = &now_b[0];
    assert!(new_a != &nat_a && new_b != &nat_b, "new gateways");
    assert_eq!((alloc_a, alloc_b), (&ea, &eb), "same Elastic IPs");
    assert_eq!(state_a, "available");
    assert!(
        w.routes(&rt_a)
            .await
            .contains(&("0.0.0.0/0".into(), new_a.clone(), "active".into()))
    );
    let b_routes = w.routes(&rt_b).await;
    assert!(
        b_routes.contains(&("0.0.0.0/0".into(), new_b.clone(), "active".into())),
        "{b_routes:?}"
    );
    let nat64 = w
        .ec2()
        .describe_route_tables()
        .route_table_ids(&rt_b)
        .send()
        .await
        .unwrap();
    let nat64 = nat64.route_tables()[0]
        .routes()
        .iter()
        .find(|r| r.destination_ipv6_cidr_block() == Some("64:ff9b::/96"))
        .expect("NAT64 route")
        .nat_gateway_id()
        .map(str::to_string);
    assert_eq!(nat64.as_ref(), Some(new_b));
    // The new gateways carry the tags the old ones had.
    let tags = w
        .ec2()
        .describe_nat_gateways()
        .nat_gateway_ids(new_a)
        .send()
        .await
        .unwrap();
    let tags: BTreeMap<String, String> = tags.nat_gateways()[0]
        .tags()
        .iter()
        .map(|t| (t.key().unwrap().into(), t.value().unwrap().into()))
        .collect();
    assert_eq!(
        tags.get("Name").map(String::as_str),
        Some("made-by-terraform")
    );
    assert_eq!(tags.get("Project").map(String::as_str), Some(p));
    // Someone else's gateway and route table: unchanged.
    assert_eq!(w.nat_state(&foreign).await, "available");
    assert_eq!(w.routes(&rt_other).await, other_before);

    // Ordering from the recorded history: gateways available and routes pointing at them
    // before any service scaled up.
    let steps = steps_of(&w, p, generation).await;
    let last_network = steps
        .iter()
        .rposition(|(a, _)| a == "create_nat_gateway" || a == "point_nat_routes")
        .expect("network steps");
    assert!(
        steps
            .iter()
            .filter(|(a, _)| a == "point_nat_routes")
            .count()
            == 2,
        "{steps:#?}"
    );
    assert!(last_network < first_scale_up(&steps), "{steps:#?}");

    // A repeated resume creates nothing.
    let before = w.emu.stats().await.unwrap();
    let (_, report) = transition(&w, &engine, p, DesiredState::Running)
        .await
        .unwrap();
    assert!(report.succeeded() && report.done.is_empty(), "{report:#?}");
    let calls = requests_between(&before, &w.emu.stats().await.unwrap());
    assert!(changes(&calls).is_empty(), "{calls:?}");
    assert_eq!(w.nats_in(&sa).await.len(), 1);
}

/// Six interface endpoints with the fields a hardened stack sets (a narrowed policy, private
/// DNS off on one, DNS options on another).
async fn endpoints(w: &World) -> Vec<String> {
    let services = ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssm", "sts"];
    let subnets = vec![w.stack.subnets[0].clone(), w.stack.subnets[1].clone()];
    let mut ids = Vec::new();
    for (i, s) in services.iter().enumerate() {
        let mut req = w
            .ec2()
            .create_vpc_endpoint()
            .vpc_endpoint_type(ec2::types::VpcEndpointType::Interface)
            .vpc_id(&w.stack.vpc)
            .service_name(format!("com.amazonaws.us-east-1.{s}"))
            .set_subnet_ids(Some(subnets.clone()))
            .security_group_ids(&w.stack.security_group)
            .private_dns_enabled(i != 5)
            .tag_specifications(w.tags(ResourceType::VpcEndpoint));
        if i == 2 {
            req = req.policy_document(
                json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": "*"}]})
                .to_string(),
            );
        }
        if i == 3 {
            req = req.dns_options(
                ec2::types::DnsOptionsSpecification::builder()
                    .dns_record_ip_type(ec2::types::DnsRecordIpType::Ipv4)
                    .private_dns_only_for_inbound_resolver_endpoint(false)
                    .build(),
            );
        }
        let out = req.send().await.unwrap();
        ids.push(
            out.vpc_endpoint()
                .unwrap()
                .vpc_endpoint_id()
                .unwrap()
                .to_string(),
        );
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_endpoints_stack_gets_its_six_endpoints_back_field_by_field() {
    let p = "vperec";
    let latency: u64 = std::env::var("COSTCTL_NET_LATENCY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let w = World::new(
        p,
        EmulatorOptions {
            latency_ms: latency,
            ..EmulatorOptions::default()
        },
    )
    .await;
    let ids = endpoints(&w).await;
    let before = w.endpoints().await;
    assert_eq!(before.len(), 6, "{before:#?}");
    let engine = w.engine();

    let s0 = w.emu.stats().await.unwrap();
    let t0 = Instant::now();
    let (_, report) = transition(&w, &engine, p, DesiredState::Paused)
        .await
        .unwrap();
    let pause_ms = t0.elapsed().as_millis();
    let pause_calls: u64 = requests_between(&s0, &w.emu.stats().await.unwrap())
        .values()
        .sum();
    assert!(report.succeeded(), "{report:#?}");
    assert!(w.endpoints().await.is_empty(), "all six deleted");

    let s1 = w.emu.stats().await.unwrap();
    let t1 = Instant::now();
    let (generation, report) = transition(&w, &engine, p, DesiredState::Running)
        .await
        .unwrap();
    let resume_ms = t1.elapsed().as_millis();
    let resume_calls: u64 = requests_between(&s1, &w.emu.stats().await.unwrap())
        .values()
        .sum();
    assert!(report.succeeded(), "{report:#?}");
    eprintln!(
        "private-endpoints stack at {latency} ms: pause {pause_calls} requests in {pause_ms} ms, resume {resume_calls} requests in {resume_ms} ms"
    );
    let after = w.endpoints().await;
    assert_eq!(after.len(), 6);
    for (service, (id, picture)) in &after {
        let (old_id, old) = &before[service];
        assert!(
            !ids.contains(id) && id != old_id,
            "a new endpoint for {service}"
        );
        assert_eq!(picture, old, "{service} recreated field by field");
    }
    let steps = steps_of(&w, p, generation).await;
    let last_create = steps
        .iter()
        .rposition(|(a, _)| a == "create_vpc_endpoint")
        .expect("endpoints created");
    assert_eq!(
        steps
            .iter()
            .filter(|(a, _)| a == "create_vpc_endpoint")
            .count(),
        6
    );
    assert!(last_create < first_scale_up(&steps), "{steps:#?}");

    // A repeated resume creates nothing.
    let s2 = w.emu.stats().await.unwrap();
    let (_, report) = transition(&w, &engine, p, DesiredState::Running)
        .await
        .unwrap();
    assert!(report.succeeded() && report.done.is_empty(), "{report:#?}");
    let calls = requests_between(&s2, &w.emu.stats().await.unwrap());
    assert!(changes(&calls).is_empty(), "{calls:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_policy_keeps_the_network_running_while_paused() {
    let p = "netkeep";
    let w = World::new(p, EmulatorOptions::default()).await;
    let (sa, ea) = (w.stack.subnets[0].clone(), w.allocate().await);
    let nat = w.nat(&sa, &ea, true).await;
    let ids = endpoints(&w).await;
    let engine = w.engine();
    let mut req = RequestSpec {
        selector: Some(w.selector()),
        ..RequestSpec::new(DesiredState::Paused, costctl_core::event::Trigger::Cli)
    };
    req.policy = Some(costctl_core::Policy {
        network_on_pause: costctl_core::config::NetworkOnPause::Keep,
        ..costctl_core::Policy::default()
    });
    let state = engine.request(p, req).await.unwrap();
    let report = engine
        .run_until(p, state.generation, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(w.nat_state(&nat).await, "available");
    assert_eq!(w.endpoints().await.len(), ids.len());
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.resource == format!("nat:{sa}") && n.message.contains("network_on_pause")),
        "{:#?}",
        report.notes
    );
}

fn network_spec(w: &World, allocation: &str, route_table: &str) -> EphemeralSpec {
    let tags: BTreeMap<String, String> = w.stack.spec.tags().into_iter().collect();
    EphemeralSpec::from_value(&json!({
        "load_balancers": [],
        "kafka_clusters": [],
        "nat_gateways": [{
            "subnet_id": w.stack.subnets[0],
            "allocation_id": allocation,
            "tags": tags,
            "routes": [{"route_table_id": route_table, "destination_cidr_block": "0.0.0.0/0"}],
        }],
        "vpc_endpoints": [{
            "service_name": "com.amazonaws.us-east-1.logs",
            "vpc_id": w.stack.vpc,
            "subnet_ids": [w.stack.subnets[0], w.stack.subnets[1]],
            "security_group_ids": [w.stack.security_group],
            "tags": tags,
        }],
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terraform_creates_and_destroys_the_network_through_the_spec() {
    let p = "nettf";
    let w = World::new(p, EmulatorOptions::default()).await;
    let engine = w.engine();
    let allocation = w.allocate().await;
    let rt = w.route_table().await;

    // A typo in an allocation: refused before anything is created.
    let bad = network_spec(&w, "eipalloc-0000dead", &rt);
    let err = engine
        .apply_spec(p, &bad, Some(w.selector()), Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("eipalloc-0000dead"), "{err}");
    assert!(w.nats_in(&w.stack.subnets[0]).await.is_empty());
    assert!(w.endpoints().await.is_empty());
    // A public NAT gateway without its Elastic IP is not a valid spec.
    let invalid = EphemeralSpec::from_value(&json!({
        "load_balancers": [], "kafka_clusters": [],
        "nat_gateways": [{"subnet_id": w.stack.subnets[0]}],
    }))
    .unwrap_err();
    assert!(
        invalid
            .to_string()
            .contains("nat_gateways[0].allocation_id"),
        "{invalid}"
    );

    let spec = network_spec(&w, &allocation, &rt);
    let result = engine
        .apply_spec(p, &spec, Some(w.selector()), Duration::from_secs(30))
        .await
        .unwrap();
    let nat = &result.nat_gateways[&w.stack.subnets[0]];
    assert_eq!(nat.state, "available");
    assert!(
        w.routes(&rt)
            .await
            .contains(&("0.0.0.0/0".into(), nat.id.clone(), "active".into()))
    );
    assert_eq!(
        result.vpc_endpoints["com.amazonaws.us-east-1.logs"].state,
        "available"
    );
    // Applying it again creates nothing.
    let again = engine
        .apply_spec(p, &spec, Some(w.selector()), Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(again.nat_gateways, result.nat_gateways);
    assert_eq!(w.nats_in(&w.stack.subnets[0]).await.len(), 1);

    // terraform destroy: deleted and waited for, so the Elastic IP can be released next.
    let deleted = engine.delete_spec(p, &spec).await.unwrap();
    assert!(deleted.nat_gateways.is_empty() && deleted.vpc_endpoints.is_empty());
    assert!(w.nats_in(&w.stack.subnets[0]).await.is_empty());
    assert!(w.endpoints().await.is_empty());
    assert_eq!(
        w.addresses(std::slice::from_ref(&allocation)).await,
        BTreeMap::from([(allocation.clone(), false)])
    );
    w.ec2()
        .release_address()
        .allocation_id(&allocation)
        .send()
        .await
        .expect("Terraform can release the Elastic IP");
    let store = DynamoStore::new(&w.sdk, TABLE);
    let state = store.load(p).await.unwrap().unwrap();
    assert!(state.manifest.nat_gateways.is_empty() && state.manifest.vpc_endpoints.is_empty());
}
