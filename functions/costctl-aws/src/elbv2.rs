//! Application Load Balancers: discovery with the full spec captured (listeners, rules,
//! non-default attributes, tags), delete, and create-or-update from a spec.
//!
//! "Apply" is one idempotent operation: it creates the load balancer when none of that name
//! exists, then brings listeners, rules, attributes and tags to the spec with Create*/Modify*/
//! Delete* calls. Repeated after a crash or a failure half-way, it completes what is missing.
//! Before anything is created it checks that every certificate and target group the spec names
//! exists, so a resume that cannot succeed fails with the missing dependency named and without
//! creating a load balancer it would have to leave half-configured.

use crate::aws::AwsCloud;
use crate::cloud::{fence, system_now_ms};
use crate::elbv2_spec::{
    ClientSecrets, MissingSecret, actions, actions_spec, conditions, lb_unsupported, mutual,
    mutual_spec, protocol, rule_spec, secret_arns, tags,
};
use crate::error::{CloudError, CloudResult};
use aws_sdk_elasticloadbalancingv2::types::{
    Certificate, IpAddressType, Listener, ListenerAttribute, LoadBalancer, LoadBalancerAttribute,
    LoadBalancerSchemeEnum, LoadBalancerTypeEnum, ProtocolEnum,
};
use costctl_core::Selector;
use costctl_core::ephemeral::{
    alb_attribute_default, alb_attribute_ignored, attribute_changes, listener_attribute_default,
    listener_matches, non_default_attributes, non_default_listener_attributes, rule_matches,
};
use costctl_core::observation::LoadBalancerObs;
use costctl_core::spec::{
    ActionSpec, IpAddressType as SpecIpType, ListenerProtocol, ListenerSpec, LoadBalancerSpec,
    LoadBalancerType, Scheme,
};
use futures::{StreamExt, TryStreamExt, stream};
use std::collections::{BTreeMap, BTreeSet};

const DESCRIBE_TAGS_BATCH: usize = 20;

/// A listener as it exists, with its ARN.
struct LiveListener {
    arn: String,
    spec: ListenerSpec,
    /// Rule ARNs by priority.
    rule_arns: BTreeMap<u32, String>,
    /// What the spec format cannot express (see `elbv2_spec`).
    unsupported: Vec<String>,
}

