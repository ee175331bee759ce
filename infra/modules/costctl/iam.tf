# IAM of the two functions.
#
# The engine's policies (`data.aws_iam_policy_document.reduce_only` and `.full`) must grant
# exactly the actions `costctl_core::iam::actions_for(Function::…)` lists: the Rust test
# functions/costctl-core/tests/iam_policy.rs parses this file and compares both ways. Keep every
# `actions` a literal list and attach policies only through `aws_iam_role_policy` resources whose
# `role` and `policy` reference `aws_iam_role.<full|reduce_only>` and
# `data.aws_iam_policy_document.<name>`; the test refuses anything it cannot read.
#
# Scoping: by ARN with the stacks' name prefixes (`order-tracking-<env>*`, `ot-<env>*`) wherever
# the action supports resource-level permissions, plus `aws:ResourceTag/Project` conditions on
# the destructive ones. Every statement on "*" says why.

locals {
  arn_prefix = "arn:${local.partition}"

  stack_prefixes = distinct(flatten([for name, s in var.stacks :
    s.name_prefixes != null ? s.name_prefixes : [name, "ot-${s.tags.Env}"]
  ]))
  stack_projects = distinct([for s in values(var.stacks) : s.tags.Project])
  parameter_paths = distinct([for s in values(var.stacks) :
    s.ssm_parameter_path != null ? s.ssm_parameter_path : "/${s.tags.Project}/${s.tags.Env}"
  ])
  hosted_zone_ids = distinct(flatten([for s in values(var.stacks) : s.hosted_zone_ids]))

  table_arn = "${local.arn_prefix}:dynamodb:${local.region}:${local.account}:table/${local.state_table_name}"

  parameter_arns = [for p in local.parameter_paths : "${local.arn_prefix}:ssm:${local.region}:${local.account}:parameter${p}/*"]
  config_parameter_arns = var.config_source == "ssm" ? [
    "${local.arn_prefix}:ssm:${local.region}:${local.account}:parameter${local.config_parameter_name}"
  ] : []

  ecs_cluster_arns = [for p in local.stack_prefixes : "${local.arn_prefix}:ecs:${local.region}:${local.account}:cluster/${p}*"]
  ecs_service_arns = [for p in local.stack_prefixes : "${local.arn_prefix}:ecs:${local.region}:${local.account}:service/${p}*/*"]

  rds_prefix         = "${local.arn_prefix}:rds:${local.region}:${local.account}"
  rds_db_arns        = [for p in local.stack_prefixes : "${local.rds_prefix}:db:${p}*"]
  rds_snapshot_arns  = [for p in local.stack_prefixes : "${local.rds_prefix}:snapshot:${p}*"]
  rds_restore_extras = ["${local.rds_prefix}:subgrp:*", "${local.rds_prefix}:og:*", "${local.rds_prefix}:pg:*"]

  elb_prefix = "${local.arn_prefix}:elasticloadbalancing:${local.region}:${local.account}"
  elb_arns = flatten([for p in local.stack_prefixes : [
    "${local.elb_prefix}:loadbalancer/app/${p}*/*",
    "${local.elb_prefix}:listener/app/${p}*/*/*",
    "${local.elb_prefix}:listener-rule/app/${p}*/*/*/*",
    "${local.elb_prefix}:targetgroup/${p}*/*",
  ]])
  elb_load_balancer_arns = [for p in local.stack_prefixes : "${local.elb_prefix}:loadbalancer/app/${p}*/*"]

  kafka_cluster_arns = [for p in local.stack_prefixes : "${local.arn_prefix}:kafka:${local.region}:${local.account}:cluster/${p}*/*"]

  role_arns = local.create ? {
    full        = aws_iam_role.full[0].arn
    reduce_only = aws_iam_role.reduce_only[0].arn
  } : {}
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    sid     = "LambdaAssumesRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "full" {
  count = local.create ? 1 : 0

  name                 = "${var.name}-full"
  description          = "costctl full function: schedules, manual requests, Terraform"
  assume_role_policy   = data.aws_iam_policy_document.lambda_assume.json
  permissions_boundary = var.permissions_boundary
  tags                 = var.tags
}

resource "aws_iam_role" "reduce_only" {
  count = local.create ? 1 : 0

  name                 = "${var.name}-reduce-only"
  description          = "costctl reduce-only function: budget alerts, RDS auto-start; no create/start/restore"
  assume_role_policy   = data.aws_iam_policy_document.lambda_assume.json
  permissions_boundary = var.permissions_boundary
  tags                 = var.tags
}

