//! The ephemeral tier against the emulator: an ALB (HTTP + HTTPS listeners, rules, attributes,
//! tags) and an MSK Serverless cluster deleted on pause and recreated on resume, endpoints
//! republished (SSM, Route53), the safety rules and the Terraform path (apply-spec/delete-spec).

use aws_sdk_elasticloadbalancingv2 as elbv2;
use costctl_aws::{AwsCloud, DynamoStore};
use costctl_core::spec::EphemeralSpec;
use costctl_core::{DesiredState, Selector};
use costctl_engine::engine::Options;
use costctl_engine::store::HistoryEntry;
use costctl_engine::{Engine, EngineError, RequestSpec, StateStore};
use costctl_tests::stack::{self, DemoStack, StackSpec};
use costctl_tests::{Emulator, EmulatorOptions, requests_between, start_with_stack};
use elbv2::types::Action;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const TABLE: &str = costctl_tests::STATE_TABLE;

struct World {
    emu: Emulator,
    sdk: aws_config::SdkConfig,
    stack: DemoStack,
}

impl World {
    async fn new(spec: StackSpec) -> World {
        let (emu, sdk, stack) = start_with_stack(EmulatorOptions::default(), &spec)
            .await
            .expect("emulator with a demo stack");
        World { emu, sdk, stack }
    }

    fn engine(&self) -> Engine<AwsCloud, DynamoStore> {
        self.engine_on(AwsCloud::new(&self.sdk), "test-eph")
    }

    /// An engine over `cloud` (e.g. one publishing events) that takes leases as `owner`.
    fn engine_on(&self, cloud: AwsCloud, owner: &str) -> Engine<AwsCloud, DynamoStore> {
        Engine::new(
            cloud,
            DynamoStore::new(&self.sdk, TABLE),
            Options {
                owner: owner.into(),
                poll_interval: Duration::from_millis(50),
                lease_ttl: Duration::from_secs(30),
                ..Options::default()
            },
        )
    }

    fn selector(&self) -> Selector {
        Selector::from_tag_args(&self.stack.spec.tag_args()).unwrap()
    }

