variable "create" {
  description = "Create the costctl resources at all. With false the module creates nothing and its outputs are null."
  type        = bool
  default     = true
}

variable "name" {
  description = "Name of this costctl deployment. Functions are `<name>-full` and `<name>-reduce-only`; roles, log groups and the schedule group derive from it."
  type        = string
  default     = "costctl"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,38}[a-z0-9]$", var.name))
    error_message = "name must be 2-40 characters of lower-case letters, digits and '-', starting with a letter."
  }
}

variable "lambda_zip_path" {
  description = "Path of the zip built by `cargo lambda build --release --arm64 --output-format zip -p costctl-lambda` (target/lambda/bootstrap/bootstrap.zip). Both functions deploy this same file."
  type        = string

  validation {
    condition     = endswith(var.lambda_zip_path, ".zip")
    error_message = "lambda_zip_path must point at the .zip file cargo-lambda builds."
  }
}

variable "stacks" {
  description = <<-EOT
    The stacks costctl guards, keyed by stack name (naming convention `order-tracking-<env>`).
    `tags` must hold `Project` and `Env`; they identify the stack's resources and scope IAM.
    `name_prefixes` are the name prefixes of the stack's ECS clusters and RDS instances used to
    scope IAM by ARN (default: the stack name; matched exactly or followed by `-`), and
    `edge_name_prefixes` those of its ALBs, target groups and MSK clusters (default:
    name_prefixes if given, else `ot-<Env>`; followed by `-`). `policy` and `budgets` go to the function config
    as they are. `schedule` adds a nightly pause and a morning resume on working days.
    `time_zone` is the stack's wall clock for snoozes and the calendar (default: the schedule's
    time_zone, else UTC). `calendar` lists closed days on which scheduled resumes are skipped:
    `YYYY-MM-DD`, annual `MM-DD`, weekday sets (`SAT,SUN`, `MON-FRI`) and named ranges
    (`2026-12-24..2027-01-02 winter break`). `snooze` bounds how long a person may hold the
    schedules off (`max_hours`, default a week) and whether a budget alert overrides a snooze
    (`budget_overrides`, default true). `exclude` names ECS services (`cluster/service`) and RDS
    instances the stack selects but costctl must never change (see also `exclude_tag_key`).
    `ssm_parameter_path` is where costctl publishes endpoints (default `/<Project>/<Env>`).
    `hosted_zone_ids` are the Route53 zones costctl may update (alias records of the ALB) and
    `dns_record_names` the alias names in them (required with zones; only A/AAAA records of these
    names may be changed). `vpc_ids` are the stack's VPCs: MSK Serverless's VPC endpoints and the
    ephemeral tier's NAT gateways and interface endpoints may be created there only.
  EOT
  type = map(object({
    tags               = map(string)
    name_prefixes      = optional(list(string))
    edge_name_prefixes = optional(list(string))
    policy = optional(object({
      msk_on_pause         = optional(string, "delete")
      rds_on_pause         = optional(string, "stop")
      rds_auto_start       = optional(string, "stop")
      hibernate_after_days = optional(number)
    }), {})
    budgets = optional(list(object({
      name = string
      rules = list(object({
        alert_type        = string
        threshold_percent = number
        level             = string
        lockout           = optional(bool, false)
      }))
    })), [])
    schedule = optional(object({
      enabled      = optional(bool, true)
      time_zone    = string
      working_days = optional(string, "MON-FRI")
      pause_at     = optional(string, "20:00")
      resume_at    = optional(string, "08:00")
      pause_level  = optional(string, "paused")
      pause_cron   = optional(string)
      resume_cron  = optional(string)
    }))
    time_zone = optional(string)
    calendar  = optional(list(string), [])
    exclude = optional(object({
      ecs_services  = optional(list(string), [])
      rds_instances = optional(list(string), [])
    }), {})
    snooze = optional(object({
      max_hours        = optional(number, 168)
      budget_overrides = optional(bool, true)
    }), {})
    ssm_parameter_path = optional(string)
    hosted_zone_ids    = optional(list(string), [])
    dns_record_names   = optional(list(string), [])
    vpc_ids            = optional(list(string), [])
  }))

  validation {
    condition     = length(var.stacks) > 0 && alltrue([for k in keys(var.stacks) : can(regex("^[a-z0-9][a-z0-9-]{0,62}$", k))])
    error_message = "stacks must hold at least one stack; stack names are lower-case letters, digits and '-' (at most 63)."
  }

  validation {
    condition     = alltrue([for s in values(var.stacks) : contains(keys(s.tags), "Project") && contains(keys(s.tags), "Env")])
    error_message = "Every stack's tags must contain Project and Env (they scope the IAM policies)."
  }

  validation {
    condition = alltrue([for s in values(var.stacks) :
      contains(["delete", "keep"], s.policy.msk_on_pause) &&
      contains(["stop", "snapshot"], s.policy.rds_on_pause) &&
      contains(["stop", "hibernate"], s.policy.rds_auto_start) &&
      (s.policy.hibernate_after_days == null ? true : s.policy.hibernate_after_days >= 1)
    ])
    error_message = "policy: msk_on_pause is delete|keep, rds_on_pause is stop|snapshot, rds_auto_start is stop|hibernate, hibernate_after_days is null or >= 1."
  }

  validation {
    condition = alltrue(flatten([for s in values(var.stacks) : [for b in s.budgets : concat(
      [can(regex("^[A-Za-z0-9_.: -]{1,100}$", b.name)), length(b.rules) > 0],
      [for r in b.rules : contains(["ACTUAL", "FORECASTED"], r.alert_type) && r.threshold_percent > 0 && r.threshold_percent <= 1000 && contains(["paused", "hibernated"], r.level)]
    )]]))
    error_message = "budgets: each budget needs a name and at least one rule; alert_type is ACTUAL|FORECASTED, threshold_percent is in (0, 1000], level is paused|hibernated."
  }

  validation {
    condition = alltrue([for s in values(var.stacks) :
      (s.time_zone == null ? true : can(regex("^(UTC|Etc/[A-Za-z0-9+-]+|[A-Z][A-Za-z_]+(/[A-Z][A-Za-z0-9_+-]+){1,2})$", s.time_zone))) &&
      s.snooze.max_hours >= 1 && s.snooze.max_hours <= 8760 && floor(s.snooze.max_hours) == s.snooze.max_hours
    ])
    error_message = "time_zone is an IANA name (e.g. Europe/Madrid or UTC); snooze.max_hours is a whole number of hours from 1 to 8760."
  }

  validation {
    condition = alltrue(flatten([for s in values(var.stacks) : concat(
      [for e in s.exclude.ecs_services : can(regex("^[A-Za-z0-9_-]{1,255}/[A-Za-z0-9_-]{1,255}$", e))],
      [for e in s.exclude.rds_instances : can(regex("^[A-Za-z](-?[A-Za-z0-9])*$", e)) && length(e) <= 63]
    )]))
    error_message = "exclude: ecs_services are cluster/service names, rds_instances are DB instance identifiers."
  }

  validation {
    condition = alltrue(flatten([for s in values(var.stacks) : [for e in s.calendar :
      can(regex("^([0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{2}-[0-9]{2}|(MON|TUE|WED|THU|FRI|SAT|SUN)(-(MON|TUE|WED|THU|FRI|SAT|SUN))?(,(MON|TUE|WED|THU|FRI|SAT|SUN)(-(MON|TUE|WED|THU|FRI|SAT|SUN))?)*|[0-9]{4}-[0-9]{2}-[0-9]{2}[.][.][0-9]{4}-[0-9]{2}-[0-9]{2}( .+)?)$", e)) &&
      (length(regexall("[.][.]", e)) == 0 ? true : try(tonumber(replace(substr(e, 0, 10), "-", "")) <= tonumber(replace(substr(e, 12, 10), "-", "")), false))
    ]]))
    error_message = "calendar entries are YYYY-MM-DD, annual MM-DD, weekday sets (SAT,SUN or MON-FRI) or ranges FROM..TO with an optional name (2026-12-24..2027-01-02 winter break), and a range may not end before it starts. The functions check the dates themselves at cold start too."
  }

  validation {
    condition = alltrue([for s in values(var.stacks) : s.schedule == null ? true : (
      can(regex("^(UTC|Etc/[A-Za-z0-9+-]+|[A-Z][A-Za-z_]+(/[A-Z][A-Za-z0-9_+-]+){1,2})$", s.schedule.time_zone)) &&
      can(regex("^(MON|TUE|WED|THU|FRI|SAT|SUN)(-(MON|TUE|WED|THU|FRI|SAT|SUN))?(,(MON|TUE|WED|THU|FRI|SAT|SUN)(-(MON|TUE|WED|THU|FRI|SAT|SUN))?)*$", s.schedule.working_days)) &&
      can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]$", s.schedule.pause_at)) &&
      can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]$", s.schedule.resume_at)) &&
      contains(["paused", "hibernated"], s.schedule.pause_level) &&
      (s.schedule.pause_cron == null ? true : can(regex("^cron\\(\\S+ \\S+ \\S+ \\S+ \\S+ \\S+\\)$", s.schedule.pause_cron))) &&
      (s.schedule.resume_cron == null ? true : can(regex("^cron\\(\\S+ \\S+ \\S+ \\S+ \\S+ \\S+\\)$", s.schedule.resume_cron)))
    )])
    error_message = "schedule: time_zone is an IANA name (e.g. Europe/Madrid or UTC), working_days like MON-FRI or MON,WED,FRI, pause_at/resume_at are HH:MM (24 h), pause_level is paused|hibernated, pause_cron/resume_cron are EventBridge cron(...) expressions with 6 fields."
  }

  validation {
    condition = alltrue([for s in values(var.stacks) :
      (s.ssm_parameter_path == null ? true : can(regex("^(/[A-Za-z0-9_.-]+)+$", s.ssm_parameter_path))) &&
      alltrue([for z in s.hosted_zone_ids : can(regex("^Z[A-Z0-9]{1,31}$", z))]) &&
      alltrue([for p in concat(coalesce(s.name_prefixes, []), coalesce(s.edge_name_prefixes, [])) : can(regex("^[A-Za-z0-9][A-Za-z0-9-]{1,30}$", p))])
    ])
    error_message = "ssm_parameter_path is an absolute path like /order-tracking/dev; hosted_zone_ids look like Z0123456789ABC; name_prefixes and edge_name_prefixes are 2-31 characters of letters, digits and '-' (no wildcards)."
  }

  validation {
    condition = alltrue([for s in values(var.stacks) :
      (length(s.hosted_zone_ids) == 0 || length(s.dns_record_names) > 0) &&
      alltrue([for r in s.dns_record_names : can(regex("^([A-Za-z0-9_-]+\\.)+[A-Za-z0-9-]+\\.?$", r))]) &&
      alltrue([for v in s.vpc_ids : can(regex("^vpc-[0-9a-f]+$", v))])
    ])
    error_message = "A stack with hosted_zone_ids needs dns_record_names (the alias names costctl maintains, e.g. app.example.com; no wildcards); vpc_ids look like vpc-0123456789abcdef0."
  }
}

