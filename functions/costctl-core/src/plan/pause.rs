//! The pause and hibernation: drain the services, stop or hibernate the databases (with the
//! final snapshot written ahead in the manifest), then the ephemeral tier.

use super::{Action, Builder, DbGate, Goal, Name, RdsOnPause, final_snapshot_name};
use crate::manifest::DbRecord;
use crate::observation::{DbObs, Observation, ServiceObs, scalable_resource_id};
use crate::spec::EphemeralSpec;
use crate::state::DesiredState;

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

impl Builder {
    pub(super) fn pause(
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
                self.kept(format!("rds:{}", db.id), why);
                self.stop_db(db, &drained);
            } else {
                self.hibernate_db(db, goal.generation, obs, &drained);
            }
        }
        self.pause_ephemeral(goal, obs, spec, &drained);
        self.pause_network(goal, obs, &drained);

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
    pub(super) fn drain_service(&mut self, svc: &ServiceObs, obs: &Observation) -> Option<usize> {
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

    pub(super) fn stop_db(&mut self, db: &DbObs, drained: &[usize]) {
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
                    status: DbGate::Available,
                },
                vec![],
            )];
            after = vec![self.push(Action::StopDb { id: db.id.clone() }, after)];
        }
        self.push(
            Action::AwaitDb {
                id: db.id.clone(),
                status: DbGate::Stopped,
            },
            after,
        );
    }

    pub(super) fn hibernate_db(
        &mut self,
        db: &DbObs,
        generation: u64,
        obs: &Observation,
        drained: &[usize],
    ) {
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
                    status: DbGate::Available,
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
                status: DbGate::Deleted,
            },
            after,
        );
        self.push(Action::AwaitSnapshot { id: snapshot }, vec![gone]);
    }
}