    fn elb(&self) -> elbv2::Client {
        elbv2::Client::new(&self.sdk)
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

    /// Deletes a certificate behind costctl's back (a resume must then fail, creating nothing).
    async fn delete_certificate(&self, arn: &str) {
        aws_sdk_acm::Client::new(&self.sdk)
            .delete_certificate()
            .certificate_arn(arn)
            .send()
            .await
            .expect("certificate deleted");
    }

    /// An ALB built with the plain SDK (see `stack::build_alb`).
    async fn build_alb(&self, name: &str, protected: bool) -> Built {
        let alb = stack::build_alb(&self.sdk, &self.stack, name, protected)
            .await
            .expect("ALB");
        Built {
            arn: alb.arn,
            cert: alb.certificate,
            tgs: alb.target_groups,
        }
    }

    /// Everything about the ALB except ARNs and its DNS name, read with the plain SDK.
    async fn alb_picture(&self, name: &str) -> Option<(String, Value)> {
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
        let mut subnets: Vec<String> = lb
            .availability_zones()
            .iter()
            .map(|z| z.subnet_id().unwrap().to_string())
            .collect();
        subnets.sort();
        let mut listeners = Vec::new();
        let out = elb
            .describe_listeners()
            .load_balancer_arn(&arn)
            .send()
            .await
            .unwrap();
        let mut ls = out.listeners().to_vec();
        ls.sort_by_key(|l| l.port());
        for l in ls {
            let rules = elb
                .describe_rules()
                .listener_arn(l.listener_arn().unwrap())
                .send()
                .await
                .unwrap();
            let mut rules: Vec<Value> = rules
                .rules()
                .iter()
                .map(|r| {
                    json!({
                        "priority": r.priority(),
                        "default": r.is_default(),
                        "conditions": format!("{:?}", r.conditions()),
                        "actions": actions_json(r.actions()),
                    })
                })
                .collect();
            rules.sort_by_key(|r| r["priority"].as_str().unwrap_or("").to_string());
            listeners.push(json!({
                "port": l.port(),
                "protocol": l.protocol().map(|p| p.as_str()),
                "ssl_policy": l.ssl_policy(),
                "certificates": l.certificates().iter().map(|c| c.certificate_arn()).collect::<Vec<_>>(),
                "default_actions": actions_json(l.default_actions()),
                "rules": rules,
            }));
        }
        Some((
            arn,
            json!({
                "name": lb.load_balancer_name(),
                "scheme": lb.scheme().map(|s| s.as_str()),
                "type": lb.r#type().map(|t| t.as_str()),
                "ip_address_type": lb.ip_address_type().map(|t| t.as_str()),
                "subnets": subnets,
                "security_groups": lb.security_groups(),
                "zone": lb.canonical_hosted_zone_id(),
                "attributes": attrs,
                "tags": tags,
                "listeners": listeners,
            }),
        ))
    }

    async fn load(&self, stack: &str) -> costctl_engine::store::StackState {
        DynamoStore::new(&self.sdk, TABLE)
            .load(stack)
            .await
            .unwrap()
            .unwrap()
    }
}

struct Built {
    arn: String,
    cert: String,
    tgs: Vec<String>,
}

fn actions_json(actions: &[Action]) -> Value {
    Value::Array(
        actions
            .iter()
            .map(|a| {
                json!({
                    "type": a.r#type().map(|t| t.as_str()),
                    "target_group": a.target_group_arn(),
                    "fixed": a.fixed_response_config().map(|f| format!("{f:?}")),
                    "redirect": a.redirect_config().map(|r| format!("{r:?}")),
                })
            })
            .collect(),
    )
}

async fn transition(
    w: &World,
    engine: &Engine<AwsCloud, DynamoStore>,
    stack: &str,
    desired: DesiredState,
) -> Result<costctl_engine::Report, EngineError> {
    let req = RequestSpec {
        selector: Some(w.selector()),
        ..RequestSpec::new(desired, costctl_core::event::Trigger::Cli)
    };
    let state = engine.request(stack, req).await?;
    engine
        .run_until(stack, state.generation, Duration::from_secs(60))
        .await
}

/// The executed steps of one generation, oldest first, as `(action, description)`.
async fn steps_of(w: &World, stack: &str, generation: u64) -> Vec<(String, String)> {
    let mut entries: Vec<HistoryEntry> = DynamoStore::new(&w.sdk, TABLE)
        .history(stack, 100)
        .await
        .unwrap();
    entries.reverse();
    entries
        .iter()
        .filter(|e| e.kind == "reconcile" && e.generation == generation)
        .flat_map(|e| e.detail["steps"].as_array().cloned().unwrap_or_default())
        .filter(|s| s["outcome"] == "ok")
        .map(|s| {
            (
                s["action"].as_str().unwrap().to_string(),
                s["description"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alb_pause_resume_recreates_it_field_by_field() {
    let w = World::new(StackSpec::new("albrt", 1, 2, 0)).await;
    let built = w.build_alb("albrt-alb", false).await;
    let (arn0, before) = w.alb_picture("albrt-alb").await.unwrap();
    assert_eq!(arn0, built.arn);
    let engine = w.engine();

    let report = transition(&w, &engine, "albrt", DesiredState::Paused)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    assert!(w.alb_picture("albrt-alb").await.is_none(), "ALB deleted");
    // Target groups stay.
    let tgs = w
        .elb()
        .describe_target_groups()
        .set_target_group_arns(Some(built.tgs.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(tgs.target_groups().len(), 2);
    // Status while paused says what will be recreated.
    let (status, _) = engine.inspect("albrt", None, None).await.unwrap();
    let alb = status
        .resources
        .iter()
        .find(|r| r.resource == "alb:albrt-alb")
        .expect("ALB in status");
    assert!(alb.state.contains("will be recreated"), "{alb:?}");
    let (_, plan) = engine
        .inspect("albrt", Some(DesiredState::Running), None)
        .await
        .unwrap();
    let first_alb = plan
        .steps
        .iter()
        .position(|s| s.action.resource() == "alb:albrt-alb")
        .unwrap();
    let first_ecs = plan
        .steps
        .iter()
        .position(|s| s.action.resource().starts_with("ecs:"))
        .unwrap();
    assert!(first_alb < first_ecs, "{plan:#?}");

    let report = transition(&w, &engine, "albrt", DesiredState::Running)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    let (arn1, after) = w.alb_picture("albrt-alb").await.unwrap();
    assert_ne!(arn1, arn0, "a new load balancer");
    assert_eq!(after, before, "identical except ARNs and DNS name");
    // The listeners forward to the original target groups.
    let text = after.to_string();
    for tg in &built.tgs {
        assert!(text.contains(tg.as_str()), "{tg} not forwarded to");
    }
    assert!(text.contains(&built.cert));
    let state = w.load("albrt").await;
    assert!(state.manifest.is_empty(), "records dropped once running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_protected_alb_is_kept_and_reported() {
    let w = World::new(StackSpec::new("albdp", 1, 1, 0)).await;
    let built = w.build_alb("albdp-alb", true).await;
    let engine = w.engine();
    let report = transition(&w, &engine, "albdp", DesiredState::Paused)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    let (arn, _) = w.alb_picture("albdp-alb").await.expect("still there");
    assert_eq!(arn, built.arn);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.resource == "alb:albdp-alb" && n.message.contains("deletion protection")),
        "{:?}",
        report.notes
    );
    let report = transition(&w, &engine, "albdp", DesiredState::Running)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(w.alb_picture("albdp-alb").await.unwrap().0, built.arn);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_without_the_certificate_fails_clearly_and_creates_nothing() {
    let w = World::new(StackSpec::new("albcert", 1, 2, 0)).await;
    let built = w.build_alb("albcert-alb", false).await;
    let engine = w.engine();
    let report = transition(&w, &engine, "albcert", DesiredState::Paused)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    w.delete_certificate(&built.cert).await;

    let s0 = w.emu.stats().await.unwrap();
    let report = transition(&w, &engine, "albcert", DesiredState::Running)
        .await
        .unwrap();
    let s1 = w.emu.stats().await.unwrap();
    assert!(!report.succeeded());
    let error = report.errors.join("\n");
    assert!(
        error.contains("certificate") && error.contains(&built.cert) && error.contains("443"),
        "{error}"
    );
    let calls = requests_between(&s0, &s1);
    assert!(
        !calls.contains_key("elasticloadbalancing:CreateLoadBalancer"),
        "{calls:?}"
    );
    assert!(w.alb_picture("albcert-alb").await.is_none());
    // Nothing scaled up, and the spec is still recorded for a later resume.
    let picture = w.stack.picture(&w.sdk).await.unwrap();
    assert!(picture.desired.values().all(|d| *d == 0), "{picture:?}");
    let state = w.load("albcert").await;
    assert!(state.manifest.load_balancers.contains_key("albcert-alb"));
}

/// The Terraform path and the whole reference stack: apply-spec creates an ALB and an MSK
/// Serverless cluster with their endpoints published; pause and resume recreate both, publish
/// the new bootstrap string and DNS name, repoint the alias, and only then scale ECS up. A
/// second resume and a second apply-spec create nothing. Prints the figures for the issue note.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_stack_round_trip_with_msk_ssm_and_route53() {
    let w = World::new(StackSpec::new("ot", 1, 3, 1)).await;
    let p = "ot";
    let tg = w.target_group("ot-tg").await;
    let cert = w.certificate("app.ot.example.com").await;
    let zone = aws_sdk_route53::Client::new(&w.sdk)
        .create_hosted_zone()
        .name("ot.example.com")
        .caller_reference("ot")
        .send()
        .await
        .unwrap()
        .hosted_zone()
        .unwrap()
        .id()
        .trim_start_matches("/hostedzone/")
        .to_string();
    let spec_json = json!({
        "load_balancers": [{
            "name": "ot-alb",
            "subnets": w.stack.subnets[..2],
            "security_groups": [w.stack.security_group],
            "attributes": {"idle_timeout.timeout_seconds": "120"},
            "tags": {"Project": p, "Env": "dev"},
            "dns_name_parameter": "/ot/dev/alb_dns_name",
            "aliases": [{"zone_id": zone, "name": "app.ot.example.com"}],
            "listeners": [
                {"port": 80, "protocol": "HTTP", "default_actions": [
                    {"type": "redirect", "redirect": {"protocol": "HTTPS", "port": "443", "status_code": "HTTP_301"}}]},
                {"port": 443, "protocol": "HTTPS", "certificate_arn": cert,
                 "default_actions": [{"type": "forward", "target_group_arn": tg}],
                 "rules": [
                    {"priority": 10, "conditions": [{"field": "path-pattern", "values": ["/api/*"]}],
                     "actions": [{"type": "forward", "target_group_arn": tg}]},
                    {"priority": 20, "conditions": [{"field": "http-header", "http_header_name": "X-Canary", "values": ["1"]}],
                     "actions": [{"type": "fixed-response", "fixed_response": {"status_code": "503", "content_type": "text/plain", "message_body": "paused"}}]}
                 ]}
            ]
        }],
        "kafka_clusters": [{
            "name": "ot-msk",
            "vpc_configs": [{"subnet_ids": w.stack.subnets[..2], "security_group_ids": [w.stack.security_group]}],
            "client_authentication": {"sasl_iam": true},
            "tags": {"Project": p, "Env": "dev"},
            "bootstrap_parameter": "/ot/dev/kafka_bootstrap"
        }]
    });
    let spec = EphemeralSpec::from_value(&spec_json).unwrap();
    let engine = w.engine();
    let timeout = Duration::from_secs(60);

    // Invalid spec: clear error naming the field, nothing stored.
    let mut bad = spec.clone();
    bad.load_balancers[0].listeners[1].certificate_arn = None;
    let err = engine
        .apply_spec(p, &bad, Some(w.selector()), timeout)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("load_balancers[0].listeners[1].certificate_arn"),
        "{err}"
    );
    assert!(
        DynamoStore::new(&w.sdk, TABLE)
            .load(p)
            .await
            .unwrap()
            .is_none()
    );

    let created = engine
        .apply_spec(p, &spec, Some(w.selector()), timeout)
        .await
        .unwrap();
    let lb0 = created.load_balancers["ot-alb"].clone();
    let msk0 = created.kafka_clusters["ot-msk"].clone();
    assert_eq!(lb0.listener_arns.len(), 2);
    assert_eq!(msk0.state, "ACTIVE");
    let ssm = aws_sdk_ssm::Client::new(&w.sdk);
    let param = |name: &'static str| {
        let ssm = ssm.clone();
        async move {
            ssm.get_parameter()
                .name(name)
                .send()
                .await
                .unwrap()
                .parameter()
                .unwrap()
                .value()
                .unwrap()
                .to_string()
        }
    };
    assert_eq!(
        Some(param("/ot/dev/kafka_bootstrap").await),
        msk0.bootstrap_brokers
    );
    assert_eq!(param("/ot/dev/alb_dns_name").await, lb0.dns_name);
    let (_, alb_before) = w.alb_picture("ot-alb").await.unwrap();

    // A second apply creates nothing.
    let s0 = w.emu.stats().await.unwrap();
    let again = engine.apply_spec(p, &spec, None, timeout).await.unwrap();
    let calls = requests_between(&s0, &w.emu.stats().await.unwrap());
    assert_eq!(again.load_balancers["ot-alb"].arn, lb0.arn);
    assert_eq!(again.kafka_clusters["ot-msk"].arn, msk0.arn);
    for c in [
        "elasticloadbalancing:CreateLoadBalancer",
        "kafka:CreateClusterV2",
        "elasticloadbalancing:CreateListener",
        "elasticloadbalancing:CreateRule",
    ] {
        assert!(!calls.contains_key(c), "{c} on a second apply: {calls:?}");
    }

    // Full pause and resume of ECS + RDS + ALB + MSK, measured.
    let before = w.stack.picture(&w.sdk).await.unwrap();
    let s0 = w.emu.stats().await.unwrap();
    let t0 = Instant::now();
    let report = transition(&w, &engine, p, DesiredState::Paused)
        .await
        .unwrap();
    let pause_ms = t0.elapsed().as_millis();
    let s1 = w.emu.stats().await.unwrap();
    assert!(report.succeeded(), "{report:#?}");
    assert!(w.alb_picture("ot-alb").await.is_none());
    let kafka = aws_sdk_kafka::Client::new(&w.sdk);
    let clusters = || async {
        kafka
            .list_clusters_v2()
            .send()
            .await
            .unwrap()
            .cluster_info_list()
            .iter()
            .filter(|c| c.cluster_name() == Some("ot-msk"))
            .map(|c| c.cluster_arn().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert!(clusters().await.is_empty(), "cluster deleted");

    // moto names a recreated ALB exactly like the old one (`NAME-1.REGION.elb.amazonaws.com`);
    // real AWS gives it a new DNS name. Point the alias and the parameter elsewhere, so that
    // the resume must repoint them as it would in AWS.
    let r53 = aws_sdk_route53::Client::new(&w.sdk);
    stale_alias(&r53, &zone, "app.ot.example.com").await;
    ssm.put_parameter()
        .name("/ot/dev/alb_dns_name")
        .value("stale.example.com")
        .overwrite(true)
        .send()
        .await
        .unwrap();

    let t1 = Instant::now();
    let state = engine
        .request(
            p,
            RequestSpec {
                selector: Some(w.selector()),
                ..RequestSpec::new(DesiredState::Running, costctl_core::event::Trigger::Cli)
            },
        )
        .await
        .unwrap();
    let report = engine
        .run_until(p, state.generation, timeout)
        .await
        .unwrap();
    let resume_ms = t1.elapsed().as_millis();
    let s2 = w.emu.stats().await.unwrap();
    assert!(report.succeeded(), "{report:#?}");
    println!(
        "pause (ECS {} services + RDS {} + ALB + MSK): {pause_ms} ms, requests {:?}",
        w.stack.services.len(),
        w.stack.databases.len(),
        requests_between(&s0, &s1)
    );
    println!(
        "resume: {resume_ms} ms, requests {:?}",
        requests_between(&s1, &s2)
    );
    let total = |m: &BTreeMap<String, u64>| m.values().sum::<u64>();
    println!(
        "totals: pause {} requests, resume {} requests",
        total(&requests_between(&s0, &s1)),
        total(&requests_between(&s1, &s2))
    );

    assert_eq!(w.stack.picture(&w.sdk).await.unwrap(), before);
    let (_, alb_after) = w.alb_picture("ot-alb").await.unwrap();
    assert_eq!(alb_after, alb_before);
    let arns = clusters().await;
    assert_eq!(arns.len(), 1, "exactly one cluster of that name");
    assert_ne!(arns[0], msk0.arn, "a new cluster");
    let now = engine.spec_result(p, &spec).await.unwrap();
    let msk1 = &now.kafka_clusters["ot-msk"];
    let lb1 = &now.load_balancers["ot-alb"];
    assert_ne!(lb1.arn, lb0.arn);
    let boot = param("/ot/dev/kafka_bootstrap").await;
    assert_eq!(Some(&boot), msk1.bootstrap_brokers.as_ref());
    assert_ne!(Some(boot), msk0.bootstrap_brokers);
    assert_eq!(param("/ot/dev/alb_dns_name").await, lb1.dns_name);
    // Route53: the alias points at the new ALB.
    let records = r53
        .list_resource_record_sets()
        .hosted_zone_id(&zone)
        .send()
        .await
        .unwrap();
    let aliases: Vec<(String, String)> = records
        .resource_record_sets()
        .iter()
        .filter(|r| r.name().trim_end_matches('.') == "app.ot.example.com")
        .filter_map(|r| {
            Some((
                r.r#type().as_str().to_string(),
                r.alias_target()?
                    .dns_name()
                    .trim_end_matches('.')
                    .to_lowercase(),
            ))
        })
        .collect();
    let new_dns = lb1.dns_name.to_lowercase();
    assert_eq!(
        aliases,
        vec![
            ("A".to_string(), new_dns.clone()),
            ("AAAA".to_string(), new_dns)
        ]
    );

    // Ordering from the recorded history: the bootstrap string was written, the alias
    // repointed and the listeners created before any service was scaled up.
    let steps = steps_of(&w, p, state.generation).await;
    let pos = |action: &str| steps.iter().position(|(a, _)| a == action);
    let publish = pos("publish_kafka_bootstrap").expect("bootstrap published");
    let alias = pos("upsert_alias").expect("alias repointed");
    let dns = pos("publish_load_balancer_dns").expect("DNS name published");
    let alb = pos("apply_load_balancer").expect("ALB recreated");
    let first_scale = steps
        .iter()
        .position(|(a, d)| {
            (a == "set_desired_count" || a == "set_scaling_bounds") && !d.ends_with(" 0")
        })
        .expect("services scaled up");
    assert!(
        publish < first_scale && alias < first_scale && dns < first_scale && alb < first_scale,
        "{steps:#?}"
    );

    // A repeated resume is a no-op: no second ALB or cluster.
    let s3 = w.emu.stats().await.unwrap();
    let report = transition(&w, &engine, p, DesiredState::Running)
        .await
        .unwrap();
    assert!(report.succeeded() && report.done.is_empty(), "{report:#?}");
    let calls = requests_between(&s3, &w.emu.stats().await.unwrap());
    assert!(
        calls
            .keys()
            .filter(|k| !k.starts_with("dynamodb:")) // the request and its history
            .all(|k| !k.contains(":Create") && !k.contains(":Put") && !k.contains(":Change")),
        "{calls:?}"
    );
    assert_eq!(clusters().await.len(), 1);

    // A record of the same zone that points elsewhere is someone else's: destroy keeps it.
    stale_alias(&r53, &zone, "other.ot.example.com").await;
    // Terraform destroy: delete-spec deletes both, the alias records it made, waits for the
    // cluster to be gone (its VPC endpoints hold the security groups Terraform deletes next)
    // and forgets them.
    let deleted = engine.delete_spec(p, &spec).await.unwrap();
    assert!(deleted.load_balancers.is_empty() && deleted.kafka_clusters.is_empty());
    assert!(w.alb_picture("ot-alb").await.is_none());
    assert!(clusters().await.is_empty());
    let names: Vec<String> = r53
        .list_resource_record_sets()
        .hosted_zone_id(&zone)
        .send()
        .await
        .unwrap()
        .resource_record_sets()
        .iter()
        .filter(|r| r.alias_target().is_some())
        .map(|r| r.name().trim_end_matches('.').to_string())
        .collect();
    assert_eq!(
        names,
        vec!["other.ot.example.com".to_string(); 2],
        "{names:?}"
    );
    let state = w.load(p).await;
    assert!(state.spec.is_none());
    let report = transition(&w, &engine, p, DesiredState::Running)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    assert!(w.alb_picture("ot-alb").await.is_none(), "not recreated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_spec_on_a_paused_stack_only_records_it() {
    let w = World::new(StackSpec::new("ps", 1, 1, 0)).await;
    let engine = w.engine();
    let report = transition(&w, &engine, "ps", DesiredState::Paused)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    let spec = EphemeralSpec::from_value(&json!({
        "load_balancers": [],
        "kafka_clusters": [{
            "name": "ps-msk",
            "vpc_configs": [{"subnet_ids": w.stack.subnets[..2], "security_group_ids": [w.stack.security_group]}],
            "client_authentication": {"sasl_iam": true},
            "bootstrap_parameter": "/ps/dev/kafka_bootstrap"
        }]
    }))
    .unwrap();
    let result = engine
        .apply_spec("ps", &spec, None, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(result.kafka_clusters.is_empty());
    assert!(result.notes[0].message.contains("next resume"));
    assert_eq!(w.load("ps").await.desired, DesiredState::Paused);
    let report = transition(&w, &engine, "ps", DesiredState::Running)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    let now = engine.spec_result("ps", &spec).await.unwrap();
    assert_eq!(now.kafka_clusters["ps-msk"].state, "ACTIVE");
}

async fn stale_alias(r53: &aws_sdk_route53::Client, zone: &str, name: &str) {
    use aws_sdk_route53::types::{
        AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecordSet, RrType,
    };
    let mut batch = ChangeBatch::builder();
    for t in [RrType::A, RrType::Aaaa] {
        batch = batch.changes(
            Change::builder()
                .action(ChangeAction::Upsert)
                .resource_record_set(
                    ResourceRecordSet::builder()
                        .name(name)
                        .r#type(t)
                        .alias_target(
                            AliasTarget::builder()
                                .hosted_zone_id("Z2P70J7EXAMPLE")
                                .dns_name("stale-1.us-east-1.elb.amazonaws.com")
                                .evaluate_target_health(false)
                                .build()
                                .unwrap(),
                        )
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
        );
    }
    r53.change_resource_record_sets()
        .hosted_zone_id(zone)
        .change_batch(batch.build().unwrap())
        .send()
        .await
        .unwrap();
}

/// Bad input against the emulator: a spec that names a subnet, a security group, a certificate
/// or a target group that does not exist gets an error naming it, and nothing is created or
/// recorded (no load balancer, no MSK cluster, no stack in the state table, no AWS create call).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_spec_naming_missing_dependencies_creates_nothing() {
    let w = World::new(StackSpec::new("dep", 1, 1, 0)).await;
    let tg = w.target_group("dep-tg").await;
    let cert = w.certificate("app.dep.example.com").await;
    let spec = |subnet: &str, group: &str, cert: &str, tg: &str| {
        EphemeralSpec::from_value(&json!({
            "load_balancers": [{
                "name": "dep-alb",
                "subnets": [w.stack.subnets[0], subnet],
                "security_groups": [group],
                "listeners": [{"port": 443, "protocol": "HTTPS", "certificate_arn": cert,
                    "default_actions": [{"type": "forward", "target_group_arn": tg}]}]
            }],
            "kafka_clusters": [{
                "name": "dep-msk",
                "vpc_configs": [{"subnet_ids": [w.stack.subnets[0], subnet], "security_group_ids": [group]}],
                "client_authentication": {"sasl_iam": true}
            }]
        }))
        .unwrap()
    };
    let (subnet, group) = (w.stack.subnets[1].as_str(), w.stack.security_group.as_str());
    let missing_cert = cert.replace(
        cert.rsplit('/').next().unwrap(),
        "00000000-0000-0000-0000-000000000000",
    );
    let missing_tg = tg.replace("dep-tg", "gone-tg");
    let cases = [
        (
            "subnet-0123456789abcdef0",
            spec("subnet-0123456789abcdef0", group, &cert, &tg),
        ),
        (
            "sg-0123456789abcdef0",
            spec(subnet, "sg-0123456789abcdef0", &cert, &tg),
        ),
        (
            missing_cert.as_str(),
            spec(subnet, group, &missing_cert, &tg),
        ),
        (missing_tg.as_str(), spec(subnet, group, &cert, &missing_tg)),
    ];
    let engine = w.engine();
    let kafka = aws_sdk_kafka::Client::new(&w.sdk);
    for (missing, bad) in &cases {
        let s0 = w.emu.stats().await.unwrap();
        let err = engine
            .apply_spec("dep", bad, Some(w.selector()), Duration::from_secs(30))
            .await
            .unwrap_err();
        let s1 = w.emu.stats().await.unwrap();
        let message = err.to_string();
        assert!(
            message.contains(missing) && message.contains("does not exist"),
            "{missing}: {message}"
        );
        let calls = requests_between(&s0, &s1);
        assert!(
            calls.keys().all(|k| !k.contains(":Create")
                && !k.contains(":Put")
                && !k.starts_with("dynamodb:Update")),
            "{missing}: {calls:?}"
        );
        assert!(w.alb_picture("dep-alb").await.is_none(), "{missing}");
        let clusters = kafka.list_clusters_v2().send().await.unwrap();
        assert!(clusters.cluster_info_list().is_empty(), "{missing}");
        assert!(
            DynamoStore::new(&w.sdk, TABLE)
                .load("dep")
                .await
                .unwrap()
                .is_none(),
            "{missing}: a stack was recorded"
        );
    }
    // The same spec with everything there is applied.
    let good = spec(subnet, group, &cert, &tg);
    let result = engine
        .apply_spec("dep", &good, Some(w.selector()), Duration::from_secs(60))
        .await
        .unwrap();
    assert!(result.load_balancers.contains_key("dep-alb"), "{result:?}");
    assert!(result.kafka_clusters.contains_key("dep-msk"), "{result:?}");
}

/// Transition events through EventBridge to an SQS queue: a resume, a pause and a resume that
/// fails (its certificate was deleted) each put exactly the documented events with the
/// documented fields; a bus that does not exist fails PutEvents and not the transition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transitions_publish_their_events_and_a_failed_put_fails_nothing() {
    use costctl_tests::events::EventTap;
    let w = World::new(StackSpec::new("albev", 1, 2, 0)).await;
    let built = w.build_alb("albev-alb", false).await;
    let tap = EventTap::start(&w.sdk, "costctl-events").await.unwrap();
    let engine = w.engine_on(
        AwsCloud::new(&w.sdk).with_event_bus(Some("default".into())),
        "test-events",
    );

    let report = transition(&w, &engine, "albev", DesiredState::Running)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    let events = tap.drain().await.unwrap();
    assert_eq!(
        EventTap::kinds(&events),
        ["Stack State Changed"],
        "{events:#?}"
    );
    let e = &events[0];
    assert_eq!(e["source"], "costctl");
    assert_eq!(
        (e["detail"]["from"].as_str(), e["detail"]["to"].as_str()),
        (Some("unknown"), Some("running")),
        "the stack's first reconcile"
    );

    let report = transition(&w, &engine, "albev", DesiredState::Paused)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    let events = tap.drain().await.unwrap();
    assert_eq!(
        EventTap::kinds(&events),
        ["Stack State Changed"],
        "{events:#?}"
    );
    let d = &events[0]["detail"];
    assert_eq!(d["stack"], "albev");
    assert_eq!(
        (d["from"].as_str(), d["to"].as_str()),
        (Some("running"), Some("paused"))
    );
    assert_eq!(d["desired"], "paused");
    assert_eq!(d["converged"], true);
    assert_eq!(d["trigger"], "cli");
    assert_eq!(d["generation"], report.generation);
    let (before, after) = (
        d["cost_per_hour_before"].as_f64().unwrap(),
        d["cost_per_hour_after"].as_f64().unwrap(),
    );
    assert!(before > after && after >= 0.0, "{d}");
    assert_eq!(d["cost_per_hour_running"].as_f64().unwrap(), before);
    assert_eq!(d["steps"], report.done.len());
    assert!(
        d.get("errors").is_none() && d.get("problems").is_none(),
        "{d}"
    );

    // The certificate is gone: the resume fails before creating anything, and says so.
    w.delete_certificate(&built.cert).await;
    let report = transition(&w, &engine, "albev", DesiredState::Running)
        .await
        .unwrap();
    assert!(!report.succeeded());
    let events = tap.drain().await.unwrap();
    assert_eq!(
        EventTap::kinds(&events),
        ["Stack State Changed", "Stack Transition Failed"],
        "{events:#?}"
    );
    let d = &events[1]["detail"];
    assert_eq!(
        (d["from"].as_str(), d["to"].as_str()),
        (Some("paused"), Some("transitioning"))
    );
    assert_eq!(d["converged"], false);
    let errors = d["errors"].to_string();
    assert!(
        errors.contains("certificate") && errors.contains(&built.cert),
        "{d}"
    );
    assert!(
        d["failed_steps"][0]["resource"]
            .as_str()
            .unwrap()
            .starts_with("alb:"),
        "{d}"
    );
    // The same request failing again at the next reconcile (a tick) is not announced again;
    // a new request that fails is.
    let deadline = engine.now_ms() + 30_000;
    let again = engine.reconcile("albev", deadline).await.unwrap();
    assert!(!again.succeeded() && again.generation == report.generation);
    let events = tap.drain().await.unwrap();
    assert!(events.is_empty(), "{events:#?}");
    let again = transition(&w, &engine, "albev", DesiredState::Running)
        .await
        .unwrap();
    assert!(!again.succeeded());
    let events = tap.drain().await.unwrap();
    assert_eq!(
        EventTap::kinds(&events),
        ["Stack Transition Failed"],
        "{events:#?}"
    );
    assert_eq!(events[0]["detail"]["generation"], again.generation);

    // A bus that does not exist: PutEvents fails, the pause does not; the event waits.
    let lost = w.engine_on(
        AwsCloud::new(&w.sdk).with_event_bus(Some("no-such-bus".into())),
        "test-events-2",
    );
    let report = transition(&w, &lost, "albev", DesiredState::Paused)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    let waiting = lost.unsent_events();
    assert_eq!(waiting.len(), 1, "{waiting:#?}");
    assert_eq!(waiting[0].detail.to, "paused");
    assert!(tap.drain().await.unwrap().is_empty());
}
