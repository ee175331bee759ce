//! The one trait between the reconcile loop and the world.
//!
//! Each method is one semantic operation, thin over one or a few SDK calls. The AWS adapters
//! implement it for real; a deterministic simulated cloud implements it for fault injection.
//! Every mutating method is idempotent where AWS allows: "already stopped", "already gone" and
//! "already exists" answers are success, because a step may be repeated after a crash.

use crate::error::CloudError;
use crate::error::CloudResult;
use async_trait::async_trait;
use costctl_core::Selector;
use costctl_core::action::spent_token_successor;
use costctl_core::observation::{
    AlarmDefinition, AlarmObs, AliasObs, Bounds, DbObs, DbSpec, EndpointObs, KafkaObs,
    LoadBalancerObs, NatObs, RouteObs, ServiceObs, SnapshotObs,
};
use costctl_core::spec::{
    EphemeralSpec, KafkaClusterSpec, LoadBalancerSpec, NatGatewaySpec, NatRouteSpec,
    VpcEndpointSpec,
};
use std::collections::{BTreeMap, BTreeSet};

/// How long one attempt of a cloud call may take before the adapter gives up on it (and
/// retries): the AWS adapter sets it as the SDK's attempt timeout. The engine stops waiting for
/// a call this long before its lease ends, so that no attempt is still in flight when another
/// invocation may take the stack over.
pub const ATTEMPT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

#[async_trait]
pub trait Cloud: Send + Sync {
    /// ECS services selected by `selector` (active ones only).
    async fn find_services(&self, selector: &Selector) -> CloudResult<Vec<ServiceObs>>;
    /// ECS services by `cluster/service` key; services that do not exist are left out.
    async fn describe_services(&self, keys: &[String]) -> CloudResult<Vec<ServiceObs>>;
    /// `ecs:service:DesiredCount` scalable targets, by resource id.
    async fn scalable_targets(
        &self,
        resource_ids: &[String],
    ) -> CloudResult<BTreeMap<String, Bounds>>;
    async fn set_scalable_target(&self, resource_id: &str, bounds: Bounds) -> CloudResult<()>;
    async fn set_desired_count(&self, cluster: &str, service: &str, count: u32) -> CloudResult<()>;

    /// RDS instances selected by `selector`.
    async fn find_db_instances(&self, selector: &Selector) -> CloudResult<Vec<DbObs>>;
    /// RDS instances by identifier; missing ones are left out.
    async fn describe_db_instances(&self, ids: &[String]) -> CloudResult<Vec<DbObs>>;
    /// Manual snapshots by identifier; missing ones are left out.
    async fn describe_db_snapshots(&self, ids: &[String]) -> CloudResult<Vec<SnapshotObs>>;
    /// Manual snapshots of these instances whose names start with the instance identifier and
    /// a `-` (costctl's `<id>-costctl-gN`, Terraform's final snapshot): what `status` lists as
    /// kept, since costctl never deletes a snapshot.
    async fn kept_snapshots(&self, instance_ids: &[String]) -> CloudResult<Vec<SnapshotObs>> {
        let _ = instance_ids;
        Ok(Vec::new())
    }
    async fn stop_db(&self, id: &str) -> CloudResult<()>;
    async fn start_db(&self, id: &str) -> CloudResult<()>;
    /// Deletes with a final snapshot; there is deliberately no way to delete without one.
    async fn delete_db(&self, id: &str, final_snapshot: &str) -> CloudResult<()>;
    async fn restore_db(&self, id: &str, snapshot: &str, spec: &DbSpec) -> CloudResult<()>;
    /// Sets the recorded `fields` of `spec` on an existing instance, applied immediately.
    async fn modify_db(&self, id: &str, spec: &DbSpec, fields: &[String]) -> CloudResult<()>;

    // The ephemeral tier. Default implementations let a cloud without it (a simulation of
    // ECS and RDS only) observe nothing and refuse to act.

