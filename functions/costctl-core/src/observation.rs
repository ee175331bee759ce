//! What the adapters saw of a stack's resources at one instant.
//!
//! An observation is plain data so that the planner stays a pure function and tests can build
//! any situation — including ones moto cannot produce — by hand.

use crate::spec::{KafkaClusterSpec, LoadBalancerSpec, NatGatewaySpec, VpcEndpointSpec};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// An ECS service, addressed as `cluster/service` (the Application Auto Scaling resource id is
/// `service/cluster/service`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceObs {
    pub cluster: String,
    pub name: String,
    pub desired: u32,
    pub running: u32,
    pub pending: u32,
    /// `ACTIVE`, `DRAINING` or `INACTIVE`.
    pub status: String,
    /// The service's tags (DescribeServices `include=TAGS`): read for the exclusion tag.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Its tasks get a public IPv4 address each (`assignPublicIp` ENABLED): billed per hour.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub public_ip: bool,
}

impl ServiceObs {
    /// The key under which the manifest records this service.
    pub fn key(&self) -> String {
        service_key(&self.cluster, &self.name)
    }
}

/// `cluster/service`: the manifest key of a service.
pub fn service_key(cluster: &str, service: &str) -> String {
    // Not `format!`: planning a large stack builds this key per service, and the formatting
    // machinery costs more than the copy (measured with callgrind on the plan benchmark).
    let mut key = String::with_capacity(cluster.len() + 1 + service.len());
    key.push_str(cluster);
    key.push('/');
    key.push_str(service);
    key
}

/// The Application Auto Scaling resource id of an ECS service.
pub fn scalable_resource_id(cluster: &str, service: &str) -> String {
    let mut id = String::with_capacity(8 + cluster.len() + 1 + service.len());
    id.push_str("service/");
    id.push_str(cluster);
    id.push('/');
    id.push_str(service);
    id
}

/// Splits a manifest key back into cluster and service names.
pub fn split_service_key(key: &str) -> Option<(&str, &str)> {
    key.split_once('/')
}

/// A registered scalable target (`ecs:service:DesiredCount`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounds {
    pub min: u32,
    pub max: u32,
}

/// Everything needed to restore an RDS instance under the same identifier: the same identifier
/// gives the same endpoint, so the application needs no change.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DbSpec {
    pub instance_class: String,
    pub engine: String,
    pub engine_version: Option<String>,
    pub subnet_group: Option<String>,
    pub security_groups: Vec<String>,
    pub parameter_group: Option<String>,
    pub option_group: Option<String>,
    pub storage_type: Option<String>,
    pub allocated_storage: Option<u32>,
    pub iops: Option<u32>,
    pub port: Option<u32>,
    pub multi_az: bool,
    pub publicly_accessible: bool,
    pub availability_zone: Option<String>,
    pub copy_tags_to_snapshot: bool,
    pub iam_auth: bool,
    pub auto_minor_version_upgrade: bool,
    pub backup_retention_period: Option<u32>,
    pub preferred_backup_window: Option<String>,
    pub tags: BTreeMap<String, String>,
    // Fields added for lossless hibernation (docs/fidelity.md). `#[serde(default)]` on the
    // struct lets manifests written before them parse; their zero values mean "not recorded".
    /// gp3 throughput (MiB/s).
    pub storage_throughput: Option<u32>,
    /// Storage autoscaling limit; RestoreDBInstanceFromDBSnapshot cannot set it, so it is set
    /// by a ModifyDBInstance once the restored instance is available.
    pub max_allocated_storage: Option<u32>,
    /// From the snapshot: a restore cannot change it, only compare it.
    pub storage_encrypted: bool,
    pub kms_key_id: Option<String>,
    pub preferred_maintenance_window: Option<String>,
    pub cloudwatch_logs_exports: Vec<String>,
    pub ca_certificate: Option<String>,
    pub network_type: Option<String>,
    pub monitoring_interval: Option<u32>,
    pub monitoring_role_arn: Option<String>,
    pub performance_insights: bool,
    pub performance_insights_kms_key_id: Option<String>,
    pub performance_insights_retention: Option<u32>,
    pub deletion_protection: bool,
    pub license_model: Option<String>,
    pub master_username: Option<String>,
    pub db_name: Option<String>,
}

