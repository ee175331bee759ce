//! What a reconcile did and what is left: the answer of every entry point (CLI, Lambda).

use crate::store::{Lockout, Snooze};
use costctl_core::cost::CostEstimate;
use costctl_core::observation::SnapshotObs;
use costctl_core::plan::{Note, Plan, Problem};
use costctl_core::price::Prices;
use costctl_core::{DesiredState, Manifest, Observation};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One executed step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepOutcome {
    pub resource: String,
    /// The action's name, e.g. `set_desired_count`.
    pub action: String,
    pub description: String,
    /// `ok`, `failed` (permanent) or `retry` (transient, tried again on a later pass).
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub at_ms: i64,
}

/// One step still to do, with what it waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingStep {
    pub id: usize,
    pub resource: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<usize>,
}

/// The state of one resource as observed: `resource` and `state` for people, the other fields
/// for programs (`--output json`, the events): nothing there needs parsing out of a sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ResourceState {
    /// `kind:id`, as in steps, notes and problems.
    pub resource: String,
    /// One line for a person.
    pub state: String,
    /// `ecs`, `rds`, `rds-snapshot`, `alb` or `msk`.
    #[serde(default)]
    pub kind: String,
    /// The service key (`cluster/service`), instance id, snapshot id or spec name.
    #[serde(default)]
    pub id: String,
    /// What AWS says (`available`, `stopped`, `active`, …), or `deleted` for a resource the
    /// manifest will recreate, `missing` for one it cannot.
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autoscaling: Option<costctl_core::observation::Bounds>,
    /// The desired count a resume restores (ECS, from the manifest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumes_to: Option<u32>,
    /// What a resume recreates it from: `spec` (ALB, MSK) or `snapshot:ID` (RDS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recreated_from: Option<String>,
    /// Estimated cost per hour of the resource as it is now (see `costctl_core::cost`).
    #[serde(default)]
    pub cost_per_hour: f64,
}

impl ResourceState {
    fn new(kind: &str, id: &str, status: &str, state: String) -> Self {
        ResourceState {
            resource: format!("{kind}:{id}"),
            state,
            kind: kind.into(),
            id: id.into(),
            status: status.into(),
            ..ResourceState::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub stack: String,
    pub desired_state: DesiredState,
    pub generation: u64,
    /// The desired state when the observation matches it, otherwise `transitioning`.
    pub state: String,
    pub converged: bool,
    pub done: Vec<StepOutcome>,
    pub pending: Vec<PendingStep>,
    pub notes: Vec<Note>,
    pub problems: Vec<Problem>,
    pub errors: Vec<String>,
    pub lockout: Option<Lockout>,
    /// A snooze holding scheduled transitions (shown while it holds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snooze: Option<Snooze>,
    pub cost: CostEstimate,
    pub resources: Vec<ResourceState>,
    pub passes: u32,
    pub elapsed_ms: u64,
    /// In the copy the state store keeps ([`Report::for_storage`]): how many entries of each
    /// list were left out. Empty in the report an invocation answers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub omitted: BTreeMap<String, usize>,
    /// The cost rate the first pass observed (before any step ran): the "before" of the
    /// transition events. Not stored.
    #[serde(skip)]
    pub cost_at_start: Option<f64>,
    /// When the reconcile ended (unix ms; 0 in reports stored before it existed, and in a
    /// `status`): where the next one's ledger interval starts.
    #[serde(default)]
    pub finished_at_ms: i64,
    /// When the desired state was requested (unix ms): how long a transition has been under way.
    #[serde(default)]
    pub requested_at_ms: i64,
    /// Dollars saved since the previous reconcile ended, by its rates (the `SavedDollars`
    /// metric). Not stored.
    #[serde(skip)]
    pub saved_since_last: Option<f64>,
    /// The running total of those increments for the UTC month the reconcile ended in, carried
    /// from report to report (the `SavedThisMonth` metric: no ledger read per tick).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month_saved: Option<MonthSaved>,
}

/// Dollars saved so far in a UTC month (`YYYY-MM`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthSaved {
    pub month: String,
    pub dollars: f64,
}

/// At most this many entries of each list go into the copies of a report the state store
/// keeps (the stack's last report and its history). A DynamoDB item holds at most 400 KB, and
/// a pause of 1,000 services makes 2,000 steps: found by costctl-bench, where storing the whole
/// report failed the pause with a ValidationException.
pub const STORED_ENTRIES: usize = 50;

impl Report {
    /// The report as the state store keeps it: every list cut to [`STORED_ENTRIES`] (failed and
    /// retried steps kept first), with how many entries of each list were left out under
    /// `omitted`. The full report is what the caller gets back.
    pub fn for_storage(&self) -> Report {
        let mut r = self.clone();
        // Failures first, in the order they happened; then the successful steps.
        r.done.sort_by_key(|s| s.outcome == "ok");
        let mut omitted = BTreeMap::new();
        let mut cut = |name: &str, len: usize| {
            if len > STORED_ENTRIES {
                omitted.insert(name.to_string(), len - STORED_ENTRIES);
            }
            len.min(STORED_ENTRIES)
        };
        r.done.truncate(cut("done", r.done.len()));
        r.pending.truncate(cut("pending", r.pending.len()));
        r.notes.truncate(cut("notes", r.notes.len()));
        r.problems.truncate(cut("problems", r.problems.len()));
        r.errors.truncate(cut("errors", r.errors.len()));
        r.resources.truncate(cut("resources", r.resources.len()));
        r.omitted = omitted;
        r.cost_at_start = None;
        r
    }

