//! Hourly cost of what a stack runs, to show what a pause saves and to keep the savings ledger.
//!
//! Prices come from [`Prices`] (per region, with their source and date, overridable in the
//! configuration). "Now" counts what keeps costing in every state too — RDS storage while an
//! instance is stopped, the snapshot of a hibernated one, public IPv4 addresses — so a paused
//! stack does not show $0/h. The figures are estimates for a report, never an input to a
//! decision.

use crate::manifest::Manifest;
use crate::observation::{DbSpec, Observation, ServiceObs};
use crate::price::Prices;
use crate::spec::{LoadBalancerSpec, NatConnectivity, NatGatewaySpec, Scheme, VpcEndpointSpec};
use serde::{Deserialize, Serialize};

/// What `tasks` Fargate tasks of a service cost per hour (a public IPv4 address each when the
/// service assigns them).
pub fn tasks_hour(prices: &Prices, svc: &ServiceObs, tasks: u32) -> f64 {
    let ip = if svc.public_ip {
        prices.public_ipv4_hour
    } else {
        0.0
    };
    f64::from(tasks) * (prices.fargate_task_hour() + ip)
}

/// What a service costs as observed: its running tasks, or the desired ones while they start.
pub fn service_hour(prices: &Prices, svc: &ServiceObs) -> f64 {
    tasks_hour(prices, svc, svc.running.max(svc.desired))
}

/// An ALB of this spec: the load balancer-hour plus its public IPv4 addresses when
/// internet-facing (one per subnet). LCUs depend on traffic and are left out.
pub fn alb_hour(prices: &Prices, spec: &LoadBalancerSpec) -> f64 {
    let ips = match spec.scheme {
        Scheme::InternetFacing => spec.subnets.len() as f64 * prices.public_ipv4_hour,
        Scheme::Internal => 0.0,
    };
    prices.alb_hour + ips
}

/// An RDS instance's storage (and provisioned IOPS): billed whatever its status.
pub fn db_storage_hour(prices: &Prices, spec: &DbSpec) -> f64 {
    prices.rds_storage(
        spec.storage_type.as_deref(),
        spec.allocated_storage.unwrap_or(0),
        spec.iops,
        spec.multi_az,
    )
}

/// An RDS instance in this status: instance-hours unless stopped (or being deleted), storage
/// always.
pub fn db_hour(prices: &Prices, spec: &DbSpec, status: &str) -> f64 {
    let instance = if matches!(status, "stopped" | "deleting") {
        0.0
    } else {
        prices.rds_instance(&spec.instance_class, spec.multi_az)
    };
    instance + db_storage_hour(prices, spec)
}

/// What a running instance of this spec costs: instance and storage.
pub fn db_running_hour(prices: &Prices, spec: &DbSpec) -> f64 {
    db_hour(prices, spec, "available")
}

/// The final snapshot of a hibernated instance of this spec, counted at its allocated size.
pub fn snapshot_hour(prices: &Prices, spec: &DbSpec) -> f64 {
    prices.rds_snapshot(spec.allocated_storage.unwrap_or(0))
}

/// An MSK Serverless cluster in this state (nothing once it is being deleted).
pub fn msk_hour(prices: &Prices, state: &str) -> f64 {
    if state == "DELETING" {
        0.0
    } else {
        prices.msk_serverless_cluster_hour
    }
}

/// A NAT gateway of this spec: the gateway-hour plus its public IPv4 address (data processed
/// depends on traffic and is left out).
pub fn nat_hour(prices: &Prices, spec: &NatGatewaySpec) -> f64 {
    prices.nat_gateway_hour + eip_hour(prices, spec)
}

/// The Elastic IP of a public NAT gateway: billed whether or not it is associated, so it keeps
/// costing while the gateway is deleted.
pub fn eip_hour(prices: &Prices, spec: &NatGatewaySpec) -> f64 {
    match spec.connectivity_type {
        NatConnectivity::Public => prices.public_ipv4_hour,
        NatConnectivity::Private => 0.0,
    }
}

/// An interface endpoint: one endpoint-hour per zone it has an ENI in (one per subnet).
pub fn endpoint_hour(prices: &Prices, spec: &VpcEndpointSpec) -> f64 {
    spec.subnet_ids.len() as f64 * prices.vpc_endpoint_az_hour
}

/// Estimated cost per hour of the stack as observed now, and as it would be when running.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct CostEstimate {
    pub now_per_hour: f64,
    pub running_per_hour: f64,
}

/// Estimates both figures. "Running" uses the recorded counts where the manifest has them
/// (the stack may be paused now) and the observed ones otherwise.
pub fn estimate(prices: &Prices, obs: &Observation, manifest: &Manifest) -> CostEstimate {
    let mut now = 0.0;
    let mut running = 0.0;
    for svc in &obs.services {
        now += service_hour(prices, svc);
        let desired = manifest
            .services
            .get(&svc.key())
            .map_or(svc.desired, |r| r.desired);
        running += tasks_hour(prices, svc, desired);
    }
    for db in &obs.db_instances {
        now += db_hour(prices, &db.spec, &db.status);
        // One the pause found stopped stays stopped on resume: only its storage.
        running += match manifest.db_instances.get(&db.id) {
            Some(r) if r.stopped => db_hour(prices, &db.spec, "stopped"),
            _ => db_running_hour(prices, &db.spec),
        };
    }
    for (id, record) in &manifest.db_instances {
        if obs.db(id).is_none() {
            running += db_running_hour(prices, &record.spec);
            // Hibernated: the final snapshot is what keeps costing.
            if record.snapshot.is_some() {
                now += snapshot_hour(prices, &record.spec);
            }
        }
    }
    for lb in obs.load_balancers.values() {
        let hour = alb_hour(prices, &lb.spec);
        now += hour;
        running += hour;
    }
    for (name, spec) in &manifest.load_balancers {
        if !obs.load_balancers.contains_key(name) {
            running += alb_hour(prices, spec);
        }
    }
    for c in obs.kafka_clusters.values() {
        now += msk_hour(prices, &c.state);
        running += prices.msk_serverless_cluster_hour;
    }
    for name in manifest.kafka_clusters.keys() {
        if !obs.kafka_clusters.contains_key(name) {
            running += prices.msk_serverless_cluster_hour;
        }
    }
    for (subnet, n) in obs.nat_gateways.iter().filter(|(_, n)| n.of_stack) {
        let hour = if n.state == "deleting" {
            eip_hour(prices, &n.spec)
        } else {
            nat_hour(prices, &n.spec)
        };
        now += hour;
        running += manifest
            .nat_gateways
            .get(subnet)
            .map_or(hour, |r| nat_hour(prices, r));
    }
    for (subnet, spec) in &manifest.nat_gateways {
        if !obs.nat_gateways.get(subnet).is_some_and(|n| n.of_stack) {
            // Deleted by the pause: its Elastic IP stays allocated, and billed.
            now += eip_hour(prices, spec);
            running += nat_hour(prices, spec);
        }
    }
    for (service, e) in obs.vpc_endpoints.iter().filter(|(_, e)| e.of_stack) {
        let hour = if e.state == "deleting" {
            0.0
        } else {
            endpoint_hour(prices, &e.spec)
        };
        now += hour;
        running += manifest
            .vpc_endpoints
            .get(service)
            .map_or(hour, |r| endpoint_hour(prices, r));
    }
    for (service, spec) in &manifest.vpc_endpoints {
        if !obs.vpc_endpoints.get(service).is_some_and(|e| e.of_stack) {
            running += endpoint_hour(prices, spec);
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
