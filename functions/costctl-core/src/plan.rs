//! The planner: a pure function from (goal, observation, manifest) to an ordered plan.
//!
//! The plan holds every step still needed to reach the goal, including the ones that cannot run
//! yet, each with the steps it must wait for. A step is idempotent: the reconcile loop
//! re-observes and re-plans after every batch, so a step that already took effect simply
//! disappears from the next plan. `Await*` steps are gates: they are never executed, they vanish
//! once the observation shows what they wait for.

use crate::ephemeral::{kafka_differences, lb_differences, lb_recreation_blockers};
use crate::manifest::{DbRecord, Manifest};
use crate::observation::{
    AlarmDefinition, DbObs, DbSpec, Observation, ServiceObs, alias_key, lb_dimension,
    normalise_dns, scalable_resource_id, split_service_key,
};
use crate::restore::db_differences;
use crate::spec::{EphemeralSpec, KafkaClusterSpec, LoadBalancerSpec};
use crate::state::DesiredState;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

pub use crate::config::{MskOnPause, Policy, RdsOnPause};

/// What the planner is asked to reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Goal {
    pub desired: DesiredState,
    /// Generation of the request; names final snapshots so two hibernations never collide.
    pub generation: u64,
    pub policy: Policy,
}

/// A cluster or service name in a step. Shared, not copied: a pause makes three steps per
/// service, and copying the names into each was most of what planning a large stack cost.
pub type Name = std::sync::Arc<str>;

/// One idempotent operation on one resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// RegisterScalableTarget with these bounds.
    SetScalingBounds {
        cluster: Name,
        service: Name,
        min: u32,
        max: u32,
    },
    /// UpdateService desiredCount.
    SetDesiredCount {
        cluster: Name,
        service: Name,
        count: u32,
    },
    /// Gate: the service runs exactly `count` tasks and none are pending.
    AwaitServiceCount {
        cluster: Name,
        service: Name,
        count: u32,
    },
    StopDb {
        id: String,
    },
    StartDb {
        id: String,
    },
    /// DeleteDBInstance with a final snapshot (never without one).
    DeleteDb {
        id: String,
        final_snapshot: String,
    },
    /// RestoreDBInstanceFromDBSnapshot under the same identifier with the recorded spec.
    RestoreDb {
        id: String,
        snapshot: String,
        spec: Box<DbSpec>,
    },
    /// ModifyDBInstance (apply immediately) with what a restore from a snapshot cannot set
    /// (storage autoscaling, maintenance window, monitoring, Performance Insights, …): the
    /// instance comes back as recorded, not as RDS's defaults.
    ModifyDb {
        id: String,
        spec: Box<DbSpec>,
        /// The fields that differ from the record (shown to users).
        fields: Vec<String>,
    },
    /// Gate: the instance has reached `status` (`available`, `stopped`) or is gone (`deleted`).
    AwaitDb {
        id: String,
        status: String,
    },
    /// Gate: RDS has applied the pending modifications of these fields (they leave
    /// `PendingModifiedValues`).
    AwaitDbModified {
        id: String,
        fields: Vec<String>,
    },
    /// Gate: the snapshot is `available`.
    AwaitSnapshot {
        id: String,
    },
    /// Creates the ALB from the spec when none of that name exists (after checking that its
    /// certificates and target groups exist), then brings its listeners, rules, attributes and
    /// tags to the spec. One idempotent step: repeated after a crash it completes what is missing.
    ApplyLoadBalancer {
        spec: Box<LoadBalancerSpec>,
    },
    /// DeleteLoadBalancer; its target groups stay.
    DeleteLoadBalancer {
        name: String,
        arn: String,
    },
    /// Gate: the load balancer is `active`.
    AwaitLoadBalancer {
        name: String,
    },
    /// CreateClusterV2 (serverless) unless a cluster of that name exists.
    CreateKafkaCluster {
        spec: Box<KafkaClusterSpec>,
    },
    DeleteKafkaCluster {
        name: String,
        arn: String,
    },
    /// Gate: the cluster is `ACTIVE`, or gone (`deleted`).
    AwaitKafkaCluster {
        name: String,
        state: String,
    },
    /// Gate joining many others ("every service drained", "every database available"): the
    /// steps behind it depend on this one step instead of on each of thousands, which keeps a
    /// plan linear in the size of the stack. Present only while something it joins is pending.
    AwaitAll {
        what: String,
    },
    /// PutParameter (overwrite) with the cluster's SASL/IAM bootstrap string as observed.
    PublishKafkaBootstrap {
        cluster: String,
        parameter: String,
    },
    /// PutParameter (overwrite) with the load balancer's DNS name as observed.
    PublishLoadBalancerDns {
        load_balancer: String,
        parameter: String,
    },
    /// UPSERT of the A and AAAA alias records `name` in `zone_id` to the load balancer.
    UpsertAlias {
        load_balancer: String,
        zone_id: String,
        name: String,
    },
    /// Disable/EnableAlarmActions: a paused stack pages nobody (its services are at 0, its load
    /// balancer may be gone); a resume turns back on what the pause turned off.
    SetAlarmActions {
        names: Vec<String>,
        enabled: bool,
    },
    /// PutMetricAlarm with the alarm's own definition, its `LoadBalancer` dimension set to the
    /// load balancer of that name as observed (a recreated one has a new ID).
    PointAlarm {
        name: String,
        load_balancer: String,
        definition: Box<AlarmDefinition>,
        actions_enabled: bool,
    },
}

