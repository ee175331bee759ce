//! MSK Serverless clusters: discovery (ListClustersV2 with tags), create with the same name and
//! settings, delete, and the SASL/IAM bootstrap broker string.

use crate::aws::AwsCloud;
use crate::cloud::{fence, system_now_ms};
use crate::error::{CloudError, CloudResult, FromSdk};
use aws_sdk_kafka::types::{
    Cluster, Iam, ServerlessClientAuthentication, ServerlessRequest, ServerlessSasl, VpcConfig,
};
use costctl_core::Selector;
use costctl_core::observation::KafkaObs;
use costctl_core::spec::{ClientAuthenticationSpec, KafkaClusterSpec, VpcConfigSpec};
use futures::{StreamExt, TryStreamExt, stream};
use std::collections::BTreeMap;

impl AwsCloud {
    async fn msk_list(&self, name_filter: Option<&str>) -> CloudResult<Vec<Cluster>> {
        self.kafka
            .list_clusters_v2()
            .cluster_type_filter("SERVERLESS")
            .set_cluster_name_filter(name_filter.map(str::to_string))
            .max_results(100)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| {
                CloudError::from_sdk("kafka:ListClustersV2", name_filter.unwrap_or("*"), e)
            })
    }

    /// Serverless clusters carrying the selector's tags, plus those named. A name held by a
    /// `DELETING` cluster and a new one is reported as the new one.
    pub(crate) async fn msk_find(
        &self,
        selector: &Selector,
        names: &[String],
    ) -> CloudResult<Vec<KafkaObs>> {
        let by_tags = matches!(selector, Selector::Tags(_));
        if !by_tags && names.is_empty() {
            return Ok(Vec::new());
        }
        let all = self.msk_list(None).await?;
        let mut chosen: BTreeMap<String, &Cluster> = BTreeMap::new();
        for c in &all {
            let name = c.cluster_name().unwrap_or_default();
            let tagged = c.tags().is_some_and(|t| {
                selector.matches_tags(t.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            });
            if !(tagged || names.iter().any(|n| n == name)) {
                continue;
            }
            let deleting = |c: &Cluster| c.state().is_some_and(|s| s.as_str() == "DELETING");
            match chosen.get(name) {
                Some(old) if !deleting(old) => {}
                _ => {
                    chosen.insert(name.to_string(), c);
                }
            }
        }
        let chosen: Vec<Cluster> = chosen.into_values().cloned().collect();
        stream::iter(chosen)
            .map(|c| async move {
                let state = c.state().map_or("UNKNOWN", |s| s.as_str()).to_string();
                let arn = c.cluster_arn().unwrap_or_default().to_string();
                let bootstrap = if state == "ACTIVE" {
                    self.msk_bootstrap(&arn).await?
                } else {
                    None
                };
                let unsupported = c
                    .serverless()
                    .and_then(|s| s.connectivity_info())
                    .map(|_| {
                        "connectivity_info: multi-VPC private connectivity cannot be recorded in the spec"
                            .to_string()
                    })
                    .into_iter()
                    .collect();
                Ok::<_, CloudError>(KafkaObs {
                    arn,
                    state,
                    bootstrap,
                    spec: capture(&c),
                    unsupported,
                })
            })
            .buffered(self.concurrency)
            .try_collect()
            .await
    }

    async fn msk_bootstrap(&self, arn: &str) -> CloudResult<Option<String>> {
        match self
            .kafka
            .get_bootstrap_brokers()
            .cluster_arn(arn)
            .send()
            .await
        {
            Ok(out) => Ok(out.bootstrap_broker_string_sasl_iam().map(str::to_string)),
            Err(e) => {
                let err = CloudError::from_sdk("kafka:GetBootstrapBrokers", arn, e);
                // Gone or not ready after all (raced with the list): no brokers yet.
                if err.is_not_found() || err.code() == Some("BadRequestException") {
                    Ok(None)
                } else {
                    Err(err)
                }
            }
        }
    }

    /// Creates the cluster unless one of that name (not being deleted) exists, and only before
    /// `not_after_ms` (see `Cloud::create_kafka_cluster`).
    pub(crate) async fn msk_create(
        &self,
        spec: &KafkaClusterSpec,
        not_after_ms: i64,
    ) -> CloudResult<()> {
        let existing = self.msk_list(Some(&spec.name)).await?;
        if existing.iter().any(|c| {
            c.cluster_name() == Some(spec.name.as_str())
                && c.state().is_some_and(|s| s.as_str() != "DELETING")
        }) {
            return Ok(());
        }
        fence(
            system_now_ms(),
            not_after_ms,
            "kafka:CreateClusterV2",
            &format!("msk:{}", spec.name),
        )?;
        let request = ServerlessRequest::builder()
            .set_vpc_configs(Some(
                spec.vpc_configs
                    .iter()
                    .map(|v| {
                        VpcConfig::builder()
                            .set_subnet_ids(Some(v.subnet_ids.clone()))
                            .set_security_group_ids(Some(v.security_group_ids.clone()))
                            .build()
                    })
                    .collect(),
            ))
            .client_authentication(
                ServerlessClientAuthentication::builder()
                    .sasl(
                        ServerlessSasl::builder()
                            .iam(
                                Iam::builder()
                                    .enabled(spec.client_authentication.sasl_iam)
                                    .build(),
                            )
                            .build(),
                    )
                    .build(),
            )
            .build();
        self.kafka
            .create_cluster_v2()
            .cluster_name(&spec.name)
            .serverless(request)
            .set_tags(
                Some(spec.tags.clone().into_iter().collect())
                    .filter(|t: &std::collections::HashMap<_, _>| !t.is_empty()),
            )
            .send()
            .await
            .map_err(|e| {
                CloudError::from_sdk("kafka:CreateClusterV2", format!("msk:{}", spec.name), e)
            })?;
        Ok(())
    }

    pub(crate) async fn msk_delete(&self, arn: &str) -> CloudResult<()> {
        match self.kafka.delete_cluster().cluster_arn(arn).send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let err = CloudError::from_sdk("kafka:DeleteCluster", arn, e);
                if err.is_not_found() { Ok(()) } else { Err(err) }
            }
        }
    }
}

fn capture(c: &Cluster) -> KafkaClusterSpec {
    let serverless = c.serverless();
    KafkaClusterSpec {
        name: c.cluster_name().unwrap_or_default().to_string(),
        vpc_configs: serverless
            .map(|s| {
                s.vpc_configs()
                    .iter()
                    .map(|v| VpcConfigSpec {
                        subnet_ids: v.subnet_ids().to_vec(),
                        security_group_ids: v.security_group_ids().to_vec(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        client_authentication: ClientAuthenticationSpec {
            sasl_iam: serverless
                .and_then(|s| s.client_authentication())
                .and_then(|a| a.sasl())
                .and_then(|s| s.iam())
                .and_then(|i| i.enabled())
                .unwrap_or(false),
        },
        tags: c
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        bootstrap_parameter: None,
    }
}
