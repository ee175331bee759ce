# network_mode: where the tasks run and how they reach AWS without a public IP.
#
#   public             public subnets, public IPs, the Internet gateway (the dev default)
#   private-nat        private subnets, no public IPs; 0.0.0.0/0 of each private route table goes
#                      to a NAT gateway in a public subnet: its own AZ's (nat_gateways =
#                      one-per-az) or the only one (single)
#   private-endpoints  private subnets, no route to the Internet: an S3 gateway endpoint on the
#                      private route tables and an interface endpoint (private DNS, one ENI per
#                      AZ) for each AWS service the task definition reads from
#
# The bootstrap owns the VPC, the subnets and their route tables (one per private subnet). What
# is here belongs to this environment and carries its tags (Project, Env, Owner, ManagedBy; costctl
# finds what it may pause by Project and Env). Only the environment the bootstrap names in
# private_network_environment may create it: the NAT routes go into the private route tables all
# environments share, and the endpoints' private DNS names answer for the whole VPC.

locals {
  private_network  = var.network_mode != "public"
  assign_public_ip = !local.private_network
  task_subnet_ids  = local.private_network ? local.bootstrap.private_subnet_ids : local.bootstrap.public_subnet_ids

  # Bootstrap outputs added with the private modes; a bootstrap applied before them has none,
  # which only the private modes mind (network_check).
  private_route_table_ids     = try(local.bootstrap.private_route_table_ids, [])
  subnet_azs                  = try(local.bootstrap.subnet_azs, {})
  public_subnet_cidrs         = try(local.bootstrap.public_subnet_cidrs, [])
  private_network_environment = try(local.bootstrap.private_network_environment, null)

  # Zones: of each private subnet (in order), and subnets by zone.
  private_subnet_azs    = [for s in local.bootstrap.private_subnet_ids : lookup(local.subnet_azs, s, null)]
  private_azs           = sort(distinct(compact(local.private_subnet_azs)))
  private_subnets_by_az = { for s in local.bootstrap.private_subnet_ids : local.subnet_azs[s] => s... if contains(keys(local.subnet_azs), s) }
  public_subnets_by_az  = { for s in local.bootstrap.public_subnet_ids : local.subnet_azs[s] => s... if contains(keys(local.subnet_azs), s) }
  # Private route table → the zones of the subnets it serves.
  route_table_azs = length(local.private_route_table_ids) != length(local.bootstrap.private_subnet_ids) ? {} : {
    for i, rt in local.private_route_table_ids : rt => local.private_subnet_azs[i]... if local.private_subnet_azs[i] != null
  }

  # private-nat: the zones that get a NAT gateway (each with an Elastic IP, in that zone's first
  # public subnet), and the NAT gateway each private route table sends 0.0.0.0/0 to.
  nat_azs = var.network_mode != "private-nat" ? [] : (var.nat_gateways == "single" ? slice(local.private_azs, 0, min(1, length(local.private_azs))) : local.private_azs)
  nat_routes = var.network_mode != "private-nat" || length(local.nat_azs) == 0 ? {} : {
    for rt, azs in local.route_table_azs : rt => var.nat_gateways == "single" ? local.nat_azs[0] : azs[0]
  }

  # private-endpoints: the interface endpoints, derived from what the task definition (ecs.tf)
  # makes Fargate call before and while the application runs:
  task_interface_endpoints = concat(
    # The image is in ECR: ecr.api (GetAuthorizationToken, the image manifest) and ecr.dkr (the
    # Docker registry API). The layers themselves come from S3: the gateway endpoint below.
    local.app_image_from_ecr ? ["ecr.api", "ecr.dkr"] : [],
    # The awslogs log driver writes the container's output to CloudWatch Logs.
    local.app_log_configuration.logDriver == "awslogs" ? ["logs"] : [],
    # secrets[].valueFrom, read with the execution role when a task starts: secretsmanager (the
    # database credentials) and ssm (the Kafka bootstrap brokers, with MSK).
    [for x in local.app_secrets : x.service],
  )
  # Not needed, so not created:
  #   kms      Secrets Manager and SSM decrypt for the caller (kms:ViaService); ECR's KMS-encrypted
  #            layers are decrypted by S3. The task itself calls no KMS API.
  #   sts      the task role's credentials come from the ECS credentials endpoint (169.254.170.2),
  #            also for MSK IAM authentication; nothing assumes a role by web identity. If the
  #            application calls STS (or any other AWS API), list it in app_interface_endpoints.
  #   ecs, ecs-agent, ecs-telemetry  Fargate tasks do not need them (the platform talks to ECS).
  #   ssmmessages  ECS Exec is off (the service sets no enable_execute_command).
  #   kafka, rds   MSK Serverless (9098) and PostgreSQL (5432) are reached inside the VPC; the
  #            task calls neither service's API.
  interface_endpoint_services = var.network_mode == "private-endpoints" ? toset(concat(local.task_interface_endpoints, var.app_interface_endpoints)) : toset([])

  # One subnet per zone for the endpoints' ENIs (an interface endpoint takes at most one per zone).
  endpoint_subnet_ids = [for az in local.private_azs : local.private_subnets_by_az[az][0]]

  # The endpoints' private DNS names answer for the whole VPC: the tasks of the other
  # environments (public mode, public subnets) reach ECR, logs and secrets through them too.
  vpc_shared = length([for e in keys(try(local.bootstrap.environments, {})) : e if e != local.env]) > 0
}