impl Action {
    /// Gates are satisfied by the world, not executed.
    pub fn is_gate(&self) -> bool {
        matches!(
            self,
            Action::AwaitServiceCount { .. }
                | Action::AwaitDb { .. }
                | Action::AwaitDbModified { .. }
                | Action::AwaitSnapshot { .. }
                | Action::AwaitLoadBalancer { .. }
                | Action::AwaitKafkaCluster { .. }
                | Action::AwaitAll { .. }
        )
    }

    /// The resource this step acts on, as shown to users.
    pub fn resource(&self) -> String {
        match self {
            Action::SetScalingBounds {
                cluster, service, ..
            }
            | Action::SetDesiredCount {
                cluster, service, ..
            }
            | Action::AwaitServiceCount {
                cluster, service, ..
            } => format!("ecs:{cluster}/{service}"),
            Action::StopDb { id }
            | Action::StartDb { id }
            | Action::DeleteDb { id, .. }
            | Action::RestoreDb { id, .. }
            | Action::ModifyDb { id, .. }
            | Action::AwaitDb { id, .. }
            | Action::AwaitDbModified { id, .. } => format!("rds:{id}"),
            Action::AwaitSnapshot { id } => format!("rds-snapshot:{id}"),
            Action::ApplyLoadBalancer { spec } => format!("alb:{}", spec.name),
            Action::DeleteLoadBalancer { name, .. }
            | Action::AwaitLoadBalancer { name }
            | Action::PublishLoadBalancerDns {
                load_balancer: name,
                ..
            } => format!("alb:{name}"),
            Action::UpsertAlias { zone_id, name, .. } => {
                format!("route53:{zone_id}/{}", name.trim_end_matches('.'))
            }
            Action::CreateKafkaCluster { spec } => format!("msk:{}", spec.name),
            Action::DeleteKafkaCluster { name, .. }
            | Action::AwaitKafkaCluster { name, .. }
            | Action::PublishKafkaBootstrap { cluster: name, .. } => format!("msk:{name}"),
            Action::AwaitAll { .. } => "stack".into(),
            Action::SetAlarmActions { names, .. } => format!("cloudwatch:{}", names.join(",")),
            Action::PointAlarm { name, .. } => format!("cloudwatch:{name}"),
        }
    }

    /// True when the action switches something off (subject to the safety rules).
    pub fn reduces_cost(&self) -> bool {
        match self {
            Action::SetScalingBounds { max, .. } => *max == 0,
            Action::SetDesiredCount { count, .. } => *count == 0,
            Action::StopDb { .. } | Action::DeleteDb { .. } => true,
            Action::StartDb { .. } | Action::RestoreDb { .. } | Action::ModifyDb { .. } => false,
            Action::DeleteLoadBalancer { .. } | Action::DeleteKafkaCluster { .. } => true,
            Action::ApplyLoadBalancer { .. }
            | Action::CreateKafkaCluster { .. }
            | Action::PublishKafkaBootstrap { .. }
            | Action::PublishLoadBalancerDns { .. }
            | Action::UpsertAlias { .. }
            | Action::PointAlarm { .. } => false,
            Action::SetAlarmActions { enabled, .. } => !enabled,
            Action::AwaitServiceCount { .. }
            | Action::AwaitDb { .. }
            | Action::AwaitDbModified { .. }
            | Action::AwaitSnapshot { .. }
            | Action::AwaitLoadBalancer { .. }
            | Action::AwaitKafkaCluster { .. }
            | Action::AwaitAll { .. } => true,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::SetScalingBounds {
                cluster,
                service,
                min,
                max,
            } => write!(
                f,
                "set autoscaling of {cluster}/{service} to min {min}, max {max}"
            ),
            Action::SetDesiredCount {
                cluster,
                service,
                count,
            } => write!(f, "set desired count of {cluster}/{service} to {count}"),
            Action::AwaitServiceCount {
                cluster,
                service,
                count,
            } => write!(f, "wait until {cluster}/{service} runs {count} task(s)"),
            Action::StopDb { id } => write!(f, "stop RDS instance {id}"),
            Action::StartDb { id } => write!(f, "start RDS instance {id}"),
            Action::DeleteDb { id, final_snapshot } => {
                write!(
                    f,
                    "delete RDS instance {id} with final snapshot {final_snapshot}"
                )
            }
            Action::RestoreDb { id, snapshot, .. } => {
                write!(f, "restore RDS instance {id} from snapshot {snapshot}")
            }
            Action::ModifyDb { id, fields, .. } => write!(
                f,
                "modify RDS instance {id} back to its record ({})",
                fields.join(", ")
            ),
            Action::AwaitDb { id, status } => write!(f, "wait until RDS instance {id} is {status}"),
            Action::AwaitDbModified { id, fields } => write!(
                f,
                "wait until RDS applies the pending modification of {} on {id}",
                fields.join(", ")
            ),
            Action::AwaitSnapshot { id } => write!(f, "wait until snapshot {id} is available"),
            Action::ApplyLoadBalancer { spec } => {
                let rules: usize = spec.listeners.iter().map(|l| l.rules.len()).sum();
                write!(
                    f,
                    "create or update ALB {} ({} listener(s), {rules} rule(s), {} attribute(s), {} tag(s))",
                    spec.name,
                    spec.listeners.len(),
                    spec.attributes.len(),
                    spec.tags.len()
                )
            }
            Action::DeleteLoadBalancer { name, .. } => {
                write!(f, "delete ALB {name} (target groups stay)")
            }
            Action::AwaitLoadBalancer { name } => write!(f, "wait until ALB {name} is active"),
            Action::CreateKafkaCluster { spec } => {
                write!(f, "create MSK Serverless cluster {}", spec.name)
            }
            Action::DeleteKafkaCluster { name, .. } => {
                write!(f, "delete MSK Serverless cluster {name}")
            }
            Action::AwaitKafkaCluster { name, state } => {
                write!(f, "wait until MSK cluster {name} is {state}")
            }
            Action::AwaitAll { what } => write!(f, "wait until {what}"),
            Action::PublishKafkaBootstrap { cluster, parameter } => write!(
                f,
                "publish the bootstrap brokers of {cluster} to SSM parameter {parameter}"
            ),
            Action::PublishLoadBalancerDns {
                load_balancer,
                parameter,
            } => write!(
                f,
                "publish the DNS name of ALB {load_balancer} to SSM parameter {parameter}"
            ),
            Action::UpsertAlias {
                load_balancer,
                zone_id,
                name,
            } => write!(
                f,
                "point alias {name} (A, AAAA) in zone {zone_id} at ALB {load_balancer}"
            ),
            Action::SetAlarmActions { names, enabled } => write!(
                f,
                "{} the actions of CloudWatch alarm(s) {}",
                if *enabled { "enable" } else { "disable" },
                names.join(", ")
            ),
            Action::PointAlarm {
                name,
                load_balancer,
                actions_enabled,
                ..
            } => write!(
                f,
                "point CloudWatch alarm {name} at ALB {load_balancer} (actions {})",
                if *actions_enabled {
                    "on"
                } else {
                    "off until the services are back"
                }
            ),
        }
    }
}

