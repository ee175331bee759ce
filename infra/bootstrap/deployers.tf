# GitHub OIDC and the two deployer roles, DEV and PROD, with different and much smaller policies
# than PowerUserAccess:
#
# - state: only their own environments' state keys and lock items (the bootstrap state read-only);
# - services: the resources the env root creates, by name (`order-tracking-<env>`,
#   `order-tracking-<env>-*`, `ot-<env>-*`, `costctl-order-tracking-<env>-*`) or by the Env tag;
# - IAM: roles of their own environments only, each carrying the stage's permissions boundary
#   (`iam:PermissionsBoundary` condition), PassRole of those roles to the services that run them;
# - guardrails (explicit Deny, which no Allow overrides): no IAM on either deployer, the build
#   role, the execution roles, the boundaries or the deployer policies; no role without the
#   boundary; no removing a boundary; no role assumption.
#
# PROD is assumed only from the protected GitHub environment (`environment:prod`; protect it in
# GitHub with required reviewers and a deployment rule for tags `v*`), DEV from its branches and
# environments. The build role (iam.tf) pushes images and nothing else.

resource "aws_iam_openid_connect_provider" "github" {
  count = var.github_repository != null && var.create_github_oidc_provider ? 1 : 0

  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
}

locals {
  github_oidc_arn = var.github_repository == null ? null : (
    var.create_github_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn :
    "${local.iam_prefix}:oidc-provider/token.actions.githubusercontent.com"
  )

  deployer_subjects = var.github_repository == null ? {} : {
    dev = concat(
      [for b in var.dev_branches : "repo:${var.github_repository}:ref:refs/heads/${b}"],
      [for e in var.dev_environments : "repo:${var.github_repository}:environment:${e}"],
    )
    # A job that names a GitHub environment gets `sub = repo:O/R:environment:NAME`; the tag rule
    # (prod_tag_pattern) and the reviewers are the environment's protection rules.
    prod = ["repo:${var.github_repository}:environment:${var.prod_github_environment}"]
  }

  build_subjects = var.github_repository == null ? [] : concat(
    [for b in var.dev_branches : "repo:${var.github_repository}:ref:refs/heads/${b}"],
    ["repo:${var.github_repository}:ref:refs/tags/${var.prod_tag_pattern}"],
  )

  deployer_role_names = { for stage in keys(local.deployer_subjects) : stage => "${var.short_name}-deployer-${stage}" }

  state_arn = aws_s3_bucket.tf_state.arn
  # S3 backend keys (workspace_key_prefix = "env") and the lock table's LockID values.
  stage_state_keys = { for stage, envs in local.stage_envs : stage => [for e in envs : "env/${e}/terraform.tfstate"] }

  vpc_arn = "arn:${local.partition}:ec2:${var.region}:${local.account}:vpc/${local.vpc_id}"

  # Per environment: the names its resources start with.
  env_names = { for e in keys(var.environments) : e => {
    name    = "${var.project}-${e}"
    short   = "${var.short_name}-${e}"
    costctl = "costctl-${var.project}-${e}"
  } }
}

data "aws_iam_policy_document" "deployer_assume" {
  for_each = local.deployer_subjects

  statement {
    sid     = "GitHubActions${title(each.key)}"
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
      test     = each.key == "prod" ? "StringEquals" : "StringLike"
      variable = "token.actions.githubusercontent.com:sub"
      values   = each.value
    }
  }
}

resource "aws_iam_role" "deployer" {
  for_each = local.deployer_subjects

  name                 = local.deployer_role_names[each.key]
  description          = "GitHub Actions deployer (${upper(each.key)}): environments ${join(", ", local.stage_envs[each.key])}"
  assume_role_policy   = data.aws_iam_policy_document.deployer_assume[each.key].json
  max_session_duration = 3600
}