variable "ephemeral_network" {
  description = "The guarded stacks' ephemeral tier holds NAT gateways or interface VPC endpoints (`nat_gateways`, `vpc_endpoints` in the spec; infra/env's private network modes): the full function may create them, with the stacks' Project and Env tags, in the stacks' `vpc_ids`, a NAT gateway with an Elastic IP carrying those tags. Off (default): it may not (IAM's inline size limit and least privilege); deleting the stacks' own (tagged) NAT gateways and endpoints is allowed either way."
  type        = bool
  default     = false
  nullable    = false
}

variable "nat_route_table_ids" {
  description = "Route tables (`rtb-…`) in which the full function may create and replace the routes to its NAT gateways (the ephemeral tier's `nat_gateways[].routes`, e.g. each private route table's 0.0.0.0/0 in infra/env's network_mode = private-nat). IAM refuses route changes in any other route table; empty (default): none. They must be in the stacks' `vpc_ids`."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for rt in var.nat_route_table_ids : can(regex("^rtb-[0-9a-f]+$", rt))])
    error_message = "nat_route_table_ids are route table IDs such as rtb-0123456789abcdef0."
  }
}

variable "config_source" {
  description = "Where the functions read their configuration: `inline` (COSTCTL_CONFIG environment variable, limited to 4 KB with the other variables) or `ssm` (the module stores the JSON in an SSM parameter and sets COSTCTL_CONFIG_PARAMETER)."
  type        = string
  default     = "inline"

  validation {
    condition     = contains(["inline", "ssm"], var.config_source)
    error_message = "config_source must be inline or ssm."
  }
}