impl AwsCloud {
    /// ALBs carrying the selector's tags, plus those named (found or not by the selector).
    pub(crate) async fn elb_find(
        &self,
        selector: &Selector,
        names: &[String],
    ) -> CloudResult<Vec<LoadBalancerObs>> {
        let by_tags = matches!(selector, Selector::Tags(_));
        if !by_tags && names.is_empty() {
            return Ok(Vec::new());
        }
        let all: Vec<LoadBalancer> = self
            .elb
            .describe_load_balancers()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| {
                CloudError::from_sdk("elasticloadbalancing:DescribeLoadBalancers", "*", e)
            })?;
        let albs: Vec<&LoadBalancer> = all
            .iter()
            .filter(|lb| lb.r#type() == Some(&LoadBalancerTypeEnum::Application))
            .filter(|lb| {
                by_tags
                    || names
                        .iter()
                        .any(|n| Some(n.as_str()) == lb.load_balancer_name())
            })
            .collect();
        let arns: Vec<String> = albs
            .iter()
            .filter_map(|lb| lb.load_balancer_arn().map(str::to_string))
            .collect();
        let tags = self.elb_tags(&arns).await?;
        let wanted: Vec<&LoadBalancer> = albs
            .into_iter()
            .filter(|lb| {
                let name = lb.load_balancer_name().unwrap_or_default();
                let arn = lb.load_balancer_arn().unwrap_or_default();
                names.iter().any(|n| n == name)
                    || tags.get(arn).is_some_and(|t| {
                        selector.matches_tags(t.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                    })
            })
            .collect();
        let wanted: Vec<(LoadBalancer, BTreeMap<String, String>)> = wanted
            .into_iter()
            .map(|lb| {
                let t = tags
                    .get(lb.load_balancer_arn().unwrap_or_default())
                    .cloned()
                    .unwrap_or_default();
                (lb.clone(), t)
            })
            .collect();
        stream::iter(wanted)
            .map(|(lb, tags)| async move { self.elb_capture(&lb, tags).await.map(|(obs, _)| obs) })
            .buffered(self.concurrency)
            .try_collect()
            .await
    }

    /// Tags of load balancers, by ARN, in batches of 20 (the API's limit).
    async fn elb_tags(
        &self,
        arns: &[String],
    ) -> CloudResult<BTreeMap<String, BTreeMap<String, String>>> {
        let batches: Vec<Vec<String>> = arns
            .chunks(DESCRIBE_TAGS_BATCH)
            .map(<[_]>::to_vec)
            .collect();
        let results: Vec<Vec<(String, BTreeMap<String, String>)>> = stream::iter(batches)
            .map(|batch| async move {
                let out = self
                    .elb
                    .describe_tags()
                    .set_resource_arns(Some(batch))
                    .send()
                    .await
                    .map_err(|e| {
                        CloudError::from_sdk("elasticloadbalancing:DescribeTags", "*", e)
                    })?;
                Ok::<_, CloudError>(
                    out.tag_descriptions()
                        .iter()
                        .map(|d| {
                            (
                                d.resource_arn().unwrap_or_default().to_string(),
                                d.tags()
                                    .iter()
                                    .filter_map(|t| {
                                        Some((
                                            t.key()?.to_string(),
                                            t.value().unwrap_or("").to_string(),
                                        ))
                                    })
                                    .collect(),
                            )
                        })
                        .collect(),
                )
            })
            .buffered(self.concurrency)
            .try_collect()
            .await?;
        Ok(results.into_iter().flatten().collect())
    }

    /// Captures the spec of one load balancer: attributes, listeners with their certificates
    /// and rules. Returns the live listeners too (with ARNs), for `elb_apply`.
    async fn elb_capture(
        &self,
        lb: &LoadBalancer,
        tags: BTreeMap<String, String>,
    ) -> CloudResult<(LoadBalancerObs, Vec<LiveListener>)> {
        let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
        let name = lb.load_balancer_name().unwrap_or_default().to_string();
        let (attributes, listeners, web_acl_arn) = futures::try_join!(
            self.elb_attributes(&arn),
            self.elb_listeners(&arn),
            self.elb_web_acl(&arn)
        )?;
        let mut unsupported = lb_unsupported(lb);
        unsupported.extend(listeners.iter().flat_map(|l| l.unsupported.iter().cloned()));
        let deletion_protection = attributes
            .get("deletion_protection.enabled")
            .is_some_and(|v| v == "true");
        let mut subnets: Vec<String> = lb
            .availability_zones()
            .iter()
            .filter_map(|z| z.subnet_id().map(str::to_string))
            .collect();
        subnets.sort();
        let mut security_groups: Vec<String> = lb.security_groups().to_vec();
        security_groups.sort();
        let spec = LoadBalancerSpec {
            name,
            scheme: match lb.scheme() {
                Some(LoadBalancerSchemeEnum::Internal) => Scheme::Internal,
                _ => Scheme::InternetFacing,
            },
            lb_type: LoadBalancerType::Application,
            ip_address_type: match lb.ip_address_type() {
                Some(IpAddressType::Dualstack) => SpecIpType::Dualstack,
                Some(IpAddressType::DualstackWithoutPublicIpv4) => {
                    SpecIpType::DualstackWithoutPublicIpv4
                }
                _ => SpecIpType::Ipv4,
            },
            subnets,
            security_groups,
            attributes: non_default_attributes(&attributes),
            tags,
            web_acl_arn,
            dns_name_parameter: None,
            aliases: Vec::new(),
            listeners: listeners.iter().map(|l| l.spec.clone()).collect(),
        };
        Ok((
            LoadBalancerObs {
                arn,
                dns_name: lb.dns_name().unwrap_or_default().to_string(),
                zone_id: lb
                    .canonical_hosted_zone_id()
                    .unwrap_or_default()
                    .to_string(),
                state: lb
                    .state()
                    .and_then(|s| s.code())
                    .map_or("unknown", |c| c.as_str())
                    .to_string(),
                deletion_protection,
                spec,
                unsupported,
            },
            listeners,
        ))
    }

    /// The regional WAF web ACL associated with a load balancer, if any.
    async fn elb_web_acl(&self, arn: &str) -> CloudResult<Option<String>> {
        match self
            .wafv2
            .get_web_acl_for_resource()
            .resource_arn(arn)
            .send()
            .await
        {
            Ok(out) => Ok(out.web_acl().map(|w| w.arn().to_string())),
            Err(e) => CloudError::from_sdk("wafv2:GetWebACLForResource", arn, e).absent_as_none(),
        }
    }

    /// Associates `want` (or disassociates, for `None`) when it differs from what is.
    async fn elb_set_web_acl(
        &self,
        arn: &str,
        want: Option<&str>,
        fenced: impl Fn(&'static str) -> CloudResult<()>,
    ) -> CloudResult<()> {
        let have = self.elb_web_acl(arn).await?;
        if have.as_deref() == want {
            return Ok(());
        }
        match want {
            Some(acl) => {
                fenced("wafv2:AssociateWebACL")?;
                self.wafv2
                    .associate_web_acl()
                    .web_acl_arn(acl)
                    .resource_arn(arn)
                    .send()
                    .await
                    .map_err(|e| CloudError::from_sdk("wafv2:AssociateWebACL", arn, e))?;
            }
            None => {
                fenced("wafv2:DisassociateWebACL")?;
                self.wafv2
                    .disassociate_web_acl()
                    .resource_arn(arn)
                    .send()
                    .await
                    .map_err(|e| CloudError::from_sdk("wafv2:DisassociateWebACL", arn, e))?;
            }
        }
        Ok(())
    }

    /// Reads the client secrets the spec's OIDC actions name, by ARN.
    async fn elb_client_secrets(&self, spec: &LoadBalancerSpec) -> CloudResult<ClientSecrets> {
        let arns: BTreeSet<String> = secret_arns(spec.listeners.iter().flat_map(|l| {
            l.default_actions
                .iter()
                .chain(l.rules.iter().flat_map(|r| &r.actions))
        }))
        .into_iter()
        .collect();
        let mut out = ClientSecrets::new();
        for arn in arns {
            let value = self
                .secrets
                .get_secret_value()
                .secret_id(&arn)
                .send()
                .await
                .map_err(|e| CloudError::from_sdk("secretsmanager:GetSecretValue", &arn, e))?;
            let Some(secret) = value.secret_string() else {
                return Err(CloudError::refused(
                    format!("alb:{}", spec.name),
                    format!(
                        "secret {arn} has no SecretString: the OIDC client secret must be stored as text"
                    ),
                ));
            };
            out.insert(arn, secret.to_string());
        }
        Ok(out)
    }

    async fn elb_attributes(&self, arn: &str) -> CloudResult<BTreeMap<String, String>> {
        let out = self
            .elb
            .describe_load_balancer_attributes()
            .load_balancer_arn(arn)
            .send()
            .await
            .map_err(|e| {
                CloudError::from_sdk(
                    "elasticloadbalancing:DescribeLoadBalancerAttributes",
                    arn,
                    e,
                )
            })?;
        Ok(out
            .attributes()
            .iter()
            .filter_map(|a| Some((a.key()?.to_string(), a.value().unwrap_or("").to_string())))
            .collect())
    }

    async fn elb_listeners(&self, lb_arn: &str) -> CloudResult<Vec<LiveListener>> {
        let listeners: Vec<Listener> = self
            .elb
            .describe_listeners()
            .load_balancer_arn(lb_arn)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| {
                CloudError::from_sdk("elasticloadbalancing:DescribeListeners", lb_arn, e)
            })?;
        let mut out: Vec<LiveListener> = stream::iter(listeners)
            .map(|l| async move { self.elb_live_listener(&l).await })
            .buffered(self.concurrency)
            .try_collect()
            .await?;
        out.sort_by_key(|l| l.spec.port);
        Ok(out)
    }

    async fn elb_live_listener(&self, l: &Listener) -> CloudResult<LiveListener> {
        let arn = l.listener_arn().unwrap_or_default().to_string();
        let https = l.protocol() == Some(&ProtocolEnum::Https);
        let rules_fut = async {
            self.elb
                .describe_rules()
                .listener_arn(&arn)
                .send()
                .await
                .map_err(|e| CloudError::from_sdk("elasticloadbalancing:DescribeRules", &arn, e))
        };
        let certs_fut = async {
            if !https {
                return Ok(Vec::new());
            }
            let out = self
                .elb
                .describe_listener_certificates()
                .listener_arn(&arn)
                .send()
                .await
                .map_err(|e| {
                    CloudError::from_sdk(
                        "elasticloadbalancing:DescribeListenerCertificates",
                        &arn,
                        e,
                    )
                })?;
            Ok(out.certificates().to_vec())
        };
        let attrs_fut = self.elb_listener_attributes(&arn);
        let (rules, certs, attributes) = futures::try_join!(rules_fut, certs_fut, attrs_fut)?;
        let default_cert = l
            .certificates()
            .iter()
            .find(|c| c.is_default() != Some(false))
            .and_then(|c| c.certificate_arn())
            .map(str::to_string);
        let mut additional: Vec<String> = certs
            .iter()
            .filter(|c| c.is_default() != Some(true))
            .filter_map(|c| c.certificate_arn().map(str::to_string))
            .filter(|a| Some(a) != default_cert.as_ref())
            .collect();
        additional.sort();
        additional.dedup();
        let port = u16::try_from(l.port().unwrap_or(0)).unwrap_or(0);
        let mut unsupported = Vec::new();
        let mut rule_arns = BTreeMap::new();
        let mut rule_specs = Vec::new();
        for r in rules.rules() {
            if r.is_default() == Some(true) {
                continue;
            }
            let Some(priority) = r.priority().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            rule_arns.insert(priority, r.rule_arn().unwrap_or_default().to_string());
            rule_specs.push(rule_spec(r, priority, port, &mut unsupported));
        }
        rule_specs.sort_by_key(|r| r.priority);
        let mutual_authentication = mutual_spec(l, port, &mut unsupported);
        let default_actions = actions_spec(
            l.default_actions(),
            &format!("listener {port} default action"),
            &mut unsupported,
        );
        Ok(LiveListener {
            arn,
            rule_arns,
            unsupported,
            spec: ListenerSpec {
                port,
                protocol: if https {
                    ListenerProtocol::Https
                } else {
                    ListenerProtocol::Http
                },
                ssl_policy: if https {
                    l.ssl_policy().map(str::to_string)
                } else {
                    None
                },
                certificate_arn: if https { default_cert } else { None },
                additional_certificate_arns: if https { additional } else { Vec::new() },
                mutual_authentication,
                attributes: non_default_listener_attributes(&attributes),
                default_actions,
                rules: rule_specs,
            },
        })
    }

    async fn elb_listener_attributes(&self, arn: &str) -> CloudResult<BTreeMap<String, String>> {
        let out = self
            .elb
            .describe_listener_attributes()
            .listener_arn(arn)
            .send()
            .await
            .map_err(|e| {
                CloudError::from_sdk("elasticloadbalancing:DescribeListenerAttributes", arn, e)
            })?;
        Ok(out
            .attributes()
            .iter()
            .filter_map(|a| Some((a.key()?.to_string(), a.value().unwrap_or("").to_string())))
            .collect())
    }

    /// Brings a listener's attributes to `want`: the spec's values, and back to AWS's default
    /// for those set now and no longer in the spec.
    async fn elb_set_listener_attributes(
        &self,
        listener_arn: &str,
        have: &BTreeMap<String, String>,
        want: &BTreeMap<String, String>,
        fenced: impl Fn(&'static str) -> CloudResult<()>,
    ) -> CloudResult<()> {
        let changes = attribute_changes(have, want, listener_attribute_default, |_| false);
        if changes.is_empty() {
            return Ok(());
        }
        fenced("elasticloadbalancing:ModifyListenerAttributes")?;
        self.elb
            .modify_listener_attributes()
            .listener_arn(listener_arn)
            .set_attributes(Some(
                changes
                    .iter()
                    .map(|(k, v)| ListenerAttribute::builder().key(k).value(v).build())
                    .collect(),
            ))
            .send()
            .await
            .map_err(|e| {
                CloudError::from_sdk(
                    "elasticloadbalancing:ModifyListenerAttributes",
                    listener_arn,
                    e,
                )
            })?;
        Ok(())
    }

    pub(crate) async fn elb_delete(&self, arn: &str) -> CloudResult<()> {
        match self
            .elb
            .delete_load_balancer()
            .load_balancer_arn(arn)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let err = CloudError::from_sdk("elasticloadbalancing:DeleteLoadBalancer", arn, e);
                if err.is_not_found() { Ok(()) } else { Err(err) }
            }
        }
    }

