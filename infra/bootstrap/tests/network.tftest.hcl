# The bootstrap network with a mocked AWS provider: a route table per private subnet (where the
# private-network environment adds its NAT route or S3 gateway endpoint), the zones and CIDRs the
# env root places NAT gateways and endpoints by, an existing network passed through, and the
# deployer permissions of the one environment that may use the private network modes.
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
  mock_data "aws_subnet" {
    defaults = { availability_zone = "eu-west-1a", cidr_block = "10.0.0.0/24" }
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

run "each_private_subnet_gets_its_own_route_table" {
  command = apply

  assert {
    condition = length(aws_route_table.private) == 2 && alltrue([for i in range(2) :
      aws_route_table_association.private[i].subnet_id == aws_subnet.private[i].id &&
      aws_route_table_association.private[i].route_table_id == aws_route_table.private[i].id &&
      aws_route_table.private[i].vpc_id == aws_vpc.this[0].id && aws_subnet.private[i].availability_zone == ["eu-west-1a", "eu-west-1b"][i]
    ])
    error_message = "a route table per private subnet (per zone), associated with it"
  }
  assert {
    condition     = output.private_route_table_ids == tolist(aws_route_table.private[*].id) && output.private_subnet_ids == tolist(aws_subnet.private[*].id)
    error_message = "private_route_table_ids are in the order of private_subnet_ids"
  }
  assert {
    condition = output.subnet_azs == tomap({
      (aws_subnet.public[0].id)  = "eu-west-1a", (aws_subnet.public[1].id) = "eu-west-1b",
      (aws_subnet.private[0].id) = "eu-west-1a", (aws_subnet.private[1].id) = "eu-west-1b",
    })
    error_message = "subnet_azs maps every subnet to its zone"
  }
  assert {
    condition     = output.public_subnet_cidrs == tolist(["10.40.0.0/20", "10.40.16.0/20"])
    error_message = "public_subnet_cidrs are the public subnets' CIDRs, in order"
  }
  assert {
    condition     = output.private_network_environment == null && length(data.aws_iam_policy_document.deployer_network) == 0 && length(aws_iam_policy.deployer_network) == 0
    error_message = "by default no environment may use the private network modes, and no deployer may change the network"
  }
}

run "an_existing_network_passes_its_route_tables_and_zones" {
  command = apply

  variables {
    create_vpc                  = false
    vpc_id                      = "vpc-0fedcba9876543210"
    public_subnet_ids           = ["subnet-0aaa", "subnet-0bbb"]
    private_subnet_ids          = ["subnet-0ccc", "subnet-0ddd"]
    private_route_table_ids     = ["rtb-0111", "rtb-0222"]
    private_network_environment = "staging"
  }

  assert {
    condition     = length(aws_route_table.private) == 0 && output.private_route_table_ids == tolist(["rtb-0111", "rtb-0222"])
    error_message = "an existing network's private route tables are passed through"
  }
  assert {
    condition     = keys(output.subnet_azs) == tolist(["subnet-0aaa", "subnet-0bbb", "subnet-0ccc", "subnet-0ddd"]) && output.subnet_azs["subnet-0ccc"] == "eu-west-1a" && output.public_subnet_cidrs == tolist(["10.0.0.0/24", "10.0.0.0/24"])
    error_message = "an existing network's zones and public CIDRs are read from its subnets"
  }
  assert {
    condition = toset(one([for s in data.aws_iam_policy_document.deployer_network["staging"].statement : s.resources if s.sid == "PrivateRouteTables"])) == toset([
      "arn:aws:ec2:eu-west-1:123456789012:route-table/rtb-0111", "arn:aws:ec2:eu-west-1:123456789012:route-table/rtb-0222",
    ])
    error_message = "the deployer may change routes of the private route tables only"
  }
}

run "only_the_private_network_environment_deployer_may_change_the_network" {
  command = apply

  variables {
    private_network_environment = "prod"
  }

  assert {
    condition     = length(data.aws_iam_policy_document.deployer_network) == 1 && contains(keys(data.aws_iam_policy_document.deployer_network), "prod") && contains(keys(local.deployer_attachments), "prod|network-prod") && length([for k in keys(local.deployer_attachments) : k if startswith(k, "dev|network")]) == 0
    error_message = "only the PROD deployer gets the network policy of prod"
  }
  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.deployer_network["prod"].statement :
      anytrue([for c in s.condition : c.variable == "aws:RequestTag/Env" && c.values == tolist(["prod"])])
      if anytrue([for a in s.actions : contains(["ec2:AllocateAddress", "ec2:CreateNatGateway", "ec2:CreateVpcEndpoint"], a)]) && anytrue([for r in s.resources : endswith(r, ":natgateway/*") || endswith(r, ":vpc-endpoint/*")])
    ])
    error_message = "NAT gateways, Elastic IPs and endpoints are created only with Env = prod"
  }
  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.deployer_network["prod"].statement :
      anytrue([for c in s.condition : c.variable == "aws:ResourceTag/Env" && c.values == tolist(["prod"])])
      if anytrue([for a in s.actions : contains(["ec2:DeleteNatGateway", "ec2:ReleaseAddress", "ec2:DeleteVpcEndpoints", "ec2:ModifyVpcEndpoint"], a)]) && anytrue([for r in s.resources : endswith(r, "/*")]) && !anytrue([for r in s.resources : strcontains(r, ":subnet/") || strcontains(r, ":route-table/")])
    ])
    error_message = "the deployer deletes or changes only NAT gateways, addresses and endpoints tagged Env = prod"
  }
  assert {
    condition = toset(one([for s in data.aws_iam_policy_document.deployer_network["prod"].statement : s.resources if s.sid == "PrivateRouteTables"])) == toset(
      [for rt in aws_route_table.private[*].id : "arn:aws:ec2:eu-west-1:123456789012:route-table/${rt}"]
    ) && !contains(one([for s in data.aws_iam_policy_document.deployer_network["prod"].statement : s.resources if s.sid == "PrivateRouteTables"]), "arn:aws:ec2:eu-west-1:123456789012:route-table/${aws_route_table.public[0].id}")
    error_message = "routes may be changed in the private route tables only, never in the public one"
  }
  assert {
    condition     = local.policy_sizes["network-prod"] < 6144
    error_message = "the network policy stays under IAM's 6,144-character limit"
  }
}

