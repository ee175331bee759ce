//! The network part of the ephemeral tier in the simulated world: Elastic IP allocations, route
//! tables and their routes, NAT gateways and interface VPC endpoints, with EC2's own rules and
//! durations.
//!
//! What EC2 does and the simulation therefore does too:
//! - an Elastic IP allocation exists, associated or not; nothing here releases one (costctl is
//!   not even offered the call). A public NAT gateway holds its allocation from its create
//!   until it is `deleted`; CreateNatGateway naming an allocation still associated is refused
//!   (`Resource.AlreadyAssociated`, not transient);
//! - a NAT gateway is `pending` for 1–3 minutes, then `available`; DeleteNatGateway makes it
//!   `deleting` for about a minute, then `deleted` (kept, as EC2 lists it for a while: the
//!   lookups leave it out). A route whose NAT gateway is deleted is a `blackhole`;
//! - an interface endpoint is `pending` for 1–2 minutes, then `available`; a delete makes it
//!   `deleting` for about a minute, then `deleted`. A second endpoint with private DNS for the
//!   same service in a VPC, while another one not deleted exists, is refused
//!   (`InvalidParameter`);
//! - creates take a client token: a create repeated with the same token and the same
//!   parameters answers with what the first one made, even when that is deleted by now; the
//!   same token with other parameters is `IdempotentParameterMismatch`;
//! - EC2 is eventually consistent: a NAT gateway or endpoint just created may not be listed by
//!   Describe* for a few seconds (what the client token is for: a create whose answer was
//!   lost, repeated at once, finds nothing and sends the create again). On in every
//!   scenario with a network tier ([`EC2_DESCRIBE_LAG_MS`]);
//! - ReplaceRoute of a route that does not exist is `InvalidRoute.NotFound`, CreateRoute of
//!   one that exists `RouteAlreadyExists`; a route may target a NAT gateway that is `pending`
//!   or `available` only.

use crate::caller::{not_found, rejected};
use crate::world::{MINUTE, World};
use costctl_core::DesiredState;
use costctl_core::network::{endpoint_differences, is_default_endpoint_policy, nat_differences};
use costctl_core::observation::{EndpointObs, NatObs, RouteObs};
use costctl_core::plan::NetworkOnPause;
use costctl_core::spec::{
    DnsOptionsSpec, EndpointIpAddressType, EphemeralSpec, NatConnectivity, NatGatewaySpec,
    NatRouteSpec, VpcEndpointSpec, default_dns_record_ip_type,
};
use costctl_engine::cloud::Created;
use costctl_engine::error::CloudResult;
use std::collections::{BTreeMap, BTreeSet};

/// An Elastic IP allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimEip {
    pub allocation_id: String,
    pub public_ip: String,
    /// What it is associated with: a NAT gateway's ID, an ENI (`eni-…`), or nothing.
    pub association: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SimNat {
    pub id: String,
    pub subnet: String,
    pub connectivity: NatConnectivity,
    pub allocation_id: Option<String>,
    pub private_ip: String,
    pub tags: BTreeMap<String, String>,
    /// `pending`, `available`, `deleting` or `deleted`.
    pub state: String,
    /// When the current transition ends.
    pub until: i64,
    /// Describe* does not list it before this instant.
    pub visible_at: i64,
    /// The create's client token and the parameters it was sent with.
    pub token: Option<(String, NatRequest)>,
}

/// What CreateNatGateway compares when a client token is repeated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatRequest {
    pub subnet: String,
    pub connectivity: NatConnectivity,
    pub allocation_id: Option<String>,
    pub private_ip: Option<String>,
    pub tags: BTreeMap<String, String>,
}

impl NatRequest {
    fn of(spec: &NatGatewaySpec) -> Self {
        NatRequest {
            subnet: spec.subnet_id.clone(),
            connectivity: spec.connectivity_type,
            allocation_id: spec.allocation_id.clone(),
            private_ip: spec.private_ip_address.clone(),
            tags: spec.tags.clone(),
        }
    }
}

impl SimNat {
    /// Pending or available: what bills and holds the subnet's place.
    pub fn live(&self) -> bool {
        matches!(self.state.as_str(), "pending" | "available")
    }
}

/// Where a route sends traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Nat(String),
    /// `local`, `igw-…`, `tgw-…`, an ENI…
    Other(String),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Nat(id) | Target::Other(id) => f.write_str(id),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimRoute {
    /// The route table and the destination, as EC2 spells them.
    pub spec: NatRouteSpec,
    pub target: Target,
}

#[derive(Debug, Clone, Default)]
pub struct SimRouteTable {
    pub vpc: String,
    /// By destination.
    pub routes: BTreeMap<String, SimRoute>,
}