    /// Refuses, naming the first one, a subnet, security group, certificate or target group
    /// that `spec` names and that does not exist: apply-spec checks this before it records or
    /// creates anything, so a spec with a typo creates nothing (not an MSK cluster next to an
    /// ALB that cannot be created).
    async fn check_spec_dependencies(&self, _spec: &EphemeralSpec) -> CloudResult<()> {
        Ok(())
    }
    /// ALBs carrying the selector's tags, plus those named, each with its spec captured.
    async fn find_load_balancers(
        &self,
        _selector: &Selector,
        _names: &[String],
    ) -> CloudResult<Vec<LoadBalancerObs>> {
        Ok(Vec::new())
    }
    /// Creates the ALB when none of that name exists (after checking its certificates and
    /// target groups), then brings listeners, rules, attributes and tags to the spec. Several
    /// calls: none that changes anything is sent once the clock reaches `not_after_ms` (see
    /// [`fence`]), so a call answered late cannot let it act after a newer invocation took over.
    async fn apply_load_balancer(
        &self,
        spec: &LoadBalancerSpec,
        not_after_ms: i64,
    ) -> CloudResult<()> {
        let _ = not_after_ms;
        Err(unsupported(&format!("alb:{}", spec.name)))
    }
    async fn delete_load_balancer(&self, arn: &str) -> CloudResult<()> {
        Err(unsupported(arn))
    }
    /// Listener ARNs by port.
    async fn listener_arns(&self, lb_arn: &str) -> CloudResult<BTreeMap<u16, String>> {
        Err(unsupported(lb_arn))
    }
    /// MSK Serverless clusters carrying the selector's tags, plus those named.
    async fn find_kafka_clusters(
        &self,
        _selector: &Selector,
        _names: &[String],
    ) -> CloudResult<Vec<KafkaObs>> {
        Ok(Vec::new())
    }
    /// CreateClusterV2 unless a cluster of that name (not being deleted) exists. MSK names are
    /// not unique, so the lookup and the create must both happen under the caller's lease: the
    /// create is not sent once the clock (Unix ms) reaches `not_after_ms` (the lease's end less
    /// a margin), as after a lookup answered late, when another invocation may have taken the
    /// lease and created the cluster already.
    async fn create_kafka_cluster(
        &self,
        spec: &KafkaClusterSpec,
        not_after_ms: i64,
    ) -> CloudResult<()> {
        let _ = not_after_ms;
        Err(unsupported(&format!("msk:{}", spec.name)))
    }
    async fn delete_kafka_cluster(&self, arn: &str) -> CloudResult<()> {
        Err(unsupported(arn))
    }
    /// Live NAT gateways (not `deleted`) carrying the selector's tags, plus any live one in the
    /// named subnets (reported with `of_stack` false when it lacks the tags), each with its spec
    /// captured, the routes that point at it included.
    async fn find_nat_gateways(
        &self,
        _selector: &Selector,
        _subnets: &[String],
    ) -> CloudResult<Vec<NatObs>> {
        Ok(Vec::new())
    }
    /// Where each `(route table, destination)` sends traffic now, by `route_key`; routes that
    /// do not exist are left out.
    async fn describe_routes(
        &self,
        _routes: &[(String, String)],
    ) -> CloudResult<BTreeMap<String, RouteObs>> {
        Ok(BTreeMap::new())
    }
    /// CreateNatGateway with `client_token`, unless a NAT gateway carrying the spec's tags is
    /// live in the subnet. Not sent once the clock reaches `not_after_ms`.
    async fn create_nat_gateway(
        &self,
        spec: &NatGatewaySpec,
        _client_token: &str,
        _not_after_ms: i64,
    ) -> CloudResult<()> {
        Err(unsupported(&format!("nat:{}", spec.subnet_id)))
    }
    /// DeleteNatGateway (gone already is success).
    async fn delete_nat_gateway(&self, id: &str) -> CloudResult<()> {
        Err(unsupported(id))
    }
    /// Points each route at `nat_gateway_id`: ReplaceRoute, or CreateRoute where the route is
    /// gone. Each call is fenced on `not_after_ms`.
    async fn point_routes(
        &self,
        routes: &[NatRouteSpec],
        nat_gateway_id: &str,
        _not_after_ms: i64,
    ) -> CloudResult<()> {
        let _ = routes;
        Err(unsupported(nat_gateway_id))
    }
    /// Interface endpoints (not `deleted`) carrying the selector's tags, plus any for the named
    /// `(vpc, service)` pairs (`of_stack` false when it lacks the tags).
    async fn find_vpc_endpoints(
        &self,
        _selector: &Selector,
        _services: &[(String, String)],
    ) -> CloudResult<Vec<EndpointObs>> {
        Ok(Vec::new())
    }
    /// CreateVpcEndpoint (interface) with `client_token`, unless one carrying the spec's tags
    /// exists for the service in the VPC. Not sent once the clock reaches `not_after_ms`.
    async fn create_vpc_endpoint(
        &self,
        spec: &VpcEndpointSpec,
        _client_token: &str,
        _not_after_ms: i64,
    ) -> CloudResult<()> {
        Err(unsupported(&format!("vpce:{}", spec.service_name)))
    }
    /// DeleteVpcEndpoints of one endpoint (gone already is success).
    async fn delete_vpc_endpoint(&self, id: &str) -> CloudResult<()> {
        Err(unsupported(id))
    }
    /// While on, the account-wide listings a tag selector's discovery reads (every cluster's
    /// services and their tags) are made once and shared by every stack, instead of once per
    /// stack: what a tick of many stacks in one account spends most of its calls on. The tick
    /// turns it on for its own duration only, so a request's reconcile always discovers
    /// afresh; what a shared listing finds is described again by key, so counts and states are
    /// never stale. A cloud that lists nothing account-wide ignores it.
    fn share_discovery(&self, _on: bool) {}

