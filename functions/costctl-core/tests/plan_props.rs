//! Property tests of the planner over random observed stacks.
//!
//! A small model of AWS applies each executed step's effect to the observation and lets time
//! pass (stopping → stopped, tasks drain…). The properties are the safety rules of DESIGN.md and
//! convergence: executing plans and re-planning always reaches an empty plan.

use costctl_core::manifest::Manifest;
use costctl_core::observation::{
    Bounds, DbObs, DbSpec, Observation, ServiceObs, SnapshotObs, scalable_resource_id,
};
use costctl_core::plan::{Action, Goal, Policy, RdsOnPause, plan};
use costctl_core::state::DesiredState;
use proptest::prelude::*;
use std::collections::BTreeMap;

/// Applies an executed action, as AWS would accept it (or reject it: `Err`).
fn apply(obs: &mut Observation, action: &Action) -> Result<(), String> {
    match action {
        Action::SetScalingBounds {
            cluster,
            service,
            min,
            max,
        } => {
            obs.scalable_targets.insert(
                scalable_resource_id(cluster, service),
                Bounds {
                    min: *min,
                    max: *max,
                },
            );
        }
        Action::SetDesiredCount {
            cluster,
            service,
            count,
        } => {
            let svc = obs
                .services
                .iter_mut()
                .find(|s| &s.cluster == cluster && &s.name == service)
                .ok_or("no such service")?;
            svc.desired = *count;
        }
        Action::StopDb { id } => {
            let db = db_mut(obs, id)?;
            if db.status != "available" {
                return Err(format!("cannot stop {id} in state {}", db.status));
            }
            db.status = "stopping".into();
        }
        Action::StartDb { id } => {
            let db = db_mut(obs, id)?;
            if db.status != "stopped" {
                return Err(format!("cannot start {id} in state {}", db.status));
            }
            db.status = "starting".into();
        }
        Action::DeleteDb { id, final_snapshot } => {
            if obs.snapshot(final_snapshot).is_some() {
                return Err(format!("snapshot {final_snapshot} already exists"));
            }
            let db = db_mut(obs, id)?;
            if db.deletion_protection {
                return Err("deletion protection".into());
            }
            if !matches!(db.status.as_str(), "available" | "stopped") {
                return Err(format!("cannot delete {id} in state {}", db.status));
            }
            db.status = "deleting".into();
            obs.db_snapshots.push(SnapshotObs {
                id: final_snapshot.clone(),
                instance_id: id.clone(),
                status: "creating".into(),
            });
        }
        Action::RestoreDb { id, snapshot, spec } => {
            if obs.db(id).is_some() {
                return Err(format!("{id} already exists"));
            }
            match obs.snapshot(snapshot) {
                Some(s) if s.status == "available" => {}
                _ => return Err(format!("snapshot {snapshot} not available")),
            }
            obs.db_instances.push(DbObs {
                id: id.clone(),
                status: "creating".into(),
                deletion_protection: false,
                spec: (**spec).clone(),
            });
        }
        Action::AwaitServiceCount { .. }
        | Action::AwaitDb { .. }
        | Action::AwaitSnapshot { .. } => {
            return Err("gates are never executed".into());
        }
    }
    Ok(())
}

fn db_mut<'a>(obs: &'a mut Observation, id: &str) -> Result<&'a mut DbObs, String> {
    obs.db_instances
        .iter_mut()
        .find(|d| d.id == id)
        .ok_or_else(|| format!("no instance {id}"))
}

/// Lets time pass: every transition in progress completes.
fn settle(obs: &mut Observation) {
    for svc in &mut obs.services {
        svc.running = svc.desired;
        svc.pending = 0;
    }
    obs.db_instances.retain(|d| d.status != "deleting");
    for db in &mut obs.db_instances {
        db.status = match db.status.as_str() {
            "stopping" => "stopped".into(),
            "starting" | "creating" | "modifying" | "backing-up" => "available".into(),
            other => other.into(),
        };
    }
    for snap in &mut obs.db_snapshots {
        snap.status = "available".into();
    }
}

