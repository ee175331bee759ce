//! [`SimCloud`]: the `Cloud` trait over the simulated world, one handle per invocation (so that
//! a fault or a crash hits one invocation); [`Caller`] (`caller.rs`) is that invocation (the
//! store's handle, `MemStore`, shares it).
//!
//! The cloud answers as the AWS adapters do over real AWS (the adapters' "already so" answers
//! included). Every call takes virtual time and may meet a fault decided by the world's seeded
//! generator.

pub use crate::caller::{Caller, Shared};
use crate::caller::{not_found, rejected};
use crate::ephemeral::{ALB_ZONE, SimKafka, SimLb, msk_deleting_ms, short};
use crate::ephemeral::{create_kafka, missing_network, tag_pairs};
use crate::network::{create_endpoint, create_nat, delete_endpoint, delete_nat, set_route};
use crate::world::{Direction, MINUTE, SimSnapshot, World};
use async_trait::async_trait;
use costctl_core::Selector;
use costctl_core::observation::{
    AliasObs, Bounds, DbObs, DbSpec, EndpointObs, KafkaObs, LoadBalancerObs, NatObs, RouteObs,
    ServiceObs, SnapshotObs,
};
use costctl_core::observation::{alias_key, normalise_dns, route_key};
use costctl_core::spec::{
    EphemeralSpec, KafkaClusterSpec, LoadBalancerSpec, NatGatewaySpec, NatRouteSpec,
    VpcEndpointSpec,
};
use costctl_engine::cloud::{Cloud, Created, create_with_token, fence};
use costctl_engine::error::{CloudError, CloudResult};
use std::collections::BTreeMap;

/// The simulated cloud, as one invocation sees it.
#[derive(Clone)]
pub struct SimCloud(pub Caller);

