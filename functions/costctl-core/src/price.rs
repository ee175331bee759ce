//! The price table the cost estimates and the savings ledger use: per region, stating where
//! its figures come from and when they were read, overridable in the configuration
//! (`prices`, docs/config.md) for a region without a built-in table, a private price list or
//! a price change.
//!
//! The figures are on-demand list prices. They are estimates for reports and a savings ledger,
//! never an input to a decision: nothing costctl does depends on them.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Hours in a month as AWS bills monthly rates (GB-month, IOPS-month): 730.
pub const HOURS_PER_MONTH: f64 = 730.0;

/// The prices of one region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    /// The region these figures are for.
    pub region: String,
    /// Where the figures come from, for a person reading a report.
    pub source: String,
    /// When they were read (`YYYY-MM-DD`).
    pub as_of: String,
    /// Fargate, Linux/x86, per vCPU-hour and per GB-hour.
    pub fargate_vcpu_hour: f64,
    pub fargate_gb_hour: f64,
    /// The task size assumed for every task: DescribeServices does not give it (the task
    /// definition does), and the common dev size is 0.25 vCPU with 0.5 GB.
    pub fargate_task_vcpu: f64,
    pub fargate_task_memory_gb: f64,
    /// One Application Load Balancer-hour, before LCUs (an idle ALB uses almost none).
    pub alb_hour: f64,
    /// One public IPv4 address-hour: an internet-facing ALB holds one per subnet, a task with
    /// `assignPublicIp` one each, a kept Elastic IP one.
    pub public_ipv4_hour: f64,
    /// One MSK Serverless cluster-hour, before partition-hours and storage.
    pub msk_serverless_cluster_hour: f64,
    /// One NAT gateway-hour, before data processed (an idle one processes almost none).
    #[serde(default = "nat_default")]
    pub nat_gateway_hour: f64,
    /// One interface VPC endpoint-hour per availability zone (each subnet holds one ENI),
    /// before data processed.
    #[serde(default = "endpoint_default")]
    pub vpc_endpoint_az_hour: f64,
    /// RDS for PostgreSQL, single-AZ, per instance-hour by class (Multi-AZ is twice this).
    pub rds_instance_hour: BTreeMap<String, f64>,
    /// A class the table does not list: a mid-size guess rather than zero, so that a saving is
    /// not understated.
    pub rds_unknown_class_hour: f64,
    /// RDS storage per GB-month by storage type (`gp2`, `gp3`, `io1`, `io2`, `standard`);
    /// Multi-AZ is twice this. It keeps costing while an instance is stopped.
    pub rds_storage_gb_month: BTreeMap<String, f64>,
    /// Provisioned IOPS (io1, io2) per IOPS-month.
    pub rds_iops_month: f64,
    /// Snapshot storage per GB-month beyond the free backup allowance: what a hibernated
    /// database costs (costctl counts the snapshot at the instance's allocated size, an upper
    /// bound: AWS bills the data the snapshot holds).
    pub rds_snapshot_gb_month: f64,
}

/// The figures of the built-in tables: on-demand list prices from the AWS pricing pages of
/// each service (aws.amazon.com/fargate/pricing, /elasticloadbalancing/pricing,
/// /vpc/pricing (public IPv4, NAT gateways), /privatelink/pricing (interface endpoints),
/// /msk/pricing, /rds/postgresql/pricing), as transcribed on
/// `AS_OF`. N. Virginia and Oregon list the same prices for all of these.
const AS_OF: &str = "2026-12-03";

