# Unit tests of the costctl module with a mocked AWS provider: no credentials, no network.
# Run: terraform init -backend=false && terraform test

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { region = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
}

variables {
  lambda_zip_path = "tests/fixtures/bootstrap.zip"
  # Test data (not a module input).
  alarm_changes = ["cloudwatch:PutMetricAlarm", "cloudwatch:EnableAlarmActions", "cloudwatch:DisableAlarmActions"]
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
      schedule = {
        time_zone    = "Europe/Madrid"
        working_days = "MON-FRI"
        pause_at     = "20:30"
        resume_at    = "07:45"
      }
      hosted_zone_ids  = ["Z0123456789ABC"]
      dns_record_names = ["App.Example.com."]
      vpc_ids          = ["vpc-0123456789abcdef0"]
    }
  }
}

run "schedules_carry_the_configured_time_zone" {
  command = apply

  assert {
    condition     = aws_scheduler_schedule.pause["order-tracking-dev"].schedule_expression_timezone == "Europe/Madrid"
    error_message = "the pause schedule must use the stack's time zone"
  }
  assert {
    condition     = aws_scheduler_schedule.resume["order-tracking-dev"].schedule_expression_timezone == "Europe/Madrid"
    error_message = "the resume schedule must use the stack's time zone"
  }
  assert {
    condition     = aws_scheduler_schedule.pause["order-tracking-dev"].schedule_expression == "cron(30 20 ? * MON-FRI *)"
    error_message = "pause_at 20:30 on MON-FRI must become cron(30 20 ? * MON-FRI *), got ${aws_scheduler_schedule.pause["order-tracking-dev"].schedule_expression}"
  }
  assert {
    condition     = aws_scheduler_schedule.resume["order-tracking-dev"].schedule_expression == "cron(45 7 ? * MON-FRI *)"
    error_message = "resume_at 07:45 on MON-FRI must become cron(45 7 ? * MON-FRI *)"
  }
  assert {
    condition     = aws_scheduler_schedule.reconcile[0].schedule_expression == "rate(5 minutes)"
    error_message = "the reconcile tick defaults to rate(5 minutes)"
  }
}

run "schedules_invoke_the_full_function_with_the_documented_payloads" {
  command = apply

  assert {
    condition = alltrue([for s in concat(values(aws_scheduler_schedule.pause), values(aws_scheduler_schedule.resume), aws_scheduler_schedule.reconcile) :
    s.target[0].arn == aws_lambda_function.this["full"].arn])
    error_message = "every schedule must target the full function"
  }
  assert {
    condition     = jsondecode(aws_scheduler_schedule.pause["order-tracking-dev"].target[0].input) == { action = "pause", stack = "order-tracking-dev", level = "paused", trigger = "schedule" }
    error_message = "pause payload must be {action:pause, stack, level, trigger:schedule}"
  }
  assert {
    condition     = jsondecode(aws_scheduler_schedule.resume["order-tracking-dev"].target[0].input) == { action = "resume", stack = "order-tracking-dev", trigger = "schedule" }
    error_message = "resume payload must be {action:resume, stack, trigger:schedule}"
  }
  assert {
    condition     = jsondecode(aws_scheduler_schedule.reconcile[0].target[0].input) == { action = "reconcile", trigger = "schedule" }
    error_message = "reconcile payload must be {action:reconcile, trigger:schedule}"
  }
  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.scheduler[0].statement : alltrue([for r in s.resources : startswith(r, aws_lambda_function.this["full"].arn)]) if contains(s.actions, "lambda:InvokeFunction")])
    error_message = "the scheduler role may invoke the full function only"
  }
}

run "reduce_only_role_has_no_create_start_or_restore_action" {
  command = apply

  assert {
    condition = alltrue(flatten([for s in concat(data.aws_iam_policy_document.observe.statement, data.aws_iam_policy_document.reduce_only.statement) : [
      # events:PutEvents publishes costctl's own events (source costctl, one bus): it changes
      # no resource, and no rule of the module routes them to the full function.
      for a in s.actions : !can(regex("^[a-z0-9-]+:(Create|Start|Restore|Run|Add|Modify|Put|Register|Update|Delete|Stop|Enable|Disable)", a)) || a == "dynamodb:PutItem" || (a == "events:PutEvents" && s.sid == "PublishEvents")
    ]]))
    error_message = "the reduce-only policy must not grant any action that changes a resource (only dynamodb:PutItem, into its own partition)"
  }
  assert {
    condition     = aws_iam_role_policy.reduce_only[0].role == aws_iam_role.reduce_only[0].id && aws_iam_role_policy.reduce_only[0].policy == data.aws_iam_policy_document.reduce_only.json
    error_message = "the reduce-only role must carry the reduce-only policy"
  }
  assert {
    condition     = aws_lambda_function.this["reduce_only"].role == aws_iam_role.reduce_only[0].arn && aws_lambda_function.this["full"].role == aws_iam_role.full[0].arn
    error_message = "each function must run with its own role"
  }
  assert {
    condition     = aws_lambda_function.this["reduce_only"].environment[0].variables["COSTCTL_MODE"] == "reduce-only" && aws_lambda_function.this["full"].environment[0].variables["COSTCTL_MODE"] == "full"
    error_message = "COSTCTL_MODE must be full / reduce-only"
  }
  assert {
    condition     = aws_lambda_function.this["full"].environment[0].variables["COSTCTL_CONCURRENCY"] == "64" && aws_lambda_function.this["reduce_only"].environment[0].variables["COSTCTL_CONCURRENCY"] == "64"
    error_message = "both functions get COSTCTL_CONCURRENCY (default 64)"
  }
}

