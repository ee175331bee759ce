//! Comparing a captured NAT gateway or interface endpoint with the spec it should match: the
//! fidelity rule for the network part of the ephemeral tier.
//!
//! Neither kind is changed in place by costctl: a NAT gateway cannot change its subnet,
//! connectivity or addresses at all, and an endpoint's subnets, groups, policy and DNS options
//! are recreated as recorded, so a difference in any of them is a problem a person settles
//! (delete the spec and apply it again). Tags are reported, not reconciled, as for MSK.

use crate::ephemeral::Differences;
use crate::spec::{
    DnsOptionsSpec, EndpointIpAddressType, NatGatewaySpec, VpcEndpointSpec,
    default_dns_record_ip_type,
};
use std::collections::BTreeSet;

/// How the NAT gateway captured as `have` differs from `want`. The routes are not compared
/// here: they belong to route tables and are checked against the live routes (see the
/// planner), because the gateway's capture holds the routes that point at it *now*.
pub fn nat_differences(have: &NatGatewaySpec, want: &NatGatewaySpec) -> Differences {
    let mut d = Differences::default();
    if have.subnet_id != want.subnet_id {
        d.fixed.push("subnet_id".into());
    }
    if have.connectivity_type != want.connectivity_type {
        d.fixed.push("connectivity_type".into());
    }
    if have.allocation_id != want.allocation_id {
        d.fixed.push("allocation_id".into());
    }
    // Not given: whatever address AWS chose.
    if want.private_ip_address.is_some() && have.private_ip_address != want.private_ip_address {
        d.fixed.push("private_ip_address".into());
    }
    if have.tags != want.tags {
        d.in_place.push("tags".into());
    }
    d
}

/// How the endpoint captured as `have` differs from `want`.
pub fn endpoint_differences(have: &VpcEndpointSpec, want: &VpcEndpointSpec) -> Differences {
    let mut d = Differences::default();
    let set = |v: &[String]| v.iter().cloned().collect::<BTreeSet<String>>();
    if have.service_name != want.service_name {
        d.fixed.push("service_name".into());
    }
    if have.vpc_id != want.vpc_id {
        d.fixed.push("vpc_id".into());
    }
    if set(&have.subnet_ids) != set(&want.subnet_ids) {
        d.fixed.push("subnet_ids".into());
    }
    if set(&have.security_group_ids) != set(&want.security_group_ids) {
        d.fixed.push("security_group_ids".into());
    }
    if have.private_dns_enabled != want.private_dns_enabled {
        d.fixed.push("private_dns_enabled".into());
    }
    if normalised_policy(have.policy.as_ref()) != normalised_policy(want.policy.as_ref()) {
        d.fixed.push("policy".into());
    }
    if have.ip_address_type != want.ip_address_type {
        d.fixed.push("ip_address_type".into());
    }
    if dns_options(&have.dns_options, have.ip_address_type)
        != dns_options(&want.dns_options, want.ip_address_type)
    {
        d.fixed.push("dns_options".into());
    }
    if have.tags != want.tags {
        d.in_place.push("tags".into());
    }
    d
}

/// The DNS options with AWS's defaults filled in: the record type follows the IP address type,
/// inbound-resolver-only is off.
fn dns_options(o: &DnsOptionsSpec, ip: EndpointIpAddressType) -> (String, bool) {
    (
        o.dns_record_ip_type
            .clone()
            .unwrap_or_else(|| default_dns_record_ip_type(ip).to_string()),
        o.private_dns_only_for_inbound_resolver_endpoint
            .unwrap_or(false),
    )
}

