# IAM of the two functions.
#
# The engine's policies (`data.aws_iam_policy_document.reduce_only` and `.full`) must grant
# exactly the actions `costctl_core::iam::actions_for(Function::…)` lists: the Rust test
# functions/costctl-core/tests/iam_policy.rs parses this file and compares both ways. Keep every
# `actions` a literal list and attach policies only through `aws_iam_role_policy` resources whose
# `role` and `policy` reference `aws_iam_role.<full|reduce_only>` and
# `data.aws_iam_policy_document.<name>`; the test refuses anything it cannot read.
#
# Scoping, per stack: by ARN with the stack's name prefixes *and a delimiter* (`order-tracking-dev`
# exactly or `order-tracking-dev-*` for RDS and ECS, `ot-dev-*` for ALBs, target groups and MSK;
# never `order-tracking-dev*`, which would match `order-tracking-dev2`) wherever the action supports resource-level permissions; destructive
# actions (and RegisterScalableTarget, whose ARNs carry no name, and the CloudWatch alarm changes,
# whose alarm names follow no convention) additionally by BOTH the `Project` and the `Env` tag of
# the guarded stacks; Route53 changes by zone, record name and type, per stack; MSK's VPC
# endpoints by the stacks' VPCs; the ephemeral tier's NAT gateways and interface endpoints by the
# stacks' tags in the request (create) or on the resource (delete), in the stacks' VPCs, their
# routes by route table (nat_route_table_ids). Every statement on "*" says why. (IAM allows
# 10,240 characters of inline policy per role: tests/costctl.tftest.hcl checks the estimate.)

