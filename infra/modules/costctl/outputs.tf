output "full_function_name" {
  description = "Name of the full function (schedules, manual requests, Terraform's apply-spec and status)."
  value       = try(aws_lambda_function.this["full"].function_name, null)
}

output "full_function_arn" {
  description = "ARN of the full function."
  value       = try(aws_lambda_function.this["full"].arn, null)
}

output "reduce_only_function_name" {
  description = "Name of the reduce-only function (budget alerts, RDS auto-start)."
  value       = try(aws_lambda_function.this["reduce_only"].function_name, null)
}

output "reduce_only_function_arn" {
  description = "ARN of the reduce-only function."
  value       = try(aws_lambda_function.this["reduce_only"].arn, null)
}

output "full_role_arn" {
  description = "ARN of the full function's role."
  value       = try(aws_iam_role.full[0].arn, null)
}

output "reduce_only_role_arn" {
  description = "ARN of the reduce-only function's role."
  value       = try(aws_iam_role.reduce_only[0].arn, null)
}

output "state_table_name" {
  description = "Name of the DynamoDB state table (COSTCTL_STATE_TABLE; also what the costctl CLI needs)."
  value       = try(aws_dynamodb_table.state[0].name, null)
}

output "state_table_arn" {
  description = "ARN of the DynamoDB state table."
  value       = try(aws_dynamodb_table.state[0].arn, null)
}

output "budget_topic_arn" {
  description = "SNS topic for AWS Budgets notifications (null when create_budget_topic is false)."
  value       = try(aws_sns_topic.budget[0].arn, null)
}

output "schedule_group_name" {
  description = "EventBridge Scheduler group holding the pause, resume and reconcile schedules."
  value       = try(aws_scheduler_schedule_group.this[0].name, null)
}

output "config_json" {
  description = "The configuration JSON the functions read."
  value       = local.config_json
}

output "config_parameter_name" {
  description = "SSM parameter holding the configuration (null with config_source = inline)."
  value       = try(aws_ssm_parameter.config[0].name, null)
}

output "schedules" {
  description = "Per stack: the pause and resume cron expressions and their time zone."
  value = { for name, s in local.schedules : name => {
    pause     = s.pause_cron
    resume    = s.resume_cron
    time_zone = s.time_zone
  } if local.create }
}

output "notification_topic_arn" {
  description = "ARN of the notification topic (null unless notifications.enabled): subscribe more endpoints to it."
  value       = try(aws_sns_topic.notifications[0].arn, null)
}

output "event_bus_arn" {
  description = "ARN of the EventBridge bus the functions publish their events to (source `costctl`)."
  value       = local.create ? local.event_bus_arn : null
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard (null when create_dashboard is false)."
  value       = try(aws_cloudwatch_dashboard.this[0].dashboard_name, null)
}
