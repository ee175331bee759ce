variable "region" {
  description = "AWS region of the whole stack."
  type        = string
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region such as eu-west-1."
  }
}

variable "project" {
  description = "Project name: tag `Project` and prefix of the environments' resources (`<project>-<env>`)."
  type        = string
  default     = "order-tracking"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.project))
    error_message = "project must be 2-31 lower-case letters, digits and '-'."
  }
}

variable "short_name" {
  description = "Short prefix of bootstrap resources (`<short_name>-*`) and of name-limited ones (ALB, target groups, MSK)."
  type        = string
  default     = "ot"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,7}$", var.short_name))
    error_message = "short_name must be 2-8 lower-case letters or digits."
  }
}

variable "owner" {
  description = "Tag `Owner` of every resource."
  type        = string
  default     = "egobb"
}

variable "state_bucket_name" {
  description = "Name of the S3 bucket for Terraform state. Default: `<short_name>-tf-state-<account id>` (bucket names are global)."
  type        = string
  default     = null

  validation {
    condition     = var.state_bucket_name == null ? true : can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket_name))
    error_message = "state_bucket_name must be a valid S3 bucket name."
  }
}

variable "lock_table_name" {
  description = "Name of the DynamoDB table for Terraform state locks."
  type        = string
  default     = "ot-tf-locks"
}

variable "github_repository" {
  description = "GitHub repository (`owner/name`) whose Actions may assume the deployer roles. Null skips OIDC and the deployer roles."
  type        = string
  default     = null

  validation {
    condition     = var.github_repository == null ? true : can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must look like owner/name."
  }
}

variable "create_github_oidc_provider" {
  description = "Create the token.actions.githubusercontent.com OIDC provider (false when the account already has one)."
  type        = bool
  default     = true
}

variable "dev_branches" {
  description = "Branch patterns (GitHub `ref` globs) allowed to deploy DEV, in addition to the GitHub environments in dev_environments."
  type        = list(string)
  default     = ["main", "develop", "feature/*"]
}

variable "dev_environments" {
  description = "GitHub Actions environments allowed to assume the DEV deployer role."
  type        = list(string)
  default     = ["dev", "staging"]

  validation {
    condition     = !contains(var.dev_environments, var.prod_github_environment) && alltrue([for e in var.dev_environments : !strcontains(e, "*")])
    error_message = "dev_environments must not contain the PROD GitHub environment (prod_github_environment) nor wildcards."
  }
}

variable "prod_github_environment" {
  description = "GitHub Actions environment whose jobs may assume the PROD deployer role (sub `repo:OWNER/REPO:environment:NAME`). Protect it in GitHub: required reviewers and a deployment rule for tags matching prod_tag_pattern."
  type        = string
  default     = "prod"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+$", var.prod_github_environment))
    error_message = "prod_github_environment must be a GitHub environment name (letters, digits, '_', '.', '-'; no wildcards)."
  }
}

variable "prod_tag_pattern" {
  description = "Git tag pattern of releases: the build role may push images from these tags, and the PROD GitHub environment should allow only them (its deployment rule)."
  type        = string
  default     = "v*"
}

variable "environments" {
  description = "Environments (env workspaces) and the deployer stage (`dev` or `prod`) that may deploy each. Each gets its own ECS execution role; each stage its own permissions boundary, which names its environments and fits up to three of them in IAM's 6,144-character policy limit (two when one of them is the private_network_environment, whose NAT gateways and endpoints it admits too; tests/iam.tftest.hcl, tests/network.tftest.hcl)."
  type        = map(string)
  default     = { dev = "dev", staging = "dev", prod = "prod" }

  validation {
    condition     = alltrue([for e, s in var.environments : can(regex("^[a-z][a-z0-9]{1,9}$", e)) && contains(["dev", "prod"], s)])
    error_message = "environments maps 2-10 character lower-case names (letters, digits) to the stage dev or prod."
  }
}

variable "deployer_managed_policy_arns" {
  description = "Extra managed policies for both deployer roles (default none). The guardrail denies (no IAM on protected roles, no unbounded role, no role assumption) hold whatever they grant."
  type        = list(string)
  default     = []
}

variable "ecr_image_tag_mutability" {
  description = "Tag mutability of the ECR repository."
  type        = string
  default     = "IMMUTABLE"

  validation {
    condition     = contains(["MUTABLE", "IMMUTABLE"], var.ecr_image_tag_mutability)
    error_message = "ecr_image_tag_mutability must be MUTABLE or IMMUTABLE."
  }
}

variable "ecr_untagged_expiry_days" {
  description = "Untagged images older than this are expired by the ECR lifecycle policy."
  type        = number
  default     = 14

  validation {
    condition     = var.ecr_untagged_expiry_days >= 1
    error_message = "ecr_untagged_expiry_days must be at least 1."
  }
}

variable "create_vpc" {
  description = "Create the VPC (public and private subnets over two AZs, a route table per private subnet, no NAT). With false, pass vpc_id, public_subnet_ids and private_subnet_ids (and private_route_table_ids for the env private network modes) of an existing network."
  type        = bool
  default     = true
}

variable "vpc_cidr" {
  description = "CIDR of the VPC when create_vpc is true; subnets are /20s carved from it."
  type        = string
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) <= 20
    error_message = "vpc_cidr must be an IPv4 CIDR of /20 or larger."
  }
}

variable "vpc_id" {
  description = "Existing VPC (create_vpc = false)."
  type        = string
  default     = null

  validation {
    condition     = var.create_vpc || can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "With create_vpc = false, vpc_id must be an existing VPC id (vpc-...)."
  }
}

variable "public_subnet_ids" {
  description = "Existing public subnets in two AZs or more (create_vpc = false)."
  type        = list(string)
  default     = []
}

variable "private_subnet_ids" {
  description = "Existing private subnets in two AZs or more (create_vpc = false)."
  type        = list(string)
  default     = []

  validation {
    condition     = var.create_vpc || (length(var.private_subnet_ids) >= 2 && length(var.public_subnet_ids) >= 2)
    error_message = "With create_vpc = false, pass at least two public and two private subnets (ALB and MSK Serverless need two AZs)."
  }
}

variable "private_route_table_ids" {
  description = "Existing network (create_vpc = false): the route table of each private subnet, in the order of private_subnet_ids (repeat an id for subnets that share one). The env private network modes add their NAT route or S3 gateway endpoint to them, so they must not already route 0.0.0.0/0 or S3 elsewhere. Empty: only network_mode = public is possible."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.private_route_table_ids : can(regex("^rtb-[0-9a-f]+$", id))]) && (length(var.private_route_table_ids) == 0 || length(var.private_route_table_ids) == length(var.private_subnet_ids))
    error_message = "private_route_table_ids: route table ids (rtb-...), one per private subnet in the order of private_subnet_ids, or none."
  }
}

variable "private_network_environment" {
  description = "The one environment whose tasks may leave the public subnets (env network_mode = private-nat or private-endpoints). Its NAT routes go into the shared private route tables and its interface endpoints' private DNS names answer for the whole VPC, so a second environment would collide with it; the others keep network_mode = public. Null: none."
  type        = string
  default     = null

  validation {
    condition     = var.private_network_environment == null || contains(keys(var.environments), coalesce(var.private_network_environment, "-"))
    error_message = "private_network_environment must be one of the environments (var.environments), or null."
  }
}

variable "create_service_linked_roles" {
  description = "Create the service-linked roles of Elastic Load Balancing and MSK. costctl creates ALBs and MSK clusters but may not create service-linked roles; set false if the account already has them."
  type        = bool
  default     = true
}
