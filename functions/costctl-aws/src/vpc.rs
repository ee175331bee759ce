//! The network part of the ephemeral tier on EC2: NAT gateways (found by tags or subnet, with
//! the routes that point at them), the routes themselves, and interface VPC endpoints.
//!
//! Creates carry a client token (EC2's idempotency: a create repeated with the same token
//! answers with what the first one made), so a create whose answer was lost is sent again
//! safely. Gateway endpoints and endpoints a service manages for itself (`RequesterManaged`,
//! e.g. MSK's) are never captured, so never deleted.

use crate::aws::AwsCloud;
use crate::cloud::{Created, create_with_token, fence, system_now_ms};
use crate::error::{CloudError, CloudResult, FromSdk};
use aws_sdk_ec2::types::{
    ConnectivityType, DnsOptionsSpecification, DnsRecordIpType, Filter, IpAddressType, NatGateway,
    ResourceType, Route, Tag, TagSpecification, VpcEndpoint, VpcEndpointType,
};
use costctl_core::Selector;
use costctl_core::network::is_default_endpoint_policy;
use costctl_core::observation::{EndpointObs, NatObs, RouteObs, route_key};
use costctl_core::spec::{
    DnsOptionsSpec, EndpointIpAddressType, NatConnectivity, NatGatewaySpec, NatRouteSpec,
    VpcEndpointSpec,
};
use std::collections::{BTreeMap, BTreeSet};

/// At most this many values in one EC2 filter (EC2 allows 200).
const FILTER_VALUES: usize = 200;

fn filter(name: &str, values: impl IntoIterator<Item = String>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().collect()))
        .build()
}

/// `tag:KEY` filters of a tag selector: EC2 ANDs filters, so a resource matches only with
/// every tag.
fn tag_filters(selector: &Selector) -> Option<Vec<Filter>> {
    match selector {
        Selector::Tags(tags) if !tags.is_empty() => Some(
            tags.iter()
                .map(|(k, v)| filter(&format!("tag:{k}"), [v.clone()]))
                .collect(),
        ),
        _ => None,
    }
}

fn tags_of(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .filter(|(k, _)| !k.starts_with("aws:"))
        .collect()
}

fn tag_spec(kind: ResourceType, tags: &BTreeMap<String, String>) -> Option<TagSpecification> {
    if tags.is_empty() {
        return None;
    }
    Some(
        TagSpecification::builder()
            .resource_type(kind)
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| Tag::builder().key(k).value(v).build())
                    .collect(),
            ))
            .build(),
    )
}

/// Whether `have` carries every tag of `want`.
fn carries(have: &BTreeMap<String, String>, want: &BTreeMap<String, String>) -> bool {
    want.iter().all(|(k, v)| have.get(k) == Some(v))
}

