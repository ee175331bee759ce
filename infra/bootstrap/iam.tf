# Base IAM: the ECS execution role shared by the environments, GitHub OIDC and the deployer roles.

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
  name               = "${var.short_name}-ecs-execution"
  description        = "ECS task execution: image pulls, logs; each environment adds read access to its own secrets"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

resource "aws_iam_role_policy_attachment" "ecs_execution" {
  role       = aws_iam_role.ecs_execution.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

# PassRole, limited by role name and by the service the role is passed to.
data "aws_iam_policy_document" "pass_role" {
  statement {
    sid     = "PassTaskRolesToEcsTasks"
    actions = ["iam:PassRole"]
    resources = [
      "arn:${local.partition}:iam::${local.account}:role/${var.short_name}-*",
      "arn:${local.partition}:iam::${local.account}:role/${var.project}-*",
    ]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  statement {
    sid       = "PassCostctlRolesToLambdaAndScheduler"
    actions   = ["iam:PassRole"]
    resources = ["arn:${local.partition}:iam::${local.account}:role/costctl-*"]
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["lambda.amazonaws.com", "scheduler.amazonaws.com"]
    }
  }
}

resource "aws_iam_policy" "pass_role" {
  name        = "${var.short_name}-pass-role"
  description = "PassRole for ECS task roles (to ecs-tasks.amazonaws.com) and costctl roles (to Lambda and Scheduler)"
  policy      = data.aws_iam_policy_document.pass_role.json
}

# What the env root creates in IAM, limited to the project's role and policy names.
data "aws_iam_policy_document" "deployer_iam" {
  statement {
    sid = "ManageProjectRoles"
    actions = [
      "iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:UpdateRole", "iam:UpdateAssumeRolePolicy",
      "iam:TagRole", "iam:UntagRole", "iam:ListRoleTags", "iam:ListRolePolicies", "iam:ListAttachedRolePolicies",
      "iam:PutRolePolicy", "iam:GetRolePolicy", "iam:DeleteRolePolicy", "iam:ListInstanceProfilesForRole",
    ]
    resources = [
      "arn:${local.partition}:iam::${local.account}:role/${var.short_name}-*",
      "arn:${local.partition}:iam::${local.account}:role/${var.project}-*",
      "arn:${local.partition}:iam::${local.account}:role/costctl-*",
    ]
  }
}

resource "aws_iam_policy" "deployer_iam" {
  name        = "${var.short_name}-deployer-iam"
  description = "IAM the environments need, limited to the project's role names"
  policy      = data.aws_iam_policy_document.deployer_iam.json
}

resource "aws_iam_openid_connect_provider" "github" {
  count = var.github_repository != null && var.create_github_oidc_provider ? 1 : 0

  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
}

locals {
  github_oidc_arn = var.github_repository == null ? null : (
    var.create_github_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn :
    "arn:${local.partition}:iam::${local.account}:oidc-provider/token.actions.githubusercontent.com"
  )

  deployer_subjects = var.github_repository == null ? {} : {
    dev = concat(
      [for b in var.dev_branches : "repo:${var.github_repository}:ref:refs/heads/${b}"],
      [for e in var.dev_environments : "repo:${var.github_repository}:environment:${e}"],
    )
    prod = ["repo:${var.github_repository}:ref:refs/tags/${var.prod_tag_pattern}"]
  }

  # Keys are static (policy names, not ARNs) so for_each works before the policies exist.
  deployer_policies = merge(
    { for i, arn in var.deployer_managed_policy_arns : "managed-${i}" => arn },
    { pass-role = aws_iam_policy.pass_role.arn, deployer-iam = aws_iam_policy.deployer_iam.arn },
  )
  deployer_attachments = { for pair in setproduct(keys(local.deployer_subjects), keys(local.deployer_policies)) :
    "${pair[0]}|${pair[1]}" => { role = pair[0], policy_arn = local.deployer_policies[pair[1]] }
  }
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
      test     = "StringLike"
      variable = "token.actions.githubusercontent.com:sub"
      values   = each.value
    }
  }
}

resource "aws_iam_role" "deployer" {
  for_each = local.deployer_subjects

  name                 = "${var.short_name}-deployer-${each.key}"
  description          = "GitHub Actions deployer (${upper(each.key)})"
  assume_role_policy   = data.aws_iam_policy_document.deployer_assume[each.key].json
  max_session_duration = 3600
}

resource "aws_iam_role_policy_attachment" "deployer" {
  for_each = local.deployer_attachments

  role       = aws_iam_role.deployer[each.value.role].name
  policy_arn = each.value.policy_arn
}
