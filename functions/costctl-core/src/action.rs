//! The steps a plan is made of: one idempotent operation on one resource each.

use crate::observation::AlarmDefinition;
use crate::observation::DbSpec;
use crate::spec::{
    KafkaClusterSpec, LoadBalancerSpec, NatGatewaySpec, NatRouteSpec, VpcEndpointSpec,
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A cluster or service name in a step. Shared, not copied: a pause makes three steps per
/// service, and copying the names into each was most of what planning a large stack cost.
pub type Name = std::sync::Arc<str>;

/// One idempotent operation on one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// RegisterScalableTarget with these bounds.
    SetScalingBounds {
        cluster: Name,
        service: Name,
        min: u32,
        max: u32,
    },
    /// UpdateService desiredCount.
    SetDesiredCount {
        cluster: Name,
        service: Name,
        count: u32,
    },
    /// Gate: the service runs exactly `count` tasks and none are pending.
    AwaitServiceCount {
        cluster: Name,
        service: Name,
        count: u32,
    },
    StopDb {
        id: String,
    },
    StartDb {
        id: String,
    },
    /// DeleteDBInstance with a final snapshot (never without one).
    DeleteDb {
        id: String,
        final_snapshot: String,
    },
    /// RestoreDBInstanceFromDBSnapshot under the same identifier with the recorded spec.
    RestoreDb {
        id: String,
        snapshot: String,
        spec: Box<DbSpec>,
    },
    /// ModifyDBInstance (apply immediately) with what a restore from a snapshot cannot set
    /// (storage autoscaling, maintenance window, monitoring, Performance Insights, …): the
    /// instance comes back as recorded, not as RDS's defaults.
    ModifyDb {
        id: String,
        spec: Box<DbSpec>,
        /// The fields that differ from the record (shown to users).
        fields: Vec<String>,
    },
    /// Gate: the instance has reached `status` or is gone.
    AwaitDb {
        id: String,
        status: DbGate,
    },
    /// Gate: RDS has applied the pending modifications of these fields (they leave
    /// `PendingModifiedValues`).
    AwaitDbModified {
        id: String,
        fields: Vec<String>,
    },
    /// Gate: the snapshot is `available`.
    AwaitSnapshot {
        id: String,
    },
    /// Creates the ALB from the spec when none of that name exists (after checking that its
    /// certificates and target groups exist), then brings its listeners, rules, attributes and
    /// tags to the spec. One idempotent step: repeated after a crash it completes what is missing.
    ApplyLoadBalancer {
        spec: Box<LoadBalancerSpec>,
    },
    /// DeleteLoadBalancer; its target groups stay.
    DeleteLoadBalancer {
        name: String,
        arn: String,
    },
    /// Gate: the load balancer is `active`.
    AwaitLoadBalancer {
        name: String,
    },
    /// CreateClusterV2 (serverless) unless a cluster of that name exists.
    CreateKafkaCluster {
        spec: Box<KafkaClusterSpec>,
    },
    DeleteKafkaCluster {
        name: String,
        arn: String,
    },
    /// Gate: the cluster is `ACTIVE`, or gone.
    AwaitKafkaCluster {
        name: String,
        state: KafkaGate,
    },
    /// Gate joining many others ("every service drained", "every database available"): the
    /// steps behind it depend on this one step instead of on each of thousands, which keeps a
    /// plan linear in the size of the stack. Present only while something it joins is pending.
    AwaitAll {
        what: String,
    },
    /// PutParameter (overwrite) with the cluster's SASL/IAM bootstrap string as observed.
    PublishKafkaBootstrap {
        cluster: String,
        parameter: String,
    },
    /// PutParameter (overwrite) with the load balancer's DNS name as observed.
    PublishLoadBalancerDns {
        load_balancer: String,
        parameter: String,
    },
    /// UPSERT of the A and AAAA alias records `name` in `zone_id` to the load balancer.
    UpsertAlias {
        load_balancer: String,
        zone_id: String,
        name: String,
    },
    /// Disable/EnableAlarmActions: a paused stack pages nobody (its services are at 0, its load
    /// balancer may be gone); a resume turns back on what the pause turned off.
    SetAlarmActions {
        names: Vec<String>,
        enabled: bool,
    },
    /// PutMetricAlarm with the alarm's own definition, its `LoadBalancer` dimension set to the
    /// load balancer of that name as observed (a recreated one has a new ID).
    PointAlarm {
        name: String,
        load_balancer: String,
        definition: Box<AlarmDefinition>,
        actions_enabled: bool,
    },
    /// CreateNatGateway in the spec's subnet with its Elastic IP and tags, unless a NAT gateway
    /// of the stack is live in that subnet. `client_token` makes a create whose answer was lost
    /// safe to send again: AWS answers with the gateway the first request made.
    CreateNatGateway {
        spec: Box<NatGatewaySpec>,
        client_token: String,
    },
    /// DeleteNatGateway; the Elastic IP allocation stays (AWS only disassociates it).
    DeleteNatGateway {
        subnet: String,
        id: String,
    },
    /// Gate: the NAT gateway of the subnet is `available`, or (`deleted`) none is live there.
    AwaitNatGateway {
        subnet: String,
        state: NetworkGate,
    },
    /// ReplaceRoute (CreateRoute where the route is gone) of each recorded route to the NAT
    /// gateway that is live in `subnet` when the step runs. Only these routes are touched.
    PointNatRoutes {
        subnet: String,
        routes: Vec<NatRouteSpec>,
    },
    /// CreateVpcEndpoint (interface) from the spec unless one of the stack exists for the
    /// service; idempotent through `client_token` as a NAT gateway's create.
    CreateVpcEndpoint {
        spec: Box<VpcEndpointSpec>,
        client_token: String,
    },
    /// DeleteVpcEndpoints of one interface endpoint.
    DeleteVpcEndpoint {
        service: String,
        id: String,
    },
    /// Gate: the endpoint of the service is `available`, or (`deleted`) gone.
    AwaitVpcEndpoint {
        service: String,
        state: NetworkGate,
    },
}

