# Policy evaluation (issue 12, "Done when"): the functions of stack `order-tracking-dev` are
# denied on the resources of `order-tracking-dev2` and `order-tracking-prod` (names and tags),
# for every destructive, cost-raising or confidential action their roles hold; the same evaluator
# finds an Allow on the stack's own resources for each of those actions (positive control), so
# the test cannot pass vacuously.
#
# The mock provider renders no `.json`, so the evaluator reads the statement blocks of the
# `aws_iam_policy_document` data sources and mirrors how they are combined: the reduce-only role
# holds `observe` + `reduce_only` + `runtime["reduce_only"]`; the full role holds `observe`, `full` and
# `full_overrides` merged by Sid (an override replaces the statement of the same Sid, as
# `override_policy_documents` does; the same merge as `role_policy_sizes` in iam.tf) +
# `runtime["full"]`.
#
# The evaluator (one request = one action on one resource, with that resource's tags and the
# request's context keys):
# - an Allow statement matches when it lists the action (no wildcards in `actions`: asserted),
#   one of its resources matches the ARN as an IAM glob (`*` any run of characters, `?` one
#   character; `*` may cross `/` and `:`, which is more permissive than IAM and so conservative
#   for the deny checks), and every condition block holds (blocks AND, values OR);
# - operators: StringEquals, StringLike, ArnEquals and ArnLike (both globs, as in IAM), Bool,
#   ForAllValues:StringEquals|StringLike (true when the key is absent, as in IAM: conservative),
#   ForAnyValue:StringEquals. An operator not in that list is treated as NOT satisfied; the test
#   asserts no statement uses one, so nothing is silently skipped;
# - keys: `aws:ResourceTag/<k>` and `<service>:ResourceTag/<k>` come from the resource's tags, the
#   others from the request context of the case (ecs:cluster, ec2:Vpc, ec2:CreateAction,
#   aws:RequestTag/<k>, iam:PassedToService, route53:ChangeResourceRecordSets*). A key the case
#   does not supply is absent, i.e. not satisfied (except ForAllValues). The test asserts every
#   key the policies use is one of those (`context_keys`), so a new key cannot go unnoticed;
# - Deny statements, permissions boundaries and SCPs are ignored (they can only deny more);
#   NotAction / NotResource are not modelled (asserted absent).
#
# What is evaluated: every action either role holds except the explicit lists below —
# read-only Describe/List/Get calls (several have no resource-level permissions, "*" is their only
# resource), X-Ray (no resource-level permissions, own telemetry) — against every resource of the
# other stacks (`other_targets`). The reads that could disclose another stack's data
# (ssm:GetParameter, secretsmanager:GetSecretValue) are evaluated like writes.
#
# Tags set at creation: ec2:CreateTags with ec2:CreateAction = CreateVpcEndpoint or
# CreateNatGateway carries no tag condition of its own (EC2 authorizes it only inside a create
# that was itself authorized, with the stack's tags in the request); other-stack cases leave
# ec2:CreateAction out, the own-stack cases supply it.
#
# What it cannot evaluate (not a resource of any one stack, so no "other stack" case exists):
# RDS subnet/option/parameter groups (`subgrp:*`, `og:*`, `pg:*`: a restore names them; the
# instance and snapshot of the same request are name-scoped), WAF web ACLs (any regional ACL may
# be associated with the stack's own load balancer), IAM roles passed to
# monitoring.rds.amazonaws.com (any role), the VPC endpoint a CreateVpcEndpoint creates (its VPC,
# subnets and security groups are scoped), the functions' own log groups and failed-event queue
# (runtime; their mocked ARNs are unknown strings, so they get no positive control), and
# whatever Lambda or MSK do with their own service-linked permissions.
#
# MSK's VPC endpoints of other stacks in a shared VPC are told apart by their ClusterArn tag;
# CloudWatch alarms (any name: `alarm:*`) by their Project and Env tags alone.
#
# ELB: one pattern per prefix covers the stack's ALBs, listeners and rules (`…:*/app/ot-dev-*`);
# `foreign_elb_targets` checks it reaches neither another project's ALB nor this stack's own-named
# network or gateway load balancers (`/net/`, `/gwy/`), whatever their tags.
#
# The reduce-only role reads alarms (positive control) and changes none: the evaluation tries
# only the actions a role holds, so `reduce_only_denied` asserts that no statement of that role
# grants them (IAM's implicit deny).
#
# Naming limit (documented, not tested here): a stack whose name extends this one's with `-`
# (`order-tracking-dev-eu`, `ot-dev-eu-alb`) matches the delimited prefixes; only the
# tag-conditioned actions keep it out (the full role's ELB, RDS start/restore/modify/tag/snapshot,
# kafka:CreateClusterV2 and GetSecretValue grants are name-scoped only).
#
# Counts when written (one stack, before the ephemeral network's grants): full role 40 evaluated actions x 50 other-stack cases = 2,000
# denials, 52 (action, own resource) positive controls over 37 actions, 11 own-name/other-tag
# denials; reduce-only role 14 x 50 = 700 denials, 12 positive controls over 11 actions, 11
# own-name/other-tag denials.

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

  # The principal: costctl as infra/env deploys it for one environment (costctl.tf).
  name             = "costctl-order-tracking-dev"
  state_table_name = "costctl-order-tracking-dev"
  stacks = {
    "order-tracking-dev" = {
      tags               = { Project = "order-tracking", Env = "dev" }
      name_prefixes      = ["order-tracking-dev"]
      edge_name_prefixes = ["ot-dev"]
      ssm_parameter_path = "/order-tracking/dev"
      hosted_zone_ids    = ["Z0123456789ABC"]
      dns_record_names   = ["order-tracking-dev.example.com"]
      vpc_ids            = ["vpc-0de0000000000000a"]
    }
  }
  # private-nat as infra/env passes it: NAT gateways and endpoints, two private route tables.
  ephemeral_network   = true
  nat_route_table_ids = ["rtb-0de0000000000000a", "rtb-0de0000000000000b"]

  # --- Test data (not module inputs) ---------------------------------------------------------
  p = {
    ecs = "arn:aws:ecs:eu-west-1:123456789012"
    aas = "arn:aws:application-autoscaling:eu-west-1:123456789012:scalable-target"
    rds = "arn:aws:rds:eu-west-1:123456789012"
    elb = "arn:aws:elasticloadbalancing:eu-west-1:123456789012"
    msk = "arn:aws:kafka:eu-west-1:123456789012:cluster"
    ssm = "arn:aws:ssm:eu-west-1:123456789012:parameter"
    ec2 = "arn:aws:ec2:eu-west-1:123456789012"
    r53 = "arn:aws:route53:::hostedzone"
    sm  = "arn:aws:secretsmanager:eu-west-1:123456789012:secret"
    ddb = "arn:aws:dynamodb:eu-west-1:123456789012:table"
    waf = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl"
    iam = "arn:aws:iam::123456789012:role"
    cw  = "arn:aws:cloudwatch:eu-west-1:123456789012:alarm"
  }
  own_tags = { Project = "order-tracking", Env = "dev" }
  own_vpc  = "arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-0de0000000000000a"
  # The request context of a create that carries the stack's tags (TagSpecifications).
  own_request_tags = { "aws:RequestTag/Project" = ["order-tracking"], "aws:RequestTag/Env" = ["dev"] }

  # Excluded from evaluation, by name (asserted: Describe/List/Get/Query/Scan verbs only, or X-Ray).
  read_only_actions = [
    "dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan",
    "ecs:ListClusters", "ecs:ListServices", "ecs:DescribeServices",
    "application-autoscaling:DescribeScalableTargets",
    "rds:DescribeDBInstances", "rds:DescribeDBSnapshots",
    "elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeLoadBalancerAttributes",
    "elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeListenerAttributes", "elasticloadbalancing:DescribeListenerCertificates",
    "elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeTags", "elasticloadbalancing:DescribeTargetGroups",
    "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs", "ec2:DescribeVpcEndpoints",
    "ec2:DescribeNatGateways", "ec2:DescribeRouteTables", "ec2:DescribeAddresses",
    "wafv2:GetWebACLForResource",
    "kafka:ListClustersV2", "kafka:DescribeClusterV2", "kafka:GetBootstrapBrokers",
    "route53:ListResourceRecordSets",
    "acm:DescribeCertificate",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:ListTagsForResource",
    "shield:DescribeProtection",
  ]
  star_only_actions = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
  # Evaluated against the other stacks, but without a positive control: their resources are the
  # function's own log group and failed-event queue (mocked ARNs) or the table's KMS key.
  runtime_actions = ["logs:CreateLogStream", "logs:PutLogEvents", "sqs:SendMessage", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]

  supported_operators = ["StringEquals", "StringLike", "ArnEquals", "ArnLike", "Bool", "ForAllValues:StringEquals", "ForAllValues:StringLike", "ForAnyValue:StringEquals"]
  context_keys = [
    "ecs:cluster", "ec2:Vpc", "ec2:CreateAction", "aws:RequestTag/AWSMSKManaged", "iam:PassedToService",
    "aws:RequestTag/Project", "aws:RequestTag/Env",
    "route53:ChangeResourceRecordSetsNormalizedRecordNames", "route53:ChangeResourceRecordSetsRecordTypes",
    "dynamodb:LeadingKeys", "events:source",
  ]

  # Positive control: the stack's own resources; each case lists the actions it must be allowed.
  own_targets = [
    { arn = "${var.p.ecs}:service/order-tracking-dev/order-tracking-api", tags = var.own_tags, context = { "ecs:cluster" = ["${var.p.ecs}:cluster/order-tracking-dev"] }, actions = ["ecs:UpdateService"] },
    { arn = "${var.p.aas}/0ec1a2b3c4d5e6f708192a3b4c5d6e7f", tags = var.own_tags, context = {}, actions = ["application-autoscaling:RegisterScalableTarget"] },
    { arn = "${var.p.rds}:db:order-tracking-dev", tags = var.own_tags, context = {}, actions = [
      "rds:StopDBInstance", "rds:DeleteDBInstance", "rds:CreateDBSnapshot", "rds:StartDBInstance",
      "rds:AddTagsToResource", "rds:RestoreDBInstanceFromDBSnapshot", "rds:ModifyDBInstance",
    ] },
    { arn = "${var.p.rds}:snapshot:order-tracking-dev-costctl-g1", tags = var.own_tags, context = {}, actions = ["rds:CreateDBSnapshot", "rds:AddTagsToResource", "rds:RestoreDBInstanceFromDBSnapshot"] },
    { arn = "${var.p.elb}:loadbalancer/app/ot-dev-alb/50dc6c495c0c9188", tags = var.own_tags, context = {}, actions = [
      "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:ModifyLoadBalancerAttributes",
      "elasticloadbalancing:CreateListener", "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags", "elasticloadbalancing:SetWebAcl",
      "wafv2:AssociateWebACL", "wafv2:DisassociateWebACL",
    ] },
    { arn = "${var.p.elb}:listener/app/ot-dev-alb/50dc6c495c0c9188/f2f7dc8efc522ab2", tags = var.own_tags, context = {}, actions = [
      "elasticloadbalancing:CreateListener", "elasticloadbalancing:ModifyListener", "elasticloadbalancing:ModifyListenerAttributes", "elasticloadbalancing:DeleteListener", "elasticloadbalancing:CreateRule",
      "elasticloadbalancing:AddListenerCertificates", "elasticloadbalancing:RemoveListenerCertificates", "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags",
    ] },
    { arn = "${var.p.elb}:listener-rule/app/ot-dev-alb/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee", tags = var.own_tags, context = {}, actions = [
      "elasticloadbalancing:ModifyRule", "elasticloadbalancing:DeleteRule", "elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags",
    ] },
    { arn = "${var.p.elb}:targetgroup/ot-dev-api/943f017f100becff", tags = var.own_tags, context = {}, actions = ["elasticloadbalancing:AddTags", "elasticloadbalancing:RemoveTags"] },
    { arn = "${var.p.waf}/ot-dev-waf/a1b2c3d4-5678-90ab-cdef-111111111111", tags = var.own_tags, context = {}, actions = ["wafv2:AssociateWebACL", "wafv2:DisassociateWebACL"] },
    { arn = "${var.p.msk}/ot-dev-msk/7d7a2a0e-9e2b-4c5a-8a8a-3c4b5d6e7f80-s1", tags = var.own_tags, context = {}, actions = ["kafka:DeleteCluster", "kafka:CreateClusterV2"] },
    { arn = "${var.p.ssm}/order-tracking/dev/endpoints/alb", tags = {}, context = {}, actions = ["ssm:PutParameter", "ssm:GetParameter"] },
    { arn = "${var.p.sm}:order-tracking-dev-oidc-AbCdEf", tags = var.own_tags, context = {}, actions = ["secretsmanager:GetSecretValue"] },
    # The reduce-only role's one write: its own partition (the full role writes anywhere in it).
    { arn = "${var.p.ddb}/costctl-order-tracking-dev", tags = {}, context = { "dynamodb:LeadingKeys" = ["REDUCE#order-tracking-dev"] }, actions = ["dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"] },
    { arn = "${var.p.iam}/order-tracking-dev-rds-monitoring", tags = {}, context = { "iam:PassedToService" = ["monitoring.rds.amazonaws.com"] }, actions = ["iam:PassRole"] },
    { arn = "${var.p.r53}/Z0123456789ABC", tags = {}, context = {
      "route53:ChangeResourceRecordSetsNormalizedRecordNames" = ["order-tracking-dev.example.com"]
      "route53:ChangeResourceRecordSetsRecordTypes"           = ["A", "AAAA"]
    }, actions = ["route53:ChangeResourceRecordSets"] },
    # MSK Serverless creating and deleting its VPC endpoints with the caller's permissions.
    { arn = var.own_vpc, tags = {}, context = {}, actions = ["ec2:CreateVpcEndpoint", "ec2:CreateNatGateway"] },
    { arn = "${var.p.ec2}:subnet/subnet-0de0000000000000b", tags = {}, context = { "ec2:Vpc" = [var.own_vpc] }, actions = ["ec2:CreateVpcEndpoint", "ec2:CreateNatGateway"] },
    { arn = "${var.p.ec2}:security-group/sg-0de0000000000000c", tags = {}, context = { "ec2:Vpc" = [var.own_vpc] }, actions = ["ec2:CreateVpcEndpoint"] },
    { arn = "${var.p.ec2}:vpc-endpoint/vpce-0de0000000000000d", tags = {}, context = {
      "ec2:Vpc" = [var.own_vpc], "aws:RequestTag/AWSMSKManaged" = ["true"], "ec2:CreateAction" = ["CreateVpcEndpoint"]
    }, actions = ["ec2:CreateVpcEndpoint", "ec2:CreateTags"] },
    { arn = "${var.p.ec2}:vpc-endpoint/vpce-0de0000000000000e", tags = { AWSMSKManaged = "true", ClusterArn = "${var.p.msk}/ot-dev-msk/7d7a2a0e-9e2b-4c5a-8a8a-3c4b5d6e7f80-s1" }, context = { "ec2:Vpc" = [var.own_vpc] }, actions = ["ec2:DeleteVpcEndpoints"] },
    # The ephemeral tier's NAT gateways (with the stack's Elastic IPs and the routes of the route
    # tables named in nat_route_table_ids) and interface endpoints: created with the stack's
    # tags in the request (and tagged at creation), deleted when they carry them.
    { arn = "${var.p.ec2}:natgateway/nat-0de00000000000001", tags = {}, context = merge(var.own_request_tags, { "ec2:CreateAction" = ["CreateNatGateway"] }), actions = ["ec2:CreateNatGateway", "ec2:CreateTags"] },
    { arn = "${var.p.ec2}:natgateway/nat-0de00000000000002", tags = var.own_tags, context = {}, actions = ["ec2:DeleteNatGateway"] },
    { arn = "${var.p.ec2}:elastic-ip/eipalloc-0de00000000000003", tags = var.own_tags, context = {}, actions = ["ec2:CreateNatGateway"] },
    { arn = "${var.p.ec2}:route-table/rtb-0de0000000000000a", tags = {}, context = { "ec2:Vpc" = [var.own_vpc] }, actions = ["ec2:CreateRoute", "ec2:ReplaceRoute"] },
    { arn = "${var.p.ec2}:route-table/rtb-0de0000000000000b", tags = {}, context = { "ec2:Vpc" = [var.own_vpc] }, actions = ["ec2:CreateRoute", "ec2:ReplaceRoute"] },
    { arn = "${var.p.ec2}:vpc-endpoint/vpce-0de00000000000004", tags = {}, context = merge(var.own_request_tags, { "ec2:CreateAction" = ["CreateVpcEndpoint"] }), actions = ["ec2:CreateVpcEndpoint", "ec2:CreateTags"] },
    { arn = "${var.p.ec2}:vpc-endpoint/vpce-0de00000000000005", tags = var.own_tags, context = {}, actions = ["ec2:DeleteVpcEndpoints"] },
    # The metric alarms on the stack's ALB: found by listing (DescribeAlarms without names), then
    # disabled, re-pointed and enabled by name; tagged with the stack's Project and Env.
    { arn = "${var.p.cw}:*", tags = {}, context = {}, actions = ["cloudwatch:DescribeAlarms"] },
    # A Shield Advanced protection keeps the load balancer: read by the ALB's ARN.
    { arn = "arn:aws:shield::123456789012:protection/0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b", tags = {}, context = {}, actions = ["shield:DescribeProtection"] },
    # Transition events: to the deployment's bus, as source costctl.
    { arn = "arn:aws:events:eu-west-1:123456789012:event-bus/default", tags = {}, context = { "events:source" = ["costctl"] }, actions = ["events:PutEvents"] },
    { arn = "${var.p.cw}:ot-dev-alb-5xx", tags = var.own_tags, context = {}, actions = [
      "cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource", "cloudwatch:DisableAlarmActions", "cloudwatch:PutMetricAlarm", "cloudwatch:EnableAlarmActions",
    ] },
  ]

  # The other stacks' resources, named and tagged by the same conventions (infra/env: names
  # order-tracking-<env>, ot-<env>-…; tags Project, Env; parameters /order-tracking/<env>; a
  # deployment's table costctl-order-tracking-<env>). Every evaluated action is tried on each.
  other_targets = flatten([for e in ["dev2", "prod"] : [
    for t in [
      { arn = "${var.p.ecs}:cluster/order-tracking-${e}", context = {} },
      { arn = "${var.p.ecs}:cluster/order-tracking-${e}-workers", context = {} },
      { arn = "${var.p.ecs}:service/order-tracking-${e}/order-tracking-api", context = { "ecs:cluster" = ["${var.p.ecs}:cluster/order-tracking-${e}"] } },
      { arn = "${var.p.ecs}:service/order-tracking-${e}-workers/consumer", context = { "ecs:cluster" = ["${var.p.ecs}:cluster/order-tracking-${e}-workers"] } },
      { arn = "${var.p.aas}/0ec${e}a2b3c4d5e6f708192a3b4c5d6e7f", context = {} },
      { arn = "${var.p.rds}:db:order-tracking-${e}", context = {} },
      { arn = "${var.p.rds}:db:order-tracking-${e}-replica", context = {} },
      { arn = "${var.p.rds}:snapshot:order-tracking-${e}-costctl-g3", context = {} },
      { arn = "${var.p.rds}:snapshot:order-tracking-${e}-final-20250101t000000", context = {} },
      { arn = "${var.p.elb}:loadbalancer/app/ot-${e}-alb/60dc6c495c0c9188", context = {} },
      { arn = "${var.p.elb}:listener/app/ot-${e}-alb/60dc6c495c0c9188/e2f7dc8efc522ab2", context = {} },
      { arn = "${var.p.elb}:listener-rule/app/ot-${e}-alb/60dc6c495c0c9188/e2f7dc8efc522ab2/8683b2d02a6cabee", context = {} },
      { arn = "${var.p.elb}:targetgroup/ot-${e}-api/843f017f100becff", context = {} },
      { arn = "${var.p.cw}:ot-${e}-alb-5xx", context = {} },
      { arn = "${var.p.msk}/ot-${e}-msk/8d7a2a0e-9e2b-4c5a-8a8a-3c4b5d6e7f80-s1", context = {} },
      { arn = "${var.p.ssm}/order-tracking/${e}/endpoints/alb", context = {} },
      { arn = "${var.p.ssm}/order-tracking/${e}/database/password", context = {} },
      { arn = "${var.p.sm}:order-tracking-${e}-oidc-AbCdEf", context = {} },
      { arn = "${var.p.ddb}/costctl-order-tracking-${e}", context = {} },
      # Alias records: in the same zone (another record name; a batch mixing it with this
      # stack's own name) and in another zone.
      { arn = "${var.p.r53}/Z0123456789ABC", context = {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames" = ["order-tracking-${e}.example.com"]
        "route53:ChangeResourceRecordSetsRecordTypes"           = ["A"]
      } },
      { arn = "${var.p.r53}/Z0123456789ABC", context = {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames" = ["order-tracking-dev.example.com", "order-tracking-${e}.example.com"]
        "route53:ChangeResourceRecordSetsRecordTypes"           = ["A"]
      } },
      { arn = "${var.p.r53}/Z0${upper(e)}0000000000", context = {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames" = ["order-tracking-${e}.example.com"]
        "route53:ChangeResourceRecordSetsRecordTypes"           = ["A"]
      } },
      # MSK's VPC endpoints of a stack with its own VPC.
      { arn = "${var.p.ec2}:vpc/vpc-0${e == "prod" ? "9a" : "2b"}00000000000000", context = {} },
      { arn = "${var.p.ec2}:subnet/subnet-0${e == "prod" ? "9a" : "2b"}00000000000000", context = { "ec2:Vpc" = ["${var.p.ec2}:vpc/vpc-0${e == "prod" ? "9a" : "2b"}00000000000000"] } },
      { arn = "${var.p.ec2}:security-group/sg-0${e == "prod" ? "9a" : "2b"}00000000000000", context = { "ec2:Vpc" = ["${var.p.ec2}:vpc/vpc-0${e == "prod" ? "9a" : "2b"}00000000000000"] } },
      { arn = "${var.p.ec2}:vpc-endpoint/vpce-0${e == "prod" ? "9a" : "2b"}00000000000000", context = { "ec2:Vpc" = ["${var.p.ec2}:vpc/vpc-0${e == "prod" ? "9a" : "2b"}00000000000000"] }, msk = true },
      # MSK's endpoints of another stack in the VPC this stack uses too (infra/env puts every
      # environment into the bootstrap's one VPC): told apart by their ClusterArn tag.
      { arn = "${var.p.ec2}:vpc-endpoint/vpce-0${e == "prod" ? "9b" : "2c"}00000000000000", context = { "ec2:Vpc" = [var.own_vpc] }, msk = true },
      # The other stack's ephemeral network in the shared VPC: its NAT gateway (and a create
      # with its tags), its Elastic IP, its interface endpoint (and a create with its tags), and
      # a private route table this stack was not told about.
      { arn = "${var.p.ec2}:natgateway/nat-0${e == "prod" ? "9d" : "2d"}00000000000000", context = { "aws:RequestTag/Project" = ["order-tracking"], "aws:RequestTag/Env" = [e] } },
      { arn = "${var.p.ec2}:elastic-ip/eipalloc-0${e == "prod" ? "9e" : "2e"}00000000000000", context = {} },
      { arn = "${var.p.ec2}:vpc-endpoint/vpce-0${e == "prod" ? "9f" : "2f"}00000000000000", context = { "ec2:Vpc" = [var.own_vpc], "aws:RequestTag/Project" = ["order-tracking"], "aws:RequestTag/Env" = [e] } },
      { arn = "${var.p.ec2}:route-table/rtb-0${e == "prod" ? "9c" : "2c"}00000000000000", context = { "ec2:Vpc" = [var.own_vpc] } },
    ] : { arn = t.arn, context = t.context, tags = merge({ Project = "order-tracking", Env = e }, try(t.msk, false) ? { AWSMSKManaged = "true", ClusterArn = "${var.p.msk}/ot-${e}-msk/00000000-0000-0000-0000-000000000000-s1" } : {}) }
  ]])

  # The tag half on its own: this stack's names, another stack's (or project's) tags. Denied for
  # the actions the module scopes by Project AND Env (README) and for DeleteVpcEndpoints (the
  # stack's Project and Env, or MSK's AWSMSKManaged and ClusterArn tags).
  mislabeled_targets = [
    { arn = "${var.p.ecs}:service/order-tracking-dev/order-tracking-api", tags = { Project = "order-tracking", Env = "prod" }, context = { "ecs:cluster" = ["${var.p.ecs}:cluster/order-tracking-dev"] }, actions = ["ecs:UpdateService"] },
    { arn = "${var.p.ecs}:service/order-tracking-dev/order-tracking-api", tags = { Project = "billing", Env = "dev" }, context = { "ecs:cluster" = ["${var.p.ecs}:cluster/order-tracking-dev"] }, actions = ["ecs:UpdateService"] },
    { arn = "${var.p.aas}/0ec1a2b3c4d5e6f708192a3b4c5d6e7f", tags = { Project = "order-tracking", Env = "prod" }, context = {}, actions = ["application-autoscaling:RegisterScalableTarget"] },
    { arn = "${var.p.aas}/0ec1a2b3c4d5e6f708192a3b4c5d6e7f", tags = { Project = "order-tracking" }, context = {}, actions = ["application-autoscaling:RegisterScalableTarget"] },
    { arn = "${var.p.rds}:db:order-tracking-dev", tags = { Project = "order-tracking", Env = "dev2" }, context = {}, actions = ["rds:StopDBInstance", "rds:DeleteDBInstance"] },
    { arn = "${var.p.rds}:db:order-tracking-dev", tags = { Project = "billing", Env = "dev" }, context = {}, actions = ["rds:StopDBInstance", "rds:DeleteDBInstance"] },
    { arn = "${var.p.elb}:loadbalancer/app/ot-dev-alb/50dc6c495c0c9188", tags = { Project = "order-tracking", Env = "prod" }, context = {}, actions = ["elasticloadbalancing:DeleteLoadBalancer"] },
    { arn = "${var.p.msk}/ot-dev-msk/7d7a2a0e-9e2b-4c5a-8a8a-3c4b5d6e7f80-s1", tags = { Project = "order-tracking", Env = "prod" }, context = {}, actions = ["kafka:DeleteCluster"] },
    { arn = "${var.p.ec2}:vpc-endpoint/vpce-0de0000000000000f", tags = { Project = "order-tracking", Env = "prod" }, context = { "ec2:Vpc" = [var.own_vpc] }, actions = ["ec2:DeleteVpcEndpoints"] },
    { arn = "${var.p.ec2}:vpc-endpoint/vpce-0de0000000000000f", tags = { Project = "billing", Env = "dev", AWSMSKManaged = "true" }, context = { "ec2:Vpc" = [var.own_vpc] }, actions = ["ec2:DeleteVpcEndpoints"] },
    # The ephemeral network: a NAT gateway or endpoint created without the stack's tags (none,
    # only one of the two, another environment's), one that carries another stack's tags, an
    # Elastic IP that is not the stack's, and a route table of the stack's VPC that
    # nat_route_table_ids does not name (the public one, say).
    { arn = "${var.p.ec2}:natgateway/nat-0de00000000000006", tags = {}, context = {}, actions = ["ec2:CreateNatGateway", "ec2:CreateTags"] },
    { arn = "${var.p.ec2}:natgateway/nat-0de00000000000006", tags = {}, context = { "aws:RequestTag/Project" = ["order-tracking"] }, actions = ["ec2:CreateNatGateway"] },
    { arn = "${var.p.ec2}:natgateway/nat-0de00000000000006", tags = {}, context = { "aws:RequestTag/Project" = ["order-tracking"], "aws:RequestTag/Env" = ["prod"] }, actions = ["ec2:CreateNatGateway"] },
    { arn = "${var.p.ec2}:vpc-endpoint/vpce-0de00000000000007", tags = {}, context = { "aws:RequestTag/Env" = ["dev"] }, actions = ["ec2:CreateVpcEndpoint"] },
    { arn = "${var.p.ec2}:natgateway/nat-0de00000000000008", tags = { Project = "billing", Env = "dev" }, context = {}, actions = ["ec2:DeleteNatGateway", "ec2:CreateTags"] },
    { arn = "${var.p.ec2}:natgateway/nat-0de00000000000008", tags = { Project = "order-tracking", Env = "prod" }, context = {}, actions = ["ec2:DeleteNatGateway"] },
    { arn = "${var.p.ec2}:elastic-ip/eipalloc-0de00000000000009", tags = {}, context = {}, actions = ["ec2:CreateNatGateway"] },
    { arn = "${var.p.ec2}:elastic-ip/eipalloc-0de00000000000009", tags = { Project = "order-tracking", Env = "prod" }, context = {}, actions = ["ec2:CreateNatGateway"] },
    { arn = "${var.p.ec2}:route-table/rtb-0de0000000000000c", tags = var.own_tags, context = { "ec2:Vpc" = [var.own_vpc] }, actions = ["ec2:CreateRoute", "ec2:ReplaceRoute"] },
    # A NAT gateway in a subnet of another VPC, even with the stack's tags in the request.
    { arn = "${var.p.ec2}:subnet/subnet-0ffe0000000000000", tags = {}, context = merge(var.own_request_tags, { "ec2:Vpc" = ["${var.p.ec2}:vpc/vpc-0ffe0000000000000"] }), actions = ["ec2:CreateNatGateway", "ec2:CreateVpcEndpoint"] },
    # An event that would pass for AWS's own, and one to another bus.
    { arn = "arn:aws:events:eu-west-1:123456789012:event-bus/default", tags = {}, context = { "events:source" = ["aws.ec2"] }, actions = ["events:PutEvents"] },
    { arn = "arn:aws:events:eu-west-1:123456789012:event-bus/prod-bus", tags = {}, context = { "events:source" = ["costctl"] }, actions = ["events:PutEvents"] },
    # Alarms: any name is reachable, so only the tags keep other projects' and untagged ones out.
    { arn = "${var.p.cw}:ot-dev-alb-5xx", tags = { Project = "billing", Env = "dev" }, context = {}, actions = var.alarm_changes },
    { arn = "${var.p.cw}:ot-dev-alb-5xx", tags = { Project = "order-tracking", Env = "prod" }, context = {}, actions = var.alarm_changes },
    { arn = "${var.p.cw}:ot-dev-alb-5xx", tags = { Env = "dev" }, context = {}, actions = var.alarm_changes },
    { arn = "${var.p.cw}:billing-alb-latency", tags = {}, context = {}, actions = var.alarm_changes },
  ]
  alarm_changes = ["cloudwatch:DisableAlarmActions", "cloudwatch:PutMetricAlarm", "cloudwatch:EnableAlarmActions"]

  # Elastic Load Balancing resources no pattern of this stack may reach, even tagged as this
  # stack: another project's ALB, listener, rule and target group, and this stack's own-named
  # network and gateway load balancers and their listeners. Every evaluated action is tried.
  foreign_elb_targets = [for t in [
    { arn = "${var.p.elb}:loadbalancer/app/billing-alb/70dc6c495c0c9188", tags = { Project = "billing", Env = "dev" } },
    { arn = "${var.p.elb}:listener/app/billing-alb/70dc6c495c0c9188/d2f7dc8efc522ab2", tags = { Project = "billing", Env = "dev" } },
    { arn = "${var.p.elb}:listener-rule/app/billing-alb/70dc6c495c0c9188/d2f7dc8efc522ab2/7683b2d02a6cabee", tags = { Project = "billing", Env = "dev" } },
    { arn = "${var.p.elb}:targetgroup/billing-api/743f017f100becff", tags = { Project = "billing", Env = "dev" } },
    { arn = "${var.p.elb}:loadbalancer/net/ot-dev-nlb/80dc6c495c0c9188", tags = var.own_tags },
    { arn = "${var.p.elb}:listener/net/ot-dev-nlb/80dc6c495c0c9188/c2f7dc8efc522ab2", tags = var.own_tags },
    { arn = "${var.p.elb}:loadbalancer/gwy/ot-dev-gwlb/90dc6c495c0c9188", tags = var.own_tags },
    { arn = "${var.p.elb}:listener/gwy/ot-dev-gwlb/90dc6c495c0c9188/b2f7dc8efc522ab2", tags = var.own_tags },
  ] : merge(t, { context = {} })]

  # What the reduce-only role must not be able to do at all, on its own stack's resources.
  reduce_only_denied = [
    { arn = "${var.p.cw}:ot-dev-alb-5xx", actions = ["cloudwatch:DisableAlarmActions", "cloudwatch:PutMetricAlarm", "cloudwatch:EnableAlarmActions"] },
    # No EC2 write at all: the ephemeral network is the full function's to change.
    { arn = "${var.p.ec2}:natgateway/nat-0de00000000000002", actions = [
      "ec2:CreateNatGateway", "ec2:DeleteNatGateway", "ec2:CreateRoute", "ec2:ReplaceRoute",
      "ec2:CreateVpcEndpoint", "ec2:DeleteVpcEndpoints", "ec2:CreateTags",
    ] },
  ]

  # Every case: expect (allowed?), actions (empty: every evaluated action of the role) and ctx,
  # the request's condition keys (the resource's tags as aws:ResourceTag/* and
  # <service>:ResourceTag/*, plus the case's context).
  cases = [for c in concat(
    [for t in var.own_targets : merge(t, { expect = true, kind = "own stack (positive control)" })],
    [for t in var.other_targets : merge(t, { expect = false, kind = "other stack", actions = [] })],
    [for t in var.mislabeled_targets : merge(t, { expect = false, kind = "own name, other tags" })],
    [for t in var.foreign_elb_targets : merge(t, { expect = false, kind = "not this stack's ALB", actions = [] })],
    ) : merge(c, { ctx = merge(
      { for k, v in c.tags : "aws:ResourceTag/${k}" => [v] },
      { for k, v in c.tags : "${split(":", c.arn)[2]}:ResourceTag/${k}" => [v] },
      c.context,
  ) })]
}

