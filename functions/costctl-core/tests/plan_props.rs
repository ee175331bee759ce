//! Property tests of the planner over random observed stacks.
//!
//! A small model of AWS applies each executed step's effect to the observation and lets time
//! pass (stopping → stopped, tasks drain…). The properties are the safety rules of DESIGN.md and
//! convergence: executing plans and re-planning always reaches an empty plan.

use costctl_core::ephemeral::{lb_differences, non_default_attributes};
use costctl_core::manifest::Manifest;
use costctl_core::observation::{
    AliasObs, Bounds, DbObs, DbSpec, KafkaObs, LoadBalancerObs, Observation, ServiceObs,
    SnapshotObs, alias_key, scalable_resource_id,
};
use costctl_core::plan::{Action, Goal, MskOnPause, Policy, RdsOnPause, plan, plan_with};
use costctl_core::spec::{
    ActionSpec, AliasSpec, ClientAuthenticationSpec, ConditionSpec, EphemeralSpec,
    KafkaClusterSpec, ListenerProtocol, ListenerSpec, LoadBalancerSpec, RuleSpec, VpcConfigSpec,
};
use costctl_core::state::DesiredState;
use proptest::prelude::*;
use std::collections::BTreeMap;

/// Applies an executed action, as AWS would accept it (or reject it: `Err`).
fn apply(obs: &mut Observation, action: &Action) -> Result<(), String> {
    match action {
        Action::SetScalingBounds {
            cluster,
            service,
            min,
            max,
        } => {
            obs.scalable_targets.insert(
                scalable_resource_id(cluster, service),
                Bounds {
                    min: *min,
                    max: *max,
                },
            );
        }
        Action::SetDesiredCount {
            cluster,
            service,
            count,
        } => {
            let svc = obs
                .services
                .iter_mut()
                .find(|s| *s.cluster == **cluster && *s.name == **service)
                .ok_or("no such service")?;
            svc.desired = *count;
        }
        Action::StopDb { id } => {
            let db = db_mut(obs, id)?;
            if db.status != "available" {
                return Err(format!("cannot stop {id} in state {}", db.status));
            }
            db.status = "stopping".into();
        }
        Action::StartDb { id } => {
            let db = db_mut(obs, id)?;
            if db.status != "stopped" {
                return Err(format!("cannot start {id} in state {}", db.status));
            }
            db.status = "starting".into();
        }
        Action::DeleteDb { id, final_snapshot } => {
            if obs.snapshot(final_snapshot).is_some() {
                return Err(format!("snapshot {final_snapshot} already exists"));
            }
            let db = db_mut(obs, id)?;
            if db.deletion_protection {
                return Err("deletion protection".into());
            }
            if !matches!(db.status.as_str(), "available" | "stopped") {
                return Err(format!("cannot delete {id} in state {}", db.status));
            }
            db.status = "deleting".into();
            obs.db_snapshots.push(SnapshotObs {
                id: final_snapshot.clone(),
                instance_id: id.clone(),
                status: "creating".into(),
            });
        }
        Action::RestoreDb { id, snapshot, spec } => {
            if obs.db(id).is_some() {
                return Err(format!("{id} already exists"));
            }
            match obs.snapshot(snapshot) {
                Some(s) if s.status == "available" => {}
                _ => return Err(format!("snapshot {snapshot} not available")),
            }
            obs.db_instances.push(DbObs {
                kms_key_state: None,
                pending: Default::default(),
                unsupported: Vec::new(),
                id: id.clone(),
                status: "creating".into(),
                deletion_protection: false,
                spec: (**spec).clone(),
            });
        }
        Action::ModifyDb { id, spec, .. } => {
            let db = db_mut(obs, id)?;
            if db.status != "available" {
                return Err(format!("cannot modify {id} in state {}", db.status));
            }
            db.spec = (**spec).clone();
            db.status = "modifying".into();
        }
        Action::ApplyLoadBalancer { spec } => {
            let mut captured = (**spec).clone();
            captured.dns_name_parameter = None;
            captured.aliases.clear();
            captured.attributes = non_default_attributes(&spec.attributes);
            let protected = captured
                .attributes
                .get("deletion_protection.enabled")
                .is_some_and(|v| v == "true");
            match obs.load_balancers.get_mut(&spec.name) {
                Some(lb) => {
                    if !lb_differences(&lb.spec, spec).fixed.is_empty() {
                        return Err(format!("{} cannot change in place", spec.name));
                    }
                    lb.spec = captured;
                    lb.deletion_protection = protected;
                }
                None => {
                    let n = next_serial(obs);
                    obs.load_balancers.insert(
                        spec.name.clone(),
                        LoadBalancerObs {
                            unsupported: Vec::new(),
                            arn: format!("arn:lb/{}/{n}", spec.name),
                            dns_name: format!("{}-{n}.elb.example", spec.name),
                            zone_id: "ZALB".into(),
                            state: "provisioning".into(),
                            deletion_protection: protected,
                            spec: captured,
                        },
                    );
                }
            }
        }
        Action::DeleteLoadBalancer { name, arn } => {
            let lb = obs
                .load_balancers
                .get(name)
                .ok_or("no such load balancer")?;
            if &lb.arn != arn {
                return Err(format!("{name}: stale ARN {arn}"));
            }
            if lb.deletion_protection {
                return Err("deletion protection".into());
            }
            drained(obs, name)?;
            obs.load_balancers.remove(name);
        }
        Action::CreateKafkaCluster { spec } => {
            if obs.kafka_clusters.contains_key(&spec.name) {
                return Err(format!("a cluster named {} already exists", spec.name));
            }
            let n = next_serial(obs);
            let mut captured = (**spec).clone();
            captured.bootstrap_parameter = None;
            obs.kafka_clusters.insert(
                spec.name.clone(),
                KafkaObs {
                    unsupported: Vec::new(),
                    arn: format!("arn:msk/{}/{n}", spec.name),
                    state: "CREATING".into(),
                    bootstrap: None,
                    spec: captured,
                },
            );
        }
        Action::DeleteKafkaCluster { name, arn } => {
            let c = obs.kafka_clusters.get(name).ok_or("no such cluster")?;
            if &c.arn != arn {
                return Err(format!("{name}: stale ARN {arn}"));
            }
            if !matches!(c.state.as_str(), "ACTIVE" | "FAILED") {
                return Err(format!("cannot delete {name} in state {}", c.state));
            }
            drained(obs, name)?;
            obs.kafka_clusters.get_mut(name).unwrap().state = "DELETING".into();
        }
        Action::PublishKafkaBootstrap { cluster, parameter } => {
            let boot = obs
                .kafka_clusters
                .get(cluster)
                .filter(|c| c.state == "ACTIVE")
                .and_then(|c| c.bootstrap.clone())
                .ok_or_else(|| format!("{cluster} has no bootstrap brokers yet"))?;
            obs.parameters.insert(parameter.clone(), boot);
        }
        Action::PublishLoadBalancerDns {
            load_balancer,
            parameter,
        } => {
            let lb = obs
                .load_balancers
                .get(load_balancer)
                .ok_or("no such load balancer")?;
            obs.parameters
                .insert(parameter.clone(), lb.dns_name.clone());
        }
        Action::UpsertAlias {
            load_balancer,
            zone_id,
            name,
        } => {
            let lb = obs
                .load_balancers
                .get(load_balancer)
                .ok_or("no such load balancer")?;
            let target = Some(lb.dns_name.clone());
            obs.aliases.insert(
                alias_key(zone_id, name),
                AliasObs {
                    a: target.clone(),
                    aaaa: target,
                },
            );
        }
        Action::SetAlarmActions { names, enabled } => {
            for n in names {
                obs.alarms
                    .get_mut(n)
                    .ok_or("no such alarm")?
                    .actions_enabled = *enabled;
            }
        }
        Action::PointAlarm {
            name,
            load_balancer,
            definition,
            actions_enabled,
        } => {
            let lb = obs
                .load_balancers
                .get(load_balancer)
                .ok_or("no such load balancer")?;
            let dimension = costctl_core::observation::lb_dimension(&lb.arn)
                .ok_or("not an ALB ARN")?
                .to_string();
            let a = obs.alarms.get_mut(name).ok_or("no such alarm")?;
            a.definition = definition.pointed_at(load_balancer, &dimension);
            a.dimension = dimension;
            a.actions_enabled = *actions_enabled;
        }
        Action::CreateNatGateway { spec, .. } => {
            let live = obs
                .nat_gateways
                .get(&spec.subnet_id)
                .is_some_and(|n| matches!(n.state.as_str(), "pending" | "available"));
            if !live {
                if obs.nat_gateways.contains_key(&spec.subnet_id) {
                    return Err("the old gateway still holds the Elastic IP".into());
                }
                obs.nat_gateways.insert(
                    spec.subnet_id.clone(),
                    costctl_core::observation::NatObs {
                        id: format!("nat-{}", obs.nat_gateways.len() + obs.routes.len() + 1),
                        state: "pending".into(),
                        spec: costctl_core::spec::NatGatewaySpec {
                            routes: Vec::new(),
                            ..(**spec).clone()
                        },
                        of_stack: true,
                        unsupported: Vec::new(),
                        duplicates: Vec::new(),
                    },
                );
            }
        }
        Action::DeleteNatGateway { subnet, id } => {
            let n = obs.nat_gateways.get_mut(subnet).ok_or("no such gateway")?;
            if &n.id != id {
                return Err(format!("{id} is not the gateway of {subnet}"));
            }
            n.state = "deleting".into();
        }
        Action::PointNatRoutes { subnet, routes } => {
            let n = obs
                .nat_gateways
                .get(subnet)
                .filter(|n| n.state == "available")
                .ok_or("no available gateway")?
                .id
                .clone();
            for r in routes {
                obs.routes.insert(
                    costctl_core::observation::route_key(&r.route_table_id, r.destination()),
                    costctl_core::observation::RouteObs {
                        nat_gateway_id: Some(n.clone()),
                        other_target: None,
                        state: "active".into(),
                    },
                );
            }
        }
        Action::CreateVpcEndpoint { spec, .. } => {
            if obs.vpc_endpoints.contains_key(&spec.service_name) {
                let e = &obs.vpc_endpoints[&spec.service_name];
                if e.state == "deleting" {
                    return Err("a conflicting DNS domain exists in the VPC".into());
                }
            } else {
                obs.vpc_endpoints.insert(
                    spec.service_name.clone(),
                    costctl_core::observation::EndpointObs {
                        id: format!("vpce-{}", obs.vpc_endpoints.len() + 1),
                        state: "pending".into(),
                        spec: (**spec).clone(),
                        of_stack: true,
                        unsupported: Vec::new(),
                        duplicates: Vec::new(),
                    },
                );
            }
        }
        Action::DeleteVpcEndpoint { service, id } => {
            let e = obs
                .vpc_endpoints
                .get_mut(service)
                .ok_or("no such endpoint")?;
            if &e.id != id {
                return Err(format!("{id} is not the endpoint of {service}"));
            }
            e.state = "deleting".into();
        }
        Action::AwaitServiceCount { .. }
        | Action::AwaitDb { .. }
        | Action::AwaitDbModified { .. }
        | Action::AwaitSnapshot { .. }
        | Action::AwaitLoadBalancer { .. }
        | Action::AwaitKafkaCluster { .. }
        | Action::AwaitNatGateway { .. }
        | Action::AwaitVpcEndpoint { .. }
        | Action::AwaitAll { .. } => {
            return Err("gates are never executed".into());
        }
    }
    Ok(())
}

