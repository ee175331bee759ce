//! Comparing a restored RDS instance with the record it was restored from.
//!
//! `RestoreDBInstanceFromDBSnapshot` sets most of what a user configures, but not all of it
//! (storage autoscaling, the maintenance window, enhanced monitoring, Performance Insights), and
//! a few settings come from the snapshot and cannot be chosen at all (engine, encryption key,
//! master user name). After a restore the planner compares the instance field by field with the
//! record: what `ModifyDBInstance` can set is set, what it cannot is a problem naming the field.
//! The resume of that database is done only when nothing differs. The field-by-field table is
//! `docs/fidelity.md`.

use crate::observation::DbSpec;

/// How a described instance differs from its record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbDifferences {
    /// Fields a `ModifyDBInstance` brings back.
    pub modifiable: Vec<String>,
    /// Fields nothing can change on the restored instance.
    pub fixed: Vec<String>,
}

impl DbDifferences {
    pub fn is_empty(&self) -> bool {
        self.modifiable.is_empty() && self.fixed.is_empty()
    }
}

/// Compares `have` (described) with `want` (recorded). A field the record leaves unset (a
/// manifest written before costctl recorded it) is not compared.
pub fn db_differences(have: &DbSpec, want: &DbSpec) -> DbDifferences {
    let mut d = DbDifferences::default();
    let mut modifiable = |name: &str, differs: bool| {
        if differs {
            d.modifiable.push(name.to_string());
        }
    };
    fn opt<T: PartialEq>(have: &Option<T>, want: &Option<T>) -> bool {
        want.is_some() && have != want
    }
    fn sorted(v: &[String]) -> Vec<&String> {
        let mut v: Vec<&String> = v.iter().collect();
        v.sort();
        v
    }
    modifiable(
        "instance_class",
        !want.instance_class.is_empty() && have.instance_class != want.instance_class,
    );
    modifiable(
        "security_groups",
        !want.security_groups.is_empty()
            && sorted(&have.security_groups) != sorted(&want.security_groups),
    );
    modifiable(
        "parameter_group",
        opt(&have.parameter_group, &want.parameter_group),
    );
    modifiable("option_group", opt(&have.option_group, &want.option_group));
    modifiable("storage_type", opt(&have.storage_type, &want.storage_type));
    modifiable(
        "allocated_storage",
        opt(&have.allocated_storage, &want.allocated_storage),
    );
    modifiable("iops", opt(&have.iops, &want.iops));
    modifiable(
        "storage_throughput",
        opt(&have.storage_throughput, &want.storage_throughput),
    );
    modifiable(
        "max_allocated_storage",
        opt(&have.max_allocated_storage, &want.max_allocated_storage),
    );
    modifiable("port", opt(&have.port, &want.port));
    modifiable("multi_az", have.multi_az != want.multi_az);
    modifiable(
        "publicly_accessible",
        have.publicly_accessible != want.publicly_accessible,
    );
    modifiable(
        "copy_tags_to_snapshot",
        have.copy_tags_to_snapshot != want.copy_tags_to_snapshot,
    );
    modifiable("iam_auth", have.iam_auth != want.iam_auth);
    modifiable(
        "auto_minor_version_upgrade",
        have.auto_minor_version_upgrade != want.auto_minor_version_upgrade,
    );
    modifiable(
        "backup_retention_period",
        opt(&have.backup_retention_period, &want.backup_retention_period),
    );
    modifiable(
        "preferred_backup_window",
        opt(&have.preferred_backup_window, &want.preferred_backup_window),
    );
    modifiable(
        "preferred_maintenance_window",
        opt(
            &have.preferred_maintenance_window,
            &want.preferred_maintenance_window,
        ),
    );
    modifiable(
        "cloudwatch_logs_exports",
        sorted(&have.cloudwatch_logs_exports) != sorted(&want.cloudwatch_logs_exports),
    );
    modifiable(
        "ca_certificate",
        opt(&have.ca_certificate, &want.ca_certificate),
    );
    modifiable("network_type", opt(&have.network_type, &want.network_type));
    modifiable(
        "monitoring_interval",
        opt(&have.monitoring_interval, &want.monitoring_interval),
    );
    modifiable(
        "monitoring_role_arn",
        opt(&have.monitoring_role_arn, &want.monitoring_role_arn),
    );
    modifiable(
        "performance_insights",
        have.performance_insights != want.performance_insights,
    );
    modifiable(
        "performance_insights_retention",
        want.performance_insights
            && opt(
                &have.performance_insights_retention,
                &want.performance_insights_retention,
            ),
    );
    modifiable(
        "deletion_protection",
        have.deletion_protection != want.deletion_protection,
    );

    let mut fixed = |name: &str, differs: bool| {
        if differs {
            d.fixed.push(name.to_string());
        }
    };
    fixed(
        "engine",
        !want.engine.is_empty() && have.engine != want.engine,
    );
    fixed(
        "engine_version",
        opt(&have.engine_version, &want.engine_version),
    );
    fixed("subnet_group", opt(&have.subnet_group, &want.subnet_group));
    fixed(
        "storage_encrypted",
        have.storage_encrypted != want.storage_encrypted,
    );
    fixed("kms_key_id", opt(&have.kms_key_id, &want.kms_key_id));
    fixed(
        "master_username",
        opt(&have.master_username, &want.master_username),
    );
    fixed("db_name", opt(&have.db_name, &want.db_name));
    fixed(
        "performance_insights_kms_key_id",
        want.performance_insights
            && opt(
                &have.performance_insights_kms_key_id,
                &want.performance_insights_kms_key_id,
            ),
    );
    fixed(
        "license_model",
        opt(&have.license_model, &want.license_model),
    );
    fixed("tags", have.tags != want.tags);
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> DbSpec {
        DbSpec {
            instance_class: "db.t4g.micro".into(),
            engine: "postgres".into(),
            engine_version: Some("16.4".into()),
            max_allocated_storage: Some(100),
            cloudwatch_logs_exports: vec!["postgresql".into(), "upgrade".into()],
            storage_encrypted: true,
            kms_key_id: Some("arn:aws:kms:us-east-1:123456789012:key/k".into()),
            ..DbSpec::default()
        }
    }

    #[test]
    fn equal_specs_do_not_differ_and_unrecorded_fields_are_not_compared() {
        assert!(db_differences(&spec(), &spec()).is_empty());
        let mut have = spec();
        have.preferred_maintenance_window = Some("sun:05:00-sun:05:30".into());
        assert!(db_differences(&have, &spec()).is_empty());
    }

    #[test]
    fn restore_defaults_are_found_and_sorted_by_what_can_fix_them() {
        let mut have = spec();
        have.max_allocated_storage = None;
        have.cloudwatch_logs_exports = vec![];
        have.kms_key_id = Some("arn:aws:kms:us-east-1:123456789012:key/other".into());
        let d = db_differences(&have, &spec());
        assert_eq!(
            d.modifiable,
            vec!["max_allocated_storage", "cloudwatch_logs_exports"]
        );
        assert_eq!(d.fixed, vec!["kms_key_id"]);
    }

    #[test]
    fn log_exports_compare_as_sets() {
        let mut have = spec();
        have.cloudwatch_logs_exports.reverse();
        assert!(db_differences(&have, &spec()).is_empty());
    }
}
