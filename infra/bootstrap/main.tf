# Bootstrap: what every environment shares and what is applied once (or very rarely).
# Do not destroy it to save money: it costs cents. The expensive parts live in ../env.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  tags = {
    Project   = var.project
    Env       = "shared"
    Owner     = var.owner
    ManagedBy = "terraform"
  }
  state_bucket_name = coalesce(var.state_bucket_name, "${var.short_name}-tf-state-${local.account}")
}

# ---------------------------------------------------------------------------------------------
# Remote state: versioned, encrypted bucket + lock table. Both survive `terraform destroy`.
# ---------------------------------------------------------------------------------------------

resource "aws_s3_bucket" "tf_state" {
  #checkov:skip=CKV_AWS_18:Access logging of the state bucket needs a second bucket; CloudTrail data events are the better audit trail if required.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles the cost of a bucket that versioning already protects.
  #checkov:skip=CKV2_AWS_62:Nothing consumes event notifications of the state bucket.
  bucket = local.state_bucket_name

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_versioning" "tf_state" {
  bucket = aws_s3_bucket.tf_state.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "tf_state" {
  bucket = aws_s3_bucket.tf_state.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "tf_state" {
  bucket                  = aws_s3_bucket.tf_state.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "tf_state" {
  bucket = aws_s3_bucket.tf_state.id

  rule {
    id     = "expire-old-state-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

data "aws_iam_policy_document" "tf_state" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.tf_state.arn, "${aws_s3_bucket.tf_state.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "tf_state" {
  bucket = aws_s3_bucket.tf_state.id
  policy = data.aws_iam_policy_document.tf_state.json
}

resource "aws_dynamodb_table" "tf_lock" {
  #checkov:skip=CKV_AWS_119:Lock items hold no data worth a customer managed key; SSE with the AWS managed key is on.
  name         = var.lock_table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "LockID"

  attribute {
    name = "LockID"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  lifecycle {
    prevent_destroy = true
  }
}

# ---------------------------------------------------------------------------------------------
# Service-linked roles costctl relies on: it creates ALBs and MSK Serverless clusters, but its
# role may not create service-linked roles, and a brand-new account has neither.
# ---------------------------------------------------------------------------------------------

resource "aws_iam_service_linked_role" "this" {
  for_each = var.create_service_linked_roles ? toset(["elasticloadbalancing.amazonaws.com", "kafka.amazonaws.com"]) : toset([])

  aws_service_name = each.value
}

# ---------------------------------------------------------------------------------------------
# ECR
# ---------------------------------------------------------------------------------------------

resource "aws_ecr_repository" "app" {
  name                 = var.project
  image_tag_mutability = var.ecr_image_tag_mutability

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
  }
}

resource "aws_ecr_lifecycle_policy" "app" {
  repository = aws_ecr_repository.app.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Expire untagged images after ${var.ecr_untagged_expiry_days} days"
      selection = {
        tagStatus   = "untagged"
        countType   = "sinceImagePushed"
        countUnit   = "days"
        countNumber = var.ecr_untagged_expiry_days
      }
      action = { type = "expire" }
    }]
  })
}