# ---------------------------------------------------------------------------------------------
# State: own keys and lock items only.
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "deployer_state" {
  for_each = local.deployer_subjects

  statement {
    sid       = "OwnStateObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = flatten([for k in local.stage_state_keys[each.key] : ["${local.state_arn}/${k}", "${local.state_arn}/${k}.tflock"]])
  }

  statement {
    sid       = "BootstrapStateRead"
    actions   = ["s3:GetObject"]
    resources = ["${local.state_arn}/bootstrap/terraform.tfstate"]
  }

  statement {
    sid       = "ListOwnWorkspaces"
    actions   = ["s3:ListBucket"]
    resources = [local.state_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = concat(["env/", "bootstrap/terraform.tfstate"], [for e in local.stage_envs[each.key] : "env/${e}/*"])
    }
  }

  # The S3 backend's lock items are `<bucket>/<key>` and `<bucket>/<key>-md5`.
  statement {
    sid       = "OwnLockItems"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.tf_lock.arn]
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "dynamodb:LeadingKeys"
      values = flatten([for k in local.stage_state_keys[each.key] : [
        "${aws_s3_bucket.tf_state.bucket}/${k}", "${aws_s3_bucket.tf_state.bucket}/${k}-md5",
      ]])
    }
  }
}

# ---------------------------------------------------------------------------------------------
# IAM: own environments' roles, always with the stage's boundary.
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "deployer_iam" {
  for_each = local.deployer_subjects

  statement {
    sid       = "WriteOwnRolesWithBoundary"
    actions   = ["iam:CreateRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:PutRolePermissionsBoundary"]
    resources = flatten([for e in local.stage_envs[each.key] : local.env_role_arns[e]])
    condition {
      test     = "StringEquals"
      variable = "iam:PermissionsBoundary"
      values   = [local.boundary_arns[each.key]]
    }
  }

  statement {
    sid = "ManageOwnRoles"
    actions = [
      "iam:DeleteRole", "iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListInstanceProfilesForRole",
      "iam:ListRolePolicies", "iam:ListRoleTags", "iam:TagRole", "iam:UntagRole", "iam:UpdateAssumeRolePolicy",
      "iam:UpdateRole", "iam:UpdateRoleDescription",
    ]
    resources = flatten([for e in local.stage_envs[each.key] : local.env_role_arns[e]])
  }

  statement {
    sid       = "PassOwnTaskRoles"
    actions   = ["iam:PassRole"]
    resources = flatten([for e in local.stage_envs[each.key] : ["${local.iam_prefix}:role/${var.project}-${e}-*", aws_iam_role.ecs_execution[e].arn]])
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  statement {
    sid       = "PassOwnCostctlRoles"
    actions   = ["iam:PassRole"]
    resources = [for e in local.stage_envs[each.key] : "${local.iam_prefix}:role/costctl-${var.project}-${e}-*"]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["lambda.amazonaws.com", "scheduler.amazonaws.com"]
    }
  }

  # First ECS cluster, first scalable target, first DB instance of an account: AWS creates the
  # service's service-linked role with the caller's rights. Their permissions are AWS's own.
  statement {
    sid       = "ServiceLinkedRolesOfTheStack"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["${local.iam_prefix}:role/aws-service-role/*"]
    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values   = ["ecs.amazonaws.com", "ecs.application-autoscaling.amazonaws.com", "rds.amazonaws.com"]
    }
  }

  statement {
    sid       = "ReadOwnBoundary"
    actions   = ["iam:GetPolicy", "iam:GetPolicyVersion"]
    resources = [local.boundary_arns[each.key]]
  }
}