    async fn elb_by_name(&self, name: &str) -> CloudResult<Option<LoadBalancer>> {
        match self.elb.describe_load_balancers().names(name).send().await {
            Ok(out) => Ok(out.load_balancers().first().cloned()),
            Err(e) => {
                let err =
                    CloudError::from_sdk("elasticloadbalancing:DescribeLoadBalancers", name, e);
                if err.is_not_found() {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// Refuses, naming it, a certificate or target group the spec needs that does not exist.
    pub(crate) async fn elb_check_dependencies(&self, spec: &LoadBalancerSpec) -> CloudResult<()> {
        let resource = format!("alb:{}", spec.name);
        let mut tgs = BTreeSet::new();
        let mut certs: BTreeMap<&str, u16> = BTreeMap::new();
        for l in &spec.listeners {
            for a in l
                .default_actions
                .iter()
                .chain(l.rules.iter().flat_map(|r| &r.actions))
            {
                if let ActionSpec::Forward {
                    target_group_arn: Some(tg),
                    ..
                } = a
                {
                    tgs.insert(tg.clone());
                }
            }
            for c in l
                .certificate_arn
                .iter()
                .chain(&l.additional_certificate_arns)
            {
                certs.insert(c, l.port);
            }
        }
        for (cert, port) in certs {
            if let Err(e) = self
                .acm
                .describe_certificate()
                .certificate_arn(cert)
                .send()
                .await
            {
                let err = CloudError::from_sdk("acm:DescribeCertificate", cert, e);
                if err.is_not_found() {
                    return Err(CloudError::refused(
                        resource,
                        format!(
                            "cannot create or update: certificate {cert} of listener {port} does not exist (nothing was created)"
                        ),
                    ));
                }
                return Err(err);
            }
        }
        if tgs.is_empty() {
            return Ok(());
        }
        let all: Vec<String> = tgs.into_iter().collect();
        let found: BTreeSet<String> = match self
            .elb
            .describe_target_groups()
            .set_target_group_arns(Some(all.clone()))
            .send()
            .await
        {
            Ok(out) => out
                .target_groups()
                .iter()
                .filter_map(|t| t.target_group_arn().map(str::to_string))
                .collect(),
            Err(e) => {
                let err = CloudError::from_sdk("elasticloadbalancing:DescribeTargetGroups", "*", e);
                if !err.is_not_found() {
                    return Err(err);
                }
                // One of them is missing: find which, one by one.
                let mut found = BTreeSet::new();
                for tg in &all {
                    if self
                        .elb
                        .describe_target_groups()
                        .target_group_arns(tg)
                        .send()
                        .await
                        .is_ok()
                    {
                        found.insert(tg.clone());
                    }
                }
                found
            }
        };
        if let Some(missing) = all.iter().find(|tg| !found.contains(*tg)) {
            return Err(CloudError::refused(
                resource,
                format!(
                    "cannot create or update: target group {missing} does not exist (nothing was created)"
                ),
            ));
        }
        Ok(())
    }

    /// Creates the load balancer if needed and brings it to the spec.
    pub(crate) async fn elb_apply(
        &self,
        spec: &LoadBalancerSpec,
        not_after_ms: i64,
    ) -> CloudResult<()> {
        let resource = format!("alb:{}", spec.name);
        let fenced = |op: &'static str| fence(system_now_ms(), not_after_ms, op, &resource);
        self.elb_check_dependencies(spec).await?;
        let lb = match self.elb_by_name(&spec.name).await? {
            Some(lb) => lb,
            None => {
                fenced("elasticloadbalancing:CreateLoadBalancer")?;
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
                    .map_err(|e| {
                        CloudError::from_sdk(
                            "elasticloadbalancing:CreateLoadBalancer",
                            &resource,
                            e,
                        )
                    })?;
                out.load_balancers().first().cloned().ok_or_else(|| {
                    CloudError::refused(&resource, "CreateLoadBalancer answered no load balancer")
                })?
            }
        };
        let arn = lb.load_balancer_arn().unwrap_or_default().to_string();

        // Attributes: the spec's, and back to the default for those no longer in it.
        let current = self.elb_attributes(&arn).await?;
        let changes = attribute_changes(
            &current,
            &spec.attributes,
            |k| alb_attribute_default(k).map(str::to_string),
            alb_attribute_ignored,
        );
        if !changes.is_empty() {
            fenced("elasticloadbalancing:ModifyLoadBalancerAttributes")?;
            self.elb
                .modify_load_balancer_attributes()
                .load_balancer_arn(&arn)
                .set_attributes(Some(
                    changes
                        .iter()
                        .map(|(k, v)| LoadBalancerAttribute::builder().key(k).value(v).build())
                        .collect(),
                ))
                .send()
                .await
                .map_err(|e| {
                    CloudError::from_sdk(
                        "elasticloadbalancing:ModifyLoadBalancerAttributes",
                        &arn,
                        e,
                    )
                })?;
        }

        // Tags.
        let have = self
            .elb_tags(std::slice::from_ref(&arn))
            .await?
            .remove(&arn)
            .unwrap_or_default();
        let add: BTreeMap<String, String> = spec
            .tags
            .iter()
            .filter(|(k, v)| have.get(*k) != Some(*v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !add.is_empty() {
            fenced("elasticloadbalancing:AddTags")?;
            self.elb
                .add_tags()
                .resource_arns(&arn)
                .set_tags(Some(tags(&add)))
                .send()
                .await
                .map_err(|e| CloudError::from_sdk("elasticloadbalancing:AddTags", &arn, e))?;
        }
        let remove: Vec<String> = have
            .keys()
            .filter(|k| !spec.tags.contains_key(*k) && !k.starts_with("aws:"))
            .cloned()
            .collect();
        if !remove.is_empty() {
            fenced("elasticloadbalancing:RemoveTags")?;
            self.elb
                .remove_tags()
                .resource_arns(&arn)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| CloudError::from_sdk("elasticloadbalancing:RemoveTags", &arn, e))?;
        }

        // Listeners and their rules. Every changing call is fenced on the lease.
        let secrets = self.elb_client_secrets(spec).await?;
        let write = |list: &[ActionSpec], modifying: bool, place: String| {
            actions(list, &secrets, modifying).map_err(|MissingSecret(client)| {
                CloudError::refused(
                    &resource,
                    format!(
                        "cannot create {place}: its authenticate-oidc action (client {client}) needs `client_secret_arn`, the Secrets Manager secret holding the client secret (nothing was changed)"
                    ),
                )
            })
        };
        let live = self.elb_listeners(&arn).await?;
        for l in &live {
            if !spec.listeners.iter().any(|w| w.port == l.spec.port) {
                fenced("elasticloadbalancing:DeleteListener")?;
                self.elb
                    .delete_listener()
                    .listener_arn(&l.arn)
                    .send()
                    .await
                    .map_err(|e| {
                        CloudError::from_sdk("elasticloadbalancing:DeleteListener", &l.arn, e)
                    })?;
            }
        }
        for want in &spec.listeners {
            let existing = live.iter().find(|l| l.spec.port == want.port);
            let certificates = want
                .certificate_arn
                .as_ref()
                .map(|c| vec![Certificate::builder().certificate_arn(c).build()]);
            let have_attributes = existing
                .map(|l| l.spec.attributes.clone())
                .unwrap_or_default();
            let (listener_arn, have_rules, rule_arns, have_additional) = match existing {
                None => {
                    let default_actions = write(
                        &want.default_actions,
                        false,
                        format!("listener {}", want.port),
                    )?;
                    fenced("elasticloadbalancing:CreateListener")?;
                    let out = self
                        .elb
                        .create_listener()
                        .load_balancer_arn(&arn)
                        .port(i32::from(want.port))
                        .protocol(protocol(want.protocol))
                        .set_ssl_policy(want.ssl_policy.clone())
                        .set_certificates(certificates)
                        .set_mutual_authentication(mutual(want.mutual_authentication.as_ref()))
                        .set_default_actions(Some(default_actions))
                        .send()
                        .await
                        .map_err(|e| {
                            CloudError::from_sdk(
                                "elasticloadbalancing:CreateListener",
                                format!("{resource}:{}", want.port),
                                e,
                            )
                        })?;
                    let larn = out
                        .listeners()
                        .first()
                        .and_then(|l| l.listener_arn())
                        .unwrap_or_default()
                        .to_string();
                    (larn, Vec::new(), BTreeMap::new(), Vec::new())
                }
                Some(l) => {
                    if !listener_matches(&l.spec, want) {
                        let default_actions = write(
                            &want.default_actions,
                            true,
                            format!("listener {}", want.port),
                        )?;
                        fenced("elasticloadbalancing:ModifyListener")?;
                        self.elb
                            .modify_listener()
                            .listener_arn(&l.arn)
                            .port(i32::from(want.port))
                            .protocol(protocol(want.protocol))
                            .set_ssl_policy(want.ssl_policy.clone())
                            .set_certificates(certificates)
                            .set_mutual_authentication(
                                mutual(want.mutual_authentication.as_ref()).or_else(|| {
                                    // Absent in the spec means off: turn it off if it is on.
                                    l.spec.mutual_authentication.as_ref().map(|_| {
                                        aws_sdk_elasticloadbalancingv2::types::MutualAuthenticationAttributes::builder()
                                            .mode("off")
                                            .build()
                                    })
                                }),
                            )
                            .set_default_actions(Some(default_actions))
                            .send()
                            .await
                            .map_err(|e| {
                                CloudError::from_sdk(
                                    "elasticloadbalancing:ModifyListener",
                                    &l.arn,
                                    e,
                                )
                            })?;
                    }
                    (
                        l.arn.clone(),
                        l.spec.rules.clone(),
                        l.rule_arns.clone(),
                        l.spec.additional_certificate_arns.clone(),
                    )
                }
            };
            self.elb_set_listener_attributes(
                &listener_arn,
                &have_attributes,
                &want.attributes,
                fenced,
            )
            .await?;
            let add: Vec<&String> = want
                .additional_certificate_arns
                .iter()
                .filter(|c| !have_additional.contains(c))
                .collect();
            if !add.is_empty() {
                fenced("elasticloadbalancing:AddListenerCertificates")?;
                self.elb
                    .add_listener_certificates()
                    .listener_arn(&listener_arn)
                    .set_certificates(Some(
                        add.iter()
                            .map(|c| Certificate::builder().certificate_arn(*c).build())
                            .collect(),
                    ))
                    .send()
                    .await
                    .map_err(|e| {
                        CloudError::from_sdk(
                            "elasticloadbalancing:AddListenerCertificates",
                            &listener_arn,
                            e,
                        )
                    })?;
            }
            let remove: Vec<&String> = have_additional
                .iter()
                .filter(|c| !want.additional_certificate_arns.contains(c))
                .collect();
            if !remove.is_empty() {
                fenced("elasticloadbalancing:RemoveListenerCertificates")?;
                self.elb
                    .remove_listener_certificates()
                    .listener_arn(&listener_arn)
                    .set_certificates(Some(
                        remove
                            .iter()
                            .map(|c| Certificate::builder().certificate_arn(*c).build())
                            .collect(),
                    ))
                    .send()
                    .await
                    .map_err(|e| {
                        CloudError::from_sdk(
                            "elasticloadbalancing:RemoveListenerCertificates",
                            &listener_arn,
                            e,
                        )
                    })?;
            }
            // Rules: delete the ones whose priority is gone, then modify or create.
            for (priority, rule_arn) in &rule_arns {
                if !want.rules.iter().any(|r| r.priority == *priority) {
                    fenced("elasticloadbalancing:DeleteRule")?;
                    self.elb
                        .delete_rule()
                        .rule_arn(rule_arn)
                        .send()
                        .await
                        .map_err(|e| {
                            CloudError::from_sdk("elasticloadbalancing:DeleteRule", rule_arn, e)
                        })?;
                }
            }
            for rule in &want.rules {
                let place = format!("rule {} of listener {}", rule.priority, want.port);
                match have_rules.iter().find(|r| r.priority == rule.priority) {
                    Some(h) if rule_matches(h, rule) => {}
                    Some(_) => {
                        let rule_arn = &rule_arns[&rule.priority];
                        let rule_actions = write(&rule.actions, true, place)?;
                        fenced("elasticloadbalancing:ModifyRule")?;
                        self.elb
                            .modify_rule()
                            .rule_arn(rule_arn)
                            .set_conditions(Some(conditions(&rule.conditions)))
                            .set_actions(Some(rule_actions))
                            .send()
                            .await
                            .map_err(|e| {
                                CloudError::from_sdk("elasticloadbalancing:ModifyRule", rule_arn, e)
                            })?;
                    }
                    None => {
                        let rule_actions = write(&rule.actions, false, place)?;
                        fenced("elasticloadbalancing:CreateRule")?;
                        self.elb
                            .create_rule()
                            .listener_arn(&listener_arn)
                            .priority(i32::try_from(rule.priority).unwrap_or(i32::MAX))
                            .set_conditions(Some(conditions(&rule.conditions)))
                            .set_actions(Some(rule_actions))
                            .send()
                            .await
                            .map_err(|e| {
                                CloudError::from_sdk(
                                    "elasticloadbalancing:CreateRule",
                                    format!("{resource}:{}:{}", want.port, rule.priority),
                                    e,
                                )
                            })?;
                    }
                }
            }
        }

        // Last, the web ACL association (recorded with the spec: it disappears with the load
        // balancer). Before any service scales up: the resume's services wait for this step.
        self.elb_set_web_acl(&arn, spec.web_acl_arn.as_deref(), fenced)
            .await?;
        Ok(())
    }

    /// Listener ARNs by port (for the apply-spec result).
    pub(crate) async fn elb_listener_arns(
        &self,
        lb_arn: &str,
    ) -> CloudResult<BTreeMap<u16, String>> {
        let out = self
            .elb
            .describe_listeners()
            .load_balancer_arn(lb_arn)
            .send()
            .await
            .map_err(|e| {
                CloudError::from_sdk("elasticloadbalancing:DescribeListeners", lb_arn, e)
            })?;
        Ok(out
            .listeners()
            .iter()
            .filter_map(|l| {
                Some((
                    u16::try_from(l.port()?).ok()?,
                    l.listener_arn()?.to_string(),
                ))
            })
            .collect())
    }
}