/// An RDS instance as described.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbObs {
    pub id: String,
    /// RDS status: `available`, `stopping`, `stopped`, `starting`, `deleting`, `creating`, …
    pub status: String,
    pub deletion_protection: bool,
    pub spec: DbSpec,
    /// Configured features a restore from a snapshot cannot bring back (an RDS-managed master
    /// password, read replicas, …), each naming the field: such an instance is stopped, never
    /// hibernated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsupported: Vec<String>,
    /// For an encrypted instance, the `KeyState` of its KMS key (`Enabled`, `Disabled`,
    /// `PendingDeletion`, …, or `NotFound` / `Unknown (…)` when it cannot be read): a final
    /// snapshot is encrypted with the same key and cannot be restored without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_state: Option<String>,
    /// The [`DbSpec`] fields with a modification RDS has accepted and not applied yet
    /// (`PendingModifiedValues`), by field name (`instance_class`, `allocated_storage`, …): a
    /// resume waits for them instead of sending the same ModifyDBInstance again.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub pending: BTreeSet<String>,
}

/// A manual DB snapshot that a restore may need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotObs {
    pub id: String,
    pub instance_id: String,
    /// `creating` or `available` (or a failure state).
    pub status: String,
}

/// An Application Load Balancer as described, with its spec captured from AWS (listeners, rules,
/// non-default attributes, tags). The capture has no `dns_name_parameter` or `aliases`: those
/// are not properties of the load balancer, they come from a spec given by `apply-spec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadBalancerObs {
    pub arn: String,
    pub dns_name: String,
    /// The canonical hosted zone of the load balancer (the alias target's zone).
    pub zone_id: String,
    /// `provisioning`, `active`, `active_impaired` or `failed`.
    pub state: String,
    pub deletion_protection: bool,
    pub spec: LoadBalancerSpec,
    /// Configured fields the spec format cannot express (a JWT-validation action, a rule
    /// transform, an IPAM pool, …), each naming where: such a load balancer is kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsupported: Vec<String>,
}

/// An MSK Serverless cluster as described.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KafkaObs {
    pub arn: String,
    /// `CREATING`, `ACTIVE`, `DELETING`, `FAILED`, …
    pub state: String,
    /// The SASL/IAM bootstrap broker string, once the cluster is `ACTIVE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<String>,
    pub spec: KafkaClusterSpec,
    /// Configured fields the spec format cannot express (multi-VPC private connectivity): such
    /// a cluster is kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsupported: Vec<String>,
}

/// A NAT gateway of the stack as described, with its spec captured (subnet, connectivity,
/// Elastic IP allocation, private address, tags, and the routes that point at it now).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatObs {
    pub id: String,
    /// `pending`, `available`, `deleting` or `failed` (a `deleted` one is not observed).
    pub state: String,
    pub spec: NatGatewaySpec,
    /// It carries the selector's tags. A NAT gateway in a recorded subnet that is not the
    /// stack's is never deleted, and a resume does not create a second one next to it.
    #[serde(default = "yes")]
    pub of_stack: bool,
    /// What a recreation could not bring back (secondary addresses, …): such a gateway is kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsupported: Vec<String>,
    /// Other live NAT gateways of the stack in the same subnet (there should be none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<String>,
}

/// An interface VPC endpoint of the stack as described, with its spec captured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointObs {
    pub id: String,
    /// `pending`, `available`, `deleting`, `pendingAcceptance`, `rejected`, `failed`, …
    pub state: String,
    pub spec: VpcEndpointSpec,
    #[serde(default = "yes")]
    pub of_stack: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsupported: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<String>,
}