impl AwsCloud {
    async fn nat_describe(&self, filters: Vec<Filter>) -> CloudResult<Vec<NatGateway>> {
        self.ec2
            .describe_nat_gateways()
            .set_filter(Some(filters))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| CloudError::from_sdk("ec2:DescribeNatGateways", "*", e))
    }

    /// Live NAT gateways carrying the selector's tags, plus the live ones in `subnets`.
    pub(crate) async fn nat_find(
        &self,
        selector: &Selector,
        subnets: &[String],
    ) -> CloudResult<Vec<NatObs>> {
        let live = filter(
            "state",
            ["pending", "available", "deleting", "failed"].map(String::from),
        );
        // One query by tags and one per chunk of subnets, sent together: none waits for another.
        let mut queries: Vec<Vec<Filter>> = Vec::new();
        if let Some(mut tags) = tag_filters(selector) {
            tags.push(live.clone());
            queries.push(tags);
        }
        for chunk in subnets.chunks(FILTER_VALUES) {
            queries.push(vec![
                filter("subnet-id", chunk.iter().cloned()),
                live.clone(),
            ]);
        }
        let answers =
            futures::future::try_join_all(queries.into_iter().map(|f| self.nat_describe(f)))
                .await?;
        let found: BTreeMap<String, NatGateway> = answers
            .into_iter()
            .flatten()
            .map(|n| (n.nat_gateway_id().unwrap_or_default().to_string(), n))
            .collect();
        if found.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = found.keys().cloned().collect();
        let mut routes: BTreeMap<String, Vec<NatRouteSpec>> = BTreeMap::new();
        for chunk in ids.chunks(FILTER_VALUES) {
            for table in self
                .route_tables(vec![filter("route.nat-gateway-id", chunk.iter().cloned())])
                .await?
            {
                let rtb = table.route_table_id().unwrap_or_default();
                for r in table.routes() {
                    if let Some(nat) = r.nat_gateway_id() {
                        routes
                            .entry(nat.to_string())
                            .or_default()
                            .push(route_spec(rtb, r));
                    }
                }
            }
        }
        Ok(found
            .into_iter()
            .map(|(id, n)| capture_nat(id.clone(), &n, routes.remove(&id).unwrap_or_default()))
            .collect())
    }

    async fn route_tables(
        &self,
        filters: Vec<Filter>,
    ) -> CloudResult<Vec<aws_sdk_ec2::types::RouteTable>> {
        self.ec2
            .describe_route_tables()
            .set_filters(Some(filters))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| CloudError::from_sdk("ec2:DescribeRouteTables", "*", e))
    }

    /// Where each `(route table, destination)` sends traffic now. A filter, not IDs, so that a
    /// route table that is gone is no error.
    pub(crate) async fn routes_describe(
        &self,
        routes: &[(String, String)],
    ) -> CloudResult<BTreeMap<String, RouteObs>> {
        let tables: BTreeSet<String> = routes.iter().map(|(t, _)| t.clone()).collect();
        let tables: Vec<String> = tables.into_iter().collect();
        let wanted: BTreeSet<String> = routes.iter().map(|(t, d)| route_key(t, d)).collect();
        let mut out = BTreeMap::new();
        for chunk in tables.chunks(FILTER_VALUES) {
            for table in self
                .route_tables(vec![filter("route-table-id", chunk.iter().cloned())])
                .await?
            {
                let rtb = table.route_table_id().unwrap_or_default();
                for r in table.routes() {
                    let spec = route_spec(rtb, r);
                    let key = route_key(rtb, spec.destination());
                    if wanted.contains(&key) {
                        out.insert(key, route_obs(r));
                    }
                }
            }
        }
        Ok(out)
    }

    pub(crate) async fn nat_create(
        &self,
        spec: &NatGatewaySpec,
        token: &str,
        not_after_ms: i64,
    ) -> CloudResult<()> {
        let resource = format!("nat:{}", spec.subnet_id);
        // Already there (a repeated step, or a create whose answer was lost): nothing to do.
        let live = self
            .nat_describe(vec![
                filter("subnet-id", [spec.subnet_id.clone()]),
                filter("state", ["pending", "available"].map(String::from)),
            ])
            .await?;
        if live.iter().any(|n| carries(&tags_of(n.tags()), &spec.tags)) {
            return Ok(());
        }
        let res = resource.as_str();
        let send = |token: String| async move {
            let out = self
                .ec2
                .create_nat_gateway()
                .subnet_id(&spec.subnet_id)
                .connectivity_type(match spec.connectivity_type {
                    NatConnectivity::Public => ConnectivityType::Public,
                    NatConnectivity::Private => ConnectivityType::Private,
                })
                .set_allocation_id(spec.allocation_id.clone())
                .set_private_ip_address(spec.private_ip_address.clone())
                .set_tag_specifications(
                    tag_spec(ResourceType::Natgateway, &spec.tags).map(|t| vec![t]),
                )
                .client_token(token)
                .send()
                .await
                .map_err(|e| CloudError::from_sdk("ec2:CreateNatGateway", res, e))?;
            let nat = out.nat_gateway();
            Ok(Created::of(
                nat.and_then(|n| n.nat_gateway_id()),
                nat.and_then(|n| n.state()).map(|s| s.as_str()),
            ))
        };
        create_with_token(
            "ec2:CreateNatGateway",
            &resource,
            token,
            not_after_ms,
            system_now_ms,
            send,
        )
        .await
    }

    pub(crate) async fn nat_delete(&self, id: &str) -> CloudResult<()> {
        match self
            .ec2
            .delete_nat_gateway()
            .nat_gateway_id(id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let err = CloudError::from_sdk("ec2:DeleteNatGateway", id, e);
                if err.is_not_found() { Ok(()) } else { Err(err) }
            }
        }
    }

    /// ReplaceRoute of each route to `nat`, CreateRoute where the route is gone.
    pub(crate) async fn routes_point(
        &self,
        routes: &[NatRouteSpec],
        nat: &str,
        not_after_ms: i64,
    ) -> CloudResult<()> {
        for r in routes {
            let resource = format!("route:{}", r.label());
            fence(system_now_ms(), not_after_ms, "ec2:ReplaceRoute", &resource)?;
            let replaced = self
                .ec2
                .replace_route()
                .route_table_id(&r.route_table_id)
                .set_destination_cidr_block(r.destination_cidr_block.clone())
                .set_destination_ipv6_cidr_block(r.destination_ipv6_cidr_block.clone())
                .set_destination_prefix_list_id(r.destination_prefix_list_id.clone())
                .nat_gateway_id(nat)
                .send()
                .await
                .map_err(|e| CloudError::from_sdk("ec2:ReplaceRoute", &resource, e));
            match replaced {
                Ok(_) => {}
                // No such route (EC2 answers InvalidParameterValue, "There is no route defined
                // for …", as moto checked against AWS): create it.
                Err(e)
                    if matches!(
                        e.code(),
                        Some("InvalidParameterValue" | "InvalidRoute.NotFound")
                    ) =>
                {
                    fence(system_now_ms(), not_after_ms, "ec2:CreateRoute", &resource)?;
                    let created = self
                        .ec2
                        .create_route()
                        .route_table_id(&r.route_table_id)
                        .set_destination_cidr_block(r.destination_cidr_block.clone())
                        .set_destination_ipv6_cidr_block(r.destination_ipv6_cidr_block.clone())
                        .set_destination_prefix_list_id(r.destination_prefix_list_id.clone())
                        .nat_gateway_id(nat)
                        .send()
                        .await
                        .map_err(|e| CloudError::from_sdk("ec2:CreateRoute", &resource, e));
                    match created {
                        Ok(_) => {}
                        // The route exists after all: the replace was refused for another
                        // reason, which is the one to report.
                        Err(c) if c.code() == Some("RouteAlreadyExists") => return Err(e),
                        Err(c) => return Err(c),
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    async fn endpoint_describe(&self, filters: Vec<Filter>) -> CloudResult<Vec<VpcEndpoint>> {
        self.ec2
            .describe_vpc_endpoints()
            .set_filters(Some(filters))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| CloudError::from_sdk("ec2:DescribeVpcEndpoints", "*", e))
    }

    /// Interface endpoints carrying the selector's tags, plus those of the named `(vpc,
    /// service)` pairs; never a gateway endpoint, never one a service manages for itself.
    pub(crate) async fn endpoint_find(
        &self,
        selector: &Selector,
        services: &[(String, String)],
    ) -> CloudResult<Vec<EndpointObs>> {
        let interface = filter("vpc-endpoint-type", ["Interface".to_string()]);
        // One query by tags and one per VPC and chunk of services, sent together.
        let mut queries: Vec<Vec<Filter>> = Vec::new();
        if let Some(mut tags) = tag_filters(selector) {
            tags.push(interface.clone());
            queries.push(tags);
        }
        let mut by_vpc: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (vpc, service) in services {
            by_vpc.entry(vpc).or_default().push(service.clone());
        }
        for (vpc, names) in by_vpc {
            for chunk in names.chunks(FILTER_VALUES) {
                queries.push(vec![
                    filter("vpc-id", [vpc.to_string()]),
                    filter("service-name", chunk.iter().cloned()),
                    interface.clone(),
                ]);
            }
        }
        let answers =
            futures::future::try_join_all(queries.into_iter().map(|f| self.endpoint_describe(f)))
                .await?;
        let found: BTreeMap<String, VpcEndpoint> = answers
            .into_iter()
            .flatten()
            .map(|e| (e.vpc_endpoint_id().unwrap_or_default().to_string(), e))
            .collect();
        Ok(found
            .into_values()
            .filter(|e| {
                e.vpc_endpoint_type() == Some(&VpcEndpointType::Interface)
                    && !e.requester_managed().unwrap_or(false)
                    && !matches!(e.state().map(|s| s.as_str()), Some("deleted" | "Deleted"))
            })
            .map(|e| {
                let region = self.ec2.config().region().map(|r| r.to_string());
                capture_endpoint(&e, region.as_deref().unwrap_or_default())
            })
            .collect())
    }

    pub(crate) async fn endpoint_create(
        &self,
        spec: &VpcEndpointSpec,
        token: &str,
        not_after_ms: i64,
    ) -> CloudResult<()> {
        let resource = format!("vpce:{}", spec.service_name);
        let existing = self
            .endpoint_describe(vec![
                filter("vpc-id", [spec.vpc_id.clone()]),
                filter("service-name", [spec.service_name.clone()]),
                filter("vpc-endpoint-type", ["Interface".to_string()]),
            ])
            .await?;
        if existing.iter().any(|e| {
            !matches!(
                e.state()
                    .map(|s| s.as_str().to_ascii_lowercase())
                    .as_deref(),
                Some("deleting" | "deleted" | "failed" | "rejected" | "expired")
            ) && carries(&tags_of(e.tags()), &spec.tags)
        }) {
            return Ok(());
        }
        let policy = spec
            .policy
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| CloudError::refused(&resource, format!("policy: {e}")))?;
        let dns = (!spec.dns_options.is_default()).then(|| {
            DnsOptionsSpecification::builder()
                .set_dns_record_ip_type(
                    spec.dns_options
                        .dns_record_ip_type
                        .as_deref()
                        .map(DnsRecordIpType::from),
                )
                .set_private_dns_only_for_inbound_resolver_endpoint(
                    spec.dns_options
                        .private_dns_only_for_inbound_resolver_endpoint,
                )
                .build()
        });
        let res = resource.as_str();
        let send = |token: String| {
            let (policy, dns) = (policy.clone(), dns.clone());
            async move {
                let out = self
                    .ec2
                    .create_vpc_endpoint()
                    .vpc_endpoint_type(VpcEndpointType::Interface)
                    .vpc_id(&spec.vpc_id)
                    .service_name(&spec.service_name)
                    .set_subnet_ids(Some(spec.subnet_ids.clone()))
                    .set_security_group_ids(Some(spec.security_group_ids.clone()))
                    .private_dns_enabled(spec.private_dns_enabled)
                    .set_policy_document(policy)
                    .ip_address_type(IpAddressType::from(spec.ip_address_type.as_str()))
                    .set_dns_options(dns)
                    .set_tag_specifications(
                        tag_spec(ResourceType::VpcEndpoint, &spec.tags).map(|t| vec![t]),
                    )
                    .client_token(token)
                    .send()
                    .await
                    .map_err(|e| CloudError::from_sdk("ec2:CreateVpcEndpoint", res, e))?;
                let endpoint = out.vpc_endpoint();
                Ok(Created::of(
                    endpoint.and_then(|e| e.vpc_endpoint_id()),
                    endpoint.and_then(|e| e.state()).map(|s| s.as_str()),
                ))
            }
        };
        create_with_token(
            "ec2:CreateVpcEndpoint",
            &resource,
            token,
            not_after_ms,
            system_now_ms,
            send,
        )
        .await
    }

    pub(crate) async fn endpoint_delete(&self, id: &str) -> CloudResult<()> {
        let out = self
            .ec2
            .delete_vpc_endpoints()
            .vpc_endpoint_ids(id)
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("ec2:DeleteVpcEndpoints", id, e))?;
        // Refusals come back per endpoint, in the answer, not as an error.
        for item in out.unsuccessful() {
            let code = item.error().and_then(|e| e.code()).unwrap_or("Unknown");
            if code.contains("NotFound") {
                continue;
            }
            return Err(CloudError::Rejected {
                operation: "ec2:DeleteVpcEndpoints",
                resource: id.to_string(),
                code: code.to_string(),
                message: item
                    .error()
                    .and_then(|e| e.message())
                    .unwrap_or_default()
                    .to_string(),
            });
        }
        Ok(())
    }

    /// The Elastic IP allocations of `ids` that exist.
    pub(crate) async fn existing_allocations(
        &self,
        ids: &BTreeSet<String>,
    ) -> CloudResult<BTreeSet<String>> {
        if ids.is_empty() {
            return Ok(BTreeSet::new());
        }
        let out = self
            .ec2
            .describe_addresses()
            .filters(filter("allocation-id", ids.iter().cloned()))
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("ec2:DescribeAddresses", "*", e))?;
        Ok(out
            .addresses()
            .iter()
            .filter_map(|a| a.allocation_id().map(str::to_string))
            .collect())
    }

    /// The route tables of `ids` that exist.
    pub(crate) async fn existing_route_tables(
        &self,
        ids: &BTreeSet<String>,
    ) -> CloudResult<BTreeSet<String>> {
        if ids.is_empty() {
            return Ok(BTreeSet::new());
        }
        Ok(self
            .route_tables(vec![filter("route-table-id", ids.iter().cloned())])
            .await?
            .iter()
            .filter_map(|t| t.route_table_id().map(str::to_string))
            .collect())
    }
}