# ---------------------------------------------------------------------------------------------
# Reduce-only: observe everything, reduce cost. `Scope::Both` in iam.rs.
# ---------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "reduce_only" {
  statement {
    sid       = "StateTable"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:Scan"]
    resources = [local.table_arn, "${local.table_arn}/index/*"]
  }

  statement {
    sid       = "ReadConfigAndEndpoints"
    actions   = ["ssm:GetParameter"]
    resources = concat(local.parameter_arns, local.config_parameter_arns)
  }

  # ecs:ListClusters has no resource-level permissions: "*" is the only possible resource.
  statement {
    sid       = "EcsListClusters"
    actions   = ["ecs:ListClusters"]
    resources = ["*"]
  }

  # ecs:ListServices has no resource type; it is narrowed to the stacks' clusters by ecs:cluster.
  statement {
    sid       = "EcsListServices"
    actions   = ["ecs:ListServices"]
    resources = ["*"]
    condition {
      test     = "ArnLike"
      variable = "ecs:cluster"
      values   = local.ecs_cluster_arns
    }
  }

  statement {
    sid       = "EcsServices"
    actions   = ["ecs:DescribeServices", "ecs:UpdateService"]
    resources = local.ecs_service_arns
  }

  # DescribeScalableTargets has no resource-level permissions: "*" only.
  statement {
    sid       = "AutoscalingRead"
    actions   = ["application-autoscaling:DescribeScalableTargets"]
    resources = ["*"]
  }

  # Scalable-target ARNs carry an opaque id, not the service name: scoped by tag instead.
  statement {
    sid       = "AutoscalingHold"
    actions   = ["application-autoscaling:RegisterScalableTarget"]
    resources = ["${local.arn_prefix}:application-autoscaling:${local.region}:${local.account}:scalable-target/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Project"
      values   = local.stack_projects
    }
  }

  # Read-only. Without an identifier the Describe calls are evaluated against every instance and
  # snapshot of the account and region (the engine lists, then filters by tag), hence `db:*`.
  statement {
    sid       = "RdsRead"
    actions   = ["rds:DescribeDBInstances", "rds:DescribeDBSnapshots"]
    resources = ["${local.rds_prefix}:db:*", "${local.rds_prefix}:snapshot:*"]
  }

  statement {
    sid       = "RdsStopOrDelete"
    actions   = ["rds:StopDBInstance", "rds:DeleteDBInstance"]
    resources = local.rds_db_arns
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Project"
      values   = local.stack_projects
    }
  }

  # A final snapshot saves data: the one "Create" a pause needs. Snapshot identifiers start with
  # the DB instance identifier.
  statement {
    sid       = "RdsFinalSnapshot"
    actions   = ["rds:CreateDBSnapshot"]
    resources = concat(local.rds_db_arns, local.rds_snapshot_arns)
  }

  # Elastic Load Balancing Describe* calls support no resource-level permissions: "*" only.
  statement {
    sid = "ElbRead"
    actions = [
      "elasticloadbalancing:DescribeLoadBalancers",
      "elasticloadbalancing:DescribeLoadBalancerAttributes",
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeListenerCertificates",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeTags",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "ElbDelete"
    actions   = ["elasticloadbalancing:DeleteLoadBalancer"]
    resources = local.elb_load_balancer_arns
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Project"
      values   = local.stack_projects
    }
  }

  # kafka:ListClustersV2 supports no resource-level permissions: "*" only.
  statement {
    sid       = "KafkaList"
    actions   = ["kafka:ListClustersV2"]
    resources = ["*"]
  }

  statement {
    sid       = "KafkaReadOrDelete"
    actions   = ["kafka:DescribeClusterV2", "kafka:GetBootstrapBrokers", "kafka:DeleteCluster"]
    resources = local.kafka_cluster_arns
  }

  # Deleting an MSK Serverless cluster deletes the VPC endpoints MSK created for it, with the
  # caller's permissions; only endpoints MSK tagged as its own.
  statement {
    sid       = "KafkaVpcEndpointsDelete"
    actions   = ["ec2:DeleteVpcEndpoints"]
    resources = ["${local.arn_prefix}:ec2:${local.region}:${local.account}:vpc-endpoint/*"]
    condition {
      test     = "StringEquals"
      variable = "ec2:ResourceTag/AWSMSKManaged"
      values   = ["true"]
    }
  }

  # The engine reads the alias records it maintains to know whether they point at the ALB.
  dynamic "statement" {
    for_each = length(local.hosted_zone_ids) > 0 ? [1] : []
    content {
      sid       = "DnsAliasesRead"
      actions   = ["route53:ListResourceRecordSets"]
      resources = [for z in local.hosted_zone_ids : "${local.arn_prefix}:route53:::hostedzone/${z}"]
    }
  }
}

