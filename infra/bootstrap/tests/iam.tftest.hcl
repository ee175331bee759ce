# The bootstrap IAM, rendered with a mocked AWS provider (no credentials, no network):
# no statement lets either deployer change itself, the other deployer, the build or execution
# roles or the boundaries; every role a deployer may create or change carries its stage's
# boundary; the boundaries keep each stage on its own environments' resources.
# Run: terraform init -backend=false && terraform test

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws" }
  }
  mock_data "aws_availability_zones" {
    defaults = { names = ["eu-west-1a", "eu-west-1b", "eu-west-1c"] }
  }
  mock_resource "aws_s3_bucket" {
    defaults = { arn = "arn:aws:s3:::ot-tf-state-123456789012" }
  }
  mock_resource "aws_vpc" {
    defaults = { id = "vpc-0123456789abcdef0" }
  }
  mock_resource "aws_iam_openid_connect_provider" {
    defaults = { arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" }
  }
}

variables {
  github_repository = "egobb/order-tracking"
}


run "no_deployer_statement_reaches_a_protected_role_or_policy" {
  command = apply

  # Every Allow statement with an IAM action, from every deployer policy of both stages: none of
  # its resources (as IAM glob patterns) matches a deployer role, the build role, an execution
  # role (except PassRole of the stage's own), a boundary or a deployer policy.
  assert {
    condition = alltrue(flatten([for stage in ["dev", "prod"] : [
      for s in concat(data.aws_iam_policy_document.deployer_iam[stage].statement, data.aws_iam_policy_document.deployer_services[stage].statement, data.aws_iam_policy_document.deployer_state[stage].statement, flatten([for e, d in data.aws_iam_policy_document.deployer_environment : d.statement])) : [
        for r in s.resources : [
          for target in [
            "arn:aws:iam::123456789012:role/ot-deployer-dev", "arn:aws:iam::123456789012:role/ot-deployer-prod",
            "arn:aws:iam::123456789012:role/ot-ecr-push", "arn:aws:iam::123456789012:policy/ot-workload-boundary-dev",
            "arn:aws:iam::123456789012:policy/ot-workload-boundary-prod", "arn:aws:iam::123456789012:policy/ot-deployer-dev-iam",
            "arn:aws:iam::123456789012:policy/ot-deployer-prod-iam", "arn:aws:iam::123456789012:policy/ot-deployer-guardrails",
          ] : !can(regex("^${replace(replace(r, ".", "\\."), "*", ".*")}$", target))
        ] if anytrue([for a in s.actions : startswith(lower(a), "iam:") && !contains(["iam:getpolicy", "iam:getpolicyversion"], lower(a))])
      ] if s.effect != "Deny"
    ]]))
    error_message = "an Allow statement of a deployer policy grants IAM on a deployer role, the build role, a boundary or a deployer policy"
  }
  assert {
    condition     = length(flatten([for stage in ["dev", "prod"] : [for s in data.aws_iam_policy_document.deployer_iam[stage].statement : s.sid if s.effect != "Deny"]])) >= 8
    error_message = "the check above must have looked at the deployers' IAM statements (not vacuous)"
  }

  # The prod roles are out of the DEV deployer's reach altogether (and the other way round).
  assert {
    condition = alltrue(flatten([for pair in [["dev", "prod"], ["prod", "dev"]] : [
      for s in data.aws_iam_policy_document.deployer_iam[pair[0]].statement : [
        for r in s.resources : !can(regex("^${replace(replace(r, ".", "\\."), "*", ".*")}$", pair[1] == "prod" ? "arn:aws:iam::123456789012:role/order-tracking-prod-task" : "arn:aws:iam::123456789012:role/costctl-order-tracking-dev-full"))
      ]
    ]]))
    error_message = "a deployer may manage roles of the other stage's environments"
  }

  assert {
    condition = alltrue(flatten([for stage in ["dev", "prod"] : [
      for s in data.aws_iam_policy_document.deployer_iam[stage].statement : [for r in s.resources : r != "*" && !endswith(r, ":role/*")]
    ]]))
    error_message = "deployer IAM statements must name their roles"
  }
}