fn arb_service(i: usize) -> impl Strategy<Value = (ServiceObs, Option<Bounds>)> {
    (0u32..5, 0u32..5, any::<bool>(), 0u32..3, 0u32..4).prop_map(
        move |(desired, running, scaled, min, extra)| {
            let svc = ServiceObs {
                cluster: format!("c{}", i % 3),
                name: format!("svc{i}"),
                desired,
                running,
                pending: 0,
                status: "ACTIVE".into(),
            };
            (
                svc,
                scaled.then_some(Bounds {
                    min,
                    max: min + extra,
                }),
            )
        },
    )
}

fn arb_db(i: usize) -> impl Strategy<Value = DbObs> {
    (
        prop_oneof![
            Just("available"),
            Just("stopped"),
            Just("stopping"),
            Just("starting"),
            Just("backing-up")
        ],
        any::<bool>(),
    )
        .prop_map(move |(status, protected)| DbObs {
            id: format!("db{i}"),
            status: status.into(),
            deletion_protection: protected,
            spec: DbSpec {
                instance_class: "db.t4g.micro".into(),
                engine: "postgres".into(),
                security_groups: vec![format!("sg-{i}")],
                tags: BTreeMap::from([("Project".into(), "p".into())]),
                ..DbSpec::default()
            },
        })
}

fn arb_observation() -> impl Strategy<Value = Observation> {
    (0usize..8, 0usize..4).prop_flat_map(|(n, m)| {
        let services: Vec<_> = (0..n).map(arb_service).collect();
        let dbs: Vec<_> = (0..m).map(arb_db).collect();
        (services, dbs).prop_map(|(services, db_instances)| {
            let mut obs = Observation {
                db_instances,
                ..Observation::default()
            };
            for (svc, bounds) in services {
                if let Some(b) = bounds {
                    obs.scalable_targets
                        .insert(scalable_resource_id(&svc.cluster, &svc.name), b);
                }
                obs.services.push(svc);
            }
            obs
        })
    })
}

fn arb_goal() -> impl Strategy<Value = Goal> {
    (
        prop_oneof![
            Just(DesiredState::Running),
            Just(DesiredState::Paused),
            Just(DesiredState::Hibernated)
        ],
        1u64..5,
        any::<bool>(),
    )
        .prop_map(|(desired, generation, snap)| Goal {
            desired,
            generation,
            policy: Policy {
                rds_on_pause: if snap {
                    RdsOnPause::Snapshot
                } else {
                    RdsOnPause::Stop
                },
                ..Policy::default()
            },
        })
}

/// Runs plans until converged. Every executed action must be accepted by the model, and the
/// safety properties are checked on every plan. Returns the final observation and manifest.
fn drive(goal: &Goal, mut obs: Observation, mut manifest: Manifest) -> (Observation, Manifest) {
    for _round in 0..12 {
        let p = plan(goal, &obs, &manifest);
        check_safety(goal, &obs, &manifest, &p.manifest, &p);
        manifest = p.manifest.clone();
        if p.is_converged() {
            return (obs, manifest);
        }
        let mut done = Vec::new();
        loop {
            let ready: Vec<_> = p.ready(&done).cloned().collect();
            if ready.is_empty() {
                break;
            }
            for step in ready {
                apply(&mut obs, &step.action)
                    .unwrap_or_else(|e| panic!("AWS would reject {}: {e}", step.action));
                done.push(step.id);
            }
        }
        settle(&mut obs);
    }
    panic!("did not converge to {:?}: {obs:#?}", goal.desired);
}