    /// Requests made to `service` (as IAM names it: `ecs`, `rds`, …) and how many AWS
    /// throttled, counted since the cloud was made, retries included: the evidence the
    /// executor's concurrency windows adapt to ([`crate::congestion`]). `None` for a cloud
    /// that does not count its requests; the executor then counts step outcomes instead.
    fn throttling(&self, _service: &str) -> Option<crate::congestion::Throttling> {
        None
    }

    /// The account's CloudWatch metric alarms whose `LoadBalancer` dimension (or a metric-math
    /// query's) names an application load balancer (`app/NAME/…`), without their tags. One
    /// account-wide listing (DescribeAlarms has no dimension filter), so a look starts it at
    /// once and chooses the stack's alarms by load balancer name when it knows them; an alarm
    /// outlives a deleted load balancer, so the name is what counts, not the ID.
    async fn list_alarms(&self) -> CloudResult<Vec<ListedAlarm>> {
        Ok(Vec::new())
    }
    /// The tags of these alarms, by ARN.
    async fn alarm_tags(
        &self,
        _arns: &[String],
    ) -> CloudResult<BTreeMap<String, BTreeMap<String, String>>> {
        Ok(BTreeMap::new())
    }
    /// Enable/DisableAlarmActions of these alarms.
    async fn set_alarm_actions(&self, names: &[String], _enabled: bool) -> CloudResult<()> {
        Err(unsupported(&format!("cloudwatch:{}", names.join(","))))
    }
    /// PutMetricAlarm: replaces the alarm's whole configuration (its tags and state stay).
    async fn put_metric_alarm(
        &self,
        name: &str,
        _definition: &AlarmDefinition,
        _actions_enabled: bool,
    ) -> CloudResult<()> {
        Err(unsupported(&format!("cloudwatch:{name}")))
    }
    /// PutEvents of costctl's transition events (at most [`crate::events::MAX_ENTRIES`]) to
    /// the configured event bus; a cloud with no bus configured sends nothing.
    async fn put_events(&self, _events: &[crate::events::Event]) -> CloudResult<()> {
        Ok(())
    }
    /// Current values of SSM parameters; missing ones are left out.
    async fn get_parameters(&self, _names: &[String]) -> CloudResult<BTreeMap<String, String>> {
        Ok(BTreeMap::new())
    }
    async fn put_parameter(&self, name: &str, _value: &str) -> CloudResult<()> {
        Err(unsupported(name))
    }
    /// Alias records by `alias_key`, for `(zone id, name)` pairs.
    async fn get_aliases(
        &self,
        _records: &[(String, String)],
    ) -> CloudResult<BTreeMap<String, AliasObs>> {
        Ok(BTreeMap::new())
    }
    /// UPSERT of the A and AAAA alias records `name` to `target_dns` in `target_zone`.
    async fn upsert_alias(
        &self,
        zone_id: &str,
        name: &str,
        _target_dns: &str,
        _target_zone: &str,
    ) -> CloudResult<()> {
        Err(unsupported(&format!("route53:{zone_id}/{name}")))
    }
    /// DELETE of the A and AAAA alias records `name` whose target is `target_dns` (normalised,
    /// see `normalise_dns`); records pointing anywhere else, and missing ones, are left alone.
    async fn delete_alias(&self, zone_id: &str, name: &str, _target_dns: &str) -> CloudResult<()> {
        Err(unsupported(&format!("route53:{zone_id}/{name}")))
    }
}

