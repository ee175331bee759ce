# The ephemeral tier: the ALB (with listeners and rules), the MSK Serverless cluster and, in the
# private network modes, the NAT gateways with their routes and the interface VPC endpoints
# (network_private.tf). costctl owns them (it deletes them on pause and recreates them on
# resume), so Terraform declares them as a spec (docs/ephemeral-spec.md) and asks the full
# function to realise it. With lifecycle_scope = "CRUD", `terraform destroy` deletes them through
# the same function. Everything durable around them (target group, security groups, parameters,
# the NAT gateways' Elastic IPs, the route tables) stays here or in the bootstrap.

# The name carries a digest of every argument that forces a replacement, so a replacement (a new
# container port, say) gets a new name and create_before_destroy can create it while costctl's
# listener still forwards to the old one: apply-spec then moves the listener, ECS the service, and
# only then is the old group deleted. (name_prefix would do the same but is limited to 6
# characters, shorter than `ot-staging`, and would drop the `ot-<env>-` delimiter IAM scopes by.)
locals {
  target_group_name = "${local.short}-tg-${substr(sha1(jsonencode([var.container_port, "HTTP", "ip", local.bootstrap.vpc_id])), 0, 6)}"
}

resource "aws_lb_target_group" "app" {
  #checkov:skip=CKV_AWS_378:TLS ends at the ALB (443 listener with enable_https); ALB → task traffic stays inside the VPC.
  name        = local.target_group_name
  port        = var.container_port
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = local.bootstrap.vpc_id

  deregistration_delay = 30

  health_check {
    path                = var.health_check_path
    matcher             = "200"
    healthy_threshold   = 2
    unhealthy_threshold = 3
    interval            = 30
  }

  lifecycle {
    create_before_destroy = true
  }
}

# costctl overwrites the values after every resume (new ALB DNS name, new brokers); Terraform
# creates the parameters, so tasks and outputs can refer to them before the first resume.
resource "aws_ssm_parameter" "alb_dns_name" {
  #checkov:skip=CKV2_AWS_34:A public DNS name is not a secret.
  name        = "${local.parameter_path}/alb_dns_name"
  description = "DNS name of the ${local.name} ALB, kept current by costctl"
  type        = "String"
  value       = "pending"

  lifecycle {
    ignore_changes = [value, insecure_value]
  }
}

resource "aws_ssm_parameter" "kafka_bootstrap" {
  #checkov:skip=CKV2_AWS_34:Broker addresses are not secret; access to Kafka is controlled by IAM (SASL/IAM).
  count = var.enable_msk ? 1 : 0

  name        = "${local.parameter_path}/kafka_bootstrap"
  description = "Bootstrap brokers (SASL/IAM) of the ${local.name} MSK Serverless cluster, kept current by costctl"
  type        = "String"
  value       = "pending"

  lifecycle {
    ignore_changes = [value, insecure_value]
  }
}

