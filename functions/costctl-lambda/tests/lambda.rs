//! The built `bootstrap` binary through a real Lambda Runtime API, with real event JSON (the
//! fixtures of costctl-core), against the emulator.

use costctl_tests::runtime_api::RuntimeApi;
use costctl_tests::stack::{DemoStack, StackSpec};
use costctl_tests::{Emulator, EmulatorOptions, repo_root, requests_between, start_with_stack};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

const T: Duration = Duration::from_secs(60);

fn fixture(name: &str) -> Value {
    let path = repo_root()
        .join("functions/costctl-core/tests/fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The configuration of the fixtures (config-example.json), pointed at the demo stack.
fn config() -> String {
    fixture("config-example.json").to_string()
}

fn spawn(api: &RuntimeApi, emu: &Emulator, mode: &str, config: &str) -> Child {
    spawn_cmd(api, emu, mode, config)
        .spawn()
        .expect("bootstrap starts")
}

fn piped(mut cmd: Command) -> Child {
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("bootstrap starts")
}

fn spawn_cmd(api: &RuntimeApi, emu: &Emulator, mode: &str, config: &str) -> Command {
    api.function_command(
        std::path::Path::new(env!("CARGO_BIN_EXE_bootstrap")),
        &emu.endpoint,
        mode,
        config,
    )
}

async fn world() -> (Emulator, aws_config::SdkConfig, DemoStack) {
    start_with_stack(
        EmulatorOptions::default(),
        &StackSpec::new("order-tracking", 1, 5, 1),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_budget_alerts_lockout_and_rds_auto_start() {
    let (emu, sdk, demo) = world().await;
    let before = demo.picture(&sdk).await.unwrap();
    let api = RuntimeApi::start().await.unwrap();
    let tap = costctl_tests::events::EventTap::start(&sdk, "costctl-events")
        .await
        .unwrap();
    let started = Instant::now();
    let _function = spawn_cmd(&api, &emu, "full", &config())
        .env("COSTCTL_EVENT_BUS", "default")
        .spawn()
        .expect("bootstrap starts");

    // Cold start: process start to first response.
    let status = api
        .invoke(fixture("manual-status.json"), T)
        .await
        .unwrap()
        .response();
    println!(
        "cold start to first response (status): {} ms",
        started.elapsed().as_millis()
    );
    assert_eq!(status["state"], "running", "{status}");

    let r = api
        .invoke(fixture("schedule-pause.json"), T)
        .await
        .unwrap()
        .response();
    assert_eq!(r["state"], "paused", "{r}");
    assert!(r["converged"].as_bool().unwrap());
    assert!(!r["done"].as_array().unwrap().is_empty());
    let events = tap.drain().await.unwrap();
    assert_eq!(
        costctl_tests::events::EventTap::kinds(&events),
        ["Stack State Changed"],
        "{events:#?}"
    );
    assert_eq!(events[0]["detail"]["trigger"], "schedule");
    assert_eq!(events[0]["detail"]["to"], "paused");
    assert!(
        r["cost"]["now_per_hour"].as_f64().unwrap()
            < r["cost"]["running_per_hour"].as_f64().unwrap()
    );
    assert!(
        demo.picture(&sdk)
            .await
            .unwrap()
            .desired
            .values()
            .all(|d| *d == 0)
    );

    let r = api
        .invoke(fixture("schedule-resume.json"), T)
        .await
        .unwrap()
        .response();
    assert_eq!(r["state"], "running", "{r}");
    assert_eq!(demo.picture(&sdk).await.unwrap(), before);

    // FORECASTED ≥ 100 %: paused, no lockout; a scheduled resume still works.
    let r = api
        .invoke(fixture("sns-budget-forecasted.json"), T)
        .await
        .unwrap()
        .response();
    let alert = &r["budget_alerts"][0];
    assert_eq!(alert["level"], "paused", "{r}");
    assert_eq!(alert["lockout"], false);
    assert_eq!(alert["report"]["state"], "paused");
    let r = api
        .invoke(fixture("schedule-resume.json"), T)
        .await
        .unwrap()
        .response();
    assert_eq!(r["state"], "running", "{r}");

    // ACTUAL ≥ 100 %: hibernated and locked out.
    tap.drain().await.unwrap();
    let s0 = emu.stats().await.unwrap();
    let r = api
        .invoke(fixture("sns-budget-actual.json"), T)
        .await
        .unwrap()
        .response();
    let s1 = emu.stats().await.unwrap();
    let alert = &r["budget_alerts"][0];
    assert_eq!(alert["level"], "hibernated", "{r}");
    assert_eq!(alert["lockout"], true);
    assert_eq!(alert["report"]["state"], "hibernated", "{r}");
    // The lockout and the transition in one PutEvents.
    assert_eq!(
        requests_between(&s0, &s1).get("events:PutEvents").copied(),
        Some(1)
    );
    let events = tap.drain().await.unwrap();
    assert_eq!(
        costctl_tests::events::EventTap::kinds(&events),
        ["Budget Lockout", "Stack State Changed"],
        "{events:#?}"
    );
    let lockout = &events[0]["detail"];
    assert_eq!(lockout["trigger"], "budget");
    assert_eq!(lockout["budget"], "order-tracking-dev-monthly");
    assert_eq!(lockout["desired"], "hibernated");
    assert!(
        lockout["lockout"]["until_ms"].as_i64().unwrap() > 0,
        "{lockout}"
    );
    assert_eq!(
        (
            events[1]["detail"]["from"].as_str(),
            events[1]["detail"]["to"].as_str()
        ),
        (Some("running"), Some("hibernated"))
    );
    let hibernated = demo.picture(&sdk).await.unwrap();
    assert!(
        hibernated.databases.is_empty(),
        "RDS deleted with a final snapshot"
    );

    // A scheduled resume is refused while locked out, and changes nothing.
    let (kind, message) = api
        .invoke(fixture("schedule-resume.json"), T)
        .await
        .unwrap()
        .error();
    assert_eq!(kind, "LockedOut");
    assert!(
        message.contains("budget lockout until") && message.contains("force"),
        "{message}"
    );
    assert_eq!(demo.picture(&sdk).await.unwrap(), hibernated);
    let status = api
        .invoke(fixture("manual-status.json"), T)
        .await
        .unwrap()
        .response();
    assert!(
        status["lockout"]["reason"]
            .as_str()
            .unwrap()
            .contains("order-tracking-dev-monthly"),
        "{status}"
    );

    // A forced manual resume overrides it and restores everything.
    let r = api
        .invoke(fixture("manual-resume-force.json"), T)
        .await
        .unwrap()
        .response();
    assert_eq!(r["state"], "running", "{r}");
    assert_eq!(demo.picture(&sdk).await.unwrap(), before);
    let status = api
        .invoke(fixture("manual-status.json"), T)
        .await
        .unwrap()
        .response();
    assert!(status["lockout"].is_null(), "{status}");

    // RDS auto-starts a paused instance after 7 days: the event stops it again.
    api.invoke(fixture("schedule-pause.json"), T)
        .await
        .unwrap()
        .response();
    let rds = aws_sdk_rds::Client::new(&sdk);
    rds.start_db_instance()
        .db_instance_identifier("order-tracking-db0")
        .send()
        .await
        .unwrap();
    let mut event = fixture("rds-auto-start.json");
    event["detail"]["SourceIdentifier"] = json!("order-tracking-db0");
    event["detail"]["SourceArn"] =
        json!("arn:aws:rds:us-east-1:123456789012:db:order-tracking-db0");
    event["resources"] = json!(["arn:aws:rds:us-east-1:123456789012:db:order-tracking-db0"]);
    let r = api.invoke(event, T).await.unwrap().response();
    assert_eq!(r["state"], "paused", "{r}");
    assert!(
        r["done"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["action"] == "stop_db"),
        "{r}"
    );
    assert_eq!(
        demo.picture(&sdk).await.unwrap().databases["order-tracking-db0"].status,
        "stopped"
    );

    // The periodic tick over every configured stack.
    let r = api
        .invoke(fixture("schedule-reconcile.json"), T)
        .await
        .unwrap()
        .response();
    let stacks = r["reconciled"].as_array().unwrap();
    assert!(
        stacks
            .iter()
            .any(|s| s["stack"] == "order-tracking-dev" && s["converged"] == true),
        "{r}"
    );
    assert!(
        stacks
            .iter()
            .any(|s| s["stack"] == "order-tracking-staging" && s["skipped"].is_string()),
        "{r}"
    );
}

/// The reduce-only function changes nothing itself: its role may only read and write its own
/// partition of the state table. It records the budget alert's lowering request; the full
/// function's tick carries it out. A raising request written straight into that partition (what
/// anyone holding the reduce-only role could do) is ignored and dropped by the full function.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reduce_only_function_records_and_the_full_function_lowers_only() {
    let (emu, sdk, demo) = world().await;
    let running = demo.picture(&sdk).await.unwrap();
    let reduce_api = RuntimeApi::start().await.unwrap();
    let _reduce = spawn(&reduce_api, &emu, "reduce-only", &config());
    let r = reduce_api
        .invoke(fixture("sns-budget-forecasted.json"), T)
        .await
        .unwrap()
        .response();
    assert_eq!(r["budget_alerts"][0]["report"]["recorded"], true, "{r}");
    assert_eq!(
        r["budget_alerts"][0]["report"]["desired_state"], "paused",
        "{r}"
    );
    assert_eq!(
        demo.picture(&sdk).await.unwrap(),
        running,
        "the reduce-only function changed a resource"
    );
    for name in [
        "schedule-resume.json",
        "manual-resume-force.json",
        "tf-create.json",
        "schedule-reconcile.json",
    ] {
        let (kind, message) = reduce_api.invoke(fixture(name), T).await.unwrap().error();
        assert_eq!(kind, "Refused", "{name}: {message}");
        assert!(message.contains("reduce-only"), "{message}");
    }

    // The full function's tick carries the request out.
    let full_api = RuntimeApi::start().await.unwrap();
    let _full = spawn(&full_api, &emu, "full", &config());
    let r = full_api
        .invoke(fixture("schedule-reconcile.json"), T)
        .await
        .unwrap()
        .response();
    let dev = r["reconciled"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["report"]["stack"] == "order-tracking-dev")
        .unwrap_or_else(|| panic!("{r}"));
    assert_eq!(dev["reduce_only_requests"][0]["requested"], "paused", "{r}");
    assert_eq!(dev["report"]["state"], "paused", "{r}");
    let paused = demo.picture(&sdk).await.unwrap();
    assert!(paused.desired.values().all(|d| *d == 0), "{paused:?}");

    // A raising request written into the partition by hand is ignored and dropped.
    let table = aws_sdk_dynamodb::Client::new(&sdk);
    let item = |k: &str, v: &str| aws_sdk_dynamodb::types::AttributeValue::S(format!("{k}{v}"));
    table
        .put_item()
        .table_name(costctl_tests::STATE_TABLE)
        .item("pk", item("REDUCE#", "order-tracking-dev"))
        .item("sk", item("REQ#", "999999999999999#x"))
        .item(
            "request",
            item(
                "",
                r#"{"desired":"running","trigger":"budget","reason":"x","at_ms":1}"#,
            ),
        )
        .send()
        .await
        .unwrap();
    let r = full_api
        .invoke(fixture("schedule-reconcile.json"), T)
        .await
        .unwrap()
        .response();
    let text = r.to_string();
    assert!(text.contains("would raise cost"), "{r}");
    assert_eq!(demo.picture(&sdk).await.unwrap(), paused, "still paused");
    let left = table
        .query()
        .table_name(costctl_tests::STATE_TABLE)
        .key_condition_expression("pk = :p")
        .expression_attribute_values(":p", item("REDUCE#", "order-tracking-dev"))
        .send()
        .await
        .unwrap();
    assert_eq!(left.count(), 0, "handled items are dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_unknown_events_are_rejected_and_change_nothing() {
    let (emu, sdk, demo) = world().await;
    let before = demo.picture(&sdk).await.unwrap();
    let api = RuntimeApi::start().await.unwrap();
    let _function = spawn(&api, &emu, "full", &config());
    let s0 = emu.stats().await.unwrap();
    // Every `reject-*` fixture of the catalogue (costctl-core/tests/fixtures), through the
    // real function: each is refused as an invalid event and changes nothing.
    let mut rejects: Vec<String> =
        std::fs::read_dir(repo_root().join("functions/costctl-core/tests/fixtures"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .filter(|n| n.starts_with("reject-") && n.ends_with(".json"))
            .collect();
    rejects.sort();
    assert!(rejects.len() >= 18, "{rejects:?}");
    for name in &rejects {
        let (kind, message) = api.invoke(fixture(name), T).await.unwrap().error();
        assert_eq!(kind, "InvalidEvent", "{name}: {message}");
        assert!(message.starts_with("invalid event: "), "{name}: {message}");
    }
    // Well-formed but about a stack or budget nobody configured.
    // A configured stack with nothing deployed yet reports "empty" and running (Terraform's
    // first apply reads this before it creates anything).
    let r = api
        .invoke(
            json!({"action": "status", "stack": "order-tracking-staging"}),
            T,
        )
        .await
        .unwrap()
        .response();
    assert_eq!(r["state"], "empty", "{r}");
    assert_eq!(r["desired_state"], "running", "{r}");
    let (kind, message) = api
        .invoke(json!({"action": "pause", "stack": "nobody-dev"}), T)
        .await
        .unwrap()
        .error();
    assert_eq!(kind, "UnknownStack");
    assert!(message.contains("nobody-dev"), "{message}");
    let mut daily = fixture("sns-budget-forecasted.json");
    let msg = daily["Records"][0]["Sns"]["Message"]
        .as_str()
        .unwrap()
        .replace("order-tracking-dev-monthly", "someone-else");
    daily["Records"][0]["Sns"]["Message"] = json!(msg);
    let (kind, message) = api.invoke(daily, T).await.unwrap().error();
    assert_eq!(kind, "UnknownStack", "{message}");
    assert!(message.contains("someone-else"), "{message}");

    let delta = requests_between(&s0, &emu.stats().await.unwrap());
    for action in delta.keys() {
        assert!(
            action.contains(":Describe") || action.contains(":List") || action.contains(":Get"),
            "a rejected event caused {action}: {delta:?}"
        );
    }
    assert_eq!(demo.picture(&sdk).await.unwrap(), before);
}

/// Runs a function that must fail its cold start; its stdout and stderr.
async fn failed_cold_start(cmd: Command) -> String {
    let out = tokio::time::timeout(T, piped(cmd).wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(!out.status.success());
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_configuration_fails_the_cold_start_naming_the_field() {
    let emu = Emulator::start().await.unwrap();
    let api = RuntimeApi::start().await.unwrap();
    let bad = r#"{"stacks": {"order-tracking-dev": {"tags": {"Project": "ot"}, "policy": {"msk_on_pause": "sometimes"}}}}"#;
    let child = piped(spawn_cmd(&api, &emu, "full", bad));
    let out = tokio::time::timeout(T, child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(!out.status.success());
    // The JSON log line names the field.
    let mut log = String::from_utf8_lossy(&out.stdout).to_string();
    log.push_str(&String::from_utf8_lossy(&out.stderr));
    assert!(log.contains("msk_on_pause"), "{log}");

    let log = failed_cold_start(spawn_cmd(&api, &emu, "sideways", &config())).await;
    assert!(log.contains("COSTCTL_MODE"), "{log}");

    let mut cmd = spawn_cmd(&api, &emu, "full", &config());
    cmd.env("COSTCTL_EVENT_BUS", "my bus!");
    let log = failed_cold_start(cmd).await;
    assert!(log.contains("COSTCTL_EVENT_BUS=`my bus!`"), "{log}");
}

/// Terraform's `aws_lambda_invocation` with `lifecycle_scope = "CRUD"`: the provider adds the
/// `tf` object (create, update with `prev_input`, delete) to the input.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn terraform_create_update_delete_of_the_ephemeral_tier() {
    let (emu, sdk, demo) = world().await;
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(&sdk);
    let kafka = aws_sdk_kafka::Client::new(&sdk);
    let ssm = aws_sdk_ssm::Client::new(&sdk);
    let vpc = aws_sdk_ec2::Client::new(&sdk)
        .describe_subnets()
        .subnet_ids(&demo.subnets[0])
        .send()
        .await
        .unwrap()
        .subnets()[0]
        .vpc_id()
        .unwrap()
        .to_string();
    let tg = elb
        .create_target_group()
        .name("ot-dev-tg")
        .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
        .port(8080)
        .vpc_id(&vpc)
        .target_type(aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum::Ip)
        .send()
        .await
        .unwrap()
        .target_groups()[0]
        .target_group_arn()
        .unwrap()
        .to_string();
    let spec = |idle: &str, with_msk: bool| {
        let mut spec = json!({
            "load_balancers": [{
                "name": "ot-dev-alb",
                "subnets": [demo.subnets[0], demo.subnets[1]],
                "security_groups": [demo.security_group],
                "attributes": {"idle_timeout.timeout_seconds": idle},
                "tags": {"Project": "order-tracking", "Env": "dev"},
                "dns_name_parameter": "/order-tracking/dev/alb_dns_name",
                "listeners": [{"port": 80, "protocol": "HTTP",
                               "default_actions": [{"type": "forward", "target_group_arn": tg}]}]
            }],
            "kafka_clusters": []
        });
        if with_msk {
            spec["kafka_clusters"] = json!([{
                "name": "ot-dev-msk",
                "vpc_configs": [{"subnet_ids": [demo.subnets[0], demo.subnets[1]], "security_group_ids": [demo.security_group]}],
                "client_authentication": {"sasl_iam": true},
                "tags": {"Project": "order-tracking", "Env": "dev"},
                "bootstrap_parameter": "/order-tracking/dev/kafka_bootstrap"
            }]);
        }
        spec
    };
    let input =
        |spec: Value| json!({"action": "apply-spec", "stack": "order-tracking-dev", "spec": spec});
    let api = RuntimeApi::start().await.unwrap();
    let _function = spawn(&api, &emu, "full", &config());

    // Create.
    let mut create = input(spec("120", true));
    create["tf"] = json!({"action": "create", "prev_input": null});
    let r = api.invoke(create.clone(), T).await.unwrap().response();
    let alb = &r["load_balancers"]["ot-dev-alb"];
    assert!(
        alb["dns_name"]
            .as_str()
            .unwrap()
            .contains("elb.amazonaws.com"),
        "{r}"
    );
    assert!(alb["listener_arns"]["80"].is_string(), "{r}");
    let brokers = r["kafka_clusters"]["ot-dev-msk"]["bootstrap_brokers"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(brokers.ends_with(":9098"), "{r}");
    let param = ssm
        .get_parameter()
        .name("/order-tracking/dev/kafka_bootstrap")
        .send()
        .await
        .unwrap();
    assert_eq!(param.parameter().unwrap().value(), Some(brokers.as_str()));

    // Update: a new idle timeout, the cluster dropped from the spec.
    let mut update = input(spec("300", false));
    update["tf"] = json!({"action": "update", "prev_input": input(spec("120", true))});
    let r = api.invoke(update, T).await.unwrap().response();
    assert!(r["kafka_clusters"].as_object().unwrap().is_empty(), "{r}");
    let arn = r["load_balancers"]["ot-dev-alb"]["arn"]
        .as_str()
        .unwrap()
        .to_string();
    let attrs = elb
        .describe_load_balancer_attributes()
        .load_balancer_arn(&arn)
        .send()
        .await
        .unwrap();
    let idle = attrs
        .attributes()
        .iter()
        .find(|a| a.key() == Some("idle_timeout.timeout_seconds"))
        .and_then(|a| a.value())
        .unwrap()
        .to_string();
    assert_eq!(idle, "300");
    let clusters = kafka.list_clusters_v2().send().await.unwrap();
    assert!(
        clusters.cluster_info_list().is_empty(),
        "the dropped cluster was deleted"
    );
    let lbs = elb.describe_load_balancers().send().await.unwrap();
    assert_eq!(
        lbs.load_balancers().len(),
        1,
        "updated in place, not duplicated"
    );

    // Delete: Terraform sends the last applied input.
    let mut delete = input(spec("300", false));
    delete["tf"] = json!({"action": "delete", "prev_input": input(spec("300", false))});
    let r = api.invoke(delete, T).await.unwrap().response();
    assert!(r["load_balancers"].as_object().unwrap().is_empty(), "{r}");
    assert!(
        elb.describe_load_balancers()
            .send()
            .await
            .unwrap()
            .load_balancers()
            .is_empty()
    );
    // The target group is Terraform's: it stays.
    assert_eq!(
        elb.describe_target_groups()
            .send()
            .await
            .unwrap()
            .target_groups()
            .len(),
        1
    );
}

/// A Terraform create that fails after it made something (here: the MSK cluster is still
/// CREATING when the invocation's time runs out) deletes what it made: Terraform keeps no state
/// of a failed create, so `terraform destroy` would never remove an orphan costing $0.75/h.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_terraform_create_rolls_back_what_it_made() {
    let (emu, sdk, demo) = start_with_stack(
        EmulatorOptions {
            msk_create_seconds: 300,
            ..EmulatorOptions::default()
        },
        &StackSpec::new("order-tracking", 1, 1, 0),
    )
    .await
    .unwrap();
    let api = RuntimeApi::start().await.unwrap();
    let _function = spawn(&api, &emu, "full", &config());
    let payload = json!({
        "action": "apply-spec",
        "stack": "order-tracking-dev",
        "spec": {
            "load_balancers": [],
            "kafka_clusters": [{
                "name": "ot-dev-msk",
                "vpc_configs": [{"subnet_ids": demo.subnets[..2], "security_group_ids": [demo.security_group]}],
                "client_authentication": {"sasl_iam": true},
                "tags": {"Project": "order-tracking", "Env": "dev"}
            }]
        },
        "tf": {"action": "create", "prev_input": null}
    });
    let (kind, message) = api
        .invoke(payload, Duration::from_secs(20))
        .await
        .unwrap()
        .error();
    assert!(
        message.contains("rolled back: deleted msk:ot-dev-msk"),
        "{kind}: {message}"
    );
    let left = aws_sdk_kafka::Client::new(&sdk)
        .list_clusters_v2()
        .send()
        .await
        .unwrap();
    assert!(
        left.cluster_info_list()
            .iter()
            .all(|c| c.state().is_some_and(|s| s.as_str() == "DELETING")),
        "{left:?}"
    );
    let state = costctl_aws::DynamoStore::new(&sdk, costctl_tests::STATE_TABLE);
    let stored = costctl_engine::StateStore::load(&state, "order-tracking-dev")
        .await
        .unwrap();
    assert!(
        stored.and_then(|s| s.spec).is_none(),
        "the failed create's spec is forgotten"
    );
}

/// The snooze through the Lambda binary and the DynamoDB store: the store's conditional write
/// holds a scheduled pause off, a budget alert overrides it, an unsnooze lets the schedule act.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snooze_holds_the_schedule_in_the_state_store() {
    let (emu, sdk, demo) = world().await;
    let before = demo.picture(&sdk).await.unwrap();
    let api = RuntimeApi::start().await.unwrap();
    let _function = spawn(&api, &emu, "full", &config());

    let r = api
        .invoke(fixture("manual-snooze-for.json"), T)
        .await
        .unwrap()
        .response();
    assert!(r["snoozed_until"].is_string(), "{r}");
    let r = api
        .invoke(fixture("schedule-pause.json"), T)
        .await
        .unwrap()
        .response();
    assert!(
        r["skipped"]
            .as_str()
            .is_some_and(|s| s.starts_with("snoozed until")),
        "{r}"
    );
    assert_eq!(r["asked"], "paused");
    assert_eq!(demo.picture(&sdk).await.unwrap(), before, "nothing changed");
    let status = api
        .invoke(fixture("manual-status.json"), T)
        .await
        .unwrap()
        .response();
    assert_eq!(status["snooze"]["by"], "manual invoke", "{status}");

    // A budget alert acts anyway and says it overrode the snooze.
    let r = api
        .invoke(fixture("sns-budget-forecasted.json"), T)
        .await
        .unwrap()
        .response();
    let alert = &r["budget_alerts"][0];
    assert_eq!(alert["snooze_overridden"]["by"], "manual invoke", "{r}");
    assert_eq!(alert["report"]["state"], "paused", "{r}");
    let r = api
        .invoke(fixture("schedule-resume.json"), T)
        .await
        .unwrap()
        .response();
    assert_eq!(r["state"], "running", "the override ended the snooze: {r}");

    // Snoozed again, then unsnoozed: the scheduled pause acts.
    api.invoke(fixture("manual-snooze-for.json"), T)
        .await
        .unwrap()
        .response();
    let r = api
        .invoke(fixture("manual-unsnooze.json"), T)
        .await
        .unwrap()
        .response();
    assert_eq!(r["unsnoozed"], true, "{r}");
    let r = api
        .invoke(fixture("schedule-pause.json"), T)
        .await
        .unwrap()
        .response();
    assert_eq!(r["state"], "paused", "{r}");
    // A snooze beyond the bound is refused with its error type.
    let e = api
        .invoke(
            json!({"action": "snooze", "stack": "order-tracking-dev", "for": "9d"}),
            T,
        )
        .await
        .unwrap();
    let (error_type, message) = e.error();
    assert_eq!(error_type, "InvalidSnooze", "{message}");
    assert!(message.contains("168 h"), "{message}");
}

/// The time-bound rules through the Lambda binary and the DynamoDB store, on the real clock: a
/// calendar closing today skips the scheduled resume; a manual resume in the schedules' off
/// window holds until the next scheduled resume; `resume --until` in a few seconds holds a
/// scheduled pause off until then, and not a moment longer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calendar_night_hold_and_resume_until_on_the_real_clock() {
    let (emu, sdk, demo) = world().await;
    let before = demo.picture(&sdk).await.unwrap();
    let now = jiff::Timestamp::now();
    let utc = now.to_zoned(jiff::tz::TimeZone::UTC);
    let today = utc.date().to_string();
    // Paused an hour ago, resumed two hours from now (daily, UTC): now is an off window.
    let hour = |delta: i8| (utc.hour() + 24 + delta) % 24;
    let mut config = fixture("config-example.json");
    config["stacks"]["order-tracking-dev"]["calendar"] = json!([today]);
    config["stacks"]["order-tracking-dev"]["schedule"] = json!({
        "pause": format!("cron(0 {} * * ? *)", hour(-1)),
        "resume": format!("cron(0 {} * * ? *)", hour(2)),
    });
    let api = RuntimeApi::start().await.unwrap();
    let _function = spawn(&api, &emu, "full", &config.to_string());

    let r = api
        .invoke(fixture("schedule-pause.json"), T)
        .await
        .unwrap()
        .response();
    assert_eq!(r["state"], "paused", "{r}");
    let paused = demo.picture(&sdk).await.unwrap();
    let r = api
        .invoke(fixture("schedule-resume.json"), T)
        .await
        .unwrap()
        .response();
    assert_eq!(r["calendar_entry"], json!(today), "{r}");
    assert_eq!(
        demo.picture(&sdk).await.unwrap(),
        paused,
        "a closed day: still paused"
    );

    // A person resumes at night: held until the next scheduled resume (two hours from now, on
    // the hour).
    let r = api
        .invoke(
            json!({"action": "resume", "stack": "order-tracking-dev"}),
            T,
        )
        .await
        .unwrap()
        .response();
    assert_eq!(r["state"], "running", "{r}");
    assert_eq!(demo.picture(&sdk).await.unwrap(), before);
    let next = utc
        .with()
        .minute(0)
        .second(0)
        .subsec_nanosecond(0)
        .build()
        .unwrap()
        .checked_add(jiff::SignedDuration::from_hours(2))
        .unwrap()
        .timestamp()
        .as_millisecond();
    assert_eq!(r["snooze"]["until_ms"], json!(next), "{r}");
    let r = api
        .invoke(fixture("schedule-pause.json"), T)
        .await
        .unwrap()
        .response();
    assert!(
        r["skipped"]
            .as_str()
            .is_some_and(|s| s.contains("manual resume")),
        "{r}"
    );
    api.invoke(fixture("manual-unsnooze.json"), T)
        .await
        .unwrap()
        .response();

    // `until` a few seconds from now: the scheduled pause is held, then acts.
    let until = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_secs(4))
        .unwrap();
    let r = api
        .invoke(
            json!({"action": "resume", "stack": "order-tracking-dev", "until": until.to_string()}),
            T,
        )
        .await
        .unwrap()
        .response();
    assert_eq!(
        r["snooze"]["until_ms"],
        json!(until.as_millisecond()),
        "{r}"
    );
    let r = api
        .invoke(fixture("schedule-pause.json"), T)
        .await
        .unwrap()
        .response();
    assert!(r["skipped"].is_string(), "{r}");
    let wait = until.as_millisecond() - jiff::Timestamp::now().as_millisecond();
    tokio::time::sleep(Duration::from_millis(
        u64::try_from(wait.max(0)).unwrap() + 200,
    ))
    .await;
    let r = api
        .invoke(fixture("schedule-pause.json"), T)
        .await
        .unwrap()
        .response();
    assert_eq!(r["state"], "paused", "the snooze ended: {r}");
}
