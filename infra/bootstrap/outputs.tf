output "region" {
  description = "AWS region of the stack."
  value       = var.region
}

output "project" {
  description = "Project name (tag Project, prefix of environment resources)."
  value       = var.project
}

output "short_name" {
  description = "Short prefix (ot) for name-limited resources."
  value       = var.short_name
}

output "owner" {
  description = "Owner tag."
  value       = var.owner
}

output "state_bucket" {
  description = "S3 bucket holding Terraform state."
  value       = aws_s3_bucket.tf_state.bucket
}

output "lock_table" {
  description = "DynamoDB table holding Terraform state locks."
  value       = aws_dynamodb_table.tf_lock.name
}

output "backend_config" {
  description = "Backend settings shared by bootstrap and env (`terraform output -raw backend_config > backend.hcl`); each root's backend block sets its own key."
  value       = <<-EOT
    bucket         = "${aws_s3_bucket.tf_state.bucket}"
    region         = "${var.region}"
    dynamodb_table = "${aws_dynamodb_table.tf_lock.name}"
    encrypt        = true
  EOT
}

output "vpc_id" {
  description = "VPC of the environments."
  value       = local.vpc_id
}

output "public_subnet_ids" {
  description = "Public subnets (ALB; ECS tasks in the dev posture)."
  value       = local.public_subnet_ids
}

output "private_subnet_ids" {
  description = "Private subnets (RDS, MSK Serverless; ECS tasks in the env private network modes)."
  value       = local.private_subnet_ids
}

output "private_route_table_ids" {
  description = "Route table of each private subnet, in the order of private_subnet_ids (empty for an existing network without private_route_table_ids): the private-network environment adds its NAT route or S3 gateway endpoint there."
  value       = local.private_route_table_ids
}

output "subnet_azs" {
  description = "Availability zone of every public and private subnet (subnet id → zone): NAT gateways and interface endpoints are placed per zone."
  value       = local.subnet_azs
}

output "public_subnet_cidrs" {
  description = "CIDRs of the public subnets, in the order of public_subnet_ids: where the other environments' tasks run, admitted by the private-network environment's interface endpoints (their private DNS names answer for the whole VPC)."
  value       = local.public_subnet_cidrs
}

output "private_network_environment" {
  description = "The one environment that may use env network_mode private-nat or private-endpoints in this VPC (null: none)."
  value       = var.private_network_environment
}

output "ecs_execution_role_arns" {
  description = "ECS task execution role of each environment (reads only that environment's secrets and parameters)."
  value       = { for e, r in aws_iam_role.ecs_execution : e => r.arn }
}

output "permissions_boundary_arns" {
  description = "Permissions boundary of each deployer stage (dev, prod); every role an environment creates must carry its stage's."
  value       = { for s, p in aws_iam_policy.boundary : s => p.arn }
}

output "environments" {
  description = "Environment → deployer stage (dev, prod)."
  value       = var.environments
}

output "ecr_repository_url" {
  description = "ECR repository of the application image."
  value       = aws_ecr_repository.app.repository_url
}

output "ecr_push_role_arn" {
  description = "Build-only role for GitHub Actions: pushes images to the ECR repository, nothing else (null without github_repository)."
  value       = try(aws_iam_role.ecr_push[0].arn, null)
}

output "deployer_role_arns" {
  description = "Deployer roles for GitHub Actions, by stage (dev, prod); empty without github_repository."
  value       = { for k, r in aws_iam_role.deployer : k => r.arn }
}