run "budget_topic_reaches_only_the_reduce_only_function" {
  command = apply

  assert {
    condition     = length(aws_sns_topic_subscription.budget) == 1 && alltrue([for s in aws_sns_topic_subscription.budget : s.endpoint == aws_lambda_function.this["reduce_only"].arn && s.protocol == "lambda"])
    error_message = "the budget topic must have exactly one subscription: the reduce-only function"
  }
  assert {
    condition     = alltrue([for p in aws_lambda_permission.budget : p.function_name == aws_lambda_function.this["reduce_only"].function_name && p.principal == "sns.amazonaws.com" && p.source_arn == aws_sns_topic.budget[0].arn])
    error_message = "only the reduce-only function may be invoked by the budget topic"
  }
  assert {
    condition     = aws_cloudwatch_event_target.rds_auto_start[0].arn == aws_lambda_function.this["reduce_only"].arn
    error_message = "the RDS auto-start event must reach the reduce-only function"
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.rds_auto_start[0].event_pattern).detail.EventID == ["RDS-EVENT-0154"]
    error_message = "the rule must match RDS-EVENT-0154"
  }
}

run "functions_are_the_cargo_lambda_zip_on_arm64" {
  command = apply

  assert {
    condition = alltrue([for f in aws_lambda_function.this :
    f.runtime == "provided.al2023" && f.handler == "bootstrap" && f.architectures == tolist(["arm64"]) && f.source_code_hash == filebase64sha256("tests/fixtures/bootstrap.zip")])
    error_message = "both functions deploy the zip on provided.al2023 / arm64 with handler bootstrap"
  }
  assert {
    condition     = jsondecode(aws_lambda_function.this["full"].environment[0].variables["COSTCTL_CONFIG"]).stacks["order-tracking-dev"].budgets[0].rules[1].lockout == true
    error_message = "the inline config must carry the budgets"
  }
  assert {
    condition     = jsondecode(aws_lambda_function.this["full"].environment[0].variables["COSTCTL_CONFIG"]).stacks["order-tracking-dev"].policy == { msk_on_pause = "delete", rds_on_pause = "stop", rds_auto_start = "stop", hibernate_after_days = null }
    error_message = "policy defaults must be delete/stop/stop/null"
  }
  assert {
    condition     = jsondecode(aws_lambda_function.this["full"].environment[0].variables["COSTCTL_CONFIG"]).stacks["order-tracking-dev"].schedule == { pause = "cron(30 20 ? * MON-FRI *)", resume = "cron(45 7 ? * MON-FRI *)" }
    error_message = "the config carries the cron expressions EventBridge Scheduler runs (a manual resume at night is held until the next one)"
  }
  assert {
    condition     = jsondecode(aws_lambda_function.this["full"].environment[0].variables["COSTCTL_CONFIG"]).stacks["order-tracking-dev"].time_zone == "Europe/Madrid"
    error_message = "the stack's time zone defaults to its schedule's"
  }
  assert {
    condition     = jsondecode(aws_lambda_function.this["full"].environment[0].variables["COSTCTL_CONFIG"]).stacks["order-tracking-dev"].snooze == { max_hours = 168, budget_overrides = true }
    error_message = "snooze defaults: a week, budget alerts override"
  }
  assert {
    condition     = aws_dynamodb_table.state[0].hash_key == "pk" && aws_dynamodb_table.state[0].range_key == "sk" && aws_dynamodb_table.state[0].billing_mode == "PAY_PER_REQUEST" && aws_dynamodb_table.state[0].point_in_time_recovery[0].enabled && aws_dynamodb_table.state[0].server_side_encryption[0].enabled
    error_message = "state table: pk/sk, on demand, PITR and SSE"
  }
  assert {
    condition     = aws_dynamodb_table.state[0].name == "costctl-state" && aws_lambda_function.this["full"].environment[0].variables["COSTCTL_STATE_TABLE"] == "costctl-state"
    error_message = "the functions must be told the state table's name"
  }
}

