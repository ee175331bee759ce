# Base IAM: the workload permissions boundary, one ECS execution role per environment, the
# build-only ECR push role and the ECS task execution policy. The deployers are in deployers.tf.
#
# Escalation rule: every role a deployer may create or change carries the boundary
# (`iam:PermissionsBoundary` condition on each write action, plus an explicit Deny for any
# request without it). The boundary grants no IAM at all, so a role a deployer makes can never
# make roles itself, and nothing a deployer can touch can touch the deployers.

locals {
  iam_prefix = "arn:${local.partition}:iam::${local.account}"

  # Environment → deployer stage (dev, prod).
  stage_envs = { for stage in ["dev", "prod"] : stage => sort([for e, s in var.environments : e if s == stage]) }

  # Role names the environments create (env root and the costctl module): `<project>-<env>-*`,
  # `costctl-<project>-<env>-*`. The delimiter keeps `order-tracking-dev` from matching
  # `order-tracking-dev2`.
  env_role_arns = { for e in keys(var.environments) : e => [
    "${local.iam_prefix}:role/${var.project}-${e}-*",
    "${local.iam_prefix}:role/costctl-${var.project}-${e}-*",
  ] }

  # Roles nothing but an administrator may change: the deployers, the build role, the execution
  # roles; and the boundary policy and the deployer policies themselves.
  protected_role_arns = [
    "${local.iam_prefix}:role/${var.short_name}-deployer-*",
    "${local.iam_prefix}:role/${var.short_name}-ecr-push",
    "${local.iam_prefix}:role/${var.short_name}-ecs-execution-*",
  ]
  protected_policy_arns = [
    "${local.iam_prefix}:policy/${var.short_name}-workload-boundary-*",
    "${local.iam_prefix}:policy/${var.short_name}-deployer-*",
  ]
}

# ---------------------------------------------------------------------------------------------
# Permissions boundaries, one per deployer stage, carried by every workload role of that stage
# (ECS task and execution roles, costctl function and scheduler roles): the services the stack
# uses, on resources named for the stage's environments only (`order-tracking-dev`,
# `order-tracking-dev-*`, `ot-dev-*`, `/order-tracking/dev/*`; never `order-tracking-dev2`), and
# never IAM, role assumption or the Terraform state. So a role the DEV deployer writes a policy
# for can reach DEV resources at most, whatever the policy says.
# ---------------------------------------------------------------------------------------------

locals {
  # Resource-name patterns of one environment, matched against the resource part of an ARN.
  # `order-tracking-dev`: RDS instance and subnet group (`db:…`, `subgrp:…`), ECS cluster and its
  # services (`cluster/…`, `service/…/…`), snapshots (`snapshot:…-…`); `ot-dev-*`: ALB, listeners,
  # target groups, MSK cluster, topics, groups (`…/ot-dev-…`); `costctl-order-tracking-dev`: state
  # table and its indexes, config parameter, functions, failed-event queue.
  env_name_patterns = { for e in keys(var.environments) : e => concat(
    [for p in ["*:%s", "*/%s", "*:%s-*", "*/%s/*"] : format(p, "${var.project}-${e}")],
    ["*/${var.short_name}-${e}-*"],
    [for p in ["%s-*", "*/%s", "*/%s/*", "*:%s-*"] : format(p, "costctl-${var.project}-${e}")],
  ) }
  stage_resource_arns = { for stage, envs in local.stage_envs : stage => concat(
    flatten([for e in envs : [for p in local.env_name_patterns[e] : "arn:${local.partition}:*:${var.region}:${local.account}:${p}"]]),
    flatten([for e in envs : [
      "arn:${local.partition}:ssm:${var.region}:${local.account}:parameter/${var.project}/${e}/*",
      "arn:${local.partition}:secretsmanager:${var.region}:${local.account}:secret:${var.short_name}/rds/${e}/*",
      "arn:${local.partition}:logs:${var.region}:${local.account}:log-group:/ecs/${var.project}-${e}:*",
      "arn:${local.partition}:logs:${var.region}:${local.account}:log-group:/aws/lambda/costctl-${var.project}-${e}-*",
    ]]),
    # A restore names the default parameter and option groups.
    ["arn:${local.partition}:rds:${var.region}:${local.account}:pg:default*", "arn:${local.partition}:rds:${var.region}:${local.account}:og:default*"],
  ) }
  boundary_arns = { for stage in keys(local.stage_envs) : stage => "${local.iam_prefix}:policy/${var.short_name}-workload-boundary-${stage}" }
}

