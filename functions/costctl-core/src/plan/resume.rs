//! The resume: the ephemeral tier and the databases first (restored, brought back to their
//! record, stopped again if they were stopped), then the services with their recorded counts
//! and bounds, then the alarms the pause muted.

use super::{Action, Builder, DbGate, Name};
use crate::manifest::DbRecord;
use crate::observation::{DbObs, Observation, ServiceObs, scalable_resource_id, split_service_key};
use crate::restore::db_differences;
use crate::spec::EphemeralSpec;

impl Builder {
    pub(super) fn resume(
        &mut self,
        generation: u64,
        obs: &Observation,
        spec: Option<&EphemeralSpec>,
    ) {
        // Moved out, not cloned (a resume changes no record, only adds create tokens) and put
        // back at the end.
        let mut manifest = std::mem::take(&mut self.plan.manifest);
        let mut alarm_steps = Vec::new();
        let mut infra_ready = self.resume_ephemeral(&manifest, obs, spec, &mut alarm_steps);
        // Tasks in private subnets pull images and read secrets through these.
        let (network_ready, create_tokens) = self.resume_network(generation, &manifest, obs, spec);
        infra_ready.extend(network_ready);

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
            "every database, load balancer, cluster, NAT gateway and endpoint is ready and published",
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
                    !a.actions_enabled || !obs.alarm_points_at_live(a)
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
            // The one thing a resume records: the tokens of the creates it sends.
            manifest.create_tokens.extend(create_tokens);
            self.plan.manifest = manifest;
        }
    }

    /// Returns the id of the step after which this instance is as recorded (if any is needed).
    ///
    /// A database that was stopped before the pause stays stopped (a resume never starts what
    /// the pause did not stop); restored from its final snapshot (it comes back available), it
    /// is brought to its record and stopped again.
    pub(super) fn resume_db(
        &mut self,
        id: &str,
        db: Option<&DbObs>,
        record: Option<&DbRecord>,
        obs: &Observation,
    ) -> Option<usize> {
        let await_status = |b: &mut Self, status: DbGate, after: Vec<usize>| {
            b.push(
                Action::AwaitDb {
                    id: id.into(),
                    status,
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
                Some(await_status(self, DbGate::Stopped, vec![stop]))
            }
            Some("stopped") if was_stopped => None,
            Some("stopped") => {
                let start = self.push(Action::StartDb { id: id.into() }, vec![]);
                Some(await_status(self, DbGate::Available, vec![start]))
            }
            Some("stopping") => {
                let stopped = await_status(self, DbGate::Stopped, vec![]);
                if was_stopped {
                    return Some(stopped);
                }
                let start = self.push(Action::StartDb { id: id.into() }, vec![stopped]);
                Some(await_status(self, DbGate::Available, vec![start]))
            }
            Some("deleting") => {
                let gone = await_status(self, DbGate::Deleted, vec![]);
                self.restore_db(id, record, obs, vec![gone])
            }
            Some(_) => Some(await_status(self, DbGate::Available, vec![])),
            None => self.restore_db(id, record, obs, vec![]),
        }
    }

    /// An available instance restored by costctl: every recorded field as recorded. What
    /// `ModifyDBInstance` can set is set (then the instance is awaited again); what it cannot
    /// is a problem naming the field.
    pub(super) fn match_record(
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
                status: DbGate::Available,
            },
            vec![modify],
        ))
    }

    pub(super) fn restore_db(
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
                status: DbGate::Available,
            },
            vec![restore],
        ))
    }
}