run "iam_is_scoped_to_the_stack_names" {
  command = apply

  assert {
    condition     = toset(local.ecs_service_arns) == toset(["arn:aws:ecs:eu-west-1:123456789012:service/order-tracking-dev/*", "arn:aws:ecs:eu-west-1:123456789012:service/order-tracking-dev-*/*"])
    error_message = "ECS must be scoped by the naming convention with a delimiter (order-tracking-dev or order-tracking-dev-*)"
  }
  assert {
    condition     = local.kafka_cluster_arns == ["arn:aws:kafka:eu-west-1:123456789012:cluster/ot-dev-*/*"]
    error_message = "MSK must be scoped by the naming convention with a delimiter"
  }
  # No resource of any statement may end in a prefix glued to a wildcard (`order-tracking-dev*`).
  assert {
    condition = alltrue(flatten([for s in concat(data.aws_iam_policy_document.observe.statement, data.aws_iam_policy_document.reduce_only.statement, data.aws_iam_policy_document.full.statement, data.aws_iam_policy_document.full_overrides.statement) : [
      for r in s.resources : !can(regex("(order-tracking-dev|ot-dev)\\*", r))
    ]]))
    error_message = "a resource glues a stack prefix to a wildcard without a delimiter (matches order-tracking-dev2)"
  }
  # Globbing the destructive statements' resources: dev2 and prod resources stay out of reach.
  assert {
    condition = alltrue(flatten([for s in data.aws_iam_policy_document.full.statement : [
      for arn in [
        "arn:aws:rds:eu-west-1:123456789012:db:order-tracking-dev2", "arn:aws:rds:eu-west-1:123456789012:db:order-tracking-prod",
        "arn:aws:ecs:eu-west-1:123456789012:service/order-tracking-dev2/order-tracking", "arn:aws:kafka:eu-west-1:123456789012:cluster/ot-dev2-msk/x",
        "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/ot-prod-alb/x",
      ] : !anytrue([for r in s.resources : can(regex("^${replace(replace(r, ".", "\\."), "*", ".*")}$", arn))])
    ] if anytrue([for a in s.actions : contains(["rds:StopDBInstance", "rds:DeleteDBInstance", "ecs:UpdateService", "kafka:DeleteCluster", "elasticloadbalancing:DeleteLoadBalancer"], a)])]))
    error_message = "a destructive statement reaches order-tracking-dev2 or prod resources"
  }
  assert {
    condition = alltrue([for s in concat(data.aws_iam_policy_document.observe.statement, data.aws_iam_policy_document.reduce_only.statement, data.aws_iam_policy_document.full.statement, data.aws_iam_policy_document.full_overrides.statement) :
    !contains(s.resources, "*") || contains(["ReadAny", "EcsListServices"], s.sid)])
    error_message = "only the documented list/describe statements may use Resource \"*\""
  }
  # Destructive actions, RegisterScalableTarget and the alarm changes: Project AND Env of the stack.
  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.full.statement :
      anytrue([for c in s.condition : c.variable == "aws:ResourceTag/Project" && toset(c.values) == toset(["order-tracking"])]) &&
      anytrue([for c in s.condition : c.variable == "aws:ResourceTag/Env" && toset(c.values) == toset(["dev"])])
      if anytrue([for a in s.actions : contains([
        "rds:StopDBInstance", "rds:DeleteDBInstance", "ecs:UpdateService", "kafka:DeleteCluster", "elasticloadbalancing:DeleteLoadBalancer", "application-autoscaling:RegisterScalableTarget",
        "cloudwatch:PutMetricAlarm", "cloudwatch:EnableAlarmActions", "cloudwatch:DisableAlarmActions",
      ], a)])
    ])
    error_message = "destructive actions, RegisterScalableTarget and the alarm changes need both aws:ResourceTag/Project and aws:ResourceTag/Env of the stack"
  }
  assert {
    condition     = length([for s in data.aws_iam_policy_document.full.statement : s if contains(s.actions, "kafka:DeleteCluster")]) == 1
    error_message = "kafka:DeleteCluster is granted in exactly one (tag-conditioned) statement"
  }
  # Alarms (any name: alarm:*): both functions list them; one statement of the full function
  # holds the three alarm changes (by tag, above); the reduce-only role reads only (below).
  assert {
    condition = anytrue([for s in data.aws_iam_policy_document.observe.statement :
      contains(s.actions, "cloudwatch:DescribeAlarms") && toset(s.resources) == toset(["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*"])
      ]) && [for s in concat(data.aws_iam_policy_document.full.statement, data.aws_iam_policy_document.full_overrides.statement) :
      length(setintersection(toset(s.actions), toset(var.alarm_changes))) == 3 && contains(s.resources, "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*")
      if length(setintersection(toset(s.actions), toset(var.alarm_changes))) > 0
    ] == [true]
    error_message = "DescribeAlarms (observe) must be on arn:aws:cloudwatch:eu-west-1:123456789012:alarm:*, and the three alarm changes (full) together in one statement on that pattern"
  }
  # The reduce-only role changes nothing but its own partition of the state table.
  assert {
    condition = alltrue([for s in concat(data.aws_iam_policy_document.observe.statement, data.aws_iam_policy_document.reduce_only.statement) :
      alltrue([for a in s.actions : can(regex("^[a-z0-9-]+:(Describe|List|Get|Query|Scan)", a)) || (a == "dynamodb:PutItem" && s.sid == "OwnPartition") || (a == "events:PutEvents" && s.sid == "PublishEvents")])
    ])
    error_message = "the reduce-only role may only read, and write its own partition"
  }
  assert {
    condition = anytrue([for s in data.aws_iam_policy_document.reduce_only.statement :
      s.sid == "OwnPartition" && anytrue([for c in s.condition :
        c.test == "ForAllValues:StringEquals" && c.variable == "dynamodb:LeadingKeys" && toset(c.values) == toset(["REDUCE#order-tracking-dev"])
      ])
    ])
    error_message = "the reduce-only role's PutItem is limited to the partition REDUCE#<stack> by dynamodb:LeadingKeys"
  }
  assert {
    condition = anytrue([for s in data.aws_iam_policy_document.full.statement :
      toset(s.resources) == toset(["arn:aws:route53:::hostedzone/Z0123456789ABC"]) &&
      anytrue([for c in s.condition : c.test == "ForAllValues:StringEquals" && c.variable == "route53:ChangeResourceRecordSetsNormalizedRecordNames" && toset(c.values) == toset(["app.example.com"])]) &&
      anytrue([for c in s.condition : c.test == "ForAllValues:StringEquals" && c.variable == "route53:ChangeResourceRecordSetsRecordTypes" && toset(c.values) == toset(["A", "AAAA"])])
    if contains(s.actions, "route53:ChangeResourceRecordSets")])
    error_message = "Route53 changes are limited to the zone, the normalised record name (lower case, no trailing dot) and types A/AAAA"
  }
  assert {
    condition     = length([for s in data.aws_iam_policy_document.full.statement : s if contains(s.actions, "route53:ChangeResourceRecordSets") && length(s.condition) < 2]) == 0
    error_message = "no statement grants ChangeResourceRecordSets without the record name and type conditions"
  }
  # VPC endpoints and NAT gateways: the stack's VPC (by ARN, or ec2:Vpc), MSK's own tag, the
  # creating action (tags), or the stack's Project AND Env tags (in the request for a create, on
  # the resource for a delete).
  assert {
    condition = alltrue([for s in concat(data.aws_iam_policy_document.full.statement, data.aws_iam_policy_document.observe.statement) :
      toset(s.resources) == toset(["arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-0123456789abcdef0"]) ||
      anytrue([for c in s.condition : c.variable == "ec2:Vpc" && toset(c.values) == toset(["arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-0123456789abcdef0"])]) ||
      anytrue([for c in s.condition : c.variable == "ec2:CreateAction" || c.variable == "aws:RequestTag/AWSMSKManaged"]) ||
      alltrue([for k in ["Project", "Env"] : anytrue([for c in s.condition : contains(["aws:ResourceTag/${k}", "aws:RequestTag/${k}"], c.variable) && toset(c.values) == toset([k == "Env" ? "dev" : "order-tracking"])])])
    if anytrue([for a in s.actions : contains(["ec2:CreateVpcEndpoint", "ec2:DeleteVpcEndpoints", "ec2:CreateNatGateway", "ec2:DeleteNatGateway"], a)])])
    error_message = "VPC endpoint and NAT gateway actions are limited to the stack's VPC or to the stack's tags"
  }
  # Without ephemeral_network (the default) no NAT gateway or interface endpoint can be created:
  # nothing grants their required resources (natgateway, vpc-endpoint) to a create, except MSK's
  # endpoints by their own tag; no route may be changed without nat_route_table_ids.
  assert {
    condition = !anytrue([for s in data.aws_iam_policy_document.full.statement :
      anytrue([for r in s.resources : strcontains(r, ":natgateway/") || strcontains(r, ":vpc-endpoint/")]) &&
      length(setintersection(toset(s.actions), toset(["ec2:CreateNatGateway", "ec2:CreateVpcEndpoint"]))) > 0 &&
      !anytrue([for c in s.condition : c.variable == "aws:RequestTag/AWSMSKManaged" || startswith(c.variable, "aws:ResourceTag/")])
    ]) && !anytrue([for s in data.aws_iam_policy_document.full.statement : contains(s.actions, "ec2:CreateRoute") || contains(s.actions, "ec2:ReplaceRoute")])
    error_message = "without ephemeral_network no statement may let the full function create a NAT gateway or a (non-MSK) VPC endpoint, and without nat_route_table_ids none may change a route"
  }
}