    pub fn new(stack: &str, desired: DesiredState, generation: u64) -> Self {
        Report {
            stack: stack.to_string(),
            desired_state: desired,
            generation,
            state: "unknown".into(),
            converged: false,
            done: Vec::new(),
            pending: Vec::new(),
            notes: Vec::new(),
            problems: Vec::new(),
            errors: Vec::new(),
            lockout: None,
            snooze: None,
            cost: CostEstimate::default(),
            finished_at_ms: 0,
            requested_at_ms: 0,
            saved_since_last: None,
            month_saved: None,
            resources: Vec::new(),
            passes: 0,
            elapsed_ms: 0,
            omitted: BTreeMap::new(),
            cost_at_start: None,
        }
    }

    /// Fills the parts that come from the latest observation and plan.
    pub fn describe(&mut self, obs: &Observation, plan: &Plan, prices: &Prices) {
        self.converged = plan.is_converged();
        self.state = if self.converged {
            self.desired_state.to_string()
        } else {
            "transitioning".into()
        };
        self.pending = plan
            .steps
            .iter()
            .map(|s| PendingStep {
                id: s.id,
                resource: s.action.resource(),
                description: s.action.to_string(),
                after: s.after.clone(),
            })
            .collect();
        self.notes = plan.notes.clone();
        self.problems = plan.problems.clone();
        self.cost = costctl_core::cost::estimate(prices, obs, &plan.manifest);
        self.cost_at_start.get_or_insert(self.cost.now_per_hour);
        self.resources = resource_states(obs, plan, prices);
    }

