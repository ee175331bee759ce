//! The network part of the ephemeral tier: NAT gateways with the routes that point at them, and
//! interface VPC endpoints. Both cost by the hour whether or not anything uses them (a NAT
//! gateway about $0.045/h, an interface endpoint $0.01/h per zone), and both can be recreated
//! exactly from what is recorded here: a NAT gateway keeps its public address because the Elastic
//! IP allocation outlives it, an endpoint is its service, subnets, groups, policy and DNS options.
//!
//! One owner per resource: costctl owns the NAT gateways, the routes listed with them and the
//! interface endpoints; Terraform keeps the Elastic IP allocations, the route tables, the subnets
//! and every gateway endpoint (S3, DynamoDB: free, never touched).

use super::{SpecProblem, check_ids, check_tags};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A NAT gateway. At most one per subnet: the subnet is its identity across a recreation (the
/// gateway's ID changes, its subnet, address and routes do not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatGatewaySpec {
    pub subnet_id: String,
    #[serde(default)]
    pub connectivity_type: NatConnectivity,
    /// The Elastic IP of a public NAT gateway. It is never released by costctl: the same
    /// allocation comes back with the recreated gateway, so the egress address an allow-list
    /// names keeps working.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocation_id: Option<String>,
    /// The gateway's primary private address; AWS picks one in the subnet when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip_address: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Routes that send traffic to this gateway, in route tables costctl does not own. Only
    /// these are replaced on resume; a route table not named here is never touched.
    #[serde(default)]
    pub routes: Vec<NatRouteSpec>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NatConnectivity {
    #[default]
    Public,
    Private,
}

impl NatConnectivity {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Private => "private",
        }
    }
}

/// A route to a NAT gateway: a route table and exactly one destination.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatRouteSpec {
    pub route_table_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_cidr_block: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_ipv6_cidr_block: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_prefix_list_id: Option<String>,
}

impl NatRouteSpec {
    /// The route's destination, whichever kind it is (`0.0.0.0/0`, `64:ff9b::/96`, `pl-…`).
    pub fn destination(&self) -> &str {
        self.destination_cidr_block
            .as_deref()
            .or(self.destination_ipv6_cidr_block.as_deref())
            .or(self.destination_prefix_list_id.as_deref())
            .unwrap_or("")
    }

    /// `rtb-…/0.0.0.0/0`: how reports and problems name a route.
    pub fn label(&self) -> String {
        format!("{} {}", self.route_table_id, self.destination())
    }
}

impl NatGatewaySpec {
    /// The key of a NAT gateway in the manifest and the observation.
    pub fn key(&self) -> &str {
        &self.subnet_id
    }
}

/// An interface VPC endpoint, keyed by its service name (one endpoint per service and stack:
/// with private DNS, AWS allows only one per service in a VPC anyway).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpcEndpointSpec {
    pub service_name: String,
    pub vpc_id: String,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    /// AWS's default for an interface endpoint is `true`.
    #[serde(default = "yes")]
    pub private_dns_enabled: bool,
    /// The endpoint policy; absent means AWS's default (full access), which is what a capture of
    /// an endpoint with the default policy holds too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<serde_json::Value>,
    #[serde(default)]
    pub ip_address_type: EndpointIpAddressType,
    #[serde(default, skip_serializing_if = "DnsOptionsSpec::is_default")]
    pub dns_options: DnsOptionsSpec,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EndpointIpAddressType {
    #[default]
    Ipv4,
    Dualstack,
    Ipv6,
}

impl EndpointIpAddressType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ipv4 => "ipv4",
            Self::Dualstack => "dualstack",
            Self::Ipv6 => "ipv6",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ipv4" => Self::Ipv4,
            "dualstack" => Self::Dualstack,
            "ipv6" => Self::Ipv6,
            _ => return None,
        })
    }
}

/// The DNS options of an interface endpoint; a field left out is AWS's default (the record
/// type follows the IP address type; inbound-resolver-only off).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsOptionsSpec {
    /// `ipv4`, `dualstack`, `ipv6` or `service-defined`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_record_ip_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_dns_only_for_inbound_resolver_endpoint: Option<bool>,
}

impl DnsOptionsSpec {
    pub fn is_default(&self) -> bool {
        self.dns_record_ip_type.is_none()
            && self
                .private_dns_only_for_inbound_resolver_endpoint
                .is_none()
    }
}

/// The record type AWS gives an endpoint of `ip` when none is asked for.
pub fn default_dns_record_ip_type(ip: EndpointIpAddressType) -> &'static str {
    ip.as_str()
}