variable "state_table_name" {
  description = "Name of the DynamoDB state table. Default: `costctl-<name>` (or `costctl` when name is costctl)."
  type        = string
  default     = null

  validation {
    condition     = var.state_table_name == null ? true : can(regex("^costctl-[A-Za-z0-9_.-]{1,240}$", var.state_table_name))
    error_message = "state_table_name must start with 'costctl-' and use only letters, digits, '_', '.' and '-'."
  }
}

variable "state_table_kms_key_arn" {
  description = "KMS key for the state table. Null uses the AWS managed key (aws/dynamodb); SSE is on either way."
  type        = string
  default     = null

  validation {
    condition     = var.state_table_kms_key_arn == null ? true : can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/.+$", var.state_table_kms_key_arn))
    error_message = "state_table_kms_key_arn must be a KMS key ARN."
  }
}

variable "state_table_deletion_protection" {
  description = "Deletion protection of the state table. It holds the manifests needed to undo a pause: turn it off only to remove costctl for good."
  type        = bool
  default     = true
}

variable "reconcile_schedule_expression" {
  description = "How often the full function carries out the reduce-only function's requests (budget alerts, RDS auto-start), continues unfinished transitions and repairs drift (`rate(...)`). Required: the reduce-only function changes nothing itself."
  type        = string
  default     = "rate(5 minutes)"

  validation {
    condition     = var.reconcile_schedule_expression != null
    error_message = "reconcile_schedule_expression is required: the full function's tick carries out the reduce-only function's budget and RDS auto-start requests (the reduce-only role can change no resource). Use e.g. rate(5 minutes)."
  }

  validation {
    condition     = var.reconcile_schedule_expression == null ? true : can(regex("^rate\\((1 (minute|hour|day)|([2-9]|[1-9][0-9]+) (minutes|hours|days))\\)$", var.reconcile_schedule_expression))
    error_message = "reconcile_schedule_expression must be rate(N unit), e.g. rate(5 minutes) or rate(1 hour)."
  }
}

