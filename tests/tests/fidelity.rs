//! Lossless or kept, against the emulator (with its AWS-behaviour patches: the OIDC client
//! secret is never returned, a restore carries only what AWS carries): a rich ALB and a rich
//! database come back field by field, what cannot come back is kept and named, and what was
//! already off stays off.

use aws_sdk_elasticloadbalancingv2 as elbv2;
use aws_sdk_rds as rds;
use costctl_aws::{AwsCloud, DynamoStore};
use costctl_core::spec::EphemeralSpec;
use costctl_core::{DesiredState, Selector};
use costctl_engine::engine::Options;
use costctl_engine::{Cloud, Engine, EngineError, RequestSpec};
use costctl_tests::stack::{self, DemoStack, StackSpec};
use costctl_tests::{Emulator, EmulatorOptions, start_with_stack};
use elbv2::types::{
    Action, ActionTypeEnum, AuthenticateCognitoActionConfig, AuthenticateOidcActionConfig,
    Certificate, ForwardActionConfig, HttpHeaderConditionConfig, HttpRequestMethodConditionConfig,
    LoadBalancerAttribute, ProtocolEnum, QueryStringConditionConfig, QueryStringKeyValuePair,
    RuleCondition, SourceIpConditionConfig, Tag, TargetGroupStickinessConfig, TargetGroupTuple,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

const TABLE: &str = costctl_tests::STATE_TABLE;

struct World {
    _emu: Emulator,
    sdk: aws_config::SdkConfig,
    stack: DemoStack,
}

impl World {
    async fn new(spec: StackSpec) -> World {
        let (emu, sdk, stack) = start_with_stack(EmulatorOptions::default(), &spec)
            .await
            .expect("emulator with a demo stack");
        World {
            _emu: emu,
            sdk,
            stack,
        }
    }

    fn engine(&self) -> Engine<AwsCloud, DynamoStore> {
        Engine::new(
            AwsCloud::new(&self.sdk),
            DynamoStore::new(&self.sdk, TABLE),
            Options {
                owner: "test-fidelity".into(),
                poll_interval: Duration::from_millis(50),
                lease_ttl: Duration::from_secs(30),
                ..Options::default()
            },
        )
    }

    fn elb(&self) -> elbv2::Client {
        elbv2::Client::new(&self.sdk)
    }

    fn rds(&self) -> rds::Client {
        rds::Client::new(&self.sdk)
    }

    async fn target_group(&self, name: &str) -> String {
        stack::target_group(&self.sdk, &self.stack, name)
            .await
            .expect("target group")
    }

    async fn certificate(&self, domain: &str) -> String {
        stack::certificate(&self.sdk, domain)
            .await
            .expect("certificate")
    }

    async fn load_balancer(&self, name: &str) -> String {
        let tags: Vec<Tag> = self
            .stack
            .spec
            .tags()
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        self.elb()
            .create_load_balancer()
            .name(name)
            .set_subnets(Some(self.stack.subnets.iter().take(2).cloned().collect()))
            .security_groups(&self.stack.security_group)
            .set_tags(Some(tags))
            .send()
            .await
            .unwrap()
            .load_balancers()[0]
            .load_balancer_arn()
            .unwrap()
            .to_string()
    }

    /// Everything configurable about the ALB, read with the plain SDK: listeners, rules
    /// (conditions, actions), certificates, mutual TLS, attributes, tags, WAF association.
    /// ARNs of the load balancer, its listeners and rules are left out (they change).
    async fn alb_picture(&self, name: &str) -> Option<Value> {
        let elb = self.elb();
        let lb = match elb.describe_load_balancers().names(name).send().await {
            Ok(out) => out.load_balancers()[0].clone(),
            Err(_) => return None,
        };
        let arn = lb.load_balancer_arn().unwrap().to_string();
        let attrs: BTreeMap<String, String> = elb
            .describe_load_balancer_attributes()
            .load_balancer_arn(&arn)
            .send()
            .await
            .unwrap()
            .attributes()
            .iter()
            .map(|a| (a.key().unwrap().to_string(), a.value().unwrap().to_string()))
            .collect();
        let tags: BTreeMap<String, String> = elb
            .describe_tags()
            .resource_arns(&arn)
            .send()
            .await
            .unwrap()
            .tag_descriptions()[0]
            .tags()
            .iter()
            .map(|t| (t.key().unwrap().to_string(), t.value().unwrap().to_string()))
            .collect();
        let web_acl = aws_sdk_wafv2::Client::new(&self.sdk)
            .get_web_acl_for_resource()
            .resource_arn(&arn)
            .send()
            .await
            .unwrap()
            .web_acl()
            .map(|w| w.arn().to_string());
        let mut listeners = Vec::new();
        let mut ls = elb
            .describe_listeners()
            .load_balancer_arn(&arn)
            .send()
            .await
            .unwrap()
            .listeners()
            .to_vec();
        ls.sort_by_key(|l| l.port());
        for l in ls {
            let larn = l.listener_arn().unwrap();
            let mut rules: Vec<Value> = elb
                .describe_rules()
                .listener_arn(larn)
                .send()
                .await
                .unwrap()
                .rules()
                .iter()
                .map(|r| {
                    json!({
                        "priority": r.priority(),
                        "conditions": format!("{:?}", r.conditions()),
                        "actions": format!("{:?}", sorted(r.actions())),
                    })
                })
                .collect();
            rules.sort_by_key(|r| r["priority"].as_str().unwrap_or("").to_string());
            let mut certs: Vec<String> = elb
                .describe_listener_certificates()
                .listener_arn(larn)
                .send()
                .await
                .map(|o| {
                    o.certificates()
                        .iter()
                        .map(|c| format!("{:?}/{:?}", c.certificate_arn(), c.is_default()))
                        .collect()
                })
                .unwrap_or_default();
            certs.sort();
            let attributes: BTreeMap<String, String> = elb
                .describe_listener_attributes()
                .listener_arn(larn)
                .send()
                .await
                .unwrap()
                .attributes()
                .iter()
                .map(|a| (a.key().unwrap().to_string(), a.value().unwrap().to_string()))
                .collect();
            listeners.push(json!({
                "port": l.port(),
                "protocol": l.protocol().map(|p| p.as_str()),
                "ssl_policy": l.ssl_policy(),
                "certificates": certs,
                "mutual_authentication": format!("{:?}", l.mutual_authentication()),
                "attributes": attributes,
                "default_actions": format!("{:?}", sorted(l.default_actions())),
                "rules": rules,
            }));
        }
        let mut subnets: Vec<Option<&str>> = lb
            .availability_zones()
            .iter()
            .map(|z| z.subnet_id())
            .collect();
        subnets.sort();
        Some(json!({
            "name": lb.load_balancer_name(),
            "scheme": lb.scheme().map(|s| s.as_str()),
            "ip_address_type": lb.ip_address_type().map(|t| t.as_str()),
            "subnets": subnets,
            "security_groups": lb.security_groups(),
            "attributes": attrs,
            "tags": tags,
            "web_acl": web_acl,
            "listeners": listeners,
        }))
    }

    /// A customer managed KMS key; its ARN.
    async fn kms_key(&self, description: &str) -> String {
        aws_sdk_kms::Client::new(&self.sdk)
            .create_key()
            .description(description)
            .send()
            .await
            .unwrap()
            .key_metadata()
            .unwrap()
            .arn()
            .unwrap()
            .to_string()
    }

    async fn web_acl(&self, name: &str) -> String {
        aws_sdk_wafv2::Client::new(&self.sdk)
            .create_web_acl()
            .name(name)
            .scope(aws_sdk_wafv2::types::Scope::Regional)
            .default_action(
                aws_sdk_wafv2::types::DefaultAction::builder()
                    .allow(aws_sdk_wafv2::types::AllowAction::builder().build())
                    .build(),
            )
            .visibility_config(
                aws_sdk_wafv2::types::VisibilityConfig::builder()
                    .sampled_requests_enabled(false)
                    .cloud_watch_metrics_enabled(false)
                    .metric_name(name)
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap()
            .summary()
            .unwrap()
            .arn()
            .unwrap()
            .to_string()
    }
}

fn sorted(actions: &[Action]) -> Vec<Action> {
    let mut v = actions.to_vec();
    v.sort_by_key(|a| a.order());
    v
}

async fn transition(
    w: &World,
    engine: &Engine<AwsCloud, DynamoStore>,
    stack: &str,
    desired: DesiredState,
) -> Result<costctl_engine::Report, EngineError> {
    let req = RequestSpec {
        selector: Some(Selector::from_tag_args(&w.stack.spec.tag_args()).unwrap()),
        ..RequestSpec::new(desired, costctl_core::event::Trigger::Cli)
    };
    let state = engine.request(stack, req).await?;
    engine
        .run_until(stack, state.generation, Duration::from_secs(90))
        .await
}

fn cognito(order: i32) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::AuthenticateCognito)
        .order(order)
        .authenticate_cognito_config(
            AuthenticateCognitoActionConfig::builder()
                .user_pool_arn("arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Fake")
                .user_pool_client_id("client-1")
                .user_pool_domain("orders-dev")
                .scope("openid email")
                .session_timeout(3600)
                .authentication_request_extra_params("prompt", "login")
                .on_unauthenticated_request(
                    elbv2::types::AuthenticateCognitoActionConditionalBehaviorEnum::Deny,
                )
                .build(),
        )
        .build()
}

