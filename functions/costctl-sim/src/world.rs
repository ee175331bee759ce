//! The simulated world: AWS resources with realistic durations and AWS's own rules, the state
//! store's items, the fault plan, the trace and the invariant checks. One value behind one mutex,
//! shared by every invocation's [`crate::SimCloud`] and [`crate::MemStore`] handle, so that an
//! invariant can look at the cloud and the store at the same instant.

use crate::ephemeral::Ephemeral;
use crate::rng::Rng;
use costctl_core::DesiredState;
use costctl_core::observation::{Bounds, DbSpec, scalable_resource_id, service_key};
use costctl_core::observation::{DbObs, ServiceObs};
use costctl_core::plan::{MskOnPause, NetworkOnPause, RdsOnPause};
use costctl_core::spec::EphemeralSpec;
use costctl_engine::store::{HistoryEntry, LoweringRequest, StackState};
use std::collections::{BTreeMap, BTreeSet};

pub const MINUTE: i64 = 60_000;
/// RDS starts an instance that has been stopped for seven days.
/// A desired count outside the autoscaling bounds is corrected by the next scaling activity.
pub const AUTOSCALING_MS: i64 = 3 * MINUTE;
pub const RDS_AUTO_START_MS: i64 = 7 * 24 * 60 * MINUTE;

#[derive(Debug, Clone)]
pub struct SimService {
    pub cluster: String,
    pub name: String,
    pub desired: u32,
    pub running: u32,
    /// When `running` reaches `desired` (tasks drain or start).
    pub settles_at: i64,
    /// Since when `desired` is outside the autoscaling bounds (a scaling activity corrects it).
    pub outside_since: Option<i64>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct SimDb {
    pub id: String,
    /// `available`, `stopping`, `stopped`, `starting`, `creating`, `backing-up`, `deleting`.
    pub status: String,
    pub deletion_protection: bool,
    pub spec: DbSpec,
    /// The data this instance holds: survives only through a snapshot.
    pub data: u64,
    /// When the current transition ends.
    pub busy_until: i64,
    /// Since when it is stopped (RDS auto-starts after seven days).
    pub stopped_since: i64,
    /// The final snapshot a delete is writing.
    pub final_snapshot: Option<String>,
}

#[derive(Debug, Clone)]
pub struct SimSnapshot {
    pub id: String,
    pub instance_id: String,
    /// `creating` or `available`.
    pub status: String,
    pub ready_at: i64,
    pub data: u64,
}

/// Probabilities (per mille, per call) of each fault; all zero once faults stop.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Throttling or a 5xx before the request had any effect.
    pub transient: u32,
    /// The request took effect but the answer was lost (timeout): the caller sees an error.
    pub lost_answer: u32,
    /// The process dies just before or just after a call.
    pub crash: u32,
    /// A call (or a frozen process) stalls longer than the lease lasts.
    pub stall: u32,
    /// Added to `stall` for the changing calls of an ALB apply (ELBv2 and WAFv2), which come
    /// many in a row under one lease: what the fence before each of them is for.
    pub alb_stall: u32,
    pub max_crashes: u32,
}

/// One decided fault for one call.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallFaults {
    pub latency_ms: i64,
    /// The answer comes this late (SDK retries, a frozen process): after the effect.
    pub stall_ms: i64,
    pub transient: bool,
    pub lost_answer: bool,
    pub crash_before: bool,
    pub crash_after: bool,
}

/// Which way a mutating call moves the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
    /// A change of the ephemeral-tier spec by Terraform (delete-spec): neither a pause nor a
    /// resume, so it cannot undo one; only the lease rule applies.
    Spec,
}

/// The original (running) values of a selected service: what every resume must restore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Original {
    pub desired: u32,
    pub bounds: Option<Bounds>,
}