/// A step of the plan. `after` holds ids of steps of the same plan that must finish first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub id: usize,
    #[serde(flatten)]
    pub action: Action,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<usize>,
}

/// Something the user should know that is not a step (e.g. a safety rule changed the action).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub resource: String,
    pub message: String,
}

/// Something that blocks the goal and needs a person (e.g. a missing snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub resource: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// The manifest to persist before any step runs (write-ahead).
    pub manifest: Manifest,
    pub notes: Vec<Note>,
    pub problems: Vec<Problem>,
}

impl Plan {
    /// The goal is reached: nothing to do, nothing to wait for, nothing blocking.
    pub fn is_converged(&self) -> bool {
        self.steps.is_empty() && self.problems.is_empty()
    }

    /// Steps that can run now: not gates, and everything they wait for is in `done`.
    pub fn ready<'a>(&'a self, done: &'a [usize]) -> impl Iterator<Item = &'a Step> + 'a {
        let mut is_done = vec![false; self.steps.len()];
        for &d in done {
            if let Some(slot) = is_done.get_mut(d) {
                *slot = true;
            }
        }
        self.steps.iter().filter(move |s| {
            !s.action.is_gate()
                && !is_done[s.id]
                && s.after
                    .iter()
                    .all(|&d| is_done.get(d).copied().unwrap_or(false))
        })
    }
}

/// Builds the plan. Pure: same inputs, same plan.
pub fn plan(goal: &Goal, obs: &Observation, manifest: &Manifest) -> Plan {
    plan_with(goal, obs, manifest, None)
}

/// Builds the plan for a stack that also has a desired ephemeral-tier spec (given by
/// `apply-spec`). For `running`, the spec's resources are created or brought to the spec; it
/// wins over a spec captured into the manifest. A paused stack only remembers it.
pub fn plan_with(
    goal: &Goal,
    obs: &Observation,
    manifest: &Manifest,
    spec: Option<&EphemeralSpec>,
) -> Plan {
    let mut b = Builder {
        plan: Plan {
            manifest: manifest.clone(),
            ..Plan::default()
        },
    };
    match goal.desired {
        DesiredState::Running => b.resume(obs, spec),
        down => b.pause(goal, down, obs, spec),
    }
    b.plan
}

/// The final snapshot name for a hibernation of `id` under request `generation`.
pub fn final_snapshot_name(id: &str, generation: u64) -> String {
    // RDS snapshot identifiers: letters, digits, hyphens; at most 255 characters. Starting with
    // the instance id lets IAM scope snapshot permissions by the stack naming convention.
    format!("{id}-costctl-g{generation}")
}

/// RDS statuses from which a stop or delete may be issued.
const DB_STOPPABLE: &[&str] = &["available"];
const DB_DELETABLE: &[&str] = &["available", "stopped", "storage-optimization"];

/// Why an instance is stopped instead of hibernated (deleted with a final snapshot), if it
/// must be: deletion protection, a KMS key a restore could not use, or a configured feature a
/// restore cannot bring back (`DbObs::unsupported`).
fn hibernation_blocker(db: &DbObs) -> Option<String> {
    if db.deletion_protection {
        return Some("deletion protection is on: the instance is stopped, never deleted".into());
    }
    let key_state = db
        .kms_key_state
        .as_deref()
        .filter(|s| *s != "Enabled")
        .or_else(|| {
            // Encrypted, and the key's state was not read: not provably restorable.
            (db.spec.storage_encrypted && db.kms_key_state.is_none()).then_some("not read")
        });
    if let Some(state) = key_state {
        return Some(format!(
            "kept (stopped, not deleted): kms_key_id {} is {state}; a final snapshot is encrypted with the same key and could not be restored without it",
            db.spec.kms_key_id.as_deref().unwrap_or("(unknown)")
        ));
    }
    (!db.unsupported.is_empty()).then(|| {
        format!(
            "kept (stopped, not deleted): a restore from a snapshot cannot bring back {}",
            db.unsupported.join("; ")
        )
    })
}

