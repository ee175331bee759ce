//! RDS instances: discovery, stop/start, hibernate (delete with a final snapshot) and restore
//! under the same identifier.

use crate::aws::AwsCloud;
use crate::error::{CloudError, CloudResult};
use aws_sdk_rds::types::{DbInstance, Tag};
use costctl_core::Selector;
use costctl_core::observation::{DbObs, DbSpec, SnapshotObs};

impl AwsCloud {
    pub(crate) async fn rds_find(&self, selector: &Selector) -> CloudResult<Vec<DbObs>> {
        match selector {
            Selector::Names(names) => self.rds_describe(&names.rds_instances).await,
            Selector::Tags(_) => {
                let all: Vec<DbInstance> = self
                    .rds
                    .describe_db_instances()
                    .max_records(100)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| CloudError::from_sdk("rds:DescribeDBInstances", "*", e))?;
                Ok(all
                    .iter()
                    .filter(|db| {
                        selector.matches_tags(
                            db.tag_list()
                                .iter()
                                .filter_map(|t| Some((t.key()?, t.value().unwrap_or("")))),
                        )
                    })
                    .map(db_obs)
                    .collect())
            }
        }
    }

    /// Describes instances one identifier at a time (concurrently): a filter on identifiers
    /// would hide the difference between "gone" and "never existed" we do not need, but a
    /// single missing id must not fail the others.
    pub(crate) async fn rds_describe(&self, ids: &[String]) -> CloudResult<Vec<DbObs>> {
        self.lookup_each(ids, |id| async move {
            match self
                .rds
                .describe_db_instances()
                .db_instance_identifier(&id)
                .send()
                .await
            {
                Ok(out) => Ok(out.db_instances().first().map(db_obs)),
                Err(e) => CloudError::from_sdk("rds:DescribeDBInstances", id, e).absent_as_none(),
            }
        })
        .await
    }

    pub(crate) async fn rds_snapshots(&self, ids: &[String]) -> CloudResult<Vec<SnapshotObs>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.lookup_each(ids, |id| async move {
            match self
                .rds
                .describe_db_snapshots()
                .db_snapshot_identifier(&id)
                .send()
                .await
            {
                Ok(out) => Ok(out.db_snapshots().first().map(|s| SnapshotObs {
                    id: s.db_snapshot_identifier().unwrap_or(&id).to_string(),
                    instance_id: s.db_instance_identifier().unwrap_or_default().to_string(),
                    status: s.status().unwrap_or_default().to_string(),
                })),
                Err(e) => CloudError::from_sdk("rds:DescribeDBSnapshots", id, e).absent_as_none(),
            }
        })
        .await
    }

    pub(crate) async fn rds_stop(&self, id: &str) -> CloudResult<()> {
        match self
            .rds
            .stop_db_instance()
            .db_instance_identifier(id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => already(
                CloudError::from_sdk("rds:StopDBInstance", id, e),
                &["InvalidDBInstanceState"],
            ),
        }
    }

    pub(crate) async fn rds_start(&self, id: &str) -> CloudResult<()> {
        match self
            .rds
            .start_db_instance()
            .db_instance_identifier(id)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => already(
                CloudError::from_sdk("rds:StartDBInstance", id, e),
                &["InvalidDBInstanceState"],
            ),
        }
    }

    pub(crate) async fn rds_delete(&self, id: &str, final_snapshot: &str) -> CloudResult<()> {
        if final_snapshot.is_empty() {
            return Err(CloudError::refused(
                format!("rds:{id}"),
                "refusing to delete an RDS instance without a final snapshot",
            ));
        }
        let result = self
            .rds
            .delete_db_instance()
            .db_instance_identifier(id)
            .skip_final_snapshot(false)
            .final_db_snapshot_identifier(final_snapshot)
            .delete_automated_backups(false)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let err = CloudError::from_sdk("rds:DeleteDBInstance", id, e);
                // Already gone, or already being deleted: the final snapshot was requested then.
                if err.is_not_found() {
                    return Ok(());
                }
                already(err, &[])
            }
        }
    }

    pub(crate) async fn rds_restore(
        &self,
        id: &str,
        snapshot: &str,
        spec: &DbSpec,
    ) -> CloudResult<()> {
        let to_i32 = |n: Option<u32>| n.and_then(|v| i32::try_from(v).ok());
        let tags: Vec<Tag> = spec
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect();
        let mut req = self
            .rds
            .restore_db_instance_from_db_snapshot()
            .db_instance_identifier(id)
            .db_snapshot_identifier(snapshot)
            .db_instance_class(&spec.instance_class)
            .set_db_subnet_group_name(spec.subnet_group.clone())
            .set_vpc_security_group_ids(
                (!spec.security_groups.is_empty()).then(|| spec.security_groups.clone()),
            )
            .set_db_parameter_group_name(spec.parameter_group.clone())
            .set_option_group_name(spec.option_group.clone())
            .set_storage_type(spec.storage_type.clone())
            .set_iops(to_i32(spec.iops))
            .set_port(to_i32(spec.port))
            .multi_az(spec.multi_az)
            .publicly_accessible(spec.publicly_accessible)
            .copy_tags_to_snapshot(spec.copy_tags_to_snapshot)
            .enable_iam_database_authentication(spec.iam_auth)
            .auto_minor_version_upgrade(spec.auto_minor_version_upgrade)
            .set_backup_retention_period(to_i32(spec.backup_retention_period))
            .set_preferred_backup_window(spec.preferred_backup_window.clone())
            .set_tags((!tags.is_empty()).then_some(tags));
        if !spec.multi_az {
            req = req.set_availability_zone(spec.availability_zone.clone());
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) => already(
                CloudError::from_sdk("rds:RestoreDBInstanceFromDBSnapshot", id, e),
                &["DBInstanceAlreadyExists", "DBInstanceAlreadyExistsFault"],
            ),
        }
    }
}