pub struct World {
    pub rng: Rng,
    pub start: i64,
    pub now: i64,
    /// Bumped on every change of the cloud (calls and transitions).
    pub version: u64,
    pub services: BTreeMap<String, SimService>,
    pub targets: BTreeMap<String, Bounds>,
    pub dbs: BTreeMap<String, SimDb>,
    pub snapshots: BTreeMap<String, SimSnapshot>,
    /// Every data token ever created (one per original instance).
    pub data_tokens: BTreeSet<u64>,
    pub originals: BTreeMap<String, Original>,
    /// Services and instances that do not belong to the stack: never touched.
    pub foreign: BTreeSet<String>,
    pub rds_on_pause: RdsOnPause,
    /// The stack's closed days (UTC), for the calendar invariant: no scheduled resume is
    /// recorded on one.
    pub calendar: costctl_core::calendar::Calendar,
    pub msk_on_pause: MskOnPause,
    pub network_on_pause: NetworkOnPause,
    /// ALBs, MSK Serverless clusters, SSM parameters, alias records.
    pub eph: Ephemeral,
    // The state store's items.
    pub store: BTreeMap<String, StackState>,
    pub history: BTreeMap<String, Vec<HistoryEntry>>,
    /// The savings ledger, per stack, in time order.
    pub ledger: BTreeMap<String, Vec<costctl_core::savings::LedgerPoint>>,
    /// The reduce-only partition: per stack, (sort key, request), oldest first.
    pub lowering: BTreeMap<String, Vec<(String, LoweringRequest)>>,
    // Faults.
    pub faults: Faults,
    pub crashes: u32,
    /// Invocations that crashed (their task is dropped by the runner).
    pub crashed: BTreeSet<usize>,
    /// Generation whose desired state a reconcile reported as reached.
    pub reached: Option<u64>,
    /// The spec each invocation last read with its lease (what its plans were made from).
    pub seen_spec: BTreeMap<String, Option<EphemeralSpec>>,
    pub trace: Vec<String>,
    pub violations: Vec<String>,
    pub calls: u64,
    /// Every changing call, with the virtual time it was sent (before its latency): what a
    /// fence ("sent only before …") is judged by.
    pub sent: Vec<(i64, &'static str)>,
    /// Targeted faults for tests: the answers of the next this-many changing calls of an
    /// operation are lost (whatever `faults` says).
    pub lose_answers: BTreeMap<String, u32>,
}

impl World {
    pub fn new(rng: Rng, now: i64) -> Self {
        World {
            rng,
            start: now,
            now,
            version: 0,
            services: BTreeMap::new(),
            targets: BTreeMap::new(),
            dbs: BTreeMap::new(),
            snapshots: BTreeMap::new(),
            data_tokens: BTreeSet::new(),
            originals: BTreeMap::new(),
            foreign: BTreeSet::new(),
            rds_on_pause: RdsOnPause::Stop,
            calendar: Default::default(),
            msk_on_pause: MskOnPause::Delete,
            network_on_pause: NetworkOnPause::Delete,
            eph: Ephemeral::default(),
            store: BTreeMap::new(),
            history: BTreeMap::new(),
            ledger: BTreeMap::new(),
            lowering: BTreeMap::new(),
            faults: Faults::default(),
            crashes: 0,
            crashed: BTreeSet::new(),
            reached: None,
            seen_spec: BTreeMap::new(),
            trace: Vec::new(),
            violations: Vec::new(),
            calls: 0,
            sent: Vec::new(),
            lose_answers: BTreeMap::new(),
        }
    }

    pub fn log(&mut self, line: impl AsRef<str>) {
        let t = self.now - self.start;
        self.trace.push(format!(
            "{:>5}m{:02}s {}",
            t / MINUTE,
            (t % MINUTE) / 1000,
            line.as_ref()
        ));
    }

    pub fn violation(&mut self, what: impl Into<String>) {
        let what = what.into();
        self.log(format!("VIOLATION {what}"));
        self.violations.push(what);
    }

    // ---- building the world ----

    pub fn add_service(
        &mut self,
        cluster: &str,
        name: &str,
        desired: u32,
        bounds: Option<Bounds>,
        tags: BTreeMap<String, String>,
        ours: bool,
    ) {
        let key = service_key(cluster, name);
        self.services.insert(
            key.clone(),
            SimService {
                cluster: cluster.into(),
                name: name.into(),
                desired,
                running: desired,
                settles_at: 0,
                outside_since: None,
                tags,
            },
        );
        if let Some(b) = bounds {
            self.targets.insert(scalable_resource_id(cluster, name), b);
        }
        if ours {
            self.originals.insert(key, Original { desired, bounds });
        } else {
            self.foreign.insert(format!("ecs:{key}"));
        }
    }

