//! The real cloud: [`Cloud`] over the official AWS SDK for Rust.
//!
//! Clients are built once from one `SdkConfig` and shared; an endpoint override (the emulator,
//! LocalStack, a VPC endpoint) applies to every service.

use crate::requests::RequestCounter;
use crate::throttle::ThrottleMeter;
use aws_config::{BehaviorVersion, SdkConfig};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// A service client built on first use, then shared by every clone: an invocation builds only
/// the clients it calls (a pause never builds Route 53, ACM, KMS or Secrets Manager). Measured
/// on a pause, which calls most of them, the saving is not visible (BENCHMARKS.md, "Memory").
#[derive(Clone)]
pub(crate) struct Lazy<T> {
    cell: Arc<OnceLock<T>>,
    make: Arc<dyn Fn() -> T + Send + Sync>,
}

impl<T> Lazy<T> {
    fn new(make: impl Fn() -> T + Send + Sync + 'static) -> Self {
        Lazy {
            cell: Arc::new(OnceLock::new()),
            make: Arc::new(make),
        }
    }
}

impl<T> std::ops::Deref for Lazy<T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.cell.get_or_init(|| (self.make)())
    }
}

impl<T> std::fmt::Debug for Lazy<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.cell.get().is_some() {
            "Lazy(built)"
        } else {
            "Lazy(not built yet)"
        })
    }
}

/// Shared SDK clients for every service costctl touches, each built when first called.
#[derive(Clone, Debug)]
pub struct AwsCloud {
    pub(crate) ecs: Lazy<aws_sdk_ecs::Client>,
    pub(crate) autoscaling: Lazy<aws_sdk_applicationautoscaling::Client>,
    pub(crate) rds: Lazy<aws_sdk_rds::Client>,
    pub(crate) elb: Lazy<aws_sdk_elasticloadbalancingv2::Client>,
    pub(crate) kafka: Lazy<aws_sdk_kafka::Client>,
    pub(crate) ssm: Lazy<aws_sdk_ssm::Client>,
    pub(crate) route53: Lazy<aws_sdk_route53::Client>,
    pub(crate) acm: Lazy<aws_sdk_acm::Client>,
    pub(crate) ec2: Lazy<aws_sdk_ec2::Client>,
    /// The web ACL association of a load balancer (regional WAF).
    pub(crate) wafv2: Lazy<aws_sdk_wafv2::Client>,
    /// Reads the OIDC client secret a spec names (AWS never returns it from the listener).
    pub(crate) secrets: Lazy<aws_sdk_secretsmanager::Client>,
    /// The state of an encrypted database's KMS key, checked before a hibernation.
    pub(crate) kms: Lazy<aws_sdk_kms::Client>,
    /// Alarms on the load balancers: muted while paused, re-pointed after a recreation.
    pub(crate) cloudwatch: Lazy<aws_sdk_cloudwatch::Client>,
    /// Shield Advanced protections: a protected load balancer is kept (not re-created).
    pub(crate) shield: Lazy<aws_sdk_shield::Client>,
    /// Transition events (`PutEvents`), sent to `event_bus` when one is configured.
    pub(crate) events: Lazy<aws_sdk_eventbridge::Client>,
    pub(crate) event_bus: Option<String>,
    /// Bound on concurrent calls inside one adapter operation (e.g. DescribeServices batches).
    pub(crate) concurrency: usize,
    /// Requests and throttled answers per service, for the engine's concurrency windows.
    pub(crate) throttles: ThrottleMeter,
    /// While a tick shares discovery (`Cloud::share_discovery`): the one listing of every ECS
    /// service and its tags, made by the first stack that needs it.
    pub(crate) shared_ecs: Arc<Mutex<Option<Arc<EcsListing>>>>,
    /// The load balancers this process has found or created, by name: a look captures a known
    /// one by its ARN while the load balancers are listed, instead of after (see `elb_find`).
    pub(crate) elb_known: Arc<Mutex<BTreeMap<String, crate::elbv2::KnownLb>>>,
}

/// Every ECS service of the account with its tags, by `cluster/service` key; listed once.
pub(crate) type EcsListing = tokio::sync::OnceCell<Vec<(String, Vec<(String, String)>)>>;

