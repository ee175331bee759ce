//! The AWS side of the ALB apply loop ([`crate::alb_apply`]): the live load balancer read for
//! the planner, and each [`AlbCall`] sent as one ELBv2 or WAFv2 request.
//!
//! Nothing here decides what to change; the pure diff did. OIDC client secrets are read from
//! Secrets Manager only for the calls that write an `authenticate-oidc` action, just before
//! that call, and never kept.

use crate::alb_apply::{AlbCalls, AlbTarget, Learnt};
use crate::aws::AwsCloud;
use crate::cloud::system_now_ms;
use crate::elbv2_spec::{MissingSecret, actions, conditions, mutual, protocol, tags};
use crate::error::{CloudError, CloudResult, FromSdk};
use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Certificate, IpAddressType, ListenerAttribute, LoadBalancerAttribute, LoadBalancerSchemeEnum,
    LoadBalancerTypeEnum, MutualAuthenticationAttributes,
};
use costctl_core::alb::{AlbCall, LiveAlb, listener, rule};
use costctl_core::spec::{ActionSpec, IpAddressType as SpecIpType, LoadBalancerSpec, Scheme};

fn certificates(arns: &[String]) -> Vec<Certificate> {
    arns.iter()
        .map(|c| Certificate::builder().certificate_arn(c).build())
        .collect()
}

impl AwsCloud {
    /// The SDK form of `list`, its OIDC client secrets read first; refused when an OIDC action
    /// names no secret (`place` says where, e.g. "listener 443").
    async fn elb_actions(
        &self,
        spec: &LoadBalancerSpec,
        list: &[ActionSpec],
        modifying: bool,
        place: String,
    ) -> CloudResult<Vec<aws_sdk_elasticloadbalancingv2::types::Action>> {
        let secrets = self.elb_client_secrets(&spec.name, list).await?;
        actions(list, &secrets, modifying).map_err(|MissingSecret(client)| {
            CloudError::refused(
                format!("alb:{}", spec.name),
                format!(
                    "cannot create {place}: its authenticate-oidc action (client {client}) needs `client_secret_arn`, the Secrets Manager secret holding the client secret (nothing was changed)"
                ),
            )
        })
    }
}

#[async_trait]
impl AlbCalls for AwsCloud {
    async fn check_alb_dependencies(&self, spec: &LoadBalancerSpec) -> CloudResult<()> {
        self.elb_check_dependencies(spec).await
    }

    async fn live_alb(&self, name: &str) -> CloudResult<Option<LiveAlb>> {
        let Some(lb) = self.elb_by_name(name).await? else {
            return Ok(None);
        };
        let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
        let tags = self
            .elb_tags(std::slice::from_ref(&arn))
            .await?
            .remove(&arn)
            .unwrap_or_default();
        self.elb_learn(name, &arn, &tags);
        Ok(Some(self.elb_capture(&lb, tags).await?.1))
    }

    fn now_ms(&self) -> i64 {
        system_now_ms()
    }

