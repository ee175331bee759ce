# ---------------------------------------------------------------------------------------------
# Notifications: costctl's transition events (source "costctl", docs/events.md) routed by an
# EventBridge rule to a KMS-encrypted SNS topic, with email subscriptions and an optional AWS
# Chatbot Slack channel. The functions publish to var.event_bus_name whether or not this is on.
# ---------------------------------------------------------------------------------------------
locals {
  event_bus_arn = "${local.arn_prefix}:events:${local.region}:${local.account}:event-bus/${var.event_bus_name}"

  notify            = local.create && var.notifications.enabled
  notify_create_key = local.notify && var.notifications.kms_key_id == null
  notify_slack      = local.notify && var.notifications.slack != null
}

# EventBridge publishes to an encrypted topic only if the key lets events.amazonaws.com use it
# (Amazon SNS Developer Guide, "Enable compatibility between event sources from AWS services
# and encrypted topics"); the AWS managed aws/sns key cannot be so changed.
resource "aws_kms_key" "notifications" {
  count = local.notify_create_key ? 1 : 0

  description             = "${var.name}: notification topic (EventBridge publishes costctl's events, SNS delivers)"
  enable_key_rotation     = true
  deletion_window_in_days = 7
  policy                  = local.service_key_policies.notifications
  tags                    = var.tags
}

resource "aws_sns_topic" "notifications" {
  count = local.notify ? 1 : 0

  name              = "${var.name}-notifications"
  kms_master_key_id = local.notify_create_key ? aws_kms_key.notifications[0].arn : var.notifications.kms_key_id
  tags              = var.tags
}

resource "aws_sns_topic_policy" "notifications" {
  count = local.notify ? 1 : 0

  arn = aws_sns_topic.notifications[0].arn
  # Only the module's rule and its problem alarms may publish (aws:SourceArn). This policy
  # replaces the topic's default one.
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "EventBridgePublishes"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = "SNS:Publish"
        Resource  = aws_sns_topic.notifications[0].arn
        Condition = { ArnEquals = { "aws:SourceArn" = aws_cloudwatch_event_rule.notifications[0].arn } }
      },
      {
        Sid       = "ProblemAlarmsPublish"
        Effect    = "Allow"
        Principal = { Service = "cloudwatch.amazonaws.com" }
        Action    = "SNS:Publish"
        Resource  = aws_sns_topic.notifications[0].arn
        Condition = { ArnLike = { "aws:SourceArn" = "${local.arn_prefix}:cloudwatch:${local.region}:${local.account}:alarm:${var.name}-*" } }
      },
    ]
  })
}

resource "aws_sns_topic_subscription" "email" {
  for_each = local.notify ? toset(var.notifications.emails) : toset([])

  topic_arn = aws_sns_topic.notifications[0].arn
  protocol  = "email"
  endpoint  = each.value
}

resource "aws_cloudwatch_event_rule" "notifications" {
  count = local.notify ? 1 : 0

  name           = "${var.name}-notifications"
  description    = "costctl events that notify: ${join(", ", var.notifications.detail_types)}"
  event_bus_name = var.event_bus_name
  event_pattern = jsonencode({
    source        = ["costctl"]
    "detail-type" = var.notifications.detail_types
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "notifications" {
  count = local.notify ? 1 : 0

  rule           = aws_cloudwatch_event_rule.notifications[0].name
  event_bus_name = var.event_bus_name
  target_id      = "sns"
  arn            = aws_sns_topic.notifications[0].arn
}

# AWS Chatbot posts what reaches the topic to a Slack channel. Its role needs no permission to
# relay notifications; the guardrail caps what channel members could do through it at reading
# CloudWatch.
resource "aws_iam_role" "chatbot" {
  count = local.notify_slack ? 1 : 0

  name                 = "${var.name}-chatbot"
  permissions_boundary = var.permissions_boundary
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "chatbot.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_chatbot_slack_channel_configuration" "this" {
  count = local.notify_slack ? 1 : 0

  configuration_name    = "${var.name}-notifications"
  iam_role_arn          = aws_iam_role.chatbot[0].arn
  slack_team_id         = var.notifications.slack.team_id
  slack_channel_id      = var.notifications.slack.channel_id
  sns_topic_arns        = [aws_sns_topic.notifications[0].arn]
  guardrail_policy_arns = ["${local.arn_prefix}:iam::aws:policy/CloudWatchReadOnlyAccess"]
  logging_level         = "ERROR"
  tags                  = var.tags
}
