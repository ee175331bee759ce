//! The catalogue of bad input: every case is one test, gets an error that names the problem,
//! and (being a pure decoder) cannot have changed anything. The cases that go on to reach AWS
//! are replayed against the emulator, asserting that nothing changed there: every
//! `tests/fixtures/reject-*.json` by `costctl-lambda/tests/lambda.rs` through the real function,
//! CLI misuse by `costctl-cli/tests/cli.rs`, engine misuse by `tests/tests/core.rs`.
//!
//! Cases already covered one by one elsewhere are not repeated here: the `reject-*` event
//! fixtures (`tests/events.rs`, 18 cases). This file: 45 more.

use costctl_core::budget::BudgetAlert;
use costctl_core::config::Config;
use costctl_core::event::Request;
use costctl_core::spec::EphemeralSpec;
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn event(v: Value) -> String {
    match Request::from_value(&v) {
        Ok(r) => panic!("accepted {v}: {r:?}"),
        Err(e) => e.to_string(),
    }
}

fn event_text(text: &str) -> String {
    match serde_json::from_str::<Value>(text) {
        Err(e) => format!("not JSON: {e}"), // the Lambda runtime refuses it before us
        Ok(v) => event(v),
    }
}

const BUDGET_SUBJECT: &str =
    "AWS Budgets: order-tracking-dev-monthly has exceeded your alert threshold";

fn budget_letter() -> String {
    let v: Value = serde_json::from_str(&fixture("sns-budget-forecasted.json")).unwrap();
    v["Records"][0]["Sns"]["Message"]
        .as_str()
        .unwrap()
        .to_string()
}

fn budget(message: &str) -> String {
    match BudgetAlert::parse(Some(BUDGET_SUBJECT), message) {
        Ok(a) => panic!("accepted: {a:?}"),
        Err(e) => e.to_string(),
    }
}

/// The example configuration, changed by `f`.
fn config_with(f: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(&fixture("config-example.json")).unwrap();
    f(&mut v);
    config(&v.to_string())
}

fn config(text: &str) -> String {
    match Config::from_json(text) {
        Ok(c) => panic!("accepted: {c:?}"),
        Err(e) => e.to_string(),
    }
}

/// The example spec, changed by `f`.
fn spec_with(f: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(&fixture("spec-example.json")).unwrap();
    f(&mut v);
    match EphemeralSpec::from_json(&v.to_string()) {
        Ok(s) => panic!("accepted: {s:?}"),
        Err(e) => e.to_string(),
    }
}

/// One test per case: the error message contains every needle.
macro_rules! case {
    ($name:ident, $err:expr, [$($needle:expr),+ $(,)?]) => {
        #[test]
        fn $name() {
            let msg: String = $err;
            $(assert!(msg.contains($needle), "{}: `{}` does not name `{}`", stringify!($name), msg, $needle);)+
        }
    };
}

