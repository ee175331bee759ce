//! Exclusion: resources a stack's selector finds but costctl must never change — those that
//! carry the exclusion tag (`costctl:exclude=true` by default, the key configurable) and those
//! the stack's configuration lists under `exclude`.
//!
//! An excluded resource stays in the observation, so status reports it and the cost estimate
//! counts it; it is taken out only of what the planner sees, so no step is ever planned for
//! it, and the plan names it in a note. What the manifest remembers of it is kept untouched.

use crate::manifest::Manifest;
use crate::observation::Observation;
use crate::plan::{Goal, Note, Plan, plan_with};
use crate::spec::EphemeralSpec;
use serde::Serialize;
use std::collections::BTreeSet;

/// The exclusion tag key when the configuration names none.
pub const DEFAULT_TAG_KEY: &str = "costctl:exclude";

/// What one stack excludes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Exclusion {
    /// A resource carrying this tag with the value `true` (any case) is excluded.
    pub tag_key: String,
    /// ECS services as `cluster/service` and RDS instance identifiers.
    pub names: BTreeSet<String>,
}

impl Default for Exclusion {
    fn default() -> Self {
        Exclusion {
            tag_key: DEFAULT_TAG_KEY.to_string(),
            names: BTreeSet::new(),
        }
    }
}