fn weighted_sticky(order: i32, a: &str, b: &str) -> Action {
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .order(order)
        .forward_config(
            ForwardActionConfig::builder()
                .target_groups(
                    TargetGroupTuple::builder()
                        .target_group_arn(a)
                        .weight(80)
                        .build(),
                )
                .target_groups(
                    TargetGroupTuple::builder()
                        .target_group_arn(b)
                        .weight(20)
                        .build(),
                )
                .target_group_stickiness_config(
                    TargetGroupStickinessConfig::builder()
                        .enabled(true)
                        .duration_seconds(600)
                        .build(),
                )
                .build(),
        )
        .build()
}

fn condition(field: &str) -> elbv2::types::builders::RuleConditionBuilder {
    RuleCondition::builder().field(field)
}

/// The ALB of the first "done when": Cognito before a weighted sticky forward, a
/// second certificate, rules on source-ip + method and on header + query string, non-default
/// attributes with access logs, a web ACL, tags. Pause deletes it; resume brings back every
/// listener, rule, attribute, certificate, tag and the WAF association.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rich_alb_comes_back_field_by_field() {
    let w = World::new(StackSpec::new("rich", 1, 1, 0)).await;
    let elb = w.elb();
    let (tg_a, tg_b) = (
        w.target_group("rich-a").await,
        w.target_group("rich-b").await,
    );
    let cert = w.certificate("rich.example.com").await;
    let cert2 = w.certificate("api.rich.example.com").await;
    let arn = w.load_balancer("rich-alb").await;
    elb.modify_load_balancer_attributes()
        .load_balancer_arn(&arn)
        .set_attributes(Some(
            [
                ("access_logs.s3.enabled", "true"),
                ("access_logs.s3.bucket", "rich-alb-logs"),
                ("access_logs.s3.prefix", "dev"),
                ("idle_timeout.timeout_seconds", "120"),
                ("routing.http.drop_invalid_header_fields.enabled", "true"),
                ("routing.http.desync_mitigation_mode", "strictest"),
                ("waf.fail_open.enabled", "true"),
            ]
            .into_iter()
            .map(|(k, v)| LoadBalancerAttribute::builder().key(k).value(v).build())
            .collect(),
        ))
        .send()
        .await
        .unwrap();
    let https = elb
        .create_listener()
        .load_balancer_arn(&arn)
        .port(443)
        .protocol(ProtocolEnum::Https)
        .ssl_policy("ELBSecurityPolicy-TLS13-1-2-2021-06")
        .certificates(Certificate::builder().certificate_arn(&cert).build())
        .default_actions(cognito(1))
        .default_actions(weighted_sticky(2, &tg_a, &tg_b))
        .send()
        .await
        .unwrap()
        .listeners()[0]
        .listener_arn()
        .unwrap()
        .to_string();
    elb.add_listener_certificates()
        .listener_arn(&https)
        .certificates(Certificate::builder().certificate_arn(&cert2).build())
        .send()
        .await
        .unwrap();
    elb.modify_listener_attributes()
        .listener_arn(&https)
        .attributes(
            elbv2::types::ListenerAttribute::builder()
                .key("routing.http.response.server.enabled")
                .value("false")
                .build(),
        )
        .attributes(
            elbv2::types::ListenerAttribute::builder()
                .key("routing.http.response.strict_transport_security.header_value")
                .value("max-age=31536000; includeSubDomains")
                .build(),
        )
        .send()
        .await
        .unwrap();
    elb.create_rule()
        .listener_arn(&https)
        .priority(10)
        .conditions(
            condition("source-ip")
                .source_ip_config(
                    SourceIpConditionConfig::builder()
                        .values("10.0.0.0/8")
                        .values("192.0.2.0/24")
                        .build(),
                )
                .build(),
        )
        .conditions(
            condition("http-request-method")
                .http_request_method_config(
                    HttpRequestMethodConditionConfig::builder()
                        .values("POST")
                        .values("PUT")
                        .build(),
                )
                .build(),
        )
        .actions(
            Action::builder()
                .r#type(ActionTypeEnum::FixedResponse)
                .fixed_response_config(
                    elbv2::types::FixedResponseActionConfig::builder()
                        .status_code("403")
                        .content_type("text/plain")
                        .message_body("writes are closed")
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    elb.create_rule()
        .listener_arn(&https)
        .priority(20)
        .conditions(
            condition("http-header")
                .http_header_config(
                    HttpHeaderConditionConfig::builder()
                        .http_header_name("X-Canary")
                        .values("1")
                        .values("yes")
                        .build(),
                )
                .build(),
        )
        .conditions(
            condition("query-string")
                .query_string_config(
                    QueryStringConditionConfig::builder()
                        .values(
                            QueryStringKeyValuePair::builder()
                                .key("v")
                                .value("2")
                                .build(),
                        )
                        .values(QueryStringKeyValuePair::builder().value("beta").build())
                        .build(),
                )
                .build(),
        )
        .actions(cognito(1))
        .actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .order(2)
                .target_group_arn(&tg_b)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let acl = w.web_acl("rich-acl").await;
    aws_sdk_wafv2::Client::new(&w.sdk)
        .associate_web_acl()
        .web_acl_arn(&acl)
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    // Two alarms on its dimensions: one on the load balancer, one on a target group of it.
    let cw = aws_sdk_cloudwatch::Client::new(&w.sdk);
    let suffix = costctl_core::observation::lb_dimension(&arn)
        .unwrap()
        .to_string();
    let tg_suffix = tg_a.rsplit_once(':').unwrap().1.to_string();
    let dim = |n: &str, v: &str| {
        aws_sdk_cloudwatch::types::Dimension::builder()
            .name(n)
            .value(v)
            .build()
    };
    cw.put_metric_alarm()
        .alarm_name("rich-alb-5xx")
        .alarm_description("ELB 5xx")
        .namespace("AWS/ApplicationELB")
        .metric_name("HTTPCode_ELB_5XX_Count")
        .dimensions(dim("LoadBalancer", &suffix))
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(60)
        .evaluation_periods(3)
        .datapoints_to_alarm(2)
        .threshold(10.5)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .treat_missing_data("notBreaching")
        .alarm_actions("arn:aws:sns:eu-west-1:123456789012:ops-pager")
        .ok_actions("arn:aws:sns:eu-west-1:123456789012:ops-pager")
        .send()
        .await
        .unwrap();
    cw.put_metric_alarm()
        .alarm_name("rich-alb-unhealthy")
        .namespace("AWS/ApplicationELB")
        .metric_name("UnHealthyHostCount")
        .dimensions(dim("TargetGroup", &tg_suffix))
        .dimensions(dim("LoadBalancer", &suffix))
        .statistic(aws_sdk_cloudwatch::types::Statistic::Maximum)
        .period(60)
        .evaluation_periods(1)
        .threshold(0.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .alarm_actions("arn:aws:sns:eu-west-1:123456789012:ops-pager")
        .send()
        .await
        .unwrap();
    // And one on another load balancer of the account: listed with the others (DescribeAlarms
    // has no dimension filter), it is not the stack's however it is tagged.
    cw.put_metric_alarm()
        .alarm_name("other-alb-5xx")
        .namespace("AWS/ApplicationELB")
        .metric_name("HTTPCode_ELB_5XX_Count")
        .dimensions(dim("LoadBalancer", "app/other-alb/0123456789abcdef"))
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .alarm_actions("arn:aws:sns:eu-west-1:123456789012:ops-pager")
        .send()
        .await
        .unwrap();
    // All carry the stack's tags (as Terraform's default_tags would give them): the first two
    // are the stack's alarms, which costctl may mute and re-point.
    for name in ["rich-alb-5xx", "rich-alb-unhealthy", "other-alb-5xx"] {
        let alarm_arn = cw
            .describe_alarms()
            .alarm_names(name)
            .send()
            .await
            .unwrap()
            .metric_alarms()[0]
            .alarm_arn()
            .unwrap()
            .to_string();
        cw.tag_resource()
            .resource_arn(alarm_arn)
            .set_tags(Some(
                w.stack
                    .spec
                    .tags()
                    .into_iter()
                    .map(|(k, v)| {
                        aws_sdk_cloudwatch::types::Tag::builder()
                            .key(k)
                            .value(v)
                            .build()
                    })
                    .collect(),
            ))
            .send()
            .await
            .unwrap();
    }
    let alarms_before = alarm_picture(&w, &suffix).await;
    assert_eq!(
        alarms_before.as_object().unwrap().len(),
        2,
        "{alarms_before:#}"
    );

    let before = w.alb_picture("rich-alb").await.unwrap();
    assert_eq!(before["web_acl"], json!(acl), "{before:#}");
    assert_eq!(
        before["listeners"][0]["attributes"]["routing.http.response.server.enabled"], "false",
        "{before:#}"
    );

    let engine = w.engine();
    let report = transition(&w, &engine, "rich", DesiredState::Paused)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    assert!(w.alb_picture("rich-alb").await.is_none(), "ALB deleted");
    // Paused: the alarms page nobody, and still name the old load balancer.
    let paused = alarm_picture(&w, &suffix).await;
    assert_eq!(paused.as_object().unwrap().len(), 2, "{paused:#}");
    for (name, a) in paused.as_object().unwrap() {
        assert_eq!(a["actions_enabled"], false, "{name}: {paused:#}");
    }
    let other = cw
        .describe_alarms()
        .alarm_names("other-alb-5xx")
        .send()
        .await
        .unwrap();
    assert_eq!(
        other.metric_alarms()[0].actions_enabled(),
        Some(true),
        "another load balancer's alarm is left alone"
    );

    let report = transition(&w, &engine, "rich", DesiredState::Running)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    let after = w.alb_picture("rich-alb").await.expect("recreated");
    assert_eq!(after, before);
    // The alarms watch the new load balancer (its ID aside, the same definition) and page again.
    let new_arn = elb
        .describe_load_balancers()
        .names("rich-alb")
        .send()
        .await
        .unwrap()
        .load_balancers()[0]
        .load_balancer_arn()
        .unwrap()
        .to_string();
    let new_suffix = costctl_core::observation::lb_dimension(&new_arn).unwrap();
    assert_ne!(new_suffix, suffix, "a recreated ALB has a new ID");
    assert_eq!(
        alarm_picture(&w, new_suffix).await,
        alarms_before,
        "{report:#?}"
    );
}

/// The alarms whose dimensions name `app/rich-alb/…`, by name: every field DescribeAlarms
/// returns that PutMetricAlarm sets, with the load balancer's own dimension `suffix` written as
/// `app/rich-alb/ID` (so that pictures of an old and a recreated ALB compare).
async fn alarm_picture(w: &World, suffix: &str) -> Value {
    let out = aws_sdk_cloudwatch::Client::new(&w.sdk)
        .describe_alarms()
        .send()
        .await
        .unwrap();
    let mut map = serde_json::Map::new();
    for a in out.metric_alarms() {
        let dims: Vec<Value> = a
            .dimensions()
            .iter()
            .map(|d| {
                let v = d.value().unwrap_or_default();
                json!([d.name(), if v == suffix { "app/rich-alb/ID" } else { v }])
            })
            .collect();
        if !dims.iter().any(|d| d[1] == "app/rich-alb/ID") {
            continue;
        }
        map.insert(
            a.alarm_name().unwrap_or_default().to_string(),
            json!({
                "description": a.alarm_description(),
                "actions_enabled": a.actions_enabled(),
                "alarm_actions": a.alarm_actions(),
                "ok_actions": a.ok_actions(),
                "insufficient_data_actions": a.insufficient_data_actions(),
                "namespace": a.namespace(),
                "metric_name": a.metric_name(),
                "dimensions": dims,
                "statistic": a.statistic().map(|s| s.as_str().to_string()),
                "period": a.period(),
                "evaluation_periods": a.evaluation_periods(),
                "datapoints_to_alarm": a.datapoints_to_alarm(),
                "threshold": a.threshold(),
                "comparison_operator": a.comparison_operator().map(|c| c.as_str().to_string()),
                "treat_missing_data": a.treat_missing_data(),
            }),
        );
    }
    Value::Object(map)
}

/// An OIDC client secret cannot be read back from AWS: without a secret reference the ALB is
/// kept (everything else pauses) and status, plan and report name the field; with one (a
/// spec given through apply-spec, as Terraform does) it is deleted and recreated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_alb_is_kept_without_a_secret_reference_and_recreated_with_one() {
    let w = World::new(StackSpec::new("oidc", 1, 1, 0)).await;
    let elb = w.elb();
    let tg = w.target_group("oidc-tg").await;
    let cert = w.certificate("oidc.example.com").await;
    let arn = w.load_balancer("oidc-alb").await;
    let oidc = |secret: Option<&str>| {
        Action::builder()
            .r#type(ActionTypeEnum::AuthenticateOidc)
            .order(1)
            .authenticate_oidc_config(
                AuthenticateOidcActionConfig::builder()
                    .issuer("https://idp.example.com")
                    .authorization_endpoint("https://idp.example.com/authorize")
                    .token_endpoint("https://idp.example.com/token")
                    .user_info_endpoint("https://idp.example.com/userinfo")
                    .client_id("orders")
                    .set_client_secret(secret.map(str::to_string))
                    .build(),
            )
            .build()
    };
    elb.create_listener()
        .load_balancer_arn(&arn)
        .port(443)
        .protocol(ProtocolEnum::Https)
        .certificates(Certificate::builder().certificate_arn(&cert).build())
        .default_actions(oidc(Some("s3cr3t")))
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .order(2)
                .target_group_arn(&tg)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let before = w.alb_picture("oidc-alb").await.unwrap();
    let engine = w.engine();

    // Plan first: nothing happens, and the plan says why the ALB stays.
    let (_, plan) = engine
        .inspect(
            "oidc",
            Some(DesiredState::Paused),
            Some(&Selector::from_tag_args(&w.stack.spec.tag_args()).unwrap()),
        )
        .await
        .unwrap();
    let named = |notes: &[costctl_core::plan::Note]| {
        notes.iter().any(|n| {
            n.resource == "alb:oidc-alb"
                && n.message.contains("kept")
                && n.message
                    .contains("listener 443 default action authenticate-oidc")
                && n.message.contains("client_secret_arn")
        })
    };
    assert!(named(&plan.notes), "{plan:#?}");
    assert!(
        !plan
            .steps
            .iter()
            .any(|s| s.action.resource() == "alb:oidc-alb"),
        "{plan:#?}"
    );

    let report = transition(&w, &engine, "oidc", DesiredState::Paused)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    assert!(named(&report.notes), "{report:#?}");
    assert_eq!(
        w.alb_picture("oidc-alb").await.as_ref(),
        Some(&before),
        "kept as it was"
    );
    let (status, _) = engine.inspect("oidc", None, None).await.unwrap();
    assert!(named(&status.notes), "{status:#?}");
    let services = w.stack.picture(&w.sdk).await.unwrap();
    assert!(
        services.desired.values().all(|d| *d == 0),
        "the rest paused: {services:?}"
    );
    let report = transition(&w, &engine, "oidc", DesiredState::Running)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");

    // With the secret's ARN in a given spec, the ALB is deleted and recreated.
    let secret_arn = aws_sdk_secretsmanager::Client::new(&w.sdk)
        .create_secret()
        .name("oidc/client-secret")
        .secret_string("s3cr3t")
        .send()
        .await
        .unwrap()
        .arn()
        .unwrap()
        .to_string();
    let selector = Selector::from_tag_args(&w.stack.spec.tag_args()).unwrap();
    let mut lb = AwsCloud::new(&w.sdk)
        .find_load_balancers(&selector, &[])
        .await
        .unwrap()
        .remove(0)
        .spec;
    for l in &mut lb.listeners {
        for a in &mut l.default_actions {
            if let costctl_core::spec::ActionSpec::AuthenticateOidc {
                authenticate_oidc, ..
            } = a
            {
                authenticate_oidc.client_secret_arn = Some(secret_arn.clone());
            }
        }
    }
    let spec = EphemeralSpec {
        load_balancers: vec![lb],
        ..EphemeralSpec::default()
    };
    engine
        .apply_spec("oidc", &spec, Some(selector), Duration::from_secs(60))
        .await
        .unwrap();
    let report = transition(&w, &engine, "oidc", DesiredState::Paused)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    assert!(
        w.alb_picture("oidc-alb").await.is_none(),
        "deleted: {report:#?}"
    );
    let report = transition(&w, &engine, "oidc", DesiredState::Running)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(w.alb_picture("oidc-alb").await, Some(before));
}

/// Every configurable field `DescribeDBInstances` shows, as the issue lists them: hibernate
/// (final snapshot, instance deleted) and resume give the same description.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rich_database_hibernates_and_comes_back_field_by_field() {
    let w = World::new(StackSpec::new("richdb", 1, 1, 0)).await;
    let rds = w.rds();
    let key = w.kms_key("richdb").await;
    rds.create_db_subnet_group()
        .db_subnet_group_name("richdb-db")
        .db_subnet_group_description("test")
        .set_subnet_ids(Some(w.stack.subnets.clone()))
        .send()
        .await
        .unwrap();
    rds.create_db_parameter_group()
        .db_parameter_group_name("richdb-pg16")
        .db_parameter_group_family("postgres16")
        .description("test")
        .send()
        .await
        .unwrap();
    let tags: Vec<rds::types::Tag> = w
        .stack
        .spec
        .tags()
        .into_iter()
        .chain([("Role".to_string(), "orders".to_string())])
        .map(|(k, v)| rds::types::Tag::builder().key(k).value(v).build())
        .collect();
    rds.create_db_instance()
        .db_instance_identifier("richdb-db0")
        .db_instance_class("db.t4g.small")
        .engine("postgres")
        .engine_version("16.3")
        .master_username("app")
        .master_user_password("not-a-real-password")
        .allocated_storage(400)
        .storage_type("gp3")
        .storage_throughput(500)
        .max_allocated_storage(1000)
        .storage_encrypted(true)
        .kms_key_id(&key)
        .db_subnet_group_name("richdb-db")
        .db_parameter_group_name("richdb-pg16")
        .vpc_security_group_ids(&w.stack.security_group)
        .port(6543)
        .backup_retention_period(9)
        .preferred_backup_window("03:00-03:30")
        .preferred_maintenance_window("sun:05:00-sun:05:30")
        .enable_cloudwatch_logs_exports("postgresql")
        .enable_cloudwatch_logs_exports("upgrade")
        .enable_iam_database_authentication(true)
        .copy_tags_to_snapshot(true)
        .auto_minor_version_upgrade(false)
        .monitoring_interval(30)
        .monitoring_role_arn("arn:aws:iam::123456789012:role/rds-monitoring")
        .enable_performance_insights(true)
        .performance_insights_retention_period(7)
        .set_tags(Some(tags))
        .send()
        .await
        .unwrap();
    let picture = || async {
        let d = rds
            .describe_db_instances()
            .db_instance_identifier("richdb-db0")
            .send()
            .await
            .ok()?
            .db_instances()[0]
            .clone();
        let mut logs = d.enabled_cloudwatch_logs_exports().to_vec();
        logs.sort();
        let mut tags: Vec<String> = d
            .tag_list()
            .iter()
            .map(|t| format!("{:?}={:?}", t.key(), t.value()))
            .collect();
        tags.sort();
        Some(json!({
            "status": d.db_instance_status(),
            "class": d.db_instance_class(),
            "engine": [d.engine(), d.engine_version()],
            "storage": [d.allocated_storage(), d.max_allocated_storage(), d.storage_throughput(), d.iops()],
            "storage_type": d.storage_type(),
            "encrypted": [format!("{:?}", d.storage_encrypted()), format!("{:?}", d.kms_key_id())],
            "subnet_group": d.db_subnet_group().and_then(|g| g.db_subnet_group_name()),
            "parameter_groups": d.db_parameter_groups().iter().map(|g| g.db_parameter_group_name()).collect::<Vec<_>>(),
            "security_groups": d.vpc_security_groups().iter().map(|g| g.vpc_security_group_id()).collect::<Vec<_>>(),
            "port": d.endpoint().and_then(|e| e.port()),
            "address": d.endpoint().and_then(|e| e.address()),
            "windows": [d.preferred_backup_window(), d.preferred_maintenance_window()],
            "retention": d.backup_retention_period(),
            "logs": logs,
            "iam_auth": d.iam_database_authentication_enabled(),
            "copy_tags": d.copy_tags_to_snapshot(),
            "auto_minor": d.auto_minor_version_upgrade(),
            "monitoring": [format!("{:?}", d.monitoring_interval()), format!("{:?}", d.monitoring_role_arn())],
            "performance_insights": [format!("{:?}", d.performance_insights_enabled()), format!("{:?}", d.performance_insights_retention_period())],
            "master_username": d.master_username(),
            "tags": tags,
        }))
    };
    let before = picture().await.unwrap();
    let engine = w.engine();
    let report = transition(&w, &engine, "richdb", DesiredState::Hibernated)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    assert!(
        picture().await.is_none(),
        "deleted after its final snapshot: {:#?}",
        report.notes
    );
    let report = transition(&w, &engine, "richdb", DesiredState::Running)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    let after = picture().await.unwrap();
    assert_eq!(after, before);
}

