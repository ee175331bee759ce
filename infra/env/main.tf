# One environment of order-tracking per workspace (dev, staging, prod…).
locals {
  env     = coalesce(var.environment, terraform.workspace == "default" ? "dev" : terraform.workspace)
  project = local.bootstrap.project
  name    = "${local.project}-${local.env}"              # order-tracking-dev: ECS, RDS, IAM, SSM
  short   = "${local.bootstrap.short_name}-${local.env}" # ot-dev: ALB, target group, MSK (name limits)

  tags = {
    Project   = local.project
    Env       = local.env
    Owner     = local.bootstrap.owner
    ManagedBy = "terraform"
  }

  region  = local.bootstrap.region
  account = data.aws_caller_identity.current.account_id

  fqdn = var.enable_https ? "${coalesce(var.subdomain, local.name)}.${var.domain_name}" : null

  # Where costctl publishes what changes on every resume.
  parameter_path = "/${local.project}/${local.env}"
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

# The workspace name becomes part of 32-character resource names: refuse odd ones early.
resource "terraform_data" "workspace_check" {
  input = local.env

  lifecycle {
    precondition {
      condition     = can(regex("^[a-z][a-z0-9]{1,9}$", local.env))
      error_message = "Workspace/environment '${local.env}' must be 2-10 lower-case letters or digits (dev, staging, prod)."
    }
  }
}
