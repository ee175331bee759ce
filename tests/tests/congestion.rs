//! Concurrency under throttling, against the emulator: the client-side meter counts exactly
//! the throttled answers AWS (here the emulator) gave, and a service that throttles most calls
//! gets a narrower window, so the pause draws far fewer throttled answers than a fixed bound
//! would, and still converges exactly.

use async_trait::async_trait;
use costctl_aws::{AwsCloud, DynamoStore};
use costctl_core::observation::{Bounds, DbObs, DbSpec, ServiceObs, SnapshotObs};
use costctl_core::{DesiredState, Selector};
use costctl_engine::engine::Options;
use costctl_engine::error::{CloudError, CloudResult};
use costctl_engine::{Cloud, Engine, RequestSpec};
use costctl_tests::stack::StackSpec;
use costctl_tests::{EmulatorOptions, start_with_stack};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const TABLE: &str = costctl_tests::STATE_TABLE;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_meter_counts_exactly_the_throttled_answers_of_each_service() {
    let spec = StackSpec::new("meter", 1, 10, 0);
    let (emu, sdk, stack) = start_with_stack(EmulatorOptions::default(), &spec)
        .await
        .unwrap();
    let cloud = AwsCloud::new(&sdk);
    let keys: Vec<String> = stack
        .services
        .iter()
        .map(|(c, s)| format!("{c}/{s}"))
        .collect();
    emu.configure(serde_json::json!({"throttle_fraction": 0.5}))
        .await
        .unwrap();
    emu.reset_stats().await.unwrap();
    for _ in 0..10 {
        cloud.describe_services(&keys).await.unwrap();
    }
    emu.configure(serde_json::json!({"throttle_fraction": 0.0}))
        .await
        .unwrap();
    let stats = emu.stats().await.unwrap();
    let seen = cloud.throttling("ecs").unwrap();
    let requests = stats["requests"]["ecs:DescribeServices"].as_u64().unwrap();
    let throttled = stats["throttled"]["ecs:DescribeServices"]
        .as_u64()
        .unwrap_or(0);
    assert!(throttled > 0, "the emulator throttled nothing: {stats}");
    assert_eq!(seen.attempts, requests, "{stats}");
    assert_eq!(seen.throttled, throttled, "{stats}");
    assert_eq!(
        cloud.throttling("rds").unwrap(),
        Default::default(),
        "only ECS was called"
    );
}

/// ECS that takes at most `limit` UpdateService calls at once and answers the others with
/// ThrottlingException at once (a token bucket that is empty), counting what it refused.
struct NarrowEcs {
    inner: AwsCloud,
    limit: usize,
    in_flight: AtomicUsize,
    throttled: AtomicUsize,
}