    pub fn add_db(&mut self, id: &str, deletion_protection: bool, spec: DbSpec, ours: bool) {
        let data = self.data_tokens.len() as u64 + 1;
        self.data_tokens.insert(data);
        self.dbs.insert(
            id.into(),
            SimDb {
                id: id.into(),
                status: "available".into(),
                deletion_protection,
                spec,
                data,
                busy_until: 0,
                stopped_since: 0,
                final_snapshot: None,
            },
        );
        if !ours {
            self.foreign.insert(format!("rds:{id}"));
        }
    }

    // ---- time ----

    /// Lets time pass up to `now`: tasks drain and start, autoscaling enforces its bounds, RDS
    /// transitions end, snapshots complete, stopped instances auto-start after seven days.
    pub fn advance(&mut self, now: i64) {
        if now < self.now {
            return;
        }
        self.now = now;
        let mut changed = false;
        let mut lines = Vec::new();
        for (key, svc) in &mut self.services {
            let rid = scalable_resource_id(&svc.cluster, &svc.name);
            if let Some(b) = self.targets.get(&rid) {
                let want = svc.desired.clamp(b.min, b.max.max(b.min));
                if want == svc.desired {
                    svc.outside_since = None;
                } else {
                    let since = *svc.outside_since.get_or_insert(now);
                    if now - since >= AUTOSCALING_MS {
                        lines.push(format!(
                            "autoscaling sets {key} desired {} -> {want} (bounds {}..{})",
                            svc.desired, b.min, b.max
                        ));
                        svc.desired = want;
                        svc.settles_at = now + 60_000;
                        svc.outside_since = None;
                        changed = true;
                    }
                }
            }
            if svc.running != svc.desired && now >= svc.settles_at {
                svc.running = svc.desired;
                changed = true;
            }
        }
        for snap in self.snapshots.values_mut() {
            if snap.status == "creating" && now >= snap.ready_at {
                snap.status = "available".into();
                lines.push(format!("snapshot {} available", snap.id));
                changed = true;
            }
        }
        let mut gone = Vec::new();
        for db in self.dbs.values_mut() {
            let next = match db.status.as_str() {
                "stopping" if now >= db.busy_until => Some("stopped"),
                "starting" if now >= db.busy_until => Some("available"),
                "creating" if now >= db.busy_until => Some("backing-up"),
                "backing-up" if now >= db.busy_until => Some("available"),
                "stopped" if now - db.stopped_since >= RDS_AUTO_START_MS => {
                    lines.push(format!(
                        "RDS auto-starts {} after seven days stopped",
                        db.id
                    ));
                    Some("starting")
                }
                "deleting" => {
                    let snap_ready = db
                        .final_snapshot
                        .as_ref()
                        .and_then(|s| self.snapshots.get(s))
                        .is_some_and(|s| s.status == "available");
                    if snap_ready && now >= db.busy_until {
                        gone.push(db.id.clone());
                    }
                    None
                }
                _ => None,
            };
            if let Some(next) = next {
                lines.push(format!("rds {} {} -> {next}", db.id, db.status));
                db.status = next.into();
                changed = true;
                match next {
                    "stopped" => db.stopped_since = now,
                    "starting" => db.busy_until = now + 5 * MINUTE,
                    "backing-up" => db.busy_until = now + 3 * MINUTE,
                    _ => {}
                }
            }
        }
        for id in gone {
            self.dbs.remove(&id);
            lines.push(format!("rds {id} deleted"));
            changed = true;
        }
        changed |= self.eph.advance(now, &mut lines);
        for l in lines {
            self.log(l);
        }
        if changed {
            self.version += 1;
            self.check();
        }
    }

    // ---- faults ----

    /// Decides the latency and faults of one call.
    pub fn decide(&mut self, op: &str, mutating: bool) -> CallFaults {
        self.calls += 1;
        let f = self.faults;
        let mut c = CallFaults {
            latency_ms: self.rng.range(20, 900),
            ..CallFaults::default()
        };
        let alb = mutating && (op.starts_with("elasticloadbalancing:") || op.starts_with("wafv2:"));
        if self.rng.chance(f.stall + if alb { f.alb_stall } else { 0 }) {
            c.stall_ms = self.rng.range(60_000, 200_000);
        }
        c.transient = self.rng.chance(f.transient);
        c.lost_answer = mutating && self.rng.chance(f.lost_answer);
        if mutating
            && let Some(n) = self.lose_answers.get_mut(op)
            && *n > 0
        {
            *n -= 1;
            c.lost_answer = true;
        }
        if self.crashes < f.max_crashes && self.rng.chance(f.crash) {
            self.crashes += 1;
            if self.rng.chance(500) {
                c.crash_before = true;
            } else {
                c.crash_after = true;
            }
        }
        c
    }