/// A fresh number for ARNs and DNS names: a recreated resource never has the old ones.
fn next_serial(obs: &Observation) -> usize {
    static SERIAL: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
    let _ = obs;
    SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// The ephemeral tier goes only once no task runs any more.
fn drained(obs: &Observation, what: &str) -> Result<(), String> {
    match obs
        .services
        .iter()
        .find(|s| s.running != 0 || s.desired != 0)
    {
        Some(s) => Err(format!(
            "{what} deleted while {}/{} still runs tasks",
            s.cluster, s.name
        )),
        None => Ok(()),
    }
}

/// Before any service scales up, every load balancer and cluster the stack needs exists and is
/// ready, matches its spec, and its endpoints are published.
fn ready_for_services(
    obs: &Observation,
    manifest: &Manifest,
    spec: Option<&EphemeralSpec>,
) -> Result<(), String> {
    let mut lbs: BTreeMap<&String, &LoadBalancerSpec> = manifest.load_balancers.iter().collect();
    let mut kafkas: BTreeMap<&String, &KafkaClusterSpec> = manifest.kafka_clusters.iter().collect();
    if let Some(s) = spec {
        lbs.extend(s.load_balancers.iter().map(|l| (&l.name, l)));
        kafkas.extend(s.kafka_clusters.iter().map(|c| (&c.name, c)));
    }
    for (name, want) in lbs {
        let lb = obs
            .load_balancers
            .get(name)
            .ok_or_else(|| format!("ALB {name} missing"))?;
        if lb.state != "active" || !lb_differences(&lb.spec, want).is_empty() {
            return Err(format!("ALB {name} not ready or listeners/rules missing"));
        }
        if let Some(p) = &want.dns_name_parameter
            && obs.parameters.get(p) != Some(&lb.dns_name)
        {
            return Err(format!("DNS name of {name} not published"));
        }
        for a in &want.aliases {
            let cur = obs.aliases.get(&alias_key(&a.zone_id, &a.name));
            if cur.and_then(|c| c.a.as_ref()) != Some(&lb.dns_name) {
                return Err(format!("alias {} not repointed", a.name));
            }
        }
    }
    for (name, want) in kafkas {
        let c = obs
            .kafka_clusters
            .get(name)
            .filter(|c| c.state == "ACTIVE")
            .ok_or_else(|| format!("MSK {name} not ACTIVE"))?;
        if let Some(p) = &want.bootstrap_parameter
            && obs.parameters.get(p) != c.bootstrap.as_ref()
        {
            return Err(format!("bootstrap of {name} not published"));
        }
    }
    Ok(())
}

fn db_mut<'a>(obs: &'a mut Observation, id: &str) -> Result<&'a mut DbObs, String> {
    obs.db_instances
        .iter_mut()
        .find(|d| d.id == id)
        .ok_or_else(|| format!("no instance {id}"))
}