/// The lease fence of a multi-call operation: `Ok` while `now_ms` is before `not_after_ms` (the
/// caller's lease end less a margin), otherwise a transient `LeaseExpiring` (the next pass, under
/// a lease, looks again). Checked before each call that changes something.
pub fn fence(
    now_ms: i64,
    not_after_ms: i64,
    operation: &'static str,
    resource: &str,
) -> CloudResult<()> {
    if now_ms < not_after_ms {
        return Ok(());
    }
    Err(CloudError::Transient {
        operation,
        resource: resource.into(),
        code: "LeaseExpiring".into(),
        message: "the lease on the stack ends before the call could take effect; not sent".into(),
    })
}

/// A metric alarm on one or more application load balancers, as [`Cloud::list_alarms`]
/// answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct ListedAlarm {
    pub arn: String,
    /// The load balancers it names (name, and the `app/NAME/ID` naming it): its own
    /// dimensions' first, then its metric-math queries'.
    pub load_balancers: Vec<(String, String)>,
    /// The alarm, its `load_balancer`, `dimension` and `tags` not filled in yet.
    pub alarm: AlarmObs,
}

impl ListedAlarm {
    /// The alarm as an alarm of the first of `names` it names, if it names one.
    pub fn on(&self, names: &BTreeSet<&str>) -> Option<AlarmObs> {
        let (lb, dimension) = self
            .load_balancers
            .iter()
            .find(|(lb, _)| names.contains(lb.as_str()))?;
        Some(AlarmObs {
            load_balancer: lb.clone(),
            dimension: dimension.clone(),
            ..self.alarm.clone()
        })
    }
}

/// What EC2 answered a create with: the resource the token made, and its state now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    pub id: String,
    pub state: String,
}

impl Created {
    /// From the fields of EC2's answer (either may be missing from a malformed one: then the
    /// state is empty, which is not a spent token's).
    pub fn of(id: Option<&str>, state: Option<&str>) -> Self {
        Created {
            id: id.unwrap_or_default().to_string(),
            state: state.unwrap_or_default().to_string(),
        }
    }
}

/// How many spent tokens in a row a create follows before it gives up for this pass.
const SPENT_TOKENS: usize = 3;

/// Sends an EC2 create with a client token, fenced on `not_after_ms` by `now_ms`. EC2 answers
/// a token it has seen with what the first request made, in its state now; when that is gone
/// (`deleting`, `deleted`, `failed`: the token was spent on a resource deleted since), the
/// create is sent again with [`spent_token_successor`] of the token and the gone resource, a
/// token derived from both and not from a clock: a retry whose earlier answer was lost follows
/// the same chain and is answered with what the earlier attempt made. `send` sends one request.
/// Both the AWS adapter and the simulated cloud create through here.
pub async fn create_with_token<F, Fut>(
    operation: &'static str,
    resource: &str,
    token: &str,
    not_after_ms: i64,
    now_ms: impl Fn() -> i64,
    send: F,
) -> CloudResult<()>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = CloudResult<Created>>,
{
    let mut token = token.to_string();
    for _ in 0..SPENT_TOKENS {
        fence(now_ms(), not_after_ms, operation, resource)?;
        let created = send(token.clone()).await?;
        if !matches!(
            created.state.to_ascii_lowercase().as_str(),
            "deleting" | "deleted" | "failed"
        ) {
            return Ok(());
        }
        token = spent_token_successor(&token, &created.id);
    }
    Err(CloudError::Transient {
        operation,
        resource: resource.into(),
        code: "TokenSpent".into(),
        message: format!(
            "EC2 answered {SPENT_TOKENS} client tokens in a row with a resource that is gone; the next pass follows them again"
        ),
    })
}

/// Unix time in milliseconds (the clock the AWS adapters fence with).
pub fn system_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(i64::MAX, |d| {
            i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
        })
}