locals {
  arn_prefix = "arn:${local.partition}"

  # Per stack, everything its statements name. Keys S0, S1, … (sorted stack names) become the
  # statements' Sid suffixes.
  stack_names = sort(keys(var.stacks))
  scopes = { for i, name in local.stack_names : "S${i}" => {
    project = var.stacks[name].tags.Project
    env     = var.stacks[name].tags.Env
    # ECS clusters and RDS instances are named after the stack (`order-tracking-dev`); the
    # name-limited ALB, target groups and MSK cluster after `ot-<Env>` (`ot-dev-alb`).
    # name_prefixes / edge_name_prefixes override them (name_prefixes alone: for both).
    db_prefixes   = coalesce(var.stacks[name].name_prefixes, [name])
    edge_prefixes = coalesce(var.stacks[name].edge_name_prefixes, var.stacks[name].name_prefixes, ["ot-${var.stacks[name].tags.Env}"])
    zones         = var.stacks[name].hosted_zone_ids
    records       = [for r in var.stacks[name].dns_record_names : lower(trimsuffix(r, "."))]
    vpcs          = var.stacks[name].vpc_ids
  } }

  db_prefixes   = distinct(flatten([for s in values(local.scopes) : s.db_prefixes]))
  edge_prefixes = distinct(flatten([for s in values(local.scopes) : s.edge_prefixes]))
  parameter_paths = distinct([for s in values(var.stacks) :
    s.ssm_parameter_path != null ? s.ssm_parameter_path : "/${s.tags.Project}/${s.tags.Env}"
  ])
  hosted_zone_ids = distinct(flatten([for s in values(var.stacks) : s.hosted_zone_ids]))
  vpc_ids         = distinct(flatten([for s in values(var.stacks) : s.vpc_ids]))

  table_arn = "${local.arn_prefix}:dynamodb:${local.region}:${local.account}:table/${local.state_table_name}"

  parameter_arns = [for p in local.parameter_paths : "${local.arn_prefix}:ssm:${local.region}:${local.account}:parameter${p}/*"]
  config_parameter_arns = var.config_source == "ssm" ? [
    "${local.arn_prefix}:ssm:${local.region}:${local.account}:parameter${local.config_parameter_name}"
  ] : []

  ecs_prefix  = "${local.arn_prefix}:ecs:${local.region}:${local.account}"
  rds_prefix  = "${local.arn_prefix}:rds:${local.region}:${local.account}"
  elb_prefix  = "${local.arn_prefix}:elasticloadbalancing:${local.region}:${local.account}"
  msk_prefix  = "${local.arn_prefix}:kafka:${local.region}:${local.account}"
  ec2_prefix  = "${local.arn_prefix}:ec2:${local.region}:${local.account}"
  zone_prefix = "${local.arn_prefix}:route53:::hostedzone"

  # Exact name or name + '-': the delimiter keeps `order-tracking-dev` from matching
  # `order-tracking-dev2`.
  ecs_cluster_arns = flatten([for p in local.db_prefixes : ["${local.ecs_prefix}:cluster/${p}", "${local.ecs_prefix}:cluster/${p}-*"]])
  ecs_service_arns = flatten([for p in local.db_prefixes : ["${local.ecs_prefix}:service/${p}/*", "${local.ecs_prefix}:service/${p}-*/*"]])
  rds_db_arns      = flatten([for p in local.db_prefixes : ["${local.rds_prefix}:db:${p}", "${local.rds_prefix}:db:${p}-*"]])
  # Snapshot identifiers start with the DB identifier and a '-' (`<id>-costctl-gN`, `<id>-final-…`).
  rds_snapshot_arns  = [for p in local.db_prefixes : "${local.rds_prefix}:snapshot:${p}-*"]
  rds_restore_extras = ["${local.rds_prefix}:subgrp:*", "${local.rds_prefix}:og:*", "${local.rds_prefix}:pg:*"]
  # ALBs, target groups and MSK clusters are named `<prefix>-<what>` (`ot-dev-alb`, `ot-dev-msk`).
  elb_load_balancer_arns = [for p in local.edge_prefixes : "${local.elb_prefix}:loadbalancer/app/${p}-*/*"]
  # An ALB and what hangs off it, `loadbalancer/app/<alb>/<id>`, `listener/app/<alb>/<id>/<id>`
  # and `listener-rule/app/<alb>/<id>/<id>/<id>`, in one pattern per prefix (IAM's inline size
  # limit): no other Elastic Load Balancing ARN holds `/app/` (network and gateway load balancers
  # and their listeners are `…/net/…`, `…/gwy/…`; classic load balancers `loadbalancer/<name>`;
  # target groups and trust stores `targetgroup/<name>/<id>`, `truststore/<name>/<id>`; names
  # hold no `/`). tests/iam_evaluation.tftest.hcl denies other projects' ALBs and `ot-dev-…`
  # network and gateway load balancers.
  elb_arns = flatten([for p in local.edge_prefixes : [
    "${local.elb_prefix}:*/app/${p}-*",
    "${local.elb_prefix}:targetgroup/${p}-*/*",
  ]])
  kafka_cluster_arns = [for p in local.edge_prefixes : "${local.msk_prefix}:cluster/${p}-*/*"]
  # CloudWatch alarms: any name (an alarm on the stack's ALB is named by whoever made it); the
  # changes are scoped by the alarm's tags (statement StackTagged).
  alarm_arns = ["${local.arn_prefix}:cloudwatch:${local.region}:${local.account}:alarm:*"]

  # WAF web ACLs a load balancer may be associated with (any regional web ACL of the account:
  # the association is recorded from the live load balancer, whoever made the ACL), and the
  # Secrets Manager secrets an OIDC action's `client_secret_arn` may name (`<stack>-…`).
  web_acl_arns     = ["${local.arn_prefix}:wafv2:${local.region}:${local.account}:regional/webacl/*/*"]
  oidc_secret_arns = [for p in local.db_prefixes : "${local.arn_prefix}:secretsmanager:${local.region}:${local.account}:secret:${p}-*"]

  # Tag conditions: a resource must carry one of the guarded stacks' Project AND one of their Env
  # values, on top of one of their names.
  stack_projects = distinct([for s in values(local.scopes) : s.project])
  stack_envs     = distinct([for s in values(local.scopes) : s.env])

  # MSK's VPC endpoints: only in the stacks' VPCs (any VPC of the account when no stack sets
  # vpc_ids: set them).
  vpc_arns = length(local.vpc_ids) > 0 ? [for v in local.vpc_ids : "${local.ec2_prefix}:vpc/${v}"] : ["${local.ec2_prefix}:vpc/*"]

  # Stacks with Route53 zones (their alias records).
  dns_scopes = { for k, s in local.scopes : k => s if length(s.zones) > 0 }

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
# Observe: what both functions read (`Scope::Both` in iam.rs). The reduce-only function holds
# this and one write, PutItem into its own partition of the state table, `REDUCE#<stack>`, which
# the full function's tick reads and applies as lowering requests only
# (functions/costctl-aws/src/store.rs, LoweringRequest). Every other write is the full
# function's: nothing the reduce-only role allows changes a resource or raises cost, whatever
# code runs with it.
# ---------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "observe" {
  statement {
    sid       = "StateTable"
    actions   = ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan"]
    resources = [local.table_arn, "${local.table_arn}/index/*"]
  }

  statement {
    sid       = "SsmRead"
    actions   = ["ssm:GetParameter"]
    resources = concat(local.parameter_arns, local.config_parameter_arns)
  }

  # Transition events (docs/events.md): only to the one bus, and only as source "costctl"
  # (events:source), so the roles cannot publish events that look like AWS's own.
  statement {
    sid       = "PublishEvents"
    actions   = ["events:PutEvents"]
    resources = [local.event_bus_arn]
    condition {
      test     = "StringEquals"
      variable = "events:source"
      values   = ["costctl"]
    }
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
    sid       = "EcsDescribe"
    actions   = ["ecs:DescribeServices"]
    resources = local.ecs_service_arns
  }

  # Read-only. Without an identifier the Describe calls are evaluated against every instance and
  # snapshot of the account and region (the engine lists, then filters by tag), hence `db:*`.
  # The KMS key of an encrypted database is checked before a hibernation (read-only).
  statement {
    sid       = "RdsKeyRead"
    actions   = ["kms:DescribeKey"]
    resources = ["${local.arn_prefix}:kms:${local.region}:${local.account}:key/*"]
  }

  statement {
    sid       = "RdsRead"
    actions   = ["rds:DescribeDBInstances", "rds:DescribeDBSnapshots"]
    resources = ["${local.rds_prefix}:db:*", "${local.rds_prefix}:snapshot:*"]
  }

  # Read-only calls that support no resource-level permissions ("*" is the only possible
  # resource): ecs:ListClusters, DescribeScalableTargets, the Elastic Load Balancing Describe*
  # calls, kafka:ListClustersV2, and the EC2 Describe* calls that find the ephemeral tier's NAT
  # gateways (with the routes that point at them) and interface endpoints by the stack's tags
  # (the Service Authorization Reference, "Actions, resources, and condition keys for Amazon
  # EC2", https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html,
  # lists no resource type for DescribeNatGateways, DescribeRouteTables, DescribeVpcEndpoints
  # and DescribeAddresses). One statement: IAM's inline size limit.
  statement {
    sid = "ReadAny"
    actions = [
      "ecs:ListClusters",
      "application-autoscaling:DescribeScalableTargets",
      "kafka:ListClustersV2",
      "elasticloadbalancing:DescribeLoadBalancers",
      "elasticloadbalancing:DescribeLoadBalancerAttributes",
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeListenerAttributes",
      "elasticloadbalancing:DescribeListenerCertificates",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeTags",
      "ec2:DescribeNatGateways",
      "ec2:DescribeRouteTables",
      "ec2:DescribeVpcEndpoints",
    ]
    resources = ["*"]
  }

  # The web ACL association is part of a load balancer's capture.
  statement {
    sid       = "WafRead"
    actions   = ["wafv2:GetWebACLForResource"]
    resources = concat(local.elb_load_balancer_arns, local.web_acl_arns)
  }

  statement {
    sid       = "KafkaRead"
    actions   = ["kafka:DescribeClusterV2", "kafka:GetBootstrapBrokers"]
    resources = local.kafka_cluster_arns
  }

  # A load balancer with a Shield Advanced protection is kept (the protection names its ARN;
  # costctl does not re-create it). DescribeProtection is asked with the load balancer's ARN; the
  # Service Authorization Reference ("Actions, resources, and condition keys for AWS Shield")
  # lists `protection` as its resource type, whose ARNs are global (no region). Without a
  # subscription Shield answers ResourceNotFoundException, which is "no protection".
  statement {
    sid       = "ShieldRead"
    actions   = ["shield:DescribeProtection"]
    resources = ["${local.arn_prefix}:shield::${local.account}:protection/*"]
  }

  # The metric alarms whose LoadBalancer dimension names the stack's ALB (`app/<alb>/<id>`) are
  # found by listing the alarms and filtering by dimension. The Service Authorization Reference
  # ("Actions, resources, and condition keys for Amazon CloudWatch",
  # https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html)
  # lists `alarm` as DescribeAlarms' resource type (older versions listed none, i.e. "*"): the
  # account's alarms in the region, not "*". No tag condition: a listing names no alarm whose
  # tags could be checked. Read-only, so both functions. ListTagsForResource: an alarm's tags say
  # whether it is the stack's (only those are muted and re-pointed; DescribeAlarms omits tags). (Policies that list alarms this way are
  # known to work: e.g. the review of mattclay/aws-terminator#63 moved DescribeAlarms onto
  # `alarm:*` for the listing to succeed; checkov's CKV_AWS_356 counts it as restrictable.)
  statement {
    sid       = "AlarmsRead"
    actions   = ["cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource"]
    resources = local.alarm_arns
  }

  # The engine reads the alias records it maintains to know whether they point at the ALB.
  dynamic "statement" {
    for_each = length(local.hosted_zone_ids) > 0 ? [1] : []
    content {
      sid       = "DnsAliasesRead"
      actions   = ["route53:ListResourceRecordSets"]
      resources = [for z in local.hosted_zone_ids : "${local.zone_prefix}/${z}"]
    }
  }
}