# The private network modes (infra/env): creates only with the stack's tags in the request, the
# Elastic IP only if it carries them, routes only in the route tables named, in the stack's VPC.
run "ephemeral_network_grants_tagged_creates_and_named_route_tables_only" {
  command = apply

  variables {
    ephemeral_network   = true
    nat_route_table_ids = ["rtb-0ccc", "rtb-0ddd", "rtb-0ccc"]
  }

  assert {
    condition = [for s in data.aws_iam_policy_document.full.statement : s if contains(s.actions, "ec2:CreateRoute")] == [for s in data.aws_iam_policy_document.full.statement : s if contains(s.actions, "ec2:ReplaceRoute")] && alltrue([for s in data.aws_iam_policy_document.full.statement :
      toset(s.resources) == toset(["arn:aws:ec2:eu-west-1:123456789012:route-table/rtb-0ccc", "arn:aws:ec2:eu-west-1:123456789012:route-table/rtb-0ddd"]) &&
      anytrue([for c in s.condition : c.test == "ArnEquals" && c.variable == "ec2:Vpc" && toset(c.values) == toset(["arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-0123456789abcdef0"])])
    if contains(s.actions, "ec2:CreateRoute") || contains(s.actions, "ec2:ReplaceRoute")]) && length([for s in data.aws_iam_policy_document.full.statement : s if contains(s.actions, "ec2:CreateRoute")]) == 1
    error_message = "CreateRoute and ReplaceRoute: one statement, the named route tables (once each) of the stack's VPC"
  }
  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.full.statement :
      alltrue([for k in ["Project", "Env"] : anytrue([for c in s.condition : c.test == "StringEquals" && c.variable == "aws:RequestTag/${k}" && toset(c.values) == toset([k == "Env" ? "dev" : "order-tracking"])])])
    if anytrue([for r in s.resources : strcontains(r, ":natgateway/") || strcontains(r, ":vpc-endpoint/")]) && length(setintersection(toset(s.actions), toset(["ec2:CreateNatGateway", "ec2:CreateVpcEndpoint"]))) > 0 && !anytrue([for c in s.condition : c.variable == "aws:RequestTag/AWSMSKManaged" || startswith(c.variable, "aws:ResourceTag/")])])
    error_message = "NAT gateways and interface endpoints are created only with the stack's Project and Env tags in the request"
  }
  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.full.statement :
      anytrue([for c in s.condition : c.variable == "aws:ResourceTag/Project"]) && anytrue([for c in s.condition : c.variable == "aws:ResourceTag/Env"])
    if anytrue([for r in s.resources : strcontains(r, ":elastic-ip/")])]) && anytrue([for s in data.aws_iam_policy_document.full.statement : contains(s.actions, "ec2:CreateNatGateway") && contains(s.resources, "arn:aws:ec2:eu-west-1:123456789012:elastic-ip/*")])
    error_message = "a NAT gateway may take only an Elastic IP that carries the stack's Project and Env tags"
  }
  assert {
    condition     = jsondecode(aws_lambda_function.this["full"].environment[0].variables["COSTCTL_CONFIG"]).stacks["order-tracking-dev"].tags == { Project = "order-tracking", Env = "dev" }
    error_message = "the stack's tags (by which costctl finds its NAT gateways and endpoints) reach the config"
  }
}

run "rejects_a_route_table_id_that_is_not_one" {
  command = plan
  variables {
    nat_route_table_ids = ["subnet-0ccc"]
  }
  expect_failures = [var.nat_route_table_ids]
}

