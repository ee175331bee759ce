//! The network part of the ephemeral tier: NAT gateways (with the routes that point at them) and
//! interface VPC endpoints.
//!
//! Pause: once the services are drained, each is deleted (the Elastic IP allocations stay) and
//! the pause waits until it is gone, so `paused` means they no longer bill. Resume: they come
//! first — a task in a private subnet pulls its image and reads its secrets through them — so
//! the services' gate includes "every NAT gateway available and its routes pointing at it, every
//! endpoint available". Load balancers and clusters do not need them and are created meanwhile.
//!
//! Both kinds follow one life cycle (`pending` → `available` → `deleting` → gone, a successor
//! created only once its predecessor is gone) and the same rules (only the stack's own are
//! touched; one per key), written once in [`Builder::pause_live`] and [`Builder::resume_live`].
//!
//! Creates carry client tokens recorded in the manifest before they are sent (see
//! [`client_token`]): EC2 lists a resource it just made only after a while, so a pass that sees
//! nothing may be looking too early. A resume that sees nothing sends the recorded token again
//! (AWS answers with what it made, or makes it now); a pause that sees nothing waits until EC2
//! would list it ([`CREATE_SETTLE_MS`]) before it calls the stack paused.

use super::{Action, Builder, Goal, NetworkOnPause};
use crate::action::{NetworkGate, client_token};
use crate::ephemeral::Differences;
use crate::manifest::{CREATE_SETTLE_MS, CreateToken, Manifest};
use crate::network::{endpoint_differences, nat_differences};
use crate::observation::{EndpointObs, NatObs, Observation, route_key};
use crate::spec::{EphemeralSpec, NatGatewaySpec, NatRouteSpec, VpcEndpointSpec};
use std::collections::{BTreeMap, BTreeSet};

/// What the planner reads of a NAT gateway or an endpoint as observed.
trait Live {
    /// How reports name the kind.
    const KIND: &'static str;
    fn id(&self) -> &str;
    fn state(&self) -> &str;
    fn of_stack(&self) -> bool;
    fn unsupported(&self) -> &[String];
    fn duplicates(&self) -> &[String];
}

/// Both observation types hold the same fields under the same names.
macro_rules! live {
    ($t:ty, $kind:literal) => {
        impl Live for $t {
            const KIND: &'static str = $kind;
            fn id(&self) -> &str {
                &self.id
            }
            fn state(&self) -> &str {
                &self.state
            }
            fn of_stack(&self) -> bool {
                self.of_stack
            }
            fn unsupported(&self) -> &[String] {
                &self.unsupported
            }
            fn duplicates(&self) -> &[String] {
                &self.duplicates
            }
        }
    };
}
live!(NatObs, "NAT gateway");
live!(EndpointObs, "interface endpoint");

/// How a resume makes one kind: its create (given the token to send) and its gate.
struct Steps<C, G> {
    create: C,
    gate: G,
    /// The token of a first create ([`client_token`]), sent unless one is recorded.
    token: String,
}

/// The create tokens of a resume: those recorded, and those it records now.
struct Tokens<'a> {
    recorded: &'a BTreeMap<String, CreateToken>,
    observed_at_ms: i64,
    fresh: BTreeMap<String, CreateToken>,
}

impl Tokens<'_> {
    /// The token a create of `resource` sends: the recorded one, else `first`. When the create
    /// is sent in this pass (`now`), the token is recorded with the time, ahead of the call.
    fn for_create(&mut self, resource: &str, first: &str, now: bool) -> String {
        let token = self
            .recorded
            .get(resource)
            .map_or(first, |t| t.token.as_str())
            .to_string();
        if now {
            self.fresh.insert(
                resource.to_string(),
                CreateToken {
                    token: token.clone(),
                    sent_at_ms: self.observed_at_ms,
                },
            );
        }
        token
    }
}

/// The gate that holds a pause while what the create of `resource` made is not listed yet.
fn listed_gate(resource: &str) -> Option<Action> {
    let state = NetworkGate::Listed;
    if let Some(subnet) = resource.strip_prefix("nat:") {
        return Some(Action::AwaitNatGateway {
            subnet: subnet.to_string(),
            state,
        });
    }
    resource
        .strip_prefix("vpce:")
        .map(|service| Action::AwaitVpcEndpoint {
            service: service.to_string(),
            state,
        })
}