/// Lets time pass: every transition in progress completes.
fn settle(obs: &mut Observation) {
    for svc in &mut obs.services {
        svc.running = svc.desired;
        svc.pending = 0;
    }
    obs.db_instances.retain(|d| d.status != "deleting");
    for db in &mut obs.db_instances {
        db.status = match db.status.as_str() {
            "stopping" => "stopped".into(),
            "starting" | "creating" | "modifying" | "backing-up" => "available".into(),
            other => other.into(),
        };
    }
    for snap in &mut obs.db_snapshots {
        snap.status = "available".into();
    }
    for lb in obs.load_balancers.values_mut() {
        lb.state = "active".into();
    }
    obs.kafka_clusters.retain(|_, c| c.state != "DELETING");
    let gone: Vec<String> = obs
        .nat_gateways
        .values()
        .filter(|n| n.state == "deleting")
        .map(|n| n.id.clone())
        .collect();
    obs.nat_gateways.retain(|_, n| n.state != "deleting");
    for r in obs.routes.values_mut() {
        if r.nat_gateway_id
            .as_ref()
            .is_some_and(|id| gone.contains(id))
        {
            r.state = "blackhole".into();
        }
    }
    for n in obs.nat_gateways.values_mut() {
        n.state = "available".into();
    }
    obs.vpc_endpoints.retain(|_, e| e.state != "deleting");
    for e in obs.vpc_endpoints.values_mut() {
        e.state = "available".into();
    }
    for c in obs.kafka_clusters.values_mut() {
        if c.state == "CREATING" {
            c.state = "ACTIVE".into();
            c.bootstrap = Some(format!("boot-{}.kafka:9098", c.arn));
        }
    }
}