/// Checks the network lists of a spec (called by `EphemeralSpec::validate`).
pub(super) fn check_network(
    nats: &[NatGatewaySpec],
    endpoints: &[VpcEndpointSpec],
    push: &mut impl FnMut(String, SpecProblem),
) {
    let mut subnets = BTreeSet::new();
    let mut allocations = BTreeSet::new();
    let mut routes = BTreeSet::new();
    for (i, n) in nats.iter().enumerate() {
        let p = format!("nat_gateways[{i}]");
        check_id(&n.subnet_id, "subnet-", &format!("{p}.subnet_id"), push);
        if !subnets.insert(n.subnet_id.as_str()) {
            push(
                format!("{p}.subnet_id"),
                SpecProblem::DuplicateEntry(n.subnet_id.clone()),
            );
        }
        match (n.connectivity_type, &n.allocation_id) {
            (NatConnectivity::Public, None) => {
                push(format!("{p}.allocation_id"), SpecProblem::NatAllocation)
            }
            (NatConnectivity::Private, Some(_)) => {
                push(format!("{p}.allocation_id"), SpecProblem::NatAllocation)
            }
            (_, Some(a)) => {
                check_id(a, "eipalloc-", &format!("{p}.allocation_id"), push);
                if !allocations.insert(a.as_str()) {
                    push(
                        format!("{p}.allocation_id"),
                        SpecProblem::DuplicateEntry(a.clone()),
                    );
                }
            }
            (_, None) => {}
        }
        if let Some(ip) = &n.private_ip_address
            && ip.parse::<std::net::Ipv4Addr>().is_err()
        {
            push(
                format!("{p}.private_ip_address"),
                SpecProblem::InvalidAddress(ip.clone()),
            );
        }
        check_tags(&n.tags, &format!("{p}.tags"), push);
        for (j, r) in n.routes.iter().enumerate() {
            let rp = format!("{p}.routes[{j}]");
            check_id(
                &r.route_table_id,
                "rtb-",
                &format!("{rp}.route_table_id"),
                push,
            );
            let given = [
                r.destination_cidr_block.is_some(),
                r.destination_ipv6_cidr_block.is_some(),
                r.destination_prefix_list_id.is_some(),
            ];
            if given.iter().filter(|g| **g).count() != 1 {
                push(rp.clone(), SpecProblem::RouteDestination);
            } else if !valid_destination(r) {
                push(
                    rp.clone(),
                    SpecProblem::InvalidAddress(r.destination().to_string()),
                );
            }
            // A destination of a route table can be sent to one target only.
            if !routes.insert((r.route_table_id.as_str(), r.destination())) {
                push(rp, SpecProblem::DuplicateEntry(r.label()));
            }
        }
    }

    let mut services = BTreeSet::new();
    for (i, e) in endpoints.iter().enumerate() {
        let p = format!("vpc_endpoints[{i}]");
        if !valid_service_name(&e.service_name) {
            push(
                format!("{p}.service_name"),
                SpecProblem::InvalidServiceName(e.service_name.clone()),
            );
        }
        if !services.insert(e.service_name.as_str()) {
            push(
                format!("{p}.service_name"),
                SpecProblem::DuplicateEntry(e.service_name.clone()),
            );
        }
        check_id(&e.vpc_id, "vpc-", &format!("{p}.vpc_id"), push);
        if e.subnet_ids.is_empty() {
            push(format!("{p}.subnet_ids"), SpecProblem::Empty);
        }
        check_ids(&e.subnet_ids, &format!("{p}.subnet_ids"), push);
        if e.security_group_ids.is_empty() {
            push(format!("{p}.security_group_ids"), SpecProblem::Empty);
        }
        check_ids(
            &e.security_group_ids,
            &format!("{p}.security_group_ids"),
            push,
        );
        if let Some(policy) = &e.policy
            && !policy.is_object()
        {
            push(format!("{p}.policy"), SpecProblem::PolicyNotObject);
        }
        if let Some(t) = &e.dns_options.dns_record_ip_type
            && !matches!(
                t.as_str(),
                "ipv4" | "dualstack" | "ipv6" | "service-defined"
            )
        {
            push(
                format!("{p}.dns_options.dns_record_ip_type"),
                SpecProblem::InvalidDnsRecordIpType(t.clone()),
            );
        }
        check_tags(&e.tags, &format!("{p}.tags"), push);
    }
}

fn check_id(id: &str, prefix: &'static str, p: &str, push: &mut impl FnMut(String, SpecProblem)) {
    let ok = id
        .strip_prefix(prefix)
        .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()));
    if !ok {
        push(
            p.to_string(),
            SpecProblem::InvalidId {
                id: id.to_string(),
                prefix,
            },
        );
    }
}

fn valid_destination(r: &NatRouteSpec) -> bool {
    let cidr = |s: &str, v6: bool| {
        let Some((addr, len)) = s.split_once('/') else {
            return false;
        };
        let Ok(len) = len.parse::<u8>() else {
            return false;
        };
        if v6 {
            addr.parse::<std::net::Ipv6Addr>().is_ok() && len <= 128
        } else {
            addr.parse::<std::net::Ipv4Addr>().is_ok() && len <= 32
        }
    };
    if let Some(c) = &r.destination_cidr_block {
        return cidr(c, false);
    }
    if let Some(c) = &r.destination_ipv6_cidr_block {
        return cidr(c, true);
    }
    r.destination_prefix_list_id.as_deref().is_some_and(|p| {
        p.strip_prefix("pl-")
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
    })
}

/// `com.amazonaws.<region>.<service>` or a PrivateLink service (`com.amazonaws.vpce.<region>.
/// vpce-svc-…`, `aws.sagemaker.…`): dot-separated labels of letters, digits and `-_`.
fn valid_service_name(name: &str) -> bool {
    name.len() <= 255
        && name.split('.').count() >= 3
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}