struct Builder {
    plan: Plan,
}

impl Builder {
    fn push(&mut self, action: Action, after: Vec<usize>) -> usize {
        let id = self.plan.steps.len();
        self.plan.steps.push(Step { id, action, after });
        id
    }

    /// One dependency standing for all of `deps` (see [`Action::AwaitAll`]).
    fn join(&mut self, deps: Vec<usize>, what: &str) -> Vec<usize> {
        if deps.len() <= 1 {
            return deps;
        }
        vec![self.push(Action::AwaitAll { what: what.into() }, deps)]
    }

    fn note(&mut self, resource: String, message: String) {
        self.plan.notes.push(Note { resource, message });
    }

    fn problem(&mut self, resource: String, message: String) {
        self.plan.problems.push(Problem { resource, message });
    }

    fn pause(
        &mut self,
        goal: &Goal,
        level: DesiredState,
        obs: &Observation,
        spec: Option<&EphemeralSpec>,
    ) {
        self.plan.manifest.record_missing(obs);

        let mut drained = Vec::new();
        for svc in &obs.services {
            drained.extend(self.drain_service(svc, obs));
        }
        let drained = self.join(drained, "every ECS service is drained");

        let snapshot_db =
            level == DesiredState::Hibernated || goal.policy.rds_on_pause == RdsOnPause::Snapshot;
        for db in &obs.db_instances {
            if !snapshot_db {
                self.stop_db(db, &drained);
            } else if let Some(why) = hibernation_blocker(db) {
                self.note(format!("rds:{}", db.id), why);
                self.stop_db(db, &drained);
            } else {
                self.hibernate_db(db, goal.generation, obs, &drained);
            }
        }
        self.pause_ephemeral(goal, obs, spec, &drained);

        // Instances already gone: their final snapshot must be available before we call the
        // stack paused, and must exist at all.
        let observed: std::collections::HashSet<&str> =
            obs.db_instances.iter().map(|d| d.id.as_str()).collect();
        let gone: Vec<(String, DbRecord)> = self
            .plan
            .manifest
            .db_instances
            .iter()
            .filter(|(id, _)| !observed.contains(id.as_str()))
            .map(|(id, r)| (id.clone(), r.clone()))
            .collect();
        for (id, record) in gone {
            match &record.snapshot {
                Some(snap) => match obs.snapshot(snap) {
                    Some(s) if s.status == "available" => {}
                    Some(_) => {
                        self.push(Action::AwaitSnapshot { id: snap.clone() }, vec![]);
                    }
                    None => self.problem(
                        format!("rds:{id}"),
                        format!("instance is gone and its final snapshot {snap} does not exist"),
                    ),
                },
                None => self.problem(
                    format!("rds:{id}"),
                    "instance is gone and no final snapshot was recorded".into(),
                ),
            }
        }
    }

    /// Autoscaling to 0/0 first (otherwise it scales the service straight back up), then the
    /// desired count, then wait for the tasks to drain.
    fn drain_service(&mut self, svc: &ServiceObs, obs: &Observation) -> Option<usize> {
        let mut last = vec![];
        let (cluster, service): (Name, Name) =
            (svc.cluster.as_str().into(), svc.name.as_str().into());
        let rid = scalable_resource_id(&svc.cluster, &svc.name);
        if let Some(bounds) = obs.scalable_targets.get(&rid)
            && (bounds.min != 0 || bounds.max != 0)
        {
            last = vec![self.push(
                Action::SetScalingBounds {
                    cluster: cluster.clone(),
                    service: service.clone(),
                    min: 0,
                    max: 0,
                },
                vec![],
            )];
        }
        if svc.desired != 0 {
            last = vec![self.push(
                Action::SetDesiredCount {
                    cluster: cluster.clone(),
                    service: service.clone(),
                    count: 0,
                },
                last,
            )];
        }
        if svc.desired != 0 || svc.running != 0 || svc.pending != 0 {
            return Some(self.push(
                Action::AwaitServiceCount {
                    cluster: cluster.clone(),
                    service: service.clone(),
                    count: 0,
                },
                last,
            ));
        }
        None
    }

    fn stop_db(&mut self, db: &DbObs, drained: &[usize]) {
        let status = db.status.as_str();
        if status == "stopped" {
            return;
        }
        let mut after = drained.to_vec();
        if DB_STOPPABLE.contains(&status) {
            after = vec![self.push(Action::StopDb { id: db.id.clone() }, after)];
        } else if status != "stopping" {
            // starting, modifying, backing-up…: RDS refuses a stop until it is available again.
            after = vec![self.push(
                Action::AwaitDb {
                    id: db.id.clone(),
                    status: "available".into(),
                },
                vec![],
            )];
            after = vec![self.push(Action::StopDb { id: db.id.clone() }, after)];
        }
        self.push(
            Action::AwaitDb {
                id: db.id.clone(),
                status: "stopped".into(),
            },
            after,
        );
    }

