# Triggers: EventBridge Scheduler → full function; budget SNS and the RDS auto-start event →
# reduce-only function.

locals {
  # Stacks with an enabled schedule, with their cron expressions resolved (explicit cron wins).
  schedules = { for name, s in var.stacks : name => {
    time_zone   = s.schedule.time_zone
    pause_level = s.schedule.pause_level
    pause_cron = coalesce(s.schedule.pause_cron, format("cron(%d %d ? * %s *)",
    tonumber(split(":", s.schedule.pause_at)[1]), tonumber(split(":", s.schedule.pause_at)[0]), s.schedule.working_days))
    resume_cron = coalesce(s.schedule.resume_cron, format("cron(%d %d ? * %s *)",
    tonumber(split(":", s.schedule.resume_at)[1]), tonumber(split(":", s.schedule.resume_at)[0]), s.schedule.working_days))
  } if s.schedule != null && try(s.schedule.enabled, false) }

  budget_topics = merge(
    local.create && var.create_budget_topic ? { this = aws_sns_topic.budget[0].arn } : {},
    local.create ? { for i, arn in var.budget_topic_arns : "extra-${i}" => arn } : {},
  )
}

resource "aws_scheduler_schedule_group" "this" {
  count = local.create ? 1 : 0

  name = var.name
  tags = var.tags
}

data "aws_iam_policy_document" "scheduler_assume" {
  statement {
    sid     = "SchedulerAssumesRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "scheduler" {
  count = local.create ? 1 : 0

  name                 = "${var.name}-scheduler"
  description          = "EventBridge Scheduler invoking the costctl full function"
  assume_role_policy   = data.aws_iam_policy_document.scheduler_assume.json
  permissions_boundary = var.permissions_boundary
  tags                 = var.tags
}

data "aws_iam_policy_document" "scheduler" {
  count = local.create ? 1 : 0

  statement {
    sid       = "InvokeFullFunction"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.this["full"].arn, "${aws_lambda_function.this["full"].arn}:*"]
  }

  statement {
    sid       = "UndeliveredToFailedEvents"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.failed_events[0].arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  count = local.create ? 1 : 0

  name   = "invoke-full-function"
  role   = aws_iam_role.scheduler[0].id
  policy = data.aws_iam_policy_document.scheduler[0].json
}

resource "aws_scheduler_schedule" "pause" {
  #checkov:skip=CKV_AWS_297:Schedule inputs are stack names and actions, not secrets; the AWS owned key encrypts them.
  for_each = local.create ? local.schedules : {}

  name                         = "${each.key}-pause"
  group_name                   = aws_scheduler_schedule_group.this[0].name
  description                  = "Nightly pause of ${each.key}"
  schedule_expression          = each.value.pause_cron
  schedule_expression_timezone = each.value.time_zone

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this["full"].arn
    role_arn = aws_iam_role.scheduler[0].arn
    input    = jsonencode({ action = "pause", stack = each.key, level = each.value.pause_level, trigger = "schedule" })

    # Delivery failures (Scheduler could not invoke) land in the failed-event queue too.
    dead_letter_config {
      arn = aws_sqs_queue.failed_events[0].arn
    }

    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 3
    }
  }
}

resource "aws_scheduler_schedule" "resume" {
  #checkov:skip=CKV_AWS_297:Schedule inputs are stack names and actions, not secrets; the AWS owned key encrypts them.
  for_each = local.create ? local.schedules : {}

  name                         = "${each.key}-resume"
  group_name                   = aws_scheduler_schedule_group.this[0].name
  description                  = "Morning resume of ${each.key} (refused while a budget lockout holds)"
  schedule_expression          = each.value.resume_cron
  schedule_expression_timezone = each.value.time_zone

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this["full"].arn
    role_arn = aws_iam_role.scheduler[0].arn
    input    = jsonencode({ action = "resume", stack = each.key, trigger = "schedule" })

    # Delivery failures (Scheduler could not invoke) land in the failed-event queue too.
    dead_letter_config {
      arn = aws_sqs_queue.failed_events[0].arn
    }

    retry_policy {
      maximum_event_age_in_seconds = 3600
      maximum_retry_attempts       = 3
    }
  }
}

resource "aws_scheduler_schedule" "reconcile" {
  #checkov:skip=CKV_AWS_297:Schedule inputs are stack names and actions, not secrets; the AWS owned key encrypts them.
  count = local.create && var.reconcile_schedule_expression != null ? 1 : 0

  name                = "reconcile"
  group_name          = aws_scheduler_schedule_group.this[0].name
  description         = "Periodic tick: continue unfinished transitions, repair drift"
  schedule_expression = var.reconcile_schedule_expression

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this["full"].arn
    role_arn = aws_iam_role.scheduler[0].arn
    input    = jsonencode({ action = "reconcile", trigger = "schedule" })

    # A missed tick is replaced by the next one.
    # Delivery failures (Scheduler could not invoke) land in the failed-event queue too.
    dead_letter_config {
      arn = aws_sqs_queue.failed_events[0].arn
    }

    retry_policy {
      maximum_event_age_in_seconds = 300
      maximum_retry_attempts       = 0
    }
  }
}

