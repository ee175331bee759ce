//! The step executor: the ready steps of a plan, pipelined under the concurrency bound and the
//! lease, each one idempotent Cloud call (or a gate, which is never executed).

use super::*;

impl<C: Cloud, S: StateStore> Engine<C, S> {
    /// Runs the ready steps, pipelined under the concurrency bound. Returns how many
    /// steps succeeded, whether one failed permanently, and the steps that were started.
    pub(super) async fn execute(
        &self,
        stack: &str,
        plan: &Plan,
        obs: &Observation,
        report: &mut Report,
        lease_until: i64,
        stop_at: i64,
    ) -> (usize, bool, Vec<usize>) {
        // A step starts only while the lease outlasts it by a wide margin (`Lease::may_start`);
        // skipped steps count as transient: the next pass renews the lease (or learns it was
        // taken) and re-plans. A call is abandoned before the lease ends
        // (`Lease::calls_until`), or at the deadline.
        let lease = Lease::new(&self.options);
        let call_until = stop_at.min(lease.calls_until(lease_until));
        let fence_at = lease.fence_at(lease_until);
        let lease = &lease;
        let run = |step: Step, slot: crate::congestion::Slot| async move {
            // The call's place in its service's window, given back when this ends or is dropped.
            let _slot = slot;
            let result = if !lease.may_start(self.clock.now_ms(), lease_until) {
                Err(CloudError::Transient {
                    operation: "lease",
                    resource: step.action.resource(),
                    code: "LeaseExpiring".into(),
                    message: "the lease on the stack is about to expire; not started".into(),
                })
            } else {
                match self
                    .before(call_until, self.apply(&step.action, obs, fence_at))
                    .await
                {
                    Some(result) => result,
                    None => Err(CloudError::Transient {
                        operation: "deadline",
                        resource: step.action.resource(),
                        code: "DeadlineReached".into(),
                        message: "no answer before the invocation's deadline or the end of \
                                  its lease; the next pass checks whether it took effect"
                            .into(),
                    }),
                }
            };
            (step, result)
        };
        // Pipelined, not in waves: a step starts as soon as its own dependencies are done (a
        // service's UpdateService right after its RegisterScalableTarget), so one slow call
        // holds back only what depends on it. At most `concurrency` calls are in flight, and
        // no more to one AWS service than its window allows (`congestion`).
        let cap = self.options.concurrency.max(1);
        let mut started = vec![false; plan.steps.len()];
        let mut done: Vec<usize> = Vec::new();
        let mut in_flight = futures::stream::FuturesUnordered::new();
        let mut executed = 0;
        let mut permanent = false;
        loop {
            if !permanent && self.clock.now_ms() < stop_at && in_flight.len() < cap {
                let mut ready = Vec::new();
                {
                    let mut windows = self.windows();
                    for step in plan.ready(&done).filter(|s| !started[s.id]) {
                        if in_flight.len() + ready.len() >= cap {
                            break;
                        }
                        let service = step.action.api_service();
                        if windows.try_start(service) {
                            ready.push((step.clone(), service));
                        }
                    }
                }
                for (step, service) in ready {
                    started[step.id] = true;
                    let slot = crate::congestion::Slot::taken(&self.windows, service);
                    in_flight.push(run(step, slot));
                }
            }
            let Some((step, result)) = in_flight.next().await else {
                break;
            };
            let service = step.action.api_service();
            self.learn(stack, service, &result);
            let outcome = StepOutcome {
                resource: step.action.resource(),
                action: step.action.kind(),
                description: step.action.to_string(),
                outcome: match &result {
                    Ok(()) => "ok",
                    Err(e) if e.is_transient() => "retry",
                    Err(_) => "failed",
                }
                .into(),
                error: result.as_ref().err().map(ToString::to_string),
                at_ms: self.clock.now_ms(),
            };
            tracing::info!(
                stack,
                resource = %outcome.resource,
                action = %outcome.action,
                outcome = %outcome.outcome,
                error = outcome.error.as_deref().unwrap_or(""),
                "step"
            );
            if let Some(progress) = &self.progress {
                progress(&outcome);
            }
            match result {
                Ok(()) => {
                    done.push(step.id);
                    executed += 1;
                }
                Err(e) if e.is_transient() => {}
                Err(e) => {
                    // Nothing new starts; what is in flight finishes and is reported.
                    permanent = true;
                    report.errors.push(e.to_string());
                }
            }
            report.done.push(outcome);
        }
        let started = started
            .iter()
            .enumerate()
            .filter_map(|(id, s)| s.then_some(id))
            .collect();
        (executed, permanent, started)
    }