    fn hibernate_db(&mut self, db: &DbObs, generation: u64, obs: &Observation, drained: &[usize]) {
        let record = self
            .plan
            .manifest
            .db_instances
            .get_mut(&db.id)
            .expect("record_missing recorded every observed instance");
        // Reuse a recorded name whose snapshot does not exist yet: it was recorded ahead of a
        // delete that never happened (crash). Keep the recorded name while the instance is being
        // deleted: that delete is writing it. Any other name that exists belongs to an earlier
        // cycle and must not be reused (RDS would refuse it) nor ever deleted.
        let snapshot = match &record.snapshot {
            Some(name) if db.status == "deleting" => name.clone(),
            Some(name) if obs.snapshot(name).is_none() => name.clone(),
            _ => final_snapshot_name(&db.id, generation),
        };
        record.snapshot = Some(snapshot.clone());

        let status = db.status.as_str();
        let mut after = drained.to_vec();
        if DB_DELETABLE.contains(&status) {
            after = vec![self.push(
                Action::DeleteDb {
                    id: db.id.clone(),
                    final_snapshot: snapshot.clone(),
                },
                after,
            )];
        } else if status != "deleting" {
            after = vec![self.push(
                Action::AwaitDb {
                    id: db.id.clone(),
                    status: "available".into(),
                },
                vec![],
            )];
            after = vec![self.push(
                Action::DeleteDb {
                    id: db.id.clone(),
                    final_snapshot: snapshot.clone(),
                },
                after,
            )];
        }
        let gone = self.push(
            Action::AwaitDb {
                id: db.id.clone(),
                status: "deleted".into(),
            },
            after,
        );
        self.push(Action::AwaitSnapshot { id: snapshot }, vec![gone]);
    }

    fn resume(&mut self, obs: &Observation, spec: Option<&EphemeralSpec>) {
        // Moved out, not cloned (a resume never changes the records) and put back at the end.
        let manifest = std::mem::take(&mut self.plan.manifest);
        let mut alarm_steps = Vec::new();
        let mut infra_ready = self.resume_ephemeral(&manifest, obs, spec, &mut alarm_steps);

        // Databases: everything the manifest remembers plus everything observed.
        let mut ids: Vec<&String> = manifest.db_instances.keys().collect();
        for db in &obs.db_instances {
            if !manifest.db_instances.contains_key(&db.id) {
                ids.push(&db.id);
            }
        }
        let by_id: std::collections::HashMap<&str, &DbObs> = obs
            .db_instances
            .iter()
            .map(|d| (d.id.as_str(), d))
            .collect();
        for id in ids {
            let db = by_id.get(id.as_str()).copied();
            if let Some(step) = self.resume_db(id, db, manifest.db_instances.get(id), obs) {
                infra_ready.push(step);
            }
        }

        // Services come back only once everything they depend on is available again.
        let ready_gate = self.join(
            infra_ready,
            "every database, load balancer and cluster is ready and published",
        );
        let by_key: std::collections::HashMap<(&str, &str), &ServiceObs> = obs
            .services
            .iter()
            .map(|s| ((s.cluster.as_str(), s.name.as_str()), s))
            .collect();
        for (key, record) in &manifest.services {
            let Some((cluster, service)) = split_service_key(key) else {
                continue;
            };
            let Some(svc) = by_key.get(&(cluster, service)).copied() else {
                self.note(
                    format!("ecs:{key}"),
                    "service no longer exists; nothing to restore".into(),
                );
                continue;
            };
            let mut last = ready_gate.clone();
            let (cluster_name, service_name): (Name, Name) = (cluster.into(), service.into());
            if svc.desired != record.desired {
                last = vec![self.push(
                    Action::SetDesiredCount {
                        cluster: cluster_name.clone(),
                        service: service_name.clone(),
                        count: record.desired,
                    },
                    last,
                )];
            }
            let rid = scalable_resource_id(cluster, service);
            if let Some(bounds) = record.bounds
                && obs.scalable_targets.get(&rid) != Some(&bounds)
            {
                last = vec![self.push(
                    Action::SetScalingBounds {
                        cluster: cluster_name.clone(),
                        service: service_name.clone(),
                        min: bounds.min,
                        max: bounds.max,
                    },
                    last,
                )];
            }
            if svc.desired != record.desired || svc.running != record.desired || svc.pending != 0 {
                last = vec![self.push(
                    Action::AwaitServiceCount {
                        cluster: cluster_name.clone(),
                        service: service_name.clone(),
                        count: record.desired,
                    },
                    last,
                )];
            }
            alarm_steps.extend(last);
        }

        // The alarms the pause muted, once the services run again (and the alarms point at
        // the load balancer that exists).
        let unmute: Vec<String> = manifest
            .alarms_muted
            .iter()
            .filter(|n| {
                obs.alarms.get(*n).is_some_and(|a| {
                    // Off now, or being re-pointed (with its actions off) by this plan.
                    let current = obs
                        .load_balancers
                        .get(&a.load_balancer)
                        .and_then(|h| lb_dimension(&h.arn));
                    !a.actions_enabled || current != Some(a.dimension.as_str())
                })
            })
            .cloned()
            .collect();
        if !unmute.is_empty() {
            let after = self.join(alarm_steps, "the services are back and alarms re-pointed");
            self.push(
                Action::SetAlarmActions {
                    names: unmute,
                    enabled: true,
                },
                after,
            );
        }

        // Back to running with nothing left to do: forget the records, so that the next pause
        // records the values the stack has then.
        if !self.plan.is_converged() {
            self.plan.manifest = manifest;
        }
    }

