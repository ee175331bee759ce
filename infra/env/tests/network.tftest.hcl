# network_mode (network_private.tf) with a mocked AWS provider and a faked bootstrap state: where
# the tasks run, the NAT gateways and routes of private-nat, the endpoints of private-endpoints
# (derived from the task definition), and the validation of the mode and of its conflicts.
# Run: terraform init -backend=false && terraform test

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
  # Real ARN shapes, so that the tests can read the service out of secrets[].valueFrom.
  mock_resource "aws_secretsmanager_secret" {
    defaults = { arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:ot/rds/dev/postgres-AbCdEf" }
  }
  mock_resource "aws_ssm_parameter" {
    defaults = { arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/order-tracking/dev/kafka_bootstrap" }
  }
  mock_resource "aws_vpc_endpoint" {
    defaults = { prefix_list_id = "pl-6da54004" }
  }
}

# The bootstrap network: two zones, a public and a private subnet in each, a route table per
# private subnet; dev may use the private modes.
override_data {
  target = data.terraform_remote_state.bootstrap
  values = {
    outputs = {
      region                      = "eu-west-1"
      project                     = "order-tracking"
      short_name                  = "ot"
      owner                       = "egobb"
      vpc_id                      = "vpc-0123456789abcdef0"
      public_subnet_ids           = ["subnet-0aaa", "subnet-0bbb"]
      private_subnet_ids          = ["subnet-0ccc", "subnet-0ddd"]
      private_route_table_ids     = ["rtb-0ccc", "rtb-0ddd"]
      subnet_azs                  = { subnet-0aaa = "eu-west-1a", subnet-0bbb = "eu-west-1b", subnet-0ccc = "eu-west-1a", subnet-0ddd = "eu-west-1b" }
      public_subnet_cidrs         = ["10.40.0.0/20", "10.40.16.0/20"]
      private_network_environment = "dev"
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
  state_bucket            = "ot-tf-state-123456789012"
  image_tag               = "1.0.0"
  lambda_zip_path         = "../modules/costctl/tests/fixtures/bootstrap.zip"
  allow_default_workspace = true
  environment             = "dev"
}

run "public_mode_creates_no_nat_and_no_endpoint" {
  command = plan

  assert {
    condition     = length(aws_nat_gateway.this) == 0 && length(aws_eip.nat) == 0 && length(aws_route.private_nat) == 0
    error_message = "public mode: no NAT gateway, no Elastic IP, no route"
  }
  assert {
    condition     = length(aws_vpc_endpoint.interface) == 0 && length(aws_vpc_endpoint.s3) == 0 && length(aws_security_group.endpoints) == 0
    error_message = "public mode: no VPC endpoint and no endpoint security group"
  }
  assert {
    condition     = aws_ecs_service.app.network_configuration[0].assign_public_ip && aws_ecs_service.app.network_configuration[0].subnets == toset(["subnet-0aaa", "subnet-0bbb"])
    error_message = "public mode: the tasks run in the public subnets with public IPs"
  }
  assert {
    condition     = length(aws_vpc_security_group_egress_rule.ecs_https) == 1 && aws_vpc_security_group_egress_rule.ecs_https[0].cidr_ipv4 == "0.0.0.0/0"
    error_message = "public mode: the tasks reach AWS APIs through the Internet gateway (443 anywhere)"
  }
}

run "private_nat_one_per_az" {
  command = apply

  variables {
    network_mode = "private-nat"
  }

  assert {
    condition     = keys(aws_nat_gateway.this) == ["eu-west-1a", "eu-west-1b"] && keys(aws_eip.nat) == ["eu-west-1a", "eu-west-1b"]
    error_message = "one-per-az: a NAT gateway and an Elastic IP in each zone of the private subnets"
  }
  assert {
    condition = alltrue([for az, subnet in { eu-west-1a = "subnet-0aaa", eu-west-1b = "subnet-0bbb" } :
      aws_nat_gateway.this[az].subnet_id == subnet && aws_nat_gateway.this[az].allocation_id == aws_eip.nat[az].id &&
      aws_nat_gateway.this[az].connectivity_type == "public" && aws_eip.nat[az].domain == "vpc"
    ])
    error_message = "each NAT gateway is public, sits in its zone's public subnet and uses its own VPC Elastic IP"
  }
  assert {
    condition = keys(aws_route.private_nat) == ["rtb-0ccc", "rtb-0ddd"] && alltrue([for rt, az in { rtb-0ccc = "eu-west-1a", rtb-0ddd = "eu-west-1b" } :
      aws_route.private_nat[rt].route_table_id == rt && aws_route.private_nat[rt].destination_cidr_block == "0.0.0.0/0" &&
      aws_route.private_nat[rt].nat_gateway_id == aws_nat_gateway.this[az].id
    ])
    error_message = "0.0.0.0/0 of each private route table goes to the NAT gateway of its own zone"
  }
  assert {
    condition     = !aws_ecs_service.app.network_configuration[0].assign_public_ip && aws_ecs_service.app.network_configuration[0].subnets == toset(["subnet-0ccc", "subnet-0ddd"])
    error_message = "private-nat: the tasks run in the private subnets without public IPs"
  }
  assert {
    condition     = length(aws_vpc_endpoint.interface) == 0 && length(aws_vpc_endpoint.s3) == 0
    error_message = "private-nat: no VPC endpoint"
  }
  assert {
    condition = alltrue([for r in concat(values(aws_nat_gateway.this), values(aws_eip.nat)) :
    r.tags.Project == "order-tracking" && r.tags.Env == "dev" && r.tags.Owner == "egobb" && r.tags.ManagedBy == "terraform"])
    error_message = "NAT gateways and Elastic IPs carry the stack's tags (costctl finds them by Project and Env)"
  }
  assert {
    condition     = output.nat_gateway_ids == { for az, n in aws_nat_gateway.this : az => n.id } && output.network_mode.mode == "private-nat" && !output.network_mode.assign_public_ip
    error_message = "outputs: NAT gateways by zone, the mode"
  }
}

run "private_nat_single" {
  command = apply

  variables {
    network_mode = "private-nat"
    nat_gateways = "single"
  }

  assert {
    condition     = keys(aws_nat_gateway.this) == ["eu-west-1a"] && length(aws_eip.nat) == 1 && aws_nat_gateway.this["eu-west-1a"].subnet_id == "subnet-0aaa"
    error_message = "single: one NAT gateway (and one Elastic IP), in the first zone's public subnet"
  }
  assert {
    condition     = keys(aws_route.private_nat) == ["rtb-0ccc", "rtb-0ddd"] && alltrue([for r in values(aws_route.private_nat) : r.nat_gateway_id == aws_nat_gateway.this["eu-west-1a"].id && r.destination_cidr_block == "0.0.0.0/0"])
    error_message = "single: every private route table sends 0.0.0.0/0 to the one NAT gateway"
  }
  assert {
    condition     = !aws_ecs_service.app.network_configuration[0].assign_public_ip
    error_message = "single: the tasks have no public IP"
  }
}

run "private_endpoints" {
  command = apply

  variables {
    network_mode = "private-endpoints"
  }

  assert {
    condition = (length(aws_vpc_endpoint.s3) == 1 && aws_vpc_endpoint.s3[0].vpc_endpoint_type == "Gateway" && aws_vpc_endpoint.s3[0].service_name == "com.amazonaws.eu-west-1.s3" &&
    aws_vpc_endpoint.s3[0].route_table_ids == toset(["rtb-0ccc", "rtb-0ddd"]) && aws_vpc_endpoint.s3[0].vpc_id == "vpc-0123456789abcdef0")
    error_message = "an S3 gateway endpoint on the private route tables"
  }
  assert {
    condition     = keys(aws_vpc_endpoint.interface) == ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssm"]
    error_message = "exactly the interface endpoints the task definition needs: ECR (api, dkr), CloudWatch Logs, Secrets Manager, SSM"
  }
  assert {
    condition = alltrue([for s, e in aws_vpc_endpoint.interface :
      e.vpc_endpoint_type == "Interface" && e.private_dns_enabled && e.service_name == "com.amazonaws.eu-west-1.${s}" && e.vpc_id == "vpc-0123456789abcdef0" &&
      e.subnet_ids == toset(["subnet-0ccc", "subnet-0ddd"]) && e.security_group_ids == toset([aws_security_group.endpoints[0].id])
    ])
    error_message = "each interface endpoint: private DNS, an ENI in each private subnet (one per zone), the endpoint security group"
  }
  assert {
    condition = (length(aws_vpc_security_group_ingress_rule.endpoints_from_tasks) == 1 &&
      aws_vpc_security_group_ingress_rule.endpoints_from_tasks[0].security_group_id == aws_security_group.endpoints[0].id &&
      aws_vpc_security_group_ingress_rule.endpoints_from_tasks[0].referenced_security_group_id == aws_security_group.ecs.id &&
      aws_vpc_security_group_ingress_rule.endpoints_from_tasks[0].ip_protocol == "tcp" &&
    aws_vpc_security_group_ingress_rule.endpoints_from_tasks[0].from_port == 443 && aws_vpc_security_group_ingress_rule.endpoints_from_tasks[0].to_port == 443)
    error_message = "the endpoint security group admits HTTPS (443) from the tasks' security group"
  }
  # The VPC is shared with staging and prod (bootstrap environments), whose tasks run in the
  # public subnets and resolve the same private DNS names: their subnets, 443 only, nothing else.
  assert {
    condition = (toset([for r in values(aws_vpc_security_group_ingress_rule.endpoints_from_public_subnets) : r.cidr_ipv4]) == toset(["10.40.0.0/20", "10.40.16.0/20"]) &&
    alltrue([for r in values(aws_vpc_security_group_ingress_rule.endpoints_from_public_subnets) : r.from_port == 443 && r.to_port == 443 && r.ip_protocol == "tcp" && r.security_group_id == aws_security_group.endpoints[0].id]))
    error_message = "in a shared VPC the endpoints admit 443 from the public subnets' CIDRs (the other environments' tasks) and from nowhere else"
  }
  assert {
    condition     = length(aws_vpc_security_group_egress_rule.ecs_https) == 0 && aws_vpc_security_group_egress_rule.ecs_to_endpoints[0].referenced_security_group_id == aws_security_group.endpoints[0].id && aws_vpc_security_group_egress_rule.ecs_to_s3[0].prefix_list_id == "pl-6da54004"
    error_message = "private-endpoints: the tasks' HTTPS goes only to the endpoints and to S3's prefix list (no 0.0.0.0/0)"
  }
  assert {
    condition     = length(aws_nat_gateway.this) == 0 && length(aws_eip.nat) == 0 && length(aws_route.private_nat) == 0
    error_message = "private-endpoints: no NAT gateway"
  }
  assert {
    condition     = !aws_ecs_service.app.network_configuration[0].assign_public_ip && aws_ecs_service.app.network_configuration[0].subnets == toset(["subnet-0ccc", "subnet-0ddd"])
    error_message = "private-endpoints: the tasks run in the private subnets without public IPs"
  }
  assert {
    condition = alltrue([for r in concat(values(aws_vpc_endpoint.interface), aws_vpc_endpoint.s3, aws_security_group.endpoints) :
    r.tags.Project == "order-tracking" && r.tags.Env == "dev" && r.tags.Owner == "egobb" && r.tags.ManagedBy == "terraform"])
    error_message = "endpoints and their security group carry the stack's tags"
  }
  assert {
    condition     = keys(output.vpc_endpoint_ids) == ["ecr.api", "ecr.dkr", "logs", "s3", "secretsmanager", "ssm"]
    error_message = "output vpc_endpoint_ids lists every endpoint by service"
  }
}

run "interface_endpoints_follow_the_task_definition" {
  command = apply

  variables {
    network_mode = "private-endpoints"
  }

  assert {
    condition     = alltrue([for s in jsondecode(aws_ecs_task_definition.app.container_definitions)[0].secrets : contains(keys(aws_vpc_endpoint.interface), split(":", s.valueFrom)[2])])
    error_message = "every service a secrets[].valueFrom ARN names has an interface endpoint"
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.app.container_definitions)[0].logConfiguration.logDriver == "awslogs" && contains(keys(aws_vpc_endpoint.interface), "logs")
    error_message = "the awslogs log driver has the logs endpoint"
  }
  assert {
    condition     = strcontains(jsondecode(aws_ecs_task_definition.app.container_definitions)[0].image, ".dkr.ecr.eu-west-1.amazonaws.com/") && contains(keys(aws_vpc_endpoint.interface), "ecr.api") && contains(keys(aws_vpc_endpoint.interface), "ecr.dkr") && length(aws_vpc_endpoint.s3) == 1
    error_message = "an image in ECR has ecr.api, ecr.dkr and the S3 gateway endpoint (layers)"
  }
}

run "private_endpoints_without_msk_need_no_ssm" {
  command = plan

  variables {
    network_mode = "private-endpoints"
    enable_msk   = false
  }

  assert {
    condition     = keys(aws_vpc_endpoint.interface) == ["ecr.api", "ecr.dkr", "logs", "secretsmanager"]
    error_message = "without MSK no secret comes from SSM: no ssm endpoint"
  }
}

run "app_interface_endpoints_add_to_the_derived_ones" {
  command = plan

  variables {
    network_mode            = "private-endpoints"
    app_interface_endpoints = ["sts", "logs"]
  }

  assert {
    condition     = keys(aws_vpc_endpoint.interface) == ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssm", "sts"]
    error_message = "app_interface_endpoints add endpoints (once each)"
  }
}

run "endpoints_admit_only_the_tasks_in_a_vpc_of_their_own" {
  command = plan

  variables {
    network_mode = "private-endpoints"
  }

  override_data {
    target = data.terraform_remote_state.bootstrap
    values = {
      outputs = {
        region                      = "eu-west-1"
        project                     = "order-tracking"
        short_name                  = "ot"
        owner                       = "egobb"
        vpc_id                      = "vpc-0123456789abcdef0"
        public_subnet_ids           = ["subnet-0aaa", "subnet-0bbb"]
        private_subnet_ids          = ["subnet-0ccc", "subnet-0ddd"]
        private_route_table_ids     = ["rtb-0ccc", "rtb-0ddd"]
        subnet_azs                  = { subnet-0aaa = "eu-west-1a", subnet-0bbb = "eu-west-1b", subnet-0ccc = "eu-west-1a", subnet-0ddd = "eu-west-1b" }
        public_subnet_cidrs         = ["10.40.0.0/20", "10.40.16.0/20"]
        private_network_environment = "dev"
        ecs_execution_role_arns     = { dev = "arn:aws:iam::123456789012:role/ot-ecs-execution-dev" }
        permissions_boundary_arns   = { dev = "arn:aws:iam::123456789012:policy/ot-workload-boundary-dev" }
        environments                = { dev = "dev" }
        ecr_repository_url          = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/order-tracking"
      }
    }
  }

  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.endpoints_from_public_subnets) == 0 && length(aws_vpc_security_group_ingress_rule.endpoints_from_tasks) == 1
    error_message = "with no other environment in the VPC the endpoints admit the tasks' security group only"
  }
}