/// What an [`Action::AwaitNatGateway`] or [`Action::AwaitVpcEndpoint`] waits for, spelt as EC2
/// spells the states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkGate {
    Available,
    Deleted,
    /// A create was sent (its token is in the manifest) but EC2 does not list what it made:
    /// its describes are eventually consistent, so a pause waits a while before it believes
    /// that nothing was made (see [`crate::manifest::CREATE_SETTLE_MS`]).
    Listed,
}

impl fmt::Display for NetworkGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NetworkGate::Available => "available",
            NetworkGate::Deleted => "deleted",
            NetworkGate::Listed => "listed",
        })
    }
}

/// The idempotency token of a first create (at most 64 ASCII characters, as EC2 allows): the
/// request's generation and the resource's key. The planner records it in the manifest before
/// the create is sent and sends the recorded one until the pause that deletes what it made, so
/// a later request (a resume superseding a resume) or a retry after a lost answer sends the
/// same token; the resume after that pause starts from a new generation, hence a new token (a
/// token reused after its resource was deleted makes AWS answer with the deleted resource).
pub fn client_token(generation: u64, key: &str) -> String {
    let token = format!("costctl-g{generation}-{key}");
    if token.len() <= 64 && token.bytes().all(|b| b.is_ascii_graphic()) {
        return token;
    }
    format!("costctl-g{generation}-{:016x}", fnv1a(key.as_bytes()))
}

/// The token to send after `token` was answered with `gone_id`, a resource it made that is
/// gone (deleted since: its token is spent). Derived from both, never from a clock, so that a
/// retry of the same create (its answer lost) arrives at the same successor and AWS answers with
/// what the first attempt made instead of making a second one.
pub fn spent_token_successor(token: &str, gone_id: &str) -> String {
    let mut bytes = token.as_bytes().to_vec();
    bytes.push(b'/');
    bytes.extend_from_slice(gone_id.as_bytes());
    format!("costctl-s{:016x}", fnv1a(&bytes))
}

/// FNV-1a: stable across builds and platforms, unlike `DefaultHasher`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What an [`Action::AwaitDb`] waits for: an RDS status, or no instance at all. Serialised as
/// RDS spells the status (`available`, `stopped`) and `deleted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DbGate {
    Available,
    Stopped,
    Deleted,
}

impl fmt::Display for DbGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DbGate::Available => "available",
            DbGate::Stopped => "stopped",
            DbGate::Deleted => "deleted",
        })
    }
}