locals {
  forward_to_app = [{ type = "forward", target_group_arn = aws_lb_target_group.app.arn }]

  # Listener variants; the HTTPS ones are picked only with enable_https.
  listener_variants = {
    http_forward = {
      port            = 80
      protocol        = "HTTP"
      default_actions = local.forward_to_app
    }
    http_redirect = {
      port     = 80
      protocol = "HTTP"
      default_actions = [{
        type     = "redirect"
        redirect = { protocol = "HTTPS", port = "443", status_code = "HTTP_301" }
      }]
    }
    https_forward = {
      port            = 443
      protocol        = "HTTPS"
      ssl_policy      = "ELBSecurityPolicy-TLS13-1-2-2021-06"
      certificate_arn = try(aws_acm_certificate_validation.app[0].certificate_arn, null)
      default_actions = local.forward_to_app
    }
  }
  listeners = [for k in(var.enable_https ? ["http_redirect", "https_forward"] : ["http_forward"]) : local.listener_variants[k]]

  alb_attributes = merge(
    { "routing.http.drop_invalid_header_fields.enabled" = "true", "idle_timeout.timeout_seconds" = "60" },
    var.alb_access_logs == null ? {} : {
      "access_logs.s3.enabled" = "true"
      "access_logs.s3.bucket"  = var.alb_access_logs.bucket
      "access_logs.s3.prefix"  = var.alb_access_logs.prefix
    },
  )

  ephemeral_spec = {
    load_balancers = [merge(
      {
        name               = "${local.short}-alb"
        scheme             = "internet-facing"
        type               = "application"
        ip_address_type    = "ipv4"
        subnets            = local.bootstrap.public_subnet_ids
        security_groups    = [aws_security_group.alb.id]
        attributes         = local.alb_attributes
        tags               = local.tags
        dns_name_parameter = aws_ssm_parameter.alb_dns_name.name
        listeners          = local.listeners
      },
      var.enable_https ? { aliases = [{ zone_id = data.aws_route53_zone.this[0].zone_id, name = local.fqdn }] } : {},
    )]
    kafka_clusters = [for sg in aws_security_group.msk[*].id : {
      name                  = "${local.short}-msk"
      vpc_configs           = [{ subnet_ids = local.bootstrap.private_subnet_ids, security_group_ids = [sg] }]
      client_authentication = { sasl_iam = true }
      tags                  = local.tags
      bootstrap_parameter   = aws_ssm_parameter.kafka_bootstrap[0].name
    }]
    # Always present; empty in network_mode = public (and each empty in the other private mode).
    nat_gateways  = local.nat_gateway_specs
    vpc_endpoints = local.vpc_endpoint_specs
  }
}

resource "aws_lambda_invocation" "ephemeral" {
  function_name   = module.costctl.full_function_name
  lifecycle_scope = "CRUD"
  terraform_key   = "tf"
  input = jsonencode({
    action = "apply-spec"
    stack  = local.name
    spec   = local.ephemeral_spec
  })

  # The function's role must exist and hold its permissions until the delete on destroy, and a
  # hibernated stack is resumed by costctl, not re-created by Terraform. What the spec's NAT
  # gateways and endpoints use must outlive them: `terraform destroy` deletes this invocation
  # (costctl deletes the NAT gateways and endpoints) before it releases the Elastic IPs and
  # deletes the endpoint security group. network_check: the spec is only valid for a network the
  # private modes can use.
  depends_on = [
    module.costctl, terraform_data.hibernation_guard, terraform_data.network_check,
    aws_eip.nat, aws_security_group.endpoints,
  ]
}

locals {
  ephemeral_result = jsondecode(aws_lambda_invocation.ephemeral.result)
}

# Read after every apply-spec: what costctl published last (the ALB DNS name changes on resume).
data "aws_ssm_parameter" "alb_dns_name" {
  name       = aws_ssm_parameter.alb_dns_name.name
  depends_on = [aws_lambda_invocation.ephemeral]
}

# ---------------------------------------------------------------------------------------------
# Optional HTTPS: ACM certificate with DNS validation. The alias record app → ALB is in the spec
# (`aliases`): costctl rewrites it whenever it recreates the ALB.
# ---------------------------------------------------------------------------------------------

data "aws_route53_zone" "this" {
  count = var.enable_https ? 1 : 0

  name         = var.domain_name
  private_zone = false
}

resource "aws_acm_certificate" "app" {
  count = var.enable_https ? 1 : 0

  domain_name       = local.fqdn
  validation_method = "DNS"

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "cert_validation" {
  # Keyed by the (known) host name, so the plan does not depend on ACM's answer.
  for_each = var.enable_https ? toset([local.fqdn]) : toset([])

  zone_id         = data.aws_route53_zone.this[0].zone_id
  name            = one([for o in aws_acm_certificate.app[0].domain_validation_options : o.resource_record_name if o.domain_name == each.key])
  type            = one([for o in aws_acm_certificate.app[0].domain_validation_options : o.resource_record_type if o.domain_name == each.key])
  records         = [one([for o in aws_acm_certificate.app[0].domain_validation_options : o.resource_record_value if o.domain_name == each.key])]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "app" {
  count = var.enable_https ? 1 : 0

  certificate_arn         = aws_acm_certificate.app[0].arn
  validation_record_fqdns = [for r in aws_route53_record.cert_validation : r.fqdn]
}