# An existing network (bootstrap create_vpc = false): three private subnets, two in eu-west-1a
# sharing a route table.
run "existing_network_with_two_subnets_in_a_zone" {
  command = apply

  variables {
    network_mode = "private-nat"
  }

  override_data {
    target = data.terraform_remote_state.bootstrap
    values = {
      outputs = {
        region                      = "eu-west-1"
        project                     = "order-tracking"
        short_name                  = "ot"
        owner                       = "egobb"
        vpc_id                      = "vpc-0123456789abcdef0"
        public_subnet_ids           = ["subnet-0aaa", "subnet-0bbb"]
        private_subnet_ids          = ["subnet-0ccc", "subnet-0ddd", "subnet-0eee"]
        private_route_table_ids     = ["rtb-01", "rtb-02", "rtb-01"]
        subnet_azs                  = { subnet-0aaa = "eu-west-1a", subnet-0bbb = "eu-west-1b", subnet-0ccc = "eu-west-1a", subnet-0ddd = "eu-west-1b", subnet-0eee = "eu-west-1a" }
        public_subnet_cidrs         = ["10.0.0.0/24", "10.0.1.0/24"]
        private_network_environment = "dev"
        ecs_execution_role_arns     = { dev = "arn:aws:iam::123456789012:role/ot-ecs-execution-dev" }
        permissions_boundary_arns   = { dev = "arn:aws:iam::123456789012:policy/ot-workload-boundary-dev" }
        environments                = { dev = "dev" }
        ecr_repository_url          = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/order-tracking"
      }
    }
  }

  assert {
    condition     = keys(aws_nat_gateway.this) == ["eu-west-1a", "eu-west-1b"] && keys(aws_route.private_nat) == ["rtb-01", "rtb-02"]
    error_message = "a NAT gateway per zone and one route per route table (not per subnet)"
  }
  assert {
    condition     = aws_route.private_nat["rtb-01"].nat_gateway_id == aws_nat_gateway.this["eu-west-1a"].id && aws_route.private_nat["rtb-02"].nat_gateway_id == aws_nat_gateway.this["eu-west-1b"].id
    error_message = "each route table uses its own zone's NAT gateway"
  }
  assert {
    condition     = aws_ecs_service.app.network_configuration[0].subnets == toset(["subnet-0ccc", "subnet-0ddd", "subnet-0eee"])
    error_message = "the tasks use every private subnet"
  }
}

