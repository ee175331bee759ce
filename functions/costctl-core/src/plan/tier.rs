//! The ephemeral tier: ALBs and MSK Serverless clusters (and the CloudWatch alarms on an ALB).

use super::{Action, Builder, Goal, KafkaGate, MskOnPause};
use crate::ephemeral::{kafka_differences, lb_differences, lb_recreation_blockers};
use crate::manifest::Manifest;
use crate::observation::{KafkaObs, LoadBalancerObs, Observation, alias_key, normalise_dns};
use crate::spec::{EphemeralSpec, KafkaClusterSpec, LoadBalancerSpec};
use std::collections::{BTreeMap, BTreeSet};

impl Builder {
    /// After the services are drained: delete the load balancers (unless deletion protection is
    /// on) and, where the policy says so, the MSK clusters. Their specs were recorded by
    /// `record_missing` before this plan is executed (write-ahead).
    ///
    /// Lossless or kept: a load balancer that a resume could not recreate exactly (see
    /// [`lb_recreation_blockers`]) is kept, and a note names every field that prevents it.
    pub(super) fn pause_ephemeral(
        &mut self,
        goal: &Goal,
        obs: &Observation,
        spec: Option<&EphemeralSpec>,
        drained: &[usize],
    ) {
        // First of all, so that draining the services pages nobody.
        let mute: Vec<String> = obs
            .alarms
            .values()
            .filter(|a| a.muted_by_pause())
            .map(|a| a.name.clone())
            .collect();
        if !mute.is_empty() {
            self.push(
                Action::SetAlarmActions {
                    names: mute,
                    enabled: false,
                },
                vec![],
            );
        }
        for (name, lb) in &obs.load_balancers {
            if lb.deletion_protection {
                self.note(
                    format!("alb:{name}"),
                    "deletion protection is on: the load balancer is kept, not deleted (it keeps costing)"
                        .into(),
                );
                continue;
            }
            let given = spec.and_then(|s| s.load_balancers.iter().find(|l| &l.name == name));
            let mut blockers = lb_recreation_blockers(lb, given.unwrap_or(&lb.spec));
            // An alarm that cannot be re-pointed would watch nothing after a recreation.
            blockers.extend(
                obs.alarms
                    .values()
                    .filter(|a| &a.load_balancer == name && !a.unsupported.is_empty())
                    .map(|a| {
                        format!(
                            "CloudWatch alarm {} cannot be re-pointed at a new load balancer ({})",
                            a.name,
                            a.unsupported.join("; ")
                        )
                    }),
            );
            if !blockers.is_empty() {
                self.kept(
                    format!("alb:{name}"),
                    format!(
                        "kept, not deleted (it keeps costing): {}",
                        blockers.join("; ")
                    ),
                );
                continue;
            }
            self.push(
                Action::DeleteLoadBalancer {
                    name: name.clone(),
                    arn: lb.arn.clone(),
                },
                drained.to_vec(),
            );
        }
        for (name, c) in &obs.kafka_clusters {
            if goal.policy.msk_on_pause == MskOnPause::Keep {
                if c.state != "DELETING" {
                    self.note(
                        format!("msk:{name}"),
                        "kept: policy msk_on_pause is `keep` (deleting loses topics and messages)"
                            .into(),
                    );
                }
                continue;
            }
            if !c.unsupported.is_empty() && c.state != "DELETING" {
                self.kept(
                    format!("msk:{name}"),
                    format!(
                        "kept, not deleted (it keeps costing): {}",
                        c.unsupported.join("; ")
                    ),
                );
                continue;
            }
            let await_state = |b: &mut Self, state, after| b.await_kafka(name, state, after);
            let delete = Action::DeleteKafkaCluster {
                name: name.clone(),
                arn: c.arn.clone(),
            };
            match c.state.as_str() {
                "DELETING" => {
                    await_state(self, KafkaGate::Deleted, vec![]);
                }
                "CREATING" | "UPDATING" => {
                    let active = await_state(self, KafkaGate::Active, vec![]);
                    let mut after = drained.to_vec();
                    after.push(active);
                    let d = self.push(delete, after);
                    await_state(self, KafkaGate::Deleted, vec![d]);
                }
                _ => {
                    let d = self.push(delete, drained.to_vec());
                    await_state(self, KafkaGate::Deleted, vec![d]);
                }
            }
        }
    }

