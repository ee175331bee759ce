# The guard must not break the very first apply, when the costctl function does not exist yet:
# its status is read only after the function is created (depends_on = [module.costctl]).

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012" }
  }
  mock_data "aws_region" {
    defaults = { region = "eu-west-1" }
  }
  # Were the status read during the first plan, this answer would fail it.
  mock_data "aws_lambda_invocation" {
    defaults = { result = "{\"stack\":\"order-tracking-dev\",\"desired_state\":\"hibernated\",\"lockout\":null}" }
  }
  mock_resource "aws_lambda_invocation" {
    defaults = { result = "{\"stack\":\"order-tracking-dev\",\"load_balancers\":{},\"kafka_clusters\":{}}" }
  }
}

override_data {
  target = data.terraform_remote_state.bootstrap
  values = {
    outputs = {
      region             = "eu-west-1"
      project            = "order-tracking"
      short_name         = "ot"
      owner              = "egobb"
      vpc_id             = "vpc-0123456789abcdef0"
      public_subnet_ids  = ["subnet-0aaa", "subnet-0bbb"]
      private_subnet_ids = ["subnet-0ccc", "subnet-0ddd"]
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
  state_bucket    = "ot-tf-state-123456789012"
  image_tag       = "1.0.0"
  lambda_zip_path = "../modules/costctl/tests/fixtures/bootstrap.zip"

  allow_default_workspace = true
  environment             = "dev"
}

run "first_plan_does_not_invoke_the_missing_function" {
  command = plan
}

run "first_apply_reads_the_status_after_creating_the_function" {
  command = apply

  override_data {
    target = data.aws_lambda_invocation.status
    values = { result = "{\"stack\":\"order-tracking-dev\",\"desired_state\":\"running\",\"lockout\":null}" }
  }

  assert {
    condition     = output.desired_state == "running"
    error_message = "after the first apply the guard has read the status"
  }
}