resource "terraform_data" "network_check" {
  input = var.network_mode

  lifecycle {
    precondition {
      condition     = !local.private_network || local.private_network_environment == local.env
      error_message = "network_mode = \"${var.network_mode}\" needs the bootstrap's private_network_environment to name this environment (it is ${coalesce(local.private_network_environment, "null")}): its NAT routes go into the private route tables every environment shares and its endpoints' private DNS names answer for the whole VPC, so one environment per VPC owns them. Set private_network_environment = \"${local.env}\" in infra/bootstrap and apply it first, or keep network_mode = \"public\"."
    }
    precondition {
      condition = !local.private_network || (
        length(local.private_route_table_ids) == length(local.bootstrap.private_subnet_ids) &&
        length(compact(local.private_subnet_azs)) == length(local.bootstrap.private_subnet_ids) &&
        alltrue([for s in local.bootstrap.public_subnet_ids : contains(keys(local.subnet_azs), s)])
      )
      error_message = "network_mode = \"${var.network_mode}\" needs the bootstrap outputs private_route_table_ids and subnet_azs (a route table and a zone for every private subnet, a zone for every public one): apply the current infra/bootstrap first (with an existing network, pass private_route_table_ids there)."
    }
    precondition {
      condition     = alltrue([for az in local.nat_azs : contains(keys(local.public_subnets_by_az), az)])
      error_message = "network_mode = \"private-nat\": no public subnet in ${join(", ", [for az in local.nat_azs : az if !contains(keys(local.public_subnets_by_az), az)])} for the zone's NAT gateway."
    }
    precondition {
      condition     = var.network_mode != "private-nat" || var.nat_gateways == "single" || alltrue([for rt, azs in local.route_table_azs : length(distinct(azs)) == 1])
      error_message = "nat_gateways = \"one-per-az\" needs a route table per zone, but ${join(", ", [for rt, azs in local.route_table_azs : rt if length(distinct(azs)) > 1])} serve(s) private subnets in several zones: use nat_gateways = \"single\", or give each zone's private subnets their own route table."
    }
  }
}

# ---------------------------------------------------------------------------------------------
# private-nat
# ---------------------------------------------------------------------------------------------

resource "aws_eip" "nat" {
  for_each = toset(local.nat_azs)

  domain = "vpc"
  # Explicit (not only the provider's default_tags): costctl finds them by Project and Env.
  tags = merge(local.tags, { Name = "${local.name}-nat-${each.key}" })
}

resource "aws_nat_gateway" "this" {
  for_each = toset(local.nat_azs)

  connectivity_type = "public"
  allocation_id     = aws_eip.nat[each.key].id
  subnet_id         = try(local.public_subnets_by_az[each.key][0], null)
  tags              = merge(local.tags, { Name = "${local.name}-nat-${each.key}" })
}

resource "aws_route" "private_nat" {
  for_each = local.nat_routes

  route_table_id         = each.key
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[each.value].id
}

# ---------------------------------------------------------------------------------------------
# private-endpoints
# ---------------------------------------------------------------------------------------------

# Free: S3 (the ECR image layers) through the private route tables.
resource "aws_vpc_endpoint" "s3" {
  count = var.network_mode == "private-endpoints" ? 1 : 0

  vpc_id            = local.bootstrap.vpc_id
  service_name      = "com.amazonaws.${local.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = distinct(local.private_route_table_ids)
  tags              = merge(local.tags, { Name = "${local.name}-s3" })
}

resource "aws_security_group" "endpoints" {
  count = length(local.interface_endpoint_services) > 0 ? 1 : 0

  name        = "${local.name}-endpoints"
  description = "Interface VPC endpoints of ${local.name}: HTTPS from the tasks"
  vpc_id      = local.bootstrap.vpc_id
  tags        = merge(local.tags, { Name = "${local.name}-endpoints" })
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_from_tasks" {
  count = length(aws_security_group.endpoints)

  security_group_id            = aws_security_group.endpoints[0].id
  description                  = "HTTPS from the tasks"
  referenced_security_group_id = aws_security_group.ecs.id
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
}

# Other environments share the VPC (their tasks run in the public subnets): the private DNS names
# send their ECR, logs and secrets calls here too, which must not time out.
resource "aws_vpc_security_group_ingress_rule" "endpoints_from_public_subnets" {
  for_each = length(aws_security_group.endpoints) > 0 && local.vpc_shared ? toset(local.public_subnet_cidrs) : toset([])

  security_group_id = aws_security_group.endpoints[0].id
  description       = "HTTPS from the other environments' tasks in the public subnets (private DNS answers for the whole VPC)"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_endpoint" "interface" {
  for_each = local.interface_endpoint_services

  vpc_id              = local.bootstrap.vpc_id
  service_name        = "com.amazonaws.${local.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = local.endpoint_subnet_ids
  security_group_ids  = [aws_security_group.endpoints[0].id]
  tags                = merge(local.tags, { Name = "${local.name}-${each.key}" })
}