    // ---- invariants ----

    /// Checks, at a mutating call, the rules that concern who may act: the caller holds the
    /// lease, unexpired at the instant the call takes effect (a call landing after its lease
    /// ended is what the fences and step guards exist to prevent, whether or not another
    /// invocation has taken over yet), and no reached request is undone.
    pub fn check_actor(&mut self, stack: &str, owner: &str, what: &str, dir: Direction) {
        let Some(state) = self.store.get(stack) else {
            return;
        };
        let holder = state.lease.clone();
        let (desired, generation) = (state.desired, state.generation);
        match &holder {
            Some(l) if l.owner == owner && l.expires_at_ms >= self.now => {}
            Some(l) if l.owner == owner => self.violation(format!(
                "{owner} called {what} after its lease ended (at {})",
                l.expires_at_ms
            )),
            Some(l) if l.expires_at_ms >= self.now => self.violation(format!(
                "{owner} called {what} while {} holds the lease (until {})",
                l.owner, l.expires_at_ms
            )),
            _ => self.violation(format!("{owner} called {what} without holding the lease")),
        }
        let contradicts = match dir {
            Direction::Down => desired == DesiredState::Running,
            Direction::Up => desired.is_down(),
            Direction::Spec => false,
        };
        if contradicts && self.reached == Some(generation) {
            self.violation(format!(
                "{owner} called {what}, undoing request {generation} ({desired}) that was already reached"
            ));
        }
    }

    /// The write-ahead rule at the instant of a delete: the final snapshot is recorded.
    pub fn check_delete(&mut self, stack: &str, id: &str, final_snapshot: &str) {
        let recorded = self
            .store
            .get(stack)
            .and_then(|s| s.manifest.db_instances.get(id))
            .and_then(|r| r.snapshot.clone());
        if recorded.as_deref() != Some(final_snapshot) {
            self.violation(format!(
                "delete of rds:{id} with final snapshot {final_snapshot}, but the manifest records {recorded:?}"
            ));
        }
    }

    /// The state invariants, checked after every change of the world or the store.
    pub fn check(&mut self) {
        let mut v = Vec::new();
        // No data is ever lost: every instance's data lives in an instance or a snapshot.
        for token in &self.data_tokens {
            let live = self
                .dbs
                .values()
                .any(|d| d.data == *token && d.status != "deleting");
            let saved = self.snapshots.values().any(|s| s.data == *token);
            if !live && !saved {
                v.push(format!("data of instance #{token} is lost"));
            }
        }
        for (stack, state) in &self.store {
            // Every instance that is gone or going has its final snapshot recorded, and that
            // snapshot exists (a restore needs it).
            for db in self.dbs.values() {
                if db.status == "deleting" && !self.foreign.contains(&format!("rds:{}", db.id)) {
                    let rec = state
                        .manifest
                        .db_instances
                        .get(&db.id)
                        .and_then(|r| r.snapshot.clone());
                    if rec != db.final_snapshot {
                        v.push(format!(
                            "{stack}: rds:{} is being deleted into {:?} but the manifest records {rec:?}",
                            db.id, db.final_snapshot
                        ));
                    }
                }
            }
            for (id, rec) in &state.manifest.db_instances {
                if self.dbs.contains_key(id) {
                    continue;
                }
                match &rec.snapshot {
                    Some(s) if self.snapshots.contains_key(s) => {}
                    other => v.push(format!(
                        "{stack}: rds:{id} is gone and its recorded snapshot {other:?} does not exist"
                    )),
                }
            }
            // A recorded running value is never overwritten by a paused one.
            for (key, rec) in &state.manifest.services {
                if let Some(orig) = self.originals.get(key)
                    && (rec.desired != orig.desired || rec.bounds != orig.bounds)
                {
                    v.push(format!(
                        "{stack}: manifest records {key} as desired {} bounds {:?}, but it ran at {} {:?}",
                        rec.desired, rec.bounds, orig.desired, orig.bounds
                    ));
                }
            }
        }
        // Instances gone without a snapshot of their data (caught above) and instances of
        // other stacks, which must never change.
        for f in &self.foreign {
            if let Some(id) = f.strip_prefix("rds:")
                && self.dbs.get(id).is_none_or(|d| d.status != "available")
            {
                v.push(format!("foreign {f} was touched"));
            }
        }
        if self.eph.net.enabled {
            let spec = self.store.values().find_map(|s| s.spec.as_ref());
            self.eph.net.note_spec(spec);
        }
        self.eph.check(&mut v);
        for x in v {
            if !self.violations.contains(&x) {
                self.violation(x);
            }
        }
    }

