//! Application Load Balancers: discovery with the full spec captured (listeners, rules,
//! non-default attributes, tags), delete, and create-or-update from a spec.
//!
//! "Apply" is one idempotent operation ([`crate::alb_apply`]): it creates the load balancer
//! when none of that name exists, then brings listeners, rules, attributes, tags and the web
//! ACL to the spec with the calls the pure diff lists (sent by `elbv2_apply`). Repeated after
//! a crash or a failure half-way, it completes what is missing. Before anything is created it
//! checks that every certificate and target group the spec names exists (here), so a resume
//! that cannot succeed fails with the missing dependency named and without creating a load
//! balancer it would have to leave half-configured.

use crate::aws::AwsCloud;
use crate::elbv2_spec::{
    ClientSecrets, actions_spec, lb_unsupported, mutual_spec, rule_spec, secret_arns,
};
use crate::error::{CloudError, CloudResult, FromSdk};
use aws_sdk_elasticloadbalancingv2::types::{
    IpAddressType, Listener, LoadBalancer, LoadBalancerSchemeEnum, LoadBalancerTypeEnum,
    ProtocolEnum,
};
use costctl_core::Selector;
use costctl_core::alb::{LiveAlb, LiveListener};
use costctl_core::ephemeral::{non_default_attributes, non_default_listener_attributes};
use costctl_core::observation::LoadBalancerObs;
use costctl_core::spec::{
    ActionSpec, IpAddressType as SpecIpType, ListenerProtocol, ListenerSpec, LoadBalancerSpec,
    LoadBalancerType, Scheme,
};
use futures::{StreamExt, TryStreamExt, stream};
use std::collections::{BTreeMap, BTreeSet};

const DESCRIBE_TAGS_BATCH: usize = 20;

/// A load balancer this process has found or created: its ARN, and its tags when last seen.
#[derive(Debug, Clone)]
pub(crate) struct KnownLb {
    pub(crate) arn: String,
    pub(crate) tags: BTreeMap<String, String>,
}

/// What a capture reads by the load balancer's ARN: attributes, listeners (with their rules,
/// certificates and attributes), the web ACL and the Shield protection.
struct CaptureParts {
    attributes: BTreeMap<String, String>,
    listeners: Vec<CapturedListener>,
    web_acl_arn: Option<String>,
    shield: Option<String>,
}

/// A listener as it exists, with its ARN and what the spec format cannot express of it.
struct CapturedListener {
    live: LiveListener,
    /// What the spec format cannot express (see `elbv2_spec`).
    unsupported: Vec<String>,
}