# Explicit denies: no Allow, managed policy or later mistake can override them.
data "aws_iam_policy_document" "deployer_guardrails" {
  statement {
    sid    = "NoIamWritesOnProtectedRolesAndPolicies"
    effect = "Deny"
    # Every IAM write (PassRole, which only hands a role to a service, stays possible).
    actions = [
      "iam:Add*", "iam:Attach*", "iam:Create*", "iam:Delete*", "iam:Detach*", "iam:Put*", "iam:Remove*", "iam:Set*",
      "iam:Tag*", "iam:Untag*", "iam:Update*", "iam:Upload*",
    ]
    resources = concat(local.protected_role_arns, local.protected_policy_arns)
  }

  statement {
    sid    = "NoRoleWithoutABoundary"
    effect = "Deny"
    actions = [
      "iam:AttachRolePolicy", "iam:CreateRole", "iam:DeleteRolePolicy", "iam:DetachRolePolicy", "iam:PutRolePermissionsBoundary",
      "iam:PutRolePolicy",
    ]
    resources = ["*"]
    condition {
      test     = "StringNotLike"
      variable = "iam:PermissionsBoundary"
      values   = ["${local.iam_prefix}:policy/${var.short_name}-workload-boundary-*"]
    }
  }

  statement {
    sid    = "NoBoundaryRemovalNoUsersNoPolicies"
    effect = "Deny"
    actions = [
      "iam:CreateAccessKey", "iam:CreateLoginProfile", "iam:CreatePolicy", "iam:CreatePolicyVersion", "iam:CreateUser",
      "iam:DeleteRolePermissionsBoundary", "iam:SetDefaultPolicyVersion",
    ]
    resources = ["*"]
  }

  # Within an account a trust policy naming the deployer would be enough to assume a role it
  # wrote a policy for; the deployers never need to.
  statement {
    sid       = "NoRoleAssumption"
    effect    = "Deny"
    actions   = ["sts:AssumeRole"]
    resources = ["*"]
  }
}