    /// Returns the id of the step after which this instance is as recorded (if any is needed).
    ///
    /// A database that was stopped before the pause stays stopped (a resume never starts what
    /// the pause did not stop); restored from its final snapshot (it comes back available), it
    /// is brought to its record and stopped again.
    fn resume_db(
        &mut self,
        id: &str,
        db: Option<&DbObs>,
        record: Option<&DbRecord>,
        obs: &Observation,
    ) -> Option<usize> {
        let await_status = |b: &mut Self, status: &str, after: Vec<usize>| {
            b.push(
                Action::AwaitDb {
                    id: id.into(),
                    status: status.into(),
                },
                after,
            )
        };
        let was_stopped = record.is_some_and(|r| r.stopped);
        let restored = record.is_some_and(|r| r.snapshot.is_some());
        match db.map(|d| d.status.as_str()) {
            Some("available") if was_stopped && !restored => {
                self.note(
                    format!("rds:{id}"),
                    "was stopped before the pause and has been started since: left as it is".into(),
                );
                None
            }
            Some("available") => {
                if let Some(step) = self.match_record(id, db, record) {
                    return Some(step);
                }
                if !was_stopped {
                    return None;
                }
                let stop = self.push(Action::StopDb { id: id.into() }, vec![]);
                Some(await_status(self, "stopped", vec![stop]))
            }
            Some("stopped") if was_stopped => None,
            Some("stopped") => {
                let start = self.push(Action::StartDb { id: id.into() }, vec![]);
                Some(await_status(self, "available", vec![start]))
            }
            Some("stopping") => {
                let stopped = await_status(self, "stopped", vec![]);
                if was_stopped {
                    return Some(stopped);
                }
                let start = self.push(Action::StartDb { id: id.into() }, vec![stopped]);
                Some(await_status(self, "available", vec![start]))
            }
            Some("deleting") => {
                let gone = await_status(self, "deleted", vec![]);
                self.restore_db(id, record, obs, vec![gone])
            }
            Some(_) => Some(await_status(self, "available", vec![])),
            None => self.restore_db(id, record, obs, vec![]),
        }
    }

    /// An available instance restored by costctl: every recorded field as recorded. What
    /// `ModifyDBInstance` can set is set (then the instance is awaited again); what it cannot
    /// is a problem naming the field.
    fn match_record(
        &mut self,
        id: &str,
        db: Option<&DbObs>,
        record: Option<&DbRecord>,
    ) -> Option<usize> {
        let (db, record) = (db?, record?);
        record.snapshot.as_ref()?;
        let d = db_differences(&db.spec, &record.spec);
        if !d.fixed.is_empty() {
            self.problem(
                format!("rds:{id}"),
                format!(
                    "the restored instance differs from its record in {}, which cannot be changed on it",
                    d.fixed.join(", ")
                ),
            );
        }
        // A field RDS has a pending modification for was asked for already (by our
        // ModifyDBInstance, applied immediately, or by someone else): wait for it rather than
        // ask again; the next pass compares what RDS then applied.
        let (pending, modifiable): (Vec<String>, Vec<String>) = d
            .modifiable
            .into_iter()
            .partition(|f| db.pending.contains(f));
        if modifiable.is_empty() {
            if pending.is_empty() {
                return None;
            }
            return Some(self.push(
                Action::AwaitDbModified {
                    id: id.into(),
                    fields: pending,
                },
                vec![],
            ));
        }
        let modify = self.push(
            Action::ModifyDb {
                id: id.into(),
                spec: Box::new(record.spec.clone()),
                fields: modifiable,
            },
            vec![],
        );
        Some(self.push(
            Action::AwaitDb {
                id: id.into(),
                status: "available".into(),
            },
            vec![modify],
        ))
    }

    fn restore_db(
        &mut self,
        id: &str,
        record: Option<&DbRecord>,
        obs: &Observation,
        mut after: Vec<usize>,
    ) -> Option<usize> {
        let resource = format!("rds:{id}");
        let Some(record) = record else {
            self.problem(
                resource,
                "instance does not exist and nothing is recorded".into(),
            );
            return None;
        };
        let Some(snapshot) = &record.snapshot else {
            self.problem(
                resource,
                "instance does not exist and no snapshot is recorded to restore it from".into(),
            );
            return None;
        };
        match obs.snapshot(snapshot).map(|s| s.status.as_str()) {
            Some("available") => {}
            Some(_) => after.push(self.push(
                Action::AwaitSnapshot {
                    id: snapshot.clone(),
                },
                vec![],
            )),
            None if after.is_empty() => {
                self.problem(
                    resource,
                    format!("instance does not exist and its snapshot {snapshot} is missing"),
                );
                return None;
            }
            // Still deleting: the final snapshot appears once the delete finishes.
            None => after.push(self.push(
                Action::AwaitSnapshot {
                    id: snapshot.clone(),
                },
                vec![],
            )),
        }
        let restore = self.push(
            Action::RestoreDb {
                id: id.into(),
                snapshot: snapshot.clone(),
                spec: Box::new(record.spec.clone()),
            },
            after,
        );
        Some(self.push(
            Action::AwaitDb {
                id: id.into(),
                status: "available".into(),
            },
            vec![restore],
        ))
    }
}

