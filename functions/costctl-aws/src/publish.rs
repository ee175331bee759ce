//! Publishing new endpoints: SSM parameters (bootstrap brokers, ALB DNS name) and Route53 alias
//! records (A and AAAA) pointed at a recreated load balancer.

use crate::aws::AwsCloud;
use crate::error::{CloudError, CloudResult, FromSdk};
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

    /// Deletes the A and AAAA alias records of `name` that point at `target_dns`. Route53
    /// deletes a record set only when the request repeats it exactly, so each one is read first.
    pub(crate) async fn dns_delete_alias(
        &self,
        zone_id: &str,
        name: &str,
        target_dns: &str,
    ) -> CloudResult<()> {
        let resource = format!("route53:{zone_id}/{name}");
        let wanted = name.trim_end_matches('.').to_ascii_lowercase();
        let target = normalise_dns(target_dns);
        let out = match self
            .route53
            .list_resource_record_sets()
            .hosted_zone_id(zone_id)
            .start_record_name(name)
            .start_record_type(RrType::A)
            .max_items(4)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                let err = CloudError::from_sdk("route53:ListResourceRecordSets", zone_id, e);
                return if err.is_not_found() { Ok(()) } else { Err(err) };
            }
        };
        let mut batch = ChangeBatch::builder();
        let mut any = false;
        for rr in out.resource_record_sets() {
            let ours = rr.name().trim_end_matches('.').to_ascii_lowercase() == wanted
                && matches!(rr.r#type(), RrType::A | RrType::Aaaa)
                && rr
                    .alias_target()
                    .is_some_and(|a| normalise_dns(a.dns_name()) == target);
            if !ours {
                continue;
            }
            any = true;
            batch = batch.changes(
                Change::builder()
                    .action(ChangeAction::Delete)
                    .resource_record_set(rr.clone())
                    .build()
                    .map_err(|e| CloudError::refused(resource.clone(), e.to_string()))?,
            );
        }
        if !any {
            return Ok(());
        }
        let batch = batch
            .build()
            .map_err(|e| CloudError::refused(resource.clone(), e.to_string()))?;
        match self
            .route53
            .change_resource_record_sets()
            .hosted_zone_id(zone_id)
            .change_batch(batch)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => {
                let err = CloudError::from_sdk("route53:ChangeResourceRecordSets", resource, e);
                // Deleted meanwhile (a retry after a lost answer): "it is already so".
                if err.code() == Some("InvalidChangeBatch")
                    && err.to_string().contains("it was not found")
                {
                    Ok(())
                } else {
                    Err(err)
                }
            }
        }
    }
}