#[async_trait]
impl Cloud for NarrowEcs {
    async fn find_services(&self, s: &Selector) -> CloudResult<Vec<ServiceObs>> {
        self.inner.find_services(s).await
    }
    async fn describe_services(&self, k: &[String]) -> CloudResult<Vec<ServiceObs>> {
        self.inner.describe_services(k).await
    }
    async fn scalable_targets(&self, ids: &[String]) -> CloudResult<BTreeMap<String, Bounds>> {
        self.inner.scalable_targets(ids).await
    }
    async fn set_scalable_target(&self, id: &str, b: Bounds) -> CloudResult<()> {
        self.inner.set_scalable_target(id, b).await
    }
    async fn set_desired_count(&self, c: &str, s: &str, n: u32) -> CloudResult<()> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        let result = if now > self.limit {
            tokio::time::sleep(Duration::from_millis(2)).await;
            self.throttled.fetch_add(1, Ordering::SeqCst);
            Err(CloudError::Transient {
                operation: "ecs:UpdateService",
                resource: format!("{c}/{s}"),
                code: "ThrottlingException".into(),
                message: "Rate exceeded".into(),
            })
        } else {
            // Slow enough that the calls of one pass overlap.
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.inner.set_desired_count(c, s, n).await
        };
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        result
    }
    async fn find_db_instances(&self, s: &Selector) -> CloudResult<Vec<DbObs>> {
        self.inner.find_db_instances(s).await
    }
    async fn describe_db_instances(&self, ids: &[String]) -> CloudResult<Vec<DbObs>> {
        self.inner.describe_db_instances(ids).await
    }
    async fn describe_db_snapshots(&self, ids: &[String]) -> CloudResult<Vec<SnapshotObs>> {
        self.inner.describe_db_snapshots(ids).await
    }
    async fn stop_db(&self, id: &str) -> CloudResult<()> {
        self.inner.stop_db(id).await
    }
    async fn start_db(&self, id: &str) -> CloudResult<()> {
        self.inner.start_db(id).await
    }
    async fn delete_db(&self, id: &str, snap: &str) -> CloudResult<()> {
        self.inner.delete_db(id, snap).await
    }
    async fn restore_db(&self, id: &str, snap: &str, spec: &DbSpec) -> CloudResult<()> {
        self.inner.restore_db(id, snap, spec).await
    }
    async fn modify_db(&self, id: &str, spec: &DbSpec, fields: &[String]) -> CloudResult<()> {
        self.inner.modify_db(id, spec, fields).await
    }
    // No `throttling`: this cloud does not count its requests, so the engine learns from the
    // steps' outcomes.
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_throttles_most_calls_gets_a_narrower_window_and_the_pause_converges() {
    let spec = StackSpec {
        autoscale_every: 0,
        ..StackSpec::new("narrow", 1, 48, 0)
    };
    let (_emu, sdk, stack) = start_with_stack(EmulatorOptions::default(), &spec)
        .await
        .unwrap();
    let engine = Engine::new(
        NarrowEcs {
            inner: AwsCloud::new(&sdk),
            limit: 4,
            in_flight: AtomicUsize::new(0),
            throttled: AtomicUsize::new(0),
        },
        DynamoStore::new(&sdk, TABLE),
        Options {
            owner: "narrow".into(),
            poll_interval: Duration::from_millis(50),
            lease_ttl: Duration::from_secs(30),
            concurrency: 32,
            ..Options::default()
        },
    );
    let request = RequestSpec {
        selector: Some(Selector::from_tag_args(&stack.spec.tag_args()).unwrap()),
        ..RequestSpec::new(DesiredState::Paused, costctl_core::event::Trigger::Cli)
    };
    let (_, report) = engine
        .request_and_wait("narrow", request, Duration::from_secs(120))
        .await
        .unwrap();
    assert!(report.converged, "{report:#?}");
    let picture = stack.picture(&sdk).await.unwrap();
    assert!(
        picture.desired.values().all(|d| *d == 0),
        "{:?}",
        picture.desired
    );
    // A fixed bound of 32 against a limit of 4 is refused 28 times a pass while more than 32
    // services are left, then 4 fewer each pass: over 200 refusals for 48 services. Halving
    // after the first round, then holding near what ECS lets through, costs well under half.
    let throttled = engine.cloud().throttled.load(Ordering::SeqCst);
    assert!(
        (1..100).contains(&throttled),
        "{throttled} UpdateService calls were throttled"
    );
}

/// A stack of one service whose pause request is recorded, and the store and engine over it;
/// `request(desired)` records another request for it.
struct Recorded {
    _emu: costctl_tests::Emulator,
    store: DynamoStore,
    engine: Engine<AwsCloud, DynamoStore>,
    selector: Selector,
}

impl Recorded {
    async fn new(name: &str) -> Recorded {
        let spec = StackSpec::new(name, 1, 1, 0);
        let (emu, sdk, stack) = start_with_stack(EmulatorOptions::default(), &spec)
            .await
            .unwrap();
        let recorded = Recorded {
            _emu: emu,
            store: DynamoStore::new(&sdk, TABLE),
            engine: Engine::new(
                AwsCloud::new(&sdk),
                DynamoStore::new(&sdk, TABLE),
                Options::default(),
            ),
            selector: Selector::from_tag_args(&stack.spec.tag_args()).unwrap(),
        };
        recorded.request(name, DesiredState::Paused).await;
        recorded
    }