#[async_trait]
impl Cloud for SimCloud {
    async fn find_services(&self, selector: &Selector) -> CloudResult<Vec<ServiceObs>> {
        self.call("ecs:ListServices", "*", None, |w| {
            Ok(w.services
                .values()
                .filter(|s| match selector {
                    Selector::Tags(_) => {
                        selector.matches_tags(s.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    }
                    Selector::Names(n) => n
                        .ecs_services
                        .contains(&format!("{}/{}", s.cluster, s.name)),
                })
                .map(crate::world::service_obs)
                .collect())
        })
        .await
    }

    async fn describe_services(&self, keys: &[String]) -> CloudResult<Vec<ServiceObs>> {
        self.call("ecs:DescribeServices", "*", None, |w| {
            Ok(keys
                .iter()
                .filter_map(|k| w.services.get(k))
                .map(crate::world::service_obs)
                .collect())
        })
        .await
    }

    async fn scalable_targets(
        &self,
        resource_ids: &[String],
    ) -> CloudResult<BTreeMap<String, Bounds>> {
        self.call(
            "application-autoscaling:DescribeScalableTargets",
            "*",
            None,
            |w| {
                Ok(resource_ids
                    .iter()
                    .filter_map(|r| w.targets.get(r).map(|b| (r.clone(), *b)))
                    .collect())
            },
        )
        .await
    }

    async fn set_scalable_target(&self, resource_id: &str, bounds: Bounds) -> CloudResult<()> {
        let key = resource_id.strip_prefix("service/").unwrap_or(resource_id);
        let dir = if bounds.max == 0 {
            Direction::Down
        } else {
            Direction::Up
        };
        self.call(
            "application-autoscaling:RegisterScalableTarget",
            &format!("ecs:{key}"),
            Some(dir),
            |w| {
                w.targets.insert(resource_id.to_string(), bounds);
                // Registering new bounds moves a desired count outside them at once.
                let now = w.now;
                if let Some(svc) = w.services.get_mut(key) {
                    let want = svc.desired.clamp(bounds.min, bounds.max.max(bounds.min));
                    if want != svc.desired {
                        svc.desired = want;
                        svc.settles_at = now + 60_000;
                    }
                }
                Ok(())
            },
        )
        .await
    }

    async fn set_desired_count(&self, cluster: &str, service: &str, count: u32) -> CloudResult<()> {
        let key = format!("{cluster}/{service}");
        let dir = if count == 0 {
            Direction::Down
        } else {
            Direction::Up
        };
        self.call("ecs:UpdateService", &format!("ecs:{key}"), Some(dir), |w| {
            let now = w.now;
            let drain = w.rng.range(20_000, 120_000);
            let Some(svc) = w.services.get_mut(&key) else {
                return Err(not_found(
                    "ecs:UpdateService",
                    &key,
                    "ServiceNotFoundException",
                ));
            };
            if svc.desired != count {
                svc.desired = count;
                svc.settles_at = now + drain;
            }
            Ok(())
        })
        .await
    }

    async fn find_db_instances(&self, selector: &Selector) -> CloudResult<Vec<DbObs>> {
        self.call("rds:DescribeDBInstances", "*", None, |w| {
            Ok(w.dbs
                .values()
                .filter(|d| match selector {
                    Selector::Tags(_) => selector
                        .matches_tags(d.spec.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
                    Selector::Names(n) => n.rds_instances.contains(&d.id),
                })
                .map(crate::world::db_obs)
                .collect())
        })
        .await
    }

    async fn describe_db_instances(&self, ids: &[String]) -> CloudResult<Vec<DbObs>> {
        self.call("rds:DescribeDBInstances", "*", None, |w| {
            Ok(ids
                .iter()
                .filter_map(|i| w.dbs.get(i))
                .map(crate::world::db_obs)
                .collect())
        })
        .await
    }

    async fn describe_db_snapshots(&self, ids: &[String]) -> CloudResult<Vec<SnapshotObs>> {
        self.call("rds:DescribeDBSnapshots", "*", None, |w| {
            Ok(ids
                .iter()
                .filter_map(|i| w.snapshots.get(i))
                .map(|s| SnapshotObs {
                    id: s.id.clone(),
                    instance_id: s.instance_id.clone(),
                    status: s.status.clone(),
                })
                .collect())
        })
        .await
    }

    async fn stop_db(&self, id: &str) -> CloudResult<()> {
        self.call(
            "rds:StopDBInstance",
            &format!("rds:{id}"),
            Some(Direction::Down),
            |w| {
                let now = w.now;
                let took = w.rng.range(2 * MINUTE, 6 * MINUTE);
                let Some(db) = w.dbs.get_mut(id) else {
                    return Err(not_found("rds:StopDBInstance", id, "DBInstanceNotFound"));
                };
                // The adapter takes InvalidDBInstanceState as "already stopped/stopping".
                if db.status == "available" {
                    db.status = "stopping".into();
                    db.busy_until = now + took;
                }
                Ok(())
            },
        )
        .await
    }

    async fn start_db(&self, id: &str) -> CloudResult<()> {
        self.call(
            "rds:StartDBInstance",
            &format!("rds:{id}"),
            Some(Direction::Up),
            |w| {
                let now = w.now;
                let took = w.rng.range(3 * MINUTE, 10 * MINUTE);
                let Some(db) = w.dbs.get_mut(id) else {
                    return Err(not_found("rds:StartDBInstance", id, "DBInstanceNotFound"));
                };
                if db.status == "stopped" {
                    db.status = "starting".into();
                    db.busy_until = now + took;
                }
                Ok(())
            },
        )
        .await
    }

    async fn delete_db(&self, id: &str, final_snapshot: &str) -> CloudResult<()> {
        let stack = self.0.stack.clone();
        self.call("rds:DeleteDBInstance", &format!("rds:{id}"), Some(Direction::Down), |w| {
            const OP: &str = "rds:DeleteDBInstance";
            if final_snapshot.is_empty() {
                return Err(CloudError::refused(id, "no final snapshot"));
            }
            let now = w.now;
            let snap_took = w.rng.range(3 * MINUTE, 12 * MINUTE);
            let Some(db) = w.dbs.get(id) else {
                return Ok(()); // the adapter: already gone
            };
            if db.deletion_protection {
                return Err(rejected(
                    OP,
                    id,
                    "InvalidParameterCombination",
                    "Cannot delete protected DB Instance, please disable deletion protection and try again.",
                ));
            }
            if !matches!(db.status.as_str(), "available" | "stopped" | "storage-optimization") {
                return Err(rejected(
                    OP,
                    id,
                    "InvalidDBInstanceState",
                    &format!("Instance {id} is not in available or stopped state ({})", db.status),
                ));
            }
            if w.snapshots.contains_key(final_snapshot) {
                return Err(rejected(
                    OP,
                    id,
                    "DBSnapshotAlreadyExists",
                    &format!("Cannot create the snapshot because a snapshot with the identifier {final_snapshot} already exists."),
                ));
            }
            let data = db.data;
            w.check_delete(&stack, id, final_snapshot);
            w.snapshots.insert(
                final_snapshot.to_string(),
                SimSnapshot {
                    id: final_snapshot.to_string(),
                    instance_id: id.to_string(),
                    status: "creating".into(),
                    ready_at: now + snap_took,
                    data,
                },
            );
            let db = w.dbs.get_mut(id).expect("checked above");
            db.status = "deleting".into();
            db.final_snapshot = Some(final_snapshot.to_string());
            db.busy_until = now + snap_took + 2 * MINUTE;
            Ok(())
        })
        .await
    }

    async fn restore_db(&self, id: &str, snapshot: &str, spec: &DbSpec) -> CloudResult<()> {
        self.call(
            "rds:RestoreDBInstanceFromDBSnapshot",
            &format!("rds:{id}"),
            Some(Direction::Up),
            |w| {
                const OP: &str = "rds:RestoreDBInstanceFromDBSnapshot";
                let now = w.now;
                let took = w.rng.range(15 * MINUTE, 40 * MINUTE);
                if w.dbs.contains_key(id) {
                    return Ok(()); // the adapter: DBInstanceAlreadyExists is success
                }
                let Some(snap) = w.snapshots.get(snapshot) else {
                    return Err(not_found(OP, snapshot, "DBSnapshotNotFound"));
                };
                if snap.status != "available" {
                    return Err(rejected(
                        OP,
                        snapshot,
                        "InvalidDBSnapshotState",
                        "Snapshot is not available.",
                    ));
                }
                let data = snap.data;
                w.dbs.insert(
                    id.to_string(),
                    crate::world::SimDb {
                        id: id.to_string(),
                        status: "creating".into(),
                        deletion_protection: false,
                        spec: spec.clone(),
                        data,
                        busy_until: now + took,
                        stopped_since: 0,
                        final_snapshot: None,
                    },
                );
                Ok(())
            },
        )
        .await
    }

    async fn modify_db(&self, id: &str, spec: &DbSpec, _fields: &[String]) -> CloudResult<()> {
        self.call(
            "rds:ModifyDBInstance",
            &format!("rds:{id}"),
            Some(Direction::Up),
            |w| {
                let Some(db) = w.dbs.get_mut(id) else {
                    return Err(not_found("rds:ModifyDBInstance", id, "DBInstanceNotFound"));
                };
                // The simulated restore keeps every recorded field, so nothing plans this; if
                // something does, the record wins as it would on AWS.
                db.spec = spec.clone();
                Ok(())
            },
        )
        .await
    }

    // ---- the ephemeral tier, call by call as the adapters make them ----

    async fn find_load_balancers(
        &self,
        selector: &Selector,
        names: &[String],
    ) -> CloudResult<Vec<LoadBalancerObs>> {
        let by_tags = matches!(selector, Selector::Tags(_));
        if (!by_tags && names.is_empty()) || !self.enabled() {
            return Ok(Vec::new());
        }
        self.call(
            "elasticloadbalancing:DescribeLoadBalancers",
            "*",
            None,
            |w| {
                Ok(w.eph
                    .lbs
                    .values()
                    .filter(|lb| {
                        names.contains(&lb.name)
                            || (by_tags && selector.matches_tags(tag_pairs(&lb.tags)))
                    })
                    .map(SimLb::obs)
                    .collect())
            },
        )
        .await
    }

    async fn check_spec_dependencies(&self, spec: &EphemeralSpec) -> CloudResult<()> {
        if !self.enabled() {
            return Ok(());
        }
        // As the adapter: the Elastic IPs and route tables the NAT gateways name, before the
        // subnets and groups.
        if !spec.nat_gateways.is_empty() {
            self.call("ec2:DescribeAddresses", "*", None, |w| {
                for n in &spec.nat_gateways {
                    let resource = format!("nat:{}", n.subnet_id);
                    if let Some(a) = n
                        .allocation_id
                        .as_ref()
                        .filter(|a| !w.eph.net.eips.contains_key(*a))
                    {
                        return Err(CloudError::refused(
                            resource,
                            format!("cannot create: Elastic IP allocation {a} does not exist (nothing was created)"),
                        ));
                    }
                    if let Some(r) = n
                        .routes
                        .iter()
                        .find(|r| !w.eph.net.route_tables.contains_key(&r.route_table_id))
                    {
                        return Err(CloudError::refused(
                            resource,
                            format!("cannot create: route table {} does not exist (nothing was created)", r.route_table_id),
                        ));
                    }
                }
                Ok(())
            })
            .await?;
        }
        self.call("ec2:DescribeSubnets", "*", None, |w| {
            let mut users: Vec<(String, &[String], &[String])> = spec
                .load_balancers
                .iter()
                .map(|l| {
                    (
                        format!("alb:{}", l.name),
                        &l.subnets[..],
                        &l.security_groups[..],
                    )
                })
                .collect();
            for c in &spec.kafka_clusters {
                for v in &c.vpc_configs {
                    users.push((
                        format!("msk:{}", c.name),
                        &v.subnet_ids,
                        &v.security_group_ids,
                    ));
                }
            }
            for n in &spec.nat_gateways {
                users.push((
                    format!("nat:{}", n.subnet_id),
                    std::slice::from_ref(&n.subnet_id),
                    &[],
                ));
            }
            for e in &spec.vpc_endpoints {
                users.push((
                    format!("vpce:{}", e.service_name),
                    &e.subnet_ids,
                    &e.security_group_ids,
                ));
            }
            for (resource, subnets, groups) in users {
                if let Some((_, message)) = missing_network(w, subnets, groups) {
                    return Err(CloudError::refused(resource, message));
                }
            }
            Ok(())
        })
        .await?;
        for lb in &spec.load_balancers {
            self.check_lb_dependencies(lb).await?;
        }
        Ok(())
    }

    async fn apply_load_balancer(
        &self,
        spec: &LoadBalancerSpec,
        not_after_ms: i64,
    ) -> CloudResult<()> {
        costctl_engine::alb_apply::apply_alb(self, spec, not_after_ms).await
    }

    async fn delete_load_balancer(&self, arn: &str) -> CloudResult<()> {
        let name = {
            let w = self.0.world.lock();
            w.eph
                .lbs
                .get(arn)
                .map_or_else(|| short(arn).to_string(), |lb| lb.name.clone())
        };
        let dir = if self.0.terraform {
            Direction::Spec
        } else {
            Direction::Down
        };
        self.call(
            "elasticloadbalancing:DeleteLoadBalancer",
            &format!("alb:{name}"),
            Some(dir),
            |w| {
                match w.eph.lbs.get(arn) {
                    // The adapter takes LoadBalancerNotFound as done.
                    None => Ok(()),
                    Some(lb) if lb.deletion_protection() => Err(rejected(
                        "elasticloadbalancing:DeleteLoadBalancer",
                        arn,
                        "OperationNotPermitted",
                        "Load balancer cannot be deleted because deletion protection is enabled",
                    )),
                    Some(_) => {
                        w.eph.lbs.remove(arn);
                        Ok(())
                    }
                }
            },
        )
        .await
    }

    async fn listener_arns(&self, lb_arn: &str) -> CloudResult<BTreeMap<u16, String>> {
        self.call(
            "elasticloadbalancing:DescribeListeners",
            lb_arn,
            None,
            |w| {
                let lb = w.eph.lbs.get(lb_arn).ok_or_else(|| {
                    not_found(
                        "elasticloadbalancing:DescribeListeners",
                        lb_arn,
                        "LoadBalancerNotFound",
                    )
                })?;
                Ok(lb
                    .listeners
                    .iter()
                    .map(|(port, l)| (*port, l.arn.clone()))
                    .collect())
            },
        )
        .await
    }

    async fn find_kafka_clusters(
        &self,
        selector: &Selector,
        names: &[String],
    ) -> CloudResult<Vec<KafkaObs>> {
        let by_tags = matches!(selector, Selector::Tags(_));
        if (!by_tags && names.is_empty()) || !self.enabled() {
            return Ok(Vec::new());
        }
        self.call("kafka:ListClustersV2", "*", None, |w| {
            // As the adapter: one per name, a cluster not being deleted before a deleting one.
            let mut chosen: BTreeMap<String, &SimKafka> = BTreeMap::new();
            for c in w.eph.kafkas.values() {
                if !(names.contains(&c.name)
                    || (by_tags && selector.matches_tags(tag_pairs(&c.spec.tags))))
                {
                    continue;
                }
                match chosen.get(&c.name) {
                    Some(old) if old.state != "DELETING" => {}
                    _ => {
                        chosen.insert(c.name.clone(), c);
                    }
                }
            }
            Ok(chosen.values().map(|c| c.obs()).collect())
        })
        .await
    }

    async fn create_kafka_cluster(
        &self,
        spec: &KafkaClusterSpec,
        not_after_ms: i64,
    ) -> CloudResult<()> {
        let resource = format!("msk:{}", spec.name);
        let exists = self
            .call("kafka:ListClustersV2", &resource, None, |w| {
                Ok(!w.eph.live_kafkas(&spec.name).is_empty())
            })
            .await?;
        if exists {
            return Ok(());
        }
        fence(
            self.0.clock.now(),
            not_after_ms,
            "kafka:CreateClusterV2",
            &resource,
        )?;
        self.call(
            "kafka:CreateClusterV2",
            &resource,
            Some(Direction::Up),
            |w| create_kafka(w, spec),
        )
        .await
    }

    async fn delete_kafka_cluster(&self, arn: &str) -> CloudResult<()> {
        let name = {
            let w = self.0.world.lock();
            w.eph
                .kafkas
                .get(arn)
                .map_or_else(|| short(arn).to_string(), |c| c.name.clone())
        };
        let dir = if self.0.terraform {
            Direction::Spec
        } else {
            Direction::Down
        };
        self.call(
            "kafka:DeleteCluster",
            &format!("msk:{name}"),
            Some(dir),
            |w| {
                const OP: &str = "kafka:DeleteCluster";
                let took = msk_deleting_ms(w);
                let now = w.now;
                let Some(c) = w.eph.kafkas.get_mut(arn) else {
                    return Ok(()); // the adapter: NotFoundException is done
                };
                if c.state != "ACTIVE" {
                    return Err(rejected(
                        OP,
                        arn,
                        "BadRequestException",
                        &format!(
                            "The cluster is in the {} state and cannot be deleted.",
                            c.state
                        ),
                    ));
                }
                c.state = "DELETING".into();
                c.until = now + took;
                Ok(())
            },
        )
        .await
    }

    // ---- the network tier, call by call as `costctl-aws/src/vpc.rs` makes them ----

    async fn find_nat_gateways(
        &self,
        selector: &Selector,
        subnets: &[String],
    ) -> CloudResult<Vec<NatObs>> {
        let by_tags = matches!(selector, Selector::Tags(_));
        if (!by_tags && subnets.is_empty()) || !self.net_enabled() {
            return Ok(Vec::new());
        }
        // DescribeNatGateways (by tags, by subnet; not `deleted`), then the route tables that
        // have a route to one of them.
        let mut found: Vec<NatObs> = self
            .call("ec2:DescribeNatGateways", "*", None, |w| {
                let now = w.now;
                let net = &w.eph.net;
                Ok(net
                    .nats
                    .values()
                    .filter(|n| n.state != "deleted" && now >= n.visible_at)
                    .filter(|n| {
                        subnets.contains(&n.subnet)
                            || (by_tags && selector.matches_tags(tag_pairs(&n.tags)))
                    })
                    .map(|n| {
                        let mut obs = net.nat_obs(n);
                        obs.spec.routes.clear();
                        obs
                    })
                    .collect())
            })
            .await?;
        if found.is_empty() {
            return Ok(found);
        }
        let routes: Vec<Vec<NatRouteSpec>> = self
            .call("ec2:DescribeRouteTables", "*", None, |w| {
                Ok(found.iter().map(|n| w.eph.net.routes_to(&n.id)).collect())
            })
            .await?;
        for (n, r) in found.iter_mut().zip(routes) {
            n.spec.routes = r;
        }
        Ok(found)
    }

    async fn describe_routes(
        &self,
        routes: &[(String, String)],
    ) -> CloudResult<BTreeMap<String, RouteObs>> {
        if routes.is_empty() || !self.net_enabled() {
            return Ok(BTreeMap::new());
        }
        self.call("ec2:DescribeRouteTables", "*", None, |w| {
            let net = &w.eph.net;
            Ok(routes
                .iter()
                .filter_map(|(table, destination)| {
                    let r = net.route(table, destination)?;
                    Some((route_key(table, destination), net.route_obs(r)))
                })
                .collect())
        })
        .await
    }

    async fn create_nat_gateway(
        &self,
        spec: &NatGatewaySpec,
        client_token: &str,
        not_after_ms: i64,
    ) -> CloudResult<()> {
        let resource = format!("nat:{}", spec.subnet_id);
        // Already there (a repeated step, a create whose answer was lost and that EC2 lists
        // by now): nothing to do.
        let live = self
            .call("ec2:DescribeNatGateways", &resource, None, |w| {
                let now = w.now;
                Ok(w.eph.net.nats.values().any(|n| {
                    n.subnet == spec.subnet_id
                        && n.live()
                        && now >= n.visible_at
                        && carries(&n.tags, &spec.tags)
                }))
            })
            .await?;
        if live {
            return Ok(());
        }
        self.create(
            "ec2:CreateNatGateway",
            &resource,
            client_token,
            not_after_ms,
            |w, token| create_nat(w, spec, token),
        )
        .await
    }

    async fn delete_nat_gateway(&self, id: &str) -> CloudResult<()> {
        let subnet = {
            let w = self.0.world.lock();
            w.eph
                .net
                .nats
                .get(id)
                .map_or_else(|| id.to_string(), |n| n.subnet.clone())
        };
        let owner = self.0.owner.clone();
        self.call(
            "ec2:DeleteNatGateway",
            &format!("nat:{subnet}"),
            Some(self.down()),
            |w| delete_nat(w, id, &owner),
        )
        .await
    }

    async fn point_routes(
        &self,
        routes: &[NatRouteSpec],
        nat_gateway_id: &str,
        not_after_ms: i64,
    ) -> CloudResult<()> {
        for r in routes {
            let resource = format!("route:{}", r.label());
            fence(
                self.0.clock.now(),
                not_after_ms,
                "ec2:ReplaceRoute",
                &resource,
            )?;
            let replaced = self
                .call("ec2:ReplaceRoute", &resource, Some(Direction::Up), |w| {
                    set_route(w, r, nat_gateway_id, false)
                })
                .await;
            match replaced {
                Ok(()) => {}
                Err(e) if e.code() == Some("InvalidRoute.NotFound") => {
                    fence(
                        self.0.clock.now(),
                        not_after_ms,
                        "ec2:CreateRoute",
                        &resource,
                    )?;
                    let created = self
                        .call("ec2:CreateRoute", &resource, Some(Direction::Up), |w| {
                            set_route(w, r, nat_gateway_id, true)
                        })
                        .await;
                    match created {
                        // Created meanwhile (by a repeated step): the next pass checks where
                        // it points.
                        Err(e) if e.code() == Some("RouteAlreadyExists") => {}
                        other => other?,
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn find_vpc_endpoints(
        &self,
        selector: &Selector,
        services: &[(String, String)],
    ) -> CloudResult<Vec<EndpointObs>> {
        let by_tags = matches!(selector, Selector::Tags(_));
        if (!by_tags && services.is_empty()) || !self.net_enabled() {
            return Ok(Vec::new());
        }
        self.call("ec2:DescribeVpcEndpoints", "*", None, |w| {
            let now = w.now;
            Ok(w.eph
                .net
                .endpoints
                .values()
                // Interface endpoints only: a gateway endpoint is never captured.
                .filter(|e| e.kind == "Interface" && e.state != "deleted" && now >= e.visible_at)
                .filter(|e| {
                    services
                        .iter()
                        .any(|(vpc, service)| *vpc == e.vpc && *service == e.service)
                        || (by_tags && selector.matches_tags(tag_pairs(&e.tags)))
                })
                .map(|e| e.obs())
                .collect())
        })
        .await
    }

    async fn create_vpc_endpoint(
        &self,
        spec: &VpcEndpointSpec,
        client_token: &str,
        not_after_ms: i64,
    ) -> CloudResult<()> {
        let resource = format!("vpce:{}", spec.service_name);
        let exists = self
            .call("ec2:DescribeVpcEndpoints", &resource, None, |w| {
                let now = w.now;
                Ok(w.eph.net.endpoints.values().any(|e| {
                    e.kind == "Interface"
                        && e.vpc == spec.vpc_id
                        && e.service == spec.service_name
                        && now >= e.visible_at
                        && e.live()
                        && carries(&e.tags, &spec.tags)
                }))
            })
            .await?;
        if exists {
            return Ok(());
        }
        self.create(
            "ec2:CreateVpcEndpoint",
            &resource,
            client_token,
            not_after_ms,
            |w, token| create_endpoint(w, spec, token),
        )
        .await
    }

    async fn delete_vpc_endpoint(&self, id: &str) -> CloudResult<()> {
        let service = {
            let w = self.0.world.lock();
            w.eph
                .net
                .endpoints
                .get(id)
                .map_or_else(|| id.to_string(), |e| e.service.clone())
        };
        let owner = self.0.owner.clone();
        self.call(
            "ec2:DeleteVpcEndpoints",
            &format!("vpce:{service}"),
            Some(self.down()),
            |w| delete_endpoint(w, id, &owner),
        )
        .await
    }

    async fn get_parameters(&self, names: &[String]) -> CloudResult<BTreeMap<String, String>> {
        if names.is_empty() {
            return Ok(BTreeMap::new());
        }
        self.call("ssm:GetParameter", "*", None, |w| {
            Ok(names
                .iter()
                .filter_map(|n| w.eph.parameters.get(n).map(|v| (n.clone(), v.clone())))
                .collect())
        })
        .await
    }

    async fn put_parameter(&self, name: &str, value: &str) -> CloudResult<()> {
        self.call(
            "ssm:PutParameter",
            &format!("ssm:{name}"),
            Some(Direction::Up),
            |w| {
                w.eph.parameters.insert(name.to_string(), value.to_string());
                Ok(())
            },
        )
        .await
    }

    async fn get_aliases(
        &self,
        records: &[(String, String)],
    ) -> CloudResult<BTreeMap<String, AliasObs>> {
        if records.is_empty() {
            return Ok(BTreeMap::new());
        }
        self.call("route53:ListResourceRecordSets", "*", None, |w| {
            Ok(records
                .iter()
                .map(|(zone, name)| {
                    let key = alias_key(zone, name);
                    let obs = w.eph.aliases.get(&key).cloned().unwrap_or_default();
                    (key, obs)
                })
                .collect())
        })
        .await
    }

    async fn upsert_alias(
        &self,
        zone_id: &str,
        name: &str,
        target_dns: &str,
        target_zone: &str,
    ) -> CloudResult<()> {
        let resource = format!("route53:{zone_id}/{name}");
        self.call(
            "route53:ChangeResourceRecordSets",
            &resource,
            Some(Direction::Up),
            |w| {
                if target_zone != ALB_ZONE {
                    return Err(rejected(
                        "route53:ChangeResourceRecordSets",
                        &resource,
                        "InvalidChangeBatch",
                        "Tried to create an alias that targets a zone that does not hold it",
                    ));
                }
                let target = Some(normalise_dns(target_dns));
                w.eph.aliases.insert(
                    alias_key(zone_id, name),
                    AliasObs {
                        a: target.clone(),
                        aaaa: target,
                    },
                );
                Ok(())
            },
        )
        .await
    }

    async fn delete_alias(&self, zone_id: &str, name: &str, target_dns: &str) -> CloudResult<()> {
        let resource = format!("route53:{zone_id}/{name}");
        // Only delete-spec (Terraform) deletes aliases.
        let dir = if self.0.terraform {
            Direction::Spec
        } else {
            Direction::Down
        };
        self.call(
            "route53:ChangeResourceRecordSets",
            &resource,
            Some(dir),
            |w| {
                let key = alias_key(zone_id, name);
                let target = Some(normalise_dns(target_dns));
                if let Some(obs) = w.eph.aliases.get_mut(&key) {
                    if obs.a == target {
                        obs.a = None;
                    }
                    if obs.aaaa == target {
                        obs.aaaa = None;
                    }
                    if obs.a.is_none() && obs.aaaa.is_none() {
                        w.eph.aliases.remove(&key);
                    }
                }
                Ok(())
            },
        )
        .await
    }
}

impl SimCloud {
    /// An EC2 create through production's token handling ([`create_with_token`]), each
    /// request one simulated call of `effect` with its own faults.
    async fn create(
        &self,
        operation: &'static str,
        resource: &str,
        client_token: &str,
        not_after_ms: i64,
        effect: impl Fn(&mut World, &str) -> CloudResult<Created> + Sync,
    ) -> CloudResult<()> {
        let effect = &effect;
        create_with_token(
            operation,
            resource,
            client_token,
            not_after_ms,
            || self.0.clock.now(),
            |token| async move {
                self.call(operation, resource, Some(Direction::Up), |w| {
                    effect(w, &token)
                })
                .await
            },
        )
        .await
    }

    pub(crate) fn net_enabled(&self) -> bool {
        self.0.world.lock().eph.net.enabled
    }

    /// The direction of a delete: a Terraform invocation's changes the spec, any other pauses.
    fn down(&self) -> Direction {
        if self.0.terraform {
            Direction::Spec
        } else {
            Direction::Down
        }
    }
}

/// Whether `have` carries every tag of `want`.
fn carries(have: &BTreeMap<String, String>, want: &BTreeMap<String, String>) -> bool {
    want.iter().all(|(k, v)| have.get(k) == Some(v))
}