impl AwsCloud {
    /// ALBs carrying the selector's tags, plus those named (found or not by the selector).
    ///
    /// A load balancer this process already knows (found by an earlier look, or created by
    /// an apply) is captured by its ARN while the load balancers are listed: its listeners,
    /// rules and attributes need only the ARN, so the capture is one round trip off the look's
    /// longest chain (DescribeLoadBalancers > DescribeListeners > DescribeRules). What the
    /// listing then does not show under that ARN (deleted, or re-created under a new one) is
    /// thrown away and captured from what the listing found.
    pub(crate) async fn elb_find(
        &self,
        selector: &Selector,
        names: &[String],
    ) -> CloudResult<Vec<LoadBalancerObs>> {
        let by_tags = matches!(selector, Selector::Tags(_));
        if !by_tags && names.is_empty() {
            return Ok(Vec::new());
        }
        let hinted = self.elb_hints(selector, names);
        // Under the bound, as every capture: a tag selector may know many load balancers.
        let early = stream::iter(hinted.clone())
            .map(|arn| async move {
                let parts = self.elb_capture_parts(&arn).await;
                (arn, parts)
            })
            .buffer_unordered(self.concurrency)
            .collect::<Vec<_>>();
        let listed = async {
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
            // A named load balancer is wanted whatever its tags: it is captured while the tags
            // are read (one round trip less), or was being captured already when known; the
            // others only once their tags say they are the stack's.
            let (named, unnamed): (Vec<&LoadBalancer>, Vec<&LoadBalancer>) =
                albs.into_iter().partition(|lb| {
                    let name = lb.load_balancer_name().unwrap_or_default();
                    names.iter().any(|n| n == name)
                });
            let (named_known, named_new): (Vec<&LoadBalancer>, Vec<&LoadBalancer>) =
                named.into_iter().partition(|lb| {
                    hinted
                        .iter()
                        .any(|h| Some(h.as_str()) == lb.load_balancer_arn())
                });
            let (tags, found) = futures::try_join!(
                self.elb_tags(&arns),
                self.elb_capture_each(named_new.into_iter().map(|lb| (lb.clone(), None)).collect())
            )?;
            let rest: Vec<LoadBalancer> = named_known
                .into_iter()
                .chain(unnamed.into_iter().filter(|lb| {
                    tags.get(lb.load_balancer_arn().unwrap_or_default())
                        .is_some_and(|t| {
                            selector.matches_tags(t.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                        })
                }))
                .cloned()
                .collect();
            Ok::<_, CloudError>((all, tags, found, rest))
        };
        let (listed, early) = futures::join!(listed, early);
        let (all, tags, mut found, rest) = listed?;
        // An early capture that failed is made again now (its ARN may have been stale).
        let mut early: BTreeMap<String, CaptureParts> = early
            .into_iter()
            .filter_map(|(arn, parts)| Some((arn, parts.ok()?)))
            .collect();
        let rest: Vec<(LoadBalancer, Option<CaptureParts>)> = rest
            .into_iter()
            .map(|lb| {
                let parts = early.remove(lb.load_balancer_arn().unwrap_or_default());
                (lb, parts)
            })
            .collect();
        found.extend(self.elb_capture_each(rest).await?);
        for lb in &mut found {
            lb.spec.tags = tags.get(&lb.arn).cloned().unwrap_or_default();
        }
        self.elb_remember(&all, &found);
        Ok(found)
    }

    /// The ARNs of the known load balancers this look will capture: those named, and, for a
    /// tag selector, those whose tags were the selector's when last seen (the process may serve
    /// many stacks: another stack's load balancer is not captured on speculation).
    fn elb_hints(&self, selector: &Selector, names: &[String]) -> Vec<String> {
        let known = self.elb_known.lock().unwrap_or_else(|e| e.into_inner());
        known
            .iter()
            .filter(|(name, k)| {
                names.contains(name)
                    || (matches!(selector, Selector::Tags(_))
                        && selector
                            .matches_tags(k.tags.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
            })
            .map(|(_, k)| k.arn.clone())
            .collect()
    }

    /// After a look: what it captured is known by name; a known load balancer the listing no
    /// longer shows under its ARN is forgotten.
    fn elb_remember(&self, listed: &[LoadBalancer], found: &[LoadBalancerObs]) {
        let listed: BTreeSet<&str> = listed
            .iter()
            .filter_map(LoadBalancer::load_balancer_arn)
            .collect();
        self.elb_known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, k| listed.contains(k.arn.as_str()));
        for lb in found {
            self.elb_learn(&lb.spec.name, &lb.arn, &lb.spec.tags);
        }
    }

    /// A load balancer this process created (or saw by name) under `arn`.
    pub(crate) fn elb_learn(&self, name: &str, arn: &str, tags: &BTreeMap<String, String>) {
        self.elb_known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                name.to_string(),
                KnownLb {
                    arn: arn.to_string(),
                    tags: tags.clone(),
                },
            );
    }

    /// Captures load balancers concurrently under the bound, without their tags (the caller
    /// reads those in batches); one whose parts were read early is only put together.
    async fn elb_capture_each(
        &self,
        lbs: Vec<(LoadBalancer, Option<CaptureParts>)>,
    ) -> CloudResult<Vec<LoadBalancerObs>> {
        stream::iter(lbs)
            .map(|(lb, parts)| async move {
                let parts = match parts {
                    Some(parts) => parts,
                    None => {
                        self.elb_capture_parts(lb.load_balancer_arn().unwrap_or_default())
                            .await?
                    }
                };
                Ok::<_, CloudError>(assemble(&lb, BTreeMap::new(), parts).0)
            })
            .buffered(self.concurrency)
            .try_collect()
            .await
    }

    /// Tags of load balancers, by ARN, in batches of 20 (the API's limit).
    pub(crate) async fn elb_tags(
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
    /// and rules. Returns it as the apply loop sees it too (with ARNs and every attribute).
    pub(crate) async fn elb_capture(
        &self,
        lb: &LoadBalancer,
        tags: BTreeMap<String, String>,
    ) -> CloudResult<(LoadBalancerObs, LiveAlb)> {
        let parts = self
            .elb_capture_parts(lb.load_balancer_arn().unwrap_or_default())
            .await?;
        Ok(assemble(lb, tags, parts))
    }

    /// What a capture reads by the load balancer's ARN alone, at once.
    async fn elb_capture_parts(&self, arn: &str) -> CloudResult<CaptureParts> {
        let (attributes, listeners, web_acl_arn, shield) = futures::try_join!(
            self.elb_attributes(arn),
            self.elb_listeners(arn),
            self.elb_web_acl(arn),
            self.elb_shield_protection(arn)
        )?;
        Ok(CaptureParts {
            attributes,
            listeners,
            web_acl_arn,
            shield,
        })
    }

    /// The name of the Shield Advanced protection of a load balancer, if any. An account
    /// without a Shield Advanced subscription has none (ResourceNotFoundException, as for a
    /// resource without protection).
    async fn elb_shield_protection(&self, arn: &str) -> CloudResult<Option<String>> {
        match self
            .shield
            .describe_protection()
            .resource_arn(arn)
            .send()
            .await
        {
            Ok(out) => Ok(out
                .protection()
                .map(|p| p.name().or(p.id()).unwrap_or("(unnamed)").to_string())),
            Err(e) => CloudError::from_sdk("shield:DescribeProtection", arn, e).absent_as_none(),
        }
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

    /// Reads the client secrets these OIDC actions name, by ARN.
    pub(crate) async fn elb_client_secrets(
        &self,
        lb_name: &str,
        list: &[ActionSpec],
    ) -> CloudResult<ClientSecrets> {
        let arns: BTreeSet<String> = secret_arns(list).into_iter().collect();
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
                    format!("alb:{lb_name}"),
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

    async fn elb_listeners(&self, lb_arn: &str) -> CloudResult<Vec<CapturedListener>> {
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
        let mut out: Vec<CapturedListener> = stream::iter(listeners)
            .map(|l| async move { self.elb_live_listener(&l).await })
            .buffered(self.concurrency)
            .try_collect()
            .await?;
        out.sort_by_key(|l| l.live.spec.port);
        Ok(out)
    }

    async fn elb_live_listener(&self, l: &Listener) -> CloudResult<CapturedListener> {
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
        Ok(CapturedListener {
            unsupported,
            live: LiveListener {
                arn,
                rule_arns,
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

    pub(crate) async fn elb_delete(&self, arn: &str) -> CloudResult<()> {
        match self
            .elb
            .delete_load_balancer()
            .load_balancer_arn(arn)
            .send()
            .await
        {
            Ok(_) => {
                self.elb_known
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .retain(|_, k| k.arn != arn);
                Ok(())
            }
            Err(e) => {
                let err = CloudError::from_sdk("elasticloadbalancing:DeleteLoadBalancer", arn, e);
                if err.is_not_found() { Ok(()) } else { Err(err) }
            }
        }
    }

    pub(crate) async fn elb_by_name(&self, name: &str) -> CloudResult<Option<LoadBalancer>> {
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
        // Every certificate and the target groups at once: none of these reads needs
        // another's answer.
        let certificates = futures::future::try_join_all(
            certs
                .into_iter()
                .map(|(cert, port)| self.elb_check_certificate(&resource, cert, port)),
        );
        futures::try_join!(certificates, self.elb_check_target_groups(&resource, tgs))?;
        Ok(())
    }

    /// Refuses, naming it, a certificate of listener `port` that does not exist.
    async fn elb_check_certificate(
        &self,
        resource: &str,
        cert: &str,
        port: u16,
    ) -> CloudResult<()> {
        let Err(e) = self
            .acm
            .describe_certificate()
            .certificate_arn(cert)
            .send()
            .await
        else {
            return Ok(());
        };
        let err = CloudError::from_sdk("acm:DescribeCertificate", cert, e);
        if err.is_not_found() {
            return Err(CloudError::refused(
                resource,
                format!(
                    "cannot create or update: certificate {cert} of listener {port} does not exist (nothing was created)"
                ),
            ));
        }
        Err(err)
    }

    /// Refuses, naming it, a target group that does not exist.
    async fn elb_check_target_groups(
        &self,
        resource: &str,
        tgs: BTreeSet<String>,
    ) -> CloudResult<()> {
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
                // One of them is missing: find which, one by one. Only "not found" says a
                // group is missing (a throttled read is an error, not an absence).
                let mut found = BTreeSet::new();
                for tg in &all {
                    match self
                        .elb
                        .describe_target_groups()
                        .target_group_arns(tg)
                        .send()
                        .await
                    {
                        Ok(_) => {
                            found.insert(tg.clone());
                        }
                        Err(e) => {
                            let err = CloudError::from_sdk(
                                "elasticloadbalancing:DescribeTargetGroups",
                                tg,
                                e,
                            );
                            if !err.is_not_found() {
                                return Err(err);
                            }
                        }
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

/// A load balancer's observation from its description and the parts read by its ARN.
fn assemble(
    lb: &LoadBalancer,
    tags: BTreeMap<String, String>,
    parts: CaptureParts,
) -> (LoadBalancerObs, LiveAlb) {
    let CaptureParts {
        attributes,
        listeners,
        web_acl_arn,
        shield,
    } = parts;
    let arn = lb.load_balancer_arn().unwrap_or_default().to_string();
    let name = lb.load_balancer_name().unwrap_or_default().to_string();
    let mut unsupported = lb_unsupported(lb);
    if let Some(protection) = shield {
        unsupported.push(format!(
                "Shield Advanced protection {protection}: it names this load balancer's ARN and costctl does not re-create it"
            ));
    }
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
        listeners: listeners.iter().map(|l| l.live.spec.clone()).collect(),
    };
    let live = LiveAlb {
        arn: arn.clone(),
        attributes,
        tags: spec.tags.clone(),
        listeners: listeners.into_iter().map(|l| l.live).collect(),
        web_acl_arn: spec.web_acl_arn.clone(),
    };
    (
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
        live,
    )
}
