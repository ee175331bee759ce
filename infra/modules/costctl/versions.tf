terraform {
  # 1.9: validation blocks may refer to other variables; mock_provider in tests needs 1.7.
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0" # >= 6.0, < 7.0
    }
  }
}
