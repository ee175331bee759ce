# One stack, inline config: nightly pause at 20:00 and resume at 08:00 (Europe/Madrid) on working
# days, budget alerts to the reduce-only function, reconcile every 5 minutes.
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

module "costctl" {
  source = "../.."

  name            = "costctl-order-tracking-dev"
  lambda_zip_path = var.lambda_zip_path

  stacks = {
    "order-tracking-dev" = {
      tags = { Project = "order-tracking", Env = "dev" }
      budgets = [{
        name = "order-tracking-dev-monthly"
        rules = [
          { alert_type = "FORECASTED", threshold_percent = 100, level = "paused" },
          { alert_type = "ACTUAL", threshold_percent = 100, level = "hibernated", lockout = true },
        ]
      }]
      schedule = { time_zone = "Europe/Madrid" }
    }
  }

  # A mail when a transition fails, a budget locks the stack out or a resource is kept
  # (docs/events.md); add "Stack State Changed" to detail_types to hear of every pause and resume,
  # and slack = { team_id, channel_id } for an AWS Chatbot channel.
  notifications = {
    enabled = true
    emails  = ["oncall@example.com"]
  }

  tags = { Project = "order-tracking", Env = "dev", Owner = "egobb" }
}

output "full_function_name" {
  description = "Invoke it to pause/resume by hand."
  value       = module.costctl.full_function_name
}

output "budget_topic_arn" {
  description = "Point the budget's notifications here."
  value       = module.costctl.budget_topic_arn
}