run "dev_functions_are_denied_on_dev2_and_prod_resources" {
  command = apply

  # Shape of the statements: the evaluator models what they use, nothing is skipped.
  assert {
    condition = alltrue(flatten([for st in concat(
      data.aws_iam_policy_document.observe.statement, data.aws_iam_policy_document.reduce_only.statement, data.aws_iam_policy_document.full.statement, data.aws_iam_policy_document.full_overrides.statement,
      data.aws_iam_policy_document.runtime["full"].statement, data.aws_iam_policy_document.runtime["reduce_only"].statement,
      ) : [length(coalesce(st.not_actions, [])) == 0, length(coalesce(st.not_resources, [])) == 0, st.sid != null,
      alltrue([for a in st.actions : !strcontains(a, "*") && !strcontains(a, "?")]),
      alltrue([for c in st.condition : contains(var.supported_operators, c.test) && (contains(var.context_keys, c.variable) || can(regex("^[a-z0-9-]+:ResourceTag/", c.variable)))]),
    ]]))
    error_message = "a statement uses NotAction/NotResource, has no Sid (the Sid merge needs one), a wildcard action, a condition operator outside supported_operators or a condition key that is neither a resource tag nor in context_keys: the evaluator would not model it (an unknown operator or key counts as not satisfied). Operators and keys in use: ${jsonencode(distinct(flatten([for st in concat(
      data.aws_iam_policy_document.observe.statement, data.aws_iam_policy_document.reduce_only.statement, data.aws_iam_policy_document.full.statement, data.aws_iam_policy_document.full_overrides.statement,
      data.aws_iam_policy_document.runtime["full"].statement, data.aws_iam_policy_document.runtime["reduce_only"].statement,
    ) : [for c in st.condition : "${c.test} ${c.variable}"]])))}"
  }

  # The exclusions are what they claim to be.
  assert {
    condition     = alltrue([for a in var.read_only_actions : can(regex("^[a-z0-9-]+:(Describe|List|Get|Query$|Scan$)[A-Za-z0-9]*$", a)) && !contains(["secretsmanager:GetSecretValue", "ssm:GetParameter"], a)])
    error_message = "read_only_actions may hold Describe/List/Get/Query/Scan calls only, and not the reads that disclose another stack's data (GetSecretValue, GetParameter)"
  }

  # Coverage: every action of either role is evaluated or excluded by name, and every evaluated
  # engine action has a positive control.
  assert {
    condition = length(setsubtract(toset(flatten([for st in concat(
      data.aws_iam_policy_document.observe.statement, data.aws_iam_policy_document.reduce_only.statement, data.aws_iam_policy_document.full.statement, data.aws_iam_policy_document.full_overrides.statement,
      data.aws_iam_policy_document.runtime["full"].statement, data.aws_iam_policy_document.runtime["reduce_only"].statement,
    ) : st.actions])), toset(concat(var.read_only_actions, var.star_only_actions, var.runtime_actions, flatten([for t in var.own_targets : t.actions]))))) == 0
    error_message = "actions granted without a positive control in own_targets (nor listed as read-only, star-only or runtime): ${jsonencode(setsubtract(toset(flatten([for st in concat(
      data.aws_iam_policy_document.observe.statement, data.aws_iam_policy_document.reduce_only.statement, data.aws_iam_policy_document.full.statement, data.aws_iam_policy_document.full_overrides.statement,
      data.aws_iam_policy_document.runtime["full"].statement, data.aws_iam_policy_document.runtime["reduce_only"].statement,
    ) : st.actions])), toset(concat(var.read_only_actions, var.star_only_actions, var.runtime_actions, flatten([for t in var.own_targets : t.actions])))))}"
  }
  assert {
    condition = length(setsubtract(toset(flatten([for t in var.own_targets : t.actions])), toset(flatten([for st in concat(
      data.aws_iam_policy_document.observe.statement, data.aws_iam_policy_document.reduce_only.statement, data.aws_iam_policy_document.full.statement, data.aws_iam_policy_document.full_overrides.statement,
    ) : st.actions])))) == 0
    error_message = "own_targets names actions no role grants (stale test data)"
  }

  # The reduce-only role changes no alarm and nothing in EC2: no statement of it grants an alarm
  # change or an EC2 write (so IAM denies them implicitly), while it may list the alarms (the
  # positive control above) and describe the ephemeral network.
  assert {
    condition = alltrue([for d in var.reduce_only_denied : alltrue([for a in d.actions : !anytrue([
      for st in concat(data.aws_iam_policy_document.observe.statement, data.aws_iam_policy_document.reduce_only.statement, data.aws_iam_policy_document.runtime["reduce_only"].statement) :
      contains(st.actions, a) && st.effect != "Deny"
    ])])]) && anytrue([for st in data.aws_iam_policy_document.observe.statement : contains(st.actions, "cloudwatch:DescribeAlarms")])
    error_message = "the reduce-only role must list alarms (cloudwatch:DescribeAlarms, observe) and hold none of ${jsonencode(flatten(var.reduce_only_denied[*].actions))}"
  }
  assert {
    condition = alltrue(flatten([for st in concat(data.aws_iam_policy_document.observe.statement, data.aws_iam_policy_document.reduce_only.statement, data.aws_iam_policy_document.runtime["reduce_only"].statement) :
      [for a in st.actions : !startswith(a, "ec2:") || startswith(a, "ec2:Describe")]
    ])) && anytrue([for st in data.aws_iam_policy_document.observe.statement : contains(st.actions, "ec2:DescribeNatGateways") && contains(st.actions, "ec2:DescribeRouteTables") && contains(st.actions, "ec2:DescribeVpcEndpoints")])
    error_message = "the reduce-only role describes the ephemeral network (NAT gateways, route tables, endpoints) and holds no EC2 action but Describe*"
  }

  # The evaluation. For each role, each action it holds and each case that applies to the
  # action: "allowed" (some Allow statement matches) must equal the case's expectation. The
  # condition and the message are the same expression (a test file has no locals): keep them
  # identical.
  assert {
    condition = length(flatten([for role, sts in {
      reduce_only = concat(data.aws_iam_policy_document.observe.statement, data.aws_iam_policy_document.reduce_only.statement, data.aws_iam_policy_document.runtime["reduce_only"].statement)
      full = concat(values(merge(
        { for st in data.aws_iam_policy_document.observe.statement : st.sid => st },
        { for st in data.aws_iam_policy_document.full.statement : st.sid => st },
        { for st in data.aws_iam_policy_document.full_overrides.statement : st.sid => st },
      )), data.aws_iam_policy_document.runtime["full"].statement)
      } : [for a in toset(flatten([for st in sts : st.actions])) : [for c in var.cases : "${role}: ${c.expect ? "DENIED" : "ALLOWED"} ${a} on ${c.arn} (${c.kind}; ${jsonencode(c.ctx)})"
        if(length(c.actions) == 0 ? !contains(concat(var.read_only_actions, var.star_only_actions), a) : contains(c.actions, a)) && c.expect != anytrue([
          for st in sts : anytrue([for r in st.resources : can(regex("^${replace(replace(replace(r, "/[.+^$()|{}\\[\\]\\\\]/", "\\$0"), "*", ".*"), "?", ".")}$", c.arn))]) && alltrue([
            for cond in st.condition : one([for m in [{
              eq   = [for v in lookup(c.ctx, cond.variable, []) : contains(cond.values, v)]
              like = [for v in lookup(c.ctx, cond.variable, []) : anytrue([for pat in cond.values : can(regex("^${replace(replace(replace(pat, "/[.+^$()|{}\\[\\]\\\\]/", "\\$0"), "*", ".*"), "?", ".")}$", v))])]
              bool = [for v in lookup(c.ctx, cond.variable, []) : contains([for x in cond.values : lower(x)], lower(v))]
              }] : lookup({
              StringEquals                = anytrue(m.eq), StringLike = anytrue(m.like), ArnEquals = anytrue(m.like), ArnLike = anytrue(m.like), Bool = anytrue(m.bool)
              "ForAllValues:StringEquals" = alltrue(m.eq), "ForAllValues:StringLike" = alltrue(m.like), "ForAnyValue:StringEquals" = anytrue(m.eq)
            }, cond.test, false)])
          ]) if contains(st.actions, a) && st.effect != "Deny"
    ])]]])) == 0
    error_message = "policy evaluation disagrees (ALLOWED: another stack's resource, or this stack's name with other tags, is reachable; DENIED: the positive control found no Allow on the stack's own resource): ${jsonencode(flatten([for role, sts in {
      reduce_only = concat(data.aws_iam_policy_document.observe.statement, data.aws_iam_policy_document.reduce_only.statement, data.aws_iam_policy_document.runtime["reduce_only"].statement)
      full = concat(values(merge(
        { for st in data.aws_iam_policy_document.observe.statement : st.sid => st },
        { for st in data.aws_iam_policy_document.full.statement : st.sid => st },
        { for st in data.aws_iam_policy_document.full_overrides.statement : st.sid => st },
      )), data.aws_iam_policy_document.runtime["full"].statement)
      } : [for a in toset(flatten([for st in sts : st.actions])) : [for c in var.cases : "${role}: ${c.expect ? "DENIED" : "ALLOWED"} ${a} on ${c.arn} (${c.kind}; ${jsonencode(c.ctx)})"
        if(length(c.actions) == 0 ? !contains(concat(var.read_only_actions, var.star_only_actions), a) : contains(c.actions, a)) && c.expect != anytrue([
          for st in sts : anytrue([for r in st.resources : can(regex("^${replace(replace(replace(r, "/[.+^$()|{}\\[\\]\\\\]/", "\\$0"), "*", ".*"), "?", ".")}$", c.arn))]) && alltrue([
            for cond in st.condition : one([for m in [{
              eq   = [for v in lookup(c.ctx, cond.variable, []) : contains(cond.values, v)]
              like = [for v in lookup(c.ctx, cond.variable, []) : anytrue([for pat in cond.values : can(regex("^${replace(replace(replace(pat, "/[.+^$()|{}\\[\\]\\\\]/", "\\$0"), "*", ".*"), "?", ".")}$", v))])]
              bool = [for v in lookup(c.ctx, cond.variable, []) : contains([for x in cond.values : lower(x)], lower(v))]
              }] : lookup({
              StringEquals                = anytrue(m.eq), StringLike = anytrue(m.like), ArnEquals = anytrue(m.like), ArnLike = anytrue(m.like), Bool = anytrue(m.bool)
              "ForAllValues:StringEquals" = alltrue(m.eq), "ForAllValues:StringLike" = alltrue(m.like), "ForAnyValue:StringEquals" = anytrue(m.eq)
            }, cond.test, false)])
          ]) if contains(st.actions, a) && st.effect != "Deny"
    ])]]]))}"
  }
}
