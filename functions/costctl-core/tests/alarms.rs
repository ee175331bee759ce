//! CloudWatch alarms on a stack's load balancer: muted by a pause (only those that were on),
//! re-pointed at a recreated load balancer and unmuted after the services, and an alarm that
//! cannot be re-pointed keeps the load balancer.

use costctl_core::observation::{AlarmDefinition, AlarmObs, LoadBalancerObs};
use costctl_core::spec::EphemeralSpec;
use costctl_core::{Action, DesiredState, Goal, Manifest, Observation, Policy, plan};

const OLD: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/ot-dev-alb/0ld";
const NEW: &str =
    "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/ot-dev-alb/n3w";

fn load_balancer(arn: &str) -> LoadBalancerObs {
    let spec = EphemeralSpec::from_value(&serde_json::json!({"kafka_clusters": [],
        "load_balancers": [{"name": "ot-dev-alb", "subnets": ["subnet-a", "subnet-b"],
        "security_groups": ["sg-1"], "listeners": [{"port": 80, "protocol": "HTTP",
        "default_actions": [{"type": "fixed-response", "fixed_response": {"status_code": "200"}}]}]}]}))
    .unwrap()
    .load_balancers
    .remove(0);
    LoadBalancerObs {
        arn: arn.into(),
        dns_name: "ot-dev-alb-1.eu-west-1.elb.amazonaws.com".into(),
        zone_id: "Z32O12XQLNTSW2".into(),
        state: "active".into(),
        deletion_protection: false,
        spec,
        unsupported: Vec::new(),
    }
}

fn alarm(name: &str, on: bool, dimension: &str) -> AlarmObs {
    AlarmObs {
        name: name.into(),
        load_balancer: "ot-dev-alb".into(),
        dimension: dimension.into(),
        actions_enabled: on,
        tags: Default::default(),
        of_stack: true,
        definition: AlarmDefinition {
            metric_name: Some("HTTPCode_ELB_5XX_Count".into()),
            namespace: Some("AWS/ApplicationELB".into()),
            dimensions: vec![("LoadBalancer".into(), dimension.into())],
            threshold: Some("10".into()),
            ..AlarmDefinition::default()
        },
        unsupported: Vec::new(),
    }
}

fn goal(desired: DesiredState) -> Goal {
    Goal {
        desired,
        generation: 2,
        policy: Policy::default(),
    }
}

fn obs(arn: Option<&str>, alarms: Vec<AlarmObs>) -> Observation {
    let mut o = Observation::default();
    if let Some(arn) = arn {
        o.load_balancers
            .insert("ot-dev-alb".into(), load_balancer(arn));
    }
    o.alarms = alarms.into_iter().map(|a| (a.name.clone(), a)).collect();
    o
}

#[test]
fn a_pause_mutes_the_alarms_that_were_on_and_records_them() {
    let o = obs(
        Some(OLD),
        vec![
            alarm("5xx", true, "app/ot-dev-alb/0ld"),
            alarm("quiet", false, "app/ot-dev-alb/0ld"),
        ],
    );
    let p = plan(&goal(DesiredState::Paused), &o, &Manifest::default());
    let mutes: Vec<&Action> = p
        .steps
        .iter()
        .map(|s| &s.action)
        .filter(|a| matches!(a, Action::SetAlarmActions { .. }))
        .collect();
    assert_eq!(
        mutes,
        [&Action::SetAlarmActions {
            names: vec!["5xx".into()],
            enabled: false
        }]
    );
    assert_eq!(p.manifest.alarms_muted, ["5xx".to_string()].into());
    assert!(
        p.steps
            .iter()
            .any(|s| matches!(s.action, Action::DeleteLoadBalancer { .. }))
    );
}