impl Builder {
    /// Deletes the stack's NAT gateways and interface endpoints after `drained`, unless the
    /// policy keeps them or a recreation could not be exact (then they are kept, and the note
    /// says which field prevents it).
    pub(super) fn pause_network(&mut self, goal: &Goal, obs: &Observation, drained: &[usize]) {
        let keep = goal.policy.network_on_pause == NetworkOnPause::Keep;
        for (subnet, n) in &obs.nat_gateways {
            let delete = |id| Action::DeleteNatGateway {
                subnet: subnet.clone(),
                id,
            };
            let gate = |state| Action::AwaitNatGateway {
                subnet: subnet.clone(),
                state,
            };
            self.pause_live(format!("nat:{subnet}"), n, keep, drained, delete, gate);
        }
        for (service, e) in &obs.vpc_endpoints {
            let delete = |id| Action::DeleteVpcEndpoint {
                service: service.clone(),
                id,
            };
            let gate = |state| Action::AwaitVpcEndpoint {
                service: service.clone(),
                state,
            };
            self.pause_live(format!("vpce:{service}"), e, keep, drained, delete, gate);
        }
        self.pause_tokens(obs);
    }

    /// A token whose resource is listed is spent: this pause deletes what it made (or keeps
    /// it, and a resume finds it). One whose resource is not listed stays recorded, so that a
    /// resume sends it again (AWS answers with the resource if it was made), and holds the pause
    /// until EC2 would list what it made: a stack is not called paused with a NAT gateway
    /// billing that EC2 was slow to show.
    fn pause_tokens(&mut self, obs: &Observation) {
        let listed: BTreeSet<String> = obs
            .nat_gateways
            .iter()
            .filter(|(_, n)| n.of_stack)
            .map(|(subnet, _)| format!("nat:{subnet}"))
            .chain(
                obs.vpc_endpoints
                    .iter()
                    .filter(|(_, e)| e.of_stack)
                    .map(|(service, _)| format!("vpce:{service}")),
            )
            .collect();
        let tokens = std::mem::take(&mut self.plan.manifest.create_tokens);
        for (resource, t) in tokens {
            if listed.contains(&resource) {
                continue;
            }
            if obs.observed_at_ms < t.sent_at_ms.saturating_add(CREATE_SETTLE_MS)
                && let Some(gate) = listed_gate(&resource)
            {
                self.push(gate, vec![]);
            }
            self.plan.manifest.create_tokens.insert(resource, t);
        }
    }

    fn pause_live<T: Live>(
        &mut self,
        resource: String,
        have: &T,
        keep: bool,
        drained: &[usize],
        delete: impl Fn(String) -> Action,
        gate: impl Fn(NetworkGate) -> Action,
    ) {
        // Someone else's is never touched; a failed one bills nothing and AWS removes it.
        if !have.of_stack() || have.state() == "failed" {
            return;
        }
        if have.state() == "deleting" {
            self.push(gate(NetworkGate::Deleted), vec![]);
            return;
        }
        if keep {
            self.note(
                resource,
                "kept: policy network_on_pause is `keep` (it keeps costing)".into(),
            );
            return;
        }
        if !have.unsupported().is_empty() {
            self.kept(
                resource,
                format!(
                    "kept, not deleted (it keeps costing): {}",
                    have.unsupported().join("; ")
                ),
            );
            return;
        }
        let deletes: Vec<usize> = std::iter::once(have.id())
            .chain(have.duplicates().iter().map(String::as_str))
            .map(|id| self.push(delete(id.to_string()), drained.to_vec()))
            .collect();
        self.push(gate(NetworkGate::Deleted), deletes);
    }

