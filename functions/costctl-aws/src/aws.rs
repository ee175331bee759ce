//! The real cloud: [`Cloud`] over the official AWS SDK for Rust.
//!
//! Clients are built once from one `SdkConfig` and shared; an endpoint override (the emulator,
//! LocalStack, a VPC endpoint) applies to every service.

use aws_config::{BehaviorVersion, SdkConfig};
use std::time::Duration;

/// Shared SDK clients for every service costctl touches.
#[derive(Clone, Debug)]
pub struct AwsCloud {
    pub(crate) ecs: aws_sdk_ecs::Client,
    pub(crate) autoscaling: aws_sdk_applicationautoscaling::Client,
    pub(crate) rds: aws_sdk_rds::Client,
    /// Bound on concurrent calls inside one adapter operation (e.g. DescribeServices batches).
    pub(crate) concurrency: usize,
}

impl AwsCloud {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            ecs: aws_sdk_ecs::Client::new(config),
            autoscaling: aws_sdk_applicationautoscaling::Client::new(config),
            rds: aws_sdk_rds::Client::new(config),
            concurrency: 8,
        }
    }

    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }
}

/// Where and how to reach AWS.
#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub region: Option<String>,
    /// Overrides every service endpoint (the emulator in tests and the demo).
    pub endpoint_url: Option<String>,
}

/// Loads the SDK configuration the standard way (environment, profile, IMDS/container
/// credentials), with the region and endpoint overrides applied.
pub async fn load_config(conn: &Connection) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(
            aws_config::retry::RetryConfig::adaptive()
                .with_max_attempts(6)
                .with_initial_backoff(Duration::from_millis(100)),
        )
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .operation_attempt_timeout(Duration::from_secs(20))
                .build(),
        );
    if let Some(region) = &conn.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
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
use costctl_core::observation::{Bounds, DbObs, DbSpec, ServiceObs, SnapshotObs};
use std::collections::BTreeMap;

#[async_trait]
impl Cloud for AwsCloud {
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
}
