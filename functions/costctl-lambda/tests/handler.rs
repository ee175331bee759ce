//! The handler called directly — `handle(&service, LambdaEvent::new(payload, context))`, no
//! process, no Runtime API — over the simulated cloud and store on virtual time, with the real
//! event JSON of the fixtures: every event kind and every branch of the request policy.

use costctl_core::DesiredState;
use costctl_core::config::Config;
use costctl_core::event::Trigger;
use costctl_core::observation::DbSpec;
use costctl_engine::engine::Options;
use costctl_engine::store::{StackState, StateStore};
use costctl_engine::{Answer, Mode, Service};
use costctl_lambda::handler::handle;
use costctl_sim::clock::{Executor, SimClock, Step};
use costctl_sim::cloud::{Caller, Shared};
use costctl_sim::rng::Rng;
use costctl_sim::world::World;
use costctl_sim::{MemStore, SimCloud};
use futures::FutureExt;
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const STACK: &str = "order-tracking-dev";
/// 2026-11-27T12:00:00Z.
const START: i64 = 1_795_780_800_000;
const DAY: i64 = 86_400_000;

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../costctl-core/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The stack of the fixtures' configuration (config-example.json): two services and the
/// instance `ot-dev-db`, tagged Project/Env; one service of another project beside them.
struct Fixture {
    world: Shared,
    clock: SimClock,
    config: Config,
}

impl Fixture {
    fn new(policy: Value) -> Self {
        Self::with(json!({ "policy": policy }))
    }

    /// With these fields of the stack's configuration replaced (time zone, schedule…).
    fn with(fields: Value) -> Self {
        let mut world = World::new(Rng::new(7), START);
        let tags: BTreeMap<String, String> = [("Project", "order-tracking"), ("Env", "dev")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into();
        world.add_service("ot-dev", "api", 2, None, tags.clone(), true);
        world.add_service("ot-dev", "worker", 1, None, tags.clone(), true);
        let billing = [("Project".to_string(), "billing".to_string())].into();
        world.add_service("ot-dev", "billing", 3, None, billing, false);
        let spec = DbSpec {
            instance_class: "db.t4g.micro".into(),
            engine: "postgres".into(),
            tags,
            ..DbSpec::default()
        };
        world.add_db("ot-dev-db", false, spec, true);
        let mut config = fixture("config-example.json");
        for (k, v) in fields.as_object().expect("an object of fields") {
            config["stacks"][STACK][k] = v.clone();
        }
        Fixture {
            world: Shared(Arc::new(Mutex::new(world))),
            clock: SimClock::new(START),
            config: Config::from_json(&config.to_string()).expect("the fixture configuration"),
        }
    }

    fn service(&self, mode: Mode) -> Service<SimCloud, MemStore> {
        let caller = Caller {
            world: self.world.clone(),
            clock: self.clock.clone(),
            inv: 1,
            owner: format!("test-{mode:?}"),
            stack: STACK.into(),
            terraform: false,
        };
        let options = Options {
            concurrency: 4,
            lease_ttl: Duration::from_secs(120),
            poll_interval: Duration::from_secs(10),
            safety_margin: Duration::from_secs(3),
            owner: caller.owner.clone(),
            reduce_only: false,
            stacks_at_once: 4,
        };
        let engine =
            costctl_engine::Engine::new(SimCloud(caller.clone()), MemStore(caller), options)
                .with_clock(Arc::new(self.clock.clone()));
        Service::with_engine(engine, self.config.clone(), mode)
    }

    /// Runs `fut` to its end on virtual time (the simulation's executor: latencies and the
    /// engine's polls pass instantly, and the simulated resources move on with the clock).
    fn run<T: 'static>(&self, fut: futures::future::LocalBoxFuture<'static, T>) -> T {
        let mut exec = Executor::new(self.clock.clone(), Rng::new(1));
        exec.spawn_at(self.clock.now(), 1, fut);
        loop {
            match exec.step() {
                Step::Polled {
                    output: Some(out), ..
                } => return out,
                Step::Polled { .. } => {}
                Step::Advanced { to } => self.world.lock().advance(to),
                Step::Idle => panic!("the invocation waits for nothing"),
            }
        }
    }

    /// One invocation with the module's default timeout (900 s): a Terraform create waits
    /// for its cluster, which MSK takes minutes to make.
    fn invoke(&self, mode: Mode, payload: Value) -> Result<Answer, Diagnostic> {
        let service = self.service(mode);
        let mut context = Context::default();
        context.deadline = u64::try_from(self.clock.now() + 900_000).unwrap();
        self.run(
            async move { handle(&service, LambdaEvent::new(payload, context)).await }.boxed_local(),
        )
    }