# ---------------------------------------------------------------------------------------------
# Full: everything above, plus what brings a stack back. `Scope::FullOnly` in iam.rs.
# ---------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "full" {
  source_policy_documents = [data.aws_iam_policy_document.reduce_only.json]

  statement {
    sid       = "PublishEndpoints"
    actions   = ["ssm:PutParameter"]
    resources = local.parameter_arns
  }

  statement {
    sid       = "RdsStart"
    actions   = ["rds:StartDBInstance", "rds:AddTagsToResource"]
    resources = concat(local.rds_db_arns, local.rds_snapshot_arns)
  }

  # A restore names the snapshot, the subnet group and the option/parameter groups recorded in
  # the manifest; only the new instance's identifier is name-scoped.
  statement {
    sid       = "RdsRestore"
    actions   = ["rds:RestoreDBInstanceFromDBSnapshot"]
    resources = concat(local.rds_db_arns, local.rds_snapshot_arns, local.rds_restore_extras)
  }

  statement {
    sid = "ElbCreate"
    actions = [
      "elasticloadbalancing:CreateLoadBalancer",
      "elasticloadbalancing:ModifyLoadBalancerAttributes",
      "elasticloadbalancing:CreateListener",
      "elasticloadbalancing:AddListenerCertificates",
      "elasticloadbalancing:CreateRule",
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:ModifyListener",
      "elasticloadbalancing:DeleteListener",
      "elasticloadbalancing:RemoveListenerCertificates",
      "elasticloadbalancing:ModifyRule",
      "elasticloadbalancing:DeleteRule",
      "elasticloadbalancing:RemoveTags",
    ]
    resources = local.elb_arns
  }

  # Checked before a load balancer is created: DescribeTargetGroups supports no resource-level
  # permissions ("*" only); certificates are read by ARN.
  statement {
    sid       = "ElbDependenciesRead"
    actions   = ["elasticloadbalancing:DescribeTargetGroups"]
    resources = ["*"]
  }

  statement {
    sid       = "CertificatesRead"
    actions   = ["acm:DescribeCertificate"]
    resources = ["${local.arn_prefix}:acm:${local.region}:${local.account}:certificate/*"]
  }

  statement {
    sid       = "KafkaCreate"
    actions   = ["kafka:CreateClusterV2"]
    resources = local.kafka_cluster_arns
  }

  # MSK Serverless creates the cluster's VPC endpoints with the caller's permissions.
  # EC2 Describe* calls support no resource-level permissions: "*" only.
  statement {
    sid       = "KafkaVpcEndpointsRead"
    actions   = ["ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs", "ec2:DescribeVpcEndpoints"]
    resources = ["*"]
  }

  statement {
    sid     = "KafkaVpcEndpointsCreateIn"
    actions = ["ec2:CreateVpcEndpoint"]
    resources = [
      "${local.arn_prefix}:ec2:${local.region}:${local.account}:vpc/*",
      "${local.arn_prefix}:ec2:${local.region}:${local.account}:subnet/*",
      "${local.arn_prefix}:ec2:${local.region}:${local.account}:security-group/*",
    ]
  }

  statement {
    sid       = "KafkaVpcEndpointsCreate"
    actions   = ["ec2:CreateVpcEndpoint"]
    resources = ["${local.arn_prefix}:ec2:${local.region}:${local.account}:vpc-endpoint/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/AWSMSKManaged"
      values   = ["true"]
    }
  }

  statement {
    sid       = "KafkaVpcEndpointsTag"
    actions   = ["ec2:CreateTags"]
    resources = ["${local.arn_prefix}:ec2:${local.region}:${local.account}:vpc-endpoint/*"]
    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = ["CreateVpcEndpoint"]
    }
  }

  dynamic "statement" {
    for_each = length(local.hosted_zone_ids) > 0 ? [1] : []
    content {
      sid       = "DnsAliases"
      actions   = ["route53:ChangeResourceRecordSets"]
      resources = [for z in local.hosted_zone_ids : "${local.arn_prefix}:route53:::hostedzone/${z}"]
    }
  }
}

# ---------------------------------------------------------------------------------------------
# Runtime: what Lambda itself needs to run the code (logs, traces, the table's key). Not engine
# calls; the IAM test allows exactly these in addition to the engine's actions.
# ---------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "runtime" {
  for_each = local.create ? local.function_names : {}

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this[each.key].arn}:*"]
  }

  # X-Ray trace segments have no resource-level permissions: "*" only.
  statement {
    sid       = "Traces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = var.state_table_kms_key_arn == null ? [] : [var.state_table_kms_key_arn]
    content {
      sid       = "StateTableKey"
      actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
      resources = [statement.value]
    }
  }
}

resource "aws_iam_role_policy" "reduce_only" {
  count = local.create ? 1 : 0

  name   = "costctl-engine"
  role   = aws_iam_role.reduce_only[0].id
  policy = data.aws_iam_policy_document.reduce_only.json
}

resource "aws_iam_role_policy" "full" {
  count = local.create ? 1 : 0

  name   = "costctl-engine"
  role   = aws_iam_role.full[0].id
  policy = data.aws_iam_policy_document.full.json
}

resource "aws_iam_role_policy" "runtime" {
  for_each = local.create ? local.function_names : {}

  name   = "lambda-runtime"
  role   = each.key == "full" ? aws_iam_role.full[0].id : aws_iam_role.reduce_only[0].id
  policy = data.aws_iam_policy_document.runtime[each.key].json
}
