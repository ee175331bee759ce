# Tests of the env root with a mocked AWS provider and a faked bootstrap state: no credentials,
# no network. Run: terraform init -backend=false && terraform test

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_region" {
    defaults = { region = "eu-west-1" }
  }
  # Deterministic policy JSON, as with the real provider: otherwise every plan "changes" the module.
  mock_data "aws_iam_policy_document" {
    defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
  }
  mock_data "aws_lambda_invocation" {
    defaults = { result = "{\"stack\":\"order-tracking-dev\",\"desired_state\":\"running\",\"lockout\":null}" }
  }
  mock_data "aws_ssm_parameter" {
    defaults = { insecure_value = "ot-dev-alb-123.eu-west-1.elb.amazonaws.com" }
  }
  mock_data "aws_route53_zone" {
    defaults = { zone_id = "Z0123456789ABC" }
  }
  mock_resource "aws_lambda_invocation" {
    defaults = { result = "{\"stack\":\"order-tracking-dev\",\"load_balancers\":{},\"kafka_clusters\":{}}" }
  }
  mock_resource "aws_acm_certificate" {
    defaults = {
      arn = "arn:aws:acm:eu-west-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
      domain_validation_options = [{
        domain_name           = "app.example.com"
        resource_record_name  = "_x.app.example.com."
        resource_record_type  = "CNAME"
        resource_record_value = "_y.acm-validations.aws."
      }]
    }
  }
}

override_data {
  target = data.terraform_remote_state.bootstrap
  values = {
    outputs = {
      region             = "eu-west-1"
      project            = "order-tracking"
      short_name         = "ot"
      owner              = "egobb"
      vpc_id             = "vpc-0123456789abcdef0"
      public_subnet_ids  = ["subnet-0aaa", "subnet-0bbb"]
      private_subnet_ids = ["subnet-0ccc", "subnet-0ddd"]
      ecs_execution_role_arns = {
        dev     = "arn:aws:iam::123456789012:role/ot-ecs-execution-dev"
        staging = "arn:aws:iam::123456789012:role/ot-ecs-execution-staging"
        prod    = "arn:aws:iam::123456789012:role/ot-ecs-execution-prod"
      }
      permissions_boundary_arns = {
        dev  = "arn:aws:iam::123456789012:policy/ot-workload-boundary-dev"
        prod = "arn:aws:iam::123456789012:policy/ot-workload-boundary-prod"
      }
      environments       = { dev = "dev", staging = "dev", prod = "prod" }
      ecr_repository_url = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/order-tracking"
    }
  }
}

variables {
  state_bucket    = "ot-tf-state-123456789012"
  image_tag       = "1.0.0"
  lambda_zip_path = "../modules/costctl/tests/fixtures/bootstrap.zip"
  # terraform test runs in the default workspace; the environment is named explicitly.
  allow_default_workspace = true
  environment             = "dev"
}