/// Where a recorded route (route table and destination) sends traffic now.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RouteObs {
    /// The NAT gateway it targets, if its target is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_id: Option<String>,
    /// Its target when that is not a NAT gateway (`igw-…`, `tgw-…`, an ENI, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_target: Option<String>,
    /// `active` or `blackhole`.
    pub state: String,
}

/// The key of a route in [`Observation::routes`]: `rtb-…|destination`.
pub fn route_key(route_table_id: &str, destination: &str) -> String {
    format!("{route_table_id}|{destination}")
}

/// Where a Route53 alias record (`A` and `AAAA`) of a name points now.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AliasObs {
    /// Target DNS name of the `A` alias (normalised: lower case, no trailing dot, no
    /// `dualstack.` prefix); `None` when there is no such record.
    pub a: Option<String>,
    pub aaaa: Option<String>,
}

/// The key of an alias record in [`Observation::aliases`]: `ZONE_ID/name` (no trailing dot).
pub fn alias_key(zone_id: &str, name: &str) -> String {
    format!(
        "{zone_id}/{}",
        name.trim_end_matches('.').to_ascii_lowercase()
    )
}

/// Normalises an alias target DNS name for comparison.
pub fn normalise_dns(name: &str) -> String {
    let n = name.trim_end_matches('.').to_ascii_lowercase();
    n.strip_prefix("dualstack.")
        .map(str::to_string)
        .unwrap_or(n)
}

/// A CloudWatch metric alarm whose `LoadBalancer` dimension names a load balancer of the stack
/// (`app/NAME/ID`). Alarms are not deleted with the load balancer: they outlive it, pointing at
/// its old ID, so a resume re-points them at the new one; a pause turns their actions off so a
/// paused stack pages nobody.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmObs {
    pub name: String,
    /// The name of the load balancer its dimension names.
    pub load_balancer: String,
    /// The `app/NAME/ID` its dimension names now.
    pub dimension: String,
    pub actions_enabled: bool,
    pub definition: AlarmDefinition,
    /// The alarm's tags (ListTagsForResource).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Whether the alarm is the stack's: it carries the tags of the stack's selector (IAM lets
    /// costctl change only such alarms). An alarm of someone else's on the stack's load balancer
    /// is neither muted nor re-pointed; it keeps the load balancer (see `unsupported`).
    #[serde(default = "yes")]
    pub of_stack: bool,
    /// What a PutMetricAlarm cannot set again as it is (a metric-math query or an anomaly
    /// band naming the load balancer): such an alarm cannot be re-pointed, so the load
    /// balancer is kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsupported: Vec<String>,
}

fn yes() -> bool {
    true
}

/// A metric alarm's definition as PutMetricAlarm takes it (PutMetricAlarm replaces the whole
/// configuration, so every field DescribeAlarms returns is carried; tags are left alone by an
/// update and are not).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AlarmDefinition {
    pub description: Option<String>,
    pub ok_actions: Vec<String>,
    pub alarm_actions: Vec<String>,
    pub insufficient_data_actions: Vec<String>,
    pub metric_name: Option<String>,
    pub namespace: Option<String>,
    pub statistic: Option<String>,
    pub extended_statistic: Option<String>,
    /// `(name, value)` pairs in the order AWS returned them.
    pub dimensions: Vec<(String, String)>,
    pub period: Option<i32>,
    pub unit: Option<String>,
    pub evaluation_periods: Option<i32>,
    pub datapoints_to_alarm: Option<i32>,
    /// The shortest decimal that reads back as the same `f64` (an `f64` has no `Eq`).
    pub threshold: Option<String>,
    pub comparison_operator: Option<String>,
    pub treat_missing_data: Option<String>,
    pub evaluate_low_sample_count_percentile: Option<String>,
}

impl AlarmObs {
    /// Whether a pause mutes it: its actions are on and it is the stack's (IAM lets costctl
    /// change no other alarm). The manifest records exactly these, so a resume unmutes them.
    pub fn muted_by_pause(&self) -> bool {
        self.actions_enabled && self.of_stack
    }
}