/// Turns the "it is already so" answers of an idempotent call into success.
fn already(err: CloudError, codes: &[&str]) -> CloudResult<()> {
    match err.code() {
        Some(code) if codes.contains(&code) => Ok(()),
        _ => Err(err),
    }
}

fn db_obs(db: &DbInstance) -> DbObs {
    let to_u32 = |n: Option<i32>| n.and_then(|v| u32::try_from(v).ok());
    DbObs {
        id: db.db_instance_identifier().unwrap_or_default().to_string(),
        status: db.db_instance_status().unwrap_or_default().to_string(),
        deletion_protection: db.deletion_protection().unwrap_or(false),
        spec: DbSpec {
            instance_class: db.db_instance_class().unwrap_or_default().to_string(),
            engine: db.engine().unwrap_or_default().to_string(),
            engine_version: db.engine_version().map(str::to_string),
            subnet_group: db
                .db_subnet_group()
                .and_then(|g| g.db_subnet_group_name())
                .map(str::to_string),
            security_groups: db
                .vpc_security_groups()
                .iter()
                .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
                .collect(),
            parameter_group: db
                .db_parameter_groups()
                .first()
                .and_then(|g| g.db_parameter_group_name())
                .map(str::to_string),
            option_group: db
                .option_group_memberships()
                .first()
                .and_then(|g| g.option_group_name())
                .map(str::to_string),
            storage_type: db.storage_type().map(str::to_string),
            allocated_storage: to_u32(db.allocated_storage()),
            iops: to_u32(db.iops()),
            port: to_u32(
                db.endpoint()
                    .and_then(|e| e.port())
                    .or(db.db_instance_port()),
            ),
            multi_az: db.multi_az().unwrap_or(false),
            publicly_accessible: db.publicly_accessible().unwrap_or(false),
            availability_zone: db.availability_zone().map(str::to_string),
            copy_tags_to_snapshot: db.copy_tags_to_snapshot().unwrap_or(false),
            iam_auth: db.iam_database_authentication_enabled().unwrap_or(false),
            auto_minor_version_upgrade: db.auto_minor_version_upgrade().unwrap_or(true),
            backup_retention_period: to_u32(db.backup_retention_period()),
            preferred_backup_window: db.preferred_backup_window().map(str::to_string),
            tags: db
                .tag_list()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
                .collect(),
        },
    }
}