#[derive(Debug, Clone)]
pub struct SimEndpoint {
    pub id: String,
    /// `Interface` or `Gateway` (a gateway endpoint is Terraform's, never captured).
    pub kind: &'static str,
    pub service: String,
    pub vpc: String,
    pub subnets: Vec<String>,
    pub groups: Vec<String>,
    pub private_dns: bool,
    /// As EC2 stores it: the full-access document when the create gave none.
    pub policy: serde_json::Value,
    pub ip_address_type: EndpointIpAddressType,
    /// With EC2's defaults filled in.
    pub dns_options: DnsOptionsSpec,
    pub tags: BTreeMap<String, String>,
    /// `pending`, `available`, `deleting` or `deleted`.
    pub state: String,
    pub until: i64,
    pub visible_at: i64,
    pub token: Option<(String, VpcEndpointSpec)>,
}

impl SimEndpoint {
    pub fn live(&self) -> bool {
        matches!(self.state.as_str(), "pending" | "available")
    }

    /// What the adapter captures (DescribeVpcEndpoints).
    pub fn obs(&self) -> EndpointObs {
        let mut subnet_ids = self.subnets.clone();
        subnet_ids.sort();
        let mut security_group_ids = self.groups.clone();
        security_group_ids.sort();
        EndpointObs {
            id: self.id.clone(),
            state: self.state.clone(),
            spec: VpcEndpointSpec {
                service_name: self.service.clone(),
                vpc_id: self.vpc.clone(),
                subnet_ids,
                security_group_ids,
                private_dns_enabled: self.private_dns,
                policy: (!is_default_endpoint_policy(&self.policy)).then(|| self.policy.clone()),
                ip_address_type: self.ip_address_type,
                dns_options: self.dns_options.clone(),
                tags: self.tags.clone(),
            },
            of_stack: true,
            unsupported: Vec::new(),
            duplicates: Vec::new(),
        }
    }
}

/// How long EC2 may take to list a NAT gateway or endpoint it has just created (ms): its API
/// is eventually consistent. Every scenario with a network tier has it (`build_network`):
/// the client tokens, recorded in the manifest, are what make a create repeated while EC2
/// does not list the first one yet harmless (`tests/network.rs`, `eventually_consistent_ec2`).
pub const EC2_DESCRIBE_LAG_MS: (i64, i64) = (1_000, 5_000);