/// A service client from the shared configuration, with the request counter attached when
/// there is one, and the throttle meter under the service's IAM name when one is given.
macro_rules! client {
    ($sdk:ident, $config:expr, $counter:expr) => {{
        let builder = $sdk::config::Builder::from($config);
        $crate::aws::client!(@build $sdk, builder, $counter)
    }};
    ($sdk:ident, $config:expr, $counter:expr, $meter:expr, $service:literal) => {{
        let builder = $sdk::config::Builder::from($config).interceptor($meter.for_service($service));
        $crate::aws::client!(@build $sdk, builder, $counter)
    }};
    (@build $sdk:ident, $builder:expr, $counter:expr) => {{
        let mut builder = $builder;
        if let Some(counter) = $counter {
            builder = builder.interceptor(counter.clone());
        }
        $sdk::Client::from_conf(builder.build())
    }};
}
pub(crate) use client;

impl AwsCloud {
    pub fn new(config: &SdkConfig) -> Self {
        Self::build(config, None)
    }

    /// As [`AwsCloud::new`], counting every request in `counter` (see [`RequestCounter`]).
    pub fn counted(config: &SdkConfig, counter: &RequestCounter) -> Self {
        Self::build(config, Some(counter))
    }

    fn build(config: &SdkConfig, counter: Option<&RequestCounter>) -> Self {
        // The services the engine's steps write to get a meter (`Action::api_service` names).
        let meter = ThrottleMeter::default();
        // Each client is made from owned copies (it is built later, on first use).
        let (config, counter) = (config.clone(), counter.cloned());
        macro_rules! lazy {
            ($sdk:ident $(, $service:literal)?) => {{
                let (config, counter, _meter) = (config.clone(), counter.clone(), meter.clone());
                Lazy::new(move || lazy!(@make $sdk, config, counter, _meter $(, $service)?))
            }};
            (@make $sdk:ident, $config:ident, $counter:ident, $meter:ident, $service:literal) => {
                client!($sdk, &$config, $counter.as_ref(), $meter, $service)
            };
            (@make $sdk:ident, $config:ident, $counter:ident, $meter:ident) => {
                client!($sdk, &$config, $counter.as_ref())
            };
        }
        Self {
            ecs: lazy!(aws_sdk_ecs, "ecs"),
            autoscaling: lazy!(aws_sdk_applicationautoscaling, "application-autoscaling"),
            rds: lazy!(aws_sdk_rds, "rds"),
            elb: lazy!(aws_sdk_elasticloadbalancingv2, "elasticloadbalancing"),
            kafka: lazy!(aws_sdk_kafka, "kafka"),
            ssm: lazy!(aws_sdk_ssm, "ssm"),
            route53: lazy!(aws_sdk_route53, "route53"),
            acm: lazy!(aws_sdk_acm),
            ec2: lazy!(aws_sdk_ec2, "ec2"),
            wafv2: lazy!(aws_sdk_wafv2),
            secrets: lazy!(aws_sdk_secretsmanager),
            kms: lazy!(aws_sdk_kms),
            cloudwatch: lazy!(aws_sdk_cloudwatch, "cloudwatch"),
            events: lazy!(aws_sdk_eventbridge),
            event_bus: None,
            shield: {
                let (config, counter) = (config.clone(), counter.clone());
                Lazy::new(move || {
                    // Shield Advanced has one API endpoint, in us-east-1, whatever the region of
                    // the protected resource (AWS General Reference, "AWS Shield endpoints and
                    // quotas").
                    let mut builder = aws_sdk_shield::config::Builder::from(&config)
                        .region(aws_sdk_shield::config::Region::from_static("us-east-1"));
                    if let Some(counter) = &counter {
                        builder = builder.interceptor(counter.clone());
                    }
                    aws_sdk_shield::Client::from_conf(builder.build())
                })
            },
            concurrency: 8,
            throttles: meter,
            shared_ecs: Arc::default(),
            elb_known: Arc::default(),
        }
    }

