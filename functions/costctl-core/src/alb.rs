//! The ALB apply as a pure diff: from the load balancer as it is (or nothing) and its spec, the
//! ordered list of ELBv2 and WAFv2 calls that brings one to the other.
//!
//! Both clouds execute this list in [`alb_stages`] (the calls of a stage at once, a stage after
//! the one before it is answered), with the lease fence before each call (see
//! `costctl_engine::alb_apply`): the AWS adapter by sending it, the simulated cloud by applying
//! it to its world. So the crash, stall and lost-answer seeds of the simulation run the
//! sequence production sends, and a call that skipped its fence would be caught there.
//!
//! The order is AWS's: the load balancer first; listeners no longer in the spec deleted before
//! any is created (the listener quota); then the load balancer's attributes and tags with the
//! listeners themselves; then each listener's attributes, certificates and changed rules (the
//! gone ones deleted before others are created, so the rule quota holds); the web ACL last.

use crate::ephemeral::{
    alb_attribute_default, alb_attribute_ignored, attribute_changes, listener_attribute_default,
    listener_matches, rule_matches,
};
use crate::spec::{ListenerSpec, LoadBalancerSpec, RuleSpec};
use std::collections::BTreeMap;

/// A load balancer as described, with the ARNs the calls address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LiveAlb {
    pub arn: String,
    /// Attributes as `DescribeLoadBalancerAttributes` answers them (a key left out is at AWS's
    /// default).
    pub attributes: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub listeners: Vec<LiveListener>,
    pub web_acl_arn: Option<String>,
}

/// A listener as described: its spec (rules included) and the ARNs of it and its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveListener {
    pub arn: String,
    pub spec: ListenerSpec,
    /// Rule ARNs by priority.
    pub rule_arns: BTreeMap<u32, String>,
}

/// One changing call. Listeners are addressed by port and rules by priority; those that exist
/// carry their ARN, those created by an earlier call of the same list are found by port in
/// what the executor learnt (CreateListener answers the new ARN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlbCall {
    /// With the spec's name, subnets, security groups, scheme, address type and tags.
    CreateLoadBalancer,
    ModifyLoadBalancerAttributes {
        changes: BTreeMap<String, String>,
    },
    AddTags {
        tags: BTreeMap<String, String>,
    },
    RemoveTags {
        keys: Vec<String>,
    },
    DeleteListener {
        port: u16,
        arn: String,
    },
    /// The spec's listener with its protocol, TLS settings, default certificate and default
    /// actions; attributes, additional certificates and rules follow as calls of their own.
    CreateListener {
        port: u16,
    },
    ModifyListener {
        port: u16,
        arn: String,
        /// Mutual TLS is on and the spec leaves it out: send mode `off` (an absent field would
        /// leave it as it is).
        mutual_off: bool,
    },
    ModifyListenerAttributes {
        port: u16,
        changes: BTreeMap<String, String>,
    },
    AddListenerCertificates {
        port: u16,
        certificates: Vec<String>,
    },
    RemoveListenerCertificates {
        port: u16,
        certificates: Vec<String>,
    },
    DeleteRule {
        port: u16,
        priority: u32,
        arn: String,
    },
    /// Conditions and actions of the spec's rule at this priority.
    ModifyRule {
        port: u16,
        priority: u32,
        arn: String,
    },
    CreateRule {
        port: u16,
        priority: u32,
    },
    AssociateWebAcl {
        web_acl_arn: String,
    },
    DisassociateWebAcl,
}

