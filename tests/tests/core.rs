//! The core engine against the emulator: ECS services (with autoscaling) and RDS instances
//! paused, hibernated and resumed through the real SDK; crash, concurrency and bad input.

use async_trait::async_trait;
use costctl_aws::{AwsCloud, DynamoStore};
use costctl_core::observation::{Bounds, DbObs, DbSpec, ServiceObs, SnapshotObs};
use costctl_core::{DesiredState, Selector};
use costctl_engine::engine::Options;
use costctl_engine::error::CloudResult;
use costctl_engine::{Cloud, Engine, EngineError, RequestSpec, StateStore, StoreError};
use costctl_tests::stack::{DemoStack, StackSpec};
use costctl_tests::{Emulator, EmulatorOptions, requests_between, start_with_stack};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const TABLE: &str = costctl_tests::STATE_TABLE;

fn options(owner: &str) -> Options {
    Options {
        owner: owner.into(),
        poll_interval: Duration::from_millis(50),
        lease_ttl: Duration::from_secs(30),
        ..Options::default()
    }
}

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

    fn engine(&self, owner: &str) -> Engine<AwsCloud, DynamoStore> {
        Engine::new(
            AwsCloud::new(&self.sdk),
            DynamoStore::new(&self.sdk, TABLE),
            options(owner),
        )
    }

    fn selector(&self) -> Selector {
        Selector::from_tag_args(&self.stack.spec.tag_args()).unwrap()
    }

    fn request(&self, desired: DesiredState) -> RequestSpec {
        RequestSpec {
            selector: Some(self.selector()),
            ..RequestSpec::new(desired, costctl_core::event::Trigger::Cli)
        }
    }
}

