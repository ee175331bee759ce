//! A scenario's ephemeral tier: the networking, certificates, target groups and web ACL that
//! exist for it (and another stack's ALB and cluster beside it), and the versions of its spec
//! that Terraform sends, varied by seed.

use super::STACK;
use crate::rng::Rng;
use crate::world::World;
use costctl_core::spec::{
    ClientAuthenticationSpec, EphemeralSpec, IpAddressType, KafkaClusterSpec, Scheme,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The networking, certificate and target groups that exist for the ephemeral tier, and the
/// load balancer and cluster of another stack.
pub fn ephemeral_world(w: &mut World) {
    let e = &mut w.eph;
    e.enabled = true;
    e.subnets
        .extend(["subnet-0a", "subnet-0b", "subnet-0c"].map(String::from));
    e.security_groups
        .extend(["sg-0alb", "sg-0msk"].map(String::from));
    e.certificates.extend([CERT, CERT_API].map(String::from));
    e.web_acls.insert(WEB_ACL.into());
    e.target_groups.extend([TG_WEB, TG_API].map(String::from));
    let id = e.next_id();
    let arn = crate::ephemeral::lb_arn("billing-alb", id);
    e.lbs.insert(
        arn.clone(),
        crate::ephemeral::SimLb {
            arn: arn.clone(),
            name: "billing-alb".into(),
            state: "active".into(),
            ready_at: 0,
            dns_name: "billing-alb-1.eu-west-1.elb.amazonaws.com".into(),
            scheme: Scheme::Internal,
            ip_address_type: IpAddressType::Ipv4,
            subnets: vec!["subnet-0a".into(), "subnet-0b".into()],
            security_groups: vec!["sg-0alb".into()],
            attributes: BTreeMap::new(),
            tags: [("costctl:stack".to_string(), "billing-prod".to_string())].into(),
            listeners: BTreeMap::new(),
            web_acl_arn: None,
        },
    );
    e.foreign.insert("alb:billing-alb".into(), arn);
    let id = e.next_id();
    let arn = crate::ephemeral::msk_arn("billing-msk", id);
    e.kafkas.insert(
        arn.clone(),
        crate::ephemeral::SimKafka {
            arn: arn.clone(),
            name: "billing-msk".into(),
            state: "ACTIVE".into(),
            until: 0,
            spec: KafkaClusterSpec {
                name: "billing-msk".into(),
                vpc_configs: Vec::new(),
                client_authentication: ClientAuthenticationSpec { sasl_iam: true },
                tags: BTreeMap::new(),
                bootstrap_parameter: None,
            },
            bootstrap: "boot-billing:9098".into(),
        },
    );
    e.foreign.insert("msk:billing-msk".into(), arn);
    w.foreign
        .extend(["alb:billing-alb", "msk:billing-msk"].map(String::from));
}

pub(crate) const CERT: &str = "arn:aws:acm:eu-west-1:123456789012:certificate/ot-dev";
pub(crate) const CERT_API: &str = "arn:aws:acm:eu-west-1:123456789012:certificate/ot-dev-api";
pub(crate) const TG_WEB: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ot-dev-web/1";
pub(crate) const TG_API: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ot-dev-api/2";
pub(crate) const WEB_ACL: &str = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/ot-dev/0d4e5f6a-1b2c-4d3e-8f9a-0b1c2d3e4f5a";

/// One version of the stack's ephemeral-tier spec, as Terraform would send it: an ALB (HTTP
/// redirect, HTTPS with rules, published DNS name, an alias) and/or an MSK Serverless cluster
/// (bootstrap string published). Later versions change attributes, tags, rules, additional
/// certificates, listener attributes and the web ACL in place, or drop one of the two.
pub(super) fn ephemeral_spec(rng: &mut Rng, version: usize) -> Value {
    let (lb, msk) = match rng.below(if version == 0 { 5 } else { 7 }) {
        0 => (true, false),
        1 => (false, true),
        5 => (true, false),
        6 => (false, true),
        _ => (true, true),
    };
    let idle = ["60", "120", "300"][rng.below(3) as usize];
    let protected = rng.chance(100);
    let tagged = rng.chance(500);
    let mut tags = serde_json::json!({"Project": "order-tracking", "Version": version.to_string()});
    if tagged {
        tags["costctl:stack"] = STACK.into();
    }
    let api = if rng.chance(500) { "/api/*" } else { "/v2/*" };
    let mut rules = vec![serde_json::json!({"priority": 10,
        "conditions": [{"field": "path-pattern", "values": [api]}],
        "actions": [{"type": "forward", "target_group_arn": TG_API}]})];
    if rng.chance(500) {
        rules.push(serde_json::json!({"priority": 20,
            "conditions": [{"field": "http-header", "http_header_name": "X-Canary", "values": ["1"]}],
            "actions": [{"type": "fixed-response", "fixed_response": {"status_code": "503", "content_type": "text/plain", "message_body": "paused"}}]}));
    }
    let mut attributes = serde_json::json!({"idle_timeout.timeout_seconds": idle});
    if protected {
        attributes["deletion_protection.enabled"] = "true".into();
    }
    let mut https = serde_json::json!({"port": 443, "protocol": "HTTPS", "certificate_arn": CERT,
        "default_actions": [{"type": "forward", "target_group_arn": TG_WEB}],
        "rules": rules});
    if rng.chance(500) {
        https["additional_certificate_arns"] = serde_json::json!([CERT_API]);
    }
    if rng.chance(500) {
        https["attributes"] = serde_json::json!({"routing.http.response.server.enabled": "false"});
    }
    let web_acl = rng.chance(500).then_some(WEB_ACL);
    let lbs = if lb {
        serde_json::json!([{
            "name": "ot-dev-alb",
            "subnets": ["subnet-0a", "subnet-0b"],
            "security_groups": ["sg-0alb"],
            "attributes": attributes,
            "tags": tags,
            "web_acl_arn": web_acl,
            "dns_name_parameter": "/order-tracking/dev/alb_dns_name",
            "aliases": [{"zone_id": "Z0123456789ABC", "name": "app.example.com"}],
            "listeners": [
                {"port": 80, "protocol": "HTTP", "default_actions": [
                    {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}}]},
                https
            ]
        }])
    } else {
        serde_json::json!([])
    };
    let mut msk_tags = serde_json::json!({"Project": "order-tracking"});
    if tagged {
        msk_tags["costctl:stack"] = STACK.into();
    }
    let msks = if msk {
        serde_json::json!([{
            "name": "ot-dev-msk",
            "vpc_configs": [{"subnet_ids": ["subnet-0a", "subnet-0b", "subnet-0c"], "security_group_ids": ["sg-0msk"]}],
            "client_authentication": {"sasl_iam": true},
            "tags": msk_tags,
            "bootstrap_parameter": "/order-tracking/dev/kafka_bootstrap"
        }])
    } else {
        serde_json::json!([])
    };
    let input = json!({"load_balancers": lbs, "kafka_clusters": msks});
    EphemeralSpec::from_value(&input).expect("the scenario's specs are valid");
    input
}