run "every_role_a_deployer_writes_carries_the_boundary" {
  command = apply

  assert {
    condition = alltrue(flatten([for stage in ["dev", "prod"] : [
      for s in concat(data.aws_iam_policy_document.deployer_iam[stage].statement, data.aws_iam_policy_document.deployer_services[stage].statement) :
      anytrue([for c in s.condition : c.test == "StringEquals" && c.variable == "iam:PermissionsBoundary" && toset(c.values) == toset(["arn:aws:iam::123456789012:policy/ot-workload-boundary-${stage}"])])
      if length(setintersection(toset([for a in s.actions : lower(a)]), toset(["iam:createrole", "iam:putrolepolicy", "iam:attachrolepolicy", "iam:detachrolepolicy", "iam:deleterolepolicy", "iam:putrolepermissionsboundary"]))) > 0
    ]]))
    error_message = "every Allow of CreateRole/PutRolePolicy/AttachRolePolicy/PutRolePermissionsBoundary must require the stage's boundary (iam:PermissionsBoundary)"
  }

  assert {
    condition = alltrue(flatten([for stage in ["dev", "prod"] : [
      for s in concat(data.aws_iam_policy_document.deployer_iam[stage].statement, data.aws_iam_policy_document.deployer_services[stage].statement, data.aws_iam_policy_document.deployer_state[stage].statement) : [
        for a in s.actions : !contains(["iam:*", "iam:deleterolepermissionsboundary", "iam:createpolicy", "iam:createpolicyversion", "iam:setdefaultpolicyversion", "iam:attachrolepolicy", "iam:createuser", "iam:createaccesskey", "sts:assumerole", "*"], lower(a))
      ]
    ]]))
    error_message = "no deployer may remove a boundary, write policies, attach managed policies, create users or keys, or assume roles"
  }

  # Explicit denies, so no extra managed policy can lift them.
  assert {
    condition = anytrue([for s in data.aws_iam_policy_document.deployer_guardrails.statement :
      s.effect == "Deny" && contains(s.actions, "iam:CreateRole") && contains(s.actions, "iam:PutRolePolicy") && toset(s.resources) == toset(["*"]) &&
    anytrue([for c in s.condition : c.test == "StringNotLike" && c.variable == "iam:PermissionsBoundary"])])
    error_message = "the guardrails must deny CreateRole/PutRolePolicy without a workload boundary"
  }
  assert {
    condition = anytrue([for s in data.aws_iam_policy_document.deployer_guardrails.statement :
      s.effect == "Deny" && contains(s.actions, "iam:Put*") && contains(s.actions, "iam:Update*") && contains(s.actions, "iam:Create*") &&
      contains(s.resources, "arn:aws:iam::123456789012:role/ot-deployer-*") && contains(s.resources, "arn:aws:iam::123456789012:policy/ot-workload-boundary-*") &&
    length(s.condition) == 0])
    error_message = "the guardrails must deny every IAM write on the deployer roles and the boundaries, unconditionally"
  }
  assert {
    condition     = anytrue([for s in data.aws_iam_policy_document.deployer_guardrails.statement : s.effect == "Deny" && contains(s.actions, "iam:DeleteRolePermissionsBoundary")])
    error_message = "the guardrails must deny removing a boundary"
  }
  assert {
    condition     = toset([for k, a in aws_iam_role_policy_attachment.deployer : k if a.role == aws_iam_role.deployer["dev"].name && startswith(k, "dev|env-")]) == toset(["dev|env-dev", "dev|env-staging"]) && contains(keys(aws_iam_role_policy_attachment.deployer), "prod|env-prod") && !contains(keys(aws_iam_role_policy_attachment.deployer), "dev|env-prod")
    error_message = "each deployer gets the resource policies of its own environments only"
  }
  assert {
    condition     = alltrue([for stage in ["dev", "prod"] : contains(keys(aws_iam_role_policy_attachment.deployer), "${stage}|guardrails")])
    error_message = "both deployers carry the guardrails"
  }
  assert {
    condition     = !anytrue([for a in values(aws_iam_role_policy_attachment.deployer) : strcontains(a.policy_arn, "PowerUserAccess")])
    error_message = "the deployers no longer get PowerUserAccess"
  }
}

