# Everything shared comes from the bootstrap state.
data "terraform_remote_state" "bootstrap" {
  backend = "s3"
  config = {
    bucket = var.state_bucket
    key    = var.bootstrap_state_key
    region = var.state_region
  }
}

locals {
  bootstrap = data.terraform_remote_state.bootstrap.outputs
}
