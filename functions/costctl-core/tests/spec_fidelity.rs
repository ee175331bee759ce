//! The spec format's authentication actions, weighted forwards, mutual TLS and web ACL: their
//! rules (with paths), how they compare with what AWS answers (defaults filled in, a single
//! forward in both forms), and when a load balancer must be kept instead of deleted.

use costctl_core::ephemeral::{lb_differences, lb_recreation_blockers};
use costctl_core::observation::LoadBalancerObs;
use costctl_core::spec::{
    ActionSpec, EphemeralSpec, LoadBalancerSpec, SpecError, SpecProblem, UnauthenticatedBehaviour,
};
use serde_json::{Value, json};

const TG_A: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/a/1";
const TG_B: &str = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/b/2";
const SECRET: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:oidc-AbCdEf";

fn cognito() -> Value {
    json!({"type": "authenticate-cognito", "order": 1, "authenticate_cognito": {
        "user_pool_arn": "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_x",
        "user_pool_client_id": "c1", "user_pool_domain": "orders"}})
}

fn oidc(secret: Option<&str>) -> Value {
    let mut v = json!({"type": "authenticate-oidc", "order": 1, "authenticate_oidc": {
        "issuer": "https://idp.example.com", "authorization_endpoint": "https://idp.example.com/a",
        "token_endpoint": "https://idp.example.com/t", "user_info_endpoint": "https://idp.example.com/u",
        "client_id": "orders"}});
    if let Some(s) = secret {
        v["authenticate_oidc"]["client_secret_arn"] = json!(s);
    }
    v
}

fn weighted() -> Value {
    json!({"type": "forward", "order": 2, "forward_config": {
        "target_groups": [{"target_group_arn": TG_A, "weight": 80}, {"target_group_arn": TG_B, "weight": 20}],
        "stickiness": {"enabled": true, "duration_seconds": 600}}})
}

fn spec(protocol: &str, default_actions: Value) -> Value {
    let mut listener =
        json!({"port": 443, "protocol": protocol, "default_actions": default_actions});
    if protocol == "HTTPS" {
        listener["certificate_arn"] = json!("arn:aws:acm:eu-west-1:123456789012:certificate/c");
    }
    json!({"load_balancers": [{"name": "ot-dev-alb", "subnets": ["subnet-a", "subnet-b"],
        "security_groups": ["sg-1"], "listeners": [listener]}], "kafka_clusters": []})
}

fn problems(v: &Value) -> Vec<(String, SpecProblem)> {
    match EphemeralSpec::from_value(v) {
        Err(SpecError::Invalid(v)) => v.into_iter().map(|v| (v.path, v.problem)).collect(),
        other => panic!("expected validation error, got {other:?}"),
    }
}

fn lb(v: &Value) -> LoadBalancerSpec {
    EphemeralSpec::from_value(v)
        .expect("valid")
        .load_balancers
        .remove(0)
}

#[test]
fn authentication_then_weighted_forward_parses_and_round_trips() {
    let v = spec("HTTPS", json!([cognito(), weighted()]));
    let parsed = EphemeralSpec::from_value(&v).expect("valid");
    let text = serde_json::to_string(&parsed).unwrap();
    assert_eq!(EphemeralSpec::from_json(&text).unwrap(), parsed);
    let v = spec("HTTPS", json!([oidc(Some(SECRET)), weighted()]));
    EphemeralSpec::from_value(&v).expect("valid");
}

#[test]
fn action_lists_follow_aws_rules_with_paths() {
    let p = "load_balancers[0].listeners[0].default_actions";
    // Authentication only on HTTPS.
    assert!(
        problems(&spec("HTTP", json!([cognito(), weighted()])))
            .contains(&(p.to_string(), SpecProblem::AuthenticationOnHttp))
    );
    // Authentication must come before the terminal action, and only once.
    let mut late = cognito();
    late["order"] = json!(3);
    assert!(
        problems(&spec("HTTPS", json!([late, weighted()])))
            .contains(&(p.to_string(), SpecProblem::MisplacedAuthentication))
    );
    assert!(
        problems(&spec("HTTPS", json!([cognito(), oidc(None), weighted()])))
            .contains(&(p.to_string(), SpecProblem::MisplacedAuthentication))
    );
    // Authentication alone ends nothing.
    assert!(
        problems(&spec("HTTPS", json!([cognito()])))
            .contains(&(p.to_string(), SpecProblem::EmptyActions))
    );
}