fn us_east_1(region: &str) -> Prices {
    let classes = [
        ("db.t4g.micro", 0.016),
        ("db.t3.micro", 0.018),
        ("db.t4g.small", 0.032),
        ("db.t3.small", 0.036),
        ("db.t4g.medium", 0.065),
        ("db.t3.medium", 0.072),
        ("db.t4g.large", 0.129),
        ("db.t3.large", 0.145),
        ("db.m6g.large", 0.168),
        ("db.m7g.large", 0.168),
        ("db.m5.large", 0.178),
        ("db.m6i.large", 0.178),
        ("db.r6g.large", 0.225),
        ("db.r6i.large", 0.25),
    ];
    let storage = [
        ("gp2", 0.115),
        ("gp3", 0.115),
        ("io1", 0.125),
        ("io2", 0.125),
        ("standard", 0.10),
    ];
    Prices {
        region: region.into(),
        source: format!(
            "built-in table for {region}: AWS on-demand list prices (Fargate, ELB, VPC public IPv4 and NAT gateway, PrivateLink, MSK, RDS for PostgreSQL pricing pages)"
        ),
        as_of: AS_OF.into(),
        fargate_vcpu_hour: 0.04048,
        fargate_gb_hour: 0.004445,
        fargate_task_vcpu: 0.25,
        fargate_task_memory_gb: 0.5,
        alb_hour: 0.0225,
        public_ipv4_hour: 0.005,
        msk_serverless_cluster_hour: 0.75,
        nat_gateway_hour: 0.045,
        vpc_endpoint_az_hour: 0.01,
        rds_instance_hour: classes.iter().map(|(c, p)| (c.to_string(), *p)).collect(),
        rds_unknown_class_hour: 0.10,
        rds_storage_gb_month: storage.iter().map(|(t, p)| (t.to_string(), *p)).collect(),
        rds_iops_month: 0.10,
        rds_snapshot_gb_month: 0.095,
    }
}

/// The regions with a built-in table.
pub const BUILT_IN_REGIONS: [&str; 2] = ["us-east-1", "us-west-2"];

impl Default for Prices {
    fn default() -> Self {
        us_east_1("us-east-1")
    }
}

impl Prices {
    /// The table for `region`: the built-in one where there is one, otherwise us-east-1's
    /// figures with a source that says so; then the configuration's overrides for that region.
    pub fn for_region(region: &str, overrides: &BTreeMap<String, PriceOverrides>) -> Prices {
        let mut prices = if BUILT_IN_REGIONS.contains(&region) {
            us_east_1(region)
        } else {
            let mut p = us_east_1("us-east-1");
            p.region = region.into();
            p.source = format!(
                "no built-in table for {region}: us-east-1 list prices used (set `prices.{region}` in the configuration)"
            );
            p
        };
        if let Some(o) = overrides.get(region) {
            o.apply(&mut prices);
        }
        prices
    }

    /// Fargate task-hour at the assumed task size.
    pub fn fargate_task_hour(&self) -> f64 {
        self.fargate_task_vcpu * self.fargate_vcpu_hour
            + self.fargate_task_memory_gb * self.fargate_gb_hour
    }

    /// RDS instance-hour of a class (Multi-AZ doubles it).
    pub fn rds_instance(&self, class: &str, multi_az: bool) -> f64 {
        let single = self
            .rds_instance_hour
            .get(class)
            .copied()
            .unwrap_or(self.rds_unknown_class_hour);
        if multi_az { single * 2.0 } else { single }
    }

    /// RDS storage (and provisioned IOPS) per hour for an instance of this size.
    pub fn rds_storage(
        &self,
        storage_type: Option<&str>,
        gb: u32,
        iops: Option<u32>,
        multi_az: bool,
    ) -> f64 {
        let kind = storage_type.unwrap_or("gp2");
        let gb_month = self
            .rds_storage_gb_month
            .get(kind)
            .or_else(|| self.rds_storage_gb_month.get("gp2"))
            .copied()
            .unwrap_or(0.0);
        let mut month = f64::from(gb) * gb_month;
        if matches!(kind, "io1" | "io2") {
            month += f64::from(iops.unwrap_or(0)) * self.rds_iops_month;
        }
        let az = if multi_az { 2.0 } else { 1.0 };
        month * az / HOURS_PER_MONTH
    }

    /// A snapshot of this many GB, per hour.
    pub fn rds_snapshot(&self, gb: u32) -> f64 {
        f64::from(gb) * self.rds_snapshot_gb_month / HOURS_PER_MONTH
    }
}

/// The configuration's overrides for one region (`prices.<region>`): every field optional, a
/// field given replaces the table's, class and storage maps merge into the table's.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fargate_vcpu_hour: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fargate_gb_hour: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fargate_task_vcpu: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fargate_task_memory_gb: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alb_hour: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ipv4_hour: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msk_serverless_cluster_hour: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_hour: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_endpoint_az_hour: Option<f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rds_instance_hour: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds_unknown_class_hour: Option<f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub rds_storage_gb_month: BTreeMap<String, f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds_iops_month: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds_snapshot_gb_month: Option<f64>,
}

