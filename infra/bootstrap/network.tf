# Network: a VPC with public and private subnets over two AZs and no NAT gateway (dev posture:
# ECS tasks run in public subnets with public IPs; RDS and MSK sit in the private subnets).
# Each private subnet has its own route table (local traffic only): the one environment named in
# private_network_environment adds its NAT routes or its S3 gateway endpoint there (env
# `network_mode`, infra/env/network_private.tf). With create_vpc = false the ids of an existing
# network are passed through instead.

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:Only the first two zones are used (slice), so a new zone changes nothing.
  state = "available"
}

locals {
  azs = slice(data.aws_availability_zones.available.names, 0, 2)
}

resource "aws_vpc" "this" {
  count = var.create_vpc ? 1 : 0

  #checkov:skip=CKV2_AWS_11:VPC flow logs cost more than this dev network; enable them when moving to production (README, hardening).
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = { Name = "${var.short_name}-vpc" }
}

# No rules: nothing may use the default security group.
resource "aws_default_security_group" "this" {
  count = var.create_vpc ? 1 : 0

  vpc_id = aws_vpc.this[0].id
  tags   = { Name = "${var.short_name}-default-unused" }
}

resource "aws_internet_gateway" "this" {
  count = var.create_vpc ? 1 : 0

  vpc_id = aws_vpc.this[0].id
  tags   = { Name = "${var.short_name}-igw" }
}

resource "aws_subnet" "public" {
  count = var.create_vpc ? length(local.azs) : 0

  vpc_id                  = aws_vpc.this[0].id
  availability_zone       = local.azs[count.index]
  cidr_block              = cidrsubnet(var.vpc_cidr, 20 - tonumber(split("/", var.vpc_cidr)[1]), count.index)
  map_public_ip_on_launch = false
  tags                    = { Name = "${var.short_name}-public-${local.azs[count.index]}", Tier = "public" }
}

resource "aws_subnet" "private" {
  count = var.create_vpc ? length(local.azs) : 0

  vpc_id            = aws_vpc.this[0].id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 20 - tonumber(split("/", var.vpc_cidr)[1]), count.index + 8)
  tags              = { Name = "${var.short_name}-private-${local.azs[count.index]}", Tier = "private" }
}

resource "aws_route_table" "public" {
  count = var.create_vpc ? 1 : 0

  vpc_id = aws_vpc.this[0].id
  tags   = { Name = "${var.short_name}-public" }
}

resource "aws_route" "public_internet" {
  count = var.create_vpc ? 1 : 0

  route_table_id         = aws_route_table.public[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this[0].id
}

resource "aws_route_table_association" "public" {
  count = var.create_vpc ? length(local.azs) : 0

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public[0].id
}

# One route table per private subnet (per AZ), so that a NAT gateway per AZ can serve its own
# zone. No routes here besides the local one: egress, if any, is the private-network
# environment's (NAT route or S3 gateway endpoint, added by infra/env), so that it can be paused
# with that environment. `route` is left unset: routes added outside this root are not removed.
resource "aws_route_table" "private" {
  count = var.create_vpc ? length(local.azs) : 0

  vpc_id = aws_vpc.this[0].id
  tags   = { Name = "${var.short_name}-private-${local.azs[count.index]}", Tier = "private" }
}

resource "aws_route_table_association" "private" {
  count = var.create_vpc ? length(local.azs) : 0

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}

# An existing network: the zone and CIDR of each subnet it names.
data "aws_subnet" "existing" {
  for_each = var.create_vpc ? toset([]) : toset(concat(var.public_subnet_ids, var.private_subnet_ids))

  id = each.value
}

locals {
  vpc_id             = var.create_vpc ? aws_vpc.this[0].id : var.vpc_id
  public_subnet_ids  = var.create_vpc ? aws_subnet.public[*].id : var.public_subnet_ids
  private_subnet_ids = var.create_vpc ? aws_subnet.private[*].id : var.private_subnet_ids

  # Route table of each private subnet, in the order of private_subnet_ids.
  private_route_table_ids = var.create_vpc ? aws_route_table.private[*].id : var.private_route_table_ids

  # Subnet → availability zone, for NAT gateways and interface endpoints per zone.
  subnet_azs = var.create_vpc ? { for s in concat(aws_subnet.public, aws_subnet.private) : s.id => s.availability_zone } : { for id, s in data.aws_subnet.existing : id => s.availability_zone }

  public_subnet_cidrs = var.create_vpc ? aws_subnet.public[*].cidr_block : [for id in var.public_subnet_ids : data.aws_subnet.existing[id].cidr_block]
}