fn arb_lb(i: usize) -> impl Strategy<Value = LoadBalancerObs> {
    (any::<bool>(), 0usize..3, any::<bool>(), 0u8..3).prop_map(
        move |(https, rules, idle, state)| {
            let name = format!("alb{i}");
            let tg = format!("arn:aws:elasticloadbalancing:tg/{name}");
            let mut listeners = vec![ListenerSpec {
                attributes: Default::default(),
                mutual_authentication: None,
                port: 80,
                protocol: ListenerProtocol::Http,
                ssl_policy: None,
                certificate_arn: None,
                additional_certificate_arns: vec![],
                default_actions: vec![ActionSpec::Forward {
                    forward_config: None,
                    target_group_arn: Some(tg.clone()),
                    order: Some(1),
                }],
                rules: (0..rules)
                    .map(|r| RuleSpec {
                        priority: 10 + r as u32,
                        conditions: vec![ConditionSpec::PathPattern {
                            values: vec![format!("/p{r}/*")],
                        }],
                        actions: vec![ActionSpec::Forward {
                            forward_config: None,
                            target_group_arn: Some(tg.clone()),
                            order: Some(1),
                        }],
                    })
                    .collect(),
            }];
            if https {
                listeners.push(ListenerSpec {
                    attributes: Default::default(),
                    mutual_authentication: None,
                    port: 443,
                    protocol: ListenerProtocol::Https,
                    ssl_policy: Some("ELBSecurityPolicy-2016-08".into()),
                    certificate_arn: Some("arn:aws:acm:cert/1".into()),
                    additional_certificate_arns: vec![],
                    default_actions: vec![ActionSpec::Forward {
                        forward_config: None,
                        target_group_arn: Some(tg.clone()),
                        order: Some(1),
                    }],
                    rules: vec![],
                });
            }
            let mut attributes = BTreeMap::new();
            if idle {
                attributes.insert("idle_timeout.timeout_seconds".into(), "120".into());
            }
            // state: 0 active, 1 provisioning, 2 active with deletion protection
            if state == 2 {
                attributes.insert("deletion_protection.enabled".into(), "true".into());
            }
            LoadBalancerObs {
                unsupported: Vec::new(),
                arn: format!("arn:lb/{name}/0"),
                dns_name: format!("{name}-0.elb.example"),
                zone_id: "ZALB".into(),
                state: if state == 1 { "provisioning" } else { "active" }.into(),
                deletion_protection: state == 2,
                spec: LoadBalancerSpec {
                    web_acl_arn: None,
                    name,
                    scheme: Default::default(),
                    lb_type: Default::default(),
                    ip_address_type: Default::default(),
                    subnets: vec!["subnet-a".into(), "subnet-b".into()],
                    security_groups: vec!["sg-alb".into()],
                    attributes,
                    tags: BTreeMap::from([("Project".into(), "p".into())]),
                    dns_name_parameter: None,
                    aliases: vec![],
                    listeners,
                },
            }
        },
    )
}