data "aws_iam_policy_document" "boundary" {
  for_each = local.stage_envs

  statement {
    sid = "WorkloadServicesOnOwnResources"
    # wafv2: the web ACL of a stack's ALB, read with its capture and associated again on resume
    # (any web ACL of the account, the stage's load balancers only).
    actions = [
      "dynamodb:*", "ecs:*", "elasticloadbalancing:*", "kafka-cluster:*", "kafka:*", "lambda:InvokeFunction",
      "logs:CreateLogStream", "logs:PutLogEvents", "rds:*", "secretsmanager:GetSecretValue", "sqs:SendMessage",
      "ssm:GetParameter", "ssm:GetParameters", "ssm:PutParameter", "wafv2:AssociateWebACL", "wafv2:DisassociateWebACL",
      "wafv2:GetWebACLForResource",
    ]
    resources = concat(local.stage_resource_arns[each.key], ["arn:${local.partition}:wafv2:${var.region}:${local.account}:regional/webacl/*"])
  }

  # Resources whose ARNs carry no name: scalable targets, KMS keys, MSK's VPC endpoints; scoped by
  # the Env tag (scalable targets, keys) or by MSK's own tag (endpoints).
  statement {
    sid       = "TaggedResourcesOfOwnEnvironments"
    actions   = ["application-autoscaling:RegisterScalableTarget", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = ["arn:${local.partition}:application-autoscaling:${var.region}:${local.account}:scalable-target/*", "arn:${local.partition}:kms:${var.region}:${local.account}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Env"
      values   = each.value
    }
  }

  # With db.manage_master_user_password RDS names the secret itself (`rds!db-…`) and tags it with
  # the instance ARN.
  statement {
    sid       = "RdsManagedSecretsOfOwnInstances"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["arn:${local.partition}:secretsmanager:${var.region}:${local.account}:secret:rds!db-*"]
    condition {
      test     = "StringLike"
      variable = "aws:ResourceTag/aws:rds:primaryDBInstanceArn"
      values   = [for e in each.value : "arn:${local.partition}:rds:${var.region}:${local.account}:db:${var.project}-${e}"]
    }
  }

  # MSK's VPC endpoints, and (statements PrivateNetwork* below) the NAT gateways and interface
  # endpoints costctl owns for the private-network environment: in the VPC only.
  statement {
    sid       = "MskVpcEndpointsInTheVpc"
    actions   = ["ec2:CreateNatGateway", "ec2:CreateVpcEndpoint"]
    resources = ["arn:${local.partition}:ec2:${var.region}:${local.account}:vpc/${local.vpc_id}"]
  }

  statement {
    sid       = "MskVpcEndpoints"
    actions   = ["ec2:CreateNatGateway", "ec2:CreateTags", "ec2:CreateVpcEndpoint", "ec2:DeleteVpcEndpoints"]
    resources = ["arn:${local.partition}:ec2:${var.region}:${local.account}:security-group/*", "arn:${local.partition}:ec2:${var.region}:${local.account}:subnet/*", "arn:${local.partition}:ec2:${var.region}:${local.account}:vpc-endpoint/*"]
    condition {
      test     = "ArnEquals"
      variable = "ec2:Vpc"
      values   = ["arn:${local.partition}:ec2:${var.region}:${local.account}:vpc/${local.vpc_id}"]
    }
  }

  # The private network modes (env network_mode private-nat / private-endpoints) of the one
  # environment named in private_network_environment, if it is this stage's: its costctl owns the
  # NAT gateways (with the 0.0.0.0/0 routes of the private route tables) and the interface
  # endpoints, which it deletes on pause and recreates on resume (infra/modules/costctl iam.tf
  # scopes them further, by Project and Env). Created only with that environment's Env tag;
  # deleted, and an Elastic IP given to a NAT gateway, only when they carry it.
  dynamic "statement" {
    for_each = local.private_network_stage == each.key ? [1] : []
    content {
      sid       = "PrivateNetworkCreate"
      actions   = ["ec2:CreateNatGateway", "ec2:CreateTags", "ec2:CreateVpcEndpoint"]
      resources = ["arn:${local.partition}:ec2:${var.region}:${local.account}:natgateway/*", "arn:${local.partition}:ec2:${var.region}:${local.account}:vpc-endpoint/*"]
      condition {
        test     = "StringEquals"
        variable = "aws:RequestTag/Env"
        values   = [var.private_network_environment]
      }
    }
  }

  # Any EC2 resource of the account and region carrying the environment's Env tag (one pattern:
  # the boundary's size limit): DeleteNatGateway and DeleteVpcEndpoints act on NAT gateways and
  # endpoints only; CreateNatGateway names its Elastic IP (and subnet and VPC, which
  # MskVpcEndpoints* above admit by VPC anyway).
  dynamic "statement" {
    for_each = local.private_network_stage == each.key ? [1] : []
    content {
      sid       = "PrivateNetworkTagged"
      actions   = ["ec2:CreateNatGateway", "ec2:DeleteNatGateway", "ec2:DeleteVpcEndpoints"]
      resources = ["arn:${local.partition}:ec2:${var.region}:${local.account}:*"]
      condition {
        test     = "StringEquals"
        variable = "aws:ResourceTag/Env"
        values   = [var.private_network_environment]
      }
    }
  }

  dynamic "statement" {
    for_each = local.private_network_stage == each.key && length(local.private_route_table_ids) > 0 ? [1] : []
    content {
      sid       = "PrivateNetworkRoutes"
      actions   = ["ec2:CreateRoute", "ec2:ReplaceRoute"]
      resources = [for rt in distinct(local.private_route_table_ids) : "arn:${local.partition}:ec2:${var.region}:${local.account}:route-table/${rt}"]
    }
  }

  statement {
    sid       = "ImagePull"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [aws_ecr_repository.app.arn]
  }

  # Alias records of the stacks (record names are chosen per environment; the module limits them).
  statement {
    sid       = "DnsAliases"
    actions   = ["route53:ChangeResourceRecordSets", "route53:ListResourceRecordSets"]
    resources = ["arn:${local.partition}:route53:::hostedzone/*"]
  }

  # Calls that support no resource-level permissions (AWS: "*" only): list, describe, traces, the
  # ECR login token. Read-only apart from X-Ray segments.
  statement {
    sid = "UnscopableReadCalls"
    actions = [
      "application-autoscaling:DescribeScalableTargets", "ec2:DescribeAddresses", "ec2:DescribeNatGateways", "ec2:DescribeRouteTables",
      "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcEndpoints", "ec2:DescribeVpcs", "ecr:GetAuthorizationToken", "ecs:ListClusters", "ecs:ListServices",
      "elasticloadbalancing:Describe*", "kafka:ListClustersV2", "xray:PutTelemetryRecords", "xray:PutTraceSegments",
    ]
    resources = ["*"]
  }

  # Listing reads: every instance and snapshot of the account (the engine lists, then filters by
  # tag), certificates by ARN.
  statement {
    sid       = "AccountWideReads"
    actions   = ["acm:DescribeCertificate", "rds:DescribeDBInstances", "rds:DescribeDBSnapshots"]
    resources = ["arn:${local.partition}:acm:${var.region}:${local.account}:certificate/*", "arn:${local.partition}:rds:${var.region}:${local.account}:db:*", "arn:${local.partition}:rds:${var.region}:${local.account}:snapshot:*"]
  }

  # Belt and braces: a workload never changes IAM, assumes other roles, or touches the state.
  statement {
    sid       = "NeverIam"
    effect    = "Deny"
    actions   = ["iam:*", "sts:AssumeRole", "sts:AssumeRoleWithWebIdentity", "organizations:*", "account:*"]
    resources = ["*"]
  }

  statement {
    sid       = "NeverTheState"
    effect    = "Deny"
    actions   = ["s3:*", "dynamodb:*"]
    resources = [aws_s3_bucket.tf_state.arn, "${aws_s3_bucket.tf_state.arn}/*", aws_dynamodb_table.tf_lock.arn]
  }
}

resource "aws_iam_policy" "boundary" {
  for_each = local.stage_envs

  name        = "${var.short_name}-workload-boundary-${each.key}"
  description = "Permissions boundary of every ${upper(each.key)} workload role: own environments' resources, no IAM"
  policy      = data.aws_iam_policy_document.boundary[each.key].json
}

# ---------------------------------------------------------------------------------------------
# ECS task execution roles, one per environment (like terraform-aws-modules/ecs
# task_exec_secret_arns): image pulls, logs, and only that environment's secrets and parameters.
# The environments cannot change them (no IAM on ot-ecs-execution-*).
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    sid     = "EcsTasksAssumeRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "ecs_execution" {
  for_each = var.environments

  name                 = "${var.short_name}-ecs-execution-${each.key}"
  description          = "ECS task execution of ${var.project}-${each.key}: image pulls, logs, its own secrets"
  assume_role_policy   = data.aws_iam_policy_document.ecs_tasks_assume.json
  permissions_boundary = aws_iam_policy.boundary[each.value].arn
  tags                 = { Env = each.key }
}

