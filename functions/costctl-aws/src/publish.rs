//! Publishing new endpoints: SSM parameters (bootstrap brokers, ALB DNS name) and Route53 alias
//! records (A and AAAA) pointed at a recreated load balancer.

use crate::aws::AwsCloud;
use crate::error::{CloudError, CloudResult};
use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecordSet, RrType,
};
use aws_sdk_ssm::types::ParameterType;
use costctl_core::observation::{AliasObs, alias_key, normalise_dns};
use futures::{StreamExt, TryStreamExt, stream};
use std::collections::BTreeMap;

impl AwsCloud {
    /// Current values of the parameters; missing ones are left out.
    pub(crate) async fn ssm_get(&self, names: &[String]) -> CloudResult<BTreeMap<String, String>> {
        let found = self
            .lookup_each(names, |name| async move {
                match self.ssm.get_parameter().name(&name).send().await {
                    Ok(out) => Ok(out
                        .parameter()
                        .and_then(|p| p.value())
                        .map(|v| (name.clone(), v.to_string()))),
                    Err(e) => CloudError::from_sdk("ssm:GetParameter", name, e).absent_as_none(),
                }
            })
            .await?;
        Ok(found.into_iter().collect())
    }

    pub(crate) async fn ssm_put(&self, name: &str, value: &str) -> CloudResult<()> {
        self.ssm
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("ssm:PutParameter", name, e))?;
        Ok(())
    }

    /// Where the A and AAAA alias records of each `(zone, name)` point now.
    pub(crate) async fn dns_aliases(
        &self,
        records: &[(String, String)],
    ) -> CloudResult<BTreeMap<String, AliasObs>> {
        let found: Vec<(String, AliasObs)> = stream::iter(records.iter().cloned())
            .map(|(zone, name)| async move {
                let wanted = name.trim_end_matches('.').to_ascii_lowercase();
                let out = self
                    .route53
                    .list_resource_record_sets()
                    .hosted_zone_id(&zone)
                    .start_record_name(&name)
                    .start_record_type(RrType::A)
                    .max_items(4)
                    .send()
                    .await;
                let mut obs = AliasObs::default();
                match out {
                    Ok(out) => {
                        for rr in out.resource_record_sets() {
                            if rr.name().trim_end_matches('.').to_ascii_lowercase() != wanted {
                                continue;
                            }
                            let target = rr.alias_target().map(|a| normalise_dns(a.dns_name()));
                            match rr.r#type() {
                                RrType::A => obs.a = target,
                                RrType::Aaaa => obs.aaaa = target,
                                _ => {}
                            }
                        }
                    }
                    Err(e) => {
                        let err = CloudError::from_sdk("route53:ListResourceRecordSets", &zone, e);
                        if !err.is_not_found() {
                            return Err(err);
                        }
                    }
                }
                Ok((alias_key(&zone, &name), obs))
            })
            .buffered(self.concurrency)
            .try_collect()
            .await?;
        Ok(found.into_iter().collect())
    }

    pub(crate) async fn dns_upsert_alias(
        &self,
        zone_id: &str,
        name: &str,
        target_dns: &str,
        target_zone: &str,
    ) -> CloudResult<()> {
        let resource = format!("route53:{zone_id}/{name}");
        let refuse = |e: aws_sdk_route53::error::BuildError| {
            CloudError::refused(resource.clone(), e.to_string())
        };
        let mut batch = ChangeBatch::builder();
        for rr_type in [RrType::A, RrType::Aaaa] {
            let alias = AliasTarget::builder()
                .hosted_zone_id(target_zone)
                .dns_name(target_dns)
                .evaluate_target_health(false)
                .build()
                .map_err(refuse)?;
            let set = ResourceRecordSet::builder()
                .name(name)
                .r#type(rr_type)
                .alias_target(alias)
                .build()
                .map_err(refuse)?;
            batch = batch.changes(
                Change::builder()
                    .action(ChangeAction::Upsert)
                    .resource_record_set(set)
                    .build()
                    .map_err(refuse)?,
            );
        }
        self.route53
            .change_resource_record_sets()
            .hosted_zone_id(zone_id)
            .change_batch(batch.build().map_err(refuse)?)
            .send()
            .await
            .map_err(|e| {
                CloudError::from_sdk("route53:ChangeResourceRecordSets", resource.clone(), e)
            })?;
        Ok(())
    }
}