    /// Looks up each key with one call, concurrently under the bound, keeping the order of
    /// `keys`; keys whose lookup answers `None` (the resource does not exist) are left out.
    pub(crate) async fn lookup_each<T, F, Fut>(
        &self,
        keys: &[String],
        lookup: F,
    ) -> crate::error::CloudResult<Vec<T>>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = crate::error::CloudResult<Option<T>>>,
    {
        use futures::{StreamExt, TryStreamExt};
        let found: Vec<Option<T>> = futures::stream::iter(keys.iter().cloned())
            .map(lookup)
            .buffered(self.concurrency)
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }

    /// Publishes transition events to this EventBridge bus (a name or ARN); without a bus,
    /// none are sent.
    pub fn with_event_bus(mut self, bus: Option<String>) -> Self {
        self.event_bus = bus.filter(|b| !b.is_empty());
        self
    }

    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }
}

/// Caps every costctl binary puts on the SDK's logging, so that no credential reaches a log: at
/// debug the SDK logs endpoint and auth parameters (the resolved access key id), at trace the
/// signer logs the request it signs (access key id, session token) and the orchestrator dumps
/// its configuration, credentials included. Each is `(target, most verbose level allowed)`.
pub const QUIET_SECRETS: [(&str, tracing::Level); 5] = [
    (
        "aws_smithy_runtime::client::orchestrator::endpoints",
        tracing::Level::INFO,
    ),
    (
        "aws_smithy_runtime::client::orchestrator::auth",
        tracing::Level::INFO,
    ),
    ("aws_sigv4", tracing::Level::INFO),
    ("aws_smithy_runtime", tracing::Level::DEBUG),
    ("aws_config", tracing::Level::DEBUG),
];