run "existing_network_endpoints_take_one_subnet_per_zone" {
  command = plan

  variables {
    network_mode = "private-endpoints"
  }

  override_data {
    target = data.terraform_remote_state.bootstrap
    values = {
      outputs = {
        region                      = "eu-west-1"
        project                     = "order-tracking"
        short_name                  = "ot"
        owner                       = "egobb"
        vpc_id                      = "vpc-0123456789abcdef0"
        public_subnet_ids           = ["subnet-0aaa", "subnet-0bbb"]
        private_subnet_ids          = ["subnet-0ccc", "subnet-0ddd", "subnet-0eee"]
        private_route_table_ids     = ["rtb-01", "rtb-02", "rtb-01"]
        subnet_azs                  = { subnet-0aaa = "eu-west-1a", subnet-0bbb = "eu-west-1b", subnet-0ccc = "eu-west-1a", subnet-0ddd = "eu-west-1b", subnet-0eee = "eu-west-1a" }
        public_subnet_cidrs         = ["10.0.0.0/24", "10.0.1.0/24"]
        private_network_environment = "dev"
        ecs_execution_role_arns     = { dev = "arn:aws:iam::123456789012:role/ot-ecs-execution-dev" }
        permissions_boundary_arns   = { dev = "arn:aws:iam::123456789012:policy/ot-workload-boundary-dev" }
        environments                = { dev = "dev" }
        ecr_repository_url          = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/order-tracking"
      }
    }
  }

  assert {
    condition     = alltrue([for e in values(aws_vpc_endpoint.interface) : e.subnet_ids == toset(["subnet-0ccc", "subnet-0ddd"])])
    error_message = "an interface endpoint gets one subnet per zone (the zone's first)"
  }
  assert {
    condition     = aws_vpc_endpoint.s3[0].route_table_ids == toset(["rtb-01", "rtb-02"])
    error_message = "the S3 gateway endpoint is on each private route table once"
  }
}