impl AlbCall {
    /// The API operation (the IAM action) this call is.
    pub fn operation(&self) -> &'static str {
        match self {
            Self::CreateLoadBalancer => "elasticloadbalancing:CreateLoadBalancer",
            Self::ModifyLoadBalancerAttributes { .. } => {
                "elasticloadbalancing:ModifyLoadBalancerAttributes"
            }
            Self::AddTags { .. } => "elasticloadbalancing:AddTags",
            Self::RemoveTags { .. } => "elasticloadbalancing:RemoveTags",
            Self::DeleteListener { .. } => "elasticloadbalancing:DeleteListener",
            Self::CreateListener { .. } => "elasticloadbalancing:CreateListener",
            Self::ModifyListener { .. } => "elasticloadbalancing:ModifyListener",
            Self::ModifyListenerAttributes { .. } => {
                "elasticloadbalancing:ModifyListenerAttributes"
            }
            Self::AddListenerCertificates { .. } => "elasticloadbalancing:AddListenerCertificates",
            Self::RemoveListenerCertificates { .. } => {
                "elasticloadbalancing:RemoveListenerCertificates"
            }
            Self::DeleteRule { .. } => "elasticloadbalancing:DeleteRule",
            Self::ModifyRule { .. } => "elasticloadbalancing:ModifyRule",
            Self::CreateRule { .. } => "elasticloadbalancing:CreateRule",
            Self::AssociateWebAcl { .. } => "wafv2:AssociateWebACL",
            Self::DisassociateWebAcl => "wafv2:DisassociateWebACL",
        }
    }

    /// The stage of an apply this call belongs to (see [`alb_stages`]): a call needs only
    /// what calls of earlier stages made or freed.
    fn stage(&self) -> u8 {
        match self {
            Self::CreateLoadBalancer => 0,
            // Before any listener is created: the load balancer's listener quota.
            Self::DeleteListener { .. } => 1,
            Self::ModifyLoadBalancerAttributes { .. }
            | Self::AddTags { .. }
            | Self::RemoveTags { .. }
            | Self::CreateListener { .. }
            | Self::ModifyListener { .. } => 2,
            // These need the listener's ARN, which CreateListener answers.
            Self::ModifyListenerAttributes { .. }
            | Self::AddListenerCertificates { .. }
            | Self::RemoveListenerCertificates { .. }
            | Self::DeleteRule { .. }
            | Self::ModifyRule { .. } => 3,
            // After the rules that are gone: the listener's rule quota.
            Self::CreateRule { .. } => 4,
            Self::AssociateWebAcl { .. } | Self::DisassociateWebAcl => 5,
        }
    }
}

/// The calls of [`alb_calls`] in stages: the calls of one stage need nothing from one another
/// and may be sent at once; a stage starts when the one before it has been answered. So a new
/// load balancer with its listeners and rules takes four round trips (the load balancer; its
/// attributes and listeners; their attributes, certificates and rules; the web ACL) however
/// many listeners and rules it has, instead of one per call.
///
/// The web ACL stays last, alone: AWS WAF may not see a load balancer created a moment ago
/// (`WAFUnavailableEntityException`), and the later its association is sent the likelier it
/// succeeds at once. (The services behind the load balancer are scaled up only after the whole
/// apply, so nothing serves before the web ACL is on.)
pub fn alb_stages(mut calls: Vec<AlbCall>) -> Vec<Vec<AlbCall>> {
    // Stable: within a stage, calls keep the planner's order.
    calls.sort_by_key(AlbCall::stage);
    calls
        .chunk_by(|a, b| a.stage() == b.stage())
        .map(<[AlbCall]>::to_vec)
        .collect()
}

/// The spec's listener on `port` (every call of a list names a port of its spec or of the live
/// load balancer).
pub fn listener(spec: &LoadBalancerSpec, port: u16) -> Option<&ListenerSpec> {
    spec.listeners.iter().find(|l| l.port == port)
}

/// The spec's rule at `priority` on the listener on `port`.
pub fn rule(spec: &LoadBalancerSpec, port: u16, priority: u32) -> Option<&RuleSpec> {
    listener(spec, port)?
        .rules
        .iter()
        .find(|r| r.priority == priority)
}