run "ephemeral_tier_is_a_spec_applied_by_the_full_function" {
  command = apply

  assert {
    condition     = aws_lambda_invocation.ephemeral.lifecycle_scope == "CRUD" && aws_lambda_invocation.ephemeral.function_name == module.costctl.full_function_name
    error_message = "the ephemeral tier is created, updated and deleted by the full function (lifecycle_scope CRUD)"
  }
  assert {
    condition     = jsondecode(aws_lambda_invocation.ephemeral.input).action == "apply-spec" && jsondecode(aws_lambda_invocation.ephemeral.input).stack == "order-tracking-dev"
    error_message = "input must be {action: apply-spec, stack: order-tracking-dev, spec}"
  }
  assert {
    condition     = jsondecode(aws_lambda_invocation.ephemeral.input).spec.load_balancers[0].name == "ot-dev-alb" && jsondecode(aws_lambda_invocation.ephemeral.input).spec.load_balancers[0].subnets == ["subnet-0aaa", "subnet-0bbb"]
    error_message = "the ALB is ot-dev-alb in the public subnets"
  }
  assert {
    condition     = jsondecode(aws_lambda_invocation.ephemeral.input).spec.load_balancers[0].listeners == [{ port = 80, protocol = "HTTP", default_actions = [{ type = "forward", target_group_arn = aws_lb_target_group.app.arn }] }]
    error_message = "without HTTPS there is one HTTP listener forwarding to the Terraform-owned target group"
  }
  assert {
    condition = jsondecode(aws_lambda_invocation.ephemeral.input).spec.kafka_clusters == [{
      name                  = "ot-dev-msk"
      vpc_configs           = [{ subnet_ids = ["subnet-0ccc", "subnet-0ddd"], security_group_ids = [aws_security_group.msk[0].id] }]
      client_authentication = { sasl_iam = true }
      tags                  = { Project = "order-tracking", Env = "dev", Owner = "egobb", ManagedBy = "terraform" }
      bootstrap_parameter   = "/order-tracking/dev/kafka_bootstrap"
    }]
    error_message = "the MSK Serverless cluster is ot-dev-msk in the private subnets, SASL/IAM, publishing its brokers to /order-tracking/dev/kafka_bootstrap"
  }
  assert {
    condition     = output.app_url == "http://ot-dev-alb-123.eu-west-1.elb.amazonaws.com"
    error_message = "app_url is read from the SSM parameter costctl keeps current"
  }
}

run "tasks_read_kafka_brokers_and_credentials_indirectly" {
  command = apply

  assert {
    condition     = contains([for s in jsondecode(aws_ecs_task_definition.app.container_definitions)[0].secrets : s.valueFrom if s.name == "KAFKA_BOOTSTRAP_SERVERS"], aws_ssm_parameter.kafka_bootstrap[0].arn)
    error_message = "the task reads the Kafka bootstrap string from the SSM parameter (secrets.valueFrom)"
  }
  assert {
    condition     = contains([for s in jsondecode(aws_ecs_task_definition.app.container_definitions)[0].secrets : s.valueFrom if s.name == "DB_PASSWORD"], "${aws_secretsmanager_secret.db[0].arn}:password::")
    error_message = "the task reads the DB password from Secrets Manager"
  }
  assert {
    condition     = aws_ecs_service.app.cluster == aws_ecs_cluster.this.id && aws_ecs_cluster.this.name == "order-tracking-dev"
    error_message = "naming: cluster order-tracking-<env>"
  }
  assert {
    condition     = aws_db_instance.this.identifier == "order-tracking-dev" && !aws_db_instance.this.publicly_accessible && aws_db_instance.this.storage_encrypted && !aws_db_instance.this.skip_final_snapshot
    error_message = "RDS: order-tracking-dev, private, encrypted, final snapshot on destroy"
  }
}

run "security_groups_chain_alb_ecs_rds_msk" {
  command = apply

  assert {
    condition     = aws_vpc_security_group_ingress_rule.ecs_from_alb.referenced_security_group_id == aws_security_group.alb.id && aws_vpc_security_group_ingress_rule.ecs_from_alb.from_port == 8080
    error_message = "ECS accepts the container port from the ALB only"
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.rds_from_ecs.referenced_security_group_id == aws_security_group.ecs.id && aws_vpc_security_group_ingress_rule.rds_from_ecs.from_port == 5432
    error_message = "RDS accepts 5432 from ECS only"
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.msk_from_ecs[0].referenced_security_group_id == aws_security_group.ecs.id && aws_vpc_security_group_ingress_rule.msk_from_ecs[0].from_port == 9098
    error_message = "MSK accepts 9098 from ECS only"
  }
}

