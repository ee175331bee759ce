//! What the adapters saw of a stack's resources at one instant.
//!
//! An observation is plain data so that the planner stays a pure function and tests can build
//! any situation — including ones moto cannot produce — by hand.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
}

impl ServiceObs {
    /// The key under which the manifest records this service.
    pub fn key(&self) -> String {
        service_key(&self.cluster, &self.name)
    }
}

/// `cluster/service`: the manifest key of a service.
pub fn service_key(cluster: &str, service: &str) -> String {
    format!("{cluster}/{service}")
}

/// The Application Auto Scaling resource id of an ECS service.
pub fn scalable_resource_id(cluster: &str, service: &str) -> String {
    format!("service/{cluster}/{service}")
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
}

/// An RDS instance as described.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DbObs {
    pub id: String,
    /// RDS status: `available`, `stopping`, `stopped`, `starting`, `deleting`, `creating`, …
    pub status: String,
    pub deletion_protection: bool,
    pub spec: DbSpec,
}

/// A manual DB snapshot that a restore may need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotObs {
    pub id: String,
    pub instance_id: String,
    /// `creating` or `available` (or a failure state).
    pub status: String,
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

    /// True when nothing at all was found.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty() && self.db_instances.is_empty() && self.db_snapshots.is_empty()
    }
}
