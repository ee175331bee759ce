//! The ephemeral tier's lifecycle as Terraform drives it: apply-spec, delete-spec, roll back.

use super::*;

/// What `apply-spec` answers (and Terraform's `aws_lambda_invocation` result):
/// `docs/ephemeral-spec.md`, "Result".
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SpecResult {
    pub stack: String,
    pub load_balancers: BTreeMap<String, LoadBalancerResult>,
    pub kafka_clusters: BTreeMap<String, KafkaResult>,
    /// NAT gateways by subnet.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub nat_gateways: BTreeMap<String, NetworkResult>,
    /// Interface endpoints by service name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vpc_endpoints: BTreeMap<String, NetworkResult>,
    /// What the user should know (a deletion-protected ALB not deleted, a paused stack…).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<Note>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LoadBalancerResult {
    pub arn: String,
    pub dns_name: String,
    pub zone_id: String,
    /// By port, as a string (JSON object keys).
    pub listener_arns: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct KafkaResult {
    pub arn: String,
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap_brokers: Option<String>,
}

/// A NAT gateway or interface endpoint of a spec as it exists now.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct NetworkResult {
    pub id: String,
    pub state: String,
}

/// What exists now of the resources a spec names.
pub(super) struct SpecResources {
    pub lbs: Vec<LoadBalancerObs>,
    pub kafkas: Vec<KafkaObs>,
    pub nats: Vec<NatObs>,
    pub endpoints: Vec<EndpointObs>,
}

impl<C: Cloud, S: StateStore> Engine<C, S> {
    /// Terraform's create/update (and `costctl apply-spec`): validates the spec (nothing is
    /// changed when it is invalid), stores it with the stack, and when the stack's desired state
    /// is `running` creates or updates the resources now and waits until they match it. A paused
    /// stack only records the spec: it is used on the next resume (a `terraform apply` must not
    /// un-pause a stack). Idempotent: applying the same spec again creates nothing.
    ///
    /// A stack the store does not know is created (desired `running`) with `selector`.
    pub async fn apply_spec(
        &self,
        stack: &str,
        spec: &EphemeralSpec,
        selector: Option<Selector>,
        timeout: Duration,
    ) -> Result<SpecResult, EngineError> {
        spec.validate()?;
        let known = self.store.load(stack).await?.map(|s| s.selector);
        if let Some(Selector::Tags(tags)) = known.as_ref().or(selector.as_ref()) {
            spec.check_stack_tags(tags)?;
        }
        self.cloud.check_spec_dependencies(spec).await?;
        // Replacing the stored spec would orphan what it names and `spec` does not (Terraform
        // forgets its previous input when a create fails): delete those first.
        if let Some(stored) = self.store.load(stack).await?.and_then(|s| s.spec) {
            let removed = stored.without(spec);
            if !removed.is_empty() {
                self.delete_spec(stack, &removed).await?;
            }
        }
        let state = match self.store.load(stack).await? {
            Some(state) => state,
            None => {
                let selector = selector.ok_or_else(|| StoreError::UnknownStack {
                    stack: stack.into(),
                })?;
                selector
                    .validate()
                    .map_err(|source| EngineError::Selector {
                        stack: stack.into(),
                        source,
                    })?;
                let req = NewRequest {
                    desired: DesiredState::Running,
                    trigger: Trigger::ApplySpec,
                    reason: "ephemeral tier created from a spec".into(),
                    selector,
                    policy: Policy::default(),
                    force: false,
                    lockout: None,
                    snooze: None,
                    budget_overrides_snooze: true,
                };
                let now = self.clock.now_ms();
                let state = self.store.request(stack, &req, now).await?;
                self.store
                    .append_history(
                        stack,
                        &HistoryEntry {
                            at_ms: now,
                            generation: state.generation,
                            kind: "request".into(),
                            desired: DesiredState::Running,
                            trigger: Trigger::ApplySpec,
                            detail: serde_json::json!({ "reason": req.reason }),
                        },
                    )
                    .await?;
                state
            }
        };
        self.store.set_spec(stack, Some(spec)).await?;
        let mut notes = Vec::new();
        if state.desired == DesiredState::Running {
            let report = self.run_until(stack, state.generation, timeout).await?;
            if !report.succeeded() {
                let mut reasons = report.errors.clone();
                reasons.extend(
                    report
                        .problems
                        .iter()
                        .map(|p| format!("{}: {}", p.resource, p.message)),
                );
                if reasons.is_empty() {
                    reasons.push(format!("stack is {}", report.state));
                }
                return Err(EngineError::SpecNotApplied {
                    stack: stack.into(),
                    reasons,
                });
            }
            notes = report.notes;
        } else {
            notes.push(Note {
                resource: format!("stack:{stack}"),
                message: format!(
                    "the stack is {}: the spec is recorded and used on the next resume; nothing was created",
                    state.desired
                ),
                kept: false,
            });
        }
        let mut result = self.spec_result(stack, spec).await?;
        result.notes.extend(notes);
        Ok(result)
    }