fn route_spec(rtb: &str, r: &Route) -> NatRouteSpec {
    NatRouteSpec {
        route_table_id: rtb.to_string(),
        destination_cidr_block: r.destination_cidr_block().map(str::to_string),
        destination_ipv6_cidr_block: r.destination_ipv6_cidr_block().map(str::to_string),
        destination_prefix_list_id: r.destination_prefix_list_id().map(str::to_string),
    }
}

fn route_obs(r: &Route) -> RouteObs {
    let other = [
        r.gateway_id(),
        r.transit_gateway_id(),
        r.network_interface_id(),
        r.vpc_peering_connection_id(),
        r.egress_only_internet_gateway_id(),
        r.instance_id(),
        r.local_gateway_id(),
        r.carrier_gateway_id(),
        r.core_network_arn(),
    ]
    .into_iter()
    .flatten()
    .next()
    .map(str::to_string);
    RouteObs {
        nat_gateway_id: r.nat_gateway_id().map(str::to_string),
        other_target: if r.nat_gateway_id().is_some() {
            None
        } else {
            other.or_else(|| Some("an unknown target".into()))
        },
        state: r.state().map_or("active", |s| s.as_str()).to_string(),
    }
}

/// The spec of a NAT gateway as it is, and what a recreation could not bring back.
fn capture_nat(id: String, n: &NatGateway, routes: Vec<NatRouteSpec>) -> NatObs {
    let connectivity = match n.connectivity_type().map(|c| c.as_str()) {
        Some("private") => NatConnectivity::Private,
        _ => NatConnectivity::Public,
    };
    let addresses = n.nat_gateway_addresses();
    let primary = addresses
        .iter()
        .find(|a| a.is_primary().unwrap_or(false))
        .or_else(|| addresses.first());
    let mut unsupported = Vec::new();
    if addresses.len() > 1 {
        unsupported.push(format!(
            "nat_gateway_addresses: {} addresses (secondary addresses are not recorded; costctl recreates the primary one only)",
            addresses.len()
        ));
    }
    if let Some(mode) = n.availability_mode().filter(|m| m.as_str() != "zonal") {
        unsupported.push(format!(
            "availability_mode: a {} NAT gateway (it spans zones and manages its own addresses) is not recorded in the spec",
            mode.as_str()
        ));
    }
    if !n.attached_appliances().is_empty() {
        unsupported.push(
            "attached_appliances: appliances attached to the gateway are not recorded".into(),
        );
    }
    let state = n.state().map_or("unknown", |s| s.as_str()).to_string();
    let mut routes = routes;
    routes.sort();
    NatObs {
        id,
        state,
        spec: NatGatewaySpec {
            subnet_id: n.subnet_id().unwrap_or_default().to_string(),
            connectivity_type: connectivity,
            allocation_id: match connectivity {
                NatConnectivity::Public => {
                    primary.and_then(|a| a.allocation_id()).map(str::to_string)
                }
                NatConnectivity::Private => None,
            },
            private_ip_address: primary.and_then(|a| a.private_ip()).map(str::to_string),
            tags: tags_of(n.tags()),
            routes,
        },
        of_stack: true,
        unsupported,
        duplicates: Vec::new(),
    }
}