data "aws_iam_policy_document" "ecs_execution" {
  for_each = var.environments

  # GetAuthorizationToken supports only Resource "*"; the pulls are limited to the repository.
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "EcrPull"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
    resources = [aws_ecr_repository.app.arn]
  }

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${local.partition}:logs:${var.region}:${local.account}:log-group:/ecs/${var.project}-${each.key}:*"]
  }

  # The secret the env root creates (`<short_name>/rds/<env>/postgres`) and, with
  # db.manage_master_user_password, the one RDS creates for the instance `<project>-<env>`.
  statement {
    sid       = "OwnSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["arn:${local.partition}:secretsmanager:${var.region}:${local.account}:secret:${var.short_name}/rds/${each.key}/*"]
  }

  statement {
    sid       = "OwnRdsManagedSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["arn:${local.partition}:secretsmanager:${var.region}:${local.account}:secret:rds!db-*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/aws:rds:primaryDBInstanceArn"
      values   = ["arn:${local.partition}:rds:${var.region}:${local.account}:db:${var.project}-${each.key}"]
    }
  }

  statement {
    sid       = "OwnParameters"
    actions   = ["ssm:GetParameters"]
    resources = ["arn:${local.partition}:ssm:${var.region}:${local.account}:parameter/${var.project}/${each.key}/*"]
  }
}

resource "aws_iam_role_policy" "ecs_execution" {
  for_each = var.environments

  name   = "task-execution"
  role   = aws_iam_role.ecs_execution[each.key].id
  policy = data.aws_iam_policy_document.ecs_execution[each.key].json
}

# ---------------------------------------------------------------------------------------------
# Build-only role: pushes images to the one repository, nothing else (no deploy, no IAM). Created
# here by an administrator and protected from the deployers (deployers.tf), so it needs no
# boundary (the boundary deliberately grants no ECR push).
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "ecr_push_assume" {
  count = var.github_repository == null ? 0 : 1

  statement {
    sid     = "GitHubActionsBuild"
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringLike"
      variable = "token.actions.githubusercontent.com:sub"
      values   = local.build_subjects
    }
  }
}

resource "aws_iam_role" "ecr_push" {
  count = var.github_repository == null ? 0 : 1

  name                 = "${var.short_name}-ecr-push"
  description          = "GitHub Actions image build: push to the ${var.project} ECR repository only"
  assume_role_policy   = data.aws_iam_policy_document.ecr_push_assume[0].json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "ecr_push" {
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "EcrPush"
    actions = [
      "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload", "ecr:DescribeImages",
      "ecr:GetDownloadUrlForLayer", "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart",
    ]
    resources = [aws_ecr_repository.app.arn]
  }
}

resource "aws_iam_role_policy" "ecr_push" {
  count = var.github_repository == null ? 0 : 1

  name   = "ecr-push"
  role   = aws_iam_role.ecr_push[0].id
  policy = data.aws_iam_policy_document.ecr_push.json
}