/// The calls that bring `live` (`None`: no load balancer of that name) to `want`, in the order
/// they must be sent. Empty when nothing differs, so a repeated apply changes nothing.
pub fn alb_calls(live: Option<&LiveAlb>, want: &LoadBalancerSpec) -> Vec<AlbCall> {
    let mut calls = Vec::new();
    // A load balancer just created has AWS's default attributes, the tags it was created with,
    // no listener and no web ACL.
    let created;
    let live = match live {
        Some(l) => l,
        None => {
            calls.push(AlbCall::CreateLoadBalancer);
            created = LiveAlb {
                tags: want.tags.clone(),
                ..LiveAlb::default()
            };
            &created
        }
    };
    let changes = attribute_changes(
        &live.attributes,
        &want.attributes,
        |k| alb_attribute_default(k).map(str::to_string),
        alb_attribute_ignored,
    );
    if !changes.is_empty() {
        calls.push(AlbCall::ModifyLoadBalancerAttributes { changes });
    }
    let add: BTreeMap<String, String> = want
        .tags
        .iter()
        .filter(|(k, v)| live.tags.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !add.is_empty() {
        calls.push(AlbCall::AddTags { tags: add });
    }
    // `aws:` tags belong to AWS (CloudFormation, …) and cannot be removed.
    let keys: Vec<String> = live
        .tags
        .keys()
        .filter(|k| !want.tags.contains_key(*k) && !k.starts_with("aws:"))
        .cloned()
        .collect();
    if !keys.is_empty() {
        calls.push(AlbCall::RemoveTags { keys });
    }
    for l in &live.listeners {
        if listener(want, l.spec.port).is_none() {
            calls.push(AlbCall::DeleteListener {
                port: l.spec.port,
                arn: l.arn.clone(),
            });
        }
    }
    for w in &want.listeners {
        let have = live.listeners.iter().find(|l| l.spec.port == w.port);
        listener_calls(have, w, &mut calls);
    }
    if live.web_acl_arn != want.web_acl_arn {
        calls.push(match &want.web_acl_arn {
            Some(acl) => AlbCall::AssociateWebAcl {
                web_acl_arn: acl.clone(),
            },
            None => AlbCall::DisassociateWebAcl,
        });
    }
    calls
}

/// One listener: itself, its attributes, its additional certificates, its rules.
fn listener_calls(have: Option<&LiveListener>, want: &ListenerSpec, calls: &mut Vec<AlbCall>) {
    let port = want.port;
    let empty = BTreeMap::new();
    let (have_attributes, have_certificates, have_rules, rule_arns): (_, &[String], &[_], _) =
        match have {
            None => {
                calls.push(AlbCall::CreateListener { port });
                (&empty, &[], &[], &BTreeMap::new())
            }
            Some(h) => {
                // The listener itself: what ModifyListener sets (attributes and additional
                // certificates have calls of their own).
                let head = ListenerSpec {
                    attributes: h.spec.attributes.clone(),
                    additional_certificate_arns: h.spec.additional_certificate_arns.clone(),
                    ..want.clone()
                };
                if !listener_matches(&h.spec, &head) {
                    calls.push(AlbCall::ModifyListener {
                        port,
                        arn: h.arn.clone(),
                        mutual_off: want.mutual_authentication.is_none()
                            && h.spec.mutual_authentication.is_some(),
                    });
                }
                (
                    &h.spec.attributes,
                    h.spec.additional_certificate_arns.as_slice(),
                    h.spec.rules.as_slice(),
                    &h.rule_arns,
                )
            }
        };
    let changes = attribute_changes(
        have_attributes,
        &want.attributes,
        listener_attribute_default,
        |_| false,
    );
    if !changes.is_empty() {
        calls.push(AlbCall::ModifyListenerAttributes { port, changes });
    }
    let add: Vec<String> = want
        .additional_certificate_arns
        .iter()
        .filter(|c| !have_certificates.contains(c))
        .cloned()
        .collect();
    if !add.is_empty() {
        calls.push(AlbCall::AddListenerCertificates {
            port,
            certificates: add,
        });
    }
    let remove: Vec<String> = have_certificates
        .iter()
        .filter(|c| !want.additional_certificate_arns.contains(c))
        .cloned()
        .collect();
    if !remove.is_empty() {
        calls.push(AlbCall::RemoveListenerCertificates {
            port,
            certificates: remove,
        });
    }
    for (priority, arn) in rule_arns {
        if !want.rules.iter().any(|r| r.priority == *priority) {
            calls.push(AlbCall::DeleteRule {
                port,
                priority: *priority,
                arn: arn.clone(),
            });
        }
    }
    for r in &want.rules {
        let priority = r.priority;
        match (
            have_rules.iter().find(|h| h.priority == priority),
            rule_arns.get(&priority),
        ) {
            (Some(h), _) if rule_matches(h, r) => {}
            (_, Some(arn)) => calls.push(AlbCall::ModifyRule {
                port,
                priority,
                arn: arn.clone(),
            }),
            (_, None) => calls.push(AlbCall::CreateRule { port, priority }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::EphemeralSpec;

    const TG_API: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/api/1";
    const TG_WEB: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/2";
    const CERT_1: &str = "arn:aws:acm:eu-west-1:123456789012:certificate/1";
    const CERT_2: &str = "arn:aws:acm:eu-west-1:123456789012:certificate/2";
    const CERT_3: &str = "arn:aws:acm:eu-west-1:123456789012:certificate/3";

    fn spec(version: u32) -> LoadBalancerSpec {
        let rules = if version == 0 {
            serde_json::json!([
                {"priority": 10, "conditions": [{"field": "path-pattern", "values": ["/api/*"]}],
                 "actions": [{"type": "forward", "target_group_arn": TG_API}]},
                {"priority": 20, "conditions": [{"field": "host-header", "values": ["a.example.com"]}],
                 "actions": [{"type": "forward", "target_group_arn": TG_WEB}]}
            ])
        } else {
            serde_json::json!([
                {"priority": 10, "conditions": [{"field": "path-pattern", "values": ["/v2/*"]}],
                 "actions": [{"type": "forward", "target_group_arn": TG_API}]},
                {"priority": 30, "conditions": [{"field": "http-request-method", "values": ["POST"]}],
                 "actions": [{"type": "forward", "target_group_arn": TG_API}]}
            ])
        };
        let v = serde_json::json!({"load_balancers": [{
            "name": "shop-alb",
            "subnets": ["subnet-a", "subnet-b"],
            "security_groups": ["sg-1"],
            "attributes": {"idle_timeout.timeout_seconds": if version == 0 {"120"} else {"60"}},
            "tags": if version == 0 {serde_json::json!({"Project": "shop", "Old": "x"})}
                    else {serde_json::json!({"Project": "shop2"})},
            "web_acl_arn": "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/shop/1",
            "listeners": [
                {"port": 443, "protocol": "HTTPS", "certificate_arn": CERT_1,
                 "additional_certificate_arns": if version == 0 {serde_json::json!([CERT_2])} else {serde_json::json!([CERT_3])},
                 "attributes": {"routing.http.response.server.enabled": "false"},
                 "default_actions": [{"type": "forward", "target_group_arn": TG_WEB}],
                 "rules": rules}
            ]
        }], "kafka_clusters": []});
        EphemeralSpec::from_value(&v)
            .expect("valid")
            .load_balancers
            .remove(0)
    }

    /// The load balancer as it stands after `alb_calls(None, want)` were all applied.
    fn live_of(want: &LoadBalancerSpec) -> LiveAlb {
        LiveAlb {
            arn: "lb".into(),
            attributes: want.attributes.clone(),
            tags: want.tags.clone(),
            web_acl_arn: want.web_acl_arn.clone(),
            listeners: want
                .listeners
                .iter()
                .map(|l| LiveListener {
                    arn: format!("l{}", l.port),
                    rule_arns: l
                        .rules
                        .iter()
                        .map(|r| (r.priority, format!("r{}", r.priority)))
                        .collect(),
                    spec: l.clone(),
                })
                .collect(),
        }
    }

    /// A listener on port 80 that no spec of these tests has.
    fn with_listener_80(live: &mut LiveAlb) {
        live.listeners.push(LiveListener {
            arn: "l80".into(),
            spec: ListenerSpec {
                port: 80,
                ..live.listeners[0].spec.clone()
            },
            rule_arns: BTreeMap::new(),
        });
    }

    fn ops(calls: &[AlbCall]) -> Vec<&'static str> {
        calls
            .iter()
            .map(|c| c.operation().trim_start_matches("elasticloadbalancing:"))
            .collect()
    }

    #[test]
    fn a_new_load_balancer_is_created_then_configured_and_protected_last() {
        let want = spec(0);
        let calls = alb_calls(None, &want);
        assert_eq!(
            ops(&calls),
            [
                "CreateLoadBalancer",
                "ModifyLoadBalancerAttributes",
                "CreateListener",
                "ModifyListenerAttributes",
                "AddListenerCertificates",
                "CreateRule",
                "CreateRule",
                "wafv2:AssociateWebACL",
            ]
        );
        // Tags go with CreateLoadBalancer, not a second call.
        assert!(!calls.iter().any(|c| matches!(c, AlbCall::AddTags { .. })));
    }

    #[test]
    fn a_new_load_balancer_is_applied_in_four_stages_each_needing_only_earlier_ones() {
        let mut want = spec(0);
        let mut second = want.listeners[0].clone();
        second.port = 8443;
        want.listeners.push(second);
        let stages: Vec<Vec<&str>> = alb_stages(alb_calls(None, &want))
            .iter()
            .map(|s| ops(s))
            .collect();
        assert_eq!(
            stages,
            [
                vec!["CreateLoadBalancer"],
                vec![
                    "ModifyLoadBalancerAttributes",
                    "CreateListener",
                    "CreateListener"
                ],
                vec![
                    "ModifyListenerAttributes",
                    "AddListenerCertificates",
                    "ModifyListenerAttributes",
                    "AddListenerCertificates"
                ],
                vec!["CreateRule", "CreateRule", "CreateRule", "CreateRule"],
                vec!["wafv2:AssociateWebACL"],
            ]
        );
    }

    #[test]
    fn stages_free_a_listener_or_a_priority_before_anything_takes_one() {
        let mut live = live_of(&spec(0));
        with_listener_80(&mut live);
        let calls = alb_calls(Some(&live), &spec(1));
        let all = calls.len();
        let stages = alb_stages(calls);
        assert_eq!(stages.iter().map(Vec::len).sum::<usize>(), all);
        let stage_of = |op: &str| {
            stages
                .iter()
                .position(|s| s.iter().any(|c| c.operation().ends_with(op)))
                .unwrap_or_else(|| panic!("{op} not planned"))
        };
        assert!(stage_of(":DeleteListener") < stage_of(":ModifyLoadBalancerAttributes"));
        assert!(stage_of(":DeleteRule") < stage_of(":CreateRule"));
        assert_eq!(stage_of(":ModifyRule"), stage_of(":DeleteRule"));
        assert_eq!(
            stage_of(":AddTags"),
            stage_of(":ModifyLoadBalancerAttributes")
        );
    }

    #[test]
    fn what_matches_its_spec_needs_no_call() {
        let want = spec(0);
        assert_eq!(alb_calls(Some(&live_of(&want)), &want), []);
    }

    #[test]
    fn a_changed_spec_is_reached_by_modify_delete_and_create_in_order() {
        let live = live_of(&spec(0));
        let want = spec(1);
        let calls = alb_calls(Some(&live), &want);
        assert_eq!(
            calls,
            [
                AlbCall::ModifyLoadBalancerAttributes {
                    changes: [("idle_timeout.timeout_seconds".into(), "60".into())].into()
                },
                AlbCall::AddTags {
                    tags: [("Project".into(), "shop2".into())].into()
                },
                AlbCall::RemoveTags {
                    keys: vec!["Old".into()]
                },
                AlbCall::AddListenerCertificates {
                    port: 443,
                    certificates: vec![CERT_3.into()]
                },
                AlbCall::RemoveListenerCertificates {
                    port: 443,
                    certificates: vec![CERT_2.into()]
                },
                AlbCall::DeleteRule {
                    port: 443,
                    priority: 20,
                    arn: "r20".into()
                },
                AlbCall::ModifyRule {
                    port: 443,
                    priority: 10,
                    arn: "r10".into()
                },
                AlbCall::CreateRule {
                    port: 443,
                    priority: 30
                },
            ]
        );
    }

    #[test]
    fn listeners_and_the_web_acl_that_are_gone_are_removed_and_aws_tags_stay() {
        let mut live = live_of(&spec(0));
        live.tags
            .insert("aws:cloudformation:stack-name".into(), "x".into());
        with_listener_80(&mut live);
        live.listeners[0].spec.mutual_authentication =
            Some(crate::spec::MutualAuthenticationSpec {
                mode: crate::spec::MutualAuthenticationMode::Passthrough,
                trust_store_arn: None,
                ignore_client_certificate_expiry: None,
                advertise_trust_store_ca_names: None,
            });
        let mut want = spec(0);
        want.web_acl_arn = None;
        let calls = alb_calls(Some(&live), &want);
        assert_eq!(
            calls,
            [
                AlbCall::DeleteListener {
                    port: 80,
                    arn: "l80".into()
                },
                AlbCall::ModifyListener {
                    port: 443,
                    arn: "l443".into(),
                    mutual_off: true
                },
                AlbCall::DisassociateWebAcl,
            ]
        );
    }

    #[test]
    fn an_attribute_dropped_from_the_spec_goes_back_to_its_default() {
        let mut live = live_of(&spec(0));
        live.attributes
            .insert("routing.http2.enabled".into(), "false".into());
        live.listeners[0].spec.attributes.insert(
            "routing.http.response.server.enabled".into(),
            "false".into(),
        );
        let calls = alb_calls(Some(&live), &spec(0));
        assert_eq!(
            calls,
            [AlbCall::ModifyLoadBalancerAttributes {
                changes: [("routing.http2.enabled".into(), "true".into())].into()
            }]
        );
    }
}