/// The spec of an interface endpoint as it is, and what a recreation could not bring back.
fn capture_endpoint(e: &VpcEndpoint, region: &str) -> EndpointObs {
    let mut unsupported = Vec::new();
    let state = e.state().map_or("unknown", |s| s.as_str()).to_string();
    if state.eq_ignore_ascii_case("pendingAcceptance") {
        unsupported.push(
            "state: the endpoint service needs its owner's acceptance, which a recreated endpoint would wait for again"
                .into(),
        );
    }
    let policy = match e.policy_document() {
        None | Some("") => None,
        Some(doc) => match serde_json::from_str::<serde_json::Value>(doc) {
            Ok(v) if is_default_endpoint_policy(&v) => None,
            Ok(v) => Some(v),
            Err(_) => {
                unsupported.push("policy_document: not a JSON document".into());
                None
            }
        },
    };
    if let Some(r) = e.service_region()
        && !r.is_empty()
        && r != region
    {
        unsupported.push(format!(
            "service_region: a cross-region endpoint (service in {r}) is not recorded in the spec"
        ));
    }
    let ip_address_type = e
        .ip_address_type()
        .and_then(|t| EndpointIpAddressType::parse(t.as_str()))
        .unwrap_or_default();
    let dns_options = e
        .dns_options()
        .map(|d| DnsOptionsSpec {
            dns_record_ip_type: d.dns_record_ip_type().map(|t| t.as_str().to_string()),
            private_dns_only_for_inbound_resolver_endpoint: d
                .private_dns_only_for_inbound_resolver_endpoint(),
        })
        .unwrap_or_default();
    let mut subnet_ids: Vec<String> = e.subnet_ids().to_vec();
    subnet_ids.sort();
    let mut security_group_ids: Vec<String> = e
        .groups()
        .iter()
        .filter_map(|g| g.group_id().map(str::to_string))
        .collect();
    security_group_ids.sort();
    EndpointObs {
        id: e.vpc_endpoint_id().unwrap_or_default().to_string(),
        state: normalise_endpoint_state(&state),
        spec: VpcEndpointSpec {
            service_name: e.service_name().unwrap_or_default().to_string(),
            vpc_id: e.vpc_id().unwrap_or_default().to_string(),
            subnet_ids,
            security_group_ids,
            private_dns_enabled: e.private_dns_enabled().unwrap_or(false),
            policy,
            ip_address_type,
            dns_options,
            tags: tags_of(e.tags()),
        },
        of_stack: true,
        unsupported,
        duplicates: Vec::new(),
    }
}

/// EC2 spells endpoint states with a capital (`Available`, `Pending`, `Deleting`) in some
/// answers and in lower case in others; the planner uses lower case (`pendingAcceptance` keeps
/// its inner capital).
fn normalise_endpoint_state(s: &str) -> String {
    match s.to_ascii_lowercase().as_str() {
        "pendingacceptance" => "pendingAcceptance".into(),
        other => other.to_string(),
    }
}