# The reduce-only role: observe, plus its one write.
data "aws_iam_policy_document" "reduce_only" {
  source_policy_documents = [data.aws_iam_policy_document.observe.json]

  statement {
    sid       = "OwnPartition"
    actions   = ["dynamodb:PutItem"]
    resources = [local.table_arn]
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:LeadingKeys"
      values   = [for name in local.stack_names : "REDUCE#${name}"]
    }
  }
}

# The full function's replacements of observe statements (`override_policy_documents`: a
# statement here replaces the one with the same Sid). Supersets on the same resources instead of
# extra statements keep the role's inline policies under IAM's 10,240-character limit.
data "aws_iam_policy_document" "full_overrides" {
  # Replaces the observe statement of the same Sid: every state-table call of the engine.
  statement {
    sid       = "StateTable"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:Scan"]
    resources = [local.table_arn, "${local.table_arn}/index/*"]
  }

  # Replaces the observe statement of the same Sid with a superset: besides those reads, what is
  # checked before a load balancer, cluster or NAT gateway is created — target
  # groups, the subnets, security groups, VPCs and endpoints MSK Serverless reads with the
  # caller's permissions, and the Elastic IP a NAT gateway takes (apply-spec). All read-only and
  # without resource-level permissions ("*" only).
  statement {
    sid = "ReadAny"
    actions = [
      "ecs:ListClusters",
      "application-autoscaling:DescribeScalableTargets",
      "kafka:ListClustersV2",
      "elasticloadbalancing:DescribeLoadBalancers",
      "elasticloadbalancing:DescribeLoadBalancerAttributes",
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeListenerAttributes",
      "elasticloadbalancing:DescribeListenerCertificates",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeTags",
      "elasticloadbalancing:DescribeTargetGroups",
      "ec2:DescribeSubnets",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeVpcs",
      "ec2:DescribeVpcEndpoints",
      "ec2:DescribeNatGateways",
      "ec2:DescribeRouteTables",
      "ec2:DescribeAddresses",
    ]
    resources = ["*"]
  }

  # Replaces the observe statement of the same Sid: reading and creating the clusters.
  statement {
    sid       = "KafkaRead"
    actions   = ["kafka:DescribeClusterV2", "kafka:GetBootstrapBrokers", "kafka:CreateClusterV2"]
    resources = local.kafka_cluster_arns
  }
}