/// What an [`Action::AwaitKafkaCluster`] waits for: MSK's `ACTIVE`, or no cluster at all
/// (`deleted`), serialised so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KafkaGate {
    #[serde(rename = "ACTIVE")]
    Active,
    #[serde(rename = "deleted")]
    Deleted,
}

impl fmt::Display for KafkaGate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KafkaGate::Active => "ACTIVE",
            KafkaGate::Deleted => "deleted",
        })
    }
}

impl Action {
    /// The step's kind as its serde tag (`set_desired_count`, `apply_load_balancer`, …): reports
    /// and the JSON of a plan spell it the same way because there is one spelling.
    pub fn kind(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.get("action")?.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Gates are satisfied by the world, not executed.
    pub fn is_gate(&self) -> bool {
        matches!(
            self,
            Action::AwaitServiceCount { .. }
                | Action::AwaitDb { .. }
                | Action::AwaitDbModified { .. }
                | Action::AwaitSnapshot { .. }
                | Action::AwaitLoadBalancer { .. }
                | Action::AwaitKafkaCluster { .. }
                | Action::AwaitAll { .. }
                | Action::AwaitNatGateway { .. }
                | Action::AwaitVpcEndpoint { .. }
        )
    }

    /// The resource this step acts on, as shown to users.
    /// The AWS service the step calls, as IAM names it (`ecs`, `rds`, …): each has its own
    /// request rate limits, so each gets its own concurrency window. Gates (`AwaitAll`) call
    /// nothing.
    pub fn api_service(&self) -> &'static str {
        match self {
            Action::SetScalingBounds { .. } => "application-autoscaling",
            Action::SetDesiredCount { .. } | Action::AwaitServiceCount { .. } => "ecs",
            Action::StopDb { .. }
            | Action::StartDb { .. }
            | Action::DeleteDb { .. }
            | Action::RestoreDb { .. }
            | Action::ModifyDb { .. }
            | Action::AwaitDb { .. }
            | Action::AwaitDbModified { .. }
            | Action::AwaitSnapshot { .. } => "rds",
            Action::ApplyLoadBalancer { .. }
            | Action::DeleteLoadBalancer { .. }
            | Action::AwaitLoadBalancer { .. } => "elasticloadbalancing",
            Action::CreateKafkaCluster { .. }
            | Action::DeleteKafkaCluster { .. }
            | Action::AwaitKafkaCluster { .. } => "kafka",
            Action::AwaitAll { .. } => "none",
            Action::PublishKafkaBootstrap { .. } | Action::PublishLoadBalancerDns { .. } => "ssm",
            Action::UpsertAlias { .. } => "route53",
            Action::SetAlarmActions { .. } | Action::PointAlarm { .. } => "cloudwatch",
            Action::CreateNatGateway { .. }
            | Action::DeleteNatGateway { .. }
            | Action::AwaitNatGateway { .. }
            | Action::PointNatRoutes { .. }
            | Action::CreateVpcEndpoint { .. }
            | Action::DeleteVpcEndpoint { .. }
            | Action::AwaitVpcEndpoint { .. } => "ec2",
        }
    }

    pub fn resource(&self) -> String {
        match self {
            Action::SetScalingBounds {
                cluster, service, ..
            }
            | Action::SetDesiredCount {
                cluster, service, ..
            }
            | Action::AwaitServiceCount {
                cluster, service, ..
            } => format!("ecs:{cluster}/{service}"),
            Action::StopDb { id }
            | Action::StartDb { id }
            | Action::DeleteDb { id, .. }
            | Action::RestoreDb { id, .. }
            | Action::ModifyDb { id, .. }
            | Action::AwaitDb { id, .. }
            | Action::AwaitDbModified { id, .. } => format!("rds:{id}"),
            Action::AwaitSnapshot { id } => format!("rds-snapshot:{id}"),
            Action::ApplyLoadBalancer { spec } => format!("alb:{}", spec.name),
            Action::DeleteLoadBalancer { name, .. }
            | Action::AwaitLoadBalancer { name }
            | Action::PublishLoadBalancerDns {
                load_balancer: name,
                ..
            } => format!("alb:{name}"),
            Action::UpsertAlias { zone_id, name, .. } => {
                format!("route53:{zone_id}/{}", name.trim_end_matches('.'))
            }
            Action::CreateKafkaCluster { spec } => format!("msk:{}", spec.name),
            Action::DeleteKafkaCluster { name, .. }
            | Action::AwaitKafkaCluster { name, .. }
            | Action::PublishKafkaBootstrap { cluster: name, .. } => format!("msk:{name}"),
            Action::AwaitAll { .. } => "stack".into(),
            Action::SetAlarmActions { names, .. } => format!("cloudwatch:{}", names.join(",")),
            Action::PointAlarm { name, .. } => format!("cloudwatch:{name}"),
            Action::CreateNatGateway { spec, .. } => format!("nat:{}", spec.subnet_id),
            Action::DeleteNatGateway { subnet, .. }
            | Action::AwaitNatGateway { subnet, .. }
            | Action::PointNatRoutes { subnet, .. } => format!("nat:{subnet}"),
            Action::CreateVpcEndpoint { spec, .. } => format!("vpce:{}", spec.service_name),
            Action::DeleteVpcEndpoint { service, .. }
            | Action::AwaitVpcEndpoint { service, .. } => {
                format!("vpce:{service}")
            }
        }
    }