/// As it was includes what was already off: a database stopped before the pause and a service
/// at 0 with autoscaling 0..5 are so again after pause + resume.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_was_off_before_the_pause_stays_off() {
    let w = World::new(StackSpec::new("off", 1, 2, 2)).await;
    let rds = w.rds();
    rds.stop_db_instance()
        .db_instance_identifier("off-db1")
        .send()
        .await
        .unwrap();
    let (cluster, service) = w.stack.services[1].clone();
    aws_sdk_ecs::Client::new(&w.sdk)
        .update_service()
        .cluster(&cluster)
        .service(&service)
        .desired_count(0)
        .send()
        .await
        .unwrap();
    aws_sdk_applicationautoscaling::Client::new(&w.sdk)
        .register_scalable_target()
        .service_namespace(aws_sdk_applicationautoscaling::types::ServiceNamespace::Ecs)
        .scalable_dimension(
            aws_sdk_applicationautoscaling::types::ScalableDimension::EcsServiceDesiredCount,
        )
        .resource_id(format!("service/{cluster}/{service}"))
        .min_capacity(0)
        .max_capacity(5)
        .send()
        .await
        .unwrap();
    let before = w.stack.picture(&w.sdk).await.unwrap();
    let engine = w.engine();
    for level in [DesiredState::Paused, DesiredState::Hibernated] {
        let report = transition(&w, &engine, "off", level).await.unwrap();
        assert!(report.succeeded(), "{report:#?}");
        let report = transition(&w, &engine, "off", DesiredState::Running)
            .await
            .unwrap();
        assert!(report.succeeded(), "{report:#?}");
        let after = w.stack.picture(&w.sdk).await.unwrap();
        assert_eq!(
            after.databases["off-db1"].status, "stopped",
            "{level:?}: {after:?}"
        );
        assert_eq!(
            after.databases["off-db0"].status, "available",
            "{level:?}: {after:?}"
        );
        assert_eq!(
            (after.desired, after.bounds),
            (before.desired.clone(), before.bounds.clone()),
            "{level:?}: desired counts and bounds as before"
        );
    }
}