    /// Moves the clock on by `ms`.
    fn later(&self, ms: i64) {
        let to = self.clock.now() + ms;
        self.clock.advance_to(to);
        self.world.lock().advance(to);
    }

    fn state(&self) -> StackState {
        let service = self.service(Mode::Full);
        self.run(async move { service.engine().store().load(STACK).await }.boxed_local())
            .unwrap()
            .expect("the stack is recorded")
    }

    fn history(&self) -> Vec<costctl_engine::store::HistoryEntry> {
        let service = self.service(Mode::Full);
        self.run(async move { service.engine().store().history(STACK, 50).await }.boxed_local())
            .unwrap()
    }

    fn lowering_items(&self) -> usize {
        self.world
            .lock()
            .lowering
            .get(STACK)
            .map_or(0, |items| items.len())
    }
}

fn json_of(answer: &Answer) -> Value {
    serde_json::to_value(answer).unwrap()
}

#[test]
fn a_scheduled_pause_records_the_schedule_trigger_and_reconciles() {
    let f = Fixture::new(json!({}));
    let answer = f
        .invoke(Mode::Full, fixture("schedule-pause.json"))
        .unwrap();
    let Answer::Report(report) = &answer else {
        panic!("a pause answers a report: {answer:?}");
    };
    assert_eq!(report.desired_state, DesiredState::Paused);
    assert_eq!(report.generation, 1);
    let state = f.state();
    assert_eq!(
        (state.desired, state.trigger),
        (DesiredState::Paused, Trigger::Schedule)
    );
    // The services of the stack went to 0; the other project's did not.
    let w = f.world.lock();
    assert_eq!(w.services["ot-dev/api"].desired, 0);
    assert_eq!(w.services["ot-dev/billing"].desired, 3);
}

#[test]
fn status_and_plan_answer_without_changing_anything() {
    let f = Fixture::new(json!({}));
    let status = f.invoke(Mode::Full, fixture("manual-status.json")).unwrap();
    assert!(matches!(&status, Answer::Report(r) if r.desired_state == DesiredState::Running));
    let plan = f
        .invoke(
            Mode::Full,
            json!({"action": "plan", "stack": STACK, "target": "paused"}),
        )
        .unwrap();
    let v = json_of(&plan);
    assert!(
        v["plan"]["steps"].as_array().is_some_and(|s| !s.is_empty()),
        "{v}"
    );
    assert_eq!(f.world.lock().services["ot-dev/api"].desired, 2);
    assert!(
        f.world.lock().store.is_empty(),
        "status and plan record nothing"
    );
}

#[test]
fn bad_events_and_unknown_stacks_are_refused_with_their_type() {
    let f = Fixture::new(json!({}));
    let e = f
        .invoke(Mode::Full, fixture("reject-unknown-action.json"))
        .unwrap_err();
    assert_eq!(e.error_type, "InvalidEvent");
    let e = f
        .invoke(Mode::Full, json!({"action": "pause", "stack": "nobody"}))
        .unwrap_err();
    assert_eq!(e.error_type, "UnknownStack");
    assert!(e.error_message.contains("nobody"), "{}", e.error_message);
    assert!(f.world.lock().store.is_empty());
}

#[test]
fn the_reduce_only_function_refuses_resumes_and_reconciles() {
    let f = Fixture::new(json!({}));
    for payload in [
        fixture("schedule-resume.json"),
        fixture("schedule-reconcile.json"),
    ] {
        let e = f.invoke(Mode::ReduceOnly, payload).unwrap_err();
        assert_eq!(e.error_type, "Refused");
        assert!(
            e.error_message.contains("reduce-only"),
            "{}",
            e.error_message
        );
    }
    assert!(f.world.lock().store.is_empty() && f.lowering_items() == 0);
}