run "async_events_that_fail_land_in_an_encrypted_alarmed_queue" {
  command = apply

  variables {
    alarm_actions = ["arn:aws:sns:eu-west-1:123456789012:ops"]
  }

  assert {
    condition = length(aws_lambda_function_event_invoke_config.this) == 2 && alltrue([for k, c in aws_lambda_function_event_invoke_config.this :
    c.function_name == aws_lambda_function.this[k].function_name && c.destination_config[0].on_failure[0].destination == aws_sqs_queue.failed_events[0].arn && c.maximum_retry_attempts == 2])
    error_message = "both functions (asynchronously invoked by Scheduler, SNS and EventBridge) send events that failed every attempt to the failed-event queue"
  }
  assert {
    condition     = aws_sqs_queue.failed_events[0].sqs_managed_sse_enabled && aws_sqs_queue.failed_events[0].message_retention_seconds == 1209600
    error_message = "the failed-event queue is encrypted (SSE-SQS) and keeps messages 14 days"
  }
  assert {
    condition = alltrue([for k in ["full", "reduce_only"] : anytrue([for s in data.aws_iam_policy_document.runtime[k].statement :
    contains(s.actions, "sqs:SendMessage") && toset(s.resources) == toset([aws_sqs_queue.failed_events[0].arn])])])
    error_message = "each role may send to the failed-event queue (and to nothing else)"
  }
  assert {
    condition = (aws_cloudwatch_metric_alarm.failed_events[0].metric_name == "ApproximateNumberOfMessagesVisible" && aws_cloudwatch_metric_alarm.failed_events[0].namespace == "AWS/SQS" &&
      aws_cloudwatch_metric_alarm.failed_events[0].dimensions.QueueName == aws_sqs_queue.failed_events[0].name && aws_cloudwatch_metric_alarm.failed_events[0].threshold == 0 &&
    aws_cloudwatch_metric_alarm.failed_events[0].comparison_operator == "GreaterThanThreshold" && aws_cloudwatch_metric_alarm.failed_events[0].alarm_actions == toset(["arn:aws:sns:eu-west-1:123456789012:ops"]))
    error_message = "the alarm fires on the first visible message of the queue and notifies alarm_actions"
  }
  assert {
    condition     = aws_sns_topic.budget[0].kms_master_key_id == aws_kms_key.budget[0].arn && aws_kms_key.budget[0].enable_key_rotation
    error_message = "the budget topic is encrypted with the module's customer managed key (rotated)"
  }
  assert {
    condition     = contains(jsondecode(aws_kms_key.budget[0].policy).Statement[1].Principal.Service, "budgets.amazonaws.com")
    error_message = "the key policy lets AWS Budgets publish to the encrypted topic"
  }
}

run "undeliverable_events_land_in_the_same_queue" {
  command = apply

  assert {
    condition = alltrue([for sch in concat(values(aws_scheduler_schedule.pause), values(aws_scheduler_schedule.resume), aws_scheduler_schedule.reconcile) :
    sch.target[0].dead_letter_config[0].arn == aws_sqs_queue.failed_events[0].arn])
    error_message = "every schedule sends what it could not deliver to the failed-event queue"
  }
  assert {
    condition     = alltrue([for sub in aws_sns_topic_subscription.budget : jsondecode(sub.redrive_policy).deadLetterTargetArn == aws_sqs_queue.failed_events[0].arn])
    error_message = "budget alerts SNS could not deliver land in the failed-event queue"
  }
  assert {
    condition     = aws_cloudwatch_event_target.rds_auto_start[0].dead_letter_config[0].arn == aws_sqs_queue.failed_events[0].arn
    error_message = "RDS events EventBridge could not deliver land in the failed-event queue"
  }
  assert {
    condition = toset(flatten([for st in data.aws_iam_policy_document.failed_events[0].statement : [for p in st.principals : p.identifiers] if st.effect != "Deny"])) == toset(["sns.amazonaws.com", "events.amazonaws.com"]) && alltrue([
      for st in data.aws_iam_policy_document.failed_events[0].statement : anytrue([for c in st.condition : c.variable == "aws:SourceArn"]) if st.effect != "Deny"
    ])
    error_message = "the queue admits SNS and EventBridge only, each for its own source"
  }
  assert {
    condition     = anytrue([for st in data.aws_iam_policy_document.scheduler[0].statement : contains(st.actions, "sqs:SendMessage") && toset(st.resources) == toset([aws_sqs_queue.failed_events[0].arn])])
    error_message = "the scheduler role may send to the failed-event queue"
  }
}

run "a_given_budget_key_is_used_instead" {
  command = apply

  variables {
    budget_topic_kms_key_id = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"
  }

  assert {
    condition     = length(aws_kms_key.budget) == 0 && aws_sns_topic.budget[0].kms_master_key_id == "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    error_message = "budget_topic_kms_key_id replaces the module's key"
  }
}

run "rejects_zones_without_record_names" {
  command = plan
  variables {
    stacks = { "order-tracking-dev" = { tags = { Project = "order-tracking", Env = "dev" }, hosted_zone_ids = ["Z0123456789ABC"] } }
  }
  expect_failures = [var.stacks]
}

run "config_from_ssm" {
  command = apply

  variables {
    config_source = "ssm"
    name          = "costctl-dev"
  }

  assert {
    condition     = aws_lambda_function.this["full"].environment[0].variables["COSTCTL_CONFIG_PARAMETER"] == "/costctl/costctl-dev/config" && !contains(keys(aws_lambda_function.this["full"].environment[0].variables), "COSTCTL_CONFIG")
    error_message = "with config_source = ssm the functions get COSTCTL_CONFIG_PARAMETER only"
  }
  assert {
    condition     = jsondecode(aws_ssm_parameter.config[0].value) == jsondecode(output.config_json)
    error_message = "the parameter holds the config JSON"
  }
  assert {
    condition     = aws_dynamodb_table.state[0].name == "costctl-costctl-dev"
    error_message = "the state table name derives from name"
  }
}

run "create_false_creates_nothing" {
  command = apply

  variables {
    create = false
  }

  assert {
    condition     = length(aws_lambda_function.this) == 0 && length(aws_dynamodb_table.state) == 0 && length(aws_scheduler_schedule.pause) == 0 && length(aws_sns_topic_subscription.budget) == 0
    error_message = "create = false must create nothing"
  }
  assert {
    condition     = output.full_function_name == null
    error_message = "outputs are null when nothing is created"
  }
}