    /// The resources a spec names that exist now, found by name only; NAT gateways and
    /// endpoints only when they carry the tags the spec gives them (what costctl created), so
    /// that a delete never takes someone else's gateway in the same subnet.
    pub(super) async fn find_spec_resources(
        &self,
        spec: &EphemeralSpec,
    ) -> Result<SpecResources, EngineError> {
        let none = Selector::Names(Default::default());
        let lb_names: Vec<String> = spec.load_balancers.iter().map(|l| l.name.clone()).collect();
        let msk_names: Vec<String> = spec.kafka_clusters.iter().map(|c| c.name.clone()).collect();
        let subnets: Vec<String> = spec
            .nat_gateways
            .iter()
            .map(|n| n.subnet_id.clone())
            .collect();
        let services: Vec<(String, String)> = spec
            .vpc_endpoints
            .iter()
            .map(|e| (e.vpc_id.clone(), e.service_name.clone()))
            .collect();
        let (lbs, kafkas, nats, endpoints) = futures::try_join!(
            self.cloud.find_load_balancers(&none, &lb_names),
            self.cloud.find_kafka_clusters(&none, &msk_names),
            async {
                if subnets.is_empty() {
                    Ok(Vec::new())
                } else {
                    self.cloud.find_nat_gateways(&none, &subnets).await
                }
            },
            async {
                if services.is_empty() {
                    Ok(Vec::new())
                } else {
                    self.cloud.find_vpc_endpoints(&none, &services).await
                }
            },
        )?;
        let tagged = |have: &BTreeMap<String, String>, want: &BTreeMap<String, String>| {
            want.iter().all(|(k, v)| have.get(k) == Some(v))
        };
        let nats = nats
            .into_iter()
            .filter(|n| {
                spec.nat_gateways
                    .iter()
                    .any(|w| w.subnet_id == n.spec.subnet_id && tagged(&n.spec.tags, &w.tags))
            })
            .collect();
        let endpoints = endpoints
            .into_iter()
            .filter(|e| {
                spec.vpc_endpoints.iter().any(|w| {
                    w.service_name == e.spec.service_name
                        && w.vpc_id == e.spec.vpc_id
                        && tagged(&e.spec.tags, &w.tags)
                })
            })
            .collect();
        Ok(SpecResources {
            lbs,
            kafkas,
            nats,
            endpoints,
        })
    }

    /// Waits, until `until`, for the NAT gateways and endpoints to be gone: Terraform releases
    /// the Elastic IPs (AWS refuses while a gateway still holds one) and deletes the endpoints'
    /// security group next. Still there when the lease would end: a transient error (the next
    /// `terraform destroy` waits again).
    pub(super) async fn await_network_gone(
        &self,
        spec: &EphemeralSpec,
        until: i64,
    ) -> Result<(), EngineError> {
        if spec.nat_gateways.is_empty() && spec.vpc_endpoints.is_empty() {
            return Ok(());
        }
        let poll = self.options.poll_interval;
        let poll_ms = i64::try_from(poll.as_millis()).unwrap_or(0);
        loop {
            let left = self.find_spec_resources(spec).await?;
            let first = left
                .nats
                .first()
                .map(|n| {
                    (
                        format!("nat:{}", n.spec.subnet_id),
                        "ec2:DescribeNatGateways",
                    )
                })
                .or_else(|| {
                    left.endpoints.first().map(|e| {
                        (
                            format!("vpce:{}", e.spec.service_name),
                            "ec2:DescribeVpcEndpoints",
                        )
                    })
                });
            let Some((resource, operation)) = first else {
                return Ok(());
            };
            if self.clock.now_ms() + poll_ms >= until {
                return Err(CloudError::Transient {
                    operation,
                    resource,
                    code: "StillDeleting".into(),
                    message: "still being deleted (a NAT gateway holds its Elastic IP, an endpoint its security group, until it is gone): try again in a few minutes".into(),
                }
                .into());
            }
            self.clock.sleep(poll).await;
        }
    }