/// The ephemeral tier: ALBs and MSK Serverless clusters.
impl Builder {
    /// After the services are drained: delete the load balancers (unless deletion protection is
    /// on) and, where the policy says so, the MSK clusters. Their specs were recorded by
    /// `record_missing` before this plan is executed (write-ahead).
    ///
    /// Lossless or kept: a load balancer that a resume could not recreate exactly (see
    /// [`lb_recreation_blockers`]) is kept, and a note names every field that prevents it.
    fn pause_ephemeral(
        &mut self,
        goal: &Goal,
        obs: &Observation,
        spec: Option<&EphemeralSpec>,
        drained: &[usize],
    ) {
        // First of all, so that draining the services pages nobody.
        let mute: Vec<String> = obs
            .alarms
            .values()
            .filter(|a| a.actions_enabled && a.of_stack)
            .map(|a| a.name.clone())
            .collect();
        if !mute.is_empty() {
            self.push(
                Action::SetAlarmActions {
                    names: mute,
                    enabled: false,
                },
                vec![],
            );
        }
        for (name, lb) in &obs.load_balancers {
            if lb.deletion_protection {
                self.note(
                    format!("alb:{name}"),
                    "deletion protection is on: the load balancer is kept, not deleted (it keeps costing)"
                        .into(),
                );
                continue;
            }
            let given = spec.and_then(|s| s.load_balancers.iter().find(|l| &l.name == name));
            let mut blockers = lb_recreation_blockers(lb, given.unwrap_or(&lb.spec));
            // An alarm that cannot be re-pointed would watch nothing after a recreation.
            blockers.extend(
                obs.alarms
                    .values()
                    .filter(|a| &a.load_balancer == name && !a.unsupported.is_empty())
                    .map(|a| {
                        format!(
                            "CloudWatch alarm {} cannot be re-pointed at a new load balancer ({})",
                            a.name,
                            a.unsupported.join("; ")
                        )
                    }),
            );
            if !blockers.is_empty() {
                self.note(
                    format!("alb:{name}"),
                    format!(
                        "kept, not deleted (it keeps costing): {}",
                        blockers.join("; ")
                    ),
                );
                continue;
            }
            self.push(
                Action::DeleteLoadBalancer {
                    name: name.clone(),
                    arn: lb.arn.clone(),
                },
                drained.to_vec(),
            );
        }
        for (name, c) in &obs.kafka_clusters {
            if goal.policy.msk_on_pause == MskOnPause::Keep {
                if c.state != "DELETING" {
                    self.note(
                        format!("msk:{name}"),
                        "kept: policy msk_on_pause is `keep` (deleting loses topics and messages)"
                            .into(),
                    );
                }
                continue;
            }
            if !c.unsupported.is_empty() && c.state != "DELETING" {
                self.note(
                    format!("msk:{name}"),
                    format!(
                        "kept, not deleted (it keeps costing): {}",
                        c.unsupported.join("; ")
                    ),
                );
                continue;
            }
            let await_state = |b: &mut Self, state: &str, after: Vec<usize>| {
                b.push(
                    Action::AwaitKafkaCluster {
                        name: name.clone(),
                        state: state.into(),
                    },
                    after,
                )
            };
            let delete = Action::DeleteKafkaCluster {
                name: name.clone(),
                arn: c.arn.clone(),
            };
            match c.state.as_str() {
                "DELETING" => {
                    await_state(self, "deleted", vec![]);
                }
                "CREATING" | "UPDATING" => {
                    let active = await_state(self, "ACTIVE", vec![]);
                    let mut after = drained.to_vec();
                    after.push(active);
                    let d = self.push(delete, after);
                    await_state(self, "deleted", vec![d]);
                }
                _ => {
                    let d = self.push(delete, drained.to_vec());
                    await_state(self, "deleted", vec![d]);
                }
            }
        }
    }

