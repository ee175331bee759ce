# ---------------------------------------------------------------------------------------------
# Metrics the functions write in the Embedded Metric Format (namespace "costctl", dimension
# Stack; functions/costctl-lambda/src/metrics.rs): a dashboard per deployment and, per stack, an
# alarm on a transition that ended with problems or errors and one on a transition overdue.
# ---------------------------------------------------------------------------------------------
locals {
  metric_namespace = "costctl"
  dashboard        = local.create && var.create_dashboard
  # Alarms reach what alarm_actions names, and the notification topic when there is one.
  problem_alarm_actions = concat(var.alarm_actions, local.notify ? [aws_sns_topic.notifications[0].arn] : [])

  dashboard_widgets = flatten([for i, stack in local.stack_names : [
    {
      type = "metric", x = 0, y = i * 6, width = 8, height = 6
      properties = {
        title   = "${stack}: state (3 running, 2 transitioning, 1 paused, 0 hibernated)"
        region  = local.region
        view    = "timeSeries"
        stat    = "Maximum"
        period  = 300
        metrics = [[local.metric_namespace, "StateLevel", "Stack", stack]]
        yAxis   = { left = { min = 0, max = 3 } }
      }
    },
    {
      type = "metric", x = 8, y = i * 6, width = 8, height = 6
      properties = {
        title  = "${stack}: estimated cost per hour (USD)"
        region = local.region
        view   = "timeSeries"
        stat   = "Average"
        period = 300
        metrics = [
          [local.metric_namespace, "CostPerHour", "Stack", stack, { label = "now" }],
          [local.metric_namespace, "RunningCostPerHour", "Stack", stack, { label = "when running" }],
        ]
      }
    },
    {
      type = "metric", x = 16, y = i * 6, width = 8, height = 6
      properties = {
        title  = "${stack}: saved (USD, estimate)"
        region = local.region
        view   = "singleValue"
        period = 2592000
        # Each reconcile reports what the time since the previous one saved (the savings
        # ledger's increments): their sum is the saving of a period; SavedThisMonth is their
        # running total for the UTC month. `costctl savings` gives the month's days.
        metrics = [
          [local.metric_namespace, "SavedThisMonth", "Stack", stack, { stat = "Maximum", period = 3600, label = "this month (UTC)" }],
          [local.metric_namespace, "SavedDollars", "Stack", stack, { stat = "Sum", label = "last 30 days" }],
        ]
      }
    },
  ]])
}

resource "aws_cloudwatch_dashboard" "this" {
  count = local.dashboard ? 1 : 0

  dashboard_name = var.name
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}

resource "aws_cloudwatch_metric_alarm" "problems" {
  for_each = local.create ? toset(local.stack_names) : toset([])

  alarm_name          = "${var.name}-${each.key}-problems"
  alarm_description   = "A costctl transition of stack ${each.key} ended with problems or errors (a failed or stuck pause/resume). `costctl status --stack ${each.key}` says what and why."
  namespace           = local.metric_namespace
  metric_name         = "Problems"
  dimensions          = { Stack = each.key }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.problem_alarm_actions
  ok_actions          = local.problem_alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "overdue" {
  for_each = local.create ? toset(local.stack_names) : toset([])

  alarm_name          = "${var.name}-${each.key}-overdue"
  alarm_description   = "Stack ${each.key} has not reached its requested state ${var.overdue_after_minutes} minutes after the request (a resume at 08:00 still not serving). `costctl status --stack ${each.key}` shows what is pending."
  namespace           = local.metric_namespace
  metric_name         = "PendingSeconds"
  dimensions          = { Stack = each.key }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = var.overdue_after_minutes * 60
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.problem_alarm_actions
  ok_actions          = local.problem_alarm_actions
  tags                = var.tags
}

# A function that fails outright (a bad grant, a crash at cold start) reports no stack and so
# writes no metric line: the two alarms above stay OK. This one watches the functions
# themselves.
resource "aws_cloudwatch_metric_alarm" "function_errors" {
  for_each = local.create ? local.function_names : {}

  alarm_name          = "${each.value}-errors"
  alarm_description   = "The costctl function ${each.value} failed invocations (it could not run at all, or answered with an error): its log group says why."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this[each.key].function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.problem_alarm_actions
  ok_actions          = local.problem_alarm_actions
  tags                = var.tags
}