#[test]
fn a_budget_alert_is_recorded_by_the_reduce_only_function_and_applied_by_the_tick() {
    let f = Fixture::new(json!({}));
    f.invoke(Mode::Full, fixture("schedule-pause.json"))
        .unwrap();
    let answer = f
        .invoke(Mode::ReduceOnly, fixture("sns-budget-actual.json"))
        .unwrap();
    let v = json_of(&answer);
    let alert = &v["budget_alerts"][0];
    assert_eq!(alert["level"], "hibernated");
    assert_eq!(alert["lockout"], true);
    assert_eq!(alert["report"]["recorded"], true);
    // Recorded only: the stack's desired state is unchanged until the full function's tick.
    assert_eq!(f.lowering_items(), 1);
    assert_eq!(f.state().desired, DesiredState::Paused);

    let tick = f
        .invoke(Mode::Full, fixture("schedule-reconcile.json"))
        .unwrap();
    let v = json_of(&tick);
    let entry = &v["reconciled"][0];
    assert_eq!(
        entry["reduce_only_requests"][0]["requested"], "hibernated",
        "{v}"
    );
    assert_eq!(f.lowering_items(), 0, "a handled item is dropped");
    let state = f.state();
    assert_eq!(
        (state.desired, state.trigger),
        (DesiredState::Hibernated, Trigger::Budget)
    );
    let lockout = state.lockout.expect("the ACTUAL rule locks out");
    // Until the next monthly budget period: 2026-12-01T00:00:00Z.
    assert_eq!(lockout.until_ms, 1_796_083_200_000);

    // A scheduled resume is refused under the lockout; a forced manual one clears it.
    let e = f
        .invoke(Mode::Full, fixture("schedule-resume.json"))
        .unwrap_err();
    assert_eq!(e.error_type, "LockedOut");
    assert!(
        e.error_message.contains("2026-12-01T00:00:00Z"),
        "{}",
        e.error_message
    );
    f.invoke(Mode::Full, fixture("manual-resume-force.json"))
        .unwrap();
    let state = f.state();
    assert_eq!(state.desired, DesiredState::Running);
    assert_eq!(state.lockout, None);
}

#[test]
fn a_budget_alert_for_a_locked_out_stack_keeps_it_down_and_renews_the_lockout() {
    let f = Fixture::new(json!({}));
    f.invoke(Mode::Full, fixture("manual-pause-hibernate.json"))
        .unwrap();
    f.invoke(Mode::Full, fixture("sns-budget-actual.json"))
        .unwrap();
    let first = f.state().lockout.expect("locked out");
    // A forecast alert while hibernated and locked out: never raised to paused.
    let answer = f
        .invoke(Mode::Full, fixture("sns-budget-forecasted.json"))
        .unwrap();
    let v = json_of(&answer);
    assert_eq!(v["budget_alerts"][0]["level"], "hibernated", "{v}");
    assert_eq!(v["budget_alerts"][0]["lockout"], false);
    let state = f.state();
    assert_eq!(state.desired, DesiredState::Hibernated);
    assert_eq!(
        state.lockout,
        Some(first),
        "a pause does not touch the lockout"
    );
}

#[test]
fn a_budget_alert_below_every_threshold_or_of_an_unknown_budget_changes_nothing() {
    let f = Fixture::new(json!({}));
    let answer = f
        .invoke(Mode::ReduceOnly, fixture("sns-budget-actual-80.json"))
        .unwrap();
    let v = json_of(&answer);
    assert_eq!(v["budget_alerts"][0]["action"], "none", "{v}");
    assert_eq!(f.lowering_items(), 0);
    let mut unknown = fixture("sns-budget-forecasted.json");
    let msg = unknown["Records"][0]["Sns"]["Message"]
        .as_str()
        .unwrap()
        .replace("order-tracking-dev-monthly", "somebody-elses-budget");
    unknown["Records"][0]["Sns"]["Message"] = msg.into();
    let e = f.invoke(Mode::ReduceOnly, unknown).unwrap_err();
    assert_eq!(e.error_type, "UnknownStack");
    assert!(
        e.error_message.contains("somebody-elses-budget"),
        "{}",
        e.error_message
    );
}

#[test]
fn the_tick_escalates_a_long_pause_to_hibernation() {
    let f = Fixture::new(json!({"hibernate_after_days": 3}));
    f.invoke(Mode::Full, fixture("schedule-pause.json"))
        .unwrap();
    let paused_at = f.state().requested_at_ms;
    // Two days on: not yet.
    f.later(2 * DAY);
    f.invoke(Mode::Full, fixture("schedule-reconcile.json"))
        .unwrap();
    assert_eq!(f.state().desired, DesiredState::Paused);
    // Three days after the pause: the tick asks for hibernation, by the policy.
    f.later(paused_at + 3 * DAY - f.clock.now());
    f.invoke(Mode::Full, fixture("schedule-reconcile.json"))
        .unwrap();
    let state = f.state();
    assert_eq!(
        (state.desired, state.trigger),
        (DesiredState::Hibernated, Trigger::Policy)
    );
    assert_eq!(state.reason, "paused for 3 day(s): hibernate_after_days");
}