/// The policy EC2 attaches to an endpoint created without one.
pub fn full_access_policy() -> serde_json::Value {
    serde_json::json!({"Version": "2008-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]})
}

/// What of another stack (or of Terraform) the network holds, as it was when the scenario
/// began: none of it may ever change.
#[derive(Debug, Clone, Default)]
pub struct Protected {
    /// NAT gateways of another stack: ID → (subnet, allocation).
    pub nats: BTreeMap<String, (String, Option<String>)>,
    /// Endpoints of another stack, and gateway endpoints (Terraform's).
    pub endpoints: BTreeSet<String>,
    /// Route tables of another stack, whole: destination → target.
    pub tables: BTreeMap<String, BTreeMap<String, Target>>,
    /// Every other route whose target is not a NAT gateway: (route table, destination) →
    /// target.
    pub routes: BTreeMap<(String, String), Target>,
    /// Every allocation and what it was associated with.
    pub eips: BTreeMap<String, Option<String>>,
}

/// The network of the world.
#[derive(Debug, Default)]
pub struct Network {
    /// Whether the scenario has a network tier: without one the simulated cloud observes
    /// nothing and makes no call for it (as the `Cloud` trait's defaults), so that the
    /// scenarios without one replay the runs they were before it existed.
    pub enabled: bool,
    /// The stack's tags (what "of the stack" means for a NAT gateway or endpoint).
    pub stack_tags: BTreeMap<String, String>,
    pub vpcs: BTreeSet<String>,
    /// By allocation ID.
    pub eips: BTreeMap<String, SimEip>,
    /// By ID.
    pub route_tables: BTreeMap<String, SimRouteTable>,
    /// By ID, the deleted ones included.
    pub nats: BTreeMap<String, SimNat>,
    /// By ID, the deleted ones included.
    pub endpoints: BTreeMap<String, SimEndpoint>,
    pub protected: Protected,
    /// A sim-only fault: ReplaceRoute and CreateRoute answer `Ok` without changing the route
    /// (what an adapter that skipped the replacement would do): the invariants must catch it.
    pub skip_route_changes: bool,
    /// A sim-only fault: EC2 forgets client tokens (every create makes a new resource), to
    /// show what the token protects against.
    pub ignore_client_tokens: bool,
    /// How long a new NAT gateway or endpoint stays unlisted by Describe* (ms, inclusive
    /// range); `(0, 0)` makes EC2 consistent. The scenarios set [`EC2_DESCRIBE_LAG_MS`].
    pub describe_lag_ms: (i64, i64),
    /// The NAT gateways (`nat:SUBNET`) and endpoints (`vpce:VPC/SERVICE`) the stored spec
    /// names now, and those an earlier stored spec named that it no longer does: what a
    /// Terraform update or destroy dropped, which must be gone.
    named: BTreeSet<String>,
    pub dropped: BTreeSet<String>,
    seq: u64,
    /// Keys already reported as having two live resources (reported once).
    reported: BTreeSet<String>,
}

impl Network {
    pub fn next_id(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Follows the stored spec (called at every change of the store): what it stops naming is
    /// dropped, what it names again is not.
    pub fn note_spec(&mut self, spec: Option<&EphemeralSpec>) {
        let named: BTreeSet<String> = spec
            .iter()
            .flat_map(|s| {
                s.nat_gateways
                    .iter()
                    .map(|n| format!("nat:{}", n.subnet_id))
                    .chain(
                        s.vpc_endpoints
                            .iter()
                            .map(|e| format!("vpce:{}/{}", e.vpc_id, e.service_name)),
                    )
            })
            .collect();
        self.dropped.extend(self.named.difference(&named).cloned());
        for k in &named {
            self.dropped.remove(k);
        }
        self.named = named;
    }

    /// Whether `tags` carry every tag of the stack.
    pub fn of_stack(&self, tags: &BTreeMap<String, String>) -> bool {
        !self.stack_tags.is_empty() && self.stack_tags.iter().all(|(k, v)| tags.get(k) == Some(v))
    }

    /// Where a route's traffic goes now: `active`, or `blackhole` when its NAT gateway is gone.
    pub fn route_state(&self, r: &SimRoute) -> &'static str {
        match &r.target {
            Target::Other(_) => "active",
            Target::Nat(id) => match self.nats.get(id).map(|n| n.state.as_str()) {
                Some("pending" | "available" | "deleting") => "active",
                _ => "blackhole",
            },
        }
    }

    pub fn route(&self, table: &str, destination: &str) -> Option<&SimRoute> {
        self.route_tables.get(table)?.routes.get(destination)
    }

    pub fn route_obs(&self, r: &SimRoute) -> RouteObs {
        RouteObs {
            nat_gateway_id: match &r.target {
                Target::Nat(id) => Some(id.clone()),
                Target::Other(_) => None,
            },
            other_target: match &r.target {
                Target::Nat(_) => None,
                Target::Other(t) => Some(t.clone()),
            },
            state: self.route_state(r).into(),
        }
    }

    /// The routes that target `nat` now, sorted (what the adapter captures with it).
    pub fn routes_to(&self, nat: &str) -> Vec<NatRouteSpec> {
        let mut out: Vec<NatRouteSpec> = self
            .route_tables
            .values()
            .flat_map(|t| t.routes.values())
            .filter(|r| r.target == Target::Nat(nat.to_string()))
            .map(|r| r.spec.clone())
            .collect();
        out.sort();
        out
    }

    /// What the adapter captures of a NAT gateway (DescribeNatGateways and the routes that
    /// point at it).
    pub fn nat_obs(&self, n: &SimNat) -> NatObs {
        NatObs {
            id: n.id.clone(),
            state: n.state.clone(),
            spec: NatGatewaySpec {
                subnet_id: n.subnet.clone(),
                connectivity_type: n.connectivity,
                allocation_id: match n.connectivity {
                    NatConnectivity::Public => n.allocation_id.clone(),
                    NatConnectivity::Private => None,
                },
                private_ip_address: Some(n.private_ip.clone()),
                tags: n.tags.clone(),
                routes: self.routes_to(&n.id),
            },
            of_stack: true,
            unsupported: Vec::new(),
            duplicates: Vec::new(),
        }
    }

    /// The NAT gateways of the stack in `subnet` that are live (not foreign).
    pub fn live_nats(&self, subnet: &str) -> Vec<&SimNat> {
        self.nats
            .values()
            .filter(|n| n.subnet == subnet && n.live() && !self.protected.nats.contains_key(&n.id))
            .collect()
    }

    /// The interface endpoints for `service` in `vpc` that are live (not foreign).
    pub fn live_endpoints(&self, vpc: &str, service: &str) -> Vec<&SimEndpoint> {
        self.endpoints
            .values()
            .filter(|e| {
                e.kind == "Interface"
                    && e.vpc == vpc
                    && e.service == service
                    && e.live()
                    && !self.protected.endpoints.contains(&e.id)
            })
            .collect()
    }

    /// Records what exists now of other stacks and of Terraform (to be called once the
    /// scenario's world is built): the foreign NAT gateways and endpoints, every route of the
    /// route tables in `foreign_tables`, every route that targets something other than a NAT
    /// gateway, every allocation and its association.
    pub fn protect(&mut self, foreign_tables: &[&str]) {
        let stack_tags = self.stack_tags.clone();
        let ours = |tags: &BTreeMap<String, String>| {
            stack_tags.iter().all(|(k, v)| tags.get(k) == Some(v))
        };
        self.protected.nats = self
            .nats
            .values()
            .filter(|n| n.live() && !ours(&n.tags))
            .map(|n| (n.id.clone(), (n.subnet.clone(), n.allocation_id.clone())))
            .collect();
        self.protected.endpoints = self
            .endpoints
            .values()
            .filter(|e| e.kind != "Interface" || !ours(&e.tags))
            .map(|e| e.id.clone())
            .collect();
        self.protected.tables = self
            .route_tables
            .iter()
            .filter(|(id, _)| foreign_tables.contains(&id.as_str()))
            .map(|(id, t)| (id.clone(), table_targets(t)))
            .collect();
        self.protected.routes = self
            .route_tables
            .iter()
            .filter(|(id, _)| !foreign_tables.contains(&id.as_str()))
            .flat_map(|(id, t)| {
                t.routes
                    .iter()
                    .filter(|(_, r)| matches!(r.target, Target::Other(_)))
                    .map(move |(d, r)| ((id.clone(), d.clone()), r.target.clone()))
            })
            .collect();
        // An allocation held by a NAT gateway of the stack is the stack's own (free again once
        // costctl deletes that gateway); any other association is another stack's.
        let foreign_association = |a: &String| self.nats.get(a).is_none_or(|n| !ours(&n.tags));
        self.protected.eips = self
            .eips
            .values()
            .map(|e| {
                (
                    e.allocation_id.clone(),
                    e.association.clone().filter(foreign_association),
                )
            })
            .collect();
    }

    /// Lets time pass: NAT gateways and endpoints become available or deleted; a deleted NAT
    /// gateway gives its Elastic IP back.
    pub fn advance(&mut self, now: i64, lines: &mut Vec<String>) -> bool {
        let mut changed = false;
        let mut freed = Vec::new();
        for n in self.nats.values_mut() {
            if now < n.until {
                continue;
            }
            match n.state.as_str() {
                "pending" => {
                    n.state = "available".into();
                    lines.push(format!("nat {} ({}) available", n.id, n.subnet));
                    changed = true;
                }
                "deleting" => {
                    n.state = "deleted".into();
                    lines.push(format!("nat {} ({}) deleted", n.id, n.subnet));
                    freed.extend(n.allocation_id.clone().map(|a| (a, n.id.clone())));
                    changed = true;
                }
                _ => {}
            }
        }
        for (allocation, nat) in freed {
            if let Some(e) = self.eips.get_mut(&allocation)
                && e.association.as_deref() == Some(nat.as_str())
            {
                e.association = None;
            }
        }
        for e in self.endpoints.values_mut() {
            if now < e.until {
                continue;
            }
            let next = match e.state.as_str() {
                "pending" => "available",
                "deleting" => "deleted",
                _ => continue,
            };
            e.state = next.into();
            lines.push(format!("vpce {} ({}) {next}", e.id, e.service));
            changed = true;
        }
        changed
    }

    /// At most one live NAT gateway per subnet and one live interface endpoint per (VPC,
    /// service) of the stack, at every instant; nothing of another stack changes; no Elastic
    /// IP is released or taken from what it was associated with.
    pub fn check(&mut self, v: &mut Vec<String>) {
        let mut nats: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for n in self.nats.values() {
            if n.live() && !self.protected.nats.contains_key(&n.id) {
                nats.entry(n.subnet.as_str())
                    .or_default()
                    .push(format!("{} {}", n.id, n.state));
            }
        }
        let mut fresh = Vec::new();
        for (subnet, ids) in nats {
            if ids.len() > 1 && !self.reported.contains(&format!("nat:{subnet}")) {
                fresh.push(format!("nat:{subnet}"));
                v.push(format!(
                    "{} live NAT gateways in {subnet} at once: {}",
                    ids.len(),
                    ids.join(", ")
                ));
            }
        }
        let mut endpoints: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
        for e in self.endpoints.values() {
            if e.kind == "Interface" && e.live() && !self.protected.endpoints.contains(&e.id) {
                endpoints
                    .entry((e.vpc.as_str(), e.service.as_str()))
                    .or_default()
                    .push(format!("{} {}", e.id, e.state));
            }
        }
        for ((vpc, service), ids) in endpoints {
            let key = format!("vpce:{vpc}/{service}");
            if ids.len() > 1 && !self.reported.contains(&key) {
                fresh.push(key);
                v.push(format!(
                    "{} live interface endpoints for {service} in {vpc} at once: {}",
                    ids.len(),
                    ids.join(", ")
                ));
            }
        }
        self.reported.extend(fresh);

        for (id, (subnet, allocation)) in &self.protected.nats {
            let same = self.nats.get(id).is_some_and(|n| {
                n.state == "available" && &n.subnet == subnet && &n.allocation_id == allocation
            });
            if !same {
                v.push(format!("foreign NAT gateway {id} in {subnet} was touched"));
            }
        }
        for id in &self.protected.endpoints {
            if self
                .endpoints
                .get(id)
                .is_none_or(|e| e.state != "available")
            {
                v.push(format!("foreign endpoint {id} was touched"));
            }
        }
        for (table, was) in &self.protected.tables {
            let now = self.route_tables.get(table).map(table_targets);
            if now.as_ref() != Some(was) {
                v.push(format!(
                    "foreign route table {table} was changed: {was:?} -> {now:?}"
                ));
            }
        }
        for ((table, destination), was) in &self.protected.routes {
            let now = self.route(table, destination).map(|r| &r.target);
            if now != Some(was) {
                v.push(format!(
                    "foreign route {table} {destination} was changed: it targeted {was}, now {}",
                    now.map_or("nothing".to_string(), ToString::to_string)
                ));
            }
        }
        for (allocation, was) in &self.protected.eips {
            match self.eips.get(allocation) {
                None => v.push(format!("Elastic IP {allocation} was released")),
                Some(e) => {
                    if let Some(was) = was
                        && e.association.as_ref() != Some(was)
                    {
                        v.push(format!(
                            "Elastic IP {allocation} was disassociated from {was}"
                        ));
                    }
                }
            }
        }
    }

    /// How the network differs from `desired` for a stack whose desired spec is `spec` and
    /// whose manifest remembers `recorded` (the spec wins).
    pub fn differs_from(
        &self,
        desired: DesiredState,
        on_pause: NetworkOnPause,
        spec: Option<&EphemeralSpec>,
        recorded: &EphemeralSpec,
    ) -> Vec<String> {
        let mut d = Vec::new();
        if !self.enabled {
            return d;
        }
        let mut nats: BTreeMap<&str, &NatGatewaySpec> = BTreeMap::new();
        for s in recorded
            .nat_gateways
            .iter()
            .chain(spec.iter().flat_map(|s| &s.nat_gateways))
        {
            nats.insert(&s.subnet_id, s);
        }
        let mut endpoints: BTreeMap<&str, &VpcEndpointSpec> = BTreeMap::new();
        for s in recorded
            .vpc_endpoints
            .iter()
            .chain(spec.iter().flat_map(|s| &s.vpc_endpoints))
        {
            endpoints.insert(&s.service_name, s);
        }
        // Exactly the spec's: a live NAT gateway or endpoint of the stack that a spec named,
        // and that no spec or record names any more (Terraform dropped it), must be gone. (One
        // no spec ever named is paused and resumed as the stack's, found by its tags.)
        for n in self.nats.values() {
            if n.live()
                && self.of_stack(&n.tags)
                && !nats.contains_key(n.subnet.as_str())
                && self.dropped.contains(&format!("nat:{}", n.subnet))
            {
                d.push(format!(
                    "nat:{} ({}) exists but no spec names it",
                    n.subnet, n.id
                ));
            }
        }
        for e in self.endpoints.values() {
            if e.kind == "Interface"
                && e.live()
                && self.of_stack(&e.tags)
                && endpoints
                    .get(e.service.as_str())
                    .is_none_or(|w| w.vpc_id != e.vpc)
                && self
                    .dropped
                    .contains(&format!("vpce:{}/{}", e.vpc, e.service))
            {
                d.push(format!(
                    "vpce:{} ({}) exists but no spec names it",
                    e.service, e.id
                ));
            }
        }
        let running = desired == DesiredState::Running;
        for (subnet, want) in nats {
            let live = self.live_nats(subnet);
            if running {
                let [n] = live[..] else {
                    if live.is_empty() {
                        d.push(format!("nat:{subnet} does not exist"));
                    } else {
                        d.push(format!("nat:{subnet}: {} live NAT gateways", live.len()));
                    }
                    continue;
                };
                if n.state != "available" {
                    d.push(format!("nat:{subnet} ({}) is {}", n.id, n.state));
                }
                let diff = nat_differences(&self.nat_obs(n).spec, want);
                if !diff.fixed.is_empty() {
                    d.push(format!(
                        "nat:{subnet} ({}) differs from its spec in {}",
                        n.id,
                        diff.fixed.join(", ")
                    ));
                }
                for r in &want.routes {
                    match self.route(&r.route_table_id, r.destination()) {
                        None => d.push(format!("route:{} does not exist", r.label())),
                        Some(route) => {
                            let state = self.route_state(route);
                            if route.target != Target::Nat(n.id.clone()) || state != "active" {
                                d.push(format!(
                                    "route:{} targets {} ({state}), not {}, the live NAT gateway of {subnet}",
                                    r.label(),
                                    route.target,
                                    n.id
                                ));
                            }
                        }
                    }
                }
            } else if on_pause == NetworkOnPause::Delete {
                let there: Vec<&SimNat> = self
                    .nats
                    .values()
                    .filter(|n| {
                        n.subnet == subnet
                            && n.state != "deleted"
                            && !self.protected.nats.contains_key(&n.id)
                    })
                    .collect();
                for n in there {
                    d.push(format!("nat:{subnet} ({}) exists ({})", n.id, n.state));
                }
                if let Some(a) = &want.allocation_id
                    && !self.eips.contains_key(a)
                {
                    d.push(format!(
                        "nat:{subnet}: its Elastic IP {a} is no longer allocated"
                    ));
                }
            }
        }
        for (service, want) in endpoints {
            let live = self.live_endpoints(&want.vpc_id, service);
            if running {
                let [e] = live[..] else {
                    if live.is_empty() {
                        d.push(format!("vpce:{service} does not exist"));
                    } else {
                        d.push(format!(
                            "vpce:{service}: {} live interface endpoints",
                            live.len()
                        ));
                    }
                    continue;
                };
                if e.state != "available" {
                    d.push(format!("vpce:{service} ({}) is {}", e.id, e.state));
                }
                let diff = endpoint_differences(&e.obs().spec, want);
                if !diff.fixed.is_empty() {
                    d.push(format!(
                        "vpce:{service} ({}) differs from its spec in {}",
                        e.id,
                        diff.fixed.join(", ")
                    ));
                }
            } else if on_pause == NetworkOnPause::Delete {
                for e in self.endpoints.values().filter(|e| {
                    e.kind == "Interface"
                        && e.vpc == want.vpc_id
                        && e.service == service
                        && e.state != "deleted"
                        && !self.protected.endpoints.contains(&e.id)
                }) {
                    d.push(format!("vpce:{service} ({}) exists ({})", e.id, e.state));
                }
            }
        }
        d
    }
}

fn table_targets(t: &SimRouteTable) -> BTreeMap<String, Target> {
    t.routes
        .iter()
        .map(|(d, r)| (d.clone(), r.target.clone()))
        .collect()
}

/// Durations.
pub fn nat_pending_ms(w: &mut World) -> i64 {
    w.rng.range(MINUTE, 3 * MINUTE)
}
pub fn nat_deleting_ms(w: &mut World) -> i64 {
    w.rng.range(45_000, 90_000)
}
pub fn endpoint_pending_ms(w: &mut World) -> i64 {
    w.rng.range(MINUTE, 2 * MINUTE)
}
pub fn endpoint_deleting_ms(w: &mut World) -> i64 {
    w.rng.range(40_000, 90_000)
}
fn describe_lag(w: &mut World) -> i64 {
    let (lo, hi) = w.eph.net.describe_lag_ms;
    if hi <= 0 { 0 } else { w.rng.range(lo, hi) }
}

// ---- the calls' effects, shared by the simulated cloud and the tests ----

/// CreateNatGateway with a client token. Answers the state of the NAT gateway the call
/// answers with (the one made now, or the one the token made first).
pub(crate) fn create_nat(
    w: &mut World,
    spec: &NatGatewaySpec,
    token: &str,
) -> CloudResult<Created> {
    const OP: &str = "ec2:CreateNatGateway";
    let resource = format!("nat:{}", spec.subnet_id);
    let request = NatRequest::of(spec);
    let now = w.now;
    let remembered = !w.eph.net.ignore_client_tokens;
    if let Some(n) = w
        .eph
        .net
        .nats
        .values()
        .filter(|_| remembered)
        .find(|n| n.token.as_ref().is_some_and(|(t, _)| t == token))
    {
        let (_, first) = n.token.as_ref().expect("matched above");
        if *first != request {
            return Err(rejected(
                OP,
                &resource,
                "IdempotentParameterMismatch",
                "The client token you have provided is associated with a resource that is already created with different parameters",
            ));
        }
        let line = format!(
            "ec2:CreateNatGateway with token {token} answers with {} ({})",
            n.id, n.state
        );
        let created = Created {
            id: n.id.clone(),
            state: n.state.clone(),
        };
        w.log(line);
        return Ok(created);
    }
    if !w.eph.subnets.contains(&spec.subnet_id) {
        return Err(rejected(
            OP,
            &resource,
            "InvalidSubnetID.NotFound",
            &format!("The subnet ID '{}' does not exist", spec.subnet_id),
        ));
    }
    match (spec.connectivity_type, &spec.allocation_id) {
        (NatConnectivity::Public, None) => {
            return Err(rejected(
                OP,
                &resource,
                "MissingParameter",
                "AllocationId is required for a public NAT gateway",
            ));
        }
        (NatConnectivity::Private, Some(_)) => {
            return Err(rejected(
                OP,
                &resource,
                "InvalidParameterCombination",
                "AllocationId cannot be given for a private NAT gateway",
            ));
        }
        (_, Some(a)) => match w.eph.net.eips.get(a) {
            None => {
                return Err(rejected(
                    OP,
                    &resource,
                    "InvalidAllocationID.NotFound",
                    &format!("The allocation ID '{a}' does not exist"),
                ));
            }
            Some(e) if e.association.is_some() => {
                return Err(rejected(
                    OP,
                    &resource,
                    "Resource.AlreadyAssociated",
                    &format!("Elastic IP address [{a}] is already associated"),
                ));
            }
            Some(_) => {}
        },
        (_, None) => {}
    }
    let id = w.eph.net.next_id();
    let took = nat_pending_ms(w);
    let lag = describe_lag(w);
    let nat_id = format!("nat-0{id:016x}");
    if let Some(a) = &spec.allocation_id
        && let Some(e) = w.eph.net.eips.get_mut(a)
    {
        e.association = Some(nat_id.clone());
    }
    w.log(format!(
        "ec2:CreateNatGateway with token {token} makes {nat_id}"
    ));
    w.eph.net.nats.insert(
        nat_id.clone(),
        SimNat {
            id: nat_id.clone(),
            subnet: spec.subnet_id.clone(),
            connectivity: spec.connectivity_type,
            allocation_id: spec.allocation_id.clone(),
            private_ip: spec
                .private_ip_address
                .clone()
                .unwrap_or_else(|| format!("10.0.{}.{}", 100 + id % 100, 10 + id % 200)),
            tags: spec.tags.clone(),
            state: "pending".into(),
            until: now + took,
            visible_at: now + lag,
            token: Some((token.to_string(), request)),
        },
    );
    Ok(Created {
        id: nat_id,
        state: "pending".into(),
    })
}

/// DeleteNatGateway: `deleting`, then `deleted` about a minute later. Gone or going already:
/// success (the adapter takes `NatGatewayNotFound` as done).
pub(crate) fn delete_nat(w: &mut World, id: &str, owner: &str) -> CloudResult<()> {
    if w.eph.net.protected.nats.contains_key(id) {
        w.violation(format!(
            "{owner} called ec2:DeleteNatGateway on foreign NAT gateway {id}"
        ));
    }
    let took = nat_deleting_ms(w);
    let now = w.now;
    let Some(n) = w.eph.net.nats.get_mut(id) else {
        return Ok(());
    };
    if n.live() {
        n.state = "deleting".into();
        n.until = now + took;
    }
    Ok(())
}

/// ReplaceRoute (`create`: CreateRoute) of one route to `nat`.
pub(crate) fn set_route(
    w: &mut World,
    r: &NatRouteSpec,
    nat: &str,
    create: bool,
) -> CloudResult<()> {
    let op = if create {
        "ec2:CreateRoute"
    } else {
        "ec2:ReplaceRoute"
    };
    let resource = format!("route:{}", r.label());
    let net = &mut w.eph.net;
    if !net.route_tables.contains_key(&r.route_table_id) {
        return Err(rejected(
            op,
            &resource,
            "InvalidRouteTableID.NotFound",
            &format!("The routeTable ID '{}' does not exist", r.route_table_id),
        ));
    }
    if !net.nats.get(nat).is_some_and(SimNat::live) {
        return Err(not_found(op, nat, "InvalidNatGatewayID.NotFound"));
    }
    let destination = r.destination().to_string();
    let exists = net.route(&r.route_table_id, &destination).is_some();
    match (create, exists) {
        (false, false) => Err(rejected(
            op,
            &resource,
            "InvalidRoute.NotFound",
            &format!(
                "no route with destination-cidr-block {destination} in route table {}",
                r.route_table_id
            ),
        )),
        (true, true) => Err(rejected(
            op,
            &resource,
            "RouteAlreadyExists",
            &format!("The route identified by {destination} already exists."),
        )),
        _ if net.skip_route_changes => Ok(()),
        _ => {
            let table = net
                .route_tables
                .get_mut(&r.route_table_id)
                .expect("checked above");
            table.routes.insert(
                destination,
                SimRoute {
                    spec: r.clone(),
                    target: Target::Nat(nat.to_string()),
                },
            );
            Ok(())
        }
    }
}

/// CreateVpcEndpoint (interface) with a client token. Answers the state of the endpoint the
/// call answers with.
pub(crate) fn create_endpoint(
    w: &mut World,
    spec: &VpcEndpointSpec,
    token: &str,
) -> CloudResult<Created> {
    const OP: &str = "ec2:CreateVpcEndpoint";
    let resource = format!("vpce:{}", spec.service_name);
    let now = w.now;
    let remembered = !w.eph.net.ignore_client_tokens;
    if let Some(e) = w
        .eph
        .net
        .endpoints
        .values()
        .filter(|_| remembered)
        .find(|e| e.token.as_ref().is_some_and(|(t, _)| t == token))
    {
        let (_, first) = e.token.as_ref().expect("matched above");
        if first != spec {
            return Err(rejected(
                OP,
                &resource,
                "IdempotentParameterMismatch",
                "The client token you have provided is associated with a resource that is already created with different parameters",
            ));
        }
        let line = format!(
            "ec2:CreateVpcEndpoint with token {token} answers with {} ({})",
            e.id, e.state
        );
        let created = Created {
            id: e.id.clone(),
            state: e.state.clone(),
        };
        w.log(line);
        return Ok(created);
    }
    if !w.eph.net.vpcs.contains(&spec.vpc_id) {
        return Err(rejected(
            OP,
            &resource,
            "InvalidVpcId.NotFound",
            &format!("The Vpc Id '{}' does not exist", spec.vpc_id),
        ));
    }
    if let Some(s) = spec.subnet_ids.iter().find(|s| !w.eph.subnets.contains(*s)) {
        return Err(rejected(
            OP,
            &resource,
            "InvalidSubnetId.NotFound",
            &format!("The subnet ID '{s}' does not exist"),
        ));
    }
    if let Some(g) = spec
        .security_group_ids
        .iter()
        .find(|g| !w.eph.security_groups.contains(*g))
    {
        return Err(rejected(
            OP,
            &resource,
            "InvalidGroupId.NotFound",
            &format!("The security group '{g}' does not exist"),
        ));
    }
    if spec.private_dns_enabled
        && w.eph.net.endpoints.values().any(|e| {
            e.kind == "Interface"
                && e.vpc == spec.vpc_id
                && e.service == spec.service_name
                && e.private_dns
                && e.state != "deleted"
        })
    {
        return Err(rejected(
            OP,
            &resource,
            "InvalidParameter",
            &format!(
                "private-dns-enabled cannot be set because there is already a conflicting DNS domain for {} in the VPC {}",
                spec.service_name, spec.vpc_id
            ),
        ));
    }
    let id = w.eph.net.next_id();
    let took = endpoint_pending_ms(w);
    let lag = describe_lag(w);
    let endpoint_id = format!("vpce-0{id:016x}");
    let ip = spec.ip_address_type;
    w.log(format!(
        "ec2:CreateVpcEndpoint with token {token} makes {endpoint_id}"
    ));
    w.eph.net.endpoints.insert(
        endpoint_id.clone(),
        SimEndpoint {
            id: endpoint_id.clone(),
            kind: "Interface",
            service: spec.service_name.clone(),
            vpc: spec.vpc_id.clone(),
            subnets: spec.subnet_ids.clone(),
            groups: spec.security_group_ids.clone(),
            private_dns: spec.private_dns_enabled,
            policy: spec.policy.clone().unwrap_or_else(full_access_policy),
            ip_address_type: ip,
            dns_options: DnsOptionsSpec {
                dns_record_ip_type: Some(
                    spec.dns_options
                        .dns_record_ip_type
                        .clone()
                        .unwrap_or_else(|| default_dns_record_ip_type(ip).to_string()),
                ),
                private_dns_only_for_inbound_resolver_endpoint: Some(
                    spec.dns_options
                        .private_dns_only_for_inbound_resolver_endpoint
                        .unwrap_or(false),
                ),
            },
            tags: spec.tags.clone(),
            state: "pending".into(),
            until: now + took,
            visible_at: now + lag,
            token: Some((token.to_string(), spec.clone())),
        },
    );
    Ok(Created {
        id: endpoint_id,
        state: "pending".into(),
    })
}

/// DeleteVpcEndpoints of one endpoint: `deleting`, then `deleted`. Gone or going already:
/// success.
pub(crate) fn delete_endpoint(w: &mut World, id: &str, owner: &str) -> CloudResult<()> {
    if w.eph.net.protected.endpoints.contains(id) {
        w.violation(format!(
            "{owner} called ec2:DeleteVpcEndpoints on foreign endpoint {id}"
        ));
    }
    let took = endpoint_deleting_ms(w);
    let now = w.now;
    let Some(e) = w.eph.net.endpoints.get_mut(id) else {
        return Ok(());
    };
    if e.live() {
        e.state = "deleting".into();
        e.until = now + took;
    }
    Ok(())
}