run "budget_alerts_reach_only_the_reduce_only_function" {
  command = apply

  assert {
    condition     = alltrue([for n in aws_budgets_budget.this.notification : n.subscriber_sns_topic_arns == toset([module.costctl.budget_topic_arn])])
    error_message = "every budget notification goes to the costctl budget topic (subscribed by the reduce-only function only; see the module tests)"
  }
  assert {
    condition     = length(aws_budgets_budget.this.notification) == 2 && aws_budgets_budget.this.name == "order-tracking-dev-monthly"
    error_message = "the default rules are forecast 100 % and actual 100 %, on the budget the config names"
  }
  assert {
    condition     = module.costctl.schedules["order-tracking-dev"].time_zone == "Europe/Madrid" && module.costctl.schedules["order-tracking-dev"].pause == "cron(0 20 ? * MON-FRI *)"
    error_message = "the schedules carry the configured time zone"
  }
}

run "guard_lets_a_running_stack_plan" {
  command = plan

  assert {
    condition     = output.desired_state == "running"
    error_message = "the guard reads the status from the full function"
  }
}

run "guard_refuses_to_plan_while_hibernated" {
  command = plan

  override_data {
    target = data.aws_lambda_invocation.status
    values = { result = "{\"stack\":\"order-tracking-dev\",\"desired_state\":\"hibernated\",\"lockout\":{\"until\":\"2025-07-01T00:00:00Z\"}}" }
  }

  expect_failures = [terraform_data.hibernation_guard]
}

run "guard_lets_a_paused_stack_plan_when_rds_is_only_stopped" {
  command = plan

  override_data {
    target = data.aws_lambda_invocation.status
    values = { result = "{\"stack\":\"order-tracking-dev\",\"desired_state\":\"paused\",\"lockout\":null}" }
  }

  assert {
    condition     = output.desired_state == "paused"
    error_message = "a paused stack with a stopped database may be planned"
  }
}

run "guard_refuses_a_paused_stack_whose_database_is_a_snapshot" {
  # A policy change changes costctl's config, so the status is read (and the guard fails) at apply.
  command = apply

  variables {
    costctl_policy = { rds_on_pause = "snapshot" }
  }

  override_data {
    target = data.aws_lambda_invocation.status
    values = { result = "{\"stack\":\"order-tracking-dev\",\"desired_state\":\"paused\",\"lockout\":null}" }
  }

  expect_failures = [terraform_data.hibernation_guard]
}

run "guard_can_be_switched_off" {
  command = plan

  variables {
    hibernation_guard = false
  }

  override_data {
    target = data.aws_lambda_invocation.status
    values = { result = "{\"desired_state\":\"hibernated\"}" }
  }

  assert {
    condition     = length(data.aws_lambda_invocation.status) == 0
    error_message = "hibernation_guard = false must not invoke the function"
  }
}

run "https_redirects_and_listens_on_443" {
  command = apply

  variables {
    enable_https = true
    domain_name  = "example.com"
    subdomain    = "app"
  }

  assert {
    condition     = [for l in jsondecode(aws_lambda_invocation.ephemeral.input).spec.load_balancers[0].listeners : l.port] == [80, 443]
    error_message = "HTTPS: listeners 80 and 443"
  }
  assert {
    condition     = jsondecode(aws_lambda_invocation.ephemeral.input).spec.load_balancers[0].listeners[0].default_actions[0].type == "redirect"
    error_message = "HTTPS: 80 redirects to 443"
  }
  assert {
    condition     = jsondecode(aws_lambda_invocation.ephemeral.input).spec.load_balancers[0].listeners[1].certificate_arn == aws_acm_certificate_validation.app[0].certificate_arn
    error_message = "HTTPS: 443 uses the validated certificate"
  }
  assert {
    condition     = jsondecode(aws_lambda_invocation.ephemeral.input).spec.load_balancers[0].aliases == [{ zone_id = "Z0123456789ABC", name = "app.example.com" }]
    error_message = "HTTPS: costctl keeps the alias record app.example.com → ALB"
  }
  assert {
    condition     = output.app_url == "https://app.example.com"
    error_message = "HTTPS: app_url is the host name"
  }
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.alb_https) == 1
    error_message = "HTTPS: the ALB accepts 443"
  }
}