    /// True when the action switches something off (subject to the safety rules).
    pub fn reduces_cost(&self) -> bool {
        match self {
            Action::SetScalingBounds { max, .. } => *max == 0,
            Action::SetDesiredCount { count, .. } => *count == 0,
            Action::StopDb { .. } | Action::DeleteDb { .. } => true,
            Action::StartDb { .. } | Action::RestoreDb { .. } | Action::ModifyDb { .. } => false,
            Action::DeleteLoadBalancer { .. }
            | Action::DeleteKafkaCluster { .. }
            | Action::DeleteNatGateway { .. }
            | Action::DeleteVpcEndpoint { .. } => true,
            Action::CreateNatGateway { .. }
            | Action::PointNatRoutes { .. }
            | Action::CreateVpcEndpoint { .. } => false,
            Action::ApplyLoadBalancer { .. }
            | Action::CreateKafkaCluster { .. }
            | Action::PublishKafkaBootstrap { .. }
            | Action::PublishLoadBalancerDns { .. }
            | Action::UpsertAlias { .. }
            | Action::PointAlarm { .. } => false,
            Action::SetAlarmActions { enabled, .. } => !enabled,
            Action::AwaitServiceCount { .. }
            | Action::AwaitDb { .. }
            | Action::AwaitDbModified { .. }
            | Action::AwaitSnapshot { .. }
            | Action::AwaitLoadBalancer { .. }
            | Action::AwaitKafkaCluster { .. }
            | Action::AwaitAll { .. }
            | Action::AwaitNatGateway { .. }
            | Action::AwaitVpcEndpoint { .. } => true,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::SetScalingBounds {
                cluster,
                service,
                min,
                max,
            } => write!(
                f,
                "set autoscaling of {cluster}/{service} to min {min}, max {max}"
            ),
            Action::SetDesiredCount {
                cluster,
                service,
                count,
            } => write!(f, "set desired count of {cluster}/{service} to {count}"),
            Action::AwaitServiceCount {
                cluster,
                service,
                count,
            } => write!(f, "wait until {cluster}/{service} runs {count} task(s)"),
            Action::StopDb { id } => write!(f, "stop RDS instance {id}"),
            Action::StartDb { id } => write!(f, "start RDS instance {id}"),
            Action::DeleteDb { id, final_snapshot } => {
                write!(
                    f,
                    "delete RDS instance {id} with final snapshot {final_snapshot}"
                )
            }
            Action::RestoreDb { id, snapshot, .. } => {
                write!(f, "restore RDS instance {id} from snapshot {snapshot}")
            }
            Action::ModifyDb { id, fields, .. } => write!(
                f,
                "modify RDS instance {id} back to its record ({})",
                fields.join(", ")
            ),
            Action::AwaitDb { id, status } => write!(f, "wait until RDS instance {id} is {status}"),
            Action::AwaitDbModified { id, fields } => write!(
                f,
                "wait until RDS applies the pending modification of {} on {id}",
                fields.join(", ")
            ),
            Action::AwaitSnapshot { id } => write!(f, "wait until snapshot {id} is available"),
            Action::ApplyLoadBalancer { spec } => {
                let rules: usize = spec.listeners.iter().map(|l| l.rules.len()).sum();
                write!(
                    f,
                    "create or update ALB {} ({} listener(s), {rules} rule(s), {} attribute(s), {} tag(s))",
                    spec.name,
                    spec.listeners.len(),
                    spec.attributes.len(),
                    spec.tags.len()
                )
            }
            Action::DeleteLoadBalancer { name, .. } => {
                write!(f, "delete ALB {name} (target groups stay)")
            }
            Action::AwaitLoadBalancer { name } => write!(f, "wait until ALB {name} is active"),
            Action::CreateKafkaCluster { spec } => {
                write!(f, "create MSK Serverless cluster {}", spec.name)
            }
            Action::DeleteKafkaCluster { name, .. } => {
                write!(f, "delete MSK Serverless cluster {name}")
            }
            Action::AwaitKafkaCluster { name, state } => {
                write!(f, "wait until MSK cluster {name} is {state}")
            }
            Action::AwaitAll { what } => write!(f, "wait until {what}"),
            Action::PublishKafkaBootstrap { cluster, parameter } => write!(
                f,
                "publish the bootstrap brokers of {cluster} to SSM parameter {parameter}"
            ),
            Action::PublishLoadBalancerDns {
                load_balancer,
                parameter,
            } => write!(
                f,
                "publish the DNS name of ALB {load_balancer} to SSM parameter {parameter}"
            ),
            Action::UpsertAlias {
                load_balancer,
                zone_id,
                name,
            } => write!(
                f,
                "point alias {name} (A, AAAA) in zone {zone_id} at ALB {load_balancer}"
            ),
            Action::SetAlarmActions { names, enabled } => write!(
                f,
                "{} the actions of CloudWatch alarm(s) {}",
                if *enabled { "enable" } else { "disable" },
                names.join(", ")
            ),
            Action::PointAlarm {
                name,
                load_balancer,
                actions_enabled,
                ..
            } => write!(
                f,
                "point CloudWatch alarm {name} at ALB {load_balancer} (actions {})",
                if *actions_enabled {
                    "on"
                } else {
                    "off until the services are back"
                }
            ),
            Action::CreateNatGateway { spec, .. } => {
                write!(
                    f,
                    "create {} NAT gateway in {}",
                    spec.connectivity_type.as_str(),
                    spec.subnet_id
                )?;
                if let Some(a) = &spec.allocation_id {
                    write!(f, " with Elastic IP {a}")?;
                }
                Ok(())
            }
            Action::DeleteNatGateway { subnet, id } => write!(
                f,
                "delete NAT gateway {id} in {subnet} (its Elastic IP stays allocated)"
            ),
            Action::AwaitNatGateway { subnet, state } => {
                write!(f, "wait until the NAT gateway in {subnet} is {state}")
            }
            Action::PointNatRoutes { subnet, routes } => write!(
                f,
                "point route(s) {} at the NAT gateway in {subnet}",
                routes
                    .iter()
                    .map(NatRouteSpec::label)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Action::CreateVpcEndpoint { spec, .. } => write!(
                f,
                "create interface endpoint {} in {} subnet(s)",
                spec.service_name,
                spec.subnet_ids.len()
            ),
            Action::DeleteVpcEndpoint { service, id } => {
                write!(f, "delete interface endpoint {id} ({service})")
            }
            Action::AwaitVpcEndpoint { service, state } => {
                write!(f, "wait until the interface endpoint {service} is {state}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kind_is_the_serde_tag() {
        let a = Action::SetAlarmActions {
            names: vec!["a".into()],
            enabled: true,
        };
        assert_eq!(a.kind(), "set_alarm_actions");
        assert_eq!(
            Action::DeleteLoadBalancer {
                name: "x".into(),
                arn: "y".into()
            }
            .kind(),
            "delete_load_balancer"
        );
    }

    /// Gate states are enums in the code and keep AWS's spelling in JSON (reports, history).
    #[test]
    fn gates_serialise_as_aws_spells_the_states() {
        let db = Action::AwaitDb {
            id: "db0".into(),
            status: DbGate::Available,
        };
        assert_eq!(
            serde_json::to_value(&db).unwrap(),
            serde_json::json!({"action": "await_db", "id": "db0", "status": "available"})
        );
        let msk = Action::AwaitKafkaCluster {
            name: "m".into(),
            state: KafkaGate::Active,
        };
        assert_eq!(serde_json::to_value(&msk).unwrap()["state"], "ACTIVE");
        assert_eq!(msk.to_string(), "wait until MSK cluster m is ACTIVE");
    }
}
