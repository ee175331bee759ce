//! ECS services: discovery by tags or names, desired counts.

use crate::aws::AwsCloud;
use crate::error::{CloudError, CloudResult, FromSdk};
use aws_sdk_ecs::types::{AssignPublicIp, Service, ServiceField};
use costctl_core::Selector;
use costctl_core::observation::ServiceObs;
use futures::{StreamExt, TryStreamExt, stream};
use std::collections::BTreeMap;

/// DescribeServices takes at most 10 services per call.
const DESCRIBE_BATCH: usize = 10;

/// Whether a service's tags are the selector's.
fn carries(selector: &Selector, tags: &[(String, String)]) -> bool {
    selector.matches_tags(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

impl AwsCloud {
    pub(crate) async fn ecs_find_services(
        &self,
        selector: &Selector,
    ) -> CloudResult<Vec<ServiceObs>> {
        match selector {
            Selector::Names(names) => self.ecs_describe_keys(&names.ecs_services).await,
            Selector::Tags(_) => {
                let shared = self
                    .shared_ecs
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone();
                let Some(shared) = shared else {
                    return self.ecs_find_by_tags(selector).await;
                };
                // One listing for every stack of the tick; each then describes its own
                // services again, so that counts are as of now, not as of the listing.
                let all = shared.get_or_try_init(|| self.ecs_list_tagged()).await?;
                let keys: Vec<String> = all
                    .iter()
                    .filter(|(_, tags)| carries(selector, tags))
                    .map(|(key, _)| key.clone())
                    .collect();
                self.ecs_describe_keys(&keys).await
            }
        }
    }

    /// Every ECS service of the account (region) with its tags, by `cluster/service` key.
    async fn ecs_list_tagged(&self) -> CloudResult<Vec<(String, Vec<(String, String)>)>> {
        Ok(self
            .ecs_list_all()
            .await?
            .into_iter()
            .map(|(s, tags)| (s.key(), tags))
            .collect())
    }

    /// The services carrying the selector's tags, discovered afresh.
    async fn ecs_find_by_tags(&self, selector: &Selector) -> CloudResult<Vec<ServiceObs>> {
        Ok(self
            .ecs_list_all()
            .await?
            .into_iter()
            .filter(|(_, tags)| carries(selector, tags))
            .map(|(s, _)| s)
            .collect())
    }

    /// Every active ECS service of the account with its tags: ListClusters, every cluster's
    /// ListServices at once, then every batch's DescribeServices at once.
    async fn ecs_list_all(&self) -> CloudResult<Vec<(ServiceObs, Vec<(String, String)>)>> {
        let clusters: Vec<String> = self
            .ecs
            .list_clusters()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| CloudError::from_sdk("ecs:ListClusters", "*", e))?;
        // Every cluster's services are listed at once, then every batch of every
        // cluster described at once: two round trips after ListClusters, whatever the
        // number of clusters.
        let listed: Vec<(String, Vec<String>)> = stream::iter(clusters)
            .map(|cluster| async move {
                let arns: Vec<String> = self
                    .ecs
                    .list_services()
                    .cluster(&cluster)
                    .max_results(100)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| CloudError::from_sdk("ecs:ListServices", &cluster, e))?;
                Ok::<_, CloudError>((cluster, arns))
            })
            .buffered(self.concurrency)
            .try_collect()
            .await?;
        self.ecs_describe(&listed).await
    }

    pub(crate) async fn ecs_describe_keys(&self, keys: &[String]) -> CloudResult<Vec<ServiceObs>> {
        let mut by_cluster: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for key in keys {
            let (cluster, service) = key
                .split_once('/')
                .ok_or_else(|| CloudError::refused(key.as_str(), "expected CLUSTER/SERVICE"))?;
            by_cluster
                .entry(cluster)
                .or_default()
                .push(service.to_string());
        }
        let by_cluster: Vec<(String, Vec<String>)> = by_cluster
            .into_iter()
            .map(|(c, names)| (c.to_string(), names))
            .collect();
        Ok(self
            .ecs_describe(&by_cluster)
            .await?
            .into_iter()
            .map(|(s, _)| s)
            .collect())
    }

    /// Describes services, given by cluster, in batches of 10 (one cluster per batch, the
    /// API's shape), every batch at once under the bound; services that do not exist or are no
    /// longer ACTIVE are left out.
    async fn ecs_describe(
        &self,
        by_cluster: &[(String, Vec<String>)],
    ) -> CloudResult<Vec<(ServiceObs, Vec<(String, String)>)>> {
        let batches: Vec<(String, Vec<String>)> = by_cluster
            .iter()
            .flat_map(|(cluster, services)| {
                services
                    .chunks(DESCRIBE_BATCH)
                    .map(move |b| (cluster.clone(), b.to_vec()))
            })
            .collect();
        let results: Vec<(String, Vec<Service>)> = stream::iter(batches)
            .map(|(cluster, batch)| async move {
                let result = self
                    .ecs
                    .describe_services()
                    .cluster(&cluster)
                    .set_services(Some(batch))
                    .include(ServiceField::Tags)
                    .send()
                    .await;
                match result {
                    Ok(out) => Ok::<_, CloudError>((cluster, out.services.unwrap_or_default())),
                    Err(e) => {
                        let err = CloudError::from_sdk("ecs:DescribeServices", &cluster, e);
                        // A cluster that does not exist (yet, or any more) has no services:
                        // a stack named by `cluster/service` simply has nothing there.
                        if err.code() == Some("ClusterNotFoundException") {
                            Ok((cluster, Vec::new()))
                        } else {
                            Err(err)
                        }
                    }
                }
            })
            .buffered(self.concurrency)
            .try_collect()
            .await?;
        Ok(results
            .into_iter()
            .flat_map(|(cluster, found)| found.into_iter().map(move |s| (cluster.clone(), s)))
            .filter(|(_, s)| s.status() == Some("ACTIVE"))
            .map(|(cluster, s)| {
                let tags: Vec<(String, String)> = s
                    .tags()
                    .iter()
                    .filter_map(|t| {
                        Some((t.key()?.to_string(), t.value().unwrap_or("").to_string()))
                    })
                    .collect();
                let obs = ServiceObs {
                    tags: tags.iter().cloned().collect(),
                    cluster: cluster_name(s.cluster_arn().unwrap_or(&cluster)),
                    name: s.service_name().unwrap_or_default().to_string(),
                    desired: non_negative(s.desired_count()),
                    running: non_negative(s.running_count()),
                    pending: non_negative(s.pending_count()),
                    status: s.status().unwrap_or_default().to_string(),
                    public_ip: s
                        .network_configuration()
                        .and_then(|n| n.awsvpc_configuration())
                        .and_then(|a| a.assign_public_ip())
                        == Some(&AssignPublicIp::Enabled),
                };
                (obs, tags)
            })
            .collect())
    }

    pub(crate) async fn ecs_set_desired_count(
        &self,
        cluster: &str,
        service: &str,
        count: u32,
    ) -> CloudResult<()> {
        let count = i32::try_from(count).map_err(|_| {
            CloudError::refused(format!("{cluster}/{service}"), "desired count too large")
        })?;
        self.ecs
            .update_service()
            .cluster(cluster)
            .service(service)
            .desired_count(count)
            .send()
            .await
            .map_err(|e| {
                CloudError::from_sdk("ecs:UpdateService", format!("{cluster}/{service}"), e)
            })?;
        Ok(())
    }
}

/// `arn:aws:ecs:region:acct:cluster/NAME` → `NAME` (a bare name stays as it is).
fn cluster_name(arn_or_name: &str) -> String {
    arn_or_name
        .rsplit_once("cluster/")
        .map_or(arn_or_name, |(_, name)| name)
        .to_string()
}

fn non_negative(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn cluster_names_from_arns() {
        assert_eq!(
            super::cluster_name("arn:aws:ecs:us-east-1:123456789012:cluster/ot-dev"),
            "ot-dev"
        );
        assert_eq!(super::cluster_name("ot-dev"), "ot-dev");
    }
}
