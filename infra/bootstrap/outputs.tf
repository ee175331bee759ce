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
  description = "Private subnets (RDS, MSK Serverless)."
  value       = local.private_subnet_ids
}

output "ecs_execution_role_arn" {
  description = "ECS task execution role shared by the environments."
  value       = aws_iam_role.ecs_execution.arn
}

output "ecs_execution_role_name" {
  description = "Name of the ECS task execution role (environments attach their secret access to it)."
  value       = aws_iam_role.ecs_execution.name
}

output "ecr_repository_url" {
  description = "ECR repository of the application image."
  value       = aws_ecr_repository.app.repository_url
}

output "deployer_role_arns" {
  description = "Deployer roles for GitHub Actions, by stage (dev, prod); empty without github_repository."
  value       = { for k, r in aws_iam_role.deployer : k => r.arn }
}