variable "enable_rds_auto_start_rule" {
  description = "Route the RDS event RDS-EVENT-0154 (a stopped instance restarted after 7 days) to the reduce-only function, which stops it again."
  type        = bool
  default     = true
}

variable "create_budget_topic" {
  description = "Create an SNS topic for AWS Budgets notifications, subscribed by the reduce-only function (output `budget_topic_arn`)."
  type        = bool
  default     = true
}

variable "budget_topic_arns" {
  description = "Existing SNS topics with budget notifications to subscribe the reduce-only function to (in addition to the module's own topic)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.budget_topic_arns : can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+$", a))])
    error_message = "budget_topic_arns must be SNS topic ARNs."
  }
}

variable "budget_topic_kms_key_id" {
  description = "KMS key for the budget topic: a customer managed key whose policy lets budgets.amazonaws.com use it. Null: the module creates such a key (the AWS managed aws/sns key cannot be used by AWS Budgets)."
  type        = string
  default     = null
}

variable "alarm_actions" {
  description = "ARNs (SNS topics) notified when an asynchronous event (budget alert, schedule, RDS event) failed every attempt and landed in the failed-event queue."
  type        = list(string)
  default     = []
}

variable "failed_event_retention_seconds" {
  description = "How long the failed-event queue keeps a message (SQS maximum: 14 days)."
  type        = number
  default     = 1209600

  validation {
    condition     = var.failed_event_retention_seconds >= 60 && var.failed_event_retention_seconds <= 1209600
    error_message = "failed_event_retention_seconds must be between 60 and 1209600 (14 days)."
  }
}

variable "log_retention_days" {
  description = "Retention of the functions' CloudWatch log groups, in days."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "log_level" {
  description = "RUST_LOG of both functions (tracing-subscriber filter syntax). Null leaves it unset."
  type        = string
  default     = "info"

  validation {
    condition     = var.log_level == null ? true : can(regex("^[A-Za-z0-9_:=,.-]+$", var.log_level))
    error_message = "log_level must be a tracing filter such as info or costctl=debug,info."
  }
}

variable "concurrency" {
  description = "AWS calls each function keeps in flight while acting (COSTCTL_CONCURRENCY), and the width each AWS service's window starts at: a service that answers most calls with throttling gets its window halved, and it grows back by one call a round. Throttled calls are retried."
  type        = number
  default     = 64

  validation {
    condition     = var.concurrency >= 1 && var.concurrency <= 256 && floor(var.concurrency) == var.concurrency
    error_message = "concurrency must be a whole number from 1 to 256."
  }
}

variable "timeout_seconds" {
  description = "Timeout of both functions. A reconcile stops at its time budget and persists progress, so a shorter timeout is safe; Terraform's apply-spec waits for the ephemeral tier, which can take minutes."
  type        = number
  default     = 900

  validation {
    condition     = var.timeout_seconds >= 60 && var.timeout_seconds <= 900
    error_message = "timeout_seconds must be between 60 and 900."
  }
}

variable "memory_size" {
  description = "Memory of both functions, in MB."
  type        = number
  default     = 256

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240
    error_message = "memory_size must be between 128 and 10240."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing mode of both functions."
  type        = string
  default     = "Active"

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be Active or PassThrough."
  }
}

