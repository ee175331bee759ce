//! Every fixture in `tests/fixtures/` decodes to the request it stands for, or is rejected with
//! the error it stands for. Provenance of each real-format fixture: `tests/fixtures/README.md`.

use costctl_core::DesiredState;
use costctl_core::budget::{AlertThreshold, AlertType, BudgetPeriod, evaluate};
use costctl_core::calendar::SnoozeEnd;
use costctl_core::config::Config;
use costctl_core::event::{EventError, Request, TfAction, Trigger};
use costctl_core::spec::{EphemeralSpec, SpecError, SpecProblem};
use serde_json::Value;
use std::path::PathBuf;

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn load(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture_path(name))
        .unwrap_or_else(|e| panic!("reading fixture {name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {name} is not JSON: {e}"))
}

fn decode(name: &str) -> Request {
    Request::from_value(&load(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn reject(name: &str) -> EventError {
    match Request::from_value(&load(name)) {
        Ok(r) => panic!("{name} was accepted as {r:?}"),
        Err(e) => {
            // Every rejection has a message that says something.
            assert!(e.to_string().len() > 10, "{name}: {e}");
            e
        }
    }
}

fn config() -> Config {
    let text = std::fs::read_to_string(fixture_path("config-example.json")).unwrap();
    Config::from_json(&text).unwrap()
}

#[test]
fn schedule_and_manual_actions() {
    assert_eq!(
        decode("schedule-pause.json"),
        Request::Pause {
            stack: "order-tracking-dev".into(),
            level: DesiredState::Paused,
            trigger: Trigger::Schedule,
        }
    );
    let resume = decode("schedule-resume.json");
    assert_eq!(
        resume,
        Request::Resume {
            stack: "order-tracking-dev".into(),
            force: false,
            trigger: Trigger::Schedule,
            until: None,
        }
    );
    assert!(resume.increases_cost());
    assert_eq!(
        decode("schedule-reconcile.json"),
        Request::Reconcile { stack: None }
    );
    assert_eq!(
        decode("manual-reconcile-stack.json"),
        Request::Reconcile {
            stack: Some("order-tracking-dev".into())
        }
    );
    assert_eq!(
        decode("manual-pause-hibernate.json"),
        Request::Pause {
            stack: "order-tracking-dev".into(),
            level: DesiredState::Hibernated,
            trigger: Trigger::Manual,
        }
    );
    assert_eq!(
        decode("manual-resume-force.json"),
        Request::Resume {
            stack: "order-tracking-dev".into(),
            force: true,
            trigger: Trigger::Manual,
            until: None,
        }
    );
    match decode("manual-snooze.json") {
        Request::Snooze {
            stack,
            until: SnoozeEnd::Local { text, .. },
            reason,
            by,
        } => {
            assert_eq!(stack, "order-tracking-dev");
            assert_eq!(text, "23:00");
            assert_eq!(reason, "demo for the client");
            assert_eq!(by, "alice");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        decode("manual-snooze-for.json"),
        Request::Snooze { until: SnoozeEnd::For(ms), ref by, .. } if ms == 3 * 3_600_000 && by == "manual invoke"
    ));
    assert!(decode("manual-snooze.json").increases_cost());
    assert_eq!(
        decode("manual-unsnooze.json"),
        Request::Unsnooze {
            stack: "order-tracking-dev".into(),
            by: "alice".into()
        }
    );
    assert!(matches!(
        decode("manual-resume-until.json"),
        Request::Resume {
            until: Some(SnoozeEnd::Local { tomorrow: true, .. }),
            trigger: Trigger::Manual,
            ..
        }
    ));
    assert_eq!(
        decode("manual-status.json"),
        Request::Status {
            stack: "order-tracking-dev".into()
        }
    );
    let plan = decode("manual-plan.json");
    assert_eq!(
        plan,
        Request::Plan {
            stack: "order-tracking-dev".into(),
            target: DesiredState::Running,
        }
    );
    assert!(
        !plan.increases_cost(),
        "a plan only shows, it changes nothing"
    );
}

#[test]
fn budget_alerts_from_real_format_sns_records() {
    let cfg = config();
    let alerts = |name: &str| match decode(name) {
        Request::BudgetAlerts(a) => {
            assert_eq!(a.len(), 1, "{name}");
            a.into_iter().next().unwrap()
        }
        other => panic!("{name}: {other:?}"),
    };

    let a = alerts("sns-budget-actual.json");
    assert_eq!(a.budget_name, "order-tracking-dev-monthly");
    assert_eq!(a.alert_type, AlertType::Actual);
    assert_eq!(a.threshold, AlertThreshold::Amount(100.0));
    assert_eq!(a.budgeted_amount, Some(100.0));
    assert_eq!(a.amount, 104.12);
    assert_eq!(a.account_id.as_deref(), Some("123456789012"));
    assert_eq!(a.period, Some(BudgetPeriod::Monthly));
    let (stack, budget) = cfg.stack_for_budget(&a.budget_name).unwrap();
    assert_eq!(stack, "order-tracking-dev");
    let d = evaluate(&a, budget).unwrap();
    assert_eq!(d.level, DesiredState::Hibernated);
    assert!(d.lockout);

    let f = alerts("sns-budget-forecasted.json");
    assert_eq!(f.alert_type, AlertType::Forecasted);
    assert_eq!(f.amount, 131.40);
    let d = evaluate(&f, budget).unwrap();
    assert_eq!((d.level, d.lockout), (DesiredState::Paused, false));

    let low = alerts("sns-budget-actual-80.json");
    assert_eq!(low.amount, 85.21);
    assert_eq!(evaluate(&low, budget), None, "85 % applies no rule");

    let legacy = alerts("sns-budget-legacy-capitalised.json");
    assert_eq!(legacy.alert_type, AlertType::Actual);
    assert_eq!(legacy.amount, 105.24);
    assert_eq!(
        evaluate(&legacy, budget).map(|d| d.level),
        Some(DesiredState::Hibernated)
    );

    let daily = alerts("sns-budget-daily.json");
    assert_eq!(daily.period, Some(BudgetPeriod::Daily));
    assert_eq!(daily.budgeted_amount, Some(5.0));
    let (stack, daily_budget) = cfg.stack_for_budget(&daily.budget_name).unwrap();
    assert_eq!(stack, "order-tracking-dev");
    // $1.70 of $5.00 = 34 % ≥ 20 %.
    let d = evaluate(&daily, daily_budget).unwrap();
    assert_eq!((d.level, d.lockout), (DesiredState::Paused, true));

    let large = alerts("sns-budget-large-crlf.json");
    assert_eq!(large.amount, 42_500.0);
    assert_eq!(large.budgeted_amount, Some(40_000.0));
    assert_eq!(large.threshold, AlertThreshold::Amount(40_000.0));
}

#[test]
fn rds_auto_start() {
    match decode("rds-auto-start.json") {
        Request::RdsAutoStart {
            instance_id,
            source_arn,
            time,
        } => {
            assert_eq!(instance_id, "ot-dev-db");
            assert_eq!(
                source_arn,
                "arn:aws:rds:eu-west-1:123456789012:db:ot-dev-db"
            );
            assert_eq!(time.unix_timestamp(), 1_795_755_288);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn terraform_create_update_delete() {
    let spec = EphemeralSpec::from_json(
        &std::fs::read_to_string(fixture_path("spec-example.json")).unwrap(),
    )
    .unwrap();

    let create = decode("tf-create.json");
    assert_eq!(create.request_kind(), "tf-create");
    assert!(create.increases_cost());
    match create {
        Request::Terraform {
            tf_action: TfAction::Create,
            stack,
            spec: s,
            prev_spec: None,
            trigger: Trigger::Terraform,
        } => {
            assert_eq!(stack, "order-tracking-dev");
            assert_eq!(s, spec);
        }
        other => panic!("{other:?}"),
    }

    let update = decode("tf-update.json");
    assert!(update.increases_cost());
    match update {
        Request::Terraform {
            tf_action: TfAction::Update,
            spec: s,
            prev_spec: Some(prev),
            ..
        } => {
            assert_eq!(prev, spec);
            assert_ne!(s, spec);
            assert_eq!(s.load_balancers[0].listeners[1].rules.len(), 3);
        }
        other => panic!("{other:?}"),
    }

    let delete = decode("tf-delete.json");
    assert_eq!(delete.request_kind(), "tf-delete");
    assert!(!delete.increases_cost());
    match delete {
        Request::Terraform {
            tf_action: TfAction::Delete,
            spec: s,
            prev_spec: Some(prev),
            trigger: Trigger::Terraform,
            ..
        } => assert_eq!(s, prev),
        other => panic!("{other:?}"),
    }

    let apply = decode("apply-spec-manual.json");
    assert_eq!(apply.request_kind(), "apply-spec");
    assert!(matches!(
        apply,
        Request::Terraform {
            tf_action: TfAction::Apply,
            trigger: Trigger::Manual,
            ..
        }
    ));
    let del = decode("delete-spec-manual.json");
    assert_eq!(del.request_kind(), "delete-spec");
    assert!(!del.increases_cost());
}

#[test]
fn rejections() {
    assert_eq!(
        reject("reject-unknown-action.json"),
        EventError::UnknownAction {
            action: "destroy".into()
        }
    );
    assert_eq!(
        reject("reject-missing-stack.json"),
        EventError::MissingField {
            field: "stack".into()
        }
    );
    assert_eq!(
        reject("reject-force-wrong-type.json"),
        EventError::WrongType {
            field: "force".into(),
            expected: "a boolean",
            found: "a string"
        }
    );
    assert!(matches!(
        reject("reject-force-on-pause.json"),
        EventError::UnknownField { action, field, .. } if action == "pause" && field == "force"
    ));
    assert!(matches!(
        reject("reject-scheduled-forced-resume.json"),
        EventError::InvalidValue { field, .. } if field == "force"
    ));
    assert!(matches!(
        reject("reject-snooze-bad-time.json"),
        EventError::InvalidValue { field, value, reason } if field == "until" && value == "half past ten" && reason.contains("HH:MM")
    ));
    assert!(matches!(
        reject("reject-scheduled-resume-until.json"),
        EventError::InvalidValue { field, reason, .. } if field == "until" && reason.contains("schedule")
    ));
    assert!(matches!(
        reject("reject-pause-level-running.json"),
        EventError::InvalidValue { field, value, .. } if field == "level" && value == "running"
    ));
    assert!(matches!(
        reject("reject-bad-stack-name.json"),
        EventError::InvalidValue { field, .. } if field == "stack"
    ));
    assert!(matches!(
        reject("reject-unknown-trigger.json"),
        EventError::InvalidValue { field, value, .. } if field == "trigger" && value == "cron"
    ));
    assert_eq!(
        reject("reject-not-an-object.json"),
        EventError::NotAnObject { found: "an array" }
    );
    assert!(matches!(
        reject("reject-empty-object.json"),
        EventError::Unrecognised { keys } if keys.is_empty()
    ));
    assert!(matches!(
        reject("reject-sns-not-budget.json"),
        EventError::Budget { record: 0, .. }
    ));
    assert!(matches!(
        reject("reject-sqs-record.json"),
        EventError::UnknownEventSource { event_source, .. } if event_source == "aws:sqs"
    ));
    assert_eq!(
        reject("reject-rds-other-event.json"),
        EventError::UnsupportedEvent {
            event_source: "aws.rds".into(),
            event_id: "RDS-EVENT-0088".into(),
            supported: "RDS-EVENT-0154"
        }
    );
    assert!(matches!(
        reject("reject-eventbridge-scheduled-event.json"),
        EventError::UnknownEventSource { event_source, detail_type: Some(d) }
            if event_source == "aws.events" && d == "Scheduled Event"
    ));
    assert_eq!(
        reject("reject-tf-update-without-prev.json"),
        EventError::MissingField {
            field: "tf.prev_input".into()
        }
    );
    assert!(matches!(
        reject("reject-tf-unknown-action.json"),
        EventError::InvalidValue { field, value, .. } if field == "tf.action" && value == "replace"
    ));
    assert!(matches!(
        reject("reject-tf-stack-renamed.json"),
        EventError::StackChanged { field, found, .. }
            if field == "tf.prev_input.stack" && found == "order-tracking-old"
    ));
    match reject("reject-spec-https-without-certificate.json") {
        EventError::Spec {
            field,
            error: SpecError::Invalid(v),
        } => {
            assert_eq!(field, "spec");
            assert_eq!(v.len(), 1);
            assert_eq!(v[0].path, "load_balancers[0].listeners[1].certificate_arn");
            assert_eq!(v[0].problem, SpecProblem::HttpsWithoutCertificate);
        }
        other => panic!("{other:?}"),
    }
    match reject("reject-spec-port-wrong-type.json") {
        EventError::Spec {
            field,
            error: SpecError::Parse { path, .. },
        } => {
            assert_eq!(field, "spec");
            assert_eq!(path, "load_balancers[0].listeners[1].port");
        }
        other => panic!("{other:?}"),
    }
}

/// Every fixture is covered by a test above (so a new one cannot be forgotten), and every
/// `reject-*` fixture is rejected while every other event fixture is accepted.
#[test]
fn every_fixture_is_classified() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut rejected = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !name.ends_with(".json") || name.starts_with("spec-") || name.starts_with("config-") {
            continue;
        }
        let result = Request::from_value(&load(&name));
        if name.starts_with("reject-") {
            rejected += 1;
            assert!(result.is_err(), "{name} should be rejected");
        } else {
            assert!(result.is_ok(), "{name}: {:?}", result.err());
        }
    }
    assert!(rejected >= 8, "only {rejected} rejection fixtures");
}

#[test]
fn spec_and_request_round_trip_through_json() {
    let text = std::fs::read_to_string(fixture_path("spec-example.json")).unwrap();
    let spec = EphemeralSpec::from_json(&text).unwrap();
    let again = EphemeralSpec::from_json(&serde_json::to_string_pretty(&spec).unwrap()).unwrap();
    assert_eq!(spec, again);
    // Requests serialise (for logs and the state store) without error.
    for name in [
        "tf-update.json",
        "rds-auto-start.json",
        "sns-budget-actual.json",
    ] {
        let v = serde_json::to_value(decode(name)).unwrap();
        assert!(v.is_object(), "{name}");
    }
}

/// The SNS and EventBridge envelopes are read with the official `aws_lambda_events` types: an
/// envelope missing what AWS always sends is refused, naming the field's path.
#[test]
fn envelopes_must_be_whole_and_errors_name_the_path() {
    let mut sns = load("sns-budget-actual.json");
    sns["Records"][0]["Sns"]
        .as_object_mut()
        .unwrap()
        .remove("Timestamp");
    match Request::from_value(&sns) {
        Err(EventError::Envelope {
            envelope: "SNS",
            path,
            message,
        }) => {
            assert_eq!(path, "Records[0].Sns");
            assert!(message.contains("Timestamp"), "{message}");
        }
        other => panic!("expected an envelope error, got {other:?}"),
    }
    let mut rds = load("rds-auto-start.json");
    rds["detail"]["SourceIdentifier"] = Value::from(7);
    let e = Request::from_value(&rds).unwrap_err();
    assert!(
        matches!(&e, EventError::Envelope { envelope: "EventBridge", path, .. } if path == "detail.SourceIdentifier"),
        "{e:?}"
    );
    assert!(e.to_string().contains("detail.SourceIdentifier"), "{e}");
    // The envelope's `time` is typed too: a bad one is named.
    let mut rds = load("rds-auto-start.json");
    rds["time"] = Value::from("yesterday");
    let e = Request::from_value(&rds).unwrap_err();
    assert!(
        matches!(&e, EventError::Envelope { path, .. } if path == "time"),
        "{e:?}"
    );
}
