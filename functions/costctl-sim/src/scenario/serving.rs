//! Resume-to-serving: how long after a resume request the stack serves again, and what it
//! waited for. A stack with an ephemeral tier (ALB and/or MSK Serverless, by seed) is created by
//! Terraform, paused (or hibernated) by the production service, and resumed; the world is
//! watched after every change, so each resource's ready time is the virtual instant it reached
//! its running state (and stayed there). Durations are the simulated AWS's own (RDS start and
//! restore, ALB provisioning, MSK Serverless create, task start), drawn by seed; no faults.

use super::*;
use costctl_core::DesiredState;
use std::collections::BTreeSet;

/// What one resume took.
#[derive(Debug, Clone)]
pub struct Serving {
    pub seed: u64,
    /// From the resume request to the last resource ready (ms of virtual time).
    pub total_ms: i64,
    /// Each resource's ready time, from the request (`ecs:…`, `rds:…`, `alb:…`, `msk:…`,
    /// `ssm:…`, `alias …`).
    pub ready_ms: BTreeMap<String, i64>,
    pub violations: Vec<String>,
}

impl Serving {
    /// The resource ready last among those that are not ECS services: what the services'
    /// gate waited for (the critical path's infrastructure leg).
    pub fn gate(&self) -> Option<(&str, i64)> {
        self.ready_ms
            .iter()
            .filter(|(k, _)| !k.starts_with("ecs:"))
            .max_by_key(|(_, t)| **t)
            .map(|(k, t)| (k.as_str(), *t))
    }

    /// The first service ready.
    pub fn first_service_ms(&self) -> Option<i64> {
        self.ready_ms
            .iter()
            .filter(|(k, _)| k.starts_with("ecs:"))
            .map(|(_, t)| *t)
            .min()
    }
}

/// The resource a line of [`World::differs_from`] is about.
fn resource_of(line: &str) -> String {
    let mut words = line.split_whitespace();
    let first = words.next().unwrap_or_default();
    if first == "alias" {
        format!("alias {}", words.next().unwrap_or_default())
    } else {
        first.trim_end_matches(':').to_string()
    }
}

const HOUR: i64 = 60 * MINUTE;

/// Seed `seed`'s stack, paused (`level` = paused) or hibernated, then resumed by a person.
pub fn resume_to_serving(seed: u64, level: DesiredState) -> Serving {
    let mut rng = Rng::new(seed);
    let clock = SimClock::new(START_MS);
    let mut world = World::new(rng.fork(), START_MS);
    let tags: BTreeMap<String, String> = [("costctl:stack".to_string(), STACK.to_string())].into();
    let services = 1 + rng.below(4) as usize;
    for i in 0..services {
        let desired = 1 + u32::try_from(rng.below(3)).unwrap_or(0);
        let bounds = rng.chance(500).then_some(Bounds {
            min: desired,
            max: desired + 2,
        });
        world.add_service(
            "orders",
            &format!("svc{i}"),
            desired,
            bounds,
            tags.clone(),
            true,
        );
    }
    world.add_db("orders-db", false, spec(0, &tags), true);
    ephemeral_world(&mut world);
    let mut erng = Rng::new(seed ^ 0x5e41_1e55);
    let specs = vec![ephemeral_spec(&mut erng, 0, None)];
    let scenario = quiet(world, &clock, tags, specs);
    let shared = scenario.world.clone();
    let pause_at = START_MS + 2 * HOUR;
    let resume_at = START_MS + 5 * HOUR;
    let end = resume_at + 3 * HOUR;
    let mut exec: Executor<String> = Executor::new(clock.clone(), rng.fork());
    let mut inv = 0usize;
    let mut spawn = |exec: &mut Executor<String>, at: i64, trig: Trigger| {
        inv += 1;
        exec.spawn_at(at, inv, scenario.invocation(inv, trig));
    };
    spawn(&mut exec, START_MS, Trigger::TerraformApply { spec: 0 });
    let down = match level {
        DesiredState::Hibernated => Trigger::ManualHibernate,
        _ => Trigger::SchedulePause,
    };
    spawn(&mut exec, pause_at, down);
    spawn(&mut exec, resume_at, Trigger::ManualResume { force: false });
    let mut tick = START_MS + TICK_MS;
    while tick < end {
        spawn(&mut exec, tick, Trigger::Tick);
        tick += TICK_MS;
    }

    let mut waiting: BTreeMap<String, Option<i64>> = BTreeMap::new();
    let mut seen_version = u64::MAX;
    let mut violations = Vec::new();
    loop {
        let step = exec.step();
        let now = clock.now();
        if matches!(step, Step::Idle) || now > end {
            break;
        }
        let mut w = shared.lock();
        if let Step::Advanced { .. } = step {
            w.advance(now);
        }
        if now < resume_at || w.version == seen_version {
            continue;
        }
        seen_version = w.version;
        let diff = w.differs_from(STACK, DesiredState::Running);
        let not_ready: BTreeSet<String> = diff.iter().map(|l| resource_of(l)).collect();
        if waiting.is_empty() {
            // The picture at the request: everything the resume must bring back.
            if not_ready.is_empty() {
                violations.push("nothing was down when the resume was requested".into());
            }
            for r in &not_ready {
                waiting.insert(r.clone(), None);
            }
            continue;
        }
        for r in &not_ready {
            // Not ready (again): its ready time is still to come.
            waiting.insert(r.clone(), None);
        }
        for (r, ready) in waiting.iter_mut() {
            if ready.is_none() && !not_ready.contains(r) {
                *ready = Some(now - resume_at);
            }
        }
    }
    let w = shared.lock();
    violations.extend(w.violations.iter().cloned());
    let mut ready_ms = BTreeMap::new();
    for (r, t) in waiting {
        match t {
            Some(t) => {
                ready_ms.insert(r, t);
            }
            None => violations.push(format!("{r} was not serving 3 h after the resume")),
        }
    }
    let total_ms = ready_ms.values().copied().max().unwrap_or(0);
    let mut serving = Serving {
        seed,
        total_ms,
        ready_ms,
        violations,
    };
    // The design's ordering (DESIGN.md, "Ordering"): nothing scales up before the databases,
    // load balancers and clusters are back and published.
    if let (Some((gate, at)), Some(first)) = (serving.gate(), serving.first_service_ms())
        && first < at
    {
        serving.violations.push(format!(
            "a service was serving at {first} ms, before {gate} was ready at {at} ms"
        ));
    }
    serving
}