// ---- Lambda events: malformed, unknown, wrong types ----
case!(
    event_not_json,
    event_text("{\"action\": \"pause\""),
    ["not JSON"]
);
case!(event_null, event(Value::Null), ["JSON object", "null"]);
case!(
    event_string,
    event(json!("pause order-tracking-dev")),
    ["JSON object", "string"]
);
case!(event_number, event(json!(42)), ["JSON object"]);
case!(
    event_action_wrong_type,
    event(json!({"action": 1, "stack": "order-tracking-dev"})),
    ["action"]
);
case!(
    event_action_empty,
    event(json!({"action": "", "stack": "order-tracking-dev"})),
    ["unknown action"]
);
case!(
    event_action_case,
    event(json!({"action": "PAUSE", "stack": "order-tracking-dev"})),
    ["unknown action `PAUSE`"]
);
case!(
    event_stack_wrong_type,
    event(json!({"action": "pause", "stack": ["order-tracking-dev"]})),
    ["stack"]
);
case!(
    event_stack_empty,
    event(json!({"action": "resume", "stack": ""})),
    ["stack"]
);
case!(
    event_unknown_field,
    event(json!({"action": "pause", "stack": "order-tracking-dev", "levle": "hibernated"})),
    ["levle"]
);
case!(
    event_level_unknown,
    event(json!({"action": "pause", "stack": "order-tracking-dev", "level": "asleep"})),
    ["level", "asleep"]
);
case!(
    event_level_wrong_type,
    event(json!({"action": "pause", "stack": "order-tracking-dev", "level": true})),
    ["level"]
);
case!(
    event_plan_without_target,
    event(json!({"action": "plan", "stack": "order-tracking-dev", "target": 3})),
    ["target"]
);
case!(
    event_sns_no_records,
    event(json!({"Records": []})),
    ["no records"]
);
case!(
    event_sns_message_wrong_type,
    event(json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": 7}}]})),
    ["Message"]
);
case!(
    event_unrecognised_keys,
    event(json!({"hello": "world"})),
    ["hello"]
);
case!(
    event_eventbridge_unknown_source,
    event(
        json!({"source": "aws.ec2", "detail-type": "EC2 Instance State-change Notification", "detail": {}})
    ),
    ["aws.ec2"]
);

// ---- budget notifications ----
case!(
    budget_not_a_budget,
    budget("Hello\r\nworld!"),
    ["not an AWS Budgets notification"]
);
case!(
    budget_missing_alert_type,
    budget(&budget_letter().replace("Alert Type: FORECASTED\n", "")),
    ["Alert Type"]
);
case!(
    budget_duplicate_name,
    budget(&format!("{}\nBudget Name: someone-else\n", budget_letter())),
    ["more than one", "Budget Name"]
);
case!(
    budget_bad_amount,
    budget(&budget_letter().replace("Budgeted Amount: $100.00", "Budgeted Amount: lots")),
    ["Budgeted Amount", "lots"]
);
case!(
    budget_unknown_alert_type,
    budget(&budget_letter().replace("Alert Type: FORECASTED", "Alert Type: GUESSED")),
    ["Alert Type", "GUESSED"]
);
case!(
    budget_too_long,
    budget(&"Budget Name: x\n".repeat(20_000)),
    ["bytes"]
);

#[test]
fn budget_for_an_unknown_budget_maps_to_no_stack() {
    let letter = budget_letter().replace("order-tracking-dev-monthly", "someone-else");
    let alert = BudgetAlert::parse(None, &letter).unwrap();
    let cfg = Config::from_json(&fixture("config-example.json")).unwrap();
    assert_eq!(alert.budget_name, "someone-else");
    // The handler answers `UnknownStack` naming the budget (asserted through the real
    // function against the emulator in costctl-lambda/tests/lambda.rs).
    assert!(cfg.stack_for_budget(&alert.budget_name).is_none());
}

// ---- configuration: missing or contradictory fields ----
case!(config_empty_object, config("{}"), ["stacks"]);
case!(
    config_no_stacks,
    config(r#"{"stacks": {}}"#),
    ["no stacks configured"]
);
case!(
    config_both_selectors,
    config_with(|v| {
        v["stacks"]["order-tracking-dev"]["names"] = json!({"rds_instances": ["ot-dev-db"]});
    }),
    ["order-tracking-dev", "not both"]
);
case!(
    config_no_selector,
    config_with(|v| {
        v["stacks"]["order-tracking-dev"]
            .as_object_mut()
            .unwrap()
            .remove("tags");
    }),
    ["order-tracking-dev"]
);
case!(
    config_budget_mapped_twice,
    config_with(|v| {
        v["stacks"]["order-tracking-staging"]["budgets"] =
            v["stacks"]["order-tracking-dev"]["budgets"].clone();
    }),
    ["order-tracking-dev-monthly", "already mapped"]
);
case!(
    config_hibernate_after_zero_days,
    config_with(|v| {
        v["stacks"]["order-tracking-staging"]["policy"]["hibernate_after_days"] = json!(0);
    }),
    ["hibernate_after_days", "positive"]
);
case!(
    config_threshold_out_of_range,
    config_with(|v| {
        v["stacks"]["order-tracking-dev"]["budgets"][0]["rules"][0]["threshold_percent"] =
            json!(5000);
    }),
    ["threshold_percent", "5000"]
);
case!(
    config_budget_without_rules,
    config_with(|v| {
        v["stacks"]["order-tracking-dev"]["budgets"][1]["rules"] = json!([]);
    }),
    ["no rules"]
);
case!(
    config_bad_service_name,
    config_with(|v| {
        v["stacks"]["order-tracking-staging"]["names"]["ecs_services"] = json!(["api"]);
    }),
    ["`api`", "cluster/service"]
);
case!(
    config_bad_rds_identifier,
    config_with(|v| {
        v["stacks"]["order-tracking-staging"]["names"]["rds_instances"] = json!(["Ot_Staging--DB"]);
    }),
    ["Ot_Staging--DB"]
);
case!(
    config_policy_wrong_type,
    config_with(|v| {
        v["stacks"]["order-tracking-dev"]["policy"]["rds_on_pause"] = json!(true);
    }),
    ["rds_on_pause"]
);
case!(
    config_trailing_garbage,
    config(&format!("{} {{}}", fixture("config-example.json"))),
    ["invalid configuration"]
);

// ---- ephemeral-tier specs ----
case!(
    spec_alb_one_subnet,
    spec_with(|v| {
        v["load_balancers"][0]["subnets"] = json!(["subnet-0aaa"]);
    }),
    ["2 subnets", "got 1"]
);
case!(
    spec_https_without_certificate,
    spec_with(|v| {
        v["load_balancers"][0]["listeners"][1]
            .as_object_mut()
            .unwrap()
            .remove("certificate_arn");
    }),
    ["certificate_arn"]
);
case!(
    spec_certificate_not_an_arn,
    spec_with(|v| {
        v["load_balancers"][0]["listeners"][1]["certificate_arn"] = json!("my-cert");
    }),
    ["my-cert", "ARN"]
);
case!(
    spec_forward_without_target_group,
    spec_with(|v| {
        v["load_balancers"][0]["listeners"][1]["default_actions"][0]
            .as_object_mut()
            .unwrap()
            .remove("target_group_arn");
    }),
    ["target_group_arn"]
);
case!(
    spec_duplicate_listener_port,
    spec_with(|v| {
        v["load_balancers"][0]["listeners"][1]["port"] = json!(80);
    }),
    ["duplicate listener port 80"]
);
case!(
    spec_msk_without_vpc,
    spec_with(|v| {
        v["kafka_clusters"][0]["vpc_configs"] = json!([]);
    }),
    ["vpc_configs"]
);
case!(
    spec_msk_one_subnet,
    spec_with(|v| {
        v["kafka_clusters"][0]["vpc_configs"][0]["subnet_ids"] = json!(["subnet-0aaa"]);
    }),
    ["at least 2 subnets"]
);
case!(
    spec_msk_without_iam,
    spec_with(|v| {
        v["kafka_clusters"][0]["sasl_iam"] = json!(false);
    }),
    ["sasl_iam"]
);
case!(
    spec_unknown_field,
    spec_with(|v| {
        v["load_balancers"][0]["subnet"] = json!(["subnet-0aaa", "subnet-0bbb"]);
    }),
    ["subnet"]
);
