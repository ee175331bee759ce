//! The one trait between the reconcile loop and the world.
//!
//! Each method is one semantic operation, thin over one or a few SDK calls. The AWS adapters
//! implement it for real; a deterministic simulated cloud implements it for fault injection.
//! Every mutating method is idempotent where AWS allows: "already stopped", "already gone" and
//! "already exists" answers are success, because a step may be repeated after a crash.

use crate::error::CloudResult;
use async_trait::async_trait;
use costctl_core::Selector;
use costctl_core::observation::{Bounds, DbObs, DbSpec, ServiceObs, SnapshotObs};
use std::collections::BTreeMap;

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
    async fn stop_db(&self, id: &str) -> CloudResult<()>;
    async fn start_db(&self, id: &str) -> CloudResult<()>;
    /// Deletes with a final snapshot; there is deliberately no way to delete without one.
    async fn delete_db(&self, id: &str, final_snapshot: &str) -> CloudResult<()>;
    async fn restore_db(&self, id: &str, snapshot: &str, spec: &DbSpec) -> CloudResult<()>;
}