/// A database whose KMS key is no longer usable (pending deletion) is not hibernated: its final
/// snapshot would be encrypted with that key and could never be restored. It is stopped, and the
/// report names the field; the rest of the stack pauses.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_whose_key_is_going_away_is_stopped_not_hibernated() {
    let w = World::new(StackSpec::new("kms", 1, 1, 0)).await;
    let key = w.kms_key("kms").await;
    let rds = w.rds();
    rds.create_db_instance()
        .db_instance_identifier("kms-db0")
        .db_instance_class("db.t4g.micro")
        .engine("postgres")
        .master_username("app")
        .master_user_password("not-a-real-password")
        .allocated_storage(20)
        .storage_encrypted(true)
        .kms_key_id(&key)
        .set_tags(Some(
            w.stack
                .spec
                .tags()
                .into_iter()
                .map(|(k, v)| rds::types::Tag::builder().key(k).value(v).build())
                .collect(),
        ))
        .send()
        .await
        .unwrap();
    // The key id, not the ARN: moto 5.2.1 looks ScheduleKeyDeletion up by id only (AWS takes
    // either).
    let key_id = key.rsplit('/').next().unwrap().to_string();
    aws_sdk_kms::Client::new(&w.sdk)
        .schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .unwrap();
    let engine = w.engine();
    let report = transition(&w, &engine, "kms", DesiredState::Hibernated)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    assert!(
        report.notes.iter().any(|n| n.resource == "rds:kms-db0"
            && n.message.contains("kms_key_id")
            && n.message.contains("PendingDeletion")),
        "{report:#?}"
    );
    let db = rds
        .describe_db_instances()
        .db_instance_identifier("kms-db0")
        .send()
        .await
        .expect("kept, not deleted");
    assert_eq!(db.db_instances()[0].db_instance_status(), Some("stopped"));
}