impl Exclusion {
    /// Why a resource named `name` with these tags is excluded, if it is.
    fn why<'a>(
        &self,
        name: &str,
        mut tags: impl Iterator<Item = (&'a String, &'a String)>,
    ) -> Option<String> {
        if self.names.contains(name) {
            return Some("excluded: listed under `exclude` in the stack's configuration".into());
        }
        tags.any(|(k, v)| *k == self.tag_key && v.trim().eq_ignore_ascii_case("true"))
            .then(|| format!("excluded: it carries the tag {}=true", self.tag_key))
    }

    /// The observation without the excluded resources, and a note for each one taken out.
    pub fn split(&self, obs: &Observation) -> (Option<Observation>, Vec<Note>) {
        let mut notes = Vec::new();
        let services: Vec<_> = obs
            .services
            .iter()
            .filter(|s| match self.why(&s.key(), s.tags.iter()) {
                Some(why) => {
                    notes.push(Note {
                        resource: format!("ecs:{}", s.key()),
                        message: why,
                        kept: false,
                    });
                    false
                }
                None => true,
            })
            .cloned()
            .collect();
        let dbs: Vec<_> = obs
            .db_instances
            .iter()
            .filter(|d| match self.why(&d.id, d.spec.tags.iter()) {
                Some(why) => {
                    notes.push(Note {
                        resource: format!("rds:{}", d.id),
                        message: why,
                        kept: false,
                    });
                    false
                }
                None => true,
            })
            .cloned()
            .collect();
        if notes.is_empty() {
            return (None, notes);
        }
        let kept: BTreeSet<String> = services
            .iter()
            .map(|s| crate::observation::scalable_resource_id(&s.cluster, &s.name))
            .collect();
        let mut rest = obs.clone();
        rest.scalable_targets.retain(|id, _| kept.contains(id));
        rest.services = services;
        rest.db_instances = dbs;
        (Some(rest), notes)
    }

    /// The plan for the stack's resources that are not excluded. The manifest's records of
    /// excluded resources are left out of planning and kept as they are in the plan's manifest.
    pub fn plan(
        &self,
        goal: &Goal,
        obs: &Observation,
        manifest: &Manifest,
        spec: Option<&EphemeralSpec>,
    ) -> Plan {
        let (rest, notes) = self.split(obs);
        let Some(rest) = rest else {
            return plan_with(goal, obs, manifest, spec);
        };
        let mut planned = manifest.clone();
        let excluded_services: Vec<String> = manifest
            .services
            .keys()
            .filter(|k| !rest.services.iter().any(|s| &s.key() == *k))
            .filter(|k| obs.services.iter().any(|s| &s.key() == *k))
            .cloned()
            .collect();
        let excluded_dbs: Vec<String> = manifest
            .db_instances
            .keys()
            .filter(|id| !rest.db_instances.iter().any(|d| &d.id == *id))
            .filter(|id| obs.db_instances.iter().any(|d| &d.id == *id))
            .cloned()
            .collect();
        for k in &excluded_services {
            planned.services.remove(k);
        }
        for id in &excluded_dbs {
            planned.db_instances.remove(id);
        }
        let mut plan = plan_with(goal, &rest, &planned, spec);
        for k in excluded_services {
            if let Some(r) = manifest.services.get(&k) {
                plan.manifest.services.insert(k, r.clone());
            }
        }
        for id in excluded_dbs {
            if let Some(r) = manifest.db_instances.get(&id) {
                plan.manifest.db_instances.insert(id, r.clone());
            }
        }
        plan.notes.extend(notes);
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DesiredState;
    use crate::observation::{Bounds, DbObs, DbSpec, ServiceObs, scalable_resource_id};

    fn svc(name: &str, tags: &[(&str, &str)]) -> ServiceObs {
        ServiceObs {
            cluster: "c".into(),
            name: name.into(),
            desired: 2,
            running: 2,
            pending: 0,
            status: "ACTIVE".into(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            public_ip: false,
        }
    }

    fn db(id: &str) -> DbObs {
        DbObs {
            id: id.into(),
            status: "available".into(),
            deletion_protection: false,
            spec: DbSpec::default(),
            unsupported: Vec::new(),
            kms_key_state: None,
            pending: Default::default(),
        }
    }

    #[test]
    fn excluded_resources_get_no_step_and_a_note() {
        let mut obs = Observation {
            services: vec![
                svc("api", &[]),
                svc("batch", &[("costctl:exclude", "TRUE")]),
                svc("web", &[("costctl:exclude", "false")]),
            ],
            db_instances: vec![db("db-a"), db("db-b")],
            ..Observation::default()
        };
        for s in ["api", "batch", "web"] {
            obs.scalable_targets
                .insert(scalable_resource_id("c", s), Bounds { min: 1, max: 4 });
        }
        let ex = Exclusion {
            names: ["db-b".to_string()].into(),
            ..Exclusion::default()
        };
        let goal = Goal {
            desired: DesiredState::Paused,
            generation: 1,
            policy: Default::default(),
        };
        let plan = ex.plan(&goal, &obs, &Manifest::default(), None);
        let touched: String = format!("{:?}", plan.steps);
        assert!(touched.contains("api") && touched.contains("web") && touched.contains("db-a"));
        assert!(
            !touched.contains("batch") && !touched.contains("db-b"),
            "{touched}"
        );
        assert!(!plan.manifest.services.contains_key("c/batch"));
        let notes: Vec<(&str, &str)> = plan
            .notes
            .iter()
            .map(|n| (n.resource.as_str(), n.message.as_str()))
            .collect();
        assert!(notes.contains(&(
            "ecs:c/batch",
            "excluded: it carries the tag costctl:exclude=true"
        )));
        assert!(
            notes
                .iter()
                .any(|(r, m)| *r == "rds:db-b" && m.contains("`exclude`"))
        );
        // Without exclusions the plan is the planner's own.
        let none = Exclusion::default();
        let plain = Observation {
            services: vec![svc("api", &[])],
            ..Observation::default()
        };
        assert_eq!(
            none.plan(&goal, &plain, &Manifest::default(), None),
            plan_with(&goal, &plain, &Manifest::default(), None)
        );
    }

    #[test]
    fn an_excluded_resource_keeps_its_record() {
        // Paused before it was excluded: its record stays in the manifest, untouched, and a
        // resume plans nothing for it.
        let obs = Observation {
            services: vec![
                svc("api", &[]),
                svc("batch", &[("costctl:exclude", "true")]),
            ],
            ..Observation::default()
        };
        let goal = Goal {
            desired: DesiredState::Paused,
            generation: 1,
            policy: Default::default(),
        };
        let paused_all = plan_with(&goal, &obs, &Manifest::default(), None).manifest;
        assert!(paused_all.services.contains_key("c/batch"));
        let resume = Goal {
            desired: DesiredState::Running,
            ..goal
        };
        let plan = Exclusion::default().plan(&resume, &obs, &paused_all, None);
        assert_eq!(
            plan.manifest.services.get("c/batch"),
            paused_all.services.get("c/batch")
        );
        assert!(!format!("{:?}", plan.steps).contains("batch"));
    }
}