#[test]
fn forward_config_rules() {
    let p = "load_balancers[0].listeners[0].default_actions[0]";
    let with = |f: &dyn Fn(&mut Value)| {
        let mut a = weighted();
        f(&mut a);
        problems(&spec("HTTPS", json!([a])))
    };
    assert!(
        with(&|a| a["forward_config"]["target_groups"][0]["weight"] = json!(1000)).contains(&(
            format!("{p}.forward_config.target_groups[0].weight"),
            SpecProblem::WeightOutOfRange(1000)
        ))
    );
    assert!(
        with(&|a| a["forward_config"]["stickiness"] = json!({"enabled": true})).contains(&(
            format!("{p}.forward_config.stickiness.duration_seconds"),
            SpecProblem::StickinessDuration
        ))
    );
    assert!(
        with(&|a| a["forward_config"]["target_groups"] = json!([])).contains(&(
            format!("{p}.forward_config.target_groups"),
            SpecProblem::ForwardTargetGroups
        ))
    );
    assert!(with(&|a| a["target_group_arn"] = json!(TG_A)).contains(&(
        format!("{p}.target_group_arn"),
        SpecProblem::ForwardConflict
    )));
}

#[test]
fn mutual_tls_needs_a_trust_store_only_to_verify() {
    let mut v = spec("HTTPS", json!([weighted()]));
    v["load_balancers"][0]["listeners"][0]["mutual_authentication"] = json!({"mode": "verify"});
    assert!(problems(&v).contains(&(
        "load_balancers[0].listeners[0].mutual_authentication.trust_store_arn".to_string(),
        SpecProblem::TrustStore
    )));
    v["load_balancers"][0]["listeners"][0]["mutual_authentication"] =
        json!({"mode": "passthrough"});
    EphemeralSpec::from_value(&v).expect("passthrough needs no trust store");
}

#[test]
fn what_aws_answers_matches_the_spec_it_came_from() {
    // AWS fills in the authentication defaults and answers a single forward as a weighted
    // forward to one group at weight 1.
    let written = lb(&spec(
        "HTTPS",
        json!([cognito(), {"type": "forward", "order": 2, "target_group_arn": TG_A}]),
    ));
    let mut answered = written.clone();
    let actions = &mut answered.listeners[0].default_actions;
    if let ActionSpec::AuthenticateCognito {
        authenticate_cognito: c,
        ..
    } = &mut actions[0]
    {
        c.session_cookie_name = Some("AWSELBAuthSessionCookie".into());
        c.scope = Some("openid".into());
        c.session_timeout = Some(604_800);
        c.on_unauthenticated_request = Some(UnauthenticatedBehaviour::Authenticate);
    }
    actions[1] = serde_json::from_value(json!({"type": "forward", "order": 2,
        "forward_config": {"target_groups": [{"target_group_arn": TG_A, "weight": 1}],
        "stickiness": {"enabled": false}}}))
    .unwrap();
    assert!(lb_differences(&answered, &written).is_empty());
    // A changed weight or a changed scope is a difference.
    let mut other = written.clone();
    other.listeners[0].default_actions[1] = serde_json::from_value(weighted()).unwrap();
    assert!(!lb_differences(&other, &written).is_empty());
}

fn live(spec: LoadBalancerSpec) -> LoadBalancerObs {
    LoadBalancerObs {
        arn: "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/ot-dev-alb/1"
            .into(),
        dns_name: "ot-dev-alb-1.eu-west-1.elb.amazonaws.com".into(),
        zone_id: "Z32O12XQLNTSW2".into(),
        state: "active".into(),
        deletion_protection: false,
        spec,
        unsupported: Vec::new(),
    }
}

#[test]
fn a_load_balancer_that_cannot_come_back_exactly_is_kept() {
    // OIDC without a secret reference: AWS never returns the secret.
    let captured = lb(&spec("HTTPS", json!([oidc(None), weighted()])));
    let obs = live(captured.clone());
    let b = lb_recreation_blockers(&obs, &obs.spec);
    assert!(
        b.iter().any(
            |m| m.contains("listener 443 default action authenticate-oidc")
                && m.contains("client_secret_arn")
        ),
        "{b:?}"
    );
    // The given spec names the secret: nothing blocks.
    let given = lb(&spec("HTTPS", json!([oidc(Some(SECRET)), weighted()])));
    assert_eq!(lb_recreation_blockers(&obs, &given), Vec::<String>::new());
    // A field the adapter could not express blocks, whatever the spec.
    let mut odd = live(given.clone());
    odd.unsupported
        .push("listener 443 rule 5 transforms cannot be recorded in the spec".into());
    assert_eq!(lb_recreation_blockers(&odd, &given).len(), 1);
    // A web ACL associated from outside that the spec does not name blocks; named, it does not.
    let mut waf = live(given.clone());
    waf.spec.web_acl_arn = Some("arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/a/1".into());
    let b = lb_recreation_blockers(&waf, &given);
    assert!(b.iter().any(|m| m.starts_with("web_acl_arn")), "{b:?}");
    let mut with_acl = given.clone();
    with_acl.web_acl_arn = waf.spec.web_acl_arn.clone();
    assert!(lb_recreation_blockers(&waf, &with_acl).is_empty());
    // A given spec changed since (Terraform, while paused) is the owner's wish, not a loss.
    let mut changed = given.clone();
    changed.listeners[0].default_actions[1] =
        serde_json::from_value(json!({"type": "forward", "order": 2, "target_group_arn": TG_B}))
            .unwrap();
    assert!(lb_recreation_blockers(&live(given), &changed).is_empty());
}