run "one_per_az_refuses_a_route_table_spanning_zones" {
  command = plan

  variables {
    network_mode = "private-nat"
  }

  override_data {
    target = data.terraform_remote_state.bootstrap
    values = {
      outputs = {
        region                      = "eu-west-1"
        project                     = "order-tracking"
        short_name                  = "ot"
        owner                       = "egobb"
        vpc_id                      = "vpc-0123456789abcdef0"
        public_subnet_ids           = ["subnet-0aaa", "subnet-0bbb"]
        private_subnet_ids          = ["subnet-0ccc", "subnet-0ddd"]
        private_route_table_ids     = ["rtb-01", "rtb-01"]
        subnet_azs                  = { subnet-0aaa = "eu-west-1a", subnet-0bbb = "eu-west-1b", subnet-0ccc = "eu-west-1a", subnet-0ddd = "eu-west-1b" }
        public_subnet_cidrs         = ["10.0.0.0/24", "10.0.1.0/24"]
        private_network_environment = "dev"
        ecs_execution_role_arns     = { dev = "arn:aws:iam::123456789012:role/ot-ecs-execution-dev" }
        permissions_boundary_arns   = { dev = "arn:aws:iam::123456789012:policy/ot-workload-boundary-dev" }
        environments                = { dev = "dev" }
        ecr_repository_url          = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/order-tracking"
      }
    }
  }

  expect_failures = [terraform_data.network_check]
}