/// A Shield Advanced protection names the load balancer's ARN and costctl does not re-create it:
/// the pause keeps the load balancer (the rest pauses) and the report names the protection.
/// Shield is asked in us-east-1 (its one endpoint) about an ALB of another region.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shield_protected_alb_is_kept() {
    let w = World::new(StackSpec::new("shielded", 1, 1, 0)).await;
    let tg = w.target_group("shielded-tg").await;
    let arn = w.load_balancer("shielded-alb").await;
    w.elb()
        .create_listener()
        .load_balancer_arn(&arn)
        .port(80)
        .protocol(ProtocolEnum::Http)
        .default_actions(
            Action::builder()
                .r#type(ActionTypeEnum::Forward)
                .target_group_arn(&tg)
                .build(),
        )
        .send()
        .await
        .unwrap();
    let shield = aws_sdk_shield::Client::from_conf(
        aws_sdk_shield::config::Builder::from(&w.sdk)
            .region(aws_sdk_shield::config::Region::from_static("us-east-1"))
            .build(),
    );
    shield
        .create_protection()
        .name("shielded-alb-ddos")
        .resource_arn(&arn)
        .send()
        .await
        .unwrap();
    let engine = w.engine();
    let report = transition(&w, &engine, "shielded", DesiredState::Paused)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    assert!(
        report.notes.iter().any(|n| n.resource == "alb:shielded-alb"
            && n.message.contains("kept")
            && n.message
                .contains("Shield Advanced protection shielded-alb-ddos")),
        "{report:#?}"
    );
    assert!(w.alb_picture("shielded-alb").await.is_some(), "ALB kept");
}