fn arb_kafka(i: usize) -> impl Strategy<Value = KafkaObs> {
    prop_oneof![Just("ACTIVE"), Just("CREATING"), Just("DELETING")].prop_map(move |state| {
        let name = format!("msk{i}");
        KafkaObs {
            unsupported: Vec::new(),
            arn: format!("arn:msk/{name}/0"),
            state: state.into(),
            bootstrap: (state == "ACTIVE").then(|| format!("boot-{name}-0:9098")),
            spec: kafka_spec(&name),
        }
    })
}

fn kafka_spec(name: &str) -> KafkaClusterSpec {
    KafkaClusterSpec {
        name: name.into(),
        vpc_configs: vec![VpcConfigSpec {
            subnet_ids: vec!["subnet-a".into(), "subnet-b".into()],
            security_group_ids: vec!["sg-msk".into()],
        }],
        client_authentication: ClientAuthenticationSpec { sasl_iam: true },
        tags: BTreeMap::from([("Project".into(), "p".into())]),
        bootstrap_parameter: None,
    }
}

/// The spec `apply-spec` would store for what `obs` holds, with publishing configured.
fn spec_for(obs: &Observation) -> EphemeralSpec {
    EphemeralSpec {
        load_balancers: obs
            .load_balancers
            .values()
            .map(|lb| LoadBalancerSpec {
                dns_name_parameter: Some(format!("/p/{}/dns", lb.spec.name)),
                aliases: vec![AliasSpec {
                    zone_id: "ZAPP".into(),
                    name: format!("{}.example.com", lb.spec.name),
                }],
                ..lb.spec.clone()
            })
            .collect(),
        kafka_clusters: obs
            .kafka_clusters
            .values()
            .map(|c| KafkaClusterSpec {
                bootstrap_parameter: Some(format!("/p/{}/bootstrap", c.spec.name)),
                ..c.spec.clone()
            })
            .collect(),
        ..EphemeralSpec::default()
    }
}

fn arb_service(i: usize) -> impl Strategy<Value = (ServiceObs, Option<Bounds>)> {
    (0u32..5, 0u32..5, any::<bool>(), 0u32..3, 0u32..4).prop_map(
        move |(desired, running, scaled, min, extra)| {
            let svc = ServiceObs {
                cluster: format!("c{}", i % 3),
                name: format!("svc{i}"),
                desired,
                running,
                pending: 0,
                status: "ACTIVE".into(),
                tags: Default::default(),
                public_ip: false,
            };
            (
                svc,
                scaled.then_some(Bounds {
                    min,
                    max: min + extra,
                }),
            )
        },
    )
}

fn arb_db(i: usize) -> impl Strategy<Value = DbObs> {
    (
        prop_oneof![
            Just("available"),
            Just("stopped"),
            Just("stopping"),
            Just("starting"),
            Just("backing-up")
        ],
        any::<bool>(),
    )
        .prop_map(move |(status, protected)| DbObs {
            kms_key_state: None,
            pending: Default::default(),
            unsupported: Vec::new(),
            id: format!("db{i}"),
            status: status.into(),
            deletion_protection: protected,
            spec: DbSpec {
                instance_class: "db.t4g.micro".into(),
                engine: "postgres".into(),
                security_groups: vec![format!("sg-{i}")],
                tags: BTreeMap::from([("Project".into(), "p".into())]),
                ..DbSpec::default()
            },
        })
}