fn unsupported(resource: &str) -> CloudError {
    CloudError::refused(resource, "this cloud does not support the ephemeral tier")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn a_listed_alarm_is_the_stacks_on_the_first_of_its_load_balancers_the_stack_has() {
        let listed = ListedAlarm {
            arn: "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:5xx".into(),
            load_balancers: vec![
                ("other".into(), "app/other/1".into()),
                ("shop".into(), "app/shop/2".into()),
            ],
            alarm: AlarmObs {
                name: "5xx".into(),
                load_balancer: String::new(),
                dimension: String::new(),
                actions_enabled: true,
                definition: Default::default(),
                tags: BTreeMap::new(),
                of_stack: true,
                unsupported: Vec::new(),
            },
        };
        let on = listed.on(&["shop", "web"].into()).expect("names shop");
        assert_eq!(
            (on.load_balancer.as_str(), on.dimension.as_str()),
            ("shop", "app/shop/2")
        );
        assert_eq!(on.name, "5xx");
        assert!(listed.on(&["web"].into()).is_none());
    }

    /// EC2 as the token sees it: `made` maps a token to (resource, state); an unknown token
    /// makes `nat-new`; the answer to the token in `lose` is lost once (it takes effect).
    struct Ec2 {
        made: Mutex<BTreeMap<String, (String, String)>>,
        sent: Mutex<Vec<String>>,
        lose: Mutex<Option<String>>,
    }

    impl Ec2 {
        fn new(made: &[(&str, &str, &str)]) -> Self {
            Ec2 {
                made: Mutex::new(
                    made.iter()
                        .map(|(t, id, s)| (t.to_string(), (id.to_string(), s.to_string())))
                        .collect(),
                ),
                sent: Mutex::default(),
                lose: Mutex::default(),
            }
        }

        async fn create(&self, token: String) -> CloudResult<Created> {
            self.sent.lock().unwrap().push(token.clone());
            let lost = self.lose.lock().unwrap().take_if(|t| *t == token).is_some();
            let (id, state) = self
                .made
                .lock()
                .unwrap()
                .entry(token)
                .or_insert_with(|| ("nat-new".into(), "pending".into()))
                .clone();
            if lost {
                return Err(CloudError::Transient {
                    operation: "ec2:CreateNatGateway",
                    resource: "nat:subnet-a".into(),
                    code: "RequestTimeout".into(),
                    message: "answer lost".into(),
                });
            }
            Ok(Created { id, state })
        }

        fn create_once(&self) -> CloudResult<()> {
            futures::executor::block_on(create_with_token(
                "ec2:CreateNatGateway",
                "nat:subnet-a",
                "costctl-g3-subnet-a",
                1_000,
                || 0,
                |t| self.create(t),
            ))
        }
    }

    #[test]
    fn a_spent_token_is_followed_by_the_same_successor_on_every_retry() {
        let ec2 = Ec2::new(&[("costctl-g3-subnet-a", "nat-old", "deleted")]);
        let successor = spent_token_successor("costctl-g3-subnet-a", "nat-old");
        *ec2.lose.lock().unwrap() = Some(successor.clone());
        // The first token answers with a deleted gateway; its successor makes one, whose answer
        // is lost.
        assert!(ec2.create_once().is_err());
        assert_eq!(
            *ec2.sent.lock().unwrap(),
            ["costctl-g3-subnet-a", successor.as_str()]
        );
        // The retry follows the same chain and is answered with what the lost answer made.
        ec2.create_once().unwrap();
        assert_eq!(
            ec2.sent.lock().unwrap()[2..],
            ["costctl-g3-subnet-a", &successor]
        );
        assert_eq!(
            ec2.made.lock().unwrap().len(),
            2,
            "a second gateway was made"
        );
    }

    #[test]
    fn a_live_answer_ends_the_create_and_spent_tokens_give_up_after_three() {
        let ec2 = Ec2::new(&[("costctl-g3-subnet-a", "nat-1", "available")]);
        ec2.create_once().unwrap();
        assert_eq!(ec2.sent.lock().unwrap().len(), 1);

        let t1 = spent_token_successor("costctl-g3-subnet-a", "nat-1");
        let t2 = spent_token_successor(&t1, "nat-2");
        let ec2 = Ec2::new(&[
            ("costctl-g3-subnet-a", "nat-1", "deleting"),
            (t1.as_str(), "nat-2", "failed"),
            (t2.as_str(), "nat-3", "deleted"),
        ]);
        let err = ec2.create_once().unwrap_err();
        assert!(err.to_string().contains("TokenSpent"), "{err}");
        assert_eq!(ec2.sent.lock().unwrap().len(), SPENT_TOKENS);
        assert_eq!(ec2.made.lock().unwrap().len(), 3, "nothing new made");
    }

    #[test]
    fn a_create_past_its_fence_is_not_sent() {
        let ec2 = Ec2::new(&[]);
        let err = futures::executor::block_on(create_with_token(
            "ec2:CreateNatGateway",
            "nat:subnet-a",
            "costctl-g3-subnet-a",
            1_000,
            || 1_000,
            |t| ec2.create(t),
        ))
        .unwrap_err();
        assert!(err.to_string().contains("LeaseExpiring"), "{err}");
        assert!(ec2.sent.lock().unwrap().is_empty());
    }
}