# ---------------------------------------------------------------------------------------------
# Services: what the env root and the costctl module create, limited to the stage's names.
# ---------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "deployer_services" {
  for_each = local.deployer_subjects

  # Describe/List/Get calls without resource-level permissions ("*" only); read-only.
  statement {
    sid = "ReadOnlyUnscopable"
    actions = [
      "acm:ListCertificates", "application-autoscaling:DescribeScalableTargets", "application-autoscaling:DescribeScalingPolicies",
      "ec2:DescribeAvailabilityZones", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroupRules",
      "ec2:DescribeSecurityGroups", "ec2:DescribeSubnets", "ec2:DescribeVpcs", "ecs:DescribeTaskDefinition", "ecs:ListClusters",
      "ecs:ListTaskDefinitions", "elasticloadbalancing:DescribeTargetGroupAttributes", "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTags", "lambda:GetAccountSettings", "logs:DescribeLogGroups", "route53:ListHostedZones", "scheduler:ListScheduleGroups",
      "secretsmanager:GetRandomPassword", "ssm:DescribeParameters",
    ]
    resources = ["*"]
  }

  # RegisterTaskDefinition and DeregisterTaskDefinition support no resource-level permissions.
  statement {
    sid       = "TaskDefinitions"
    actions   = ["ecs:DeregisterTaskDefinition", "ecs:RegisterTaskDefinition"]
    resources = ["*"]
  }

  # Security groups and their rules, only in the environments' VPC.
  statement {
    sid = "SecurityGroupsInTheVpc"
    actions = [
      "ec2:AuthorizeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupIngress", "ec2:CreateSecurityGroup", "ec2:DeleteSecurityGroup",
      "ec2:ModifySecurityGroupRules", "ec2:RevokeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress",
      "ec2:UpdateSecurityGroupRuleDescriptionsEgress", "ec2:UpdateSecurityGroupRuleDescriptionsIngress",
    ]
    resources = ["arn:${local.partition}:ec2:${var.region}:${local.account}:security-group/*"]
    condition {
      test     = "ArnEquals"
      variable = "ec2:Vpc"
      values   = [local.vpc_arn]
    }
  }

  # The rule resources these calls create or change (the group itself is VPC-scoped above).
  statement {
    sid = "SecurityGroupRules"
    actions = [
      "ec2:AuthorizeSecurityGroupEgress", "ec2:AuthorizeSecurityGroupIngress", "ec2:ModifySecurityGroupRules",
      "ec2:RevokeSecurityGroupEgress", "ec2:RevokeSecurityGroupIngress",
    ]
    resources = ["arn:${local.partition}:ec2:${var.region}:${local.account}:security-group-rule/*"]
  }

  statement {
    sid       = "SecurityGroupCreateInTheVpc"
    actions   = ["ec2:CreateSecurityGroup"]
    resources = [local.vpc_arn]
  }

  statement {
    sid       = "SecurityGroupRulesAndTags"
    actions   = ["ec2:CreateTags", "ec2:DeleteTags"]
    resources = ["arn:${local.partition}:ec2:${var.region}:${local.account}:security-group/*", "arn:${local.partition}:ec2:${var.region}:${local.account}:security-group-rule/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/Env"
      values   = local.stage_envs[each.key]
    }
  }

  # Resources without names in their ARNs: scalable targets, certificates, KMS keys; by Env tag.
  # RequestCertificate and CreateKey support no resource-level permissions ("*" only).
  statement {
    sid       = "CreateTaggedForOwnEnvironments"
    actions   = ["acm:RequestCertificate", "kms:CreateKey"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/Env"
      values   = local.stage_envs[each.key]
    }
  }

  statement {
    sid       = "TagNewForOwnEnvironments"
    actions   = ["acm:AddTagsToCertificate", "application-autoscaling:RegisterScalableTarget", "application-autoscaling:TagResource", "kms:TagResource"]
    resources = ["arn:${local.partition}:acm:${var.region}:${local.account}:certificate/*", "arn:${local.partition}:application-autoscaling:${var.region}:${local.account}:scalable-target/*", "arn:${local.partition}:kms:${var.region}:${local.account}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/Env"
      values   = local.stage_envs[each.key]
    }
  }

  statement {
    sid       = "ManageTaggedOfOwnEnvironments"
    actions   = ["acm:*", "application-autoscaling:*", "kms:*"]
    resources = ["arn:${local.partition}:acm:${var.region}:${local.account}:certificate/*", "arn:${local.partition}:application-autoscaling:${var.region}:${local.account}:scalable-target/*", "arn:${local.partition}:kms:${var.region}:${local.account}:key/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Env"
      values   = local.stage_envs[each.key]
    }
  }

  # ACM DNS validation records only (CNAME); the alias records are costctl's.
  statement {
    sid       = "CertificateValidationRecords"
    actions   = ["route53:ChangeResourceRecordSets"]
    resources = ["arn:${local.partition}:route53:::hostedzone/*"]
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "route53:ChangeResourceRecordSetsRecordTypes"
      values   = ["CNAME"]
    }
  }

  statement {
    sid       = "HostedZonesRead"
    actions   = ["route53:GetChange", "route53:GetHostedZone", "route53:ListResourceRecordSets", "route53:ListTagsForResource"]
    resources = ["arn:${local.partition}:route53:::hostedzone/*", "arn:${local.partition}:route53:::change/*"]
  }
}

