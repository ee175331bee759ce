//! Planner micro-benchmarks: planning a stack of 10,000 resources (target ≤ 10 ms).
//! Run: `cargo bench -p costctl-core --bench plan`.

use costctl_core::manifest::Manifest;
use costctl_core::observation::{
    Bounds, DbObs, DbSpec, Observation, ServiceObs, scalable_resource_id,
};
use costctl_core::plan::{Goal, Policy, plan};
use costctl_core::state::DesiredState;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

/// `services` ECS services over 10 clusters (every third autoscaled) and `dbs` RDS instances.
fn running_stack(services: usize, dbs: usize) -> Observation {
    let mut obs = Observation::default();
    for i in 0..services {
        let cluster = format!("cluster-{}", i % 10);
        let name = format!("svc-{i:05}");
        let n = 1 + (i % 4) as u32;
        if i % 3 == 0 {
            obs.scalable_targets.insert(
                scalable_resource_id(&cluster, &name),
                Bounds { min: n, max: n + 3 },
            );
        }
        obs.services.push(ServiceObs {
            cluster,
            name,
            desired: n,
            running: n,
            pending: 0,
            status: "ACTIVE".into(),
            tags: Default::default(),
            public_ip: false,
        });
    }
    for i in 0..dbs {
        obs.db_instances.push(DbObs {
            kms_key_state: None,
            pending: Default::default(),
            unsupported: Vec::new(),
            id: format!("db-{i:04}"),
            status: "available".into(),
            deletion_protection: false,
            spec: DbSpec {
                instance_class: "db.t4g.micro".into(),
                engine: "postgres".into(),
                ..DbSpec::default()
            },
        });
    }
    obs
}

fn paused(mut obs: Observation) -> Observation {
    for s in &mut obs.services {
        s.desired = 0;
        s.running = 0;
    }
    for b in obs.scalable_targets.values_mut() {
        *b = Bounds { min: 0, max: 0 };
    }
    for d in &mut obs.db_instances {
        d.status = "stopped".into();
    }
    obs
}

fn bench(c: &mut Criterion) {
    let running = running_stack(9_000, 1_000);
    let goal = |desired| Goal {
        desired,
        generation: 7,
        policy: Policy::default(),
    };
    c.bench_function("plan pause of 10,000 resources", |b| {
        b.iter(|| {
            plan(
                black_box(&goal(DesiredState::Paused)),
                black_box(&running),
                black_box(&Manifest::default()),
            )
        })
    });
    let mut manifest = Manifest::default();
    manifest.record_missing(&running);
    let stopped = paused(running.clone());
    c.bench_function("plan resume of 10,000 resources", |b| {
        b.iter(|| {
            plan(
                black_box(&goal(DesiredState::Running)),
                black_box(&stopped),
                black_box(&manifest),
            )
        })
    });
    c.bench_function("plan hibernate of 10,000 resources", |b| {
        b.iter(|| {
            plan(
                black_box(&goal(DesiredState::Hibernated)),
                black_box(&running),
                black_box(&Manifest::default()),
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