#[test]
fn an_rds_auto_start_restops_or_hibernates_the_stack_that_owns_the_instance() {
    let f = Fixture::new(json!({}));
    // Running: nothing to do.
    f.invoke(Mode::Full, fixture("manual-resume-force.json"))
        .unwrap();
    let answer = f
        .invoke(Mode::ReduceOnly, fixture("rds-auto-start.json"))
        .unwrap();
    assert!(matches!(answer, Answer::Nothing { .. }), "{answer:?}");
    assert_eq!(f.lowering_items(), 0);
    // Paused: asked to be paused again, by the RDS event.
    f.invoke(Mode::Full, fixture("schedule-pause.json"))
        .unwrap();
    f.invoke(Mode::ReduceOnly, fixture("rds-auto-start.json"))
        .unwrap();
    let item = f.world.lock().lowering[STACK][0].1.clone();
    assert_eq!(
        (item.desired, item.trigger),
        (DesiredState::Paused, Trigger::RdsEvent)
    );

    // With `rds_auto_start: hibernate` the same event hibernates the stack.
    let h = Fixture::new(json!({"rds_auto_start": "hibernate"}));
    h.invoke(Mode::Full, fixture("schedule-pause.json"))
        .unwrap();
    h.invoke(Mode::Full, fixture("rds-auto-start.json"))
        .unwrap();
    let state = h.state();
    assert_eq!(
        (state.desired, state.trigger),
        (DesiredState::Hibernated, Trigger::RdsEvent)
    );

    // An instance no stack owns: refused, nothing recorded.
    let mut other = fixture("rds-auto-start.json");
    other["detail"]["SourceIdentifier"] = "somebody-elses-db".into();
    other["detail"]["SourceArn"] = "arn:aws:rds:eu-west-1:123456789012:db:somebody-elses-db".into();
    other["resources"] = json!(["arn:aws:rds:eu-west-1:123456789012:db:somebody-elses-db"]);
    let e = h.invoke(Mode::Full, other).unwrap_err();
    assert_eq!(e.error_type, "UnknownStack", "{}", e.error_message);
}

/// An MSK Serverless cluster in the simulated ephemeral world (its subnets and security group
/// exist there).
fn msk_spec(subnet: &str) -> Value {
    json!({"load_balancers": [], "kafka_clusters": [{
        "name": "ot-dev-msk",
        "vpc_configs": [{"subnet_ids": ["subnet-0a", "subnet-0b", subnet], "security_group_ids": ["sg-0msk"]}],
        "client_authentication": {"sasl_iam": true},
        "bootstrap_parameter": "/order-tracking/dev/kafka_bootstrap"
    }]})
}

#[test]
fn terraform_creates_and_destroys_the_ephemeral_tier_and_a_failed_create_leaves_nothing() {
    let f = Fixture::new(json!({}));
    costctl_sim::scenario::ephemeral_world(&mut f.world.lock());
    let input = json!({"action": "apply-spec", "stack": STACK, "spec": msk_spec("subnet-0c")});
    let mut create = input.clone();
    create["tf"] = json!({"action": "create"});
    let answer = f.invoke(Mode::Full, create).unwrap();
    let Answer::Spec(result) = &answer else {
        panic!("a create answers the spec result: {answer:?}");
    };
    let cluster = &result.kafka_clusters["ot-dev-msk"];
    assert_eq!(cluster.state, "ACTIVE");
    assert!(cluster.bootstrap_brokers.is_some(), "{cluster:?}");
    assert_eq!(f.state().trigger, Trigger::ApplySpec);
    let ours = |f: &Fixture| {
        let w = f.world.lock();
        w.eph
            .kafkas
            .values()
            .filter(|c| c.name == "ot-dev-msk" && c.state != "DELETING")
            .count()
    };
    assert_eq!(ours(&f), 1);

    // The reduce-only function refuses a create: it can raise cost.
    let mut again = input.clone();
    again["tf"] = json!({"action": "create"});
    let e = f.invoke(Mode::ReduceOnly, again).unwrap_err();
    assert_eq!(e.error_type, "Refused");

    // `terraform destroy`: the provider sends the last input, and again as `prev_input`.
    let mut destroy = input.clone();
    destroy["tf"] = json!({"action": "delete", "prev_input": input});
    // The delete is sent at once; MSK keeps the cluster DELETING for minutes, longer than one
    // lease waits, so the answer may ask Terraform to retry (which finds it gone).
    match f.invoke(Mode::Full, destroy.clone()) {
        Ok(_) => {}
        Err(e) => assert!(
            e.error_type == "Retryable" && e.error_message.contains("StillDeleting"),
            "{e:?}"
        ),
    }
    assert_eq!(ours(&f), 0, "the cluster is being deleted");
    f.later(10 * 60_000);
    f.invoke(Mode::Full, destroy).unwrap();
    assert!(
        f.world
            .lock()
            .eph
            .kafkas
            .values()
            .all(|c| c.name != "ot-dev-msk")
    );

    // A create naming a subnet that does not exist: refused before anything is made.
    let g = Fixture::new(json!({}));
    costctl_sim::scenario::ephemeral_world(&mut g.world.lock());
    let mut bad = json!({"action": "apply-spec", "stack": STACK, "spec": msk_spec("subnet-0zz")});
    bad["tf"] = json!({"action": "create"});
    let e = g.invoke(Mode::Full, bad).unwrap_err();
    assert_eq!(e.error_type, "Failed", "{}", e.error_message);
    assert!(
        e.error_message.contains("subnet-0zz"),
        "{}",
        e.error_message
    );
    assert_eq!(ours(&g), 0);
}