# One policy per environment (so a stage with many environments stays under IAM's 6,144-character
# managed-policy limit): its resources by name.
data "aws_iam_policy_document" "deployer_environment" {
  for_each = { for e, stage in var.environments : e => stage if contains(keys(local.deployer_subjects), stage) }

  statement {
    sid     = "OwnNamedResources"
    actions = ["budgets:*", "dynamodb:*", "ecs:*", "events:*", "lambda:*", "rds:*", "scheduler:*", "sns:*", "sqs:*", "ssm:*"]
    resources = [
      "arn:${local.partition}:ecs:${var.region}:${local.account}:cluster/${local.env_names[each.key].name}",
      "arn:${local.partition}:ecs:${var.region}:${local.account}:service/${local.env_names[each.key].name}/*",
      "arn:${local.partition}:ecs:${var.region}:${local.account}:task-definition/${local.env_names[each.key].name}:*",
      "arn:${local.partition}:rds:${var.region}:${local.account}:db:${local.env_names[each.key].name}",
      "arn:${local.partition}:rds:${var.region}:${local.account}:subgrp:${local.env_names[each.key].name}",
      "arn:${local.partition}:rds:${var.region}:${local.account}:snapshot:${local.env_names[each.key].name}-*",
      "arn:${local.partition}:ssm:${var.region}:${local.account}:parameter/${var.project}/${each.key}/*",
      "arn:${local.partition}:ssm:${var.region}:${local.account}:parameter/costctl/${local.env_names[each.key].costctl}/*",
      "arn:${local.partition}:lambda:${var.region}:${local.account}:function:${local.env_names[each.key].costctl}-*",
      "arn:${local.partition}:dynamodb:${var.region}:${local.account}:table/${local.env_names[each.key].costctl}",
      "arn:${local.partition}:scheduler:${var.region}:${local.account}:schedule-group/${local.env_names[each.key].costctl}",
      "arn:${local.partition}:scheduler:${var.region}:${local.account}:schedule/${local.env_names[each.key].costctl}/*",
      "arn:${local.partition}:sns:${var.region}:${local.account}:${local.env_names[each.key].costctl}-*",
      "arn:${local.partition}:sqs:${var.region}:${local.account}:${local.env_names[each.key].costctl}-*",
      "arn:${local.partition}:events:${var.region}:${local.account}:rule/${local.env_names[each.key].costctl}-*",
      "arn:${local.partition}:budgets::${local.account}:budget/${local.env_names[each.key].name}-*",
    ]
  }

  statement {
    sid     = "OwnLogsAlarmsSecretsTargetGroups"
    actions = ["cloudwatch:*", "elasticloadbalancing:*", "logs:*", "secretsmanager:*"]
    resources = [
      "arn:${local.partition}:logs:${var.region}:${local.account}:log-group:/ecs/${local.env_names[each.key].name}",
      "arn:${local.partition}:logs:${var.region}:${local.account}:log-group:/ecs/${local.env_names[each.key].name}:*",
      "arn:${local.partition}:logs:${var.region}:${local.account}:log-group:/aws/lambda/${local.env_names[each.key].costctl}-*",
      "arn:${local.partition}:cloudwatch:${var.region}:${local.account}:alarm:${local.env_names[each.key].costctl}-*",
      "arn:${local.partition}:secretsmanager:${var.region}:${local.account}:secret:${var.short_name}/rds/${each.key}/*",
      "arn:${local.partition}:elasticloadbalancing:${var.region}:${local.account}:targetgroup/${local.env_names[each.key].short}-*/*",
    ]
  }

}

# The private-network environment only (private_network_environment; env network_mode
# private-nat or private-endpoints): Elastic IPs, NAT gateways and VPC endpoints it creates with
# its Env tag, the routes of the private route tables, nothing else of the network.
locals {
  ec2_arn                  = "arn:${local.partition}:ec2:${var.region}:${local.account}"
  private_network_stage    = lookup(var.environments, coalesce(var.private_network_environment, "-"), null)
  private_network_deployer = contains(keys(local.deployer_subjects), coalesce(local.private_network_stage, "-")) ? { (var.private_network_environment) = local.private_network_stage } : {}
}

