output "environment" {
  description = "Environment (workspace) name."
  value       = local.env
}

output "stack" {
  description = "costctl stack name of this environment."
  value       = local.name
}

output "app_url" {
  description = "URL of the application. Without HTTPS it is read from the SSM parameter costctl keeps current (the ALB DNS name changes on every resume)."
  value       = var.enable_https ? "https://${local.fqdn}" : "http://${data.aws_ssm_parameter.alb_dns_name.insecure_value}"
}

output "alb_dns_name_parameter" {
  description = "SSM parameter with the current ALB DNS name."
  value       = aws_ssm_parameter.alb_dns_name.name
}

output "kafka_bootstrap_parameter" {
  description = "SSM parameter with the current Kafka bootstrap brokers (null without MSK)."
  value       = try(aws_ssm_parameter.kafka_bootstrap[0].name, null)
}

output "ephemeral_tier" {
  description = "What costctl reported for the ephemeral tier at the last apply-spec (ARNs change on every resume)."
  value       = local.ephemeral_result
}

output "db_endpoint" {
  description = "RDS endpoint (stable across hibernation: costctl restores the same identifier)."
  value       = aws_db_instance.this.endpoint
}

output "db_final_snapshot_identifier" {
  description = "Name of the snapshot `terraform destroy` leaves (unique per incarnation of the environment; delete it by hand when the data is no longer needed)."
  value       = aws_db_instance.this.final_snapshot_identifier
}

output "db_secret_arn" {
  description = "Secrets Manager secret with the database credentials (RDS's own with db.manage_master_user_password)."
  value       = local.db_secret_arn
}

output "ecs_cluster_name" {
  description = "ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "ecs_service_name" {
  description = "ECS service."
  value       = aws_ecs_service.app.name
}

output "network_mode" {
  description = "Where the tasks run (public, private-nat, private-endpoints) and in which subnets."
  value       = { mode = var.network_mode, task_subnet_ids = local.task_subnet_ids, assign_public_ip = local.assign_public_ip }
}

output "nat_gateways" {
  description = "NAT gateways of network_mode = private-nat, by availability zone, as costctl keeps them (ephemeral tier): the subnet, the Elastic IP Terraform keeps (allocation and public address: the stable egress address, reused on every resume) and the private route tables whose 0.0.0.0/0 it serves. Their IDs change on every resume (see ephemeral_tier). Empty otherwise."
  value = { for i, az in local.nat_azs : az => {
    subnet_id       = local.nat_gateway_specs[i].subnet_id
    allocation_id   = aws_eip.nat[az].allocation_id
    public_ip       = aws_eip.nat[az].public_ip
    route_table_ids = [for r in local.nat_gateway_specs[i].routes : r.route_table_id]
  } }
}

output "vpc_endpoints" {
  description = "VPC endpoints of network_mode = private-endpoints (null / empty otherwise): the S3 gateway endpoint Terraform keeps, and the services of the interface endpoints costctl keeps (ephemeral tier; their IDs change on every resume, see ephemeral_tier)."
  value = {
    s3_gateway_endpoint_id      = try(aws_vpc_endpoint.s3[0].id, null)
    interface_endpoint_services = [for e in local.vpc_endpoint_specs : e.service_name]
  }
}

output "costctl_full_function_name" {
  description = "costctl full function (manual resume/pause/status)."
  value       = module.costctl.full_function_name
}

output "costctl_reduce_only_function_name" {
  description = "costctl reduce-only function (budget alerts)."
  value       = module.costctl.reduce_only_function_name
}

output "costctl_state_table" {
  description = "costctl state table (COSTCTL_STATE_TABLE for the costctl CLI)."
  value       = module.costctl.state_table_name
}

output "costctl_schedules" {
  description = "Pause and resume schedules of this environment."
  value       = module.costctl.schedules
}

output "desired_state" {
  description = "What costctl reported for this stack at plan time (running without the guard)."
  value       = local.desired_state
}

output "resume_command" {
  description = "How to resume this stack by hand."
  value       = local.resume_hint
}