# ---------------------------------------------------------------------------------------------
# Full: everything above, plus what brings a stack back. `Scope::FullOnly` in iam.rs.
# ---------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "full" {
  source_policy_documents   = [data.aws_iam_policy_document.observe.json]
  override_policy_documents = [data.aws_iam_policy_document.full_overrides.json]

  # Pausing (hold services at 0, stop or hibernate databases, delete the ephemeral tier) and the
  # stack's CloudWatch alarms: only on resources that carry BOTH the Project and the Env tag of a
  # guarded stack, and where the ARN carries a name, the stack's names too. One statement for all
  # of them (IAM's inline size limit; the tag condition is the same for each): every action here
  # only ever matches ARNs of its own service, and each service has one resource list here, so
  # the statement grants exactly what one statement per service would.
  # - ecs:UpdateService: holding a service at 0 and restoring its count, the stack's services;
  # - RegisterScalableTarget: scalable-target ARNs carry an opaque id, not the service name, so
  #   the tags alone;
  # - rds:StopDBInstance / DeleteDBInstance: the stack's instances;
  # - DeleteLoadBalancer: the stack's ALBs (load balancer ARNs only, not listeners or rules);
  # - kafka:DeleteCluster: the stack's MSK clusters;
  # - the metric alarms on the stack's ALB (found by AlarmsRead): their actions are disabled on
  #   pause; on resume, after the ALB is recreated with a new id, PutMetricAlarm re-points each
  #   one (its own definition, the LoadBalancer dimension rewritten to the new `app/<alb>/<id>`)
  #   and its actions are enabled again. Alarm names follow no convention (`alarm:*`): the
  #   alarm's own tags scope them. The Service Authorization Reference (see AlarmsRead) lists
  #   the `alarm` resource type with aws:ResourceTag/${TagKey} for PutMetricAlarm,
  #   EnableAlarmActions and DisableAlarmActions. For PutMetricAlarm the condition is on the
  #   tags the existing alarm carries (aws:ResourceTag), not on the request (aws:RequestTag):
  #   PutMetricAlarm on an existing alarm ignores its Tags parameter ("PutMetricAlarm", Amazon
  #   CloudWatch API Reference,
  #   https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html;
  #   https://github.com/aws/aws-sdk/issues/27), so request tags could not say whose alarm it
  #   is. A new alarm has no tags yet and is denied (costctl re-points alarms, it creates none),
  #   and so is a composite alarm ("Composite alarms do not support tag-based authorization
  #   control", "Alarms and tagging", CloudWatch User Guide; costctl changes metric alarms only).
  #   The engine sends PutMetricAlarm without Tags: tagging would need cloudwatch:TagResource
  #   (a dependent action of PutMetricAlarm in the reference), which is not granted.
  # - the ephemeral tier's NAT gateways and interface VPC endpoints (private network modes):
  #   ec2:DeleteNatGateway / DeleteVpcEndpoints on pause, of the stack's own only (the Service
  #   Authorization Reference for Amazon EC2, see ReadAny, lists `natgateway` and `vpc-endpoint`
  #   with aws:ResourceTag/${TagKey} as their only resource types; DeleteNatGateway has no
  #   dependent action: the Elastic IP stays allocated). Always granted, so that costctl can
  #   still delete them after ephemeral_network is turned off. With ephemeral_network, also
  #   ec2:CreateNatGateway's `elastic-ip`: a recreated NAT gateway may take only an Elastic IP
  #   carrying the stack's tags (Terraform's, infra/env network_private.tf). The reference lists
  #   no ec2:AssociateAddress for CreateNatGateway with an AllocationId (its only dependent action
  #   is ec2:CreateTags, statement TagOnCreate). ec2 ARNs carry no name: the tags alone.
  statement {
    sid = "StackTagged"
    actions = [
      "ecs:UpdateService",
      "application-autoscaling:RegisterScalableTarget",
      "rds:StopDBInstance",
      "rds:DeleteDBInstance",
      "elasticloadbalancing:DeleteLoadBalancer",
      "kafka:DeleteCluster",
      "cloudwatch:DisableAlarmActions",
      "cloudwatch:PutMetricAlarm",
      "cloudwatch:EnableAlarmActions",
      "ec2:DeleteNatGateway",
      "ec2:DeleteVpcEndpoints",
      "ec2:CreateNatGateway",
    ]
    resources = concat(
      local.ecs_service_arns,
      ["${local.arn_prefix}:application-autoscaling:${local.region}:${local.account}:scalable-target/*"],
      local.rds_db_arns,
      local.elb_load_balancer_arns,
      local.kafka_cluster_arns,
      local.alarm_arns,
      ["${local.ec2_prefix}:natgateway/*", "${local.ec2_prefix}:vpc-endpoint/*"],
      var.ephemeral_network ? ["${local.ec2_prefix}:elastic-ip/*"] : [],
    )
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Project"
      values   = local.stack_projects
    }
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Env"
      values   = local.stack_envs
    }
  }

  # Deleting an MSK Serverless cluster deletes the VPC endpoints MSK created for it, with the
  # caller's permissions; only endpoints MSK tagged as its own, in the stacks' VPCs.
  statement {
    sid       = "MskEndpointDelete"
    actions   = ["ec2:DeleteVpcEndpoints"]
    resources = ["${local.ec2_prefix}:vpc-endpoint/*"]
    condition {
      test     = "StringEquals"
      variable = "ec2:ResourceTag/AWSMSKManaged"
      values   = ["true"]
    }
    # MSK tags its endpoints with the cluster's ARN (its service-linked role's policy conditions
    # on ec2:ResourceTag/ClusterArn, KafkaServiceRolePolicy): only the stack's own clusters'
    # endpoints, also in a VPC other environments share.
    condition {
      test     = "StringLike"
      variable = "ec2:ResourceTag/ClusterArn"
      values   = local.kafka_cluster_arns
    }
    condition {
      test     = "ArnEquals"
      variable = "ec2:Vpc"
      values   = local.vpc_arns
    }
  }

  # A final snapshot saves data (snapshot identifiers start with the DB instance identifier and a
  # '-'); the rest brings a database back. A restore names the snapshot, the subnet group and the option/parameter
  # groups recorded in the manifest; only the new instance's identifier is name-scoped. (Start,
  # tag and snapshot act on the instance and snapshot ARNs only; the group ARNs are no resource
  # of theirs.) ModifyDBInstance sets, after a restore, what the restore cannot (storage
  # autoscaling, maintenance window, monitoring, Performance Insights).
  statement {
    sid       = "RdsRestore"
    actions   = ["rds:CreateDBSnapshot", "rds:StartDBInstance", "rds:AddTagsToResource", "rds:RestoreDBInstanceFromDBSnapshot", "rds:ModifyDBInstance"]
    resources = concat(local.rds_db_arns, local.rds_snapshot_arns, local.rds_restore_extras)
  }

  statement {
    sid       = "SsmPublish"
    actions   = ["ssm:PutParameter"]
    resources = local.parameter_arns
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
      "elasticloadbalancing:ModifyListenerAttributes",
      "elasticloadbalancing:DeleteListener",
      "elasticloadbalancing:RemoveListenerCertificates",
      "elasticloadbalancing:ModifyRule",
      "elasticloadbalancing:DeleteRule",
      "elasticloadbalancing:RemoveTags",
      # The recorded web ACL is associated again with the recreated load balancer; AWS checks
      # elasticloadbalancing:SetWebAcl on the load balancer as well, wafv2 on both.
      "wafv2:AssociateWebACL",
      "wafv2:DisassociateWebACL",
      "elasticloadbalancing:SetWebAcl",
    ]
    resources = concat(local.elb_arns, local.web_acl_arns)
  }

  # Certificates a spec names are checked, by ARN, before a load balancer is created.
  statement {
    sid       = "CertificatesRead"
    actions   = ["acm:DescribeCertificate"]
    resources = ["${local.arn_prefix}:acm:${local.region}:${local.account}:certificate/*"]
  }

  # An OIDC action's client secret, which AWS never returns from the listener.
  statement {
    sid       = "OidcSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.oidc_secret_arns
  }

  # Setting the recorded enhanced-monitoring role passes it to RDS's monitoring service only.
  statement {
    sid       = "RdsMonRole"
    actions   = ["iam:PassRole"]
    resources = ["${local.arn_prefix}:iam::${local.account}:role/*"]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["monitoring.rds.amazonaws.com"]
    }
  }

  # VPC endpoints (MSK Serverless creates the cluster's with the caller's permissions; costctl
  # the ephemeral tier's interface endpoints) and the ephemeral tier's NAT gateways, in the
  # stacks' VPCs only (their Describe* calls are in ReadAny above). The endpoint's VPC by ARN
  # (`vpc`, a required resource of CreateVpcEndpoint; an optional one of CreateNatGateway in the
  # Service Authorization Reference for Amazon EC2, see ReadAny); the subnets and security groups
  # by the ec2:Vpc they belong to (a NAT gateway's subnet: ec2:Vpc is a condition key of
  # CreateNatGateway's `subnet` there).
  statement {
    sid       = "InStackVpc"
    actions   = ["ec2:CreateVpcEndpoint", "ec2:CreateNatGateway"]
    resources = local.vpc_arns
  }

  statement {
    sid       = "InStackVpcSubnets"
    actions   = ["ec2:CreateVpcEndpoint", "ec2:CreateNatGateway"]
    resources = ["${local.ec2_prefix}:subnet/*", "${local.ec2_prefix}:security-group/*"]
    condition {
      test     = "ArnEquals"
      variable = "ec2:Vpc"
      values   = local.vpc_arns
    }
  }

  statement {
    sid       = "MskEndpointCreate"
    actions   = ["ec2:CreateVpcEndpoint"]
    resources = ["${local.ec2_prefix}:vpc-endpoint/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/AWSMSKManaged"
      values   = ["true"]
    }
  }

  # The ephemeral tier's NAT gateways and interface endpoints (var.ephemeral_network only): created
  # only with BOTH the Project and the Env tag of a guarded stack in the request (the reference
  # lists aws:RequestTag/${TagKey} for `natgateway` and `vpc-endpoint`, the required resource
  # types of CreateNatGateway and CreateVpcEndpoint), which is what StackTagged later deletes by.
  # Without this statement no NAT gateway and no endpoint but MSK's (MskEndpointCreate) can be
  # created, whatever the other grants of the same calls allow: the VPC and subnets (InStackVpc,
  # InStackVpcSubnets), the stack's Elastic IPs (StackTagged) and their tags (TagOnCreate).
  dynamic "statement" {
    for_each = var.ephemeral_network ? [1] : []
    content {
      sid       = "EgressCreate"
      actions   = ["ec2:CreateNatGateway", "ec2:CreateVpcEndpoint"]
      resources = ["${local.ec2_prefix}:natgateway/*", "${local.ec2_prefix}:vpc-endpoint/*"]
      condition {
        test     = "StringEquals"
        variable = "aws:RequestTag/Project"
        values   = local.stack_projects
      }
      condition {
        test     = "StringEquals"
        variable = "aws:RequestTag/Env"
        values   = local.stack_envs
      }
    }
  }

  # Tags set at creation (TagSpecifications) are authorized as ec2:CreateTags too (ec2:CreateTags
  # is the dependent action the reference lists for CreateVpcEndpoint and CreateNatGateway);
  # ec2:CreateAction limits it to those creations, so no existing resource can be (re)tagged.
  statement {
    sid       = "TagOnCreate"
    actions   = ["ec2:CreateTags"]
    resources = concat(["${local.ec2_prefix}:vpc-endpoint/*"], var.ephemeral_network ? ["${local.ec2_prefix}:natgateway/*"] : [])
    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = concat(["CreateVpcEndpoint"], var.ephemeral_network ? ["CreateNatGateway"] : [])
    }
  }

  # The routes to the ephemeral tier's NAT gateways (nat_gateways[].routes): created, or replaced
  # when a recreated gateway has a new ID, only in the route tables the module is told about
  # (var.nat_route_table_ids, listed by ID) of the stacks' VPCs. The reference lists
  # `route-table` (ec2:RouteTableID, ec2:Vpc) as the only resource type of CreateRoute and
  # ReplaceRoute: the NAT gateway a route names is not authorized separately.
  dynamic "statement" {
    for_each = length(var.nat_route_table_ids) > 0 ? [1] : []
    content {
      sid       = "NatRoutes"
      actions   = ["ec2:CreateRoute", "ec2:ReplaceRoute"]
      resources = [for rt in distinct(var.nat_route_table_ids) : "${local.ec2_prefix}:route-table/${rt}"]
      condition {
        test     = "ArnEquals"
        variable = "ec2:Vpc"
        values   = local.vpc_arns
      }
    }
  }

  # Alias records: the stack's zones, the stack's record names (normalised: lower case, no
  # trailing dot), types A and AAAA only.
  dynamic "statement" {
    for_each = local.dns_scopes
    content {
      sid       = "DnsAliases${statement.key}"
      actions   = ["route53:ChangeResourceRecordSets"]
      resources = [for z in statement.value.zones : "${local.zone_prefix}/${z}"]
      condition {
        test     = "ForAllValues:StringEquals"
        variable = "route53:ChangeResourceRecordSetsNormalizedRecordNames"
        values   = statement.value.records
      }
      condition {
        test     = "ForAllValues:StringEquals"
        variable = "route53:ChangeResourceRecordSetsRecordTypes"
        values   = ["A", "AAAA"]
      }
    }
  }
}