    #[allow(clippy::too_many_lines)]
    async fn send_alb_call(
        &self,
        spec: &LoadBalancerSpec,
        call: &AlbCall,
        target: &AlbTarget,
    ) -> CloudResult<Learnt> {
        let op = call.operation();
        let resource = format!("alb:{}", spec.name);
        let lb = target.arn.clone();
        let mut learnt = Learnt::Nothing;
        match call {
            AlbCall::CreateLoadBalancer => {
                let out = self
                    .elb
                    .create_load_balancer()
                    .name(&spec.name)
                    .set_subnets(Some(spec.subnets.clone()))
                    .set_security_groups(Some(spec.security_groups.clone()))
                    // internet-facing is the default; moto 5.2.1 forgets an explicit one.
                    .set_scheme(match spec.scheme {
                        Scheme::InternetFacing => None,
                        Scheme::Internal => Some(LoadBalancerSchemeEnum::Internal),
                    })
                    .r#type(LoadBalancerTypeEnum::Application)
                    .ip_address_type(match spec.ip_address_type {
                        SpecIpType::Ipv4 => IpAddressType::Ipv4,
                        SpecIpType::Dualstack => IpAddressType::Dualstack,
                        SpecIpType::DualstackWithoutPublicIpv4 => {
                            IpAddressType::DualstackWithoutPublicIpv4
                        }
                    })
                    .set_tags(Some(tags(&spec.tags)).filter(|t| !t.is_empty()))
                    .send()
                    .await
                    .map_err(|e| CloudError::from_sdk(op, &resource, e))?;
                let arn = out
                    .load_balancers()
                    .first()
                    .and_then(|l| l.load_balancer_arn())
                    .ok_or_else(|| {
                        CloudError::refused(
                            &resource,
                            "CreateLoadBalancer answered no load balancer",
                        )
                    })?
                    .to_string();
                self.elb_learn(&spec.name, &arn, &spec.tags);
                learnt = Learnt::LoadBalancer(arn);
            }
            AlbCall::ModifyLoadBalancerAttributes { changes } => {
                self.elb
                    .modify_load_balancer_attributes()
                    .load_balancer_arn(&lb)
                    .set_attributes(Some(
                        changes
                            .iter()
                            .map(|(k, v)| LoadBalancerAttribute::builder().key(k).value(v).build())
                            .collect(),
                    ))
                    .send()
                    .await
                    .map_err(|e| CloudError::from_sdk(op, &lb, e))?;
            }
            AlbCall::AddTags { tags: add } => {
                self.elb
                    .add_tags()
                    .resource_arns(&lb)
                    .set_tags(Some(tags(add)))
                    .send()
                    .await
                    .map_err(|e| CloudError::from_sdk(op, &lb, e))?;
            }
            AlbCall::RemoveTags { keys } => {
                self.elb
                    .remove_tags()
                    .resource_arns(&lb)
                    .set_tag_keys(Some(keys.clone()))
                    .send()
                    .await
                    .map_err(|e| CloudError::from_sdk(op, &lb, e))?;
            }
            AlbCall::DeleteListener { port, arn } => {
                self.elb
                    .delete_listener()
                    .listener_arn(arn)
                    .send()
                    .await
                    .map_err(|e| CloudError::from_sdk(op, arn, e))?;
                learnt = Learnt::ListenerGone(*port);
            }
            AlbCall::CreateListener { port } | AlbCall::ModifyListener { port, .. } => {
                let want = listener(spec, *port).ok_or_else(|| unplanned(&resource, call))?;
                let modifying = matches!(call, AlbCall::ModifyListener { .. });
                let default_actions = self
                    .elb_actions(
                        spec,
                        &want.default_actions,
                        modifying,
                        format!("listener {port}"),
                    )
                    .await?;
                let certificates = want
                    .certificate_arn
                    .as_ref()
                    .map(|c| certificates(std::slice::from_ref(c)));
                let mutual_authentication = mutual(want.mutual_authentication.as_ref());
                if let AlbCall::ModifyListener {
                    arn, mutual_off, ..
                } = call
                {
                    self.elb
                        .modify_listener()
                        .listener_arn(arn)
                        .port(i32::from(*port))
                        .protocol(protocol(want.protocol))
                        .set_ssl_policy(want.ssl_policy.clone())
                        .set_certificates(certificates)
                        .set_mutual_authentication(mutual_authentication.or_else(|| {
                            mutual_off.then(|| {
                                MutualAuthenticationAttributes::builder()
                                    .mode("off")
                                    .build()
                            })
                        }))
                        .set_default_actions(Some(default_actions))
                        .send()
                        .await
                        .map_err(|e| CloudError::from_sdk(op, arn, e))?;
                } else {
                    let out = self
                        .elb
                        .create_listener()
                        .load_balancer_arn(&lb)
                        .port(i32::from(*port))
                        .protocol(protocol(want.protocol))
                        .set_ssl_policy(want.ssl_policy.clone())
                        .set_certificates(certificates)
                        .set_mutual_authentication(mutual_authentication)
                        .set_default_actions(Some(default_actions))
                        .send()
                        .await
                        .map_err(|e| CloudError::from_sdk(op, format!("{resource}:{port}"), e))?;
                    let arn = out
                        .listeners()
                        .first()
                        .and_then(|l| l.listener_arn())
                        .unwrap_or_default();
                    learnt = Learnt::Listener(*port, arn.to_string());
                }
            }
            AlbCall::ModifyListenerAttributes { port, changes } => {
                let arn = target.listener(*port);
                self.elb
                    .modify_listener_attributes()
                    .listener_arn(arn)
                    .set_attributes(Some(
                        changes
                            .iter()
                            .map(|(k, v)| ListenerAttribute::builder().key(k).value(v).build())
                            .collect(),
                    ))
                    .send()
                    .await
                    .map_err(|e| CloudError::from_sdk(op, arn, e))?;
            }
            AlbCall::AddListenerCertificates {
                port,
                certificates: add,
            } => {
                let arn = target.listener(*port);
                self.elb
                    .add_listener_certificates()
                    .listener_arn(arn)
                    .set_certificates(Some(certificates(add)))
                    .send()
                    .await
                    .map_err(|e| CloudError::from_sdk(op, arn, e))?;
            }
            AlbCall::RemoveListenerCertificates {
                port,
                certificates: remove,
            } => {
                let arn = target.listener(*port);
                self.elb
                    .remove_listener_certificates()
                    .listener_arn(arn)
                    .set_certificates(Some(certificates(remove)))
                    .send()
                    .await
                    .map_err(|e| CloudError::from_sdk(op, arn, e))?;
            }
            AlbCall::DeleteRule { arn, .. } => {
                self.elb
                    .delete_rule()
                    .rule_arn(arn)
                    .send()
                    .await
                    .map_err(|e| CloudError::from_sdk(op, arn, e))?;
            }
            AlbCall::ModifyRule { port, priority, .. } | AlbCall::CreateRule { port, priority } => {
                let want =
                    rule(spec, *port, *priority).ok_or_else(|| unplanned(&resource, call))?;
                let place = format!("rule {priority} of listener {port}");
                if let AlbCall::ModifyRule { arn, .. } = call {
                    let rule_actions = self.elb_actions(spec, &want.actions, true, place).await?;
                    self.elb
                        .modify_rule()
                        .rule_arn(arn)
                        .set_conditions(Some(conditions(&want.conditions)))
                        .set_actions(Some(rule_actions))
                        .send()
                        .await
                        .map_err(|e| CloudError::from_sdk(op, arn, e))?;
                } else {
                    let rule_actions = self.elb_actions(spec, &want.actions, false, place).await?;
                    self.elb
                        .create_rule()
                        .listener_arn(target.listener(*port))
                        .priority(i32::try_from(*priority).unwrap_or(i32::MAX))
                        .set_conditions(Some(conditions(&want.conditions)))
                        .set_actions(Some(rule_actions))
                        .send()
                        .await
                        .map_err(|e| {
                            CloudError::from_sdk(op, format!("{resource}:{port}:{priority}"), e)
                        })?;
                }
            }
            AlbCall::AssociateWebAcl { web_acl_arn } => {
                self.wafv2
                    .associate_web_acl()
                    .web_acl_arn(web_acl_arn)
                    .resource_arn(&lb)
                    .send()
                    .await
                    .map_err(|e| CloudError::from_sdk(op, &lb, e))?;
            }
            AlbCall::DisassociateWebAcl => {
                self.wafv2
                    .disassociate_web_acl()
                    .resource_arn(&lb)
                    .send()
                    .await
                    .map_err(|e| CloudError::from_sdk(op, &lb, e))?;
            }
        }
        Ok(learnt)
    }
}

/// A call naming a listener or rule its spec does not have: a planner defect, refused.
fn unplanned(resource: &str, call: &AlbCall) -> CloudError {
    CloudError::refused(
        resource,
        format!("internal error: {call:?} names nothing of the spec (nothing was sent)"),
    )
}