    /// True when the goal was reached without errors.
    pub fn succeeded(&self) -> bool {
        self.converged && self.errors.is_empty()
    }
}

impl Report {
    /// Lists the manual snapshots of the stack's databases (see `Cloud::kept_snapshots`):
    /// costctl never deletes a snapshot, so those of earlier hibernations stay and keep costing
    /// storage until a person deletes them.
    pub fn kept_snapshots(&mut self, snapshots: &[SnapshotObs], manifest: &Manifest) {
        for snap in snapshots {
            let needed = manifest
                .db_instances
                .values()
                .any(|r| r.snapshot.as_deref() == Some(snap.id.as_str()));
            let state = if needed {
                format!(
                    "{}; of {}, needed by the next resume (never deleted)",
                    snap.status, snap.instance_id
                )
            } else {
                format!(
                    "{}; of {}, kept (costctl never deletes a snapshot; when no restore needs it: aws rds delete-db-snapshot --db-snapshot-identifier {})",
                    snap.status, snap.instance_id, snap.id
                )
            };
            self.resources.push(ResourceState::new(
                "rds-snapshot",
                &snap.id,
                &snap.status,
                state,
            ));
        }
    }
}

fn resource_states(obs: &Observation, plan: &Plan, prices: &Prices) -> Vec<ResourceState> {
    use costctl_core::cost;
    let mut out = Vec::new();
    for svc in &obs.services {
        let rid = costctl_core::observation::scalable_resource_id(&svc.cluster, &svc.name);
        let mut state = format!("desired {}, running {}", svc.desired, svc.running);
        let bounds = obs.scalable_targets.get(&rid).copied();
        if let Some(b) = bounds {
            state.push_str(&format!(", autoscaling {}..{}", b.min, b.max));
        }
        let resumes_to = plan.manifest.services.get(&svc.key()).map(|r| r.desired);
        if let Some(n) = resumes_to {
            state.push_str(&format!(", resumes at {n}"));
        }
        let status = if svc.desired == 0 && svc.running == 0 {
            "scaled-to-zero"
        } else {
            "running"
        };
        out.push(ResourceState {
            desired: Some(svc.desired),
            running: Some(svc.running),
            autoscaling: bounds,
            resumes_to,
            cost_per_hour: cost::round_cents(cost::service_hour(prices, svc)),
            ..ResourceState::new("ecs", &svc.key(), status, state)
        });
    }
    for db in &obs.db_instances {
        out.push(ResourceState {
            cost_per_hour: cost::round_cents(cost::db_hour(prices, &db.spec, &db.status)),
            ..ResourceState::new("rds", &db.id, &db.status, db.status.clone())
        });
    }
    for (name, lb) in &obs.load_balancers {
        let listeners: Vec<String> = lb
            .spec
            .listeners
            .iter()
            .map(|l| format!("{}:{}", format!("{:?}", l.protocol).to_uppercase(), l.port))
            .collect();
        let rules: usize = lb.spec.listeners.iter().map(|l| l.rules.len()).sum();
        let mut state = format!(
            "{}, {} ({}), {rules} rule(s), dns {}",
            lb.state,
            if listeners.is_empty() {
                "no listeners".to_string()
            } else {
                "listeners".to_string()
            },
            listeners.join(", "),
            lb.dns_name
        );
        if lb.deletion_protection {
            state.push_str(", deletion protection on (never deleted)");
        }
        out.push(ResourceState {
            cost_per_hour: cost::round_cents(cost::alb_hour(prices, &lb.spec)),
            ..ResourceState::new("alb", name, &lb.state, state)
        });
    }
    for (name, spec) in &plan.manifest.load_balancers {
        if !obs.load_balancers.contains_key(name) {
            let rules: usize = spec.listeners.iter().map(|l| l.rules.len()).sum();
            let state = format!(
                "deleted; will be recreated from the recorded spec ({} listener(s), {rules} rule(s))",
                spec.listeners.len()
            );
            out.push(ResourceState {
                recreated_from: Some("spec".into()),
                ..ResourceState::new("alb", name, "deleted", state)
            });
        }
    }
    for (name, c) in &obs.kafka_clusters {
        let mut state = c.state.clone();
        if let Some(b) = &c.bootstrap {
            state.push_str(&format!(", bootstrap {b}"));
        }
        out.push(ResourceState {
            cost_per_hour: cost::msk_hour(prices, &c.state),
            ..ResourceState::new("msk", name, &c.state.to_ascii_lowercase(), state)
        });
    }
    for name in plan.manifest.kafka_clusters.keys() {
        if !obs.kafka_clusters.contains_key(name) {
            out.push(ResourceState {
                recreated_from: Some("spec".into()),
                ..ResourceState::new(
                    "msk",
                    name,
                    "deleted",
                    "deleted; will be recreated from the recorded spec (topics and messages are not restored)".into(),
                )
            });
        }
    }
    for (subnet, n) in obs.nat_gateways.iter().filter(|(_, n)| n.of_stack) {
        let mut state = format!(
            "{} {}, {}",
            n.id,
            n.state,
            n.spec.connectivity_type.as_str()
        );
        if let Some(a) = &n.spec.allocation_id {
            state.push_str(&format!(", Elastic IP {a}"));
        }
        state.push_str(&format!(", {} route(s)", n.spec.routes.len()));
        let hour = if n.state == "deleting" {
            cost::eip_hour(prices, &n.spec)
        } else {
            cost::nat_hour(prices, &n.spec)
        };
        out.push(ResourceState {
            cost_per_hour: cost::round_cents(hour),
            ..ResourceState::new("nat", subnet, &n.state, state)
        });
    }
    for (subnet, spec) in &plan.manifest.nat_gateways {
        if !obs.nat_gateways.get(subnet).is_some_and(|n| n.of_stack) {
            let mut state = "deleted; will be recreated from the recorded spec".to_string();
            if let Some(a) = &spec.allocation_id {
                state.push_str(&format!(" with Elastic IP {a} (kept, still billed)"));
            }
            out.push(ResourceState {
                recreated_from: Some("spec".into()),
                cost_per_hour: cost::round_cents(cost::eip_hour(prices, spec)),
                ..ResourceState::new("nat", subnet, "deleted", state)
            });
        }
    }
    for (service, e) in obs.vpc_endpoints.iter().filter(|(_, e)| e.of_stack) {
        let state = format!(
            "{} {}, {} subnet(s), private DNS {}",
            e.id,
            e.state,
            e.spec.subnet_ids.len(),
            if e.spec.private_dns_enabled {
                "on"
            } else {
                "off"
            }
        );
        let hour = if e.state == "deleting" {
            0.0
        } else {
            cost::endpoint_hour(prices, &e.spec)
        };
        out.push(ResourceState {
            cost_per_hour: cost::round_cents(hour),
            ..ResourceState::new("vpce", service, &e.state, state)
        });
    }
    for service in plan.manifest.vpc_endpoints.keys() {
        if !obs.vpc_endpoints.get(service).is_some_and(|e| e.of_stack) {
            out.push(ResourceState {
                recreated_from: Some("spec".into()),
                ..ResourceState::new(
                    "vpce",
                    service,
                    "deleted",
                    "deleted; will be recreated from the recorded spec".into(),
                )
            });
        }
    }
    for (id, rec) in &plan.manifest.db_instances {
        if obs.db(id).is_none() {
            out.push(match &rec.snapshot {
                Some(snap) => ResourceState {
                    recreated_from: Some(format!("snapshot:{snap}")),
                    cost_per_hour: cost::round_cents(cost::snapshot_hour(prices, &rec.spec)),
                    ..ResourceState::new(
                        "rds",
                        id,
                        "deleted",
                        format!("deleted; will be restored from snapshot {snap}"),
                    )
                },
                None => ResourceState::new("rds", id, "missing", "missing".into()),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(i: usize, outcome: &str) -> StepOutcome {
        StepOutcome {
            resource: format!("ecs:c/s{i}"),
            action: "set_desired_count".into(),
            description: format!("UpdateService s{i} desiredCount=0"),
            outcome: outcome.into(),
            error: (outcome != "ok").then(|| "Throttling".to_string()),
            at_ms: i as i64,
        }
    }

    #[test]
    fn stored_copy_is_bounded_and_keeps_failures() {
        let mut r = Report::new("s", DesiredState::Paused, 1);
        r.done = (0..2_000)
            .map(|i| step(i, if i % 500 == 7 { "retry" } else { "ok" }))
            .collect();
        r.resources = (0..1_000)
            .map(|i| ResourceState::new("ecs", &format!("c/s{i}"), "running", "desired 0".into()))
            .collect();
        let stored = r.for_storage();
        let v = serde_json::to_value(&stored).unwrap();
        let done = v["done"].as_array().unwrap();
        assert_eq!(done.len(), STORED_ENTRIES);
        let kept: Vec<i64> = done[..4]
            .iter()
            .map(|d| d["at_ms"].as_i64().unwrap())
            .collect();
        assert_eq!(kept, vec![7, 507, 1007, 1507], "failures first, in order");
        assert_eq!(v["omitted"]["done"], 2_000 - STORED_ENTRIES);
        assert_eq!(v["omitted"]["resources"], 1_000 - STORED_ENTRIES);
        assert!(v["omitted"].get("notes").is_none());
        assert!(serde_json::to_string(&v).unwrap().len() < 40_000);
        // What the store keeps reads back as the same report.
        let back: Report = serde_json::from_value(v).unwrap();
        assert_eq!(back, stored);

        let small = Report::new("s", DesiredState::Paused, 1).for_storage();
        let small = serde_json::to_value(&small).unwrap();
        assert!(small.get("omitted").is_none());
    }
}