run "private_modes_need_the_bootstrap_to_name_this_environment" {
  command = plan

  variables {
    environment        = "staging"
    network_mode       = "private-nat"
    enable_https       = true
    domain_name        = "example.com"
    alb_access_logs    = { bucket = "ot-alb-logs-123456789012" }
    posture_exceptions = []
  }

  expect_failures = [terraform_data.network_check]
}

# A bootstrap applied before the private modes has no route tables or zones in its outputs.
run "private_modes_need_a_current_bootstrap" {
  command = plan

  variables {
    network_mode = "private-endpoints"
  }

  override_data {
    target = data.terraform_remote_state.bootstrap
    values = {
      outputs = {
        region                    = "eu-west-1"
        project                   = "order-tracking"
        short_name                = "ot"
        owner                     = "egobb"
        vpc_id                    = "vpc-0123456789abcdef0"
        public_subnet_ids         = ["subnet-0aaa", "subnet-0bbb"]
        private_subnet_ids        = ["subnet-0ccc", "subnet-0ddd"]
        ecs_execution_role_arns   = { dev = "arn:aws:iam::123456789012:role/ot-ecs-execution-dev" }
        permissions_boundary_arns = { dev = "arn:aws:iam::123456789012:policy/ot-workload-boundary-dev" }
        environments              = { dev = "dev" }
        ecr_repository_url        = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/order-tracking"
      }
    }
  }

  expect_failures = [terraform_data.network_check]
}

