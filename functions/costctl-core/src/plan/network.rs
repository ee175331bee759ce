//! The network part of the ephemeral tier: NAT gateways (with the routes that point at them) and
//! interface VPC endpoints.
//!
//! Pause: once the services are drained, each is deleted (the Elastic IP allocations stay) and
//! the pause waits until it is gone, so `paused` means they no longer bill. Resume: they come
//! first — a task in a private subnet pulls its image and reads its secrets through them — so
//! the services' gate includes "every NAT gateway available and its routes pointing at it, every
//! endpoint available". Load balancers and clusters do not need them and are created meanwhile.

use super::{Action, Builder, Goal, NetworkOnPause};
use crate::action::{NetworkGate, client_token};
use crate::manifest::Manifest;
use crate::network::{endpoint_differences, nat_differences};
use crate::observation::{EndpointObs, NatObs, Observation, route_key};
use crate::spec::{EphemeralSpec, NatGatewaySpec, NatRouteSpec, VpcEndpointSpec};
use std::collections::BTreeSet;

impl Builder {
    /// Deletes the stack's NAT gateways and interface endpoints after `drained`, unless the
    /// policy keeps them or a recreation could not be exact (then they are kept, and the note
    /// says which field prevents it).
    pub(super) fn pause_network(&mut self, goal: &Goal, obs: &Observation, drained: &[usize]) {
        let keep = goal.policy.network_on_pause == NetworkOnPause::Keep;
        for (subnet, n) in &obs.nat_gateways {
            let resource = format!("nat:{subnet}");
            if !n.of_stack || n.state == "failed" {
                continue;
            }
            if n.state == "deleting" {
                self.await_nat(subnet, NetworkGate::Deleted, vec![]);
                continue;
            }
            if keep {
                self.note(
                    resource,
                    "kept: policy network_on_pause is `keep` (it keeps costing)".into(),
                );
                continue;
            }
            if !n.unsupported.is_empty() {
                self.kept(
                    resource,
                    format!(
                        "kept, not deleted (it keeps costing): {}",
                        n.unsupported.join("; ")
                    ),
                );
                continue;
            }
            let mut ids = vec![n.id.clone()];
            ids.extend(n.duplicates.iter().cloned());
            let deletes: Vec<usize> = ids
                .into_iter()
                .map(|id| {
                    self.push(
                        Action::DeleteNatGateway {
                            subnet: subnet.clone(),
                            id,
                        },
                        drained.to_vec(),
                    )
                })
                .collect();
            self.await_nat(subnet, NetworkGate::Deleted, deletes);
        }
        for (service, e) in &obs.vpc_endpoints {
            let resource = format!("vpce:{service}");
            if !e.of_stack {
                continue;
            }
            if e.state == "deleting" {
                self.await_endpoint(service, NetworkGate::Deleted, vec![]);
                continue;
            }
            if keep {
                self.note(
                    resource,
                    "kept: policy network_on_pause is `keep` (it keeps costing)".into(),
                );
                continue;
            }
            if !e.unsupported.is_empty() {
                self.kept(
                    resource,
                    format!(
                        "kept, not deleted (it keeps costing): {}",
                        e.unsupported.join("; ")
                    ),
                );
                continue;
            }
            let mut ids = vec![e.id.clone()];
            ids.extend(e.duplicates.iter().cloned());
            let deletes: Vec<usize> = ids
                .into_iter()
                .map(|id| {
                    self.push(
                        Action::DeleteVpcEndpoint {
                            service: service.clone(),
                            id,
                        },
                        drained.to_vec(),
                    )
                })
                .collect();
            self.await_endpoint(service, NetworkGate::Deleted, deletes);
        }
    }