data "aws_iam_policy_document" "deployer_network" {
  for_each = local.private_network_deployer

  # Describe calls support no resource-level permissions ("*" only); read-only.
  statement {
    sid = "PrivateNetworkReads"
    actions = [
      "ec2:DescribeAddresses", "ec2:DescribeAddressesAttribute", "ec2:DescribeNatGateways", "ec2:DescribePrefixLists",
      "ec2:DescribeRouteTables", "ec2:DescribeVpcEndpointServices", "ec2:DescribeVpcEndpoints",
    ]
    resources = ["*"]
  }

  # Created only with the environment's Env tag (aws:RequestTag holds for every resource of the request).
  statement {
    sid       = "CreateTaggedEgress"
    actions   = ["ec2:AllocateAddress", "ec2:CreateNatGateway", "ec2:CreateVpcEndpoint"]
    resources = ["${local.ec2_arn}:elastic-ip/*", "${local.ec2_arn}:natgateway/*", "${local.ec2_arn}:vpc-endpoint/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:RequestTag/Env"
      values   = [each.key]
    }
  }

  statement {
    sid       = "TagOnCreate"
    actions   = ["ec2:CreateTags"]
    resources = ["${local.ec2_arn}:elastic-ip/*", "${local.ec2_arn}:natgateway/*", "${local.ec2_arn}:vpc-endpoint/*"]
    condition {
      test     = "StringEquals"
      variable = "ec2:CreateAction"
      values   = ["AllocateAddress", "CreateNatGateway", "CreateVpcEndpoint"]
    }
  }

  statement {
    sid       = "ManageTaggedEgress"
    actions   = ["ec2:CreateTags", "ec2:DeleteNatGateway", "ec2:DeleteTags", "ec2:DeleteVpcEndpoints", "ec2:ModifyVpcEndpoint"]
    resources = ["${local.ec2_arn}:elastic-ip/*", "${local.ec2_arn}:natgateway/*", "${local.ec2_arn}:vpc-endpoint/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Env"
      values   = [each.key]
    }
  }

  # A NAT gateway takes one of the environment's own Elastic IPs (and gives it back).
  statement {
    sid       = "OwnAddressesForNatGateways"
    actions   = ["ec2:CreateNatGateway", "ec2:DisassociateAddress", "ec2:ReleaseAddress"]
    resources = ["${local.ec2_arn}:elastic-ip/*"]
    condition {
      test     = "StringEquals"
      variable = "aws:ResourceTag/Env"
      values   = [each.key]
    }
  }

  # The subnets and security groups a NAT gateway or an endpoint is placed in: this VPC's.
  statement {
    sid       = "EgressInTheVpc"
    actions   = ["ec2:CreateNatGateway", "ec2:CreateVpcEndpoint", "ec2:ModifyVpcEndpoint"]
    resources = ["${local.ec2_arn}:subnet/*", "${local.ec2_arn}:security-group/*"]
    condition {
      test     = "ArnEquals"
      variable = "ec2:Vpc"
      values   = [local.vpc_arn]
    }
  }

  statement {
    sid       = "EndpointsInTheVpc"
    actions   = ["ec2:CreateVpcEndpoint"]
    resources = [local.vpc_arn]
  }

  # 0.0.0.0/0 → NAT gateway and the S3 gateway endpoint's prefix-list route: the private route
  # tables only (never the public one with the Internet gateway route).
  dynamic "statement" {
    for_each = length(local.private_route_table_ids) > 0 ? [1] : []
    content {
      sid       = "PrivateRouteTables"
      actions   = ["ec2:CreateRoute", "ec2:CreateVpcEndpoint", "ec2:DeleteRoute", "ec2:ModifyVpcEndpoint", "ec2:ReplaceRoute"]
      resources = [for rt in distinct(local.private_route_table_ids) : "${local.ec2_arn}:route-table/${rt}"]
    }
  }

  # An interface endpoint with private DNS associates the VPC with the endpoint's (AWS-owned)
  # private hosted zone in the caller's name.
  statement {
    sid       = "EndpointPrivateDns"
    actions   = ["route53:AssociateVPCWithHostedZone"]
    resources = ["arn:${local.partition}:route53:::hostedzone/*"]
  }
}