    /// Creates / completes the load balancers and clusters, then publishes their endpoints.
    /// Returns the steps the services must wait for.
    ///
    /// The rules both kinds share are here once: which names to look at (recorded, observed
    /// or given by the spec), which spec wins (the given one over the recorded one), a
    /// difference in a field that cannot change in place is a problem, and an endpoint is
    /// published when the parameter does not hold the live value. How each kind gets to
    /// "exists and ready" differs and stays apart: see `resume_load_balancer` and
    /// `resume_kafka_cluster`.
    pub(super) fn resume_ephemeral(
        &mut self,
        manifest: &Manifest,
        obs: &Observation,
        spec: Option<&EphemeralSpec>,
        alarm_steps: &mut Vec<usize>,
    ) -> Vec<usize> {
        let mut ready = Vec::new();
        let given = spec.map(|s| s.load_balancers.as_slice()).unwrap_or(&[]);
        for name in names(&manifest.load_balancers, &obs.load_balancers, given, |l| {
            &l.name
        }) {
            let want = given
                .iter()
                .find(|l| &l.name == name)
                .or_else(|| manifest.load_balancers.get(name));
            let have = obs.load_balancers.get(name);
            let Some(after) = self.resume_load_balancer(name, have, want) else {
                continue;
            };
            alarm_steps.extend(self.point_alarms(name, manifest, obs, &after));
            if let Some(w) = want {
                let dns = have.map(|h| normalise_dns(&h.dns_name));
                if let Some(param) = &w.dns_name_parameter {
                    let current = obs.parameters.get(param).map(|v| normalise_dns(v));
                    if dns.is_none() || current != dns {
                        ready.push(self.push(
                            Action::PublishLoadBalancerDns {
                                load_balancer: name.clone(),
                                parameter: param.clone(),
                            },
                            after.clone(),
                        ));
                    }
                }
                for alias in &w.aliases {
                    let current = obs.aliases.get(&alias_key(&alias.zone_id, &alias.name));
                    let pointed =
                        dns.is_some() && current.is_some_and(|c| c.a == dns && c.aaaa == dns);
                    if !pointed {
                        ready.push(self.push(
                            Action::UpsertAlias {
                                load_balancer: name.clone(),
                                zone_id: alias.zone_id.clone(),
                                name: alias.name.clone(),
                            },
                            after.clone(),
                        ));
                    }
                }
            }
            ready.extend(after);
        }

        let given = spec.map(|s| s.kafka_clusters.as_slice()).unwrap_or(&[]);
        for name in names(&manifest.kafka_clusters, &obs.kafka_clusters, given, |c| {
            &c.name
        }) {
            let given = given.iter().find(|c| &c.name == name);
            let want = given.or_else(|| manifest.kafka_clusters.get(name));
            let have = obs.kafka_clusters.get(name);
            let Some(after) = self.resume_kafka_cluster(name, have, want, given) else {
                continue;
            };
            if let Some(param) = want.and_then(|w| w.bootstrap_parameter.as_ref()) {
                let boot = have
                    .filter(|c| c.state == "ACTIVE")
                    .and_then(|c| c.bootstrap.as_ref());
                if boot.is_none() || obs.parameters.get(param) != boot {
                    ready.push(self.push(
                        Action::PublishKafkaBootstrap {
                            cluster: name.clone(),
                            parameter: param.clone(),
                        },
                        after.clone(),
                    ));
                }
            }
            ready.extend(after);
        }
        ready
    }

    /// A gate that waits for cluster `name` to reach `state` (the pause's and the resume's).
    fn await_kafka(&mut self, name: &str, state: KafkaGate, after: Vec<usize>) -> usize {
        self.push(
            Action::AwaitKafkaCluster {
                name: name.to_string(),
                state,
            },
            after,
        )
    }

    /// A field that cannot change in place differs from the spec: a person must recreate it.
    fn fixed_difference(&mut self, resource: String, fixed: &[String], why: &str, what: &str) {
        self.problem(
            resource,
            format!(
                "differs from its spec in {}, which {why}: delete the spec (delete-spec) and apply it again to recreate the {what}",
                fixed.join(", ")
            ),
        );
    }

    /// An ALB to "exists and active": names are unique in a region and CreateLoadBalancer with
    /// the same settings answers with the existing one, so one idempotent apply creates it or
    /// changes it in place. `None`: nothing to do for it (absent everywhere, or a problem).
    fn resume_load_balancer(
        &mut self,
        name: &String,
        have: Option<&LoadBalancerObs>,
        want: Option<&LoadBalancerSpec>,
    ) -> Option<Vec<usize>> {
        let await_active =
            |b: &mut Self, after| b.push(Action::AwaitLoadBalancer { name: name.clone() }, after);
        let apply = |b: &mut Self, w: &LoadBalancerSpec| {
            b.push(
                Action::ApplyLoadBalancer {
                    spec: Box::new(w.clone()),
                },
                vec![],
            )
        };
        let mut after = Vec::new();
        match (have, want) {
            (Some(h), Some(w)) => {
                let d = lb_differences(&h.spec, w);
                if !d.fixed.is_empty() {
                    let why = "costctl does not change in place";
                    self.fixed_difference(format!("alb:{name}"), &d.fixed, why, "load balancer");
                    return None;
                }
                if !d.in_place.is_empty() {
                    after = vec![apply(self, w)];
                }
                if h.state != "active" {
                    after = vec![await_active(self, after)];
                }
            }
            (None, Some(w)) => {
                let created = apply(self, w);
                after = vec![await_active(self, vec![created])];
            }
            (Some(h), None) => {
                if h.state != "active" {
                    after = vec![await_active(self, vec![])];
                }
            }
            (None, None) => return None,
        }
        Some(after)
    }

