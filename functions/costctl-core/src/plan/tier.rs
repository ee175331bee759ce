//! The ephemeral tier: ALBs and MSK Serverless clusters (and the CloudWatch alarms on an ALB).

use super::{Action, Builder, Goal, KafkaGate, MskOnPause};
use crate::ephemeral::{kafka_differences, lb_differences, lb_recreation_blockers};
use crate::manifest::Manifest;
use crate::observation::{Observation, alias_key, normalise_dns};
use crate::spec::{EphemeralSpec, KafkaClusterSpec};
use std::collections::BTreeSet;

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
                self.note(
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
                self.note(
                    format!("msk:{name}"),
                    format!(
                        "kept, not deleted (it keeps costing): {}",
                        c.unsupported.join("; ")
                    ),
                );
                continue;
            }
            let await_state = |b: &mut Self, state: KafkaGate, after: Vec<usize>| {
                b.push(
                    Action::AwaitKafkaCluster {
                        name: name.clone(),
                        state,
                    },
                    after,
                )
            };
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
    pub(super) fn resume_ephemeral(
        &mut self,
        manifest: &Manifest,
        obs: &Observation,
        spec: Option<&EphemeralSpec>,
        alarm_steps: &mut Vec<usize>,
    ) -> Vec<usize> {
        let mut ready = Vec::new();

        let mut lb_names: BTreeSet<&String> = manifest.load_balancers.keys().collect();
        lb_names.extend(obs.load_balancers.keys());
        if let Some(s) = spec {
            lb_names.extend(s.load_balancers.iter().map(|l| &l.name));
        }
        for name in lb_names {
            let given = spec.and_then(|s| s.load_balancers.iter().find(|l| &l.name == name));
            let want = given.or_else(|| manifest.load_balancers.get(name));
            let have = obs.load_balancers.get(name);
            let resource = format!("alb:{name}");
            let mut after = Vec::new();
            match (have, want) {
                (Some(h), Some(w)) => {
                    let d = lb_differences(&h.spec, w);
                    if !d.fixed.is_empty() {
                        self.problem(
                            resource,
                            format!(
                                "differs from its spec in {}, which costctl does not change in place: delete the spec (delete-spec) and apply it again to recreate the load balancer",
                                d.fixed.join(", ")
                            ),
                        );
                        continue;
                    }
                    if !d.in_place.is_empty() {
                        after = vec![self.push(
                            Action::ApplyLoadBalancer {
                                spec: Box::new(w.clone()),
                            },
                            vec![],
                        )];
                    }
                    if h.state != "active" {
                        after = vec![
                            self.push(Action::AwaitLoadBalancer { name: name.clone() }, after),
                        ];
                    }
                }
                (None, Some(w)) => {
                    let apply = self.push(
                        Action::ApplyLoadBalancer {
                            spec: Box::new(w.clone()),
                        },
                        vec![],
                    );
                    after = vec![self.push(
                        Action::AwaitLoadBalancer { name: name.clone() },
                        vec![apply],
                    )];
                }
                (Some(h), None) => {
                    if h.state != "active" {
                        after = vec![
                            self.push(Action::AwaitLoadBalancer { name: name.clone() }, vec![]),
                        ];
                    }
                }
                (None, None) => continue,
            }
            // Alarms on the old load balancer's ID: at the one that exists once `after` is
            // done (its ID is read when the step runs). Those the pause muted stay muted
            // until the services are back.
            for a in obs.alarms.values().filter(|a| &a.load_balancer == name) {
                if obs.alarm_points_at_live(a) {
                    continue;
                }
                if !a.unsupported.is_empty() {
                    self.problem(
                        resource.clone(),
                        format!(
                            "CloudWatch alarm {} names {} and cannot be re-pointed ({})",
                            a.name,
                            a.dimension,
                            a.unsupported.join("; ")
                        ),
                    );
                    continue;
                }
                alarm_steps.push(self.push(
                    Action::PointAlarm {
                        name: a.name.clone(),
                        load_balancer: name.clone(),
                        definition: Box::new(a.definition.clone()),
                        actions_enabled: a.actions_enabled
                            && !manifest.alarms_muted.contains(&a.name),
                    },
                    after.clone(),
                ));
            }
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

        let mut msk_names: BTreeSet<&String> = manifest.kafka_clusters.keys().collect();
        msk_names.extend(obs.kafka_clusters.keys());
        if let Some(s) = spec {
            msk_names.extend(s.kafka_clusters.iter().map(|c| &c.name));
        }
        for name in msk_names {
            let given = spec.and_then(|s| s.kafka_clusters.iter().find(|c| &c.name == name));
            let want = given.or_else(|| manifest.kafka_clusters.get(name));
            let have = obs.kafka_clusters.get(name);
            let resource = format!("msk:{name}");
            let await_state = |b: &mut Self, state: KafkaGate, after: Vec<usize>| {
                b.push(
                    Action::AwaitKafkaCluster {
                        name: name.clone(),
                        state,
                    },
                    after,
                )
            };
            let create = |b: &mut Self, w: &KafkaClusterSpec, after: Vec<usize>| {
                b.push(
                    Action::CreateKafkaCluster {
                        spec: Box::new(w.clone()),
                    },
                    after,
                )
            };
            let mut after = Vec::new();
            match (have.map(|c| c.state.as_str()), want) {
                (Some("ACTIVE"), _) => {
                    if let (Some(h), Some(g)) = (have, given) {
                        let d = kafka_differences(&h.spec, g);
                        if !d.fixed.is_empty() {
                            self.problem(
                                resource,
                                format!(
                                    "differs from its spec in {}, which MSK Serverless cannot change: delete the spec (delete-spec) and apply it again to recreate the cluster",
                                    d.fixed.join(", ")
                                ),
                            );
                            continue;
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
                }
                (Some("CREATING" | "UPDATING"), _) => {
                    after = vec![await_state(self, KafkaGate::Active, vec![])];
                }
                (Some("DELETING"), Some(w)) => {
                    let gone = await_state(self, KafkaGate::Deleted, vec![]);
                    let c = create(self, w, vec![gone]);
                    after = vec![await_state(self, KafkaGate::Active, vec![c])];
                }
                (Some("DELETING"), None) => continue,
                (Some(other), _) => {
                    self.problem(
                        resource,
                        format!("cluster is {other}: it needs a person (delete it, then resume)"),
                    );
                    continue;
                }
                (None, Some(w)) => {
                    let c = create(self, w, vec![]);
                    after = vec![await_state(self, KafkaGate::Active, vec![c])];
                }
                (None, None) => continue,
            }
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
}