# ---------------------------------------------------------------------------------------------
# Budget alerts: AWS Budgets → SNS → reduce-only function (and nothing else).
# ---------------------------------------------------------------------------------------------

# AWS Budgets cannot publish to a topic encrypted with the AWS managed aws/sns key, so the topic
# gets a customer managed key whose policy admits budgets.amazonaws.com (unless one is given).
locals {
  create_budget_key = local.create && var.create_budget_topic && var.budget_topic_kms_key_id == null

  # The key policies of the module's topics: the account administers the key, and the AWS
  # services that publish to the topic (and SNS, which delivers) may use it. jsonencode, not a
  # policy document: the IAM test reads every aws_iam_policy_document as a grant to the
  # functions, and a key policy's administrator statement needs kms:*.
  service_key_policies = { for topic, services in {
    budget        = ["budgets.amazonaws.com", "sns.amazonaws.com"]
    notifications = ["events.amazonaws.com", "cloudwatch.amazonaws.com", "sns.amazonaws.com"]
    } : topic => jsonencode({
      Version = "2012-10-17"
      Statement = [
        {
          Sid       = "AccountAdministersTheKey"
          Effect    = "Allow"
          Principal = { AWS = "${local.arn_prefix}:iam::${local.account}:root" }
          Action    = "kms:*"
          Resource  = "*"
        },
        {
          Sid       = "PublishersAndSnsUseTheKey"
          Effect    = "Allow"
          Principal = { Service = services }
          Action    = ["kms:GenerateDataKey*", "kms:Decrypt"]
          Resource  = "*"
          Condition = { StringEquals = { "aws:SourceAccount" = local.account } }
        },
      ]
  }) }
}

resource "aws_kms_key" "budget" {
  count = local.create_budget_key ? 1 : 0

  description             = "${var.name}: budget alert topic (AWS Budgets publishes, SNS delivers to the reduce-only function)"
  enable_key_rotation     = true
  deletion_window_in_days = 7
  policy                  = local.service_key_policies.budget
  tags                    = var.tags
}

resource "aws_sns_topic" "budget" {
  count = local.create && var.create_budget_topic ? 1 : 0

  name              = "${var.name}-budget-alerts"
  kms_master_key_id = local.create_budget_key ? aws_kms_key.budget[0].arn : var.budget_topic_kms_key_id
  tags              = var.tags
}

data "aws_iam_policy_document" "budget_topic" {
  count = local.create && var.create_budget_topic ? 1 : 0

  statement {
    sid       = "BudgetsPublish"
    actions   = ["SNS:Publish"]
    resources = [aws_sns_topic.budget[0].arn]
    principals {
      type        = "Service"
      identifiers = ["budgets.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["${local.arn_prefix}:budgets::${local.account}:*"]
    }
  }
}

resource "aws_sns_topic_policy" "budget" {
  count = local.create && var.create_budget_topic ? 1 : 0

  arn    = aws_sns_topic.budget[0].arn
  policy = data.aws_iam_policy_document.budget_topic[0].json
}

resource "aws_sns_topic_subscription" "budget" {
  for_each = local.budget_topics

  topic_arn = each.value
  protocol  = "lambda"
  endpoint  = aws_lambda_function.this["reduce_only"].arn
  # An alert SNS could not deliver (after its own retries) lands in the failed-event queue.
  redrive_policy = jsonencode({ deadLetterTargetArn = aws_sqs_queue.failed_events[0].arn })
}

resource "aws_lambda_permission" "budget" {
  for_each = local.budget_topics

  statement_id  = "budget-sns-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["reduce_only"].function_name
  principal     = "sns.amazonaws.com"
  source_arn    = each.value
}

# ---------------------------------------------------------------------------------------------
# RDS restarts a stopped instance after 7 days (RDS-EVENT-0154): stop it again. Re-stopping only
# reduces cost, so the reduce-only function handles it.
# ---------------------------------------------------------------------------------------------

resource "aws_cloudwatch_event_rule" "rds_auto_start" {
  count = local.create && var.enable_rds_auto_start_rule ? 1 : 0

  name        = "${var.name}-rds-auto-start"
  description = "RDS-EVENT-0154: DB instance is being started due to it exceeding the maximum allowed time being stopped"
  event_pattern = jsonencode({
    source        = ["aws.rds"]
    "detail-type" = ["RDS DB Instance Event"]
    detail        = { EventID = ["RDS-EVENT-0154"] }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "rds_auto_start" {
  count = local.create && var.enable_rds_auto_start_rule ? 1 : 0

  rule      = aws_cloudwatch_event_rule.rds_auto_start[0].name
  target_id = "costctl-reduce-only"
  arn       = aws_lambda_function.this["reduce_only"].arn

  dead_letter_config {
    arn = aws_sqs_queue.failed_events[0].arn
  }
}

resource "aws_lambda_permission" "rds_auto_start" {
  count = local.create && var.enable_rds_auto_start_rule ? 1 : 0

  statement_id  = "rds-auto-start-event"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this["reduce_only"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.rds_auto_start[0].arn
}
