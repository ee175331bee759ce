//! The manifest: what must be remembered to undo a pause.
//!
//! It is written *before* the destructive call it protects. The merge rules here are the heart of
//! the "never overwrite a recorded value with a paused one" safety rule: a record, once made, is
//! only replaced when the stack is running again and the value was observed while running.

use crate::observation::{Bounds, DbSpec, Observation};
use crate::spec::{KafkaClusterSpec, LoadBalancerSpec, NatGatewaySpec, VpcEndpointSpec};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// How long after a create was sent a pause may believe that EC2 made nothing when it lists
/// nothing. EC2's describes are eventually consistent ("a resource you just created might not
/// appear in a Describe for a short time", the EC2 API reference's section on eventual
/// consistency); seconds in practice, and a NAT gateway takes a minute or more to delete
/// anyway, so two minutes costs a pause little.
pub const CREATE_SETTLE_MS: i64 = 120_000;

/// The client token of a create costctl sent (or is about to send), kept until what it made is
/// deleted: sent again, AWS answers with the same resource instead of making a second one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateToken {
    pub token: String,
    /// When the last create with it was planned ([`Observation::observed_at_ms`] of that pass).
    pub sent_at_ms: i64,
}

/// What a service looked like before costctl scaled it to zero.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRecord {
    pub desired: u32,
    /// The autoscaling bounds, when the service has a scalable target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounds: Option<Bounds>,
}

/// What an RDS instance looked like, and where its data went if it was deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbRecord {
    pub spec: DbSpec,
    /// Final snapshot taken when the instance was hibernated; a restore needs it, so nothing
    /// ever deletes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<String>,
    /// It was already stopped (or stopping) when the pause recorded it: a resume leaves it
    /// stopped, because a resume never starts what the pause did not stop.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stopped: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Manifest {
    /// By `cluster/service`.
    pub services: BTreeMap<String, ServiceRecord>,
    /// By instance identifier.
    pub db_instances: BTreeMap<String, DbRecord>,
    /// Load balancer specs captured before the delete, by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub load_balancers: BTreeMap<String, LoadBalancerSpec>,
    /// MSK Serverless cluster specs captured before the delete, by name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub kafka_clusters: BTreeMap<String, KafkaClusterSpec>,
    /// CloudWatch alarms on the load balancers whose actions were on when the pause began: the
    /// pause turns them off, the resume back on (and only these).
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub alarms_muted: BTreeSet<String>,
    /// NAT gateway specs (with their routes) captured before the delete, by subnet.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub nat_gateways: BTreeMap<String, NatGatewaySpec>,
    /// Interface endpoint specs captured before the delete, by service name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub vpc_endpoints: BTreeMap<String, VpcEndpointSpec>,
    /// Client tokens of NAT gateway and endpoint creates, by resource (`nat:SUBNET`,
    /// `vpce:SERVICE`): written before the create is sent, forgotten when a pause deletes what
    /// it made (or a resume converges).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub create_tokens: BTreeMap<String, CreateToken>,
}

impl Manifest {
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
            && self.db_instances.is_empty()
            && self.load_balancers.is_empty()
            && self.kafka_clusters.is_empty()
            && self.alarms_muted.is_empty()
            && self.nat_gateways.is_empty()
            && self.vpc_endpoints.is_empty()
            && self.create_tokens.is_empty()
    }

    /// Records every observed resource that has no record yet. Existing records are kept as they
    /// are: while a pause is under way the observed values may already be the paused ones.
    pub fn record_missing(&mut self, obs: &Observation) {
        // New records are collected and added in one go: on an empty manifest (every pause of a
        // running stack) the map is then built from sorted keys instead of by one insert per
        // service, which dominated planning a 10,000-resource stack.
        let mut fresh: Vec<(String, ServiceRecord)> = Vec::new();
        for svc in &obs.services {
            let key = svc.key();
            if self.services.contains_key(&key) {
                continue;
            }
            let bounds = obs
                .scalable_targets
                .get(&crate::observation::scalable_resource_id(
                    &svc.cluster,
                    &svc.name,
                ))
                .copied();
            fresh.push((
                key,
                ServiceRecord {
                    desired: svc.desired,
                    bounds,
                },
            ));
        }
        if self.services.is_empty() {
            // Reversed: of equal keys `collect` and `extend` keep the last, and the first wins.
            self.services = fresh.into_iter().rev().collect();
        } else {
            self.services.extend(fresh.into_iter().rev());
        }
        for db in &obs.db_instances {
            self.db_instances
                .entry(db.id.clone())
                .or_insert_with(|| DbRecord {
                    spec: db.spec.clone(),
                    snapshot: None,
                    stopped: matches!(db.status.as_str(), "stopped" | "stopping"),
                });
        }
        for (name, lb) in &obs.load_balancers {
            self.load_balancers
                .entry(name.clone())
                .or_insert_with(|| lb.spec.clone());
        }
        self.alarms_muted.extend(
            obs.alarms
                .values()
                .filter(|a| a.muted_by_pause())
                .map(|a| a.name.clone()),
        );
        // A cluster being deleted is not recorded: if a pause of ours deletes it, its record
        // was written before the delete; otherwise it was deleted on purpose (delete-spec, a
        // person), and recording it now would make the next resume bring it back.
        for (name, c) in &obs.kafka_clusters {
            if c.state == "DELETING" {
                continue;
            }
            self.kafka_clusters
                .entry(name.clone())
                .or_insert_with(|| c.spec.clone());
        }
        // As with clusters: one being deleted is not recorded, and only the stack's own (a
        // gateway or endpoint of someone else's is never deleted, so there is nothing to undo).
        for (subnet, n) in &obs.nat_gateways {
            if n.of_stack && n.state != "deleting" {
                self.nat_gateways
                    .entry(subnet.clone())
                    .or_insert_with(|| n.spec.clone());
            }
        }
        for (service, e) in &obs.vpc_endpoints {
            if e.of_stack && e.state != "deleting" {
                self.vpc_endpoints
                    .entry(service.clone())
                    .or_insert_with(|| e.spec.clone());
            }
        }
    }
}