#[test]
fn a_resume_re_points_then_unmutes_only_what_the_pause_muted() {
    let mut manifest = Manifest::default();
    manifest.alarms_muted.insert("5xx".into());
    let o = obs(
        Some(NEW),
        vec![
            alarm("5xx", false, "app/ot-dev-alb/0ld"),
            alarm("quiet", false, "app/ot-dev-alb/0ld"),
        ],
    );
    let p = plan(&goal(DesiredState::Running), &o, &manifest);
    let point = |name: &str| {
        p.steps.iter().find_map(|s| match &s.action {
            Action::PointAlarm {
                name: n,
                actions_enabled,
                ..
            } if n == name => Some((s.id, *actions_enabled)),
            _ => None,
        })
    };
    // Both are re-pointed; the muted one with its actions still off, the other as it was.
    let (five, five_on) = point("5xx").expect("5xx re-pointed");
    let (_, quiet_on) = point("quiet").expect("quiet re-pointed");
    assert!(!five_on && !quiet_on);
    let unmute = p
        .steps
        .iter()
        .find(|s| matches!(s.action, Action::SetAlarmActions { enabled: true, .. }))
        .expect("unmuted");
    assert_eq!(
        unmute.action,
        Action::SetAlarmActions {
            names: vec!["5xx".into()],
            enabled: true
        }
    );
    // After the re-pointing (through the join gate when there are several).
    let deps = &unmute.after;
    assert!(
        deps.contains(&five)
            || deps.iter().any(|d| p
                .steps
                .iter()
                .any(|s| s.id == *d && s.after.contains(&five))),
        "{p:#?}"
    );
    // Once pointed and on, nothing is left to do.
    let o = obs(
        Some(NEW),
        vec![
            alarm("5xx", true, "app/ot-dev-alb/n3w"),
            alarm("quiet", false, "app/ot-dev-alb/n3w"),
        ],
    );
    let p = plan(&goal(DesiredState::Running), &o, &manifest);
    assert!(p.steps.is_empty(), "{p:#?}");
}

#[test]
fn an_alarm_that_cannot_be_re_pointed_keeps_the_load_balancer() {
    let mut math = alarm("math", true, "app/ot-dev-alb/0ld");
    math.unsupported
        .push("a metric-math (Metrics) alarm".into());
    let p = plan(
        &goal(DesiredState::Paused),
        &obs(Some(OLD), vec![math]),
        &Manifest::default(),
    );
    assert!(
        !p.steps
            .iter()
            .any(|s| matches!(s.action, Action::DeleteLoadBalancer { .. }))
    );
    let note = p
        .notes
        .iter()
        .find(|n| n.resource == "alb:ot-dev-alb")
        .expect("a note");
    assert!(
        note.message
            .contains("CloudWatch alarm math cannot be re-pointed"),
        "{note:?}"
    );
    // It is still muted: the services go to 0 either way.
    assert!(
        p.steps
            .iter()
            .any(|s| matches!(s.action, Action::SetAlarmActions { enabled: false, .. }))
    );
}

#[test]
fn an_alarm_of_someone_else_is_left_alone_and_keeps_the_load_balancer() {
    let mut theirs = alarm("theirs", true, "app/ot-dev-alb/0ld");
    theirs.of_stack = false;
    theirs.unsupported.push(
        "it does not carry the stack's tags (tags Project=ot), so costctl may not re-point it"
            .into(),
    );
    let p = plan(
        &goal(DesiredState::Paused),
        &obs(Some(OLD), vec![theirs]),
        &Manifest::default(),
    );
    assert!(
        !p.steps.iter().any(|s| matches!(
            s.action,
            Action::DeleteLoadBalancer { .. } | Action::SetAlarmActions { .. }
        )),
        "{p:#?}"
    );
    assert!(p.manifest.alarms_muted.is_empty());
    assert!(
        p.notes.iter().any(|n| n.resource == "alb:ot-dev-alb"
            && n.message.contains("does not carry the stack's tags")),
        "{:?}",
        p.notes
    );
}
