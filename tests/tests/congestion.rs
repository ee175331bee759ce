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

/// A finish whose answer was lost and is sent again (the SDK retries a timed-out attempt) finds
/// the lease already released by itself and its own report stored: success, not a lost lease.
/// Another owner's lease still fences it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finish_sent_twice_is_done_once_and_a_taken_lease_still_fences_it() {
    use costctl_engine::StateStore;
    use costctl_engine::store::StoreError;
    let spec = StackSpec::new("twice", 1, 1, 0);
    let (_emu, sdk, stack) = start_with_stack(EmulatorOptions::default(), &spec)
        .await
        .unwrap();
    let store = DynamoStore::new(&sdk, TABLE);
    let engine = Engine::new(
        AwsCloud::new(&sdk),
        DynamoStore::new(&sdk, TABLE),
        Options::default(),
    );
    let selector = Selector::from_tag_args(&stack.spec.tag_args()).unwrap();
    engine
        .request(
            "twice",
            RequestSpec {
                selector: Some(selector),
                ..RequestSpec::new(DesiredState::Paused, costctl_core::event::Trigger::Cli)
            },
        )
        .await
        .unwrap();
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
