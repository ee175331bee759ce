variable "state_bucket" {
  description = "S3 bucket of the Terraform state (bootstrap output `state_bucket`)."
  type        = string
}

variable "state_region" {
  description = "Region of the state bucket."
  type        = string
  default     = "eu-west-1"
}

variable "bootstrap_state_key" {
  description = "Key of the bootstrap state in the state bucket."
  type        = string
  default     = "bootstrap/terraform.tfstate"
}

variable "environment" {
  description = "Environment name (tag Env, suffix of resource names). Null (recommended) uses the workspace name; if set, it must equal the workspace."
  type        = string
  default     = null

  validation {
    condition     = var.environment == null ? true : can(regex("^[a-z][a-z0-9]{1,9}$", var.environment))
    error_message = "environment must be 2-10 lower-case letters or digits (it ends up in 32-character ALB and target group names)."
  }
}

variable "image_tag" {
  description = "Tag of the application image in the bootstrap ECR repository (immutable tags: use the git SHA or version)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a valid Docker tag."
  }
}

variable "container_port" {
  description = "Port the application listens on."
  type        = number
  default     = 8080

  validation {
    condition     = var.container_port >= 1 && var.container_port <= 65535 && floor(var.container_port) == var.container_port
    error_message = "container_port must be an integer between 1 and 65535."
  }
}

variable "health_check_path" {
  description = "HTTP path the target group checks."
  type        = string
  default     = "/actuator/health"

  validation {
    condition     = startswith(var.health_check_path, "/")
    error_message = "health_check_path must start with /."
  }
}

variable "task_cpu" {
  description = "Fargate task CPU units."
  type        = number
  default     = 512

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.task_cpu)
    error_message = "task_cpu must be a Fargate CPU size (256, 512, 1024, 2048, 4096, 8192, 16384)."
  }
}

variable "task_memory" {
  description = "Fargate task memory, in MiB."
  type        = number
  default     = 1024

  validation {
    condition     = var.task_memory >= 512 && var.task_memory <= 122880
    error_message = "task_memory must be between 512 and 122880 MiB."
  }
}

variable "desired_count" {
  description = "Initial desired count of the service. Later changes are ignored: autoscaling and costctl own it."
  type        = number
  default     = 1

  validation {
    condition     = var.desired_count >= 0 && var.desired_count <= 100
    error_message = "desired_count must be between 0 and 100."
  }
}

variable "autoscaling" {
  description = "Application Auto Scaling bounds of the service and its CPU target."
  type = object({
    min_capacity = optional(number, 1)
    max_capacity = optional(number, 2)
    cpu_target   = optional(number, 70)
  })
  default = {}

  validation {
    condition     = var.autoscaling.min_capacity >= 0 && var.autoscaling.max_capacity >= var.autoscaling.min_capacity && var.autoscaling.cpu_target > 0 && var.autoscaling.cpu_target <= 100
    error_message = "autoscaling: 0 <= min_capacity <= max_capacity, 0 < cpu_target <= 100."
  }
}

variable "network_mode" {
  description = "Where the tasks run and how they reach ECR, CloudWatch Logs, Secrets Manager and SSM: `public` (public subnets with public IPs; the dev default), `private-nat` (private subnets without public IPs, egress through NAT gateways, see nat_gateways) or `private-endpoints` (private subnets, no Internet egress: an S3 gateway endpoint and the interface endpoints the task definition needs). The private modes need the bootstrap's private_network_environment to name this environment. Costs: README."
  type        = string
  default     = "public"

  validation {
    condition     = contains(["public", "private-nat", "private-endpoints"], var.network_mode)
    error_message = "network_mode must be public, private-nat or private-endpoints."
  }
}

variable "nat_gateways" {
  description = "With network_mode = private-nat: `one-per-az` (a NAT gateway with its Elastic IP in each AZ of the private subnets; each AZ's route table uses its own, so one zone failing leaves the other's egress) or `single` (one NAT gateway in the first AZ for all of them: half the hourly cost, but egress depends on that zone and the other zone's traffic crosses AZs). Ignored by the other modes."
  type        = string
  default     = "one-per-az"

  validation {
    condition     = contains(["one-per-az", "single"], var.nat_gateways)
    error_message = "nat_gateways must be one-per-az or single."
  }
}