    /// Creates / completes the load balancers and clusters, then publishes their endpoints.
    /// Returns the steps the services must wait for.
    fn resume_ephemeral(
        &mut self,
        manifest: &Manifest,
        obs: &Observation,
        spec: Option<&EphemeralSpec>,
        alarm_steps: &mut Vec<usize>,
    ) -> Vec<usize> {
        let mut ready = Vec::new();

        let mut lb_names: BTreeSet<&String> = manifest.load_balancers.keys().collect();
        lb_names.extend(obs.load_balancers.keys());
        if let Some(s) = spec {
            lb_names.extend(s.load_balancers.iter().map(|l| &l.name));
        }
        for name in lb_names {
            let given = spec.and_then(|s| s.load_balancers.iter().find(|l| &l.name == name));
            let want = given.or_else(|| manifest.load_balancers.get(name));
            let have = obs.load_balancers.get(name);
            let resource = format!("alb:{name}");
            let mut after = Vec::new();
            match (have, want) {
                (Some(h), Some(w)) => {
                    let d = lb_differences(&h.spec, w);
                    if !d.fixed.is_empty() {
                        self.problem(
                            resource,
                            format!(
                                "differs from its spec in {}, which costctl does not change in place: delete the spec (delete-spec) and apply it again to recreate the load balancer",
                                d.fixed.join(", ")
                            ),
                        );
                        continue;
                    }
                    if !d.in_place.is_empty() {
                        after = vec![self.push(
                            Action::ApplyLoadBalancer {
                                spec: Box::new(w.clone()),
                            },
                            vec![],
                        )];
                    }
                    if h.state != "active" {
                        after = vec![
                            self.push(Action::AwaitLoadBalancer { name: name.clone() }, after),
                        ];
                    }
                }
                (None, Some(w)) => {
                    let apply = self.push(
                        Action::ApplyLoadBalancer {
                            spec: Box::new(w.clone()),
                        },
                        vec![],
                    );
                    after = vec![self.push(
                        Action::AwaitLoadBalancer { name: name.clone() },
                        vec![apply],
                    )];
                }
                (Some(h), None) => {
                    if h.state != "active" {
                        after = vec![
                            self.push(Action::AwaitLoadBalancer { name: name.clone() }, vec![]),
                        ];
                    }
                }
                (None, None) => continue,
            }
            // Alarms on the old load balancer's ID: at the one that exists once `after` is
            // done (its ID is read when the step runs). Those the pause muted stay muted
            // until the services are back.
            let current = have.and_then(|h| lb_dimension(&h.arn));
            for a in obs.alarms.values().filter(|a| &a.load_balancer == name) {
                if current == Some(a.dimension.as_str()) {
                    continue;
                }
                if !a.unsupported.is_empty() {
                    self.problem(
                        resource.clone(),
                        format!(
                            "CloudWatch alarm {} names {} and cannot be re-pointed ({})",
                            a.name,
                            a.dimension,
                            a.unsupported.join("; ")
                        ),
                    );
                    continue;
                }
                alarm_steps.push(self.push(
                    Action::PointAlarm {
                        name: a.name.clone(),
                        load_balancer: name.clone(),
                        definition: Box::new(a.definition.clone()),
                        actions_enabled: a.actions_enabled
                            && !manifest.alarms_muted.contains(&a.name),
                    },
                    after.clone(),
                ));
            }
            if let Some(w) = want {
                let dns = have.map(|h| normalise_dns(&h.dns_name));
                if let Some(param) = &w.dns_name_parameter {
                    let current = obs.parameters.get(param).map(|v| normalise_dns(v));
                    if dns.is_none() || current != dns {
                        ready.push(self.push(
                            Action::PublishLoadBalancerDns {
                                load_balancer: name.clone(),
                                parameter: param.clone(),
                            },
                            after.clone(),
                        ));
                    }
                }
                for alias in &w.aliases {
                    let current = obs.aliases.get(&alias_key(&alias.zone_id, &alias.name));
                    let pointed =
                        dns.is_some() && current.is_some_and(|c| c.a == dns && c.aaaa == dns);
                    if !pointed {
                        ready.push(self.push(
                            Action::UpsertAlias {
                                load_balancer: name.clone(),
                                zone_id: alias.zone_id.clone(),
                                name: alias.name.clone(),
                            },
                            after.clone(),
                        ));
                    }
                }
            }
            ready.extend(after);
        }

        let mut msk_names: BTreeSet<&String> = manifest.kafka_clusters.keys().collect();
        msk_names.extend(obs.kafka_clusters.keys());
        if let Some(s) = spec {
            msk_names.extend(s.kafka_clusters.iter().map(|c| &c.name));
        }
        for name in msk_names {
            let given = spec.and_then(|s| s.kafka_clusters.iter().find(|c| &c.name == name));
            let want = given.or_else(|| manifest.kafka_clusters.get(name));
            let have = obs.kafka_clusters.get(name);
            let resource = format!("msk:{name}");
            let await_state = |b: &mut Self, state: &str, after: Vec<usize>| {
                b.push(
                    Action::AwaitKafkaCluster {
                        name: name.clone(),
                        state: state.into(),
                    },
                    after,
                )
            };
            let create = |b: &mut Self, w: &KafkaClusterSpec, after: Vec<usize>| {
                b.push(
                    Action::CreateKafkaCluster {
                        spec: Box::new(w.clone()),
                    },
                    after,
                )
            };
            let mut after = Vec::new();
            match (have.map(|c| c.state.as_str()), want) {
                (Some("ACTIVE"), _) => {
                    if let (Some(h), Some(g)) = (have, given) {
                        let d = kafka_differences(&h.spec, g);
                        if !d.fixed.is_empty() {
                            self.problem(
                                resource,
                                format!(
                                    "differs from its spec in {}, which MSK Serverless cannot change: delete the spec (delete-spec) and apply it again to recreate the cluster",
                                    d.fixed.join(", ")
                                ),
                            );
                            continue;
                        }
                        if !d.in_place.is_empty() {
                            self.note(
                                resource,
                                format!(
                                    "differs from its spec in {}; costctl does not change an existing cluster",
                                    d.in_place.join(", ")
                                ),
                            );
                        }
                    }
                }
                (Some("CREATING" | "UPDATING"), _) => {
                    after = vec![await_state(self, "ACTIVE", vec![])];
                }
                (Some("DELETING"), Some(w)) => {
                    let gone = await_state(self, "deleted", vec![]);
                    let c = create(self, w, vec![gone]);
                    after = vec![await_state(self, "ACTIVE", vec![c])];
                }
                (Some("DELETING"), None) => continue,
                (Some(other), _) => {
                    self.problem(
                        resource,
                        format!("cluster is {other}: it needs a person (delete it, then resume)"),
                    );
                    continue;
                }
                (None, Some(w)) => {
                    let c = create(self, w, vec![]);
                    after = vec![await_state(self, "ACTIVE", vec![c])];
                }
                (None, None) => continue,
            }
            if let Some(param) = want.and_then(|w| w.bootstrap_parameter.as_ref()) {
                let boot = have
                    .filter(|c| c.state == "ACTIVE")
                    .and_then(|c| c.bootstrap.as_ref());
                if boot.is_none() || obs.parameters.get(param) != boot {
                    ready.push(self.push(
                        Action::PublishKafkaBootstrap {
                            cluster: name.clone(),
                            parameter: param.clone(),
                        },
                        after.clone(),
                    ));
                }
            }
            ready.extend(after);
        }
        ready
    }
}