    /// Feeds one finished step into its service's window: the cloud's own request count when
    /// it keeps one (the SDK's retries of throttled attempts are in it), else the step's
    /// outcome.
    fn learn(&self, stack: &str, service: &'static str, result: &CloudResult<()>) {
        let mut windows = self.windows();
        let change = match self.cloud.throttling(service) {
            Some(total) => windows.metered(service, total),
            None => windows.record(
                service,
                crate::congestion::Throttling {
                    attempts: 1,
                    throttled: u64::from(result.as_ref().is_err_and(CloudError::is_throttling)),
                },
            ),
        };
        if let Some(c) = change {
            tracing::info!(
                stack,
                service = c.service,
                from = c.from,
                to = c.to,
                throttled_share = c.throttled_share,
                "concurrency window"
            );
        }
    }

    fn windows(&self) -> std::sync::MutexGuard<'_, crate::congestion::Windows> {
        // Poisoned only by a panic while adjusting a window: the windows stay usable.
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `fut` unless `stop_at` (ms) comes first. A call still unanswered then (a retry
    /// loop under heavy throttling) is abandoned so that the invocation answers before Lambda
    /// kills it; every step is idempotent and re-checked by the next pass, so an abandoned call
    /// that did take effect is simply found done.
    pub(super) async fn before<T>(
        &self,
        stop_at: i64,
        fut: impl std::future::Future<Output = T>,
    ) -> Option<T> {
        let left = u64::try_from(stop_at - self.clock.now_ms())
            .ok()
            .filter(|&l| l > 0)?;
        let timer = self.clock.sleep(Duration::from_millis(left));
        futures::pin_mut!(fut);
        match futures::future::select(fut, timer).await {
            futures::future::Either::Left((value, _)) => Some(value),
            futures::future::Either::Right(_) => None,
        }
    }

    pub(super) async fn apply(
        &self,
        action: &Action,
        obs: &Observation,
        fence_at: i64,
    ) -> Result<(), CloudError> {
        if self.options.reduce_only && !action.reduces_cost() {
            return Err(CloudError::refused(
                action.resource(),
                format!("this deployment can only reduce cost; refusing to {action}"),
            ));
        }
        match action {
            Action::SetScalingBounds {
                cluster,
                service,
                min,
                max,
            } => {
                self.cloud
                    .set_scalable_target(
                        &scalable_resource_id(cluster, service),
                        Bounds {
                            min: *min,
                            max: *max,
                        },
                    )
                    .await
            }
            Action::SetDesiredCount {
                cluster,
                service,
                count,
            } => self.cloud.set_desired_count(cluster, service, *count).await,
            Action::StopDb { id } => self.cloud.stop_db(id).await,
            Action::StartDb { id } => self.cloud.start_db(id).await,
            Action::DeleteDb { id, final_snapshot } => {
                self.cloud.delete_db(id, final_snapshot).await
            }
            Action::RestoreDb { id, snapshot, spec } => {
                self.cloud.restore_db(id, snapshot, spec).await
            }
            Action::ModifyDb { id, spec, fields } => self.cloud.modify_db(id, spec, fields).await,
            Action::ApplyLoadBalancer { spec } => {
                self.cloud.apply_load_balancer(spec, fence_at).await
            }
            Action::DeleteLoadBalancer { arn, .. } => self.cloud.delete_load_balancer(arn).await,
            Action::CreateKafkaCluster { spec } => {
                self.cloud.create_kafka_cluster(spec, fence_at).await
            }
            Action::DeleteKafkaCluster { arn, .. } => self.cloud.delete_kafka_cluster(arn).await,
            // The values to publish exist only once the resource does: they are read from the
            // observation the plan was made from (the step is planned after the gate that
            // waits for them, so a later pass has them).
            Action::PublishKafkaBootstrap { cluster, parameter } => {
                let boot = obs
                    .kafka_clusters
                    .get(cluster)
                    .filter(|c| c.state == "ACTIVE")
                    .and_then(|c| c.bootstrap.as_deref())
                    .ok_or_else(|| not_yet(format!("msk:{cluster}"), "bootstrap brokers"))?;
                self.cloud.put_parameter(parameter, boot).await
            }
            Action::PublishLoadBalancerDns {
                load_balancer,
                parameter,
            } => {
                let lb = obs
                    .load_balancers
                    .get(load_balancer)
                    .ok_or_else(|| not_yet(format!("alb:{load_balancer}"), "DNS name"))?;
                self.cloud.put_parameter(parameter, &lb.dns_name).await
            }
            Action::UpsertAlias {
                load_balancer,
                zone_id,
                name,
            } => {
                let lb = obs
                    .load_balancers
                    .get(load_balancer)
                    .ok_or_else(|| not_yet(format!("alb:{load_balancer}"), "DNS name"))?;
                self.cloud
                    .upsert_alias(zone_id, name, &lb.dns_name, &lb.zone_id)
                    .await
            }
            Action::SetAlarmActions { names, enabled } => {
                self.cloud.set_alarm_actions(names, *enabled).await
            }
            Action::PointAlarm {
                name,
                load_balancer,
                definition,
                actions_enabled,
            } => {
                let dimension = obs
                    .load_balancers
                    .get(load_balancer)
                    .and_then(|lb| costctl_core::observation::lb_dimension(&lb.arn))
                    .ok_or_else(|| not_yet(format!("alb:{load_balancer}"), "the ALB's ID"))?;
                self.cloud
                    .put_metric_alarm(
                        name,
                        &definition.pointed_at(load_balancer, dimension),
                        *actions_enabled,
                    )
                    .await
            }
            Action::CreateNatGateway { spec, client_token } => {
                self.cloud
                    .create_nat_gateway(spec, client_token, fence_at)
                    .await
            }
            Action::DeleteNatGateway { id, .. } => self.cloud.delete_nat_gateway(id).await,
            // The gateway's ID exists only once it does: read from the observation the plan was
            // made from (the step is planned after the gate that waits for it).
            Action::PointNatRoutes { subnet, routes } => {
                let nat = obs
                    .nat_gateways
                    .get(subnet)
                    .filter(|n| n.of_stack && n.state == "available")
                    .ok_or_else(|| not_yet(format!("nat:{subnet}"), "the NAT gateway's ID"))?;
                self.cloud.point_routes(routes, &nat.id, fence_at).await
            }
            Action::CreateVpcEndpoint { spec, client_token } => {
                self.cloud
                    .create_vpc_endpoint(spec, client_token, fence_at)
                    .await
            }
            Action::DeleteVpcEndpoint { id, .. } => self.cloud.delete_vpc_endpoint(id).await,
            Action::AwaitServiceCount { .. }
            | Action::AwaitNatGateway { .. }
            | Action::AwaitVpcEndpoint { .. }
            | Action::AwaitDb { .. }
            | Action::AwaitDbModified { .. }
            | Action::AwaitSnapshot { .. }
            | Action::AwaitLoadBalancer { .. }
            | Action::AwaitKafkaCluster { .. }
            | Action::AwaitAll { .. } => Ok(()),
        }
    }
}

/// A value to publish is not known yet: try again on the next pass.
pub(super) fn not_yet(resource: String, what: &str) -> CloudError {
    CloudError::Transient {
        operation: "publish",
        resource,
        code: "NotYetAvailable".into(),
        message: format!("{what} not known yet"),
    }
}
