terraform {
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0" # >= 6.0, < 7.0
    }
  }

  # Partial configuration: `terraform init -backend-config=../bootstrap/backend.hcl`; the state of
  # workspace W lands at env/W/terraform.tfstate (workspace_key_prefix).
  backend "s3" {
    key                  = "terraform.tfstate"
    workspace_key_prefix = "env"
  }
}

provider "aws" {
  region = local.bootstrap.region

  default_tags {
    tags = local.tags
  }
}
