# network_mode (network_private.tf) with a mocked AWS provider and a faked bootstrap state: where
# the tasks run, the NAT gateways and routes of private-nat and the interface endpoints of
# private-endpoints (derived from the task definition) as the ephemeral-tier spec sends them to
# costctl (`nat_gateways`, `vpc_endpoints`), what Terraform keeps (Elastic IPs, the S3 gateway
# endpoint, the endpoint security group), and the validation of the mode and of its conflicts.
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
  command = apply

  assert {
    condition     = jsondecode(aws_lambda_invocation.ephemeral.input).spec.nat_gateways == [] && jsondecode(aws_lambda_invocation.ephemeral.input).spec.vpc_endpoints == []
    error_message = "public mode: the spec sends costctl empty nat_gateways and vpc_endpoints lists (present, so that costctl deletes any it still has)"
  }
  assert {
    condition     = length(aws_eip.nat) == 0 && length(local.nat_route_table_ids) == 0 && !local.private_network
    error_message = "public mode: no Elastic IP; costctl may change no route table and create no NAT gateway or endpoint (module inputs nat_route_table_ids, ephemeral_network)"
  }
  assert {
    condition     = length(aws_vpc_endpoint.s3) == 0 && length(aws_security_group.endpoints) == 0
    error_message = "public mode: no VPC endpoint and no endpoint security group"
  }
  assert {
    condition     = output.nat_gateways == {} && output.vpc_endpoints == { s3_gateway_endpoint_id = null, interface_endpoint_services = [] }
    error_message = "public mode: the outputs list no NAT gateway and no endpoint"
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
    condition     = keys(aws_eip.nat) == ["eu-west-1a", "eu-west-1b"] && alltrue([for e in values(aws_eip.nat) : e.domain == "vpc"])
    error_message = "one-per-az: Terraform keeps a VPC Elastic IP in each zone of the private subnets"
  }
  # The spec costctl realises: a public NAT gateway per zone in that zone's public subnet, with
  # the zone's Elastic IP, the stack's tags, and the 0.0.0.0/0 route of that zone's private route
  # table; nothing optional sent as null.
  assert {
    condition = jsondecode(aws_lambda_invocation.ephemeral.input).spec.nat_gateways == [for az, x in { eu-west-1a = ["subnet-0aaa", "rtb-0ccc"], eu-west-1b = ["subnet-0bbb", "rtb-0ddd"] } : {
      subnet_id         = x[0]
      connectivity_type = "public"
      allocation_id     = aws_eip.nat[az].allocation_id
      tags              = { Project = "order-tracking", Env = "dev", Owner = "egobb", ManagedBy = "terraform", Name = "order-tracking-dev-nat-${az}" }
      routes            = [{ route_table_id = x[1], destination_cidr_block = "0.0.0.0/0" }]
    }]
    error_message = "nat_gateways: one per zone, in its public subnet, with its own Elastic IP and the stack's tags, serving 0.0.0.0/0 of its zone's private route table"
  }
  assert {
    condition     = jsondecode(aws_lambda_invocation.ephemeral.input).spec.vpc_endpoints == [] && length(aws_vpc_endpoint.s3) == 0 && length(aws_security_group.endpoints) == 0
    error_message = "private-nat: no VPC endpoint"
  }
  assert {
    condition     = local.nat_route_table_ids == tolist(["rtb-0ccc", "rtb-0ddd"]) && local.private_network
    error_message = "costctl's role may change exactly the private route tables of the NAT routes, and create the NAT gateways (module inputs nat_route_table_ids, ephemeral_network)"
  }
  assert {
    condition     = !aws_ecs_service.app.network_configuration[0].assign_public_ip && aws_ecs_service.app.network_configuration[0].subnets == toset(["subnet-0ccc", "subnet-0ddd"])
    error_message = "private-nat: the tasks run in the private subnets without public IPs"
  }
  assert {
    condition = alltrue([for r in values(aws_eip.nat) :
    r.tags.Project == "order-tracking" && r.tags.Env == "dev" && r.tags.Owner == "egobb" && r.tags.ManagedBy == "terraform"])
    error_message = "the Elastic IPs carry the stack's tags (costctl's role may give a NAT gateway only such an address)"
  }
  assert {
    condition = output.nat_gateways == { for az, x in { eu-west-1a = ["subnet-0aaa", "rtb-0ccc"], eu-west-1b = ["subnet-0bbb", "rtb-0ddd"] } : az => {
      subnet_id = x[0], allocation_id = aws_eip.nat[az].allocation_id, public_ip = aws_eip.nat[az].public_ip, route_table_ids = [x[1]]
    } } && output.network_mode.mode == "private-nat" && !output.network_mode.assign_public_ip
    error_message = "outputs: the NAT gateways by zone (subnet, Elastic IP, route tables), the mode"
  }
}

