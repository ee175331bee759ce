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
                stopped: false,
                spec: DbSpec::default(),
                snapshot: Some("db0-costctl-g1".into()),
            },
        )]
        .into(),
        ..Manifest::default()
    };
    let obs = Observation {
        db_instances: vec![DbObs {
            kms_key_state: None,
            pending: Default::default(),
            unsupported: Vec::new(),
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

/// Found by the simulation (seed 40 of the ephemeral-tier scenarios): Terraform's delete-spec
/// deletes an MSK cluster of a paused stack and forgets it; a tick while the cluster is still
/// `DELETING` found it by its tags and recorded it again, and the next resume recreated it.
#[test]
fn a_pause_does_not_record_a_cluster_being_deleted() {
    use costctl_core::observation::KafkaObs;
    use costctl_core::spec::{ClientAuthenticationSpec, KafkaClusterSpec};
    let mut obs = Observation::default();
    let cluster = |state: &str| KafkaObs {
        unsupported: Vec::new(),
        arn: "arn:aws:kafka:eu-west-1:1:cluster/ot-msk/1".into(),
        state: state.into(),
        bootstrap: None,
        spec: KafkaClusterSpec {
            name: "ot-msk".into(),
            vpc_configs: Vec::new(),
            client_authentication: ClientAuthenticationSpec { sasl_iam: true },
            tags: Default::default(),
            bootstrap_parameter: None,
        },
    };
    obs.kafka_clusters
        .insert("ot-msk".into(), cluster("DELETING"));
    let goal = Goal {
        desired: DesiredState::Paused,
        generation: 2,
        policy: Policy::default(),
    };
    let p = plan(&goal, &obs, &Manifest::default());
    assert!(p.manifest.kafka_clusters.is_empty(), "{:?}", p.manifest);
    // The resume that follows has nothing to bring back.
    let running = Goal {
        desired: DesiredState::Running,
        ..goal
    };
    obs.kafka_clusters.clear();
    let p = plan(&running, &obs, &p.manifest);
    assert!(
        !p.steps
            .iter()
            .any(|s| matches!(s.action, Action::CreateKafkaCluster { .. })),
        "{p:?}"
    );
    // An active cluster is still recorded before a pause deletes it (write-ahead).
    obs.kafka_clusters
        .insert("ot-msk".into(), cluster("ACTIVE"));
    let p = plan(&goal, &obs, &Manifest::default());
    assert!(p.manifest.kafka_clusters.contains_key("ot-msk"));
}

/// A restored instance whose storage change RDS accepted but has not applied yet (it shows in
/// `PendingModifiedValues`) is waited for, not modified again; what is not pending is sent.
#[test]
fn a_pending_modification_is_waited_for_not_sent_again() {
    let record = DbSpec {
        instance_class: "db.t4g.micro".into(),
        allocated_storage: Some(400),
        max_allocated_storage: Some(1000),
        ..DbSpec::default()
    };
    let manifest = Manifest {
        db_instances: [(
            "db0".to_string(),
            DbRecord {
                stopped: false,
                spec: record.clone(),
                snapshot: Some("db0-costctl-g1".into()),
            },
        )]
        .into(),
        ..Manifest::default()
    };
    let db = |max: Option<u32>| DbObs {
        kms_key_state: None,
        pending: ["allocated_storage".to_string()].into(),
        unsupported: Vec::new(),
        id: "db0".into(),
        status: "available".into(),
        deletion_protection: false,
        spec: DbSpec {
            allocated_storage: Some(20),
            max_allocated_storage: max,
            ..record.clone()
        },
    };
    let goal = Goal {
        desired: DesiredState::Running,
        generation: 3,
        policy: Policy::default(),
    };
    let obs = |max| Observation {
        db_instances: vec![db(max)],
        ..Observation::default()
    };
    let p = plan(&goal, &obs(None), &manifest);
    let modify = p.steps.iter().find_map(|s| match &s.action {
        Action::ModifyDb { fields, .. } => Some(fields.clone()),
        _ => None,
    });
    assert_eq!(modify, Some(vec!["max_allocated_storage".to_string()]));
    // Only the pending one differs: a gate, no ModifyDBInstance.
    let p = plan(&goal, &obs(Some(1000)), &manifest);
    let actions: Vec<&Action> = p.steps.iter().map(|s| &s.action).collect();
    assert_eq!(
        actions,
        [&Action::AwaitDbModified {
            id: "db0".into(),
            fields: vec!["allocated_storage".into()]
        }]
    );
    assert!(!p.is_converged());
}