/// The filter directives (`target=level`) that cap the SDK's logging for a filter whose most
/// verbose level is `most_verbose`: only the caps below it. A directive sets its target's level
/// rather than capping it, so adding a cap the user's level is already under would *raise*
/// that target (at the default `warn`, every SDK request would be logged at debug).
pub fn secret_caps(most_verbose: tracing::level_filters::LevelFilter) -> Vec<String> {
    QUIET_SECRETS
        .iter()
        .filter(|(_, cap)| most_verbose > tracing::level_filters::LevelFilter::from_level(*cap))
        .map(|(target, cap)| format!("{target}={}", cap.as_str().to_lowercase()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::secret_caps;
    use tracing::level_filters::LevelFilter;

    #[test]
    fn caps_only_lower_what_the_user_raised() {
        assert!(secret_caps(LevelFilter::WARN).is_empty());
        assert!(secret_caps(LevelFilter::INFO).is_empty());
        assert_eq!(
            secret_caps(LevelFilter::DEBUG),
            [
                "aws_smithy_runtime::client::orchestrator::endpoints=info",
                "aws_smithy_runtime::client::orchestrator::auth=info",
                "aws_sigv4=info"
            ]
        );
        assert_eq!(secret_caps(LevelFilter::TRACE).len(), 5);
    }
}

/// Every SDK client caps one HTTP attempt at the engine's [`ATTEMPT_TIMEOUT`].
pub use costctl_engine::cloud::ATTEMPT_TIMEOUT;

/// Where and how to reach AWS.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub region: Option<String>,
    /// Overrides every service endpoint (the emulator in tests and the demo).
    pub endpoint_url: Option<String>,
    /// The named profile of the shared config files (`--profile`); `AWS_PROFILE` otherwise.
    pub profile: Option<String>,
}

/// Loads the SDK configuration the standard way (environment, profile, IMDS/container
/// credentials), with the region and endpoint overrides applied.
pub async fn load_config(conn: &Connection) -> SdkConfig {
    // Standard retries (exponential backoff with full jitter, 10 attempts: with 30 % of
    // requests throttled, 6 attempts left ~1 call in 1,400 failing, which failed a benchmark
    // run; every call is bounded by the deadline and the lease anyway), not adaptive: the
    // adaptive mode's client-side rate limiter treats every throttling error as congestion and
    // can cut the whole client to about one request per second, so a pause under throttling
    // overran a 60 s invocation (measured with costctl-bench). Concurrency is bounded by the
    // engine instead (`Options::concurrency`), and each call is abandoned at the deadline.
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(
            aws_config::retry::RetryConfig::standard()
                .with_max_attempts(10)
                .with_initial_backoff(Duration::from_millis(100)),
        )
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .build(),
        );
    if let Some(region) = &conn.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(profile) = &conn.profile {
        loader = loader.profile_name(profile);
    }
    if let Some(url) = &conn.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

use crate::cloud::Cloud;
use crate::error::CloudResult;
use async_trait::async_trait;
use costctl_core::Selector;
use costctl_core::observation::{
    AlarmDefinition, AliasObs, Bounds, DbObs, DbSpec, EndpointObs, KafkaObs, LoadBalancerObs,
    NatObs, RouteObs, ServiceObs, SnapshotObs,
};
use costctl_core::spec::{
    EphemeralSpec, KafkaClusterSpec, LoadBalancerSpec, NatGatewaySpec, NatRouteSpec,
    VpcEndpointSpec,
};
use std::collections::BTreeMap;

#[async_trait]
impl Cloud for AwsCloud {
    fn share_discovery(&self, on: bool) {
        *self.shared_ecs.lock().unwrap_or_else(|e| e.into_inner()) =
            on.then(|| Arc::new(EcsListing::new()));
    }

    fn throttling(&self, service: &str) -> Option<costctl_engine::congestion::Throttling> {
        Some(self.throttles.get(service))
    }

    async fn find_services(&self, selector: &Selector) -> CloudResult<Vec<ServiceObs>> {
        self.ecs_find_services(selector).await
    }
    async fn describe_services(&self, keys: &[String]) -> CloudResult<Vec<ServiceObs>> {
        self.ecs_describe_keys(keys).await
    }
    async fn scalable_targets(
        &self,
        resource_ids: &[String],
    ) -> CloudResult<BTreeMap<String, Bounds>> {
        self.scaling_targets(resource_ids).await
    }
    async fn set_scalable_target(&self, resource_id: &str, bounds: Bounds) -> CloudResult<()> {
        self.scaling_set(resource_id, bounds).await
    }
    async fn set_desired_count(&self, cluster: &str, service: &str, count: u32) -> CloudResult<()> {
        self.ecs_set_desired_count(cluster, service, count).await
    }
    async fn find_db_instances(&self, selector: &Selector) -> CloudResult<Vec<DbObs>> {
        self.rds_find(selector).await
    }
    async fn describe_db_instances(&self, ids: &[String]) -> CloudResult<Vec<DbObs>> {
        self.rds_describe(ids).await
    }
    async fn describe_db_snapshots(&self, ids: &[String]) -> CloudResult<Vec<SnapshotObs>> {
        self.rds_snapshots(ids).await
    }
    async fn kept_snapshots(&self, instance_ids: &[String]) -> CloudResult<Vec<SnapshotObs>> {
        self.rds_kept_snapshots(instance_ids).await
    }
    async fn stop_db(&self, id: &str) -> CloudResult<()> {
        self.rds_stop(id).await
    }
    async fn start_db(&self, id: &str) -> CloudResult<()> {
        self.rds_start(id).await
    }
    async fn delete_db(&self, id: &str, final_snapshot: &str) -> CloudResult<()> {
        self.rds_delete(id, final_snapshot).await
    }
    async fn restore_db(&self, id: &str, snapshot: &str, spec: &DbSpec) -> CloudResult<()> {
        self.rds_restore(id, snapshot, spec).await
    }
    async fn modify_db(&self, id: &str, spec: &DbSpec, fields: &[String]) -> CloudResult<()> {
        self.rds_modify(id, spec, fields).await
    }
    async fn find_load_balancers(
        &self,
        selector: &Selector,
        names: &[String],
    ) -> CloudResult<Vec<LoadBalancerObs>> {
        self.elb_find(selector, names).await
    }
    async fn apply_load_balancer(
        &self,
        spec: &LoadBalancerSpec,
        not_after_ms: i64,
    ) -> CloudResult<()> {
        crate::alb_apply::apply_alb(self, spec, not_after_ms).await
    }
    async fn delete_load_balancer(&self, arn: &str) -> CloudResult<()> {
        self.elb_delete(arn).await
    }
    async fn listener_arns(&self, lb_arn: &str) -> CloudResult<BTreeMap<u16, String>> {
        self.elb_listener_arns(lb_arn).await
    }
    async fn check_spec_dependencies(&self, spec: &EphemeralSpec) -> CloudResult<()> {
        self.check_dependencies(spec).await
    }
    async fn find_kafka_clusters(
        &self,
        selector: &Selector,
        names: &[String],
    ) -> CloudResult<Vec<KafkaObs>> {
        self.msk_find(selector, names).await
    }
    async fn create_kafka_cluster(
        &self,
        spec: &KafkaClusterSpec,
        not_after_ms: i64,
    ) -> CloudResult<()> {
        self.msk_create(spec, not_after_ms).await
    }
    async fn delete_kafka_cluster(&self, arn: &str) -> CloudResult<()> {
        self.msk_delete(arn).await
    }
    async fn find_nat_gateways(
        &self,
        selector: &Selector,
        subnets: &[String],
    ) -> CloudResult<Vec<NatObs>> {
        self.nat_find(selector, subnets).await
    }
    async fn describe_routes(
        &self,
        routes: &[(String, String)],
    ) -> CloudResult<BTreeMap<String, RouteObs>> {
        self.routes_describe(routes).await
    }
    async fn create_nat_gateway(
        &self,
        spec: &NatGatewaySpec,
        client_token: &str,
        not_after_ms: i64,
    ) -> CloudResult<()> {
        self.nat_create(spec, client_token, not_after_ms).await
    }
    async fn delete_nat_gateway(&self, id: &str) -> CloudResult<()> {
        self.nat_delete(id).await
    }
    async fn point_routes(
        &self,
        routes: &[NatRouteSpec],
        nat_gateway_id: &str,
        not_after_ms: i64,
    ) -> CloudResult<()> {
        self.routes_point(routes, nat_gateway_id, not_after_ms)
            .await
    }
    async fn find_vpc_endpoints(
        &self,
        selector: &Selector,
        services: &[(String, String)],
    ) -> CloudResult<Vec<EndpointObs>> {
        self.endpoint_find(selector, services).await
    }
    async fn create_vpc_endpoint(
        &self,
        spec: &VpcEndpointSpec,
        client_token: &str,
        not_after_ms: i64,
    ) -> CloudResult<()> {
        self.endpoint_create(spec, client_token, not_after_ms).await
    }
    async fn delete_vpc_endpoint(&self, id: &str) -> CloudResult<()> {
        self.endpoint_delete(id).await
    }
    async fn list_alarms(&self) -> CloudResult<Vec<costctl_engine::cloud::ListedAlarm>> {
        self.cw_list().await
    }
    async fn alarm_tags(
        &self,
        arns: &[String],
    ) -> CloudResult<BTreeMap<String, BTreeMap<String, String>>> {
        self.cw_tags(arns).await
    }
    async fn set_alarm_actions(&self, names: &[String], enabled: bool) -> CloudResult<()> {
        self.cw_set_actions(names, enabled).await
    }
    async fn put_metric_alarm(
        &self,
        name: &str,
        definition: &AlarmDefinition,
        actions_enabled: bool,
    ) -> CloudResult<()> {
        self.cw_put(name, definition, actions_enabled).await
    }
    async fn put_events(&self, events: &[costctl_engine::events::Event]) -> CloudResult<()> {
        self.events_put(events).await
    }
    async fn get_parameters(&self, names: &[String]) -> CloudResult<BTreeMap<String, String>> {
        self.ssm_get(names).await
    }
    async fn put_parameter(&self, name: &str, value: &str) -> CloudResult<()> {
        self.ssm_put(name, value).await
    }
    async fn get_aliases(
        &self,
        records: &[(String, String)],
    ) -> CloudResult<BTreeMap<String, AliasObs>> {
        self.dns_aliases(records).await
    }
    async fn upsert_alias(
        &self,
        zone_id: &str,
        name: &str,
        target_dns: &str,
        target_zone: &str,
    ) -> CloudResult<()> {
        self.dns_upsert_alias(zone_id, name, target_dns, target_zone)
            .await
    }
    async fn delete_alias(&self, zone_id: &str, name: &str, target_dns: &str) -> CloudResult<()> {
        self.dns_delete_alias(zone_id, name, target_dns).await
    }
}