    /// Brings every recorded or given NAT gateway and endpoint back. Returns the steps the
    /// services must wait for.
    pub(super) fn resume_network(
        &mut self,
        generation: u64,
        manifest: &Manifest,
        obs: &Observation,
        spec: Option<&EphemeralSpec>,
    ) -> Vec<usize> {
        let mut ready = Vec::new();
        let given = spec.map(|s| s.nat_gateways.as_slice()).unwrap_or(&[]);
        let mut subnets: BTreeSet<&String> = manifest.nat_gateways.keys().collect();
        subnets.extend(
            obs.nat_gateways
                .iter()
                .filter(|(_, n)| n.of_stack)
                .map(|(s, _)| s),
        );
        subnets.extend(given.iter().map(|n| &n.subnet_id));
        for subnet in subnets {
            let given = given.iter().find(|n| &n.subnet_id == subnet);
            let want = given.or_else(|| manifest.nat_gateways.get(subnet));
            let have = obs.nat_gateways.get(subnet);
            ready.extend(self.resume_nat(generation, subnet, have, want, given.is_some(), obs));
        }

        let given = spec.map(|s| s.vpc_endpoints.as_slice()).unwrap_or(&[]);
        let mut services: BTreeSet<&String> = manifest.vpc_endpoints.keys().collect();
        services.extend(
            obs.vpc_endpoints
                .iter()
                .filter(|(_, e)| e.of_stack)
                .map(|(s, _)| s),
        );
        services.extend(given.iter().map(|e| &e.service_name));
        for service in services {
            let given = given.iter().find(|e| &e.service_name == service);
            let want = given.or_else(|| manifest.vpc_endpoints.get(service));
            let have = obs.vpc_endpoints.get(service);
            ready.extend(self.resume_endpoint(generation, service, have, want, given.is_some()));
        }
        ready
    }

    /// A NAT gateway to "available, with its routes pointing at it".
    fn resume_nat(
        &mut self,
        generation: u64,
        subnet: &String,
        have: Option<&NatObs>,
        want: Option<&NatGatewaySpec>,
        given: bool,
        obs: &Observation,
    ) -> Vec<usize> {
        let resource = format!("nat:{subnet}");
        if let Some(h) = have {
            if !h.of_stack {
                if want.is_some() {
                    self.problem(
                        resource,
                        format!(
                            "NAT gateway {} in this subnet does not carry the stack's tags: costctl does not create a second one next to it (tag it, or delete it)",
                            h.id
                        ),
                    );
                }
                return Vec::new();
            }
            if !h.duplicates.is_empty() {
                self.problem(
                    resource,
                    format!(
                        "more than one NAT gateway of the stack in this subnet ({} and {}): delete the extra one",
                        h.id,
                        h.duplicates.join(", ")
                    ),
                );
                return Vec::new();
            }
        }
        let create = |b: &mut Self, w: &NatGatewaySpec, after: Vec<usize>| {
            b.push(
                Action::CreateNatGateway {
                    spec: Box::new(w.clone()),
                    client_token: client_token(generation, &w.subnet_id),
                },
                after,
            )
        };
        let after: Vec<usize> = match (have.map(|n| n.state.as_str()), want) {
            (None, None) | (Some("deleting"), None) => return Vec::new(),
            (None, Some(w)) => {
                let c = create(self, w, vec![]);
                vec![self.await_nat(subnet, NetworkGate::Available, vec![c])]
            }
            (Some("deleting"), Some(w)) => {
                // Its Elastic IP is free only once it is gone.
                let gone = self.await_nat(subnet, NetworkGate::Deleted, vec![]);
                let c = create(self, w, vec![gone]);
                vec![self.await_nat(subnet, NetworkGate::Available, vec![c])]
            }
            (Some(state @ ("available" | "pending")), _) => {
                if let (Some(h), Some(w)) = (have, want)
                    && given
                {
                    let d = nat_differences(&h.spec, w);
                    if !d.fixed.is_empty() {
                        self.problem(
                            resource,
                            format!(
                                "differs from its spec in {}, which a NAT gateway cannot change: delete the spec (delete-spec) and apply it again to recreate it",
                                d.fixed.join(", ")
                            ),
                        );
                        return Vec::new();
                    }
                    if !d.in_place.is_empty() {
                        self.note(
                            resource.clone(),
                            format!(
                                "differs from its spec in {}; costctl does not change an existing NAT gateway",
                                d.in_place.join(", ")
                            ),
                        );
                    }
                }
                if state == "pending" {
                    vec![self.await_nat(subnet, NetworkGate::Available, vec![])]
                } else {
                    Vec::new()
                }
            }
            (Some(other), _) => {
                self.problem(
                    resource,
                    format!("NAT gateway is {other}: it needs a person (delete it, then resume)"),
                );
                return Vec::new();
            }
        };
        let Some(w) = want else {
            return after;
        };
        // The routes: those that do not send their traffic to the live gateway yet. A route
        // that now targets something else (a transit gateway, another NAT) was changed by a
        // person and is left alone.
        let live = have
            .filter(|h| h.state == "available")
            .map(|h| h.id.as_str());
        let mut pending: Vec<NatRouteSpec> = Vec::new();
        for r in &w.routes {
            match obs
                .routes
                .get(&route_key(&r.route_table_id, r.destination()))
            {
                Some(o) if o.nat_gateway_id.is_some() => {
                    if live.is_none() || o.nat_gateway_id.as_deref() != live || o.state != "active"
                    {
                        pending.push(r.clone());
                    }
                }
                Some(o) => {
                    let target = o.other_target.as_deref().unwrap_or("another target");
                    self.problem(
                        format!("route:{}", r.label()),
                        format!(
                            "the route now targets {target}, not a NAT gateway: costctl leaves it (point it back, or remove it from the spec)"
                        ),
                    );
                }
                None => pending.push(r.clone()),
            }
        }
        if pending.is_empty() {
            return after;
        }
        vec![self.push(
            Action::PointNatRoutes {
                subnet: subnet.clone(),
                routes: pending,
            },
            after,
        )]
    }

