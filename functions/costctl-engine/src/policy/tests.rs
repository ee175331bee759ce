use super::*;
use costctl_core::config::Config;
use costctl_core::manifest::DbRecord;
use costctl_core::observation::{DbObs, DbSpec};
use serde_json::json;

const STACK: &str = "order-tracking-dev";
/// 2026-11-27T12:00:00Z.
const NOW: i64 = 1_795_780_800_000;

fn config(policy: serde_json::Value) -> Config {
    Config::from_json(
        &json!({
            "stacks": {
                STACK: {
                    "tags": {"Project": "order-tracking", "Env": "dev"},
                    "policy": policy,
                    "budgets": [{
                        "name": "order-tracking-dev-monthly",
                        "rules": [
                            {"alert_type": "FORECASTED", "threshold_percent": 100, "level": "paused"},
                            {"alert_type": "ACTUAL", "threshold_percent": 100, "level": "hibernated", "lockout": true}
                        ]
                    }]
                }
            }
        })
        .to_string(),
    )
    .expect("a valid configuration")
}

fn state(cfg: &StackConfig, desired: DesiredState, requested_at_ms: i64) -> StackState {
    StackState {
        desired,
        generation: 3,
        reason: "schedule request".into(),
        requested_at_ms,
        ..StackState::new(STACK, Trigger::Schedule, cfg.selector.clone(), cfg.policy)
    }
}

fn alert(kind: &str, amount: f64) -> BudgetAlert {
    let msg = format!(
        "Budget Name: order-tracking-dev-monthly\nBudget Type: Cost\nBudgeted Amount: $100.00\nAlert Type: {kind}\nAlert Threshold: > $100.00\n{kind} Amount: ${amount:.2}\n"
    );
    BudgetAlert::parse(None, &msg).expect("a budget notification")
}

#[test]
fn a_request_carries_the_stacks_selector_policy_and_trigger() {
    let cfg = config(json!({"rds_on_pause": "snapshot"}));
    let stack = cfg.stack(STACK).unwrap();
    let spec = request(stack, DesiredState::Paused, Trigger::Schedule);
    assert_eq!(spec.selector.as_ref(), Some(&stack.selector));
    assert_eq!(spec.policy, Some(stack.policy));
    assert_eq!(spec.trigger, Trigger::Schedule);
    assert_eq!(spec.reason, "schedule request");
    assert!(!spec.force && spec.lockout.is_none());
}

#[test]
fn the_reduce_only_deployment_refuses_raising_requests_and_reconciles() {
    let resume = Request::Resume {
        stack: STACK.into(),
        force: false,
        trigger: Trigger::Manual,
        until: None,
    };
    assert!(
        reduce_only_refusal(&resume)
            .unwrap()
            .contains("can raise cost")
    );
    let tick = Request::Reconcile { stack: None };
    assert!(
        reduce_only_refusal(&tick)
            .unwrap()
            .contains("records requests")
    );
    let pause = Request::Pause {
        stack: STACK.into(),
        level: DesiredState::Paused,
        trigger: Trigger::Budget,
    };
    assert_eq!(reduce_only_refusal(&pause), None);
}

#[test]
fn a_forecast_alert_pauses_without_a_lockout() {
    let cfg = config(json!({}));
    let budget_cfg = &cfg.stack(STACK).unwrap().budgets[0];
    let verdict = budget(
        &alert("FORECASTED", 120.0),
        budget_cfg,
        DesiredState::Running,
        NOW,
    );
    assert_eq!(
        verdict,
        BudgetVerdict::Lower {
            level: DesiredState::Paused,
            lockout: None
        }
    );
}

#[test]
fn an_actual_alert_hibernates_and_locks_out_until_the_next_month() {
    let cfg = config(json!({}));
    let budget_cfg = &cfg.stack(STACK).unwrap().budgets[0];
    let BudgetVerdict::Lower { level, lockout } = budget(
        &alert("ACTUAL", 104.0),
        budget_cfg,
        DesiredState::Running,
        NOW,
    ) else {
        panic!("an actual alert over 100 % lowers the stack");
    };
    assert_eq!(level, DesiredState::Hibernated);
    let lockout = lockout.expect("the rule sets a lockout");
    // 2026-12-01T00:00:00Z: the start of the next monthly budget period.
    assert_eq!(lockout.until_ms, 1_796_083_200_000);
    assert_eq!(
        lockout.reason,
        "budget order-tracking-dev-monthly ACTUAL at 104% of the budget"
    );
    assert!(lockout.holds_at(NOW) && !lockout.holds_at(lockout.until_ms + 1));
}

#[test]
fn a_budget_alert_never_raises_a_stack_and_below_thresholds_asks_nothing() {
    let cfg = config(json!({}));
    let budget_cfg = &cfg.stack(STACK).unwrap().budgets[0];
    let verdict = budget(
        &alert("FORECASTED", 150.0),
        budget_cfg,
        DesiredState::Hibernated,
        NOW,
    );
    assert_eq!(
        verdict,
        BudgetVerdict::Lower {
            level: DesiredState::Hibernated,
            lockout: None
        }
    );
    let below = budget(
        &alert("ACTUAL", 50.0),
        budget_cfg,
        DesiredState::Running,
        NOW,
    );
    assert_eq!(below, BudgetVerdict::BelowThresholds);
}

