# RDS PostgreSQL and its Secrets Manager secret. costctl stops it on pause; on hibernate it takes
# a final snapshot, deletes it and later restores it under the same identifier (same endpoint).

# With db.manage_master_user_password RDS generates the password and keeps it in a secret of its
# own (`rds!db-…`): nothing here, and nothing in Terraform state. Otherwise Terraform draws it once
# and stores it in `<short_name>/rds/<env>/postgres` (and, unavoidably, in state).
locals {
  managed_password = var.db.manage_master_user_password
  # RDS always returns master_user_secret when it manages the password (unknown until apply).
  db_secret_arn = local.managed_password ? one(aws_db_instance.this.master_user_secret[*].secret_arn) : aws_secretsmanager_secret.db[0].arn
}

moved {
  from = aws_secretsmanager_secret.db
  to   = aws_secretsmanager_secret.db[0]
}

moved {
  from = aws_secretsmanager_secret_version.db
  to   = aws_secretsmanager_secret_version.db[0]
}

data "aws_secretsmanager_random_password" "db" {
  count = local.managed_password ? 0 : 1

  password_length     = 32
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "db" {
  count = local.managed_password ? 0 : 1

  #checkov:skip=CKV2_AWS_57:Rotation would change the password behind a stopped or snapshotted instance that costctl restores; rotate by hand after a resume.
  #checkov:skip=CKV_AWS_149:The AWS managed key (aws/secretsmanager) encrypts the secret; a CMK adds cost and key policy work for a dev database.
  name                    = "${local.bootstrap.short_name}/rds/${local.env}/postgres"
  description             = "Credentials of ${local.name} PostgreSQL"
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "db" {
  count = local.managed_password ? 0 : 1

  secret_id = aws_secretsmanager_secret.db[0].id
  secret_string = jsonencode({
    username = var.db.username
    password = data.aws_secretsmanager_random_password.db[0].random_password
    dbname   = var.db.name
  })

  # The data source draws a new password on every run; the first one is kept.
  lifecycle {
    ignore_changes = [secret_string]
  }
}

# A UUID Terraform generates once, when the environment's database is first planned (no random
# provider needed: terraform_data's id is a UUID). A destroyed and re-created environment gets a
# new one, so its final snapshot name never collides with the one the last destroy left.
resource "terraform_data" "db_incarnation" {
  input = local.name
}

locals {
  db_incarnation = substr(replace(terraform_data.db_incarnation.id, "-", ""), 0, 8)
}

resource "aws_db_subnet_group" "this" {
  name       = local.name
  subnet_ids = local.bootstrap.private_subnet_ids
}

resource "aws_db_instance" "this" {
  #checkov:skip=CKV2_AWS_30:Logging every statement of a dev database is noise and cost; set log_statement in a parameter group when debugging.
  #checkov:skip=CKV_AWS_133:backup_retention_period is var.db.backup_retention (default 7, validated 1-35); checkov cannot see through the optional object attribute.
  #checkov:skip=CKV_AWS_157:Multi-AZ doubles the cost of a dev database that is stopped every night.
  #checkov:skip=CKV_AWS_118:Enhanced monitoring needs a monitoring role and costs per instance; CloudWatch basic metrics suffice in dev.
  #checkov:skip=CKV_AWS_293:Deletion protection is a variable (db.deletion_protection), required in prod by posture_check: with it on, costctl can only stop the instance, never hibernate it.
  #checkov:skip=CKV_AWS_353:Performance Insights is not needed for a dev database.
  #checkov:skip=CKV2_AWS_60:Copy of tags to snapshots is on; this check wants it on a cluster-only setting.
  identifier     = local.name
  engine         = "postgres"
  engine_version = var.db.engine_version
  instance_class = var.db.instance_class

  allocated_storage = var.db.allocated_storage
  storage_type      = "gp3"
  storage_encrypted = true

  db_name                     = var.db.name
  username                    = var.db.username
  password                    = local.managed_password ? null : data.aws_secretsmanager_random_password.db[0].random_password
  manage_master_user_password = local.managed_password ? true : null

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.rds.id]
  publicly_accessible    = false

  iam_database_authentication_enabled = true
  enabled_cloudwatch_logs_exports     = ["postgresql", "upgrade"]
  auto_minor_version_upgrade          = true
  backup_retention_period             = var.db.backup_retention
  copy_tags_to_snapshot               = true
  deletion_protection                 = var.db.deletion_protection
  skip_final_snapshot                 = false
  # Unique per incarnation of the environment: destroying a re-created environment must not
  # collide with the final snapshot of the previous one (see terraform_data.db_incarnation).
  final_snapshot_identifier = "${local.name}-final-${local.db_incarnation}"

  lifecycle {
    ignore_changes = [password]
  }

  # Never plan a database while costctl holds it as a snapshot (hibernated): see guard.tf.
  depends_on = [terraform_data.hibernation_guard]
}

# RDS deletes the secret it manages together with the instance, and costctl's restore does not
# yet ask RDS to manage a new one: after a hibernation the restored database would keep a password
# nobody has. Warn whenever a hibernation path is configured (see README, "RDS master password").
check "managed_password_and_hibernation" {
  assert {
    condition = !local.managed_password || !(
      var.costctl_policy.rds_on_pause == "snapshot" || var.costctl_policy.rds_auto_start == "hibernate" ||
      try(var.schedule.pause_level, "paused") == "hibernated" || anytrue([for r in var.budget.rules : r.level == "hibernated"])
    )
    error_message = "db.manage_master_user_password is not yet compatible with hibernation (RDS deletes its secret with the instance; a restored instance would keep an unknown password), and this environment can be hibernated (budget rule, schedule or costctl_policy). Keep it off, or remove every hibernation path."
  }
}