variable "app_interface_endpoints" {
  description = "With network_mode = private-endpoints: AWS services the application itself calls (the task definition cannot show them), as endpoint service names without the `com.amazonaws.<region>.` prefix, e.g. `sts`, `sqs`. Each becomes one more interface endpoint with private DNS. What the task definition needs (ECR, logs, Secrets Manager, SSM) is derived, see network_private.tf."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.app_interface_endpoints : can(regex("^[a-z0-9-]+(\\.[a-z0-9-]+)*$", s)) && s != "s3"])
    error_message = "app_interface_endpoints: service names such as sts or ecr.api (lower case, no com.amazonaws.<region>. prefix); not s3, which is the gateway endpoint."
  }
}

variable "assign_public_ip" {
  description = "Deprecated: network_mode decides (public: true; private-nat, private-endpoints: false). Null (default) follows network_mode; a value that contradicts it is an error."
  type        = bool
  default     = null

  validation {
    condition     = var.assign_public_ip == null || var.assign_public_ip == (var.network_mode == "public")
    error_message = "assign_public_ip = ${jsonencode(var.assign_public_ip)} (deprecated) contradicts network_mode = \"${var.network_mode}\": the tasks get public IPs in network_mode = \"public\" and none in \"private-nat\" or \"private-endpoints\". Remove assign_public_ip and set network_mode (private subnets: \"private-nat\" or \"private-endpoints\", see README)."
  }
}

variable "db" {
  description = "RDS PostgreSQL settings."
  type = object({
    instance_class      = optional(string, "db.t4g.micro")
    engine_version      = optional(string, "16")
    allocated_storage   = optional(number, 20)
    name                = optional(string, "orders")
    username            = optional(string, "orders")
    backup_retention    = optional(number, 7)
    deletion_protection = optional(bool, false)
    # RDS keeps the master password in Secrets Manager (never in Terraform state). Not yet
    # compatible with hibernation: see README.
    manage_master_user_password = optional(bool, false)
  })
  default = {}

  validation {
    condition = (can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.db.instance_class)) && can(regex("^[0-9]+(\\.[0-9]+)?$", var.db.engine_version)) &&
      var.db.allocated_storage >= 20 && can(regex("^[a-z][a-z0-9_]{0,62}$", var.db.name)) && can(regex("^[a-z][a-z0-9_]{0,62}$", var.db.username)) &&
    var.db.backup_retention >= 1 && var.db.backup_retention <= 35)
    error_message = "db: instance_class like db.t4g.micro, engine_version like 16 or 16.4, allocated_storage >= 20, name/username lower-case identifiers, backup_retention 1-35."
  }
}

variable "enable_msk" {
  description = "Declare the MSK Serverless cluster (SASL/IAM, port 9098) in the ephemeral tier."
  type        = bool
  default     = true
}

variable "enable_https" {
  description = "ACM certificate (DNS validation in Route53), 443 listener, 80 → 443 redirect and an alias record kept by costctl."
  type        = bool
  default     = false
}

variable "domain_name" {
  description = "Route53 hosted zone (e.g. example.com); required with enable_https."
  type        = string
  default     = null

  validation {
    condition     = !var.enable_https || can(regex("^([a-z0-9-]+\\.)+[a-z]{2,}$", var.domain_name))
    error_message = "With enable_https = true, domain_name must be a DNS name such as example.com."
  }
}

variable "subdomain" {
  description = "Host name under domain_name. Null uses `<project>-<env>`."
  type        = string
  default     = null
}

variable "budget" {
  description = "Monthly cost budget of the environment and the costctl rules its alerts trigger (forecast >= 100 % → paused; actual >= 100 % → hibernated with lockout)."
  type = object({
    limit_usd = number
    emails    = optional(list(string), [])
    rules = optional(list(object({
      alert_type        = string
      threshold_percent = number
      level             = string
      lockout           = optional(bool, false)
      })), [
      { alert_type = "FORECASTED", threshold_percent = 100, level = "paused", lockout = false },
      { alert_type = "ACTUAL", threshold_percent = 100, level = "hibernated", lockout = true },
    ])
  })
  default = { limit_usd = 50 }

  validation {
    condition = var.budget.limit_usd > 0 && length(var.budget.rules) > 0 && alltrue([for r in var.budget.rules :
    contains(["ACTUAL", "FORECASTED"], r.alert_type) && r.threshold_percent > 0 && r.threshold_percent <= 1000 && contains(["paused", "hibernated"], r.level)])
    error_message = "budget: limit_usd > 0; each rule has alert_type ACTUAL|FORECASTED, threshold_percent in (0, 1000], level paused|hibernated."
  }
}