run "calendar_snooze_and_time_zone_reach_the_config" {
  command = apply
  variables {
    stacks = { "order-tracking-dev" = {
      tags      = { Project = "order-tracking", Env = "dev" }
      time_zone = "America/New_York"
      calendar  = ["2026-12-25", "01-01", "SAT,SUN", "2026-12-24..2027-01-02 winter break"]
      snooze    = { max_hours = 12, budget_overrides = false }
      exclude   = { ecs_services = ["ot-dev/batch"] }
    } }
    exclude_tag_key = "team:keep"
  }
  assert {
    condition = jsondecode(aws_lambda_function.this["full"].environment[0].variables["COSTCTL_CONFIG"]).stacks["order-tracking-dev"] == {
      tags      = { Project = "order-tracking", Env = "dev" }
      policy    = { msk_on_pause = "delete", rds_on_pause = "stop", rds_auto_start = "stop", hibernate_after_days = null }
      budgets   = []
      time_zone = "America/New_York"
      calendar  = ["2026-12-25", "01-01", "SAT,SUN", "2026-12-24..2027-01-02 winter break"]
      snooze    = { max_hours = 12, budget_overrides = false }
      exclude   = { ecs_services = ["ot-dev/batch"], rds_instances = [] }
    }
    error_message = "time zone, calendar and snooze limits go to the config as given; without a schedule there is no schedule key"
  }
}

run "exclude_tag_key_reaches_the_config" {
  command = apply
  variables {
    exclude_tag_key = "team:keep"
  }
  assert {
    condition     = jsondecode(aws_lambda_function.this["full"].environment[0].variables["COSTCTL_CONFIG"]).exclude_tag_key == "team:keep"
    error_message = "the exclusion tag key goes to the config"
  }
}

run "rejects_a_bad_exclusion" {
  command = plan
  variables {
    stacks = { "order-tracking-dev" = { tags = { Project = "order-tracking", Env = "dev" }, exclude = { ecs_services = ["no-cluster"] } } }
  }
  expect_failures = [var.stacks]
}

run "rejects_an_aws_exclusion_tag_key" {
  command = plan
  variables {
    exclude_tag_key = "aws:exclude"
  }
  expect_failures = [var.exclude_tag_key]
}

run "stack_time_zone_defaults_to_utc" {
  command = apply
  variables {
    stacks = { "order-tracking-dev" = { tags = { Project = "order-tracking", Env = "dev" } } }
  }
  assert {
    condition     = jsondecode(aws_lambda_function.this["full"].environment[0].variables["COSTCTL_CONFIG"]).stacks["order-tracking-dev"].time_zone == "UTC"
    error_message = "no time zone and no schedule: UTC"
  }
}

run "rejects_a_bad_calendar_date" {
  command = plan
  variables {
    stacks = { "order-tracking-dev" = { tags = { Project = "order-tracking", Env = "dev" }, calendar = ["25/12/2026"] } }
  }
  expect_failures = [var.stacks]
}

run "rejects_a_calendar_range_that_ends_before_it_starts" {
  command = plan
  variables {
    stacks = { "order-tracking-dev" = { tags = { Project = "order-tracking", Env = "dev" }, calendar = ["2027-01-02..2026-12-24 backwards"] } }
  }
  expect_failures = [var.stacks]
}

run "rejects_a_snooze_bound_out_of_range" {
  command = plan
  variables {
    stacks = { "order-tracking-dev" = { tags = { Project = "order-tracking", Env = "dev" }, snooze = { max_hours = 0 } } }
  }
  expect_failures = [var.stacks]
}

run "rejects_a_bad_stack_time_zone" {
  command = plan
  variables {
    stacks = { "order-tracking-dev" = { tags = { Project = "order-tracking", Env = "dev" }, time_zone = "CET+1" } }
  }
  expect_failures = [var.stacks]
}

run "rejects_a_bad_time_zone" {
  command = plan
  variables {
    stacks = { "order-tracking-dev" = { tags = { Project = "order-tracking", Env = "dev" }, schedule = { time_zone = "CET+1" } } }
  }
  expect_failures = [var.stacks]
}

run "rejects_a_bad_concurrency" {
  command = plan
  variables {
    stacks      = { "order-tracking-dev" = { tags = { Project = "order-tracking", Env = "dev" } } }
    concurrency = 0
  }
  expect_failures = [var.concurrency]
}

run "rejects_a_bad_level" {
  command = plan
  variables {
    stacks = { "order-tracking-dev" = { tags = { Project = "order-tracking", Env = "dev" }, budgets = [{ name = "b", rules = [{ alert_type = "ACTUAL", threshold_percent = 100, level = "stopped" }] }] } }
  }
  expect_failures = [var.stacks]
}

run "rejects_a_bad_threshold" {
  command = plan
  variables {
    stacks = { "order-tracking-dev" = { tags = { Project = "order-tracking", Env = "dev" }, budgets = [{ name = "b", rules = [{ alert_type = "ACTUAL", threshold_percent = 0, level = "paused" }] }] } }
  }
  expect_failures = [var.stacks]
}

run "rejects_a_bad_alert_type" {
  command = plan
  variables {
    stacks = { "order-tracking-dev" = { tags = { Project = "order-tracking", Env = "dev" }, budgets = [{ name = "b", rules = [{ alert_type = "actual", threshold_percent = 100, level = "paused" }] }] } }
  }
  expect_failures = [var.stacks]
}

run "rejects_a_bad_cron" {
  command = plan
  variables {
    stacks = { "order-tracking-dev" = { tags = { Project = "order-tracking", Env = "dev" }, schedule = { time_zone = "UTC", pause_cron = "0 20 * * 1-5" } } }
  }
  expect_failures = [var.stacks]
}

run "rejects_a_bad_time_of_day" {
  command = plan
  variables {
    stacks = { "order-tracking-dev" = { tags = { Project = "order-tracking", Env = "dev" }, schedule = { time_zone = "UTC", pause_at = "8pm" } } }
  }
  expect_failures = [var.stacks]
}

run "rejects_bad_working_days" {
  command = plan
  variables {
    stacks = { "order-tracking-dev" = { tags = { Project = "order-tracking", Env = "dev" }, schedule = { time_zone = "UTC", working_days = "Monday-Friday" } } }
  }
  expect_failures = [var.stacks]
}

run "rejects_a_bad_policy" {
  command = plan
  variables {
    stacks = { "order-tracking-dev" = { tags = { Project = "order-tracking", Env = "dev" }, policy = { msk_on_pause = "pause" } } }
  }
  expect_failures = [var.stacks]
}

