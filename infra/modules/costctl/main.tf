data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  create = var.create

  partition = data.aws_partition.current.partition
  region    = data.aws_region.current.region
  account   = data.aws_caller_identity.current.account_id

  function_names = {
    full        = "${var.name}-full"
    reduce_only = "${var.name}-reduce-only"
  }
  state_table_name = coalesce(var.state_table_name, var.name == "costctl" ? "costctl-state" : "costctl-${var.name}")

  # What the functions read as COSTCTL_CONFIG: the documented config JSON, nothing else.
  config = {
    exclude_tag_key = var.exclude_tag_key
    stacks = { for name, s in var.stacks : name => merge({
      tags      = s.tags
      policy    = s.policy
      budgets   = s.budgets
      time_zone = coalesce(s.time_zone, try(s.schedule.time_zone, null), "UTC")
      calendar  = s.calendar
      snooze    = s.snooze
      exclude   = s.exclude
      },
      # The schedules EventBridge Scheduler runs (triggers.tf), so the functions know the next
      # boundary: a manual resume at night is held until it.
      contains(keys(local.schedules), name) ? { schedule = {
        pause  = local.schedules[name].pause_cron
        resume = local.schedules[name].resume_cron
      } } : {}
    ) }
  }
  config_json = jsonencode(local.config)

  config_parameter_name = "/costctl/${var.name}/config"

  environment = { for mode, fn in local.function_names : mode => merge(
    {
      COSTCTL_STATE_TABLE = local.state_table_name
      COSTCTL_MODE        = mode == "full" ? "full" : "reduce-only"
      COSTCTL_CONCURRENCY = tostring(var.concurrency)
      COSTCTL_EVENT_BUS   = var.event_bus_name
    },
    var.config_source == "inline" ? { COSTCTL_CONFIG = local.config_json } : { COSTCTL_CONFIG_PARAMETER = local.config_parameter_name },
    var.log_level == null ? {} : { RUST_LOG = var.log_level },
  ) }
}

# ---------------------------------------------------------------------------------------------
# Functions: one zip, two deployments. The full function serves schedules, manual invokes and
# Terraform; the reduce-only function serves budget alerts and the RDS auto-start event, and its
# role cannot create, start or restore anything.
# ---------------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  for_each = local.create ? local.function_names : {}

  #checkov:skip=CKV_AWS_158:Logs hold operational traces only; the AWS managed encryption of CloudWatch Logs is enough. A CMK is left to the caller's account policy.
  #checkov:skip=CKV_AWS_338:Retention is a variable (default 30 days); a year of debug logs is cost, not safety.
  name              = "/aws/lambda/${each.value}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

resource "aws_lambda_function" "this" {
  for_each = local.create ? local.function_names : {}

  #checkov:skip=CKV_AWS_117:The functions only call AWS APIs; a VPC would need NAT or a dozen interface endpoints for nothing.
  #checkov:skip=CKV_AWS_116:checkov looks only for dead_letter_config; failed asynchronous events go to the on-failure destination instead (aws_lambda_function_event_invoke_config.this → aws_sqs_queue.failed_events, SSE-SQS, alarmed), which also records the error and the request.
  #checkov:skip=CKV_AWS_173:The environment holds names and the non-secret config JSON; Lambda encrypts it at rest with the AWS managed key.
  #checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile the users do not have; the zip is built from this repository by CI.
  #checkov:skip=CKV_AWS_115:Reserved concurrency would take capacity from the account's unreserved pool (10 in new accounts); the state table lease already serialises reconciles.
  function_name    = each.value
  description      = each.key == "full" ? "costctl: schedules, manual requests and Terraform (may create and start)" : "costctl: budget alerts and RDS auto-start (may only reduce cost)"
  role             = local.role_arns[each.key]
  filename         = var.lambda_zip_path
  source_code_hash = filebase64sha256(var.lambda_zip_path)
  handler          = "bootstrap"
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  timeout          = var.timeout_seconds
  memory_size      = var.memory_size

  environment {
    variables = local.environment[each.key]
  }

  tracing_config {
    mode = var.tracing_mode
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this[each.key].name
  }

  tags = var.tags

  # The function must not run (nor be invoked by Terraform) before its permissions exist, and on
  # destroy the permissions must outlive the last invocation (the ephemeral tier's delete).
  depends_on = [
    aws_iam_role_policy.full,
    aws_iam_role_policy.reduce_only,
    aws_iam_role_policy.runtime,
  ]
}