resource "aws_iam_policy" "deployer_network" {
  for_each = data.aws_iam_policy_document.deployer_network

  name        = "${var.short_name}-deployer-network-${each.key}"
  description = "Deployer ${local.private_network_deployer[each.key]}: the private network (NAT gateways, VPC endpoints, private routes) of environment ${each.key} (see infra/bootstrap/deployers.tf)"
  policy      = each.value.json
}

resource "aws_iam_policy" "deployer" {
  for_each = merge([for stage in keys(local.deployer_subjects) : {
    "${stage}-state"    = data.aws_iam_policy_document.deployer_state[stage].json
    "${stage}-iam"      = data.aws_iam_policy_document.deployer_iam[stage].json
    "${stage}-services" = data.aws_iam_policy_document.deployer_services[stage].json
  }]...)

  name        = "${var.short_name}-deployer-${each.key}"
  description = "Deployer ${each.key} (see infra/bootstrap/deployers.tf)"
  policy      = each.value
}

resource "aws_iam_policy" "deployer_environment" {
  for_each = data.aws_iam_policy_document.deployer_environment

  name        = "${var.short_name}-deployer-env-${each.key}"
  description = "Deployer ${var.environments[each.key]}: the resources of environment ${each.key} (see infra/bootstrap/deployers.tf)"
  policy      = each.value.json
}

resource "aws_iam_policy" "deployer_guardrails" {
  name        = "${var.short_name}-deployer-guardrails"
  description = "Explicit denies for both deployers: no IAM on protected roles/policies, no unbounded roles, no role assumption"
  policy      = data.aws_iam_policy_document.deployer_guardrails.json
}

locals {
  # Keys are static (policy names, not ARNs) so for_each works before the policies exist.
  deployer_attachments = merge([for stage in keys(local.deployer_subjects) : merge(
    { for part in ["state", "iam", "services"] : "${stage}|${part}" => { role = stage, policy_arn = aws_iam_policy.deployer["${stage}-${part}"].arn } },
    { "${stage}|guardrails" = { role = stage, policy_arn = aws_iam_policy.deployer_guardrails.arn } },
    { for e in local.stage_envs[stage] : "${stage}|env-${e}" => { role = stage, policy_arn = aws_iam_policy.deployer_environment[e].arn } },
    { for e, st in local.private_network_deployer : "${stage}|network-${e}" => { role = stage, policy_arn = aws_iam_policy.deployer_network[e].arn } if st == stage },
    { for i, arn in var.deployer_managed_policy_arns : "${stage}|managed-${i}" => { role = stage, policy_arn = arn } },
  )]...)
}

resource "aws_iam_role_policy_attachment" "deployer" {
  for_each = local.deployer_attachments

  role       = aws_iam_role.deployer[each.value.role].name
  policy_arn = each.value.policy_arn
}

# Estimated size of each managed policy as IAM counts it (compact JSON: Sid, Effect, Action,
# Resource, Condition, plus the envelope); the tests keep each under IAM's 6,144-character limit.
locals {
  policy_documents = merge(
    { for k, d in data.aws_iam_policy_document.boundary : "boundary-${k}" => d.statement },
    { for k, d in data.aws_iam_policy_document.deployer_environment : "env-${k}" => d.statement },
    { for k, d in data.aws_iam_policy_document.deployer_network : "network-${k}" => d.statement },
    { for k, d in data.aws_iam_policy_document.deployer_services : "${k}-services" => d.statement },
    { for k, d in data.aws_iam_policy_document.deployer_iam : "${k}-iam" => d.statement },
    { for k, d in data.aws_iam_policy_document.deployer_state : "${k}-state" => d.statement },
    { guardrails = data.aws_iam_policy_document.deployer_guardrails.statement },
  )
  policy_sizes = { for name, statements in local.policy_documents : name => 40 + length(jsonencode([for st in statements : {
    Sid       = st.sid, Effect = "Allow", Action = st.actions, Resource = st.resources,
    Condition = { for c in st.condition : c.test => { (c.variable) = c.values }... }
  }])) }
}