    /// Alarms on the old load balancer's ID: pointed at the one that exists once `after` is
    /// done (its ID is read when the step runs). Those the pause muted stay muted until the
    /// services are back. Returns the steps made.
    fn point_alarms(
        &mut self,
        name: &String,
        manifest: &Manifest,
        obs: &Observation,
        after: &[usize],
    ) -> Vec<usize> {
        let mut steps = Vec::new();
        for a in obs.alarms.values().filter(|a| &a.load_balancer == name) {
            if obs.alarm_points_at_live(a) {
                continue;
            }
            if !a.unsupported.is_empty() {
                self.problem(
                    format!("alb:{name}"),
                    format!(
                        "CloudWatch alarm {} names {} and cannot be re-pointed ({})",
                        a.name,
                        a.dimension,
                        a.unsupported.join("; ")
                    ),
                );
                continue;
            }
            steps.push(self.push(
                Action::PointAlarm {
                    name: a.name.clone(),
                    load_balancer: name.clone(),
                    definition: Box::new(a.definition.clone()),
                    actions_enabled: a.actions_enabled && !manifest.alarms_muted.contains(&a.name),
                },
                after.to_vec(),
            ));
        }
        steps
    }

    /// An MSK Serverless cluster to "exists and ACTIVE". Unlike an ALB: names are not unique (a
    /// second create makes a second cluster), so a create is planned only when none exists and
    /// none is being created; a cluster cannot be changed after creation, so an in-place
    /// difference is only a note; and a cluster still `DELETING` must be gone before its
    /// successor is created. `None`: nothing to do for it.
    fn resume_kafka_cluster(
        &mut self,
        name: &String,
        have: Option<&KafkaObs>,
        want: Option<&KafkaClusterSpec>,
        given: Option<&KafkaClusterSpec>,
    ) -> Option<Vec<usize>> {
        let resource = format!("msk:{name}");
        let await_state = |b: &mut Self, state, after| b.await_kafka(name, state, after);
        let create = |b: &mut Self, w: &KafkaClusterSpec, after: Vec<usize>| {
            b.push(
                Action::CreateKafkaCluster {
                    spec: Box::new(w.clone()),
                },
                after,
            )
        };
        let after = match (have.map(|c| c.state.as_str()), want) {
            (Some("ACTIVE"), _) => {
                // Compared with a spec given now only: the recorded one is what was observed.
                if let (Some(h), Some(g)) = (have, given) {
                    let d = kafka_differences(&h.spec, g);
                    if !d.fixed.is_empty() {
                        let why = "MSK Serverless cannot change";
                        self.fixed_difference(resource, &d.fixed, why, "cluster");
                        return None;
                    }
                    if !d.in_place.is_empty() {
                        self.note(
                            resource,
                            format!(
                                "differs from its spec in {}; costctl does not change an existing cluster",
                                d.in_place.join(", ")
                            ),
                        );
                    }
                }
                Vec::new()
            }
            (Some("CREATING" | "UPDATING"), _) => {
                vec![await_state(self, KafkaGate::Active, vec![])]
            }
            (Some("DELETING"), Some(w)) => {
                let gone = await_state(self, KafkaGate::Deleted, vec![]);
                let c = create(self, w, vec![gone]);
                vec![await_state(self, KafkaGate::Active, vec![c])]
            }
            (Some("DELETING"), None) | (None, None) => return None,
            (Some(other), _) => {
                self.problem(
                    resource,
                    format!("cluster is {other}: it needs a person (delete it, then resume)"),
                );
                return None;
            }
            (None, Some(w)) => {
                let c = create(self, w, vec![]);
                vec![await_state(self, KafkaGate::Active, vec![c])]
            }
        };
        Some(after)
    }
}

/// The names a resume looks at, in order: those recorded at the pause, those observed now and
/// those the spec gives.
fn names<'a, R, O, G>(
    recorded: &'a BTreeMap<String, R>,
    observed: &'a BTreeMap<String, O>,
    given: &'a [G],
    name: impl Fn(&'a G) -> &'a String,
) -> BTreeSet<&'a String> {
    let mut names: BTreeSet<&String> = recorded.keys().collect();
    names.extend(observed.keys());
    names.extend(given.iter().map(name));
    names
}