# ---------------------------------------------------------------------------------------------
# Runtime: what Lambda itself needs to run the code (logs, failed-event queue, traces, the table's
# key). Not engine
# calls; the IAM test allows exactly these in addition to the engine's actions.
# ---------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "runtime" {
  for_each = local.create ? local.function_names : {}

  statement {
    sid       = "Logs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this[each.key].arn}:*"]
  }

  # Lambda sends events that failed every attempt to the failed-event queue with the function's
  # own role (main.tf, on-failure destination).
  statement {
    sid       = "FailedEvents"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.failed_events[0].arn]
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

# Estimated size of each role's inline policies as IAM counts them (compact JSON: Sid, Effect,
# Action, Resource, Condition, plus two envelopes); tests/costctl.tftest.hcl keeps them under
# IAM's 10,240-character limit per role.
locals {
  role_policy_sizes = local.create ? { for role, statements in {
    # An override replaces the reduce-only statement of the same Sid.
    full = concat(values(merge(
      { for st in data.aws_iam_policy_document.observe.statement : st.sid => st },
      { for st in data.aws_iam_policy_document.full.statement : st.sid => st },
      { for st in data.aws_iam_policy_document.full_overrides.statement : st.sid => st },
    )), data.aws_iam_policy_document.runtime["full"].statement)
    reduce_only = concat(data.aws_iam_policy_document.observe.statement, data.aws_iam_policy_document.reduce_only.statement, data.aws_iam_policy_document.runtime["reduce_only"].statement)
    } : role => 80 + length(jsonencode([for st in statements : {
      Sid       = st.sid, Effect = "Allow", Action = st.actions, Resource = st.resources,
      Condition = { for c in st.condition : c.test => { (c.variable) = c.values }... }
  }])) } : {}
}