run "boundaries_keep_each_stage_on_its_own_environments" {
  command = apply

  # IAM globbing of the boundary's resources against sample ARNs.
  assert {
    condition = alltrue([for arn in [
      "arn:aws:rds:eu-west-1:123456789012:db:order-tracking-dev",
      "arn:aws:ecs:eu-west-1:123456789012:service/order-tracking-staging/order-tracking",
      "arn:aws:dynamodb:eu-west-1:123456789012:table/costctl-order-tracking-dev",
      "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/ot-dev-alb/0123456789abcdef",
      "arn:aws:kafka:eu-west-1:123456789012:cluster/ot-dev-msk/0000-1111",
      "arn:aws:sqs:eu-west-1:123456789012:costctl-order-tracking-dev-async-failures",
      "arn:aws:ssm:eu-west-1:123456789012:parameter/order-tracking/dev/kafka_bootstrap",
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ot/rds/dev/postgres-AbCdEf",
      "arn:aws:lambda:eu-west-1:123456789012:function:costctl-order-tracking-dev-full",
      "arn:aws:rds:eu-west-1:123456789012:snapshot:order-tracking-dev-costctl-g3",
      "arn:aws:ssm:eu-west-1:123456789012:parameter/costctl/costctl-order-tracking-dev/config",
      ] : anytrue([for r in one([for s in data.aws_iam_policy_document.boundary["dev"].statement : s.resources if s.sid == "WorkloadServicesOnOwnResources"]) :
    can(regex("^${replace(replace(r, ".", "\\."), "*", ".*")}$", arn))])])
    error_message = "the DEV boundary must cover the dev and staging resources"
  }
  assert {
    condition = alltrue([for arn in [
      "arn:aws:rds:eu-west-1:123456789012:db:order-tracking-prod",
      "arn:aws:rds:eu-west-1:123456789012:db:order-tracking-dev2",
      "arn:aws:ecs:eu-west-1:123456789012:service/order-tracking-prod/order-tracking",
      "arn:aws:dynamodb:eu-west-1:123456789012:table/costctl-order-tracking-prod",
      "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/ot-prod-alb/0123456789abcdef",
      "arn:aws:kafka:eu-west-1:123456789012:cluster/ot-dev2-msk/0000-1111",
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ot/rds/prod/postgres-AbCdEf",
      "arn:aws:ssm:eu-west-1:123456789012:parameter/order-tracking/prod/kafka_bootstrap",
      "arn:aws:lambda:eu-west-1:123456789012:function:costctl-order-tracking-prod-full",
      "arn:aws:rds:eu-west-1:123456789012:snapshot:order-tracking-dev2-costctl-g3",
      ] : !anytrue([for r in one([for s in data.aws_iam_policy_document.boundary["dev"].statement : s.resources if s.sid == "WorkloadServicesOnOwnResources"]) :
    can(regex("^${replace(replace(r, ".", "\\."), "*", ".*")}$", arn))])])
    error_message = "the DEV boundary must not reach prod (or dev2) resources"
  }
  assert {
    condition     = alltrue([for stage in ["dev", "prod"] : anytrue([for s in data.aws_iam_policy_document.boundary[stage].statement : s.effect == "Deny" && contains(s.actions, "iam:*") && toset(s.resources) == toset(["*"])])])
    error_message = "the boundaries deny all of IAM"
  }
  assert {
    condition     = aws_iam_role.ecs_execution["dev"].permissions_boundary == aws_iam_policy.boundary["dev"].arn && aws_iam_role.ecs_execution["prod"].permissions_boundary == aws_iam_policy.boundary["prod"].arn
    error_message = "each execution role carries its stage's boundary"
  }
}