#[test]
fn escalation_hibernates_a_stack_paused_for_the_configured_days() {
    let cfg = config(json!({"hibernate_after_days": 3}));
    let stack = cfg.stack(STACK).unwrap();
    let three_days = 3 * DAY_MS;
    let due = escalation(
        stack,
        &state(stack, DesiredState::Paused, NOW - three_days),
        NOW,
    )
    .expect("paused for three days: due");
    assert_eq!(due.desired, DesiredState::Hibernated);
    assert_eq!(due.trigger, Trigger::Policy);
    assert_eq!(due.reason, "paused for 3 day(s): hibernate_after_days");
    assert_eq!(due.selector.as_ref(), Some(&stack.selector));
    // One millisecond short of the limit, a running or hibernated stack, or no limit: nothing.
    let short = state(stack, DesiredState::Paused, NOW - three_days + 1);
    assert_eq!(escalation(stack, &short, NOW), None);
    for desired in [DesiredState::Running, DesiredState::Hibernated] {
        let s = state(stack, desired, NOW - 10 * three_days);
        assert_eq!(escalation(stack, &s, NOW), None, "{desired}");
    }
    let unlimited = config(json!({}));
    let unlimited = unlimited.stack(STACK).unwrap();
    let long_ago = state(unlimited, DesiredState::Paused, 0);
    assert_eq!(escalation(unlimited, &long_ago, NOW), None);
}

#[test]
fn the_reduce_only_partition_is_applied_as_lowering_requests_only() {
    let cfg = config(json!({}));
    let stack = cfg.stack(STACK).unwrap();
    let item = |desired| {
        Ok(LoweringRequest {
            desired,
            trigger: Trigger::Budget,
            reason: "budget request".into(),
            at_ms: NOW,
            lockout: None,
        })
    };
    assert!(matches!(
        lowering(stack, &item(DesiredState::Running), DesiredState::Paused),
        LoweringVerdict::Ignore(why) if why.contains("would raise cost")
    ));
    assert_eq!(
        lowering(
            stack,
            &Err("no `request` attribute".into()),
            DesiredState::Running
        ),
        LoweringVerdict::Ignore("not a request: no `request` attribute".into())
    );
    let LoweringVerdict::Request(spec) =
        lowering(stack, &item(DesiredState::Paused), DesiredState::Running)
    else {
        panic!("a pause of a running stack is recorded");
    };
    assert_eq!(
        (spec.desired, spec.trigger),
        (DesiredState::Paused, Trigger::Budget)
    );
    // Never up: a pause of a hibernated stack leaves it hibernated, and asks nothing…
    assert_eq!(
        lowering(stack, &item(DesiredState::Paused), DesiredState::Hibernated),
        LoweringVerdict::Nothing(DesiredState::Hibernated)
    );
    // …unless a lockout comes with it.
    let locked = Ok(LoweringRequest {
        lockout: Some(Lockout {
            until_ms: NOW + DAY_MS,
            reason: "budget".into(),
        }),
        ..item(DesiredState::Paused).unwrap()
    });
    assert!(matches!(
        lowering(stack, &locked, DesiredState::Hibernated),
        LoweringVerdict::Request(s) if s.desired == DesiredState::Hibernated && s.lockout.is_some()
    ));
}

fn db(id: &str, tags: &[(&str, &str)]) -> DbObs {
    let spec = DbSpec {
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..DbSpec::default()
    };
    DbObs {
        id: id.into(),
        status: "available".into(),
        deletion_protection: false,
        spec,
        unsupported: Vec::new(),
        kms_key_state: None,
        pending: Default::default(),
    }
}

#[test]
fn an_auto_started_instance_belongs_to_the_stack_that_selects_or_recorded_it() {
    let cfg = config(json!({}));
    let stack = cfg.stack(STACK).unwrap();
    let s = state(stack, DesiredState::Paused, NOW);
    let tagged = db(
        "orders-db",
        &[("Project", "order-tracking"), ("Env", "dev")],
    );
    assert!(owns_instance(stack, &s, "orders-db", &[tagged]));
    let other = db("orders-db", &[("Project", "billing")]);
    assert!(!owns_instance(
        stack,
        &s,
        "orders-db",
        std::slice::from_ref(&other)
    ));
    // Recorded in the manifest (its tags may have been changed since): still the stack's.
    let mut recorded = s.clone();
    recorded.manifest.db_instances.insert(
        "orders-db".into(),
        DbRecord {
            spec: DbSpec::default(),
            snapshot: None,
            stopped: false,
        },
    );
    assert!(owns_instance(stack, &recorded, "orders-db", &[other]));
}

#[test]
fn an_auto_start_restops_or_hibernates_per_policy_and_leaves_a_running_stack() {
    let stop = config(json!({}));
    let stop = stop.stack(STACK).unwrap();
    assert_eq!(
        auto_start(stop, &state(stop, DesiredState::Paused, NOW)),
        Some(DesiredState::Paused)
    );
    assert_eq!(
        auto_start(stop, &state(stop, DesiredState::Running, NOW)),
        None
    );
    let hibernate = config(json!({"rds_auto_start": "hibernate"}));
    let hibernate = hibernate.stack(STACK).unwrap();
    assert_eq!(
        auto_start(hibernate, &state(hibernate, DesiredState::Paused, NOW)),
        Some(DesiredState::Hibernated)
    );
}