run "without_msk" {
  command = apply

  variables {
    enable_msk = false
  }

  assert {
    condition     = length(jsondecode(aws_lambda_invocation.ephemeral.input).spec.kafka_clusters) == 0 && length(aws_vpc_security_group_egress_rule.ecs_to_msk) == 0
    error_message = "enable_msk = false declares no cluster and opens no 9098"
  }
}

run "rejects_a_bad_time_zone" {
  command = plan
  variables {
    schedule = { time_zone = "Madrid" }
  }
  expect_failures = [var.schedule]
}

run "rejects_a_bad_budget_level" {
  command = plan
  variables {
    budget = { limit_usd = 50, rules = [{ alert_type = "ACTUAL", threshold_percent = 100, level = "off" }] }
  }
  expect_failures = [var.budget]
}

run "rejects_an_environment_name_too_long_for_alb_names" {
  command = plan
  variables {
    environment = "integration-testing"
  }
  expect_failures = [var.environment]
}

run "rejects_https_without_domain" {
  command = plan
  variables {
    enable_https = true
  }
  expect_failures = [var.domain_name]
}

run "rejects_a_bad_task_size" {
  command = plan
  variables {
    task_cpu = 300
  }
  expect_failures = [var.task_cpu]
}

run "roles_carry_the_stage_boundary_and_the_environment_execution_role" {
  command = apply

  assert {
    condition     = aws_iam_role.task.permissions_boundary == "arn:aws:iam::123456789012:policy/ot-workload-boundary-dev" && aws_ecs_task_definition.app.execution_role_arn == "arn:aws:iam::123456789012:role/ot-ecs-execution-dev"
    error_message = "the task role carries the DEV boundary; the task definition uses the dev execution role"
  }
}

run "refuses_the_default_workspace" {
  command = plan
  variables {
    allow_default_workspace = false
  }
  expect_failures = [terraform_data.workspace_check]
}

run "refuses_an_environment_the_bootstrap_does_not_know" {
  command = plan
  variables {
    environment        = "qa"
    posture_exceptions = ["no_https", "no_access_logs"]
  }
  expect_failures = [terraform_data.workspace_check]
}

# assign_public_ip is deprecated (network_mode decides); false alone would leave the tasks in the
# public subnets without a way out, so it must come with a private network_mode.
run "refuses_assign_public_ip_false_without_a_private_network_mode" {
  command = plan
  variables {
    assign_public_ip = false
  }
  expect_failures = [var.assign_public_ip]
}

run "prod_refuses_dev_defaults" {
  command = plan
  variables {
    environment = "prod"
  }
  expect_failures = [terraform_data.posture_check]
}

run "staging_refuses_plain_http" {
  command = plan
  variables {
    environment     = "staging"
    alb_access_logs = { bucket = "ot-alb-logs-123456789012" }
  }
  expect_failures = [terraform_data.posture_check]
}

run "prod_with_https_logs_protection_and_an_explicit_waiver" {
  command = apply
  variables {
    environment        = "prod"
    enable_https       = true
    domain_name        = "example.com"
    alb_access_logs    = { bucket = "ot-alb-logs-123456789012", prefix = "prod" }
    db                 = { deletion_protection = true }
    posture_exceptions = ["public_subnets"]
  }

  assert {
    condition = jsondecode(aws_lambda_invocation.ephemeral.input).spec.load_balancers[0].attributes == {
      "routing.http.drop_invalid_header_fields.enabled" = "true", "idle_timeout.timeout_seconds" = "60",
      "access_logs.s3.enabled"                          = "true", "access_logs.s3.bucket" = "ot-alb-logs-123456789012", "access_logs.s3.prefix" = "prod",
    }
    error_message = "alb_access_logs flows into the spec's access_logs.s3.* attributes"
  }
  assert {
    condition     = aws_iam_role.task.permissions_boundary == "arn:aws:iam::123456789012:policy/ot-workload-boundary-prod" && aws_ecs_task_definition.app.execution_role_arn == "arn:aws:iam::123456789012:role/ot-ecs-execution-prod"
    error_message = "prod uses the PROD boundary and the prod execution role"
  }
}