    /// An interface endpoint to "available".
    fn resume_endpoint(
        &mut self,
        generation: u64,
        service: &String,
        have: Option<&EndpointObs>,
        want: Option<&VpcEndpointSpec>,
        given: bool,
    ) -> Vec<usize> {
        let resource = format!("vpce:{service}");
        if let Some(h) = have {
            if !h.of_stack {
                if want.is_some() {
                    self.problem(
                        resource,
                        format!(
                            "interface endpoint {} for this service does not carry the stack's tags: costctl does not create a second one next to it",
                            h.id
                        ),
                    );
                }
                return Vec::new();
            }
            if !h.duplicates.is_empty() {
                self.problem(
                    resource,
                    format!(
                        "more than one interface endpoint of the stack for this service ({} and {}): delete the extra one",
                        h.id,
                        h.duplicates.join(", ")
                    ),
                );
                return Vec::new();
            }
        }
        let create = |b: &mut Self, w: &VpcEndpointSpec, after: Vec<usize>| {
            b.push(
                Action::CreateVpcEndpoint {
                    spec: Box::new(w.clone()),
                    client_token: client_token(generation, &w.service_name),
                },
                after,
            )
        };
        match (have.map(|e| e.state.as_str()), want) {
            (None, None) | (Some("deleting"), None) => Vec::new(),
            (None, Some(w)) => {
                let c = create(self, w, vec![]);
                vec![self.await_endpoint(service, NetworkGate::Available, vec![c])]
            }
            (Some("deleting"), Some(w)) => {
                // With private DNS, AWS refuses a second endpoint while the old one exists.
                let gone = self.await_endpoint(service, NetworkGate::Deleted, vec![]);
                let c = create(self, w, vec![gone]);
                vec![self.await_endpoint(service, NetworkGate::Available, vec![c])]
            }
            (Some(state @ ("available" | "pending")), _) => {
                if let (Some(h), Some(w)) = (have, want)
                    && given
                {
                    let d = endpoint_differences(&h.spec, w);
                    if !d.fixed.is_empty() {
                        self.problem(
                            resource,
                            format!(
                                "differs from its spec in {}, which costctl does not change in place: delete the spec (delete-spec) and apply it again to recreate the endpoint",
                                d.fixed.join(", ")
                            ),
                        );
                        return Vec::new();
                    }
                    if !d.in_place.is_empty() {
                        self.note(
                            resource,
                            format!(
                                "differs from its spec in {}; costctl does not change an existing endpoint",
                                d.in_place.join(", ")
                            ),
                        );
                    }
                }
                if state == "pending" {
                    vec![self.await_endpoint(service, NetworkGate::Available, vec![])]
                } else {
                    Vec::new()
                }
            }
            (Some(other), _) => {
                self.problem(
                    resource,
                    format!(
                        "interface endpoint is {other}: it needs a person (delete it, then resume)"
                    ),
                );
                Vec::new()
            }
        }
    }

    fn await_nat(&mut self, subnet: &str, state: NetworkGate, after: Vec<usize>) -> usize {
        self.push(
            Action::AwaitNatGateway {
                subnet: subnet.to_string(),
                state,
            },
            after,
        )
    }

    fn await_endpoint(&mut self, service: &str, state: NetworkGate, after: Vec<usize>) -> usize {
        self.push(
            Action::AwaitVpcEndpoint {
                service: service.to_string(),
                state,
            },
            after,
        )
    }
}
