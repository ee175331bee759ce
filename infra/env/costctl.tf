# costctl for this environment: its functions, schedules and budget wiring.

module "costctl" {
  source = "../modules/costctl"

  name             = "costctl-${local.name}"
  state_table_name = "costctl-${local.name}"
  lambda_zip_path  = var.lambda_zip_path

  stacks = {
    (local.name) = {
      tags               = { Project = local.project, Env = local.env }
      name_prefixes      = [local.name]  # ECS cluster, RDS instance: order-tracking-<env>
      edge_name_prefixes = [local.short] # ALB, target group, MSK: ot-<env>-…
      policy             = var.costctl_policy
      budgets            = [{ name = local.budget_name, rules = var.budget.rules }]
      schedule           = var.schedule
      ssm_parameter_path = local.parameter_path
      hosted_zone_ids    = var.enable_https ? [data.aws_route53_zone.this[0].zone_id] : []
      dns_record_names   = var.enable_https ? [local.fqdn] : []
      vpc_ids            = [local.bootstrap.vpc_id]
    }
  }

  # The private modes: costctl creates the NAT gateways or interface endpoints of the spec
  # (network_private.tf). private-nat: the private route tables whose 0.0.0.0/0 it points at its
  # NAT gateways, the only route tables its role may change (empty in the other modes).
  ephemeral_network   = local.private_network
  nat_route_table_ids = local.nat_route_table_ids

  permissions_boundary = local.permissions_boundary_arn
  alarm_actions        = var.alarm_actions

  state_table_deletion_protection = var.state_table_deletion_protection
  log_retention_days              = var.log_retention_days
  tags                            = local.tags
}

# ---------------------------------------------------------------------------------------------
# Budget: its notifications go to the module's topic, which only the reduce-only function hears.
# The rule thresholds are the same list the function maps to levels.
# ---------------------------------------------------------------------------------------------

locals {
  budget_name = "${local.name}-monthly"
}

resource "aws_budgets_budget" "this" {
  name         = local.budget_name
  budget_type  = "COST"
  limit_amount = format("%.2f", var.budget.limit_usd)
  limit_unit   = "USD"
  time_unit    = "MONTHLY"

  # Costs of this environment: Project AND Env cost allocation tags (activate both in Billing).
  filter_expression {
    and {
      tags {
        key    = "Project"
        values = [local.project]
      }
    }
    and {
      tags {
        key    = "Env"
        values = [local.env]
      }
    }
  }

  dynamic "notification" {
    for_each = var.budget.rules
    content {
      comparison_operator        = "GREATER_THAN"
      threshold                  = notification.value.threshold_percent
      threshold_type             = "PERCENTAGE"
      notification_type          = notification.value.alert_type
      subscriber_sns_topic_arns  = [module.costctl.budget_topic_arn]
      subscriber_email_addresses = var.budget.emails
    }
  }
}

# ---------------------------------------------------------------------------------------------
# Guard: never plan a new, empty database while costctl keeps the real one as a snapshot.
#
# On every plan the full function reports the stack's desired state. A `check` block would only
# warn, so the condition is a precondition of terraform_data.hibernation_guard, which the RDS
# instance and the ephemeral tier depend on: the plan fails before anything is touched.
#
# First apply: the function does not exist yet. `depends_on = [module.costctl]` makes Terraform
# defer the read to apply time whenever the module has pending changes, i.e. right after the
# function is created (a stack costctl has never seen is `running`). Later plans, with costctl
# unchanged, read it up front and fail the plan itself; a plan that also changes costctl fails at
# apply, still before the database or the ephemeral tier are touched. hibernation_guard = false
# skips it (repairing costctl itself).
# ---------------------------------------------------------------------------------------------

data "aws_lambda_invocation" "status" {
  count = var.hibernation_guard ? 1 : 0

  function_name = module.costctl.full_function_name
  input         = jsonencode({ action = "status", stack = local.name })

  depends_on = [module.costctl]
}

locals {
  stack_status  = var.hibernation_guard ? jsondecode(data.aws_lambda_invocation.status[0].result) : null
  desired_state = local.stack_status == null ? "running" : try(local.stack_status.desired_state, "running")
  # With rds_on_pause = snapshot a plain pause deletes the instance too.
  database_gone = local.desired_state == "hibernated" || (local.desired_state == "paused" && var.costctl_policy.rds_on_pause == "snapshot")
  # After a hibernation, a resume restores the instance under the same identifier (a new
  # DbiResourceId, which the AWS provider's id is since 5.0) and then brings it back to its record
  # with ModifyDBInstance. Until the status shows it `available` and the stack converged, a plan
  # would race costctl (or, before the restore, propose a new database). Afterwards the provider's
  # read finds the instance by identifier when the recorded resource id is gone (provider 5.31+,
  # hashicorp/terraform-provider-aws#34728) and records the new id: the plan shows no change.
  database_state = try(one([for r in local.stack_status.resources : r.state if r.resource == "rds:${local.name}"]), null)
  database_resuming = local.desired_state == "running" && local.stack_status != null && (
    !try(local.stack_status.converged, true) && local.database_state != null && local.database_state != "available" && local.database_state != "stopped"
  )
  resume_hint = "costctl resume --stack ${local.name}   (or: aws lambda invoke --function-name costctl-${local.name}-full --cli-binary-format raw-in-base64-out --payload '{\"action\":\"resume\",\"stack\":\"${local.name}\",\"trigger\":\"manual\"}' /dev/stdout)"
}

resource "terraform_data" "hibernation_guard" {
  input = local.name

  lifecycle {
    precondition {
      condition     = !local.database_gone
      error_message = "${local.name} is ${local.desired_state}: costctl keeps its database as a snapshot, and this plan would create a new, empty one. Resume the stack first, wait until it is running, then plan again:\n  ${local.resume_hint}"
    }
    precondition {
      condition     = !local.database_resuming
      error_message = "${local.name} is resuming: costctl is restoring its database (${coalesce(local.database_state, "unknown")}) and bringing it back to its recorded settings. Wait until `costctl status --stack ${local.name}` shows it running, then plan again."
    }
  }
}