    /// Waits, until `until` (the lease's end less the margin), for the clusters to be gone: MSK Serverless keeps its VPC
    /// endpoints, which use the security groups Terraform deletes next, until the delete is
    /// done. Still there when the lease would end: a transient error (the next `terraform
    /// destroy` finds the cluster deleting and waits again).
    pub(super) async fn await_clusters_gone(
        &self,
        kafkas: &[KafkaObs],
        until: i64,
    ) -> Result<(), EngineError> {
        if kafkas.is_empty() {
            return Ok(());
        }
        let names: Vec<String> = kafkas.iter().map(|c| c.spec.name.clone()).collect();
        let none = Selector::Names(Default::default());
        let poll = self.options.poll_interval;
        let poll_ms = i64::try_from(poll.as_millis()).unwrap_or(0);
        loop {
            let left = self.cloud.find_kafka_clusters(&none, &names).await?;
            let Some(first) = left.first() else {
                return Ok(());
            };
            if self.clock.now_ms() + poll_ms >= until {
                return Err(CloudError::Transient {
                    operation: "kafka:DescribeClusterV2",
                    resource: format!("msk:{}", first.spec.name),
                    code: "StillDeleting".into(),
                    message: "the cluster is still being deleted; its VPC endpoints and their security groups go with it: try again in a few minutes".into(),
                }
                .into());
            }
            self.clock.sleep(poll).await;
        }
    }

    /// What exists now of the resources a spec names.
    pub async fn spec_result(
        &self,
        stack: &str,
        spec: &EphemeralSpec,
    ) -> Result<SpecResult, EngineError> {
        let SpecResources {
            lbs,
            kafkas,
            nats,
            endpoints,
        } = self.find_spec_resources(spec).await?;
        let mut result = SpecResult {
            stack: stack.into(),
            ..SpecResult::default()
        };
        for n in nats {
            result.nat_gateways.insert(
                n.spec.subnet_id.clone(),
                NetworkResult {
                    id: n.id,
                    state: n.state,
                },
            );
        }
        for e in endpoints {
            result.vpc_endpoints.insert(
                e.spec.service_name.clone(),
                NetworkResult {
                    id: e.id,
                    state: e.state,
                },
            );
        }
        for lb in lbs {
            let listener_arns = self
                .cloud
                .listener_arns(&lb.arn)
                .await?
                .into_iter()
                .map(|(port, arn)| (port.to_string(), arn))
                .collect();
            result.load_balancers.insert(
                lb.spec.name.clone(),
                LoadBalancerResult {
                    arn: lb.arn,
                    dns_name: lb.dns_name,
                    zone_id: lb.zone_id,
                    listener_arns,
                },
            );
        }
        for c in kafkas {
            result.kafka_clusters.insert(
                c.spec.name.clone(),
                KafkaResult {
                    arn: c.arn,
                    state: c.state,
                    bootstrap_brokers: c.bootstrap,
                },
            );
        }
        Ok(result)
    }

    /// Terraform's delete (and `costctl delete-spec`): deletes the load balancers and clusters
    /// the spec names (a deletion-protected ALB is not deleted, and the result says so), then
    /// forgets them: they leave the stored spec and the manifest, so no resume recreates them.
    /// Runs under the stack's lease when the stack is known; a stack the store does not know
    /// only has its resources deleted.
    pub async fn delete_spec(
        &self,
        stack: &str,
        spec: &EphemeralSpec,
    ) -> Result<SpecResult, EngineError> {
        self.delete_spec_with(stack, spec, true).await
    }

    /// As [`Engine::delete_spec`], without waiting for the clusters to be gone: undoing a
    /// failed create, whose invocation has little time left and whose security groups stay.
    pub async fn roll_back_spec(
        &self,
        stack: &str,
        spec: &EphemeralSpec,
    ) -> Result<SpecResult, EngineError> {
        self.delete_spec_with(stack, spec, false).await
    }

    pub(super) async fn delete_spec_with(
        &self,
        stack: &str,
        spec: &EphemeralSpec,
        wait_for_clusters: bool,
    ) -> Result<SpecResult, EngineError> {
        let lease = Lease::new(&self.options);
        // No delete is sent after the grant ends (`Lease::not_after`).
        let asked_at = self.clock.now_ms();
        let state = match self.store.load(stack).await? {
            Some(_) => Some(lease.take(&self.store, stack, asked_at).await?),
            None => None,
        };
        let not_after = state.as_ref().map(|_| lease.not_after(asked_at));
        let outcome = self
            .delete_spec_leased(stack, spec, state.as_ref(), not_after, wait_for_clusters)
            .await;
        if state.is_some() {
            let _ = lease.release(&self.store, stack).await;
        }
        outcome
    }