    /// True when the selected resources are in `desired` (what a converged report claims).
    /// Returns what differs.
    pub fn differs_from(&self, stack: &str, desired: DesiredState) -> Vec<String> {
        let spec = self.store.get(stack).and_then(|s| s.spec.clone());
        self.differs_from_spec(stack, desired, spec.as_ref())
    }

    /// As [`World::differs_from`], against the ephemeral-tier spec `spec` (the one a reconcile
    /// planned with: Terraform may store a new one while it runs, and reconciles to it itself).
    pub fn differs_from_spec(
        &self,
        stack: &str,
        desired: DesiredState,
        spec: Option<&EphemeralSpec>,
    ) -> Vec<String> {
        let mut d = Vec::new();
        let manifest = self
            .store
            .get(stack)
            .map(|s| s.manifest.clone())
            .unwrap_or_default();
        for (key, orig) in &self.originals {
            let Some(svc) = self.services.get(key) else {
                continue;
            };
            let rid = scalable_resource_id(&svc.cluster, &svc.name);
            let bounds = self.targets.get(&rid).copied();
            let (want, want_bounds) = match desired {
                DesiredState::Running => (orig.desired, orig.bounds),
                _ => (0, orig.bounds.map(|_| Bounds { min: 0, max: 0 })),
            };
            if svc.desired != want || svc.running != want || bounds != want_bounds {
                d.push(format!(
                    "ecs:{key} desired {} running {} bounds {bounds:?}, not {want} {want_bounds:?}",
                    svc.desired, svc.running
                ));
            }
        }
        let snapshot_db = desired == DesiredState::Hibernated
            || (desired == DesiredState::Paused && self.rds_on_pause == RdsOnPause::Snapshot);
        let mut ids: BTreeSet<String> = manifest.db_instances.keys().cloned().collect();
        ids.extend(
            self.dbs
                .keys()
                .filter(|id| !self.foreign.contains(&format!("rds:{id}")))
                .cloned(),
        );
        for id in ids {
            let db = self.dbs.get(&id);
            let ok = match (desired, db) {
                (DesiredState::Running, Some(db)) => db.status == "available",
                (DesiredState::Running, None) => false,
                (_, Some(db)) if snapshot_db && !db.deletion_protection => false,
                (_, Some(db)) => db.status == "stopped",
                (_, None) => manifest
                    .db_instances
                    .get(&id)
                    .and_then(|r| r.snapshot.as_ref())
                    .and_then(|s| self.snapshots.get(s))
                    .is_some_and(|s| s.status == "available"),
            };
            if !ok {
                d.push(format!(
                    "rds:{id} is {}",
                    db.map_or("gone", |d| d.status.as_str())
                ));
            }
        }
        let recorded = EphemeralSpec {
            load_balancers: manifest.load_balancers.values().cloned().collect(),
            kafka_clusters: manifest.kafka_clusters.values().cloned().collect(),
            nat_gateways: manifest.nat_gateways.values().cloned().collect(),
            vpc_endpoints: manifest.vpc_endpoints.values().cloned().collect(),
        };
        d.extend(
            self.eph
                .differs_from(desired, self.msk_on_pause, spec, &recorded),
        );
        d.extend(
            self.eph
                .net
                .differs_from(desired, self.network_on_pause, spec, &recorded),
        );
        d
    }
}

pub(crate) fn db_obs(db: &SimDb) -> DbObs {
    DbObs {
        kms_key_state: None,
        pending: Default::default(),
        id: db.id.clone(),
        status: db.status.clone(),
        deletion_protection: db.deletion_protection,
        spec: db.spec.clone(),
        unsupported: Vec::new(),
    }
}

pub(crate) fn service_obs(s: &SimService) -> ServiceObs {
    ServiceObs {
        cluster: s.cluster.clone(),
        name: s.name.clone(),
        desired: s.desired,
        running: s.running,
        pending: s.desired.saturating_sub(s.running),
        status: "ACTIVE".into(),
        tags: s.tags.clone(),
        public_ip: false,
    }
}
