//! Application Auto Scaling targets of ECS services (`ecs:service:DesiredCount`).
//!
//! While a stack is paused the bounds are held at 0/0: with a minimum above zero, autoscaling
//! would scale the service straight back up.

use crate::aws::AwsCloud;
use crate::error::{CloudError, CloudResult, FromSdk};
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use costctl_core::observation::Bounds;
use std::collections::BTreeMap;

/// DescribeScalableTargets accepts at most 50 resource ids per call.
const DESCRIBE_BATCH: usize = 50;

impl AwsCloud {
    /// Bounds of the targets of `resource_ids` (services without a target are left out),
    /// 50 ids per call, the calls concurrently under the bound: 1,000 services are 20 calls,
    /// one round trip instead of twenty.
    pub(crate) async fn scaling_targets(
        &self,
        resource_ids: &[String],
    ) -> CloudResult<BTreeMap<String, Bounds>> {
        use futures::{StreamExt, TryStreamExt};
        let batches: Vec<Vec<String>> = resource_ids
            .chunks(DESCRIBE_BATCH)
            .map(<[_]>::to_vec)
            .collect();
        let found: Vec<Vec<(String, Bounds)>> = futures::stream::iter(batches)
            .map(|batch| async move { self.scaling_batch(&batch).await })
            .buffered(self.concurrency)
            .try_collect()
            .await?;
        Ok(found.into_iter().flatten().collect())
    }

    async fn scaling_batch(&self, batch: &[String]) -> CloudResult<Vec<(String, Bounds)>> {
        let targets: Vec<_> = self
            .autoscaling
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .set_resource_ids(Some(batch.to_vec()))
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| {
                CloudError::from_sdk("application-autoscaling:DescribeScalableTargets", "ecs", e)
            })?;
        Ok(targets
            .into_iter()
            .map(|t| {
                let bounds = Bounds {
                    min: u32::try_from(t.min_capacity()).unwrap_or(0),
                    max: u32::try_from(t.max_capacity()).unwrap_or(0),
                };
                (t.resource_id().to_string(), bounds)
            })
            .collect())
    }

    pub(crate) async fn scaling_set(&self, resource_id: &str, bounds: Bounds) -> CloudResult<()> {
        let conv = |n: u32| {
            i32::try_from(n)
                .map_err(|_| CloudError::refused(resource_id, "autoscaling bound too large"))
        };
        self.autoscaling
            .register_scalable_target()
            .service_namespace(ServiceNamespace::Ecs)
            .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
            .resource_id(resource_id)
            .min_capacity(conv(bounds.min)?)
            .max_capacity(conv(bounds.max)?)
            .send()
            .await
            .map_err(|e| {
                CloudError::from_sdk(
                    "application-autoscaling:RegisterScalableTarget",
                    resource_id,
                    e,
                )
            })?;
        Ok(())
    }
}