run "rejects_stacks_without_project_and_env_tags" {
  command = plan
  variables {
    stacks = { "order-tracking-dev" = { tags = { Owner = "egobb" } } }
  }
  expect_failures = [var.stacks]
}

run "rejects_a_bad_reconcile_rate" {
  command = plan
  variables {
    reconcile_schedule_expression = "every 5 minutes"
  }
  expect_failures = [var.reconcile_schedule_expression]
}

run "rejects_a_state_table_not_named_costctl" {
  command = plan
  variables {
    state_table_name = "my-table"
  }
  expect_failures = [var.state_table_name]
}

run "rejects_an_unknown_config_source" {
  command = plan
  variables {
    config_source = "s3"
  }
  expect_failures = [var.config_source]
}

run "rejects_a_retention_cloudwatch_does_not_accept" {
  command = plan
  variables {
    log_retention_days = 10
  }
  expect_failures = [var.log_retention_days]
}

run "every_role_carries_the_given_permissions_boundary" {
  command = apply

  variables {
    permissions_boundary = "arn:aws:iam::123456789012:policy/ot-workload-boundary-dev"
  }

  assert {
    condition = alltrue([for r in [aws_iam_role.full[0], aws_iam_role.reduce_only[0], aws_iam_role.scheduler[0]] :
    r.permissions_boundary == "arn:aws:iam::123456789012:policy/ot-workload-boundary-dev"])
    error_message = "the full, reduce-only and scheduler roles all carry the permissions boundary (the bootstrap deployers may create roles only with it)"
  }
}

run "rejects_a_permissions_boundary_that_is_not_a_policy_arn" {
  command = plan
  variables {
    permissions_boundary = "ot-workload-boundary-dev"
  }
  expect_failures = [var.permissions_boundary]
}

# IAM limits the inline policies of a role to 10,240 characters in total (whitespace excluded).
# Estimated as IAM counts them (compact JSON: Sid, Effect, Action, Resource, Condition): one
# deployment guarding two stacks, one of them with DNS aliases (full role, measured in README).
# (env deploys one costctl per environment, about 8,400 characters; every further stack adds
# about 1,500, so a third does not fit, and neither does a second one with ephemeral_network:
# the next run.)
run "role_policies_stay_under_the_size_limit" {
  command = apply

  variables {
    stacks = {
      "order-tracking-dev" = {
        tags             = { Project = "order-tracking", Env = "dev" }
        hosted_zone_ids  = ["Z0123456789ABC"]
        dns_record_names = ["order-tracking-dev.example.com"]
        vpc_ids          = ["vpc-0123456789abcdef0"]
        schedule         = { time_zone = "Europe/Madrid" }
      }
      "order-tracking-staging" = {
        tags     = { Project = "order-tracking", Env = "staging" }
        vpc_ids  = ["vpc-0123456789abcdef0"]
        schedule = { time_zone = "Europe/Madrid" }
      }
    }
  }

  assert {
    condition     = alltrue([for size in local.role_policy_sizes : size < 10240])
    error_message = "a function role's inline policies may exceed IAM's 10,240-character limit: ${jsonencode(local.role_policy_sizes)}"
  }
}

# infra/env's shape in private-nat: one stack with DNS aliases, NAT gateways and endpoints, two
# route tables.
run "role_policies_of_one_stack_with_an_ephemeral_network_stay_under_the_size_limit" {
  command = apply

  variables {
    stacks = {
      "order-tracking-dev" = {
        tags               = { Project = "order-tracking", Env = "dev" }
        name_prefixes      = ["order-tracking-dev"]
        edge_name_prefixes = ["ot-dev"]
        hosted_zone_ids    = ["Z0123456789ABC"]
        dns_record_names   = ["order-tracking-dev.example.com"]
        vpc_ids            = ["vpc-0123456789abcdef0"]
        schedule           = { time_zone = "Europe/Madrid" }
      }
    }
    ephemeral_network   = true
    nat_route_table_ids = ["rtb-0123456789abcdef0", "rtb-0123456789abcdef1"]
  }

  assert {
    condition     = alltrue([for size in local.role_policy_sizes : size < 10240])
    error_message = "a function role's inline policies may exceed IAM's 10,240-character limit: ${jsonencode(local.role_policy_sizes)}"
  }
}

run "publishes_events_to_the_default_bus_only_as_costctl" {
  command = apply

  assert {
    condition     = aws_lambda_function.this["full"].environment[0].variables.COSTCTL_EVENT_BUS == "default" && aws_lambda_function.this["reduce_only"].environment[0].variables.COSTCTL_EVENT_BUS == "default"
    error_message = "both functions must be told the event bus"
  }
  assert {
    condition     = one([for st in data.aws_iam_policy_document.observe.statement : st if st.sid == "PublishEvents"]).resources == toset(["arn:aws:events:eu-west-1:123456789012:event-bus/default"])
    error_message = "PutEvents must be granted on the one bus"
  }
  assert {
    condition     = one([for c in one([for st in data.aws_iam_policy_document.observe.statement : st if st.sid == "PublishEvents"]).condition : c.values if c.variable == "events:source"]) == tolist(["costctl"])
    error_message = "PutEvents must be limited to source costctl"
  }
  assert {
    condition     = length(aws_sns_topic.notifications) == 0 && length(aws_cloudwatch_event_rule.notifications) == 0 && length(aws_chatbot_slack_channel_configuration.this) == 0
    error_message = "notifications are off by default"
  }
}