impl AlarmDefinition {
    /// The same definition with every `LoadBalancer` dimension that names load balancer
    /// `name` (`app/NAME/…`) set to `dimension`.
    pub fn pointed_at(&self, name: &str, dimension: &str) -> Self {
        let mut d = self.clone();
        for (k, v) in &mut d.dimensions {
            if k == "LoadBalancer" && lb_dimension_name(v) == Some(name) {
                *v = dimension.to_string();
            }
        }
        d
    }
}

/// The `LoadBalancer` dimension of an ALB (`app/NAME/ID`): its ARN after `loadbalancer/`.
pub fn lb_dimension(arn: &str) -> Option<&str> {
    arn.split_once(":loadbalancer/").map(|(_, d)| d)
}

/// The load balancer name in an `app/NAME/ID` dimension value.
pub fn lb_dimension_name(dimension: &str) -> Option<&str> {
    let rest = dimension.strip_prefix("app/")?;
    rest.split_once('/').map(|(name, _)| name)
}

/// All resources of one stack as seen now. Resources that the manifest remembers but that do
/// not exist (a deleted RDS instance) are simply absent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Observation {
    pub services: Vec<ServiceObs>,
    /// Scalable targets by resource id (`service/cluster/service`).
    pub scalable_targets: BTreeMap<String, Bounds>,
    pub db_instances: Vec<DbObs>,
    pub db_snapshots: Vec<SnapshotObs>,
    /// Application Load Balancers by name.
    #[serde(default)]
    pub load_balancers: BTreeMap<String, LoadBalancerObs>,
    /// MSK Serverless clusters by name (a name may be reused only once the old cluster is gone,
    /// so at most one per name; a `DELETING` one is kept here until it disappears).
    #[serde(default)]
    pub kafka_clusters: BTreeMap<String, KafkaObs>,
    /// Current values of the SSM parameters costctl publishes to (absent: no such parameter).
    #[serde(default)]
    pub parameters: BTreeMap<String, String>,
    /// Current alias records costctl maintains, by [`alias_key`].
    #[serde(default)]
    pub aliases: BTreeMap<String, AliasObs>,
    /// CloudWatch metric alarms on the stack's load balancers, by alarm name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub alarms: BTreeMap<String, AlarmObs>,
    /// Live NAT gateways of the stack (and any in a recorded subnet), by subnet.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub nat_gateways: BTreeMap<String, NatObs>,
    /// Interface endpoints of the stack (and any of a recorded service in a recorded VPC), by
    /// service name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vpc_endpoints: BTreeMap<String, EndpointObs>,
    /// The routes recorded with the NAT gateways, by [`route_key`]; a route that does not exist
    /// is absent.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub routes: BTreeMap<String, RouteObs>,
    /// Unix milliseconds at which the observation began (0: not known). EC2 lists a resource
    /// it just made only after a few seconds; the planner compares this with when a create was
    /// sent before it trusts that what the create made is not listed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub observed_at_ms: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl Observation {
    pub fn service(&self, key: &str) -> Option<&ServiceObs> {
        self.services.iter().find(|s| s.key() == key)
    }

    pub fn db(&self, id: &str) -> Option<&DbObs> {
        self.db_instances.iter().find(|d| d.id == id)
    }

    pub fn snapshot(&self, id: &str) -> Option<&SnapshotObs> {
        self.db_snapshots.iter().find(|s| s.id == id)
    }

    /// Whether `alarm` names the load balancer of its name that exists now (false while that
    /// one is gone or the alarm still names an older one): what a resume re-points.
    pub fn alarm_points_at_live(&self, alarm: &AlarmObs) -> bool {
        self.load_balancers
            .get(&alarm.load_balancer)
            .and_then(|lb| lb_dimension(&lb.arn))
            == Some(alarm.dimension.as_str())
    }

    /// True when nothing at all was found.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
            && self.db_instances.is_empty()
            && self.db_snapshots.is_empty()
            && self.load_balancers.is_empty()
            && self.kafka_clusters.is_empty()
            && self.nat_gateways.is_empty()
            && self.vpc_endpoints.is_empty()
    }
}