    /// Brings every recorded or given NAT gateway and endpoint back. Returns the steps the
    /// services must wait for, and the create tokens to record before any step runs.
    pub(super) fn resume_network(
        &mut self,
        generation: u64,
        manifest: &Manifest,
        obs: &Observation,
        spec: Option<&EphemeralSpec>,
    ) -> (Vec<usize>, BTreeMap<String, CreateToken>) {
        let mut ready = Vec::new();
        let mut tokens = Tokens {
            recorded: &manifest.create_tokens,
            observed_at_ms: obs.observed_at_ms,
            fresh: BTreeMap::new(),
        };
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
            let diff = have.zip(given).map(|(h, g)| nat_differences(&h.spec, g));
            let steps = Steps {
                create: |w: &NatGatewaySpec, client_token| Action::CreateNatGateway {
                    spec: Box::new(w.clone()),
                    client_token,
                },
                gate: |state| Action::AwaitNatGateway {
                    subnet: subnet.clone(),
                    state,
                },
                token: client_token(generation, subnet),
            };
            let resource = format!("nat:{subnet}");
            let Some(after) = self.resume_live(&resource, have, want, diff, &steps, &mut tokens)
            else {
                continue;
            };
            match want {
                Some(w) => ready.extend(self.point_routes(subnet, have, w, obs, after)),
                None => ready.extend(after),
            }
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
            let diff = have
                .zip(given)
                .map(|(h, g)| endpoint_differences(&h.spec, g));
            let steps = Steps {
                create: |w: &VpcEndpointSpec, client_token| Action::CreateVpcEndpoint {
                    spec: Box::new(w.clone()),
                    client_token,
                },
                gate: |state| Action::AwaitVpcEndpoint {
                    service: service.clone(),
                    state,
                },
                token: client_token(generation, service),
            };
            let resource = format!("vpce:{service}");
            ready.extend(
                self.resume_live(&resource, have, want, diff, &steps, &mut tokens)
                    .unwrap_or_default(),
            );
        }
        (ready, tokens.fresh)
    }

    /// One NAT gateway or endpoint to "exists and available"; `diff` is how it differs from a
    /// spec given now (the recorded one is what was observed). Returns the steps that make it
    /// so (empty: it is), or `None` when nothing may be done (a problem, or nothing wanted).
    fn resume_live<T: Live, S>(
        &mut self,
        resource: &str,
        have: Option<&T>,
        want: Option<&S>,
        diff: Option<Differences>,
        steps: &Steps<impl Fn(&S, String) -> Action, impl Fn(NetworkGate) -> Action>,
        tokens: &mut Tokens,
    ) -> Option<Vec<usize>> {
        let kind = T::KIND;
        if let Some(h) = have {
            if !h.of_stack() {
                if want.is_some() {
                    self.problem(
                        resource.into(),
                        format!(
                            "{kind} {} does not carry the stack's tags: costctl does not create a second one next to it (tag it, or delete it)",
                            h.id()
                        ),
                    );
                }
                return None;
            }
            if !h.duplicates().is_empty() {
                self.problem(
                    resource.into(),
                    format!(
                        "more than one {kind} of the stack ({} and {}): delete the extra one",
                        h.id(),
                        h.duplicates().join(", ")
                    ),
                );
                return None;
            }
        }
        let gate = |b: &mut Self, state, after| b.push((steps.gate)(state), after);
        match (have.map(Live::state), want) {
            (None | Some("deleting"), None) => None,
            (None, Some(w)) => {
                let token = tokens.for_create(resource, &steps.token, true);
                let c = self.push((steps.create)(w, token), vec![]);
                Some(vec![gate(self, NetworkGate::Available, vec![c])])
            }
            (Some("deleting"), Some(w)) => {
                // A NAT gateway's Elastic IP is free only once it is gone; with private DNS,
                // AWS refuses a second endpoint while the old one exists.
                let gone = gate(self, NetworkGate::Deleted, vec![]);
                // Not sent in this pass (it waits for the gate): recorded when it is.
                let token = tokens.for_create(resource, &steps.token, false);
                let c = self.push((steps.create)(w, token), vec![gone]);
                Some(vec![gate(self, NetworkGate::Available, vec![c])])
            }
            (Some(state @ ("available" | "pending")), _) => {
                if let Some(d) = diff {
                    if !d.fixed.is_empty() {
                        self.problem(
                            resource.into(),
                            format!(
                                "differs from its spec in {}, which costctl does not change in place: delete the spec (delete-spec) and apply it again to recreate the {kind}",
                                d.fixed.join(", ")
                            ),
                        );
                        return None;
                    }
                    if !d.in_place.is_empty() {
                        self.note(
                            resource.into(),
                            format!(
                                "differs from its spec in {}; costctl does not change an existing {kind}",
                                d.in_place.join(", ")
                            ),
                        );
                    }
                }
                Some(if state == "pending" {
                    vec![gate(self, NetworkGate::Available, vec![])]
                } else {
                    Vec::new()
                })
            }
            (Some(other), _) => {
                self.problem(
                    resource.into(),
                    format!("{kind} is {other}: it needs a person (delete it, then resume)"),
                );
                None
            }
        }
    }

    /// The recorded routes that do not send their traffic to the live gateway yet, pointed at
    /// it after `after`. A route that now targets something else (a transit gateway, another
    /// NAT) was changed by a person and is left alone.
    fn point_routes(
        &mut self,
        subnet: &str,
        have: Option<&NatObs>,
        want: &NatGatewaySpec,
        obs: &Observation,
        after: Vec<usize>,
    ) -> Vec<usize> {
        let live = have
            .filter(|h| h.state == "available")
            .map(|h| h.id.as_str());
        let mut pending: Vec<NatRouteSpec> = Vec::new();
        for r in &want.routes {
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
                subnet: subnet.to_string(),
                routes: pending,
            },
            after,
        )]
    }
}