fn arb_observation() -> impl Strategy<Value = Observation> {
    (0usize..8, 0usize..4, 0usize..3, 0usize..3).prop_flat_map(|(n, m, l, k)| {
        let services: Vec<_> = (0..n).map(arb_service).collect();
        let dbs: Vec<_> = (0..m).map(arb_db).collect();
        let lbs: Vec<_> = (0..l).map(arb_lb).collect();
        let kafkas: Vec<_> = (0..k).map(arb_kafka).collect();
        (services, dbs, lbs, kafkas).prop_map(|(services, db_instances, lbs, kafkas)| {
            let mut obs = Observation {
                db_instances,
                load_balancers: lbs.into_iter().map(|l| (l.spec.name.clone(), l)).collect(),
                kafka_clusters: kafkas
                    .into_iter()
                    .map(|c| (c.spec.name.clone(), c))
                    .collect(),
                ..Observation::default()
            };
            for (svc, bounds) in services {
                if let Some(b) = bounds {
                    obs.scalable_targets
                        .insert(scalable_resource_id(&svc.cluster, &svc.name), b);
                }
                obs.services.push(svc);
            }
            obs
        })
    })
}

fn arb_goal() -> impl Strategy<Value = Goal> {
    (
        prop_oneof![
            Just(DesiredState::Running),
            Just(DesiredState::Paused),
            Just(DesiredState::Hibernated)
        ],
        1u64..5,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(desired, generation, snap, keep_msk)| Goal {
            desired,
            generation,
            policy: Policy {
                rds_on_pause: if snap {
                    RdsOnPause::Snapshot
                } else {
                    RdsOnPause::Stop
                },
                msk_on_pause: if keep_msk {
                    MskOnPause::Keep
                } else {
                    MskOnPause::Delete
                },
                ..Policy::default()
            },
        })
}

/// Runs plans until converged. Every executed action must be accepted by the model, and the
/// safety properties are checked on every plan. Returns the final observation and manifest.
fn drive(goal: &Goal, obs: Observation, manifest: Manifest) -> (Observation, Manifest) {
    drive_with(goal, obs, manifest, None)
}

fn drive_with(
    goal: &Goal,
    mut obs: Observation,
    mut manifest: Manifest,
    spec: Option<&EphemeralSpec>,
) -> (Observation, Manifest) {
    for _round in 0..12 {
        let p = plan_with(goal, &obs, &manifest, spec);
        check_safety(goal, &obs, &manifest, &p.manifest, &p);
        manifest = p.manifest.clone();
        if p.is_converged() {
            return (obs, manifest);
        }
        let mut done = Vec::new();
        loop {
            let ready: Vec<_> = p.ready(&done).cloned().collect();
            if ready.is_empty() {
                break;
            }
            for step in ready {
                let scales_up = match &step.action {
                    Action::SetDesiredCount { count, .. } => *count > 0,
                    Action::SetScalingBounds { max, .. } => *max > 0,
                    _ => false,
                };
                if scales_up {
                    ready_for_services(&obs, &p.manifest, spec).unwrap_or_else(|e| {
                        panic!("{} before the ephemeral tier was ready: {e}", step.action)
                    });
                }
                apply(&mut obs, &step.action)
                    .unwrap_or_else(|e| panic!("AWS would reject {}: {e}", step.action));
                done.push(step.id);
            }
        }
        settle(&mut obs);
    }
    panic!("did not converge to {:?}: {obs:#?}", goal.desired);
}

