use super::*;

pub(crate) const EXAMPLE: &str = r#"{
  "load_balancers": [{
    "name": "ot-dev-alb",
    "subnets": ["subnet-0aaa", "subnet-0bbb"],
    "security_groups": ["sg-0alb"],
    "attributes": {"idle_timeout.timeout_seconds": "120"},
    "tags": {"Project": "order-tracking"},
    "dns_name_parameter": "/order-tracking/dev/alb_dns_name",
    "aliases": [{"zone_id": "Z0123456789ABC", "name": "app.example.com"}],
    "listeners": [
      {"port": 80, "protocol": "HTTP", "default_actions": [
        {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}}]},
      {"port": 443, "protocol": "HTTPS", "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
       "certificate_arn": "arn:aws:acm:eu-west-1:123456789012:certificate/abc",
       "default_actions": [{"type": "forward", "target_group_arn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ot-dev-tg/1"}],
       "rules": [
         {"priority": 10, "conditions": [{"field": "path-pattern", "values": ["/api/*"]}],
          "actions": [{"type": "forward", "target_group_arn": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/ot-dev-api/2"}]},
         {"priority": 20, "conditions": [{"field": "http-header", "http_header_name": "X-Canary", "values": ["1"]}],
          "actions": [{"type": "fixed-response", "fixed_response": {"status_code": "503", "content_type": "text/plain", "message_body": "paused"}}]}
       ]}
    ]
  }],
  "kafka_clusters": [{
    "name": "ot-dev-msk",
    "vpc_configs": [{"subnet_ids": ["subnet-0aaa", "subnet-0bbb"], "security_group_ids": ["sg-0msk"]}],
    "client_authentication": {"sasl_iam": true},
    "bootstrap_parameter": "/order-tracking/dev/kafka_bootstrap"
  }]
}"#;

fn problems(json: &str) -> Vec<(String, SpecProblem)> {
    match EphemeralSpec::from_json(json) {
        Err(SpecError::Invalid(v)) => v.into_iter().map(|v| (v.path, v.problem)).collect(),
        other => panic!("expected validation error, got {other:?}"),
    }
}

fn edit(f: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut v: serde_json::Value = serde_json::from_str(EXAMPLE).unwrap();
    f(&mut v);
    v.to_string()
}

#[test]
fn example_parses_with_defaults() {
    let spec = EphemeralSpec::from_json(EXAMPLE).unwrap();
    let lb = &spec.load_balancers[0];
    assert_eq!(lb.scheme, Scheme::InternetFacing);
    assert_eq!(lb.lb_type, LoadBalancerType::Application);
    assert_eq!(lb.ip_address_type, IpAddressType::Ipv4);
    assert_eq!(lb.listeners[1].rules.len(), 2);
    assert!(lb.listeners[0].rules.is_empty());
    assert!(spec.kafka_clusters[0].tags.is_empty());
}

#[test]
fn serialise_parse_round_trip() {
    let spec = EphemeralSpec::from_json(EXAMPLE).unwrap();
    let json = serde_json::to_string(&spec).unwrap();
    assert_eq!(EphemeralSpec::from_json(&json).unwrap(), spec);
}

#[test]
fn parse_errors_carry_the_path() {
    let json = edit(|v| v["load_balancers"][0]["listeners"][1]["port"] = "443".into());
    match EphemeralSpec::from_json(&json) {
        Err(SpecError::Parse { path, .. }) => {
            assert_eq!(path, "load_balancers[0].listeners[1].port")
        }
        other => panic!("{other:?}"),
    }
    let json = edit(|v| v["kafka_clusters"][0]["colour"] = "red".into());
    match EphemeralSpec::from_json(&json) {
        Err(SpecError::Parse { path, message }) => {
            assert_eq!(path, "kafka_clusters[0].colour");
            assert!(message.contains("colour"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let err = EphemeralSpec::from_json("{").unwrap_err();
    assert!(matches!(err, SpecError::Parse { .. }));
}

#[test]
fn https_without_certificate_and_http_with_one() {
    let json = edit(|v| {
        let l = &mut v["load_balancers"][0]["listeners"];
        l[1].as_object_mut().unwrap().remove("certificate_arn");
        l[0]["certificate_arn"] = "arn:aws:acm:x".into();
    });
    let p = problems(&json);
    assert!(p.contains(&(
        "load_balancers[0].listeners[1].certificate_arn".into(),
        SpecProblem::HttpsWithoutCertificate
    )));
    assert!(p.contains(&(
        "load_balancers[0].listeners[0].certificate_arn".into(),
        SpecProblem::TlsSettingOnHttp("certificate_arn")
    )));
}

#[test]
fn duplicates_are_reported() {
    let json = edit(|v| {
        let lb = v["load_balancers"][0].clone();
        v["load_balancers"].as_array_mut().unwrap().push(lb);
        let l = &mut v["load_balancers"][0]["listeners"];
        l[0]["port"] = 443.into();
        l[1]["rules"][1]["priority"] = 10.into();
    });
    let p = problems(&json);
    assert!(p.contains(&(
        "load_balancers[1].name".into(),
        SpecProblem::DuplicateName("ot-dev-alb".into())
    )));
    assert!(p.contains(&(
        "load_balancers[0].listeners[1].port".into(),
        SpecProblem::DuplicatePort(443)
    )));
    assert!(p.contains(&(
        "load_balancers[0].listeners[1].rules[1].priority".into(),
        SpecProblem::DuplicatePriority(10)
    )));
}

#[test]
fn priority_range_subnets_actions_forward() {
    let json = edit(|v| {
        let lb = &mut v["load_balancers"][0];
        lb["subnets"] = serde_json::json!(["subnet-1"]);
        let l = &mut lb["listeners"][1];
        l["rules"][0]["priority"] = 50_001.into();
        l["rules"][1]["actions"] = serde_json::json!([]);
        l["default_actions"] = serde_json::json!([{"type": "forward"}]);
    });
    let p = problems(&json);
    let lp = "load_balancers[0].listeners[1]";
    assert!(p.contains(&(
        format!("{lp}.rules[0].priority"),
        SpecProblem::PriorityOutOfRange(50_001)
    )));
    assert!(p.contains(&(format!("{lp}.rules[1].actions"), SpecProblem::EmptyActions)));
    assert!(p.contains(&(
        format!("{lp}.default_actions[0].target_group_arn"),
        SpecProblem::ForwardWithoutTargetGroup
    )));
    assert!(p.contains(&(
        "load_balancers[0].subnets".into(),
        SpecProblem::TooFewSubnets(1)
    )));
}

#[test]
fn names_and_parameters() {
    let json = edit(|v| {
        v["load_balancers"][0]["name"] = "internal-app".into();
        v["load_balancers"][0]["dns_name_parameter"] = "order-tracking/dev".into();
        v["kafka_clusters"][0]["name"] = "-msk".into();
        v["kafka_clusters"][0]["vpc_configs"] = serde_json::json!([]);
        v["kafka_clusters"][0]["bootstrap_parameter"] = "/aws/reserved".into();
    });
    let p = problems(&json);
    assert!(p.iter().any(|(path, pr)| path == "load_balancers[0].name"
        && matches!(pr, SpecProblem::InvalidLoadBalancerName(_))));
    assert!(
        p.iter()
            .any(|(path, pr)| path == "load_balancers[0].dns_name_parameter"
                && matches!(pr, SpecProblem::InvalidParameterName { .. }))
    );
    assert!(p.iter().any(|(path, pr)| path == "kafka_clusters[0].name"
        && matches!(pr, SpecProblem::InvalidClusterName(_))));
    assert!(p.contains(&(
        "kafka_clusters[0].vpc_configs".into(),
        SpecProblem::NoVpcConfigs
    )));
    assert!(
        p.iter()
            .any(|(path, _)| path == "kafka_clusters[0].bootstrap_parameter")
    );
}

#[test]
fn without_keeps_only_the_names_the_other_lacks() {
    let full = EphemeralSpec::from_json(EXAMPLE).unwrap();
    let lb_only = EphemeralSpec {
        kafka_clusters: Vec::new(),
        ..full.clone()
    };
    let removed = full.without(&lb_only);
    assert!(removed.load_balancers.is_empty());
    assert_eq!(removed.kafka_clusters, full.kafka_clusters);
    assert!(lb_only.without(&full).is_empty());
    assert!(full.without(&full).is_empty());
}

#[test]
fn name_rules() {
    assert!(valid_alb_name("ot-dev-alb"));
    assert!(valid_alb_name(&"a".repeat(32)));
    assert!(!valid_alb_name(&"a".repeat(33)));
    assert!(!valid_alb_name("alb-"));
    assert!(!valid_alb_name("a_b"));
    assert!(!valid_alb_name(""));
    assert!(valid_msk_name("0-msk"));
    assert!(valid_msk_name(&"m".repeat(64)));
    assert!(!valid_msk_name(&"m".repeat(65)));
    assert!(!valid_msk_name("msk.dev"));
    assert!(check_ssm_parameter_name("/a/b").is_ok());
    assert!(check_ssm_parameter_name("plain_name").is_ok());
    assert!(check_ssm_parameter_name("/a//b").is_err());
    assert!(check_ssm_parameter_name("/a b").is_err());
    assert!(check_ssm_parameter_name("/SSM/x").is_err());
    assert!(check_ssm_parameter_name(&"/a".repeat(16)).is_err());
}

#[test]
fn conditions_and_actions_are_tagged() {
    let json = edit(|v| {
        v["load_balancers"][0]["listeners"][1]["rules"][0]["conditions"] =
            serde_json::json!([{"field": "cookie", "values": ["x"]}]);
    });
    assert!(matches!(
        EphemeralSpec::from_json(&json),
        Err(SpecError::Parse { .. })
    ));
    let json = edit(|v| {
        v["load_balancers"][0]["listeners"][1]["rules"][0]["conditions"] =
            serde_json::json!([{"field": "path-pattern", "values": ["/"], "extra": 1}]);
    });
    assert!(matches!(
        EphemeralSpec::from_json(&json),
        Err(SpecError::Parse { .. })
    ));
}
