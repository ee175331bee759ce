//! RDS instances: discovery, stop/start, hibernate (delete with a final snapshot) and restore
//! under the same identifier.

use crate::aws::AwsCloud;
use crate::error::{CloudError, CloudResult, FromSdk};
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
                let found: Vec<DbObs> = all
                    .iter()
                    .filter(|db| {
                        selector.matches_tags(
                            db.tag_list()
                                .iter()
                                .filter_map(|t| Some((t.key()?, t.value().unwrap_or("")))),
                        )
                    })
                    .map(db_obs)
                    .collect();
                self.with_key_states(found).await
            }
        }
    }

    /// Describes instances one identifier at a time (concurrently): a filter on identifiers
    /// would hide the difference between "gone" and "never existed" we do not need, but a
    /// single missing id must not fail the others.
    pub(crate) async fn rds_describe(&self, ids: &[String]) -> CloudResult<Vec<DbObs>> {
        let found = self.rds_describe_only(ids).await?;
        self.with_key_states(found).await
    }

    /// The state of each encrypted instance's KMS key (one DescribeKey per distinct key).
    async fn with_key_states(&self, mut dbs: Vec<DbObs>) -> CloudResult<Vec<DbObs>> {
        let mut keys: Vec<String> = dbs
            .iter()
            .filter(|d| d.spec.storage_encrypted)
            .filter_map(|d| d.spec.kms_key_id.clone())
            .collect();
        keys.sort();
        keys.dedup();
        let states: Vec<(String, String)> = self
            .lookup_each(&keys, |key| async move {
                let state = match self.kms.describe_key().key_id(&key).send().await {
                    Ok(out) => out
                        .key_metadata()
                        .and_then(|m| m.key_state())
                        .map_or("Unknown".to_string(), |s| s.as_str().to_string()),
                    Err(e) => {
                        let err = CloudError::from_sdk("kms:DescribeKey", &key, e);
                        if err.is_not_found() {
                            "NotFound".to_string()
                        } else if err.is_transient() {
                            return Err(err);
                        } else {
                            // Denied (the reduce-only role reads no key): unknown, which a
                            // hibernation treats as unusable.
                            format!("Unknown ({})", err.code().unwrap_or("error"))
                        }
                    }
                };
                Ok(Some((key, state)))
            })
            .await?;
        for db in &mut dbs {
            if db.spec.storage_encrypted
                && let Some(key) = &db.spec.kms_key_id
            {
                db.kms_key_state = states
                    .iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, s)| s.clone());
            }
        }
        Ok(dbs)
    }

    async fn rds_describe_only(&self, ids: &[String]) -> CloudResult<Vec<DbObs>> {
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

    pub(crate) async fn rds_kept_snapshots(&self, ids: &[String]) -> CloudResult<Vec<SnapshotObs>> {
        let per_instance: Vec<Vec<SnapshotObs>> = self
            .lookup_each(ids, |id| async move {
                let all: Vec<aws_sdk_rds::types::DbSnapshot> = self
                    .rds
                    .describe_db_snapshots()
                    .db_instance_identifier(&id)
                    .snapshot_type("manual")
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .map_err(|e| CloudError::from_sdk("rds:DescribeDBSnapshots", &id, e))?;
                let prefix = format!("{id}-");
                Ok(Some(
                    all.iter()
                        .filter_map(|s| {
                            let name = s.db_snapshot_identifier()?;
                            name.starts_with(&prefix).then(|| SnapshotObs {
                                id: name.to_string(),
                                instance_id: id.clone(),
                                status: s.status().unwrap_or_default().to_string(),
                            })
                        })
                        .collect(),
                ))
            })
            .await?;
        Ok(per_instance.into_iter().flatten().collect())
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
            .set_allocated_storage(to_i32(spec.allocated_storage))
            .set_storage_throughput(to_i32(spec.storage_throughput))
            .set_enable_cloudwatch_logs_exports(
                (!spec.cloudwatch_logs_exports.is_empty())
                    .then(|| spec.cloudwatch_logs_exports.clone()),
            )
            .set_ca_certificate_identifier(spec.ca_certificate.clone())
            .set_network_type(spec.network_type.clone())
            .set_license_model(spec.license_model.clone())
            .deletion_protection(spec.deletion_protection)
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

impl AwsCloud {
    /// Sets, with one ModifyDBInstance applied immediately, the recorded `fields` that a
    /// restore could not (see `costctl_core::restore`).
    pub(crate) async fn rds_modify(
        &self,
        id: &str,
        spec: &DbSpec,
        fields: &[String],
    ) -> CloudResult<()> {
        let to_i32 = |n: Option<u32>| n.and_then(|v| i32::try_from(v).ok());
        let has = |f: &str| fields.iter().any(|x| x == f);
        let mut req = self
            .rds
            .modify_db_instance()
            .db_instance_identifier(id)
            .apply_immediately(true);
        if has("instance_class") {
            req = req.db_instance_class(&spec.instance_class);
        }
        if has("security_groups") {
            req = req.set_vpc_security_group_ids(Some(spec.security_groups.clone()));
        }
        if has("parameter_group") {
            req = req.set_db_parameter_group_name(spec.parameter_group.clone());
        }
        if has("option_group") {
            req = req.set_option_group_name(spec.option_group.clone());
        }
        if has("storage_type") {
            req = req.set_storage_type(spec.storage_type.clone());
        }
        if has("allocated_storage") {
            req = req.set_allocated_storage(to_i32(spec.allocated_storage));
        }
        if has("iops") {
            req = req.set_iops(to_i32(spec.iops));
        }
        if has("storage_throughput") {
            req = req.set_storage_throughput(to_i32(spec.storage_throughput));
        }
        if has("max_allocated_storage") {
            req = req.set_max_allocated_storage(to_i32(spec.max_allocated_storage));
        }
        if has("port") {
            req = req.set_db_port_number(to_i32(spec.port));
        }
        if has("multi_az") {
            req = req.multi_az(spec.multi_az);
        }
        if has("publicly_accessible") {
            req = req.publicly_accessible(spec.publicly_accessible);
        }
        if has("copy_tags_to_snapshot") {
            req = req.copy_tags_to_snapshot(spec.copy_tags_to_snapshot);
        }
        if has("iam_auth") {
            req = req.enable_iam_database_authentication(spec.iam_auth);
        }
        if has("auto_minor_version_upgrade") {
            req = req.auto_minor_version_upgrade(spec.auto_minor_version_upgrade);
        }
        if has("backup_retention_period") {
            req = req.set_backup_retention_period(to_i32(spec.backup_retention_period));
        }
        if has("preferred_backup_window") {
            req = req.set_preferred_backup_window(spec.preferred_backup_window.clone());
        }
        if has("preferred_maintenance_window") {
            req = req.set_preferred_maintenance_window(spec.preferred_maintenance_window.clone());
        }
        if has("cloudwatch_logs_exports") {
            let have: Vec<String> = self
                .rds_describe_only(&[id.to_string()])
                .await?
                .first()
                .map(|d| d.spec.cloudwatch_logs_exports.clone())
                .unwrap_or_default();
            let want = &spec.cloudwatch_logs_exports;
            req = req.cloudwatch_logs_export_configuration(
                aws_sdk_rds::types::CloudwatchLogsExportConfiguration::builder()
                    .set_enable_log_types(Some(
                        want.iter().filter(|l| !have.contains(l)).cloned().collect(),
                    ))
                    .set_disable_log_types(Some(
                        have.iter().filter(|l| !want.contains(l)).cloned().collect(),
                    ))
                    .build(),
            );
        }
        if has("ca_certificate") {
            req = req.set_ca_certificate_identifier(spec.ca_certificate.clone());
        }
        if has("network_type") {
            req = req.set_network_type(spec.network_type.clone());
        }
        if has("monitoring_interval") || has("monitoring_role_arn") {
            req = req
                .set_monitoring_interval(to_i32(spec.monitoring_interval))
                .set_monitoring_role_arn(spec.monitoring_role_arn.clone());
        }
        if has("performance_insights") || has("performance_insights_retention") {
            req = req.enable_performance_insights(spec.performance_insights);
            if spec.performance_insights {
                req = req
                    .set_performance_insights_retention_period(to_i32(
                        spec.performance_insights_retention,
                    ))
                    .set_performance_insights_kms_key_id(
                        spec.performance_insights_kms_key_id.clone(),
                    );
            }
        }
        if has("deletion_protection") {
            req = req.deletion_protection(spec.deletion_protection);
        }
        req.send()
            .await
            .map(|_| ())
            .map_err(|e| CloudError::from_sdk("rds:ModifyDBInstance", id, e))
    }
}

/// Turns the "it is already so" answers of an idempotent call into success.
fn already(err: CloudError, codes: &[&str]) -> CloudResult<()> {
    match err.code() {
        Some(code) if codes.contains(&code) => Ok(()),
        _ => Err(err),
    }
}

/// What a restore from a snapshot cannot bring back, each naming the field (docs/fidelity.md).
fn db_unsupported(db: &DbInstance) -> Vec<String> {
    let mut out = Vec::new();
    let mut refuse = |set: bool, what: &str| {
        if set {
            out.push(what.to_string());
        }
    };
    refuse(
        db.master_user_secret().is_some(),
        "master_user_secret: the password is managed by RDS in Secrets Manager; a restored instance gets a new secret under a new ARN that the application does not read",
    );
    refuse(
        !db.read_replica_db_instance_identifiers().is_empty()
            || !db.read_replica_db_cluster_identifiers().is_empty(),
        "read_replica_db_instance_identifiers: its read replicas would lose their source",
    );
    refuse(
        db.read_replica_source_db_instance_identifier().is_some()
            || db.read_replica_source_db_cluster_identifier().is_some(),
        "read_replica_source_db_instance_identifier: a read replica is recreated from its source, not from a snapshot",
    );
    refuse(
        db.db_cluster_identifier().is_some(),
        "db_cluster_identifier: a cluster member is not restored from an instance snapshot",
    );
    refuse(
        !db.domain_memberships().is_empty(),
        "domain_memberships: directory (Kerberos) membership is not recorded",
    );
    refuse(
        !db.processor_features().is_empty(),
        "processor_features: custom processor features are not recorded",
    );
    refuse(
        !db.associated_roles().is_empty(),
        "associated_roles: IAM roles associated with the instance are not recorded",
    );
    refuse(
        db.customer_owned_ip_enabled() == Some(true),
        "customer_owned_ip_enabled (Outposts) is not recorded",
    );
    refuse(
        db.activity_stream_status()
            .is_some_and(|s| s.as_str() != "stopped"),
        "activity_stream_status: a database activity stream is not recorded",
    );
    refuse(
        !db.db_instance_automated_backups_replications().is_empty(),
        "db_instance_automated_backups_replications: cross-Region backup replication is not recorded",
    );
    refuse(
        !db.additional_storage_volumes().is_empty(),
        "additional_storage_volumes are not recorded",
    );
    refuse(
        db.dedicated_log_volume() == Some(true),
        "dedicated_log_volume is not recorded",
    );
    refuse(
        db.database_insights_mode()
            .is_some_and(|m| m.as_str() == "advanced"),
        "database_insights_mode `advanced` is not recorded",
    );
    out
}

/// The `DbSpec` fields a `PendingModifiedValues` names (what RDS accepted and has not applied).
fn pending(p: &aws_sdk_rds::types::PendingModifiedValues) -> std::collections::BTreeSet<String> {
    [
        ("instance_class", p.db_instance_class().is_some()),
        ("allocated_storage", p.allocated_storage().is_some()),
        ("port", p.port().is_some()),
        (
            "backup_retention_period",
            p.backup_retention_period().is_some(),
        ),
        ("multi_az", p.multi_az().is_some()),
        ("engine_version", p.engine_version().is_some()),
        ("license_model", p.license_model().is_some()),
        ("iops", p.iops().is_some()),
        ("storage_throughput", p.storage_throughput().is_some()),
        ("storage_type", p.storage_type().is_some()),
        ("ca_certificate", p.ca_certificate_identifier().is_some()),
        ("subnet_group", p.db_subnet_group_name().is_some()),
        (
            "cloudwatch_logs_exports",
            p.pending_cloudwatch_logs_exports().is_some(),
        ),
        (
            "iam_auth",
            p.iam_database_authentication_enabled().is_some(),
        ),
        ("engine", p.engine().is_some()),
    ]
    .into_iter()
    .filter(|(_, set)| *set)
    .map(|(f, _)| f.to_string())
    .collect()
}

fn db_obs(db: &DbInstance) -> DbObs {
    let to_u32 = |n: Option<i32>| n.and_then(|v| u32::try_from(v).ok());
    DbObs {
        id: db.db_instance_identifier().unwrap_or_default().to_string(),
        status: db.db_instance_status().unwrap_or_default().to_string(),
        deletion_protection: db.deletion_protection().unwrap_or(false),
        unsupported: db_unsupported(db),
        kms_key_state: None,
        pending: db
            .pending_modified_values()
            .map(pending)
            .unwrap_or_default(),
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
            storage_throughput: to_u32(db.storage_throughput()),
            max_allocated_storage: to_u32(db.max_allocated_storage()),
            storage_encrypted: db.storage_encrypted().unwrap_or(false),
            kms_key_id: db.kms_key_id().map(str::to_string),
            preferred_maintenance_window: db.preferred_maintenance_window().map(str::to_string),
            cloudwatch_logs_exports: {
                let mut v = db.enabled_cloudwatch_logs_exports().to_vec();
                v.sort();
                v
            },
            ca_certificate: db.ca_certificate_identifier().map(str::to_string),
            network_type: db.network_type().map(str::to_string),
            monitoring_interval: to_u32(db.monitoring_interval()),
            monitoring_role_arn: db.monitoring_role_arn().map(str::to_string),
            performance_insights: db.performance_insights_enabled().unwrap_or(false),
            performance_insights_kms_key_id: db
                .performance_insights_kms_key_id()
                .map(str::to_string),
            performance_insights_retention: to_u32(db.performance_insights_retention_period()),
            deletion_protection: db.deletion_protection().unwrap_or(false),
            license_model: db.license_model().map(str::to_string),
            master_username: db.master_username().map(str::to_string),
            db_name: db.db_name().map(str::to_string),
            tags: db
                .tag_list()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
                .collect(),
        },
    }
}