resource "aws_ssm_parameter" "config" {
  count = local.create && var.config_source == "ssm" ? 1 : 0

  #checkov:skip=CKV2_AWS_34:The config is not secret (stack names, tags, policies, thresholds); String keeps it readable in the console.
  name        = local.config_parameter_name
  description = "costctl configuration (JSON) of ${var.name}"
  type        = "String"
  tier        = length(local.config_json) > 4096 ? "Advanced" : "Standard"
  value       = local.config_json
  tags        = var.tags
}

# ---------------------------------------------------------------------------------------------
# State store: desired states, leases, generations and manifests.
# ---------------------------------------------------------------------------------------------

resource "aws_dynamodb_table" "state" {
  count = local.create ? 1 : 0

  name         = local.state_table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"
  range_key    = "sk"

  attribute {
    name = "pk"
    type = "S"
  }

  attribute {
    name = "sk"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.state_table_kms_key_arn
  }

  deletion_protection_enabled = var.state_table_deletion_protection

  tags = var.tags
}

# ---------------------------------------------------------------------------------------------
# No event lost. Schedules, budget alerts (SNS) and the RDS event (EventBridge) invoke the
# functions asynchronously; Lambda retries twice, then sends the event to this queue instead of
# dropping it: a budget request that was never written cannot be repaired by the tick. The alarm
# fires on the first message. Encrypted with SQS managed keys (SSE-SQS), so neither Lambda nor
# the roles need KMS permissions for it.
# ---------------------------------------------------------------------------------------------

resource "aws_sqs_queue" "failed_events" {
  count = local.create ? 1 : 0

  name                      = "${var.name}-failed-events"
  message_retention_seconds = var.failed_event_retention_seconds
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

# SNS (budget topics) and EventBridge (the RDS rule) send what they could not deliver with their
# own service principals, for their own sources only; Scheduler uses its role (triggers.tf).
data "aws_iam_policy_document" "failed_events" {
  count = local.create ? 1 : 0

  dynamic "statement" {
    for_each = length(local.budget_topics) > 0 ? [1] : []
    content {
      sid       = "SnsUndeliveredBudgetAlerts"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.failed_events[0].arn]
      principals {
        type        = "Service"
        identifiers = ["sns.amazonaws.com"]
      }
      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = values(local.budget_topics)
      }
    }
  }

  dynamic "statement" {
    for_each = var.enable_rds_auto_start_rule ? [1] : []
    content {
      sid       = "EventBridgeUndeliveredRdsEvents"
      actions   = ["sqs:SendMessage"]
      resources = [aws_sqs_queue.failed_events[0].arn]
      principals {
        type        = "Service"
        identifiers = ["events.amazonaws.com"]
      }
      condition {
        test     = "ArnEquals"
        variable = "aws:SourceArn"
        values   = [aws_cloudwatch_event_rule.rds_auto_start[0].arn]
      }
    }
  }

  # Deny everything but TLS.
  statement {
    sid       = "TlsOnly"
    effect    = "Deny"
    actions   = ["sqs:*"]
    resources = [aws_sqs_queue.failed_events[0].arn]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "failed_events" {
  count = local.create ? 1 : 0

  queue_url = aws_sqs_queue.failed_events[0].id
  policy    = data.aws_iam_policy_document.failed_events[0].json
}

resource "aws_lambda_function_event_invoke_config" "this" {
  for_each = local.create ? local.function_names : {}

  function_name                = aws_lambda_function.this[each.key].function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 21600

  destination_config {
    on_failure {
      destination = aws_sqs_queue.failed_events[0].arn
    }
  }

  # Lambda checks the role may send to the destination when the config is written.
  depends_on = [aws_iam_role_policy.runtime]
}

resource "aws_cloudwatch_metric_alarm" "failed_events" {
  count = local.create ? 1 : 0

  alarm_name          = "${var.name}-failed-events"
  alarm_description   = "An asynchronous costctl event (budget alert, schedule, RDS event) failed every attempt; it is kept in ${var.name}-failed-events. Read it, fix the cause, re-send it (aws lambda invoke ... --payload)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.failed_events[0].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  ok_actions          = var.alarm_actions
  tags                = var.tags
}
