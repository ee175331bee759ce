use super::*;
use serde_json::json;

fn decode(v: Value) -> Result<Request, EventError> {
    Request::from_value(&v)
}

#[test]
fn pause_defaults() {
    let r = decode(json!({"action": "pause", "stack": "s"})).unwrap();
    assert_eq!(
        r,
        Request::Pause {
            stack: "s".into(),
            level: DesiredState::Paused,
            trigger: Trigger::Manual
        }
    );
    assert!(!r.increases_cost());
    assert_eq!(r.request_kind(), "pause");
}

#[test]
fn pause_rejects_running_and_force() {
    let e = decode(json!({"action": "pause", "stack": "s", "level": "running"})).unwrap_err();
    assert!(matches!(e, EventError::InvalidValue { ref field, .. } if field == "level"));
    let e = decode(json!({"action": "pause", "stack": "s", "force": true})).unwrap_err();
    assert!(matches!(e, EventError::UnknownField { ref field, .. } if field == "force"));
}

#[test]
fn resume_rules() {
    let r = decode(json!({"action": "resume", "stack": "s", "force": true})).unwrap();
    assert!(r.increases_cost());
    assert!(matches!(r, Request::Resume { force: true, .. }));
    let e = decode(json!({"action": "resume", "stack": "s", "force": true, "trigger": "schedule"}))
        .unwrap_err();
    assert!(matches!(e, EventError::InvalidValue { ref field, .. } if field == "force"));
    let e = decode(json!({"action": "resume", "stack": "s", "trigger": "budget"})).unwrap_err();
    assert!(matches!(e, EventError::InvalidValue { ref field, .. } if field == "trigger"));
    let e = decode(json!({"action": "resume", "stack": "s", "force": "yes"})).unwrap_err();
    assert!(matches!(e, EventError::WrongType { ref field, .. } if field == "force"));
}

#[test]
fn not_an_object_and_unknown_shapes() {
    assert_eq!(
        decode(json!([1])).unwrap_err(),
        EventError::NotAnObject { found: "an array" }
    );
    assert!(matches!(
        decode(json!({"hello": 1})).unwrap_err(),
        EventError::Unrecognised { .. }
    ));
    let e = decode(json!({"action": "destroy"})).unwrap_err();
    assert!(e.to_string().contains("apply-spec"), "{e}");
}

#[test]
fn apply_spec_without_tf_is_apply() {
    let spec = json!({"load_balancers": [], "kafka_clusters": []});
    let r = decode(json!({"action": "apply-spec", "stack": "s", "spec": spec})).unwrap();
    assert_eq!(r.request_kind(), "apply-spec");
    assert!(r.increases_cost());
    assert!(matches!(
        r,
        Request::Terraform {
            tf_action: TfAction::Apply,
            trigger: Trigger::Manual,
            ..
        }
    ));
}

#[test]
fn custom_terraform_key() {
    let spec = json!({"load_balancers": [], "kafka_clusters": []});
    let v = json!({"action": "apply-spec", "stack": "s", "spec": spec,
                   "lifecycle": {"action": "create", "prev_input": null}});
    assert!(matches!(
        Request::from_value(&v),
        Err(EventError::UnknownField { .. })
    ));
    let opts = DecodeOptions {
        terraform_key: "lifecycle".into(),
    };
    let r = Request::from_value_with(&v, &opts).unwrap();
    assert_eq!(r.request_kind(), "tf-create");
}
