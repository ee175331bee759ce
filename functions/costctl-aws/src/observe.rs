//! Observation of a stack: what its selector finds, plus whatever the manifest remembers.

use crate::cloud::Cloud;
use crate::error::CloudResult;
use costctl_core::observation::scalable_resource_id;
use costctl_core::{Manifest, Observation, Selector};

/// Looks at every resource of the stack. Resources the manifest remembers are looked up by name
/// even when the selector no longer finds them (a deleted instance, an untagged service), so a
/// resume can bring back what a pause took away.
pub async fn observe<C: Cloud + ?Sized>(
    cloud: &C,
    selector: &Selector,
    manifest: &Manifest,
) -> CloudResult<Observation> {
    let (services, dbs) = futures::try_join!(
        cloud.find_services(selector),
        cloud.find_db_instances(selector)
    )?;
    let mut obs = Observation {
        services,
        db_instances: dbs,
        ..Observation::default()
    };

    let missing_services: Vec<String> = manifest
        .services
        .keys()
        .filter(|k| obs.service(k).is_none())
        .cloned()
        .collect();
    let missing_dbs: Vec<String> = manifest
        .db_instances
        .keys()
        .filter(|id| obs.db(id).is_none())
        .cloned()
        .collect();
    let snapshots: Vec<String> = manifest
        .db_instances
        .values()
        .filter_map(|r| r.snapshot.clone())
        .collect();

    let (more_services, more_dbs, snaps) = futures::try_join!(
        async {
            if missing_services.is_empty() {
                Ok(Vec::new())
            } else {
                cloud.describe_services(&missing_services).await
            }
        },
        async {
            if missing_dbs.is_empty() {
                Ok(Vec::new())
            } else {
                cloud.describe_db_instances(&missing_dbs).await
            }
        },
        cloud.describe_db_snapshots(&snapshots),
    )?;
    obs.services.extend(more_services);
    obs.db_instances.extend(more_dbs);
    obs.db_snapshots = snaps;

    let ids: Vec<String> = obs
        .services
        .iter()
        .map(|s| scalable_resource_id(&s.cluster, &s.name))
        .collect();
    if !ids.is_empty() {
        obs.scalable_targets = cloud.scalable_targets(&ids).await?;
    }
    obs.services.sort_by_key(|s| s.key());
    obs.db_instances.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(obs)
}