async fn transition(
    engine: &Engine<AwsCloud, DynamoStore>,
    stack: &str,
    req: RequestSpec,
) -> Result<costctl_engine::Report, EngineError> {
    let (_, report) = engine
        .request_and_wait(stack, req, Duration::from_secs(60))
        .await?;
    Ok(report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_and_resume_twenty_services_and_three_databases_exactly() {
    let w = World::new(StackSpec::new("big", 2, 20, 3)).await;
    let before = w.stack.picture(&w.sdk).await.unwrap();
    assert_eq!(before.desired.len(), 20);
    assert!(before.bounds.len() >= 6 && before.bounds.values().all(|(min, _)| *min >= 1));
    assert_eq!(before.databases.len(), 3);
    let counter = costctl_aws::RequestCounter::new();
    let engine = Engine::new(
        AwsCloud::counted(&w.sdk, &counter),
        DynamoStore::counted(&w.sdk, TABLE, &counter),
        options("test-a"),
    );

    let s0 = w.emu.stats().await.unwrap();
    let t0 = Instant::now();
    let report = transition(&engine, "big", w.request(DesiredState::Paused))
        .await
        .unwrap();
    let pause_ms = t0.elapsed().as_millis();
    let s1 = w.emu.stats().await.unwrap();
    let counted = counter.snapshot();
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(report.state, "paused");

    let paused = w.stack.picture(&w.sdk).await.unwrap();
    assert!(
        paused.desired.values().all(|d| *d == 0),
        "{:?}",
        paused.desired
    );
    assert!(
        paused.bounds.values().all(|b| *b == (0, 0)),
        "{:?}",
        paused.bounds
    );
    assert!(paused.databases.values().all(|d| d.status == "stopped"));
    assert!(report.cost.now_per_hour < report.cost.running_per_hour);

    let t1 = Instant::now();
    let report = transition(&engine, "big", w.request(DesiredState::Running))
        .await
        .unwrap();
    let resume_ms = t1.elapsed().as_millis();
    let s2 = w.emu.stats().await.unwrap();
    assert!(report.succeeded(), "{report:#?}");
    assert_eq!(w.stack.picture(&w.sdk).await.unwrap(), before);

    // Figures for the issue note (visible with --nocapture).
    println!(
        "pause: {pause_ms} ms, requests {:?}",
        requests_between(&s0, &s1)
    );
    println!(
        "resume: {resume_ms} ms, requests {:?}",
        requests_between(&s1, &s2)
    );
    let writes = requests_between(&s0, &s1);
    assert_eq!(
        writes.get("ecs:UpdateService"),
        Some(&20),
        "one UpdateService per service"
    );
    assert_eq!(writes.get("rds:StopDBInstance"), Some(&3));
    let described = writes.get("ecs:DescribeServices").copied().unwrap_or(0);
    assert!(
        described <= 10,
        "DescribeServices is batched by 10: {described}"
    );
    // Discovery happens once per pause: the request's observation is reused by the first pass
    // and later passes describe the services they found by key.
    assert_eq!(writes.get("ecs:ListClusters"), Some(&1), "{writes:?}");
    assert_eq!(writes.get("ecs:ListServices"), Some(&2), "{writes:?}");
    // Each look after the first reads what the pass before it changed, and what the look
    // before it kept: the drain check after the ECS writes reads the services and their
    // targets (not the databases), the confirming look after the stops reads the databases
    // (not the services the drain check has just read). Two reads of each, not three.
    let reads = |op: &str| writes.get(op).copied().unwrap_or(0);
    assert_eq!(
        reads("application-autoscaling:DescribeScalableTargets"),
        2,
        "{writes:?}"
    );
    assert_eq!(reads("rds:DescribeDBInstances"), 2, "{writes:?}");

    // The client-side counter saw exactly what the emulator received during the pause, action
    // by action.
    let mut client: BTreeMap<String, u64> = BTreeMap::new();
    for (op, c) in &counted.0 {
        let action = op.rsplit('.').next().unwrap().to_string();
        *client.entry(action).or_default() += c.attempts;
        assert_eq!(c.calls, c.attempts, "{op}: no retries without throttling");
    }
    let mut emulator: BTreeMap<String, u64> = BTreeMap::new();
    for (key, n) in requests_between(&s0, &s1) {
        *emulator
            .entry(key.rsplit(':').next().unwrap().to_string())
            .or_default() += n;
    }
    assert_eq!(client, emulator);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hibernate_then_resume_restores_rds_from_the_final_snapshot_under_the_same_id() {
    let w = World::new(StackSpec::new("hib", 1, 2, 2)).await;
    let before = w.stack.picture(&w.sdk).await.unwrap();
    let engine = w.engine("test-h");
    let report = transition(&engine, "hib", w.request(DesiredState::Hibernated))
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");

    let rds = aws_sdk_rds::Client::new(&w.sdk);
    for id in &w.stack.databases {
        let gone = rds
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await;
        assert!(gone.is_err(), "{id} should be deleted while hibernated");
    }
    let snaps = rds.describe_db_snapshots().send().await.unwrap();
    let ours: Vec<_> = snaps
        .db_snapshots()
        .iter()
        .filter(|s| {
            s.db_snapshot_identifier()
                .unwrap_or("")
                .contains("-costctl-g")
        })
        .collect();
    assert_eq!(ours.len(), 2, "one final snapshot per instance");
    let state = engine.store().load("hib").await.unwrap().unwrap();
    for id in &w.stack.databases {
        let rec = &state.manifest.db_instances[id];
        assert!(rec.snapshot.as_deref().unwrap().starts_with(id.as_str()));
    }

    let report = transition(&engine, "hib", w.request(DesiredState::Running))
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    let after = w.stack.picture(&w.sdk).await.unwrap();
    assert_eq!(
        after, before,
        "same ids, class, subnet group, security groups, parameter group, storage, tags"
    );
    // The snapshots a restore needed are still there: costctl never deletes one.
    let snaps = rds.describe_db_snapshots().send().await.unwrap();
    assert_eq!(
        snaps
            .db_snapshots()
            .iter()
            .filter(|s| s
                .db_snapshot_identifier()
                .unwrap_or("")
                .contains("-costctl-g"))
            .count(),
        2
    );
    // …and `status` lists them as kept, with the command that deletes one.
    let (status, _) = engine.inspect("hib", None, None).await.unwrap();
    let kept: Vec<_> = status
        .resources
        .iter()
        .filter(|r| r.resource.starts_with("rds-snapshot:") && r.state.contains("kept"))
        .collect();
    assert_eq!(kept.len(), 2, "{:#?}", status.resources);
    assert!(
        kept.iter().all(|r| r
            .state
            .contains("aws rds delete-db-snapshot --db-snapshot-identifier")),
        "{kept:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_pause_while_paused_changes_nothing() {
    let w = World::new(StackSpec::new("twice", 1, 4, 1)).await;
    let before = w.stack.picture(&w.sdk).await.unwrap();
    let engine = w.engine("test-t");
    transition(&engine, "twice", w.request(DesiredState::Paused))
        .await
        .unwrap();
    let manifest = engine
        .store()
        .load("twice")
        .await
        .unwrap()
        .unwrap()
        .manifest;

    let s0 = w.emu.stats().await.unwrap();
    let report = transition(&engine, "twice", w.request(DesiredState::Paused))
        .await
        .unwrap();
    let s1 = w.emu.stats().await.unwrap();
    assert!(report.succeeded());
    assert!(report.done.is_empty(), "nothing to do: {:?}", report.done);
    let delta = requests_between(&s0, &s1);
    for write in [
        "ecs:UpdateService",
        "rds:StopDBInstance",
        "application-autoscaling:RegisterScalableTarget",
    ] {
        assert!(
            !delta.contains_key(write),
            "{write} sent on a second pause: {delta:?}"
        );
    }
    // The recorded counts are still the running ones, not the paused zeros.
    assert_eq!(
        engine
            .store()
            .load("twice")
            .await
            .unwrap()
            .unwrap()
            .manifest,
        manifest
    );
    transition(&engine, "twice", w.request(DesiredState::Running))
        .await
        .unwrap();
    assert_eq!(w.stack.picture(&w.sdk).await.unwrap(), before);
}

/// A cloud that "crashes" (never returns) on its first mutating call, as a process that dies
/// right after the manifest was written and before the AWS call completed.
struct CrashOnFirstWrite {
    inner: AwsCloud,
    crashed: AtomicBool,
}

impl CrashOnFirstWrite {
    /// The first write "crashes" the process: it and every call after it never return (a dead
    /// process answers nothing). The engine abandons a hung call at its lease's end, so hanging
    /// only the first write would not stop it.
    async fn maybe_crash(&self) {
        self.crashed.store(true, Ordering::SeqCst);
        std::future::pending::<()>().await;
    }

    async fn unless_crashed(&self) {
        if self.crashed.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
    }
}

#[async_trait]
impl Cloud for CrashOnFirstWrite {
    async fn find_services(&self, s: &Selector) -> CloudResult<Vec<ServiceObs>> {
        self.unless_crashed().await;
        self.inner.find_services(s).await
    }
    async fn describe_services(&self, k: &[String]) -> CloudResult<Vec<ServiceObs>> {
        self.unless_crashed().await;
        self.inner.describe_services(k).await
    }
    async fn scalable_targets(&self, ids: &[String]) -> CloudResult<BTreeMap<String, Bounds>> {
        self.unless_crashed().await;
        self.inner.scalable_targets(ids).await
    }
    async fn set_scalable_target(&self, id: &str, b: Bounds) -> CloudResult<()> {
        self.maybe_crash().await;
        self.inner.set_scalable_target(id, b).await
    }
    async fn set_desired_count(&self, c: &str, s: &str, n: u32) -> CloudResult<()> {
        self.maybe_crash().await;
        self.inner.set_desired_count(c, s, n).await
    }
    async fn find_db_instances(&self, s: &Selector) -> CloudResult<Vec<DbObs>> {
        self.unless_crashed().await;
        self.inner.find_db_instances(s).await
    }
    async fn describe_db_instances(&self, ids: &[String]) -> CloudResult<Vec<DbObs>> {
        self.unless_crashed().await;
        self.inner.describe_db_instances(ids).await
    }
    async fn describe_db_snapshots(&self, ids: &[String]) -> CloudResult<Vec<SnapshotObs>> {
        self.unless_crashed().await;
        self.inner.describe_db_snapshots(ids).await
    }
    async fn stop_db(&self, id: &str) -> CloudResult<()> {
        self.maybe_crash().await;
        self.inner.stop_db(id).await
    }
    async fn start_db(&self, id: &str) -> CloudResult<()> {
        self.unless_crashed().await;
        self.inner.start_db(id).await
    }
    async fn delete_db(&self, id: &str, snap: &str) -> CloudResult<()> {
        self.maybe_crash().await;
        self.inner.delete_db(id, snap).await
    }
    async fn restore_db(&self, id: &str, snap: &str, spec: &DbSpec) -> CloudResult<()> {
        self.unless_crashed().await;
        self.inner.restore_db(id, snap, spec).await
    }
    async fn modify_db(&self, id: &str, spec: &DbSpec, fields: &[String]) -> CloudResult<()> {
        self.unless_crashed().await;
        self.inner.modify_db(id, spec, fields).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_manifest_write_and_aws_call_is_repaired_by_the_next_run() {
    let w = World::new(StackSpec::new("crash", 1, 6, 1)).await;
    let before = w.stack.picture(&w.sdk).await.unwrap();
    let crashing = Engine::new(
        CrashOnFirstWrite {
            inner: AwsCloud::new(&w.sdk),
            crashed: AtomicBool::new(false),
        },
        DynamoStore::new(&w.sdk, TABLE),
        Options {
            lease_ttl: Duration::from_millis(500),
            ..options("doomed")
        },
    );
    let state = crashing
        .request("crash", w.request(DesiredState::Paused))
        .await
        .unwrap();
    let deadline = crashing.now_ms() + 60_000;
    let run = tokio::time::timeout(
        Duration::from_secs(3),
        crashing.reconcile("crash", deadline),
    )
    .await;
    assert!(run.is_err(), "the crashing run must not finish");
    drop(crashing);

    // The manifest was written ahead of the call that never completed.
    let stored = DynamoStore::new(&w.sdk, TABLE)
        .load("crash")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.manifest.services.len(), 6);
    assert_eq!(
        stored.lease.as_ref().unwrap().owner,
        "doomed",
        "the dead run still holds the lease"
    );

    // The next invocation starts from the state store alone, once the lease has expired.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let engine = w.engine("rescuer");
    let report = engine
        .run_until("crash", state.generation, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    let paused = w.stack.picture(&w.sdk).await.unwrap();
    assert!(paused.desired.values().all(|d| *d == 0));
    transition(&engine, "crash", w.request(DesiredState::Running))
        .await
        .unwrap();
    assert_eq!(w.stack.picture(&w.sdk).await.unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pause_and_resume_end_in_the_newest_request() {
    let w = World::new(StackSpec::new("race", 1, 8, 1)).await;
    let before = w.stack.picture(&w.sdk).await.unwrap();
    let a = w.engine("racer-a");
    let b = w.engine("racer-b");
    // The stack is running; a pause and a resume arrive at the same time, many times over.
    for round in 0..3 {
        let (ra, rb) = tokio::join!(
            transition(&a, "race", w.request(DesiredState::Paused)),
            transition(&b, "race", w.request(DesiredState::Running)),
        );
        let state = a.store().load("race").await.unwrap().unwrap();
        assert!(state.lease.is_none(), "round {round}: lease left behind");
        // Exactly the newest request wins; the other run says it was superseded (or, when
        // its request came first and finished first, it succeeded before the other began).
        for (r, desired) in [(&ra, DesiredState::Paused), (&rb, DesiredState::Running)] {
            match r {
                Ok(rep) => assert!(
                    rep.succeeded()
                        && (rep.desired_state == desired || rep.desired_state == state.desired)
                ),
                Err(EngineError::Superseded { .. }) => {}
                Err(e) => panic!("round {round}: unexpected error {e}"),
            }
        }
        // Bring the world to the newest request and check it is exactly that.
        let report = a
            .run_until("race", state.generation, Duration::from_secs(60))
            .await
            .unwrap();
        assert!(report.succeeded());
        let pic = w.stack.picture(&w.sdk).await.unwrap();
        match state.desired {
            DesiredState::Running => assert_eq!(pic, before, "round {round}"),
            _ => assert!(pic.desired.values().all(|d| *d == 0), "round {round}"),
        }
    }
    // Whatever happened, a resume gives back exactly the original stack.
    transition(&a, "race", w.request(DesiredState::Running))
        .await
        .unwrap();
    assert_eq!(w.stack.picture(&w.sdk).await.unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_protected_rds_is_stopped_not_deleted_on_hibernate() {
    let mut spec = StackSpec::new("prot", 1, 1, 2);
    spec.protected_databases = vec![0];
    let w = World::new(spec).await;
    let engine = w.engine("test-p");
    let report = transition(&engine, "prot", w.request(DesiredState::Hibernated))
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    let pic = w.stack.picture(&w.sdk).await.unwrap();
    assert_eq!(pic.databases["prot-db0"].status, "stopped");
    assert!(
        !pic.databases.contains_key("prot-db1"),
        "the unprotected one is hibernated"
    );
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.resource == "rds:prot-db0" && n.message.contains("deletion protection")),
        "{:?}",
        report.notes
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let w = World::new(StackSpec::new("bad", 1, 2, 1)).await;
    let before = w.stack.picture(&w.sdk).await.unwrap();
    let engine = w.engine("test-b");
    let s0 = w.emu.stats().await.unwrap();

    // Unknown stack, no selector.
    let err = engine
        .request(
            "nobody",
            RequestSpec::new(DesiredState::Paused, costctl_core::event::Trigger::Cli),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, EngineError::Store(StoreError::UnknownStack { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("nobody"));

    // Tags matching nothing.
    let req = RequestSpec {
        selector: Some(Selector::from_tag_args(&["Project=ghost"]).unwrap()),
        ..RequestSpec::new(DesiredState::Paused, costctl_core::event::Trigger::Cli)
    };
    let err = engine.request("ghost", req).await.unwrap_err();
    assert!(matches!(err, EngineError::NothingSelected { .. }), "{err}");
    assert!(err.to_string().contains("Project=ghost"), "{err}");
    assert!(
        engine.store().load("ghost").await.unwrap().is_none(),
        "nothing recorded"
    );

    // Invalid tag syntax never reaches AWS.
    assert!(Selector::from_tag_args(&["Project"]).is_err());

    // A missing state table.
    let lost = Engine::new(
        AwsCloud::new(&w.sdk),
        DynamoStore::new(&w.sdk, "no-such-table"),
        options("x"),
    );
    let err = lost
        .request("bad", w.request(DesiredState::Paused))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("no-such-table") && err.to_string().contains("does not exist"),
        "{err}"
    );

    let s1 = w.emu.stats().await.unwrap();
    let delta = requests_between(&s0, &s1);
    for write in [
        "ecs:UpdateService",
        "rds:StopDBInstance",
        "rds:DeleteDBInstance",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    ] {
        assert!(!delta.contains_key(write), "{write} was sent: {delta:?}");
    }
    assert_eq!(w.stack.picture(&w.sdk).await.unwrap(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rds_auto_started_while_paused_is_stopped_again_by_the_next_tick() {
    let w = World::new(StackSpec::new("drift", 1, 1, 1)).await;
    let engine = w.engine("test-d");
    transition(&engine, "drift", w.request(DesiredState::Paused))
        .await
        .unwrap();
    // RDS starts a stopped instance after 7 days.
    let rds = aws_sdk_rds::Client::new(&w.sdk);
    rds.start_db_instance()
        .db_instance_identifier("drift-db0")
        .send()
        .await
        .unwrap();
    let (status, _) = engine.inspect("drift", None, None).await.unwrap();
    assert_eq!(status.state, "transitioning");
    let report = engine
        .reconcile("drift", engine.now_ms() + 30_000)
        .await
        .unwrap();
    assert!(report.succeeded(), "{report:#?}");
    assert!(report.done.iter().any(|d| d.action == "stop_db"));
    assert_eq!(
        w.stack.picture(&w.sdk).await.unwrap().databases["drift-db0"].status,
        "stopped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_records_requests_and_the_steps_done() {
    let w = World::new(StackSpec::new("hist", 1, 2, 0)).await;
    let engine = w.engine("test-hist");
    transition(&engine, "hist", w.request(DesiredState::Paused))
        .await
        .unwrap();
    transition(&engine, "hist", w.request(DesiredState::Running))
        .await
        .unwrap();
    let h = engine.store().history("hist", 10).await.unwrap();
    let kinds: Vec<(&str, DesiredState)> = h.iter().map(|e| (e.kind.as_str(), e.desired)).collect();
    assert_eq!(
        kinds,
        vec![
            ("reconcile", DesiredState::Running),
            ("request", DesiredState::Running),
            ("reconcile", DesiredState::Paused),
            ("request", DesiredState::Paused),
        ]
    );
    let steps = h[2].detail["steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["action"] == "set_desired_count"));
}
