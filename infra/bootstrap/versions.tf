terraform {
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0" # >= 6.0, < 7.0
    }
  }

  # No backend block here on purpose: the very first apply creates the state bucket and the lock
  # table with local state. Then `cp backend.tf.example backend.tf` and
  # `terraform init -migrate-state -backend-config=backend.hcl` moves the state into them
  # (see ../README.md, "Bootstrap").
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}