/// A load balancer the process already knows is captured by its ARN while the load balancers
/// are listed, which takes its capture off the look's longest chain; one deleted and re-created
/// under the same name behind the process's back is captured as it is now, not through the
/// stale ARN; one deleted is not found, and no longer looked for by ARN.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_known_load_balancer_is_captured_while_listed_and_a_stale_arn_is_not_believed() {
    use costctl_aws::requests::{RequestCounter, dependent_round_trips};
    let w = World::new(StackSpec::new("known", 1, 1, 0)).await;
    let elb = w.elb();
    let tg = w.target_group("known-tg").await;
    let listen = |lb: String, port: i32| {
        let elb = elb.clone();
        let tg = tg.clone();
        async move {
            elb.create_listener()
                .load_balancer_arn(lb)
                .port(port)
                .protocol(ProtocolEnum::Http)
                .default_actions(
                    Action::builder()
                        .r#type(ActionTypeEnum::Forward)
                        .target_group_arn(tg)
                        .build(),
                )
                .send()
                .await
                .unwrap();
        }
    };
    let arn = w.load_balancer("known-alb").await;
    listen(arn.clone(), 80).await;
    let counter = RequestCounter::new();
    let cloud = AwsCloud::counted(&w.sdk, &counter);
    let selector = Selector::from_tag_args(&w.stack.spec.tag_args()).unwrap();
    let names = vec!["known-alb".to_string()];
    // Calls made by a load balancer's ARN (its capture), not the listing or its tags.
    let by_arn = |spans: &[costctl_aws::requests::Span]| {
        spans
            .iter()
            .filter(|s| {
                !matches!(
                    &*s.op,
                    "Elastic Load Balancing v2.DescribeLoadBalancers"
                        | "Elastic Load Balancing v2.DescribeTags"
                )
            })
            .count()
    };

    let first = cloud.find_load_balancers(&selector, &names).await.unwrap();
    assert_eq!(first.len(), 1, "{first:#?}");
    let spans = counter.take_spans();
    assert_eq!(
        dependent_round_trips(&spans),
        3,
        "unknown: listed, then its listeners, then their rules: {spans:#?}"
    );
    let second = cloud.find_load_balancers(&selector, &names).await.unwrap();
    assert_eq!(second, first, "the same capture");
    let spans = counter.take_spans();
    assert_eq!(
        dependent_round_trips(&spans),
        2,
        "known: its listeners read while listed: {spans:#?}"
    );

    // Re-created behind the process's back with another listener: the new one is captured.
    elb.delete_load_balancer()
        .load_balancer_arn(&arn)
        .send()
        .await
        .unwrap();
    let recreated = w.load_balancer("known-alb").await;
    assert_ne!(recreated, arn);
    listen(recreated.clone(), 8080).await;
    let third = cloud.find_load_balancers(&selector, &names).await.unwrap();
    assert_eq!(third.len(), 1, "{third:#?}");
    assert_eq!(third[0].arn, recreated);
    let ports: Vec<u16> = third[0].spec.listeners.iter().map(|l| l.port).collect();
    assert_eq!(ports, vec![8080], "captured as it is now: {third:#?}");

    // Deleted: not found and no error; the look after it reads no listeners at all.
    elb.delete_load_balancer()
        .load_balancer_arn(&recreated)
        .send()
        .await
        .unwrap();
    counter.take_spans();
    for (tried, what) in [(true, "the stale ARN tried"), (false, "then forgotten")] {
        let found = cloud.find_load_balancers(&selector, &names).await.unwrap();
        assert!(found.is_empty(), "{found:#?}");
        let spans = counter.take_spans();
        assert_eq!(by_arn(&spans) > 0, tried, "{what}: {spans:#?}");
    }
}