    pub(super) async fn delete_spec_leased(
        &self,
        stack: &str,
        spec: &EphemeralSpec,
        state: Option<&StackState>,
        not_after: Option<i64>,
        wait_for_clusters: bool,
    ) -> Result<SpecResult, EngineError> {
        let owner = self.options.owner.as_str();
        // Under a lease (a known stack), each delete is fenced on its end.
        let fenced = |op: &'static str, resource: &str| match not_after {
            Some(t) => fence(self.clock.now_ms(), t, op, resource),
            None => Ok(()),
        };
        let SpecResources {
            lbs,
            kafkas,
            nats,
            endpoints,
        } = self.find_spec_resources(spec).await?;
        let mut result = SpecResult {
            stack: stack.into(),
            ..SpecResult::default()
        };
        let mut done = Vec::new();
        for n in nats.iter().filter(|n| n.state != "deleting") {
            fenced("ec2:DeleteNatGateway", &n.id)?;
            self.cloud.delete_nat_gateway(&n.id).await?;
            done.push(serde_json::json!({"resource": format!("nat:{}", n.spec.subnet_id), "action": "delete_nat_gateway"}));
        }
        for e in endpoints.iter().filter(|e| e.state != "deleting") {
            fenced("ec2:DeleteVpcEndpoints", &e.id)?;
            self.cloud.delete_vpc_endpoint(&e.id).await?;
            done.push(serde_json::json!({"resource": format!("vpce:{}", e.spec.service_name), "action": "delete_vpc_endpoint"}));
        }
        for lb in &lbs {
            if lb.deletion_protection {
                result.notes.push(Note {
                    resource: format!("alb:{}", lb.spec.name),
                    message: "deletion protection is on: the load balancer was not deleted".into(),
                    kept: false,
                });
                continue;
            }
            fenced("elasticloadbalancing:DeleteLoadBalancer", &lb.arn)?;
            self.cloud.delete_load_balancer(&lb.arn).await?;
            done.push(serde_json::json!({"resource": format!("alb:{}", lb.spec.name), "action": "delete_load_balancer"}));
        }
        // The alias records costctl pointed at them: deleted with the load balancer (only those
        // that still point at it; a record pointing elsewhere is someone else's).
        for want in &spec.load_balancers {
            let Some(lb) = lbs.iter().find(|l| l.spec.name == want.name) else {
                continue;
            };
            if lb.deletion_protection {
                continue;
            }
            for alias in &want.aliases {
                fenced("route53:ChangeResourceRecordSets", &alias.name)?;
                self.cloud
                    .delete_alias(&alias.zone_id, &alias.name, &lb.dns_name)
                    .await?;
                done.push(serde_json::json!({"resource": format!("route53:{}/{}", alias.zone_id, alias.name.trim_end_matches('.')), "action": "delete_alias"}));
            }
        }
        for c in &kafkas {
            if c.state != "DELETING" {
                fenced("kafka:DeleteCluster", &c.arn)?;
                self.cloud.delete_kafka_cluster(&c.arn).await?;
                done.push(serde_json::json!({"resource": format!("msk:{}", c.spec.name), "action": "delete_kafka_cluster"}));
            }
        }
        if wait_for_clusters {
            let until = not_after
                .unwrap_or_else(|| Lease::new(&self.options).not_after(self.clock.now_ms()));
            self.await_clusters_gone(&kafkas, until).await?;
            self.await_network_gone(spec, until).await?;
        }
        if let Some(state) = state {
            let mut manifest = state.manifest.clone();
            for lb in &spec.load_balancers {
                manifest.load_balancers.remove(&lb.name);
            }
            for c in &spec.kafka_clusters {
                manifest.kafka_clusters.remove(&c.name);
            }
            for n in &spec.nat_gateways {
                manifest.nat_gateways.remove(&n.subnet_id);
            }
            for e in &spec.vpc_endpoints {
                manifest.vpc_endpoints.remove(&e.service_name);
            }
            if manifest != state.manifest {
                self.store
                    .save_manifest(stack, owner, state.generation, &manifest)
                    .await?;
            }
            // What the stored spec still names once this one is gone.
            let remaining = state
                .spec
                .as_ref()
                .map(|s| s.without(spec))
                .filter(|s| !s.is_empty());
            // Not after the lease either: a newer invocation may be storing a newer spec.
            fenced("dynamodb:UpdateItem", &format!("stack:{stack}"))?;
            self.store.set_spec(stack, remaining.as_ref()).await?;
            self.store
                .append_history(
                    stack,
                    &HistoryEntry {
                        at_ms: self.clock.now_ms(),
                        generation: state.generation,
                        kind: "delete-spec".into(),
                        desired: state.desired,
                        trigger: Trigger::DeleteSpec,
                        detail: serde_json::json!({ "steps": done, "notes": result.notes }),
                    },
                )
                .await?;
        }
        Ok(result)
    }
}
