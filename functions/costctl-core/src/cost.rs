//! Rough hourly cost of what a stack runs, to show what a pause saves.
//!
//! These are on-demand list prices of us-east-1 (2026) for the resources that cost money while
//! idle. Storage (RDS volumes and snapshots, ECR, S3) keeps costing in every state and is left
//! out on purpose: it is not what a pause saves. The figures are estimates for a report, never
//! an input to a decision.

use crate::manifest::Manifest;
use crate::observation::Observation;
use serde::{Deserialize, Serialize};

/// One Fargate task of the most common dev size (0.25 vCPU, 0.5 GB, Linux/x86):
/// 0.25 × $0.04048 + 0.5 × $0.004445. DescribeServices does not give the task size.
pub const FARGATE_TASK_HOUR: f64 = 0.0123;

/// One Application Load Balancer-hour (us-east-1), before LCUs (idle: ~0).
pub const ALB_HOUR: f64 = 0.0225;
/// One public IPv4 address-hour; an internet-facing ALB holds one per subnet (availability zone).
pub const PUBLIC_IPV4_HOUR: f64 = 0.005;
/// One MSK Serverless cluster-hour, before partition-hours and storage (idle: small).
pub const MSK_SERVERLESS_CLUSTER_HOUR: f64 = 0.75;

/// Estimated hourly cost of an ALB of this spec (load balancer-hour plus its public IPv4
/// addresses when internet-facing). An estimate: LCUs depend on traffic and are left out.
pub fn alb_hour(spec: &crate::spec::LoadBalancerSpec) -> f64 {
    let ips = match spec.scheme {
        crate::spec::Scheme::InternetFacing => spec.subnets.len() as f64 * PUBLIC_IPV4_HOUR,
        crate::spec::Scheme::Internal => 0.0,
    };
    ALB_HOUR + ips
}

/// RDS PostgreSQL single-AZ on-demand price per hour by instance class.
pub fn rds_instance_hour(class: &str, multi_az: bool) -> f64 {
    let single = match class {
        "db.t4g.micro" => 0.016,
        "db.t3.micro" => 0.018,
        "db.t4g.small" => 0.032,
        "db.t3.small" => 0.036,
        "db.t4g.medium" => 0.065,
        "db.t3.medium" => 0.072,
        "db.t4g.large" => 0.129,
        "db.t3.large" => 0.145,
        "db.m6g.large" | "db.m7g.large" => 0.168,
        "db.m5.large" | "db.m6i.large" => 0.178,
        // Unknown class: a mid-size guess rather than zero, so the saving is not understated.
        _ => 0.10,
    };
    if multi_az { single * 2.0 } else { single }
}

/// Estimated cost per hour of the stack as observed now, and as it would be when running.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct CostEstimate {
    pub now_per_hour: f64,
    pub running_per_hour: f64,
}

/// Estimates both figures. "Running" uses the recorded counts where the manifest has them
/// (the stack may be paused now) and the observed ones otherwise.
pub fn estimate(obs: &Observation, manifest: &Manifest) -> CostEstimate {
    let mut now = 0.0;
    let mut running = 0.0;
    for svc in &obs.services {
        now += f64::from(svc.running.max(svc.desired)) * FARGATE_TASK_HOUR;
        let desired = manifest
            .services
            .get(&svc.key())
            .map_or(svc.desired, |r| r.desired);
        running += f64::from(desired) * FARGATE_TASK_HOUR;
    }
    for db in &obs.db_instances {
        let hour = rds_instance_hour(&db.spec.instance_class, db.spec.multi_az);
        if !matches!(db.status.as_str(), "stopped" | "deleting") {
            now += hour;
        }
        running += hour;
    }
    for (id, record) in &manifest.db_instances {
        if obs.db(id).is_none() {
            running += rds_instance_hour(&record.spec.instance_class, record.spec.multi_az);
        }
    }
    for lb in obs.load_balancers.values() {
        let hour = alb_hour(&lb.spec);
        now += hour;
        running += hour;
    }
    for (name, spec) in &manifest.load_balancers {
        if !obs.load_balancers.contains_key(name) {
            running += alb_hour(spec);
        }
    }
    for c in obs.kafka_clusters.values() {
        if c.state != "DELETING" {
            now += MSK_SERVERLESS_CLUSTER_HOUR;
        }
        running += MSK_SERVERLESS_CLUSTER_HOUR;
    }
    for name in manifest.kafka_clusters.keys() {
        if !obs.kafka_clusters.contains_key(name) {
            running += MSK_SERVERLESS_CLUSTER_HOUR;
        }
    }
    CostEstimate {
        now_per_hour: round_cents(now),
        running_per_hour: round_cents(running),
    }
}

/// Rounded to a hundredth of a cent.
pub fn round_cents(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}