run "notifications_route_failures_to_an_encrypted_topic_with_email_and_slack" {
  command = apply
  variables {
    notifications = {
      enabled = true
      emails  = ["oncall@example.com", "dev@example.com"]
      slack   = { team_id = "T07ABCDEF12", channel_id = "C07ABCDEF12" }
    }
  }

  assert {
    condition     = aws_sns_topic.notifications[0].kms_master_key_id == aws_kms_key.notifications[0].arn
    error_message = "the topic must be encrypted with the module's key"
  }
  assert {
    condition     = contains(jsondecode(aws_kms_key.notifications[0].policy).Statement[1].Principal.Service, "events.amazonaws.com")
    error_message = "EventBridge must be able to use the topic's key"
  }
  assert {
    condition     = toset([for s in aws_sns_topic_subscription.email : s.endpoint]) == toset(["oncall@example.com", "dev@example.com"]) && alltrue([for s in aws_sns_topic_subscription.email : s.protocol == "email"])
    error_message = "one email subscription per address"
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.notifications[0].event_pattern) == { source = ["costctl"], "detail-type" = ["Stack Transition Failed", "Budget Lockout", "Resource Kept"] }
    error_message = "by default failures, lockouts and kept resources notify: ${aws_cloudwatch_event_rule.notifications[0].event_pattern}"
  }
  assert {
    condition     = aws_cloudwatch_event_target.notifications[0].arn == aws_sns_topic.notifications[0].arn
    error_message = "the rule must target the topic"
  }
  assert {
    condition     = jsondecode(aws_sns_topic_policy.notifications[0].policy).Statement[0].Condition.ArnEquals["aws:SourceArn"] == aws_cloudwatch_event_rule.notifications[0].arn
    error_message = "only the module's rule may publish to the topic"
  }
  assert {
    condition     = aws_chatbot_slack_channel_configuration.this[0].slack_channel_id == "C07ABCDEF12" && aws_chatbot_slack_channel_configuration.this[0].sns_topic_arns == toset([aws_sns_topic.notifications[0].arn])
    error_message = "the Slack channel must be subscribed to the topic"
  }
  assert {
    condition     = output.notification_topic_arn == aws_sns_topic.notifications[0].arn
    error_message = "the topic ARN is an output"
  }
}

run "every_transition_can_notify_and_slack_is_optional" {
  command = apply
  variables {
    notifications = {
      enabled      = true
      detail_types = ["Stack State Changed", "Stack Transition Failed", "Resource Kept", "Budget Lockout", "Snooze Overridden"]
      kms_key_id   = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    }
  }

  assert {
    condition     = length(jsondecode(aws_cloudwatch_event_rule.notifications[0].event_pattern)["detail-type"]) == 5
    error_message = "every detail type must be routed"
  }
  assert {
    condition     = length(aws_kms_key.notifications) == 0 && aws_sns_topic.notifications[0].kms_master_key_id == "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    error_message = "a given key is used instead of a new one"
  }
  assert {
    condition     = length(aws_chatbot_slack_channel_configuration.this) == 0 && length(aws_iam_role.chatbot) == 0
    error_message = "no Slack channel unless asked"
  }
}

run "rejects_an_unknown_detail_type" {
  command = plan
  variables {
    notifications = { enabled = true, detail_types = ["Stack Paused"] }
  }
  expect_failures = [var.notifications]
}

run "rejects_a_bad_email" {
  command = plan
  variables {
    notifications = { enabled = true, emails = ["not-an-address"] }
  }
  expect_failures = [var.notifications]
}

run "dashboard_and_problem_alarms_read_the_embedded_metrics" {
  command = apply
  variables {
    notifications = { enabled = true }
  }

  assert {
    condition     = length(jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets) == 3
    error_message = "three widgets per stack: state, cost rate, savings"
  }
  assert {
    condition = alltrue([for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets :
      w.type == "metric" && w.properties.region == "eu-west-1" && anytrue([for m in w.properties.metrics : try(m[0] == "costctl" && m[3] == "order-tracking-dev", false)])
    ])
    error_message = "every widget reads the costctl namespace for the stack"
  }
  assert {
    condition     = aws_cloudwatch_metric_alarm.problems["order-tracking-dev"].namespace == "costctl" && aws_cloudwatch_metric_alarm.problems["order-tracking-dev"].dimensions.Stack == "order-tracking-dev"
    error_message = "one problems alarm per stack on its metric"
  }
  assert {
    condition     = contains(aws_cloudwatch_metric_alarm.problems["order-tracking-dev"].alarm_actions, aws_sns_topic.notifications[0].arn)
    error_message = "the alarm notifies the notification topic"
  }
  assert {
    condition = anytrue([for w in jsondecode(aws_cloudwatch_dashboard.this[0].dashboard_body).widgets :
      anytrue([for m in w.properties.metrics : try(m[1] == "SavedDollars" && m[4].stat == "Sum", false)])
    ])
    error_message = "the savings widget sums the SavedDollars increments"
  }
  assert {
    condition = (aws_cloudwatch_metric_alarm.overdue["order-tracking-dev"].metric_name == "PendingSeconds" && aws_cloudwatch_metric_alarm.overdue["order-tracking-dev"].threshold == 1800 &&
    contains(aws_cloudwatch_metric_alarm.overdue["order-tracking-dev"].alarm_actions, aws_sns_topic.notifications[0].arn))
    error_message = "an overdue alarm per stack: 30 minutes of PendingSeconds by default, to the notification topic"
  }
  assert {
    condition = (length(aws_cloudwatch_metric_alarm.function_errors) == 2 && aws_cloudwatch_metric_alarm.function_errors["full"].namespace == "AWS/Lambda" &&
      aws_cloudwatch_metric_alarm.function_errors["full"].dimensions.FunctionName == aws_lambda_function.this["full"].function_name &&
    contains(aws_cloudwatch_metric_alarm.function_errors["reduce_only"].alarm_actions, aws_sns_topic.notifications[0].arn))
    error_message = "each function's own Errors are alarmed, to the notification topic"
  }
}

run "the_overdue_threshold_is_whole_minutes_in_range" {
  command = plan
  variables {
    overdue_after_minutes = 5
  }
  expect_failures = [var.overdue_after_minutes]
}

run "the_dashboard_is_optional" {
  command = plan
  variables {
    create_dashboard = false
  }

  assert {
    condition     = length(aws_cloudwatch_dashboard.this) == 0
    error_message = "no dashboard when create_dashboard is false"
  }
}