run "execution_roles_read_only_their_own_secrets" {
  command = apply

  assert {
    condition     = toset(keys(aws_iam_role.ecs_execution)) == toset(["dev", "staging", "prod"]) && aws_iam_role.ecs_execution["prod"].name == "ot-ecs-execution-prod"
    error_message = "one execution role per environment"
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.ecs_execution["dev"].statement : s.resources if s.sid == "OwnSecrets"]) == toset(["arn:aws:secretsmanager:eu-west-1:123456789012:secret:ot/rds/dev/*"])
    error_message = "the dev execution role reads only ot/rds/dev/* secrets"
  }
  assert {
    condition     = one([for s in data.aws_iam_policy_document.ecs_execution["dev"].statement : s.resources if s.sid == "OwnParameters"]) == toset(["arn:aws:ssm:eu-west-1:123456789012:parameter/order-tracking/dev/*"])
    error_message = "the dev execution role reads only /order-tracking/dev/* parameters"
  }
}

run "prod_is_gated_on_the_protected_github_environment" {
  command = apply

  assert {
    condition = anytrue([for s in data.aws_iam_policy_document.deployer_assume["prod"].statement : anytrue([for c in s.condition :
    c.test == "StringEquals" && c.variable == "token.actions.githubusercontent.com:sub" && toset(c.values) == toset(["repo:egobb/order-tracking:environment:prod"])])])
    error_message = "PROD trusts only jobs of the protected GitHub environment prod (exact sub)"
  }
  assert {
    condition = alltrue(flatten([for s in data.aws_iam_policy_document.deployer_assume["dev"].statement : [for c in s.condition :
    [for v in c.values : !strcontains(v, "environment:prod") && !strcontains(v, "refs/tags/")] if c.variable == "token.actions.githubusercontent.com:sub"]]))
    error_message = "DEV must not trust the prod environment or release tags"
  }
  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.ecr_push.statement : alltrue([for a in s.actions : startswith(a, "ecr:")])])
    error_message = "the build role may only use ECR"
  }
}

run "rejects_prod_environment_in_dev_environments" {
  command = plan
  variables {
    dev_environments = ["dev", "prod"]
  }
  expect_failures = [var.dev_environments]
}

run "rejects_an_unknown_stage" {
  command = plan
  variables {
    environments = { dev = "dev", qa = "test" }
  }
  expect_failures = [var.environments]
}

run "deployers_reach_only_their_own_state" {
  command = apply

  assert {
    condition = toset(one([for s in data.aws_iam_policy_document.deployer_state["dev"].statement : s.resources if s.sid == "OwnStateObjects"])) == toset([
      "arn:aws:s3:::ot-tf-state-123456789012/env/dev/terraform.tfstate", "arn:aws:s3:::ot-tf-state-123456789012/env/dev/terraform.tfstate.tflock",
      "arn:aws:s3:::ot-tf-state-123456789012/env/staging/terraform.tfstate", "arn:aws:s3:::ot-tf-state-123456789012/env/staging/terraform.tfstate.tflock",
    ])
    error_message = "the DEV deployer may write the dev and staging state only"
  }
  assert {
    condition = anytrue([for s in data.aws_iam_policy_document.deployer_state["prod"].statement : anytrue([for c in s.condition :
      c.test == "ForAllValues:StringEquals" && c.variable == "dynamodb:LeadingKeys" &&
    toset(c.values) == toset(["ot-tf-state-123456789012/env/prod/terraform.tfstate", "ot-tf-state-123456789012/env/prod/terraform.tfstate-md5"])])])
    error_message = "the PROD deployer may lock only the prod state (dynamodb:LeadingKeys)"
  }
  assert {
    condition     = alltrue(flatten([for stage in ["dev", "prod"] : [for s in data.aws_iam_policy_document.deployer_state[stage].statement : [for r in s.resources : r != "arn:aws:s3:::ot-tf-state-123456789012/*"]]]))
    error_message = "no deployer may read the whole state bucket"
  }
}

# IAM limits a managed policy to 6,144 characters (whitespace excluded). The estimate renders each
# statement as the provider would (Sid, Effect, Action, Resource, Condition), compactly, plus the
# document's envelope.
run "managed_policies_stay_under_the_size_limit" {
  command = apply

  variables {
    # Sizes grow with the environments of a stage: three DEV environments.
    environments = { dev = "dev", staging = "dev", qa = "dev", prod = "prod" }
  }

  assert {
    condition     = alltrue([for name, size in local.policy_sizes : size < 6144])
    error_message = "a managed policy may exceed IAM's 6,144-character limit: ${jsonencode(local.policy_sizes)}"
  }
}
