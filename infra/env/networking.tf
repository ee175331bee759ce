# Security groups and SG→SG rules: Internet → ALB (80/443) → ECS (container port);
# ECS → RDS (5432); ECS → MSK (9098); ECS → 443 (ECR, Secrets Manager, SSM, logs: anywhere, or
# with network_mode = private-endpoints only the endpoints and S3's prefix list).

resource "aws_security_group" "alb" {
  #checkov:skip=CKV2_AWS_5:Attached to the ALB that costctl creates from the ephemeral-tier spec, outside Terraform.
  name        = "${local.short}-alb"
  description = "ALB of ${local.name} (created by costctl on resume)"
  vpc_id      = local.bootstrap.vpc_id
  tags        = { Name = "${local.short}-alb" }
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  #checkov:skip=CKV_AWS_260:Public web application: port 80 is open to the Internet (it redirects to 443 when HTTPS is on).
  security_group_id = aws_security_group.alb.id
  description       = "HTTP from the Internet"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  count = var.enable_https ? 1 : 0

  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from the Internet"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "alb_to_ecs" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the tasks"
  referenced_security_group_id = aws_security_group.ecs.id
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
}

resource "aws_security_group" "ecs" {
  name        = "${local.name}-ecs"
  description = "ECS tasks of ${local.name}"
  vpc_id      = local.bootstrap.vpc_id
  tags        = { Name = "${local.name}-ecs" }
}

resource "aws_vpc_security_group_ingress_rule" "ecs_from_alb" {
  security_group_id            = aws_security_group.ecs.id
  description                  = "From the ALB"
  referenced_security_group_id = aws_security_group.alb.id
  ip_protocol                  = "tcp"
  from_port                    = var.container_port
  to_port                      = var.container_port
}

# Through the Internet gateway (public) or a NAT gateway (private-nat). Without a route to the
# Internet (private-endpoints) the tasks may reach only the endpoints, below.
resource "aws_vpc_security_group_egress_rule" "ecs_https" {
  count = var.network_mode == "private-endpoints" ? 0 : 1

  security_group_id = aws_security_group.ecs.id
  description       = "HTTPS to AWS APIs (ECR, Secrets Manager, SSM, CloudWatch Logs)"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

moved {
  from = aws_vpc_security_group_egress_rule.ecs_https
  to   = aws_vpc_security_group_egress_rule.ecs_https[0]
}

resource "aws_vpc_security_group_egress_rule" "ecs_to_endpoints" {
  count = length(aws_security_group.endpoints)

  security_group_id            = aws_security_group.ecs.id
  description                  = "HTTPS to the interface VPC endpoints (ECR, logs, Secrets Manager, SSM)"
  referenced_security_group_id = aws_security_group.endpoints[0].id
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
}

# Image layers: S3 through the gateway endpoint (its prefix list).
resource "aws_vpc_security_group_egress_rule" "ecs_to_s3" {
  count = length(aws_vpc_endpoint.s3)

  security_group_id = aws_security_group.ecs.id
  description       = "HTTPS to S3 through the gateway endpoint (ECR image layers)"
  prefix_list_id    = aws_vpc_endpoint.s3[0].prefix_list_id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_egress_rule" "ecs_to_rds" {
  security_group_id            = aws_security_group.ecs.id
  description                  = "PostgreSQL"
  referenced_security_group_id = aws_security_group.rds.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_vpc_security_group_egress_rule" "ecs_to_msk" {
  count = var.enable_msk ? 1 : 0

  security_group_id            = aws_security_group.ecs.id
  description                  = "Kafka SASL/IAM"
  referenced_security_group_id = aws_security_group.msk[0].id
  ip_protocol                  = "tcp"
  from_port                    = 9098
  to_port                      = 9098
}

resource "aws_security_group" "rds" {
  name        = "${local.name}-rds"
  description = "RDS PostgreSQL of ${local.name}"
  vpc_id      = local.bootstrap.vpc_id
  tags        = { Name = "${local.name}-rds" }
}

resource "aws_vpc_security_group_ingress_rule" "rds_from_ecs" {
  security_group_id            = aws_security_group.rds.id
  description                  = "PostgreSQL from the tasks"
  referenced_security_group_id = aws_security_group.ecs.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_security_group" "msk" {
  #checkov:skip=CKV2_AWS_5:Attached to the MSK Serverless cluster that costctl creates from the ephemeral-tier spec, outside Terraform.
  count = var.enable_msk ? 1 : 0

  name        = "${local.short}-msk"
  description = "MSK Serverless of ${local.name} (created by costctl on resume)"
  vpc_id      = local.bootstrap.vpc_id
  tags        = { Name = "${local.short}-msk" }
}

resource "aws_vpc_security_group_ingress_rule" "msk_from_ecs" {
  count = var.enable_msk ? 1 : 0

  security_group_id            = aws_security_group.msk[0].id
  description                  = "Kafka SASL/IAM from the tasks"
  referenced_security_group_id = aws_security_group.ecs.id
  ip_protocol                  = "tcp"
  from_port                    = 9098
  to_port                      = 9098
}