variable "schedule" {
  description = "Nightly pause and morning resume on working days, in an IANA time zone. Null: no schedules (budget alerts and manual requests only)."
  type = object({
    time_zone    = string
    working_days = optional(string, "MON-FRI")
    pause_at     = optional(string, "20:00")
    resume_at    = optional(string, "08:00")
    pause_level  = optional(string, "paused")
  })
  default = { time_zone = "Europe/Madrid" }

  validation {
    condition = var.schedule == null ? true : (
      can(regex("^(UTC|Etc/[A-Za-z0-9+-]+|[A-Z][A-Za-z_]+(/[A-Z][A-Za-z0-9_+-]+){1,2})$", var.schedule.time_zone)) &&
      can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]$", var.schedule.pause_at)) && can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]$", var.schedule.resume_at)) &&
      contains(["paused", "hibernated"], var.schedule.pause_level)
    )
    error_message = "schedule: time_zone is an IANA name (Europe/Madrid, UTC), pause_at/resume_at are HH:MM, pause_level is paused|hibernated."
  }
}

variable "costctl_policy" {
  description = "What a pause does to this stack (costctl config `policy`)."
  type = object({
    msk_on_pause         = optional(string, "delete")
    rds_on_pause         = optional(string, "stop")
    rds_auto_start       = optional(string, "stop")
    hibernate_after_days = optional(number)
  })
  default = {}

  validation {
    condition = (contains(["delete", "keep"], var.costctl_policy.msk_on_pause) && contains(["stop", "snapshot"], var.costctl_policy.rds_on_pause) &&
    contains(["stop", "hibernate"], var.costctl_policy.rds_auto_start))
    error_message = "costctl_policy: msk_on_pause delete|keep, rds_on_pause stop|snapshot, rds_auto_start stop|hibernate."
  }
}

variable "lambda_zip_path" {
  description = "The costctl function zip (cargo lambda build --release --arm64 --output-format zip -p costctl-lambda), relative to this directory."
  type        = string
  default     = "../../target/lambda/bootstrap/bootstrap.zip"
}

variable "hibernation_guard" {
  description = "Ask the costctl full function for the stack's state on every plan and refuse to plan while the database is gone (hibernated). Turn off only to repair costctl itself."
  type        = bool
  default     = true
}

variable "state_table_deletion_protection" {
  description = "Deletion protection of the costctl state table (it holds the manifests needed to undo a pause). Set false, apply, then destroy, to remove the environment for good."
  type        = bool
  default     = true
}

variable "log_retention_days" {
  description = "Retention of the application and costctl log groups."
  type        = number
  default     = 30
}

variable "alb_access_logs" {
  description = "ALB access logs: an existing S3 bucket (with a bucket policy that lets Elastic Load Balancing write to it) and an optional prefix. Passed to costctl as the spec's access_logs.s3.* attributes. Required outside dev unless waived (posture_exceptions)."
  type = object({
    bucket = string
    prefix = optional(string, "")
  })
  default = null

  validation {
    condition     = var.alb_access_logs == null ? true : (can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.alb_access_logs.bucket)) && !startswith(var.alb_access_logs.prefix, "/") && !strcontains(lower(var.alb_access_logs.prefix), "awslogs"))
    error_message = "alb_access_logs: bucket is an S3 bucket name; prefix does not start with / and does not contain AWSLogs."
  }
}

variable "posture_exceptions" {
  description = "Posture rules waived for this environment, by name: `no_https`, `no_access_logs` (outside dev), `public_subnets`, `no_deletion_protection` (prod). Each waiver is a deliberate, reviewable line in the tfvars."
  type        = set(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.posture_exceptions : contains(["no_https", "no_access_logs", "public_subnets", "no_deletion_protection"], e)])
    error_message = "posture_exceptions may only contain no_https, no_access_logs, public_subnets, no_deletion_protection."
  }
}

variable "allow_default_workspace" {
  description = "Allow the `default` workspace (terraform test and throwaway experiments only; a real environment has its own workspace)."
  type        = bool
  default     = false
}

variable "alarm_actions" {
  description = "SNS topics notified by the alarm on costctl's failed-event queue (e.g. an ops topic)."
  type        = list(string)
  default     = []
}