/// The order-tracking stack with the module's default weekday schedule in Madrid (START is
/// Friday 2026-11-27, 13:00 in Madrid).
fn scheduled(extra: Value) -> Fixture {
    let mut fields = json!({
        "time_zone": "Europe/Madrid",
        "schedule": {"pause": "cron(0 20 ? * MON-FRI *)", "resume": "cron(0 8 ? * MON-FRI *)"},
    });
    for (k, v) in extra.as_object().unwrap() {
        fields[k] = v.clone();
    }
    Fixture::with(fields)
}

/// Moves the clock to an RFC 3339 instant.
fn at(f: &Fixture, rfc: &str) {
    let to = rfc.parse::<jiff::Timestamp>().unwrap().as_millisecond();
    assert!(to >= f.clock.now(), "{rfc} is in the test's past");
    f.later(to - f.clock.now());
}

fn ms(rfc: &str) -> i64 {
    rfc.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

fn api_desired(f: &Fixture) -> u32 {
    f.world.lock().services["ot-dev/api"].desired
}

#[test]
fn a_snoozed_stack_ignores_a_scheduled_pause_until_the_snooze_expires() {
    let f = scheduled(json!({}));
    let answer = f.invoke(Mode::Full, fixture("manual-snooze.json")).unwrap();
    let v = json_of(&answer);
    assert_eq!(v["snoozed_until"], "2026-11-27T23:00:00+01:00", "{v}");
    assert_eq!(v["snooze"]["by"], "alice");
    // 20:00 in Madrid: the scheduled pause is held, and says by whom and why.
    at(&f, "2026-11-27T19:00:00Z");
    let held = f
        .invoke(Mode::Full, fixture("schedule-pause.json"))
        .unwrap();
    let Answer::Held { skipped, asked, .. } = &held else {
        panic!("a snoozed stack holds a scheduled pause: {held:?}");
    };
    assert_eq!(*asked, DesiredState::Paused);
    assert_eq!(
        skipped,
        "snoozed until 2026-11-27T23:00:00+01:00 by alice (demo for the client)"
    );
    assert_eq!(api_desired(&f), 2, "nothing changed");
    assert_eq!(f.state().desired, DesiredState::Running);
    // Status shows the snooze; history has the snooze and the skip.
    let status = f.invoke(Mode::Full, fixture("manual-status.json")).unwrap();
    assert_eq!(
        status
            .report()
            .and_then(|r| r.snooze.as_ref())
            .map(|s| s.until_ms),
        Some(ms("2026-11-27T22:00:00Z"))
    );
    let kinds: Vec<String> = f.history().into_iter().map(|e| e.kind).collect();
    assert!(
        kinds.starts_with(&["skipped".into(), "snooze".into()]),
        "{kinds:?}"
    );
    // At 23:00 exactly the snooze has ended: the scheduled pause acts, and history says the
    // snooze had expired.
    at(&f, "2026-11-27T22:00:00Z");
    let answer = f
        .invoke(Mode::Full, fixture("schedule-pause.json"))
        .unwrap();
    assert!(
        matches!(&answer, Answer::Report(r) if r.desired_state == DesiredState::Paused),
        "{answer:?}"
    );
    assert_eq!(api_desired(&f), 0);
    let request = f
        .history()
        .into_iter()
        .find(|e| e.kind == "request")
        .unwrap();
    assert_eq!(
        request.detail["snooze_expired"]["by"], "alice",
        "{:?}",
        request.detail
    );
    assert!(f.state().snooze.is_none(), "the expired snooze is removed");
}

#[test]
fn manual_requests_act_while_snoozed_and_an_unsnooze_lets_the_schedule_act() {
    let f = scheduled(json!({}));
    f.invoke(Mode::Full, fixture("manual-snooze-for.json"))
        .unwrap();
    // A person's pause is not held by the snooze.
    let paused = f
        .invoke(Mode::Full, json!({"action": "pause", "stack": STACK}))
        .unwrap();
    assert!(matches!(&paused, Answer::Report(r) if r.desired_state == DesiredState::Paused));
    f.invoke(Mode::Full, json!({"action": "resume", "stack": STACK}))
        .unwrap();
    assert_eq!(api_desired(&f), 2);
    let answer = f
        .invoke(Mode::Full, fixture("manual-unsnooze.json"))
        .unwrap();
    assert!(
        matches!(
            &answer,
            Answer::Unsnoozed {
                unsnoozed: true,
                ended: Some(_),
                ..
            }
        ),
        "{answer:?}"
    );
    let again = f
        .invoke(Mode::Full, fixture("manual-unsnooze.json"))
        .unwrap();
    assert!(
        matches!(
            &again,
            Answer::Unsnoozed {
                unsnoozed: false,
                ..
            }
        ),
        "{again:?}"
    );
    let answer = f
        .invoke(Mode::Full, fixture("schedule-pause.json"))
        .unwrap();
    assert!(
        matches!(&answer, Answer::Report(r) if r.desired_state == DesiredState::Paused),
        "{answer:?}"
    );
    assert_eq!(api_desired(&f), 0);
}

#[test]
fn a_budget_alert_pauses_a_snoozed_stack_and_says_it_overrode_the_snooze() {
    let f = scheduled(json!({}));
    f.invoke(Mode::Full, fixture("manual-snooze.json")).unwrap();
    let answer = f
        .invoke(Mode::ReduceOnly, fixture("sns-budget-forecasted.json"))
        .unwrap();
    let v = json_of(&answer);
    assert_eq!(
        v["budget_alerts"][0]["snooze_overridden"]["by"], "alice",
        "{v}"
    );
    f.invoke(Mode::Full, fixture("schedule-reconcile.json"))
        .unwrap();
    let state = f.state();
    assert_eq!(
        (state.desired, state.trigger),
        (DesiredState::Paused, Trigger::Budget)
    );
    assert!(state.snooze.is_none(), "the override ends the snooze");
    assert_eq!(api_desired(&f), 0);
    let request = f
        .history()
        .into_iter()
        .find(|e| e.kind == "request")
        .unwrap();
    assert_eq!(request.detail["snooze_overridden"]["by"], "alice");

    // With `snooze.budget_overrides: false` the snooze holds the budget request off too.
    let f = scheduled(json!({"snooze": {"budget_overrides": false}}));
    f.invoke(Mode::Full, fixture("manual-snooze.json")).unwrap();
    let v = json_of(
        &f.invoke(Mode::ReduceOnly, fixture("sns-budget-forecasted.json"))
            .unwrap(),
    );
    assert!(
        v["budget_alerts"][0].get("snooze_overridden").is_none(),
        "{v}"
    );
    let tick = json_of(
        &f.invoke(Mode::Full, fixture("schedule-reconcile.json"))
            .unwrap(),
    );
    let ignored = tick["reconciled"][0]["reduce_only_requests"][0]["ignored"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        ignored.contains("snoozed until") && ignored.contains("budget_overrides"),
        "{tick}"
    );
    assert_eq!(f.state().desired, DesiredState::Running);
    assert_eq!(api_desired(&f), 2);
}

#[test]
fn resume_until_holds_the_next_scheduled_pause_exactly_until_then() {
    let f = scheduled(json!({}));
    at(&f, "2026-11-27T19:00:00Z");
    f.invoke(Mode::Full, fixture("schedule-pause.json"))
        .unwrap();
    assert_eq!(api_desired(&f), 0);
    at(&f, "2026-11-27T21:00:00Z");
    let answer = f
        .invoke(
            Mode::Full,
            json!({"action": "resume", "stack": STACK, "until": "23:30"}),
        )
        .unwrap();
    let report = answer.report().expect("a resume answers a report");
    assert_eq!(report.desired_state, DesiredState::Running);
    assert_eq!(
        report.snooze.as_ref().map(|s| s.until_ms),
        Some(ms("2026-11-27T22:30:00Z"))
    );
    assert_eq!(api_desired(&f), 2);
    // A minute before (the simulated calls take seconds; the store decides at its write).
    at(&f, "2026-11-27T22:29:00Z");
    let held = f
        .invoke(Mode::Full, fixture("schedule-pause.json"))
        .unwrap();
    assert!(matches!(held, Answer::Held { .. }), "{held:?}");
    assert_eq!(api_desired(&f), 2);
    at(&f, "2026-11-27T22:30:00Z");
    let acted = f
        .invoke(Mode::Full, fixture("schedule-pause.json"))
        .unwrap();
    assert!(
        matches!(&acted, Answer::Report(r) if r.desired_state == DesiredState::Paused),
        "{acted:?}"
    );
    assert_eq!(api_desired(&f), 0);
}

#[test]
fn a_manual_resume_at_night_holds_until_the_next_schedule_boundary() {
    let f = scheduled(json!({}));
    at(&f, "2026-11-27T19:00:00Z");
    f.invoke(Mode::Full, fixture("schedule-pause.json"))
        .unwrap();
    // Friday 22:00 in Madrid: the next boundary is Monday's 08:00 resume.
    at(&f, "2026-11-27T21:00:00Z");
    let answer = f
        .invoke(Mode::Full, json!({"action": "resume", "stack": STACK}))
        .unwrap();
    let hold = answer
        .report()
        .and_then(|r| r.snooze.clone())
        .expect("a hold");
    assert_eq!(hold.until_ms, ms("2026-11-30T07:00:00Z"));
    assert!(
        hold.reason.contains("next scheduled resume"),
        "{}",
        hold.reason
    );
    // A pause sent by the schedule over the weekend is held.
    at(&f, "2026-11-28T19:00:00Z");
    let held = f
        .invoke(Mode::Full, fixture("schedule-pause.json"))
        .unwrap();
    assert!(matches!(held, Answer::Held { .. }), "{held:?}");
    assert_eq!(api_desired(&f), 2);
    // A longer snooze is not shortened by the hold of a later manual resume.
    f.invoke(
        Mode::Full,
        json!({"action": "snooze", "stack": STACK, "until": "2026-11-30 12:00"}),
    )
    .unwrap();
    f.invoke(Mode::Full, json!({"action": "resume", "stack": STACK}))
        .unwrap();
    assert_eq!(
        f.state().snooze.map(|s| s.until_ms),
        Some(ms("2026-11-30T11:00:00Z"))
    );
    // A resume in the daytime sets no hold.
    let f = scheduled(json!({}));
    let answer = f
        .invoke(Mode::Full, json!({"action": "resume", "stack": STACK}))
        .unwrap();
    assert!(
        answer.report().is_some_and(|r| r.snooze.is_none()),
        "{answer:?}"
    );
    assert!(f.state().snooze.is_none());
}

#[test]
fn a_scheduled_resume_on_a_closed_day_leaves_the_stack_paused() {
    let f = scheduled(
        json!({"calendar": ["12-25", {"name": "offsite", "from": "2026-11-30", "to": "2026-11-30"}]}),
    );
    at(&f, "2026-11-27T19:00:00Z");
    f.invoke(Mode::Full, fixture("schedule-pause.json"))
        .unwrap();
    // Monday 08:00 in Madrid: closed by the offsite.
    at(&f, "2026-11-30T07:00:00Z");
    let held = f
        .invoke(Mode::Full, fixture("schedule-resume.json"))
        .unwrap();
    let Answer::Held {
        calendar_entry,
        skipped,
        ..
    } = &held
    else {
        panic!("{held:?}");
    };
    assert_eq!(
        calendar_entry.as_deref(),
        Some("2026-11-30..2026-11-30 offsite")
    );
    assert!(skipped.contains("offsite"), "{skipped}");
    assert_eq!(f.state().desired, DesiredState::Paused);
    assert_eq!(api_desired(&f), 0);
    let skip = f
        .history()
        .into_iter()
        .find(|e| e.kind == "skipped")
        .unwrap();
    assert_eq!(
        skip.detail["calendar_entry"],
        "2026-11-30..2026-11-30 offsite"
    );
    // Tuesday: open again.
    at(&f, "2026-12-01T07:00:00Z");
    let answer = f
        .invoke(Mode::Full, fixture("schedule-resume.json"))
        .unwrap();
    assert!(
        matches!(&answer, Answer::Report(r) if r.desired_state == DesiredState::Running),
        "{answer:?}"
    );
    assert_eq!(api_desired(&f), 2);
}

#[test]
fn bad_snoozes_are_refused_and_change_nothing() {
    let f = scheduled(json!({"snooze": {"max_hours": 24}}));
    // 13:00 in Madrid: 10:00 today has passed.
    for (payload, error_type, needle) in [
        (
            json!({"action": "snooze", "stack": STACK, "until": "10:00"}),
            "InvalidSnooze",
            "not in the future",
        ),
        (
            json!({"action": "snooze", "stack": STACK, "for": "25h"}),
            "InvalidSnooze",
            "24 h",
        ),
        (
            json!({"action": "snooze", "stack": "nobody", "for": "1h"}),
            "UnknownStack",
            "nobody",
        ),
        (
            fixture("reject-snooze-bad-time.json"),
            "InvalidEvent",
            "half past ten",
        ),
        (
            json!({"action": "snooze", "stack": STACK, "until": "23:00", "for": "1h"}),
            "InvalidEvent",
            "not both",
        ),
        (
            json!({"action": "resume", "stack": STACK, "until": "2026-11-27T11:00:00Z"}),
            "InvalidSnooze",
            "not in the future",
        ),
    ] {
        let e = f.invoke(Mode::Full, payload.clone()).unwrap_err();
        assert_eq!(e.error_type, error_type, "{payload}: {}", e.error_message);
        assert!(
            e.error_message.contains(needle),
            "{payload}: {}",
            e.error_message
        );
    }
    assert!(f.world.lock().store.is_empty(), "nothing recorded");
    assert_eq!(api_desired(&f), 2);
    // The reduce-only function refuses snoozes (they keep the stack up longer).
    let e = f
        .invoke(Mode::ReduceOnly, fixture("manual-snooze.json"))
        .unwrap_err();
    assert_eq!(e.error_type, "Refused");
}

#[test]
fn excluded_resources_keep_their_state_through_pause_and_resume() {
    // `batch` carries the stack's tags and the exclusion tag; the database is excluded by name.
    let f = scheduled(json!({"exclude": {"rds_instances": ["ot-dev-db"]}}));
    let tags: BTreeMap<String, String> = [
        ("Project", "order-tracking"),
        ("Env", "dev"),
        ("costctl:exclude", "true"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .into();
    f.world
        .lock()
        .add_service("ot-dev", "batch", 3, None, tags, false);
    let plan = json_of(
        &f.invoke(
            Mode::Full,
            json!({"action": "plan", "stack": STACK, "target": "paused"}),
        )
        .unwrap(),
    );
    let notes = plan["plan"]["notes"].to_string();
    assert!(
        notes.contains("ecs:ot-dev/batch") && notes.contains("costctl:exclude=true"),
        "{notes}"
    );
    assert!(notes.contains("rds:ot-dev-db"), "{notes}");
    let steps = plan["plan"]["steps"].to_string();
    assert!(
        !steps.contains("batch") && !steps.contains("ot-dev-db"),
        "{steps}"
    );

    let paused = f
        .invoke(Mode::Full, fixture("schedule-pause.json"))
        .unwrap();
    assert!(paused.report().is_some_and(|r| r.converged), "{paused:?}");
    {
        let w = f.world.lock();
        assert_eq!(w.services["ot-dev/api"].desired, 0);
        assert_eq!(w.services["ot-dev/worker"].desired, 0);
        assert_eq!(w.services["ot-dev/batch"].desired, 3, "excluded: untouched");
        assert_eq!(w.dbs["ot-dev-db"].status, "available", "excluded by name");
    }
    // Status still reports the excluded ones.
    let status = json_of(&f.invoke(Mode::Full, fixture("manual-status.json")).unwrap());
    assert!(
        status["resources"].to_string().contains("ecs:ot-dev/batch"),
        "{status}"
    );
    f.invoke(Mode::Full, json!({"action": "resume", "stack": STACK}))
        .unwrap();
    let w = f.world.lock();
    assert_eq!(w.services["ot-dev/api"].desired, 2);
    assert_eq!(w.services["ot-dev/worker"].desired, 1);
    assert_eq!(w.services["ot-dev/batch"].desired, 3);
}
