# One environment of order-tracking per workspace (dev, staging, prod…).
locals {
  # One workspace per environment; `default` is refused (workspace_check) so one environment
  # never has two states (env/dev/terraform.tfstate and terraform.tfstate).
  env     = coalesce(var.environment, terraform.workspace)
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

locals {
  # The bootstrap decides which deployer stage (dev, prod) owns this environment: its execution
  # role and permissions boundary.
  stage                    = try(local.bootstrap.environments[local.env], null)
  permissions_boundary_arn = try(local.bootstrap.permissions_boundary_arns[local.stage], null)
  execution_role_arn       = try(local.bootstrap.ecs_execution_role_arns[local.env], null)
}

# The workspace name becomes part of 32-character resource names and of the state key: refuse
# odd ones, the `default` workspace, and environments the bootstrap does not know, early.
resource "terraform_data" "workspace_check" {
  input = local.env

  lifecycle {
    precondition {
      condition     = terraform.workspace != "default" || var.allow_default_workspace
      error_message = "The default workspace is refused: it would keep a second state (terraform.tfstate) next to env/<name>/terraform.tfstate. Select the environment's workspace: terraform workspace select dev (or: terraform workspace new dev)."
    }
    precondition {
      condition     = var.environment == null || terraform.workspace == "default" || var.environment == terraform.workspace
      error_message = "environment = \"${coalesce(var.environment, "-")}\" differs from the workspace \"${terraform.workspace}\": the state key is the workspace's, so the two must agree (leave environment unset)."
    }
    precondition {
      condition     = can(regex("^[a-z][a-z0-9]{1,9}$", local.env))
      error_message = "Workspace/environment '${local.env}' must be 2-10 lower-case letters or digits (dev, staging, prod)."
    }
    precondition {
      condition     = local.stage != null && local.execution_role_arn != null && local.permissions_boundary_arn != null
      error_message = "Environment '${local.env}' is not in the bootstrap's `environments` (it has no execution role or permissions boundary): add it there and apply infra/bootstrap first."
    }
  }
}

# ---------------------------------------------------------------------------------------------
# Posture: outside dev the ALB must serve HTTPS and write access logs; in prod the tasks must not
# run in public subnets and the database must have deletion protection. Each rule can be waived
# explicitly, by name, in posture_exceptions (the dev defaults never leak into prod silently).
# costctl creates the ALB from the spec, so these are Terraform preconditions on the spec's
# inputs rather than scanner findings on a resource Terraform does not own.
# ---------------------------------------------------------------------------------------------

locals {
  posture_rules = {
    no_https               = { applies = local.env != "dev", ok = var.enable_https, why = "the ALB serves plain HTTP (enable_https = false)" }
    no_access_logs         = { applies = local.env != "dev", ok = var.alb_access_logs != null, why = "the ALB writes no access logs (alb_access_logs = null)" }
    public_subnets         = { applies = local.env == "prod", ok = var.network_mode != "public", why = "the tasks run in public subnets with public IPs (network_mode = \"public\"; use private-nat or private-endpoints)" }
    no_deletion_protection = { applies = local.env == "prod", ok = var.db.deletion_protection, why = "the database has no deletion protection (db.deletion_protection = false)" }
  }
  posture_violations = [for k, r in local.posture_rules : "${k}: ${r.why}" if r.applies && !r.ok && !contains(var.posture_exceptions, k)]
}

resource "terraform_data" "posture_check" {
  input = local.env

  lifecycle {
    precondition {
      condition     = length(local.posture_violations) == 0
      error_message = "Environment '${local.env}' refuses dev defaults:\n  ${join("\n  ", local.posture_violations)}\nFix them, or waive each one explicitly with posture_exceptions = [\"<name>\", ...]."
    }
  }
}
