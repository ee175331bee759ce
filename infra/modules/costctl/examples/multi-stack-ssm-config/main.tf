# One costctl deployment guarding several stacks, config in SSM (past the 4 KB environment
# limit), hibernation on weekends for staging, an existing budget topic, no X-Ray.
terraform {
  required_version = ">= 1.9.0, < 2.0.0"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0" # >= 6.0, < 7.0
    }
  }
}

provider "aws" {
  region = "eu-west-1"
}

variable "lambda_zip_path" {
  description = "cargo lambda build --release --arm64 --output-format zip -p costctl-lambda"
  type        = string
  default     = "../../../../../target/lambda/bootstrap/bootstrap.zip"
}

variable "shared_budget_topic_arn" {
  description = "An SNS topic that already receives budget notifications."
  type        = string
  default     = "arn:aws:sns:eu-west-1:123456789012:billing-alerts"
}

module "costctl" {
  source = "../.."

  name            = "costctl-shared"
  lambda_zip_path = var.lambda_zip_path
  config_source   = "ssm"

  stacks = {
    "order-tracking-dev" = {
      tags     = { Project = "order-tracking", Env = "dev" }
      policy   = { msk_on_pause = "delete", rds_on_pause = "stop", rds_auto_start = "hibernate", hibernate_after_days = 10 }
      schedule = { time_zone = "America/Argentina/Buenos_Aires", pause_at = "19:00", resume_at = "09:00" }
    }
    "order-tracking-staging" = {
      tags   = { Project = "order-tracking", Env = "staging" }
      policy = { msk_on_pause = "keep", rds_on_pause = "snapshot" }
      schedule = {
        time_zone   = "UTC"
        pause_cron  = "cron(0 18 ? * FRI *)"
        resume_cron = "cron(0 6 ? * MON *)"
        pause_level = "hibernated"
      }
    }
  }

  create_budget_topic           = false
  budget_topic_arns             = [var.shared_budget_topic_arn]
  reconcile_schedule_expression = "rate(10 minutes)"
  tracing_mode                  = "PassThrough"
  log_retention_days            = 14

  tags = { Owner = "platform" }
}

output "config_parameter_name" {
  description = "SSM parameter with the configuration JSON."
  value       = module.costctl.config_parameter_name
}