/// A price the configuration gives that cannot be one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PriceProblem {
    #[error("must be a finite number >= 0, got {0}")]
    NotAPrice(f64),
    #[error("a task size must be > 0, got {0}")]
    NotASize(f64),
    #[error("expected a date YYYY-MM-DD, got `{0}`")]
    NotADate(String),
    #[error("expected an AWS region name such as eu-west-1, got `{0}`")]
    NotARegion(String),
    #[error("empty source: say where the figures come from")]
    EmptySource,
}

impl PriceOverrides {
    fn scalars(&self) -> [(&'static str, Option<f64>); 11] {
        [
            ("fargate_vcpu_hour", self.fargate_vcpu_hour),
            ("fargate_gb_hour", self.fargate_gb_hour),
            ("fargate_task_vcpu", self.fargate_task_vcpu),
            ("fargate_task_memory_gb", self.fargate_task_memory_gb),
            ("alb_hour", self.alb_hour),
            ("public_ipv4_hour", self.public_ipv4_hour),
            (
                "msk_serverless_cluster_hour",
                self.msk_serverless_cluster_hour,
            ),
            ("nat_gateway_hour", self.nat_gateway_hour),
            ("vpc_endpoint_az_hour", self.vpc_endpoint_az_hour),
            ("rds_unknown_class_hour", self.rds_unknown_class_hour),
            ("rds_iops_month", self.rds_iops_month),
        ]
    }

    /// Every problem, by field (relative to `prices.<region>`).
    pub fn problems(&self) -> Vec<(String, PriceProblem)> {
        let mut out = Vec::new();
        let price = |v: f64| v.is_finite() && v >= 0.0;
        for (field, value) in self.scalars() {
            let Some(v) = value else { continue };
            if field.starts_with("fargate_task_") {
                if !(v.is_finite() && v > 0.0) {
                    out.push((field.to_string(), PriceProblem::NotASize(v)));
                }
            } else if !price(v) {
                out.push((field.to_string(), PriceProblem::NotAPrice(v)));
            }
        }
        if let Some(v) = self.rds_snapshot_gb_month.filter(|v| !price(*v)) {
            out.push(("rds_snapshot_gb_month".into(), PriceProblem::NotAPrice(v)));
        }
        for (map, entries) in [
            ("rds_instance_hour", &self.rds_instance_hour),
            ("rds_storage_gb_month", &self.rds_storage_gb_month),
        ] {
            for (k, v) in entries {
                if !price(*v) {
                    out.push((format!("{map}.{k}"), PriceProblem::NotAPrice(*v)));
                }
            }
        }
        if let Some(d) = &self.as_of
            && d.parse::<jiff::civil::Date>().is_err()
        {
            out.push(("as_of".into(), PriceProblem::NotADate(d.clone())));
        }
        if self.source.as_deref().is_some_and(|s| s.trim().is_empty()) {
            out.push(("source".into(), PriceProblem::EmptySource));
        }
        out
    }

    fn apply(&self, p: &mut Prices) {
        let set = |slot: &mut f64, v: Option<f64>| {
            if let Some(v) = v {
                *slot = v;
            }
        };
        set(&mut p.fargate_vcpu_hour, self.fargate_vcpu_hour);
        set(&mut p.fargate_gb_hour, self.fargate_gb_hour);
        set(&mut p.fargate_task_vcpu, self.fargate_task_vcpu);
        set(&mut p.fargate_task_memory_gb, self.fargate_task_memory_gb);
        set(&mut p.alb_hour, self.alb_hour);
        set(&mut p.public_ipv4_hour, self.public_ipv4_hour);
        set(
            &mut p.msk_serverless_cluster_hour,
            self.msk_serverless_cluster_hour,
        );
        set(&mut p.nat_gateway_hour, self.nat_gateway_hour);
        set(&mut p.vpc_endpoint_az_hour, self.vpc_endpoint_az_hour);
        set(&mut p.rds_unknown_class_hour, self.rds_unknown_class_hour);
        set(&mut p.rds_iops_month, self.rds_iops_month);
        set(&mut p.rds_snapshot_gb_month, self.rds_snapshot_gb_month);
        p.rds_instance_hour.extend(self.rds_instance_hour.clone());
        p.rds_storage_gb_month
            .extend(self.rds_storage_gb_month.clone());
        p.source = match &self.source {
            Some(s) => s.clone(),
            None => format!("{}, with overrides from the configuration", p.source),
        };
        if let Some(d) = &self.as_of {
            p.as_of = d.clone();
        }
    }
}

fn nat_default() -> f64 {
    0.045
}

fn endpoint_default() -> f64 {
    0.01
}

/// An AWS region name: `xx-name-N` (`us-east-1`, `ap-southeast-2`, `us-gov-west-1`).
pub fn is_region_name(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts[1..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1]
            .parse::<u16>()
            .is_ok_and(|n| (1..100).contains(&n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_without_a_table_says_whose_figures_it_uses() {
        let none = BTreeMap::new();
        let p = Prices::for_region("eu-south-2", &none);
        assert_eq!(p.region, "eu-south-2");
        assert!(
            p.source.contains("no built-in table for eu-south-2"),
            "{}",
            p.source
        );
        assert!(p.source.contains("prices.eu-south-2"), "{}", p.source);
        let q = Prices::for_region("us-west-2", &none);
        assert!(
            q.source.starts_with("built-in table for us-west-2"),
            "{}",
            q.source
        );
        assert_eq!(q.as_of, AS_OF);
    }

    #[test]
    fn overrides_replace_and_merge_for_their_region_only() {
        let o: PriceOverrides = serde_json::from_str(
            r#"{"alb_hour": 0.0252, "rds_instance_hour": {"db.t4g.micro": 0.018, "db.x2g.large": 0.5},
                "as_of": "2026-11-30"}"#,
        )
        .unwrap();
        assert!(o.problems().is_empty());
        let overrides = BTreeMap::from([("eu-west-1".to_string(), o)]);
        let p = Prices::for_region("eu-west-1", &overrides);
        assert_eq!(p.alb_hour, 0.0252);
        assert_eq!(p.rds_instance("db.t4g.micro", false), 0.018);
        assert_eq!(p.rds_instance("db.x2g.large", true), 1.0);
        // Not overridden: the table's.
        assert_eq!(p.rds_instance("db.t3.micro", false), 0.018);
        assert_eq!(p.as_of, "2026-11-30");
        assert!(
            p.source.ends_with("with overrides from the configuration"),
            "{}",
            p.source
        );
        assert_eq!(Prices::for_region("us-east-1", &overrides).alb_hour, 0.0225);
    }

    #[test]
    fn bad_prices_are_named_by_field() {
        let o = PriceOverrides {
            alb_hour: Some(-1.0),
            fargate_task_vcpu: Some(0.0),
            rds_storage_gb_month: BTreeMap::from([("gp3".to_string(), f64::NAN)]),
            as_of: Some("yesterday".into()),
            source: Some(" ".into()),
            ..PriceOverrides::default()
        };
        let fields: Vec<String> = o.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            fields,
            [
                "fargate_task_vcpu",
                "alb_hour",
                "rds_storage_gb_month.gp3",
                "as_of",
                "source"
            ]
        );
    }

    #[test]
    fn storage_and_snapshots_cost_by_the_month() {
        let p = Prices::default();
        // 20 GB gp3: 20 × 0.115 / 730.
        let gp3 = p.rds_storage(Some("gp3"), 20, None, false);
        assert!((gp3 - 20.0 * 0.115 / 730.0).abs() < 1e-12);
        assert!((p.rds_storage(Some("gp3"), 20, None, true) - 2.0 * gp3).abs() < 1e-12);
        // io1 adds its provisioned IOPS.
        let io1 = p.rds_storage(Some("io1"), 100, Some(1000), false);
        assert!((io1 - (100.0 * 0.125 + 1000.0 * 0.10) / 730.0).abs() < 1e-12);
        assert!((p.rds_snapshot(20) - 20.0 * 0.095 / 730.0).abs() < 1e-12);
        assert!((p.fargate_task_hour() - 0.0123).abs() < 1e-4);
    }
}