# An existing network (bootstrap create_vpc = false) passed without private_route_table_ids.
run "private_modes_need_the_private_route_tables" {
  command = plan

  variables {
    network_mode = "private-nat"
  }

  override_data {
    target = data.terraform_remote_state.bootstrap
    values = {
      outputs = {
        region                      = "eu-west-1"
        project                     = "order-tracking"
        short_name                  = "ot"
        owner                       = "egobb"
        vpc_id                      = "vpc-0123456789abcdef0"
        public_subnet_ids           = ["subnet-0aaa", "subnet-0bbb"]
        private_subnet_ids          = ["subnet-0ccc", "subnet-0ddd"]
        private_route_table_ids     = []
        subnet_azs                  = { subnet-0aaa = "eu-west-1a", subnet-0bbb = "eu-west-1b", subnet-0ccc = "eu-west-1a", subnet-0ddd = "eu-west-1b" }
        public_subnet_cidrs         = ["10.0.0.0/24", "10.0.1.0/24"]
        private_network_environment = "dev"
        ecs_execution_role_arns     = { dev = "arn:aws:iam::123456789012:role/ot-ecs-execution-dev" }
        permissions_boundary_arns   = { dev = "arn:aws:iam::123456789012:policy/ot-workload-boundary-dev" }
        environments                = { dev = "dev" }
        ecr_repository_url          = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/order-tracking"
      }
    }
  }

  expect_failures = [terraform_data.network_check]
}