    async fn request(
        &self,
        name: &str,
        desired: DesiredState,
    ) -> costctl_engine::store::StackState {
        let spec = RequestSpec {
            selector: Some(self.selector.clone()),
            ..RequestSpec::new(desired, costctl_core::event::Trigger::Cli)
        };
        self.engine.request(name, spec).await.unwrap()
    }
}

/// A finish whose answer was lost and is sent again (the SDK retries a timed-out attempt) finds
/// the lease already released by itself and its own report stored: success, not a lost lease.
/// Another owner's lease still fences it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finish_sent_twice_is_done_once_and_a_taken_lease_still_fences_it() {
    use costctl_engine::StateStore;
    use costctl_engine::store::StoreError;
    let Recorded { store, .. } = &Recorded::new("twice").await;
    let state = store.lease("twice", "me", 1_000, 60_000).await.unwrap();
    let mut report = costctl_engine::Report::new("twice", state.desired, state.generation);
    report.finished_at_ms = 2_000;
    store.finish("twice", "me", &report).await.unwrap();
    store
        .finish("twice", "me", &report)
        .await
        .expect("the same finish again is done, not fenced");
    // Someone else holds the stack now: a late finish of ours is fenced.
    store.lease("twice", "other", 3_000, 60_000).await.unwrap();
    let late = store.finish("twice", "me", &report).await;
    assert!(matches!(late, Err(StoreError::Fenced { .. })), "{late:?}");
}

/// The final report is written only for the newest request, with a converged pass's manifest
/// in the same conditional write: under the lease and the current generation both are written
/// and the lease released; after a newer request nothing is written (`Fenced`: the engine then
/// stores its report with a plain finish and carries the newer request out).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_final_report_and_last_manifest_are_written_only_for_the_newest_request() {
    use costctl_engine::StateStore;
    use costctl_engine::store::StoreError;
    let world = Recorded::new("last").await;
    let store = &world.store;
    let state = store.lease("last", "me", 1_000, 60_000).await.unwrap();
    let mut recorded = costctl_core::Manifest::default();
    recorded.alarms_muted.insert("web-5xx".into());
    store
        .save_manifest("last", "me", state.generation, &recorded)
        .await
        .unwrap();
    let mut report = costctl_engine::Report::new("last", state.desired, state.generation);
    report.finished_at_ms = 2_000;

    // A newer request: the finish, with the manifest or without, is fenced and writes nothing.
    let newer = world.request("last", DesiredState::Running).await;
    assert!(newer.generation > state.generation);
    let empty = costctl_core::Manifest::default();
    for manifest in [Some(&empty), None] {
        let fenced = store
            .finish_current("last", "me", state.generation, manifest, &report)
            .await;
        assert!(
            matches!(fenced, Err(StoreError::Fenced { .. })),
            "{fenced:?}"
        );
    }
    let kept = store.load("last").await.unwrap().unwrap();
    assert_eq!(kept.manifest, recorded, "nothing written");
    assert!(kept.lease.is_some(), "the lease is still held");
    assert!(kept.last_report.is_none_or(|r| r.finished_at_ms != 2_000));

    // Under the current generation: both written, the lease released.
    let current = kept.generation;
    let mut report = costctl_engine::Report::new("last", kept.desired, current);
    report.finished_at_ms = 3_000;
    store
        .finish_current("last", "me", current, Some(&empty), &report)
        .await
        .unwrap();
    let done = store.load("last").await.unwrap().unwrap();
    assert_eq!(done.manifest, costctl_core::Manifest::default());
    assert!(done.lease.is_none());
    assert_eq!(done.last_report.map(|r| r.finished_at_ms), Some(3_000));
}
