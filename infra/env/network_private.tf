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
# One owner per resource (docs/ephemeral-spec.md):
#   bootstrap   the VPC, the subnets and their route tables (one per private subnet)
#   here        the Elastic IPs of the NAT gateways, the S3 gateway endpoint (free) and the
#               interface endpoints' security group, with their rules
#   costctl     the NAT gateways with their 0.0.0.0/0 routes and the interface endpoints: they
#               cost by the hour, so they are part of the ephemeral tier (local.nat_gateway_specs
#               and local.vpc_endpoint_specs below, sent with the spec in ephemeral.tf), deleted
#               on pause and recreated on resume
# Everything carries this environment's tags (Project, Env, Owner, ManagedBy; costctl finds what
# it owns by Project and Env). Only the environment the bootstrap names in
# private_network_environment may use a private mode: the NAT routes go into the private route
# tables all environments share, and the endpoints' private DNS names answer for the whole VPC.

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

# The Elastic IP of each zone's NAT gateway is Terraform's, so that it outlives the gateway:
# costctl deletes the NAT gateways on pause and recreates them on resume with the same allocation,
# so the egress address an allow-list names never changes (while paused it is an idle public IPv4
# address, $0.005/h). aws_lambda_invocation.ephemeral depends on it: `terraform destroy` deletes
# the NAT gateways (the invocation's delete) before it releases the addresses.
resource "aws_eip" "nat" {
  #checkov:skip=CKV2_AWS_19:Attached to the NAT gateway that costctl creates from the ephemeral-tier spec, outside Terraform; kept while paused so the egress address never changes.
  for_each = toset(local.nat_azs)

  domain = "vpc"
  # Explicit (not only the provider's default_tags): costctl's role may hand only the stack's own
  # addresses (Project and Env tags) to a NAT gateway.
  tags = merge(local.tags, { Name = "${local.name}-nat-${each.key}" })
}

locals {
  # costctl's NAT gateways (spec `nat_gateways`): one per NAT zone, public, in that zone's first
  # public subnet, with the zone's Elastic IP and the 0.0.0.0/0 route of every private route table
  # that uses it (local.nat_routes: its own zone's, or all of them with nat_gateways = single).
  # The tags are those Terraform gave the NAT gateways before costctl owned them, so costctl adopts
  # those (the NAT gateway of the same subnet with the stack's tags) instead of creating new ones.
  nat_gateway_specs = [for az in local.nat_azs : {
    subnet_id         = try(local.public_subnets_by_az[az][0], null)
    connectivity_type = "public"
    allocation_id     = aws_eip.nat[az].allocation_id
    tags              = merge(local.tags, { Name = "${local.name}-nat-${az}" })
    routes            = [for rt in sort(keys(local.nat_routes)) : { route_table_id = rt, destination_cidr_block = "0.0.0.0/0" } if local.nat_routes[rt] == az]
  }]

  # The route tables costctl may change (CreateRoute / ReplaceRoute), for its IAM policy
  # (costctl.tf): exactly those of the routes above.
  nat_route_table_ids = sort(keys(local.nat_routes))
}

# Owned by costctl since the NAT gateways became part of the ephemeral tier. An environment
# applied before has them in its state: Terraform forgets them (destroy = false keeps them
# running), and the next apply-spec adopts them (same subnet and tags: the NAT gateway, and the
# route of each route table it lists).
removed {
  from = aws_nat_gateway.this

  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_route.private_nat

  lifecycle {
    destroy = false
  }
}

# ---------------------------------------------------------------------------------------------
# private-endpoints
# ---------------------------------------------------------------------------------------------

# Free: S3 (the ECR image layers) through the private route tables. A gateway endpoint costs
# nothing, so Terraform keeps it.
resource "aws_vpc_endpoint" "s3" {
  count = var.network_mode == "private-endpoints" ? 1 : 0

  vpc_id            = local.bootstrap.vpc_id
  service_name      = "com.amazonaws.${local.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = distinct(local.private_route_table_ids)
  tags              = merge(local.tags, { Name = "${local.name}-s3" })
}

# The interface endpoints' security group stays with Terraform (costctl's endpoints name it);
# aws_lambda_invocation.ephemeral depends on it, so `terraform destroy` deletes the endpoints
# before the group.
resource "aws_security_group" "endpoints" {
  #checkov:skip=CKV2_AWS_5:Attached to the interface VPC endpoints that costctl creates from the ephemeral-tier spec, outside Terraform.
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

locals {
  # costctl's interface endpoints (spec `vpc_endpoints`), one per derived service (sorted): private
  # DNS, an ENI in each zone's first private subnet, the endpoint security group, AWS's default
  # (full access) policy. The tags are those Terraform gave the endpoints before costctl owned
  # them, so costctl adopts those (the endpoint of the same service with the stack's tags).
  vpc_endpoint_specs = [for s in sort(tolist(local.interface_endpoint_services)) : {
    service_name        = "com.amazonaws.${local.region}.${s}"
    vpc_id              = local.bootstrap.vpc_id
    subnet_ids          = local.endpoint_subnet_ids
    security_group_ids  = aws_security_group.endpoints[*].id
    private_dns_enabled = true
    tags                = merge(local.tags, { Name = "${local.name}-${s}" })
  }]
}

# Owned by costctl since the interface endpoints became part of the ephemeral tier: an
# environment applied before forgets them (they keep running) and costctl adopts them.
removed {
  from = aws_vpc_endpoint.interface

  lifecycle {
    destroy = false
  }
}