variable "permissions_boundary" {
  description = "ARN of the permissions boundary every role of the module carries (the bootstrap's `permissions_boundary_arns`: its deployers may create roles only with it)."
  type        = string
  default     = null

  validation {
    condition     = var.permissions_boundary == null ? true : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/.+$", var.permissions_boundary))
    error_message = "permissions_boundary must be an IAM policy ARN (arn:aws:iam::<account>:policy/<name>)."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}

variable "exclude_tag_key" {
  type        = string
  default     = "costctl:exclude"
  description = "A resource a stack selects that carries this tag with the value `true` is observed and reported but never changed (pause and resume leave it as it is)."
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z0-9 _.:/=+@-]{1,128}$", var.exclude_tag_key)) && !startswith(var.exclude_tag_key, "aws:")
    error_message = "exclude_tag_key is a tag key: 1-128 characters of letters, digits, spaces and _ . : / = + - @, not starting with aws:."
  }
}

variable "event_bus_name" {
  description = "EventBridge bus the functions publish their transition events to (source `costctl`, docs/events.md); the account's `default` bus unless a custom bus is named."
  type        = string
  default     = "default"

  validation {
    condition     = can(regex("^[/.\\-_A-Za-z0-9]{1,256}$", var.event_bus_name))
    error_message = "event_bus_name must be an EventBridge bus name (letters, digits, . - _ /)."
  }
}

variable "notifications" {
  description = <<-EOT
    Who hears of costctl's events. `enabled` creates a KMS-encrypted SNS topic (output
    `notification_topic_arn`) and an EventBridge rule routing the events of `detail_types` to it;
    `emails` subscribe addresses (each confirms by mail); `slack` adds an AWS Chatbot channel on
    the topic (the Slack workspace must first be authorised once in the AWS Chatbot console:
    `team_id` is its workspace id). Default detail types: failures, lockouts and kept resources;
    add "Stack State Changed" and "Snooze Overridden" to hear of every transition.
  EOT
  type = object({
    enabled      = optional(bool, false)
    emails       = optional(list(string), [])
    detail_types = optional(list(string), ["Stack Transition Failed", "Budget Lockout", "Resource Kept"])
    kms_key_id   = optional(string)
    slack = optional(object({
      team_id    = string
      channel_id = string
    }))
  })
  default = {}

  validation {
    condition = alltrue([for t in var.notifications.detail_types : contains(
      ["Stack State Changed", "Stack Transition Failed", "Resource Kept", "Budget Lockout", "Snooze Overridden"], t
    )])
    error_message = "notifications.detail_types: each must be one of \"Stack State Changed\", \"Stack Transition Failed\", \"Resource Kept\", \"Budget Lockout\", \"Snooze Overridden\" (docs/events.md)."
  }

  validation {
    condition     = length(var.notifications.detail_types) > 0
    error_message = "notifications.detail_types must name at least one detail type."
  }

  validation {
    condition     = alltrue([for e in var.notifications.emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "notifications.emails must be email addresses."
  }

  validation {
    condition     = var.notifications.slack == null || can(regex("^[A-Z0-9]{9,11}$", var.notifications.slack.team_id)) && can(regex("^[A-Z0-9]{9,11}$", var.notifications.slack.channel_id))
    error_message = "notifications.slack: team_id and channel_id are Slack ids such as T07ABCDEF12 and C07ABCDEF12."
  }
}

variable "overdue_after_minutes" {
  description = "Alarm (`<name>-<stack>-overdue`) when a stack has not reached its requested state this many minutes after the request: a scheduled resume that is not done by then needs a person."
  type        = number
  default     = 30
  validation {
    condition     = var.overdue_after_minutes >= 10 && var.overdue_after_minutes <= 1440 && floor(var.overdue_after_minutes) == var.overdue_after_minutes
    error_message = "overdue_after_minutes: a whole number of minutes from 10 (two ticks) to 1440 (a day)."
  }
}

variable "create_dashboard" {
  description = "Create a CloudWatch dashboard (named like the deployment) with each stack's state, cost rate and savings (this month, last 30 days), from the functions' embedded metrics."
  type        = bool
  default     = true
}