fn check_safety(
    goal: &Goal,
    obs: &Observation,
    before: &Manifest,
    after: &Manifest,
    p: &costctl_core::Plan,
) {
    // A recorded count or bound is never replaced by another value while the stack is paused.
    if goal.desired.is_down() {
        for (key, rec) in &before.services {
            assert_eq!(
                after.services.get(key),
                Some(rec),
                "record of {key} changed during a pause"
            );
        }
    }
    for step in &p.steps {
        match &step.action {
            // Never delete an instance without a final snapshot recorded ahead of the call.
            Action::DeleteDb { id, final_snapshot } => {
                let rec = after
                    .db_instances
                    .get(id)
                    .expect("instance recorded before delete");
                assert_eq!(rec.snapshot.as_deref(), Some(final_snapshot.as_str()));
                assert!(
                    !obs.db(id).unwrap().deletion_protection,
                    "deletion-protected {id} deleted"
                );
            }
            // Scaling to zero never happens before the count is recorded.
            Action::SetDesiredCount {
                cluster,
                service,
                count: 0,
            }
            | Action::SetScalingBounds {
                cluster,
                service,
                max: 0,
                ..
            } => {
                assert!(after.services.contains_key(&format!("{cluster}/{service}")));
            }
            // The spec of what is deleted is recorded ahead of the delete.
            Action::DeleteLoadBalancer { name, .. } => {
                assert!(
                    after.load_balancers.contains_key(name),
                    "{name} not recorded"
                );
                assert!(!obs.load_balancers[name].deletion_protection);
            }
            Action::DeleteKafkaCluster { name, .. } => {
                assert!(
                    after.kafka_clusters.contains_key(name),
                    "{name} not recorded"
                );
                assert_eq!(goal.policy.msk_on_pause, MskOnPause::Delete);
                assert!(goal.desired.is_down());
            }
            // At most one cluster per name.
            Action::CreateKafkaCluster { spec } => {
                assert!(!obs.kafka_clusters.contains_key(&spec.name));
            }
            _ => {}
        }
        assert!(
            step.after.iter().all(|d| *d < step.id),
            "dependencies point backwards"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_goal_converges_safely(goal in arb_goal(), obs in arb_observation()) {
        drive(&goal, obs, Manifest::default());
    }

    /// Pause then resume gives back exactly the counts, bounds and instances of before.
    #[test]
    fn pause_resume_round_trip(
        obs in arb_observation(),
        level in prop_oneof![Just(DesiredState::Paused), Just(DesiredState::Hibernated)],
        gen_ in 1u64..100,
    ) {
        let mut start = obs;
        settle(&mut start); // a running stack is settled
        for db in &mut start.db_instances { db.status = "available".into(); }
        let pause = Goal { desired: level, generation: gen_, policy: Policy::default() };
        let (paused, manifest) = drive(&pause, start.clone(), Manifest::default());
        for svc in &paused.services {
            prop_assert_eq!(svc.desired, 0);
            prop_assert_eq!(svc.running, 0);
        }
        for b in paused.scalable_targets.values() {
            prop_assert_eq!((b.min, b.max), (0, 0));
        }
        for db in &paused.db_instances {
            prop_assert!(db.status == "stopped");
            prop_assert!(level == DesiredState::Paused || db.deletion_protection);
        }
        let resume = Goal { desired: DesiredState::Running, generation: gen_ + 1, policy: Policy::default() };
        prop_assert_eq!(paused.kafka_clusters.len(), 0);
        let (resumed, manifest) = drive(&resume, paused, manifest);
        prop_assert!(manifest.is_empty());
        prop_assert_eq!(&resumed.services, &start.services);
        prop_assert_eq!(&resumed.scalable_targets, &start.scalable_targets);
        let mut a: Vec<_> = resumed.db_instances.iter().map(|d| (d.id.clone(), d.status.clone(), d.spec.clone())).collect();
        let mut b: Vec<_> = start.db_instances.iter().map(|d| (d.id.clone(), d.status.clone(), d.spec.clone())).collect();
        a.sort_by(|x, y| x.0.cmp(&y.0)); b.sort_by(|x, y| x.0.cmp(&y.0));
        prop_assert_eq!(a, b);
        // The ephemeral tier comes back with identical specs (new ARNs and DNS names).
        let specs = |o: &Observation| o.load_balancers.iter().map(|(n, l)| (n.clone(), l.spec.clone())).collect::<BTreeMap<_, _>>();
        prop_assert_eq!(specs(&resumed), specs(&start));
        let kspecs = |o: &Observation| o.kafka_clusters.iter().map(|(n, c)| (n.clone(), (c.state.clone(), c.spec.clone()))).collect::<BTreeMap<_, _>>();
        prop_assert_eq!(kspecs(&resumed), kspecs(&start));
        for (name, lb) in &start.load_balancers {
            prop_assert_eq!(lb.deletion_protection, resumed.load_balancers[name].arn == lb.arn);
        }
    }

    /// With a stored spec (apply-spec), a pause/resume also republishes every endpoint, and
    /// nothing scales up before that (checked in `drive`). Applying the spec to the running
    /// stack it describes creates nothing; a repeated resume does nothing.
    #[test]
    fn stored_spec_round_trip_publishes_and_is_idempotent(
        obs in arb_observation(),
        keep_msk in any::<bool>(),
    ) {
        let mut start = obs;
        settle(&mut start);
        for db in &mut start.db_instances { db.status = "available".into(); }
        let spec = spec_for(&start);
        let policy = Policy {
            msk_on_pause: if keep_msk { MskOnPause::Keep } else { MskOnPause::Delete },
            ..Policy::default()
        };
        let run = Goal { desired: DesiredState::Running, generation: 1, policy };
        // First apply on the running stack: only publishing, nothing created.
        let first = plan_with(&run, &start, &Manifest::default(), Some(&spec));
        let creates = first.steps.iter().any(|s| matches!(s.action, Action::ApplyLoadBalancer { .. } | Action::CreateKafkaCluster { .. }));
        prop_assert!(!creates);
        let (start, m) = drive_with(&run, start, Manifest::default(), Some(&spec));
        prop_assert!(m.is_empty());
        let pause = Goal { desired: DesiredState::Paused, generation: 2, policy };
        let (paused, m) = drive_with(&pause, start.clone(), m, Some(&spec));
        prop_assert_eq!(paused.kafka_clusters.len(), if keep_msk { start.kafka_clusters.len() } else { 0 });
        let resume = Goal { desired: DesiredState::Running, generation: 3, policy };
        let (resumed, m) = drive_with(&resume, paused, m, Some(&spec));
        prop_assert!(m.is_empty());
        prop_assert!(ready_for_services(&resumed, &m, Some(&spec)).is_ok());
        prop_assert_eq!(resumed.load_balancers.len(), start.load_balancers.len());
        prop_assert_eq!(resumed.kafka_clusters.len(), start.kafka_clusters.len());
        let again = plan_with(&resume, &resumed, &m, Some(&spec));
        prop_assert!(again.is_converged(), "second resume not a no-op: {:?}", again.steps);
    }

    /// Planning is idempotent on a converged stack: a second pause changes nothing.
    #[test]
    fn second_pause_is_a_no_op(obs in arb_observation(), goal in arb_goal()) {
        let (obs, manifest) = drive(&goal, obs, Manifest::default());
        let again = plan(&goal, &obs, &manifest);
        prop_assert!(again.is_converged());
        prop_assert_eq!(again.manifest, manifest);
    }
}

#[test]
fn hibernate_with_deletion_protection_stops_and_says_why() {
    let obs = Observation {
        db_instances: vec![DbObs {
            kms_key_state: None,
            pending: Default::default(),
            unsupported: Vec::new(),
            id: "db".into(),
            status: "available".into(),
            deletion_protection: true,
            spec: DbSpec::default(),
        }],
        ..Observation::default()
    };
    let goal = Goal {
        desired: DesiredState::Hibernated,
        generation: 1,
        policy: Policy::default(),
    };
    let p = plan(&goal, &obs, &Manifest::default());
    assert!(
        p.steps
            .iter()
            .any(|s| s.action == Action::StopDb { id: "db".into() })
    );
    assert!(
        !p.steps
            .iter()
            .any(|s| matches!(s.action, Action::DeleteDb { .. }))
    );
    assert!(p.notes[0].message.contains("deletion protection"));
}

#[test]
fn missing_instance_without_snapshot_is_a_problem_not_a_step() {
    let mut manifest = Manifest::default();
    manifest.db_instances.insert(
        "db".into(),
        costctl_core::manifest::DbRecord {
            stopped: false,
            spec: DbSpec::default(),
            snapshot: None,
        },
    );
    let goal = Goal {
        desired: DesiredState::Running,
        generation: 2,
        policy: Policy::default(),
    };
    let p = plan(&goal, &Observation::default(), &manifest);
    assert!(p.steps.is_empty());
    assert_eq!(p.problems.len(), 1);
    assert!(p.problems[0].message.contains("no snapshot"));
    assert!(!p.is_converged());
}

#[test]
fn msk_kept_by_policy_is_noted_not_deleted() {
    let obs = Observation {
        kafka_clusters: BTreeMap::from([(
            "msk".to_string(),
            KafkaObs {
                unsupported: Vec::new(),
                arn: "arn:msk/msk/0".into(),
                state: "ACTIVE".into(),
                bootstrap: None,
                spec: kafka_spec("msk"),
            },
        )]),
        ..Observation::default()
    };
    let goal = Goal {
        desired: DesiredState::Paused,
        generation: 1,
        policy: Policy {
            msk_on_pause: MskOnPause::Keep,
            ..Policy::default()
        },
    };
    let p = plan(&goal, &obs, &Manifest::default());
    assert!(p.is_converged());
    assert!(p.notes[0].message.contains("msk_on_pause"));
}