run "private_nat_single" {
  command = apply

  variables {
    network_mode = "private-nat"
    nat_gateways = "single"
  }

  assert {
    condition = keys(aws_eip.nat) == ["eu-west-1a"] && jsondecode(aws_lambda_invocation.ephemeral.input).spec.nat_gateways == [{
      subnet_id         = "subnet-0aaa"
      connectivity_type = "public"
      allocation_id     = aws_eip.nat["eu-west-1a"].allocation_id
      tags              = { Project = "order-tracking", Env = "dev", Owner = "egobb", ManagedBy = "terraform", Name = "order-tracking-dev-nat-eu-west-1a" }
      routes            = [{ route_table_id = "rtb-0ccc", destination_cidr_block = "0.0.0.0/0" }, { route_table_id = "rtb-0ddd", destination_cidr_block = "0.0.0.0/0" }]
    }]
    error_message = "single: one NAT gateway (and one Elastic IP), in the first zone's public subnet, serving 0.0.0.0/0 of every private route table"
  }
  assert {
    condition     = local.nat_route_table_ids == tolist(["rtb-0ccc", "rtb-0ddd"])
    error_message = "single: costctl may change both private route tables"
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
    error_message = "Terraform keeps an S3 gateway endpoint (free) on the private route tables"
  }
  # The spec costctl realises: exactly the interface endpoints the task definition needs, each
  # with private DNS, an ENI in each zone (one subnet per zone), the endpoint security group and
  # the stack's tags; AWS's default policy and address type (fields left out).
  assert {
    condition = jsondecode(aws_lambda_invocation.ephemeral.input).spec.vpc_endpoints == [for s in ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssm"] : {
      service_name        = "com.amazonaws.eu-west-1.${s}"
      vpc_id              = "vpc-0123456789abcdef0"
      subnet_ids          = ["subnet-0ccc", "subnet-0ddd"]
      security_group_ids  = [aws_security_group.endpoints[0].id]
      private_dns_enabled = true
      tags                = { Project = "order-tracking", Env = "dev", Owner = "egobb", ManagedBy = "terraform", Name = "order-tracking-dev-${s}" }
    }]
    error_message = "vpc_endpoints: ECR (api, dkr), CloudWatch Logs, Secrets Manager, SSM; private DNS, one subnet per zone, the endpoint security group, the stack's tags"
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
    condition     = jsondecode(aws_lambda_invocation.ephemeral.input).spec.nat_gateways == [] && length(aws_eip.nat) == 0 && length(local.nat_route_table_ids) == 0 && local.private_network
    error_message = "private-endpoints: no NAT gateway, no Elastic IP, no route table for costctl; costctl creates the endpoints (module input ephemeral_network)"
  }
  assert {
    condition     = !aws_ecs_service.app.network_configuration[0].assign_public_ip && aws_ecs_service.app.network_configuration[0].subnets == toset(["subnet-0ccc", "subnet-0ddd"])
    error_message = "private-endpoints: the tasks run in the private subnets without public IPs"
  }
  assert {
    condition = alltrue([for r in concat(aws_vpc_endpoint.s3, aws_security_group.endpoints) :
    r.tags.Project == "order-tracking" && r.tags.Env == "dev" && r.tags.Owner == "egobb" && r.tags.ManagedBy == "terraform"])
    error_message = "the S3 gateway endpoint and the endpoint security group carry the stack's tags"
  }
  assert {
    condition     = output.vpc_endpoints == { s3_gateway_endpoint_id = aws_vpc_endpoint.s3[0].id, interface_endpoint_services = [for s in ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssm"] : "com.amazonaws.eu-west-1.${s}"] }
    error_message = "output vpc_endpoints: the S3 gateway endpoint and the interface endpoint services"
  }
}

run "interface_endpoints_follow_the_task_definition" {
  command = apply

  variables {
    network_mode = "private-endpoints"
  }

  assert {
    condition     = alltrue([for s in jsondecode(aws_ecs_task_definition.app.container_definitions)[0].secrets : contains([for e in jsondecode(aws_lambda_invocation.ephemeral.input).spec.vpc_endpoints : e.service_name], "com.amazonaws.eu-west-1.${split(":", s.valueFrom)[2]}")])
    error_message = "every service a secrets[].valueFrom ARN names has an interface endpoint"
  }
  assert {
    condition     = jsondecode(aws_ecs_task_definition.app.container_definitions)[0].logConfiguration.logDriver == "awslogs" && contains([for e in jsondecode(aws_lambda_invocation.ephemeral.input).spec.vpc_endpoints : e.service_name], "com.amazonaws.eu-west-1.logs")
    error_message = "the awslogs log driver has the logs endpoint"
  }
  assert {
    condition     = strcontains(jsondecode(aws_ecs_task_definition.app.container_definitions)[0].image, ".dkr.ecr.eu-west-1.amazonaws.com/") && length(setintersection(toset([for e in jsondecode(aws_lambda_invocation.ephemeral.input).spec.vpc_endpoints : e.service_name]), toset(["com.amazonaws.eu-west-1.ecr.api", "com.amazonaws.eu-west-1.ecr.dkr"]))) == 2 && length(aws_vpc_endpoint.s3) == 1
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
    condition     = [for e in local.vpc_endpoint_specs : e.service_name] == [for s in ["ecr.api", "ecr.dkr", "logs", "secretsmanager"] : "com.amazonaws.eu-west-1.${s}"]
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
    condition     = [for e in local.vpc_endpoint_specs : e.service_name] == [for s in ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssm", "sts"] : "com.amazonaws.eu-west-1.${s}"]
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
    condition = keys(aws_eip.nat) == ["eu-west-1a", "eu-west-1b"] && [for n in jsondecode(aws_lambda_invocation.ephemeral.input).spec.nat_gateways : [n.subnet_id, n.allocation_id, n.routes]] == [
      ["subnet-0aaa", aws_eip.nat["eu-west-1a"].allocation_id, [{ route_table_id = "rtb-01", destination_cidr_block = "0.0.0.0/0" }]],
      ["subnet-0bbb", aws_eip.nat["eu-west-1b"].allocation_id, [{ route_table_id = "rtb-02", destination_cidr_block = "0.0.0.0/0" }]],
    ]
    error_message = "a NAT gateway per zone, and one route per route table (not per subnet), each to its own zone's NAT gateway"
  }
  assert {
    condition     = local.nat_route_table_ids == tolist(["rtb-01", "rtb-02"])
    error_message = "costctl may change each private route table once"
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
    condition     = length(local.vpc_endpoint_specs) == 5 && alltrue([for e in local.vpc_endpoint_specs : e.subnet_ids == ["subnet-0ccc", "subnet-0ddd"]])
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
    condition     = aws_ecs_service.app.network_configuration[0].assign_public_ip && length(local.nat_gateway_specs) == 0
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
    condition     = length(local.posture_violations) == 0 && [for n in local.nat_gateway_specs : n.subnet_id] == ["subnet-0aaa", "subnet-0bbb"]
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