run "rejects_an_unknown_network_mode" {
  command = plan
  variables {
    network_mode = "private"
  }
  expect_failures = [var.network_mode]
}

run "rejects_an_unknown_nat_gateways_setting" {
  command = plan
  variables {
    network_mode = "private-nat"
    nat_gateways = "two"
  }
  expect_failures = [var.nat_gateways]
}

run "rejects_s3_as_an_interface_endpoint" {
  command = plan
  variables {
    network_mode            = "private-endpoints"
    app_interface_endpoints = ["s3"]
  }
  expect_failures = [var.app_interface_endpoints]
}

# assign_public_ip is deprecated: a value that agrees with network_mode still plans.
run "assign_public_ip_true_still_means_public" {
  command = plan
  variables {
    assign_public_ip = true
  }
  assert {
    condition     = aws_ecs_service.app.network_configuration[0].assign_public_ip && length(aws_nat_gateway.this) == 0
    error_message = "assign_public_ip = true with the default network_mode is today's public posture"
  }
}

run "assign_public_ip_false_agrees_with_a_private_mode" {
  command = plan
  variables {
    network_mode     = "private-nat"
    assign_public_ip = false
  }
  assert {
    condition     = !aws_ecs_service.app.network_configuration[0].assign_public_ip
    error_message = "assign_public_ip = false with a private mode plans"
  }
}

run "rejects_assign_public_ip_true_in_a_private_mode" {
  command = plan
  variables {
    network_mode     = "private-endpoints"
    assign_public_ip = true
  }
  expect_failures = [var.assign_public_ip]
}

run "prod_in_a_private_mode_needs_no_public_subnets_waiver" {
  command = plan

  variables {
    environment     = "prod"
    network_mode    = "private-nat"
    enable_https    = true
    domain_name     = "example.com"
    alb_access_logs = { bucket = "ot-alb-logs-123456789012", prefix = "prod" }
    db              = { deletion_protection = true }
  }

  override_data {
    target = data.terraform_remote_state.bootstrap
    values = {
      outputs = {
        region                      = "eu-west-1"
        project                     = "order-tracking"
        short_name                  = "ot"
        owner                       = "egobb"
        vpc_id                      = "vpc-0123456789abcdef0"
        public_subnet_ids           = ["subnet-0aaa", "subnet-0bbb"]
        private_subnet_ids          = ["subnet-0ccc", "subnet-0ddd"]
        private_route_table_ids     = ["rtb-0ccc", "rtb-0ddd"]
        subnet_azs                  = { subnet-0aaa = "eu-west-1a", subnet-0bbb = "eu-west-1b", subnet-0ccc = "eu-west-1a", subnet-0ddd = "eu-west-1b" }
        public_subnet_cidrs         = ["10.40.0.0/20", "10.40.16.0/20"]
        private_network_environment = "prod"
        ecs_execution_role_arns     = { prod = "arn:aws:iam::123456789012:role/ot-ecs-execution-prod" }
        permissions_boundary_arns   = { prod = "arn:aws:iam::123456789012:policy/ot-workload-boundary-prod" }
        environments                = { dev = "dev", staging = "dev", prod = "prod" }
        ecr_repository_url          = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/order-tracking"
      }
    }
  }

  assert {
    condition     = length(local.posture_violations) == 0 && keys(aws_nat_gateway.this) == ["eu-west-1a", "eu-west-1b"]
    error_message = "prod with private-nat (and HTTPS, access logs, deletion protection) has no posture violation"
  }
}

run "prod_in_public_mode_still_needs_the_waiver" {
  command = plan

  variables {
    environment     = "prod"
    enable_https    = true
    domain_name     = "example.com"
    alb_access_logs = { bucket = "ot-alb-logs-123456789012", prefix = "prod" }
    db              = { deletion_protection = true }
  }

  expect_failures = [terraform_data.posture_check]
}