run "final_snapshot_name_of_a_first_incarnation" {
  command = apply
  assert {
    condition     = can(regex("^order-tracking-dev-final-[0-9a-f]{8}$", output.db_final_snapshot_identifier))
    error_message = "the final snapshot name is order-tracking-dev-final-<8 hex digits>"
  }
}

# A fresh state (state_key) is what a destroyed and re-created environment starts from.
run "final_snapshot_name_of_a_second_incarnation" {
  command   = apply
  state_key = "second-incarnation"
  assert {
    condition     = output.db_final_snapshot_identifier != run.final_snapshot_name_of_a_first_incarnation.db_final_snapshot_identifier
    error_message = "a re-created environment must not reuse the final snapshot name the last destroy left behind"
  }
}

run "target_group_is_replaced_under_a_new_name" {
  command = plan
  variables {
    container_port = 9090
  }
  assert {
    condition     = startswith(aws_lb_target_group.app.name, "ot-dev-tg-") && aws_lb_target_group.app.name != "ot-dev-tg-${substr(sha1(jsonencode([8080, "HTTP", "ip", "vpc-0123456789abcdef0"])), 0, 6)}" && length(aws_lb_target_group.app.name) <= 32
    error_message = "a new port gives the target group a new name (create_before_destroy can create it before the old one goes)"
  }
}

# (The secret's ARN is RDS's answer at apply; the offline provider schema types
# master_user_secret as `dynamic`, which the mock cannot fill, so this runs as a plan.)
run "rds_managed_master_password_keeps_it_out_of_state" {
  command = plan
  variables {
    db = { manage_master_user_password = true }
  }
  # The default budget rules hibernate on actual >= 100 %: the check warns.
  expect_failures = [check.managed_password_and_hibernation]
  assert {
    condition     = aws_db_instance.this.manage_master_user_password && length(aws_secretsmanager_secret.db) == 0 && length(data.aws_secretsmanager_random_password.db) == 0
    error_message = "with manage_master_user_password Terraform neither draws nor stores the password"
  }
}

run "guard_refuses_to_plan_while_the_database_is_being_restored" {
  command = plan

  override_data {
    target = data.aws_lambda_invocation.status
    values = { result = "{\"stack\":\"order-tracking-dev\",\"desired_state\":\"running\",\"converged\":false,\"resources\":[{\"resource\":\"rds:order-tracking-dev\",\"state\":\"deleted; will be restored from snapshot order-tracking-dev-costctl-g4\"}]}" }
  }

  expect_failures = [terraform_data.hibernation_guard]
}

run "guard_refuses_to_plan_while_the_restored_database_is_brought_back_to_its_record" {
  command = plan

  override_data {
    target = data.aws_lambda_invocation.status
    values = { result = "{\"stack\":\"order-tracking-dev\",\"desired_state\":\"running\",\"converged\":false,\"resources\":[{\"resource\":\"rds:order-tracking-dev\",\"state\":\"modifying\"}]}" }
  }

  expect_failures = [terraform_data.hibernation_guard]
}

run "guard_lets_a_resumed_stack_plan_once_its_database_is_available" {
  command = plan

  override_data {
    target = data.aws_lambda_invocation.status
    values = { result = "{\"stack\":\"order-tracking-dev\",\"desired_state\":\"running\",\"converged\":false,\"resources\":[{\"resource\":\"rds:order-tracking-dev\",\"state\":\"available\"},{\"resource\":\"ecs:order-tracking-dev/app\",\"state\":\"desired 2, running 1\"}]}" }
  }

  assert {
    condition     = !local.database_resuming && aws_db_instance.this.identifier == "order-tracking-dev"
    error_message = "an available database under the same identifier plans (ECS still scaling is no reason to refuse)"
  }
}