/// The policy AWS attaches to an endpoint created without one (full access). A capture of an
/// endpoint with exactly this policy holds none, so it equals a spec that gives none.
pub fn is_default_endpoint_policy(policy: &serde_json::Value) -> bool {
    let Some(obj) = policy.as_object() else {
        return false;
    };
    if obj
        .keys()
        .any(|k| k != "Statement" && k != "Version" && k != "Id")
    {
        return false;
    }
    let statements: Vec<&serde_json::Value> = match obj.get("Statement") {
        Some(serde_json::Value::Array(a)) => a.iter().collect(),
        Some(s @ serde_json::Value::Object(_)) => vec![s],
        _ => return false,
    };
    let star = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => s == "*",
        Some(serde_json::Value::Array(a)) => a.len() == 1 && a[0] == "*",
        _ => false,
    };
    statements.len() == 1
        && statements[0].as_object().is_some_and(|s| {
            s.get("Effect").and_then(|e| e.as_str()) == Some("Allow")
                && star(s.get("Principal"))
                && star(s.get("Action"))
                && star(s.get("Resource"))
                && s.keys().all(|k| {
                    matches!(
                        k.as_str(),
                        "Effect" | "Principal" | "Action" | "Resource" | "Sid"
                    )
                })
        })
}

/// A policy for comparison: the default policy and no policy are the same.
pub fn normalised_policy(policy: Option<&serde_json::Value>) -> Option<&serde_json::Value> {
    policy.filter(|p| !is_default_endpoint_policy(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn endpoint() -> VpcEndpointSpec {
        serde_json::from_value(json!({
            "service_name": "com.amazonaws.us-east-1.logs",
            "vpc_id": "vpc-1",
            "subnet_ids": ["subnet-a", "subnet-b"],
            "security_group_ids": ["sg-1"],
        }))
        .unwrap()
    }

    #[test]
    fn the_default_policy_equals_no_policy_in_both_spellings() {
        let aws = json!({"Statement": [{"Action": "*", "Effect": "Allow", "Principal": "*", "Resource": "*"}]});
        let versioned = json!({"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]});
        assert!(is_default_endpoint_policy(&aws));
        assert!(is_default_endpoint_policy(&versioned));
        let mut have = endpoint();
        have.policy = Some(versioned);
        assert!(endpoint_differences(&have, &endpoint()).is_empty());
    }

    #[test]
    fn a_narrower_policy_is_a_difference_that_blocks() {
        let narrow = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "ecr:*", "Resource": "*"}]});
        assert!(!is_default_endpoint_policy(&narrow));
        let mut want = endpoint();
        want.policy = Some(narrow.clone());
        let d = endpoint_differences(&endpoint(), &want);
        assert_eq!(d.fixed, vec!["policy".to_string()]);
        let conditioned = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalAccount": "111122223333"}}}]});
        assert!(!is_default_endpoint_policy(&conditioned));
    }

    #[test]
    fn dns_options_left_out_are_aws_defaults() {
        let mut have = endpoint();
        have.dns_options.dns_record_ip_type = Some("ipv4".into());
        have.dns_options
            .private_dns_only_for_inbound_resolver_endpoint = Some(false);
        assert!(endpoint_differences(&have, &endpoint()).is_empty());
        have.dns_options.dns_record_ip_type = Some("service-defined".into());
        assert_eq!(
            endpoint_differences(&have, &endpoint()).fixed,
            vec!["dns_options".to_string()]
        );
    }

    #[test]
    fn subnets_and_groups_compare_as_sets() {
        let mut have = endpoint();
        have.subnet_ids.reverse();
        assert!(endpoint_differences(&have, &endpoint()).is_empty());
        have.subnet_ids.pop();
        assert_eq!(
            endpoint_differences(&have, &endpoint()).fixed,
            vec!["subnet_ids".to_string()]
        );
    }

    #[test]
    fn a_nat_without_a_requested_address_matches_any() {
        let want: NatGatewaySpec = serde_json::from_value(json!({
            "subnet_id": "subnet-a", "allocation_id": "eipalloc-1",
        }))
        .unwrap();
        let mut have = want.clone();
        have.private_ip_address = Some("10.0.0.5".into());
        assert!(nat_differences(&have, &want).is_empty());
        have.allocation_id = Some("eipalloc-2".into());
        assert_eq!(
            nat_differences(&have, &want).fixed,
            vec!["allocation_id".to_string()]
        );
    }
}