run "rejects_route_tables_that_do_not_match_the_private_subnets" {
  command = plan
  variables {
    create_vpc              = false
    vpc_id                  = "vpc-0fedcba9876543210"
    public_subnet_ids       = ["subnet-0aaa", "subnet-0bbb"]
    private_subnet_ids      = ["subnet-0ccc", "subnet-0ddd"]
    private_route_table_ids = ["rtb-0111"]
  }
  expect_failures = [var.private_route_table_ids]
}

run "rejects_an_unknown_private_network_environment" {
  command = plan
  variables {
    private_network_environment = "qa"
  }
  expect_failures = [var.private_network_environment]
}

# costctl owns the private-network environment's NAT gateways, their routes and its interface
# endpoints (env ephemeral tier): its stage's workload boundary lets them through, tagged with
# that environment's Env, and the private route tables only; no other stage's boundary does.
run "only_the_private_network_environments_boundary_admits_its_egress" {
  command = apply

  variables {
    private_network_environment = "prod"
  }

  assert {
    condition = length([for s in data.aws_iam_policy_document.boundary["dev"].statement : s if startswith(s.sid, "PrivateNetwork")]) == 0 && toset([
      for s in data.aws_iam_policy_document.boundary["prod"].statement : s.sid if startswith(s.sid, "PrivateNetwork")
    ]) == toset(["PrivateNetworkCreate", "PrivateNetworkTagged", "PrivateNetworkRoutes"])
    error_message = "only the PROD boundary (prod is the private-network environment) admits NAT gateways, routes and interface endpoints"
  }
  assert {
    condition = alltrue([for s in data.aws_iam_policy_document.boundary["prod"].statement :
      anytrue([for c in s.condition : c.variable == (s.sid == "PrivateNetworkCreate" ? "aws:RequestTag/Env" : "aws:ResourceTag/Env") && toset(c.values) == toset(["prod"])])
    if contains(["PrivateNetworkCreate", "PrivateNetworkTagged"], s.sid)])
    error_message = "NAT gateways and endpoints are created with Env = prod only, and deleted (an Elastic IP used) only when tagged Env = prod"
  }
  assert {
    condition = toset(one([for s in data.aws_iam_policy_document.boundary["prod"].statement : s.resources if s.sid == "PrivateNetworkRoutes"])) == toset(
      [for rt in aws_route_table.private[*].id : "arn:aws:ec2:eu-west-1:123456789012:route-table/${rt}"]
    ) && !anytrue([for s in data.aws_iam_policy_document.boundary["prod"].statement : contains(s.resources, "arn:aws:ec2:eu-west-1:123456789012:route-table/${aws_route_table.public[0].id}")])
    error_message = "costctl's routes: the private route tables only, never the public one"
  }
  assert {
    condition     = local.policy_sizes["boundary-prod"] < 6144 && local.policy_sizes["boundary-dev"] < 6144
    error_message = "the boundaries stay under IAM's 6,144-character limit: ${jsonencode(local.policy_sizes)}"
  }
}

# The default environments with dev as the private-network environment: the DEV boundary (dev,
# staging and dev's egress) still fits.
run "a_dev_private_network_environment_fits_the_dev_boundary" {
  command = apply

  variables {
    private_network_environment = "dev"
  }

  assert {
    condition     = length([for s in data.aws_iam_policy_document.boundary["dev"].statement : s if startswith(s.sid, "PrivateNetwork")]) == 3 && local.policy_sizes["boundary-dev"] < 6144
    error_message = "the DEV boundary admits dev's egress and stays under IAM's 6,144-character limit: ${jsonencode(local.policy_sizes)}"
  }
}
