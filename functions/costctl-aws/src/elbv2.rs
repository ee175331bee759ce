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
use crate::error::{CloudError, CloudResult};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, HostHeaderConditionConfig,
    HttpHeaderConditionConfig, HttpRequestMethodConditionConfig, IpAddressType, Listener,
    LoadBalancer, LoadBalancerAttribute, LoadBalancerSchemeEnum, LoadBalancerTypeEnum,
    PathPatternConditionConfig, ProtocolEnum, QueryStringConditionConfig, QueryStringKeyValuePair,
    RedirectActionConfig, RedirectActionStatusCodeEnum, Rule, RuleCondition,
    SourceIpConditionConfig, Tag,
};
use costctl_core::Selector;
use costctl_core::ephemeral::{
    alb_attribute_default, alb_attribute_ignored, listener_matches, non_default_attributes,
    rule_matches,
};
use costctl_core::observation::LoadBalancerObs;
use costctl_core::spec::{
    ActionSpec, ConditionSpec, FixedResponseSpec, IpAddressType as SpecIpType, ListenerProtocol,
    ListenerSpec, LoadBalancerSpec, LoadBalancerType, QueryStringPair, RedirectSpec,
    RedirectStatus, RuleSpec, Scheme,
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
        let (attributes, listeners) =
            futures::try_join!(self.elb_attributes(&arn), self.elb_listeners(&arn))?;
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
            },
            listeners,
        ))
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
        let (rules, certs) = futures::try_join!(rules_fut, certs_fut)?;
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
            rule_specs.push(rule_spec(r, priority));
        }
        rule_specs.sort_by_key(|r| r.priority);
        Ok(LiveListener {
            arn,
            rule_arns,
            spec: ListenerSpec {
                port: u16::try_from(l.port().unwrap_or(0)).unwrap_or(0),
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
                default_actions: actions_spec(l.default_actions()),
                rules: rule_specs,
            },
        })
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
        let mut changes: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in &spec.attributes {
            if !alb_attribute_ignored(k) && current.get(k) != Some(v) {
                changes.insert(k.clone(), v.clone());
            }
        }
        for (k, v) in non_default_attributes(&current) {
            if !spec.attributes.contains_key(&k)
                && let Some(default) = alb_attribute_default(&k)
                && v != default
            {
                changes.insert(k, default.to_string());
            }
        }
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
            self.elb
                .remove_tags()
                .resource_arns(&arn)
                .set_tag_keys(Some(remove))
                .send()
                .await
                .map_err(|e| CloudError::from_sdk("elasticloadbalancing:RemoveTags", &arn, e))?;
        }

        // Listeners and their rules.
        let live = self.elb_listeners(&arn).await?;
        fenced("elasticloadbalancing:DeleteListener")?;
        for l in &live {
            if !spec.listeners.iter().any(|w| w.port == l.spec.port) {
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
            fenced("elasticloadbalancing:CreateListener")?;
            let existing = live.iter().find(|l| l.spec.port == want.port);
            let (listener_arn, have_rules, rule_arns, have_additional) =
                match existing {
                    None => {
                        let out =
                            self.elb
                                .create_listener()
                                .load_balancer_arn(&arn)
                                .port(i32::from(want.port))
                                .protocol(protocol(want.protocol))
                                .set_ssl_policy(want.ssl_policy.clone())
                                .set_certificates(want.certificate_arn.as_ref().map(|c| {
                                    vec![Certificate::builder().certificate_arn(c).build()]
                                }))
                                .set_default_actions(Some(actions(&want.default_actions)))
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
                            self.elb
                                .modify_listener()
                                .listener_arn(&l.arn)
                                .port(i32::from(want.port))
                                .protocol(protocol(want.protocol))
                                .set_ssl_policy(want.ssl_policy.clone())
                                .set_certificates(want.certificate_arn.as_ref().map(|c| {
                                    vec![Certificate::builder().certificate_arn(c).build()]
                                }))
                                .set_default_actions(Some(actions(&want.default_actions)))
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
            let add: Vec<&String> = want
                .additional_certificate_arns
                .iter()
                .filter(|c| !have_additional.contains(c))
                .collect();
            if !add.is_empty() {
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
                match have_rules.iter().find(|r| r.priority == rule.priority) {
                    Some(h) if rule_matches(h, rule) => {}
                    Some(_) => {
                        let rule_arn = &rule_arns[&rule.priority];
                        self.elb
                            .modify_rule()
                            .rule_arn(rule_arn)
                            .set_conditions(Some(conditions(&rule.conditions)))
                            .set_actions(Some(actions(&rule.actions)))
                            .send()
                            .await
                            .map_err(|e| {
                                CloudError::from_sdk("elasticloadbalancing:ModifyRule", rule_arn, e)
                            })?;
                    }
                    None => {
                        self.elb
                            .create_rule()
                            .listener_arn(&listener_arn)
                            .priority(i32::try_from(rule.priority).unwrap_or(i32::MAX))
                            .set_conditions(Some(conditions(&rule.conditions)))
                            .set_actions(Some(actions(&rule.actions)))
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

fn tags(t: &BTreeMap<String, String>) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

fn protocol(p: ListenerProtocol) -> ProtocolEnum {
    match p {
        ListenerProtocol::Http => ProtocolEnum::Http,
        ListenerProtocol::Https => ProtocolEnum::Https,
    }
}

fn order_of(o: Option<i32>) -> Option<u32> {
    o.and_then(|v| u32::try_from(v).ok())
}

fn actions_spec(actions: &[Action]) -> Vec<ActionSpec> {
    let mut v: Vec<&Action> = actions.iter().collect();
    v.sort_by_key(|a| a.order().unwrap_or(i32::MAX));
    v.into_iter()
        .filter_map(|a| {
            let order = order_of(a.order());
            Some(match a.r#type()? {
                ActionTypeEnum::Forward => ActionSpec::Forward {
                    target_group_arn: a.target_group_arn().map(str::to_string).or_else(|| {
                        a.forward_config()?
                            .target_groups()
                            .first()?
                            .target_group_arn()
                            .map(str::to_string)
                    }),
                    order,
                },
                ActionTypeEnum::Redirect => {
                    let r = a.redirect_config()?;
                    ActionSpec::Redirect {
                        redirect: RedirectSpec {
                            protocol: r.protocol().map(str::to_string),
                            port: r.port().map(str::to_string),
                            host: r.host().map(str::to_string),
                            path: r.path().map(str::to_string),
                            query: r.query().map(str::to_string),
                            status_code: match r.status_code() {
                                Some(RedirectActionStatusCodeEnum::Http302) => {
                                    RedirectStatus::Http302
                                }
                                _ => RedirectStatus::Http301,
                            },
                        },
                        order,
                    }
                }
                ActionTypeEnum::FixedResponse => {
                    let f = a.fixed_response_config()?;
                    ActionSpec::FixedResponse {
                        fixed_response: FixedResponseSpec {
                            status_code: f.status_code().unwrap_or_default().to_string(),
                            content_type: f.content_type().map(str::to_string),
                            message_body: f.message_body().map(str::to_string),
                        },
                        order,
                    }
                }
                // Authentication actions are outside the spec format: not captured.
                _ => return None,
            })
        })
        .collect()
}

fn actions(specs: &[ActionSpec]) -> Vec<Action> {
    specs
        .iter()
        .map(|a| match a {
            ActionSpec::Forward {
                target_group_arn,
                order,
            } => Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .set_target_group_arn(target_group_arn.clone())
                .set_order(order.and_then(|o| i32::try_from(o).ok()))
                .build(),
            ActionSpec::Redirect { redirect, order } => Action::builder()
                .r#type(ActionTypeEnum::Redirect)
                .redirect_config(
                    RedirectActionConfig::builder()
                        .set_protocol(redirect.protocol.clone())
                        .set_port(redirect.port.clone())
                        .set_host(redirect.host.clone())
                        .set_path(redirect.path.clone())
                        .set_query(redirect.query.clone())
                        .status_code(match redirect.status_code {
                            RedirectStatus::Http301 => RedirectActionStatusCodeEnum::Http301,
                            RedirectStatus::Http302 => RedirectActionStatusCodeEnum::Http302,
                        })
                        .build(),
                )
                .set_order(order.and_then(|o| i32::try_from(o).ok()))
                .build(),
            ActionSpec::FixedResponse {
                fixed_response,
                order,
            } => Action::builder()
                .r#type(ActionTypeEnum::FixedResponse)
                .fixed_response_config(
                    FixedResponseActionConfig::builder()
                        .status_code(&fixed_response.status_code)
                        .set_content_type(fixed_response.content_type.clone())
                        .set_message_body(fixed_response.message_body.clone())
                        .build(),
                )
                .set_order(order.and_then(|o| i32::try_from(o).ok()))
                .build(),
        })
        .collect()
}

fn rule_spec(r: &Rule, priority: u32) -> RuleSpec {
    RuleSpec {
        priority,
        conditions: r.conditions().iter().filter_map(condition_spec).collect(),
        actions: actions_spec(r.actions()),
    }
}

fn condition_spec(c: &RuleCondition) -> Option<ConditionSpec> {
    let or_values = |config: Option<&[String]>| -> Vec<String> {
        match config {
            Some(v) if !v.is_empty() => v.to_vec(),
            _ => c.values().to_vec(),
        }
    };
    Some(match c.field()? {
        "path-pattern" => ConditionSpec::PathPattern {
            values: or_values(c.path_pattern_config().map(|p| p.values())),
        },
        "host-header" => ConditionSpec::HostHeader {
            values: or_values(c.host_header_config().map(|p| p.values())),
        },
        "http-request-method" => ConditionSpec::HttpRequestMethod {
            values: or_values(c.http_request_method_config().map(|p| p.values())),
        },
        "source-ip" => ConditionSpec::SourceIp {
            values: or_values(c.source_ip_config().map(|p| p.values())),
        },
        "http-header" => {
            let h = c.http_header_config()?;
            ConditionSpec::HttpHeader {
                http_header_name: h.http_header_name().unwrap_or_default().to_string(),
                values: h.values().to_vec(),
            }
        }
        "query-string" => ConditionSpec::QueryString {
            query_string: c
                .query_string_config()?
                .values()
                .iter()
                .map(|p| QueryStringPair {
                    key: p.key().map(str::to_string),
                    value: p.value().unwrap_or_default().to_string(),
                })
                .collect(),
        },
        _ => return None,
    })
}

fn conditions(specs: &[ConditionSpec]) -> Vec<RuleCondition> {
    specs
        .iter()
        .map(|c| match c {
            ConditionSpec::PathPattern { values } => RuleCondition::builder()
                .field("path-pattern")
                .path_pattern_config(
                    PathPatternConditionConfig::builder()
                        .set_values(Some(values.clone()))
                        .build(),
                )
                .build(),
            ConditionSpec::HostHeader { values } => RuleCondition::builder()
                .field("host-header")
                .host_header_config(
                    HostHeaderConditionConfig::builder()
                        .set_values(Some(values.clone()))
                        .build(),
                )
                .build(),
            ConditionSpec::HttpRequestMethod { values } => RuleCondition::builder()
                .field("http-request-method")
                .http_request_method_config(
                    HttpRequestMethodConditionConfig::builder()
                        .set_values(Some(values.clone()))
                        .build(),
                )
                .build(),
            ConditionSpec::SourceIp { values } => RuleCondition::builder()
                .field("source-ip")
                .source_ip_config(
                    SourceIpConditionConfig::builder()
                        .set_values(Some(values.clone()))
                        .build(),
                )
                .build(),
            ConditionSpec::HttpHeader {
                http_header_name,
                values,
            } => RuleCondition::builder()
                .field("http-header")
                .http_header_config(
                    HttpHeaderConditionConfig::builder()
                        .http_header_name(http_header_name)
                        .set_values(Some(values.clone()))
                        .build(),
                )
                .build(),
            ConditionSpec::QueryString { query_string } => RuleCondition::builder()
                .field("query-string")
                .query_string_config(
                    QueryStringConditionConfig::builder()
                        .set_values(Some(
                            query_string
                                .iter()
                                .map(|p| {
                                    QueryStringKeyValuePair::builder()
                                        .set_key(p.key.clone())
                                        .value(&p.value)
                                        .build()
                                })
                                .collect(),
                        ))
                        .build(),
                )
                .build(),
        })
        .collect()
}
