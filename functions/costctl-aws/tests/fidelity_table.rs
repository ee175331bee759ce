//! The field table of `docs/fidelity.md` classifies every field of every SDK shape costctl
//! captures: *captured*, *kept* or *n/a*. This test reads the field names from the SDK itself
//! (the `Debug` output of each shape's builder names every field, values aside) and fails when
//! the SDK gains a field the table does not classify or loses one it lists, so that a feature
//! AWS adds later cannot be dropped by a pause without anybody deciding what happens to it.

use std::collections::{BTreeMap, BTreeSet};

/// The field names of a `Debug` rendering `Name { a: …, b: … }` (top level only).
fn debug_fields(debug: &str) -> BTreeSet<String> {
    let inner = debug
        .split_once('{')
        .and_then(|(_, rest)| rest.rsplit_once('}'))
        .map_or("", |(inner, _)| inner);
    let (mut depth, mut start) = (0i32, 0usize);
    let mut parts = Vec::new();
    for (i, ch) in inner.char_indices() {
        match ch {
            '{' | '(' | '[' => depth += 1,
            '}' | ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .iter()
        .filter_map(|p| p.split_once(':').map(|(name, _)| name.trim().to_string()))
        .filter(|n| !n.is_empty())
        .collect()
}

/// (service, shape) → (field → classification), from the table.
fn table() -> BTreeMap<(String, String), BTreeMap<String, String>> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/fidelity.md");
    let text = std::fs::read_to_string(path).expect("docs/fidelity.md");
    let mut out: BTreeMap<(String, String), BTreeMap<String, String>> = BTreeMap::new();
    for line in text.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "| service | shape | `field` | how | note |" → ["", svc, shape, field, how, note, ""]
        if cells.len() != 7 || !cells[3].starts_with('`') {
            continue;
        }
        let field = cells[3].trim_matches('`').to_string();
        let how = cells[4].to_string();
        assert!(
            matches!(how.as_str(), "captured" | "kept" | "n/a"),
            "{line}: the classification must be captured, kept or n/a"
        );
        let previous = out
            .entry((cells[1].to_string(), cells[2].to_string()))
            .or_default()
            .insert(field.clone(), how);
        assert!(previous.is_none(), "{line}: listed twice");
    }
    out
}

macro_rules! shapes {
    ($($svc:literal $name:literal => $ty:ty),* $(,)?) => {
        vec![$(($svc, $name, debug_fields(&format!("{:?}", <$ty>::builder()))),)*]
    };
}

#[test]
fn every_field_of_every_captured_shape_is_classified() {
    use aws_sdk_elasticloadbalancingv2::types as elb;
    use aws_sdk_kafka::types as msk;
    let shapes = shapes![
        "ELBv2" "LoadBalancer" => elb::LoadBalancer,
        "ELBv2" "AvailabilityZone" => elb::AvailabilityZone,
        "ELBv2" "Listener" => elb::Listener,
        "ELBv2" "Certificate" => elb::Certificate,
        "ELBv2" "MutualAuthenticationAttributes" => elb::MutualAuthenticationAttributes,
        "ELBv2" "Rule" => elb::Rule,
        "ELBv2" "RuleCondition" => elb::RuleCondition,
        "ELBv2" "HostHeaderConditionConfig" => elb::HostHeaderConditionConfig,
        "ELBv2" "PathPatternConditionConfig" => elb::PathPatternConditionConfig,
        "ELBv2" "HttpHeaderConditionConfig" => elb::HttpHeaderConditionConfig,
        "ELBv2" "QueryStringConditionConfig" => elb::QueryStringConditionConfig,
        "ELBv2" "HttpRequestMethodConditionConfig" => elb::HttpRequestMethodConditionConfig,
        "ELBv2" "SourceIpConditionConfig" => elb::SourceIpConditionConfig,
        "ELBv2" "QueryStringKeyValuePair" => elb::QueryStringKeyValuePair,
        "ELBv2" "Action" => elb::Action,
        "ELBv2" "AuthenticateCognitoActionConfig" => elb::AuthenticateCognitoActionConfig,
        "ELBv2" "AuthenticateOidcActionConfig" => elb::AuthenticateOidcActionConfig,
        "ELBv2" "ForwardActionConfig" => elb::ForwardActionConfig,
        "ELBv2" "TargetGroupTuple" => elb::TargetGroupTuple,
        "ELBv2" "TargetGroupStickinessConfig" => elb::TargetGroupStickinessConfig,
        "ELBv2" "RedirectActionConfig" => elb::RedirectActionConfig,
        "ELBv2" "FixedResponseActionConfig" => elb::FixedResponseActionConfig,
        "RDS" "DbInstance" => aws_sdk_rds::types::DbInstance,
        "MSK" "Cluster" => msk::Cluster,
        "MSK" "Serverless" => msk::Serverless,
        "MSK" "VpcConfig" => msk::VpcConfig,
        "MSK" "ServerlessClientAuthentication" => msk::ServerlessClientAuthentication,
        "CloudWatch" "MetricAlarm" => aws_sdk_cloudwatch::types::MetricAlarm,
    ];
    let mut table = table();
    let mut problems = Vec::new();
    for (svc, name, fields) in shapes {
        assert!(!fields.is_empty(), "{svc} {name}: no fields read");
        let listed = table
            .remove(&(svc.to_string(), name.to_string()))
            .unwrap_or_default();
        let listed: BTreeSet<String> = listed.into_keys().collect();
        for f in fields.difference(&listed) {
            problems.push(format!(
                "{svc} {name}.{f}: new in the SDK and not in docs/fidelity.md: capture it, or classify it as kept (and make the adapter name it when set) or n/a"
            ));
        }
        for f in listed.difference(&fields) {
            problems.push(format!(
                "{svc} {name}.{f}: listed in docs/fidelity.md but not a field of the SDK shape"
            ));
        }
    }
    for (svc, name) in table.keys() {
        problems.push(format!(
            "{svc} {name}: a shape in the table that the test does not read"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_debug_reader_finds_top_level_fields_only() {
    let f = debug_fields("X { a: Some(Y { b: 1, c: [2, 3] }), d: None, e: \"x, y\" }");
    // A string value with a comma may add a stray part, but never a name with a colon in it.
    assert!(
        f.contains("a") && f.contains("d") && f.contains("e"),
        "{f:?}"
    );
    assert!(!f.contains("b") && !f.contains("c"), "{f:?}");
}
