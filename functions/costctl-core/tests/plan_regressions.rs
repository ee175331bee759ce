//! Planner regressions found by the simulation (costctl-sim), as plain examples.

use costctl_core::manifest::{DbRecord, Manifest};
use costctl_core::observation::{DbObs, DbSpec, Observation, SnapshotObs};
use costctl_core::plan::{Action, Goal, Policy, plan};
use costctl_core::state::DesiredState;

/// Seed 8: a second pause request (generation 2) arrives while the hibernation of generation 1
/// is deleting the instance into `db0-costctl-g1`. The planner used to record a new name
/// (`…-g2`, which never comes to exist) over the one being written: the manifest then pointed
/// at a missing snapshot and the resume could not restore the instance.
#[test]
fn a_pause_during_a_delete_keeps_the_snapshot_being_written() {
    let manifest = Manifest {
        db_instances: [(
            "db0".to_string(),
            DbRecord {
                spec: DbSpec::default(),
                snapshot: Some("db0-costctl-g1".into()),
            },
        )]
        .into(),
        ..Manifest::default()
    };
    let obs = Observation {
        db_instances: vec![DbObs {
            id: "db0".into(),
            status: "deleting".into(),
            deletion_protection: false,
            spec: DbSpec::default(),
        }],
        db_snapshots: vec![SnapshotObs {
            id: "db0-costctl-g1".into(),
            instance_id: "db0".into(),
            status: "creating".into(),
        }],
        ..Observation::default()
    };
    for desired in [DesiredState::Hibernated, DesiredState::Paused] {
        let goal = Goal {
            desired,
            generation: 2,
            policy: Policy {
                rds_on_pause: costctl_core::plan::RdsOnPause::Snapshot,
                ..Policy::default()
            },
        };
        let p = plan(&goal, &obs, &manifest);
        assert_eq!(
            p.manifest.db_instances["db0"].snapshot.as_deref(),
            Some("db0-costctl-g1"),
            "{desired}"
        );
        assert!(
            p.steps
                .iter()
                .all(|s| !matches!(s.action, Action::DeleteDb { .. })),
            "{:?}",
            p.steps
        );
    }
}