fn check_safety(
    goal: &Goal,
    obs: &Observation,
    before: &Manifest,
    after: &Manifest,
    p: &costctl_core::Plan,
) {
    // A recorded count or bound is never replaced by another value while the stack is paused.
    if goal.desired.is_down() {
        for (key, rec) in &before.services {
            assert_eq!(
                after.services.get(key),
                Some(rec),
                "record of {key} changed during a pause"
            );
        }
    }
    for step in &p.steps {
        match &step.action {
            // Never delete an instance without a final snapshot recorded ahead of the call.
            Action::DeleteDb { id, final_snapshot } => {
                let rec = after
                    .db_instances
                    .get(id)
                    .expect("instance recorded before delete");
                assert_eq!(rec.snapshot.as_deref(), Some(final_snapshot.as_str()));
                assert!(
                    !obs.db(id).unwrap().deletion_protection,
                    "deletion-protected {id} deleted"
                );
            }
            // Scaling to zero never happens before the count is recorded.
            Action::SetDesiredCount {
                cluster,
                service,
                count: 0,
            }
            | Action::SetScalingBounds {
                cluster,
                service,
                max: 0,
                ..
            } => {
                assert!(after.services.contains_key(&format!("{cluster}/{service}")));
            }
            _ => {}
        }
        assert!(
            step.after.iter().all(|d| *d < step.id),
            "dependencies point backwards"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_goal_converges_safely(goal in arb_goal(), obs in arb_observation()) {
        drive(&goal, obs, Manifest::default());
    }

    /// Pause then resume gives back exactly the counts, bounds and instances of before.
    #[test]
    fn pause_resume_round_trip(
        obs in arb_observation(),
        level in prop_oneof![Just(DesiredState::Paused), Just(DesiredState::Hibernated)],
        gen_ in 1u64..100,
    ) {
        let mut start = obs;
        settle(&mut start); // a running stack is settled
        for db in &mut start.db_instances { db.status = "available".into(); }
        let pause = Goal { desired: level, generation: gen_, policy: Policy::default() };
        let (paused, manifest) = drive(&pause, start.clone(), Manifest::default());
        for svc in &paused.services {
            prop_assert_eq!(svc.desired, 0);
            prop_assert_eq!(svc.running, 0);
        }
        for b in paused.scalable_targets.values() {
            prop_assert_eq!((b.min, b.max), (0, 0));
        }
        for db in &paused.db_instances {
            prop_assert!(db.status == "stopped");
            prop_assert!(level == DesiredState::Paused || db.deletion_protection);
        }
        let resume = Goal { desired: DesiredState::Running, generation: gen_ + 1, policy: Policy::default() };
        let (resumed, manifest) = drive(&resume, paused, manifest);
        prop_assert!(manifest.is_empty());
        prop_assert_eq!(&resumed.services, &start.services);
        prop_assert_eq!(&resumed.scalable_targets, &start.scalable_targets);
        let mut a: Vec<_> = resumed.db_instances.iter().map(|d| (d.id.clone(), d.status.clone(), d.spec.clone())).collect();
        let mut b: Vec<_> = start.db_instances.iter().map(|d| (d.id.clone(), d.status.clone(), d.spec.clone())).collect();
        a.sort_by(|x, y| x.0.cmp(&y.0)); b.sort_by(|x, y| x.0.cmp(&y.0));
        prop_assert_eq!(a, b);
    }

    /// Planning is idempotent on a converged stack: a second pause changes nothing.
    #[test]
    fn second_pause_is_a_no_op(obs in arb_observation(), goal in arb_goal()) {
        let (obs, manifest) = drive(&goal, obs, Manifest::default());
        let again = plan(&goal, &obs, &manifest);
        prop_assert!(again.is_converged());
        prop_assert_eq!(again.manifest, manifest);
    }
}

#[test]
fn hibernate_with_deletion_protection_stops_and_says_why() {
    let obs = Observation {
        db_instances: vec![DbObs {
            id: "db".into(),
            status: "available".into(),
            deletion_protection: true,
            spec: DbSpec::default(),
        }],
        ..Observation::default()
    };
    let goal = Goal {
        desired: DesiredState::Hibernated,
        generation: 1,
        policy: Policy::default(),
    };
    let p = plan(&goal, &obs, &Manifest::default());
    assert!(
        p.steps
            .iter()
            .any(|s| s.action == Action::StopDb { id: "db".into() })
    );
    assert!(
        !p.steps
            .iter()
            .any(|s| matches!(s.action, Action::DeleteDb { .. }))
    );
    assert!(p.notes[0].message.contains("deletion protection"));
}

#[test]
fn missing_instance_without_snapshot_is_a_problem_not_a_step() {
    let mut manifest = Manifest::default();
    manifest.db_instances.insert(
        "db".into(),
        costctl_core::manifest::DbRecord {
            spec: DbSpec::default(),
            snapshot: None,
        },
    );
    let goal = Goal {
        desired: DesiredState::Running,
        generation: 2,
        policy: Policy::default(),
    };
    let p = plan(&goal, &Observation::default(), &manifest);
    assert!(p.steps.is_empty());
    assert_eq!(p.problems.len(), 1);
    assert!(p.problems[0].message.contains("no snapshot"));
    assert!(!p.is_converged());
}
