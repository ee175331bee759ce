# ECS cluster, task definition and service. The service's desired count belongs to autoscaling
# and costctl (pause sets it to 0 and restores it), so Terraform ignores it after creation.

resource "aws_ecs_cluster" "this" {
  name = local.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "app" {
  #checkov:skip=CKV_AWS_158:Application logs of a dev stack; CloudWatch Logs' default encryption is enough.
  #checkov:skip=CKV_AWS_338:Retention is a variable (default 30 days).
  name              = "/ecs/${local.name}"
  retention_in_days = var.log_retention_days
}

# Task role: Kafka over SASL/IAM, scoped by cluster name so it survives a recreated cluster.
data "aws_iam_policy_document" "task_assume" {
  statement {
    sid     = "EcsTasksAssumeRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account]
    }
  }
}

resource "aws_iam_role" "task" {
  name                 = "${local.name}-task"
  description          = "Task role of ${local.name}"
  assume_role_policy   = data.aws_iam_policy_document.task_assume.json
  permissions_boundary = local.permissions_boundary_arn
}

locals {
  kafka_arn_prefix = "arn:${data.aws_partition.current.partition}:kafka:${local.region}:${local.account}"
}

data "aws_iam_policy_document" "task_kafka" {
  count = var.enable_msk ? 1 : 0

  statement {
    sid       = "KafkaConnect"
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:WriteDataIdempotently"]
    resources = ["${local.kafka_arn_prefix}:cluster/${local.short}-msk/*"]
  }

  statement {
    sid = "KafkaTopics"
    actions = [
      "kafka-cluster:CreateTopic", "kafka-cluster:DescribeTopic", "kafka-cluster:DescribeTopicDynamicConfiguration",
      "kafka-cluster:ReadData", "kafka-cluster:WriteData",
    ]
    resources = ["${local.kafka_arn_prefix}:topic/${local.short}-msk/*"]
  }

  statement {
    sid       = "KafkaGroups"
    actions   = ["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"]
    resources = ["${local.kafka_arn_prefix}:group/${local.short}-msk/*"]
  }
}

resource "aws_iam_role_policy" "task_kafka" {
  count = var.enable_msk ? 1 : 0

  name   = "kafka"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task_kafka[0].json
}

# The execution role is this environment's own (bootstrap `ecs_execution_role_arns`): it reads
# only `<short_name>/rds/<env>/*` secrets and `/<project>/<env>/*` parameters, and the deployers
# cannot change it.

# What the task needs from AWS before the application starts, in one place: the task definition
# below is built from these, and network_private.tf derives the interface endpoints of
# network_mode = private-endpoints from the same values.
locals {
  app_image = "${local.bootstrap.ecr_repository_url}:${var.image_tag}"
  # <account>.dkr.ecr.<region>.amazonaws.com[.cn]/<repository>:<tag>
  app_image_from_ecr = can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/", local.app_image))

  # Credentials from Secrets Manager; the Kafka bootstrap string from the parameter costctl
  # keeps current, so a recreated cluster needs no new task definition (a new task reads it).
  # `service` is the AWS service that serves valueFrom, known at plan time while the ARNs are
  # not. (The secret's ARN is null only in a plan with a mock provider: RDS always returns the
  # secret it manages.)
  app_secrets = concat(
    [
      { name = "DB_USER", service = "secretsmanager", value_from = try("${local.db_secret_arn}:username::", null) },
      { name = "DB_PASSWORD", service = "secretsmanager", value_from = try("${local.db_secret_arn}:password::", null) },
    ],
    var.enable_msk ? [{ name = "KAFKA_BOOTSTRAP_SERVERS", service = "ssm", value_from = aws_ssm_parameter.kafka_bootstrap[0].arn }] : [],
  )

  app_log_configuration = {
    logDriver = "awslogs"
    options = {
      awslogs-group         = aws_cloudwatch_log_group.app.name
      awslogs-region        = local.region
      awslogs-stream-prefix = "app"
    }
  }
}

resource "aws_ecs_task_definition" "app" {
  family                   = local.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = local.execution_role_arn
  task_role_arn            = aws_iam_role.task.arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  container_definitions = jsonencode([{
    name      = "app"
    image     = local.app_image
    essential = true
    portMappings = [{
      containerPort = var.container_port
      protocol      = "tcp"
    }]
    environment = [
      { name = "DB_HOST", value = aws_db_instance.this.address },
      { name = "DB_PORT", value = tostring(aws_db_instance.this.port) },
      { name = "DB_NAME", value = var.db.name },
    ]
    secrets          = [for x in local.app_secrets : { name = x.name, valueFrom = x.value_from }]
    logConfiguration = local.app_log_configuration
  }])
}

resource "aws_ecs_service" "app" {
  # Public IPs only with network_mode = public, the dev default (CKV_AWS_333, which checkov cannot
  # evaluate through local.assign_public_ip): inbound traffic reaches the tasks only from the ALB
  # security group, and prod refuses public unless waived (posture_check, `public_subnets`).
  name            = local.project
  cluster         = aws_ecs_cluster.this.id
  task_definition = aws_ecs_task_definition.app.arn
  desired_count   = var.desired_count
  launch_type     = "FARGATE"

  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"

  # network_mode (network_private.tf): public subnets with public IPs, or private subnets without.
  network_configuration {
    subnets          = local.task_subnet_ids
    security_groups  = [aws_security_group.ecs.id]
    assign_public_ip = local.assign_public_ip
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.app.arn
    container_name   = "app"
    container_port   = var.container_port
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  lifecycle {
    ignore_changes = [desired_count]
  }

  # ECS refuses a target group without a load balancer, and the tasks need the brokers: the
  # ephemeral tier must exist first. In the private modes the tasks pull their image through the
  # NAT gateways and their routes or the interface endpoints (ephemeral tier too), the S3 gateway
  # endpoint and the rules that let them through, which must exist first and go last on destroy.
  depends_on = [
    aws_lambda_invocation.ephemeral, aws_vpc_endpoint.s3,
    aws_vpc_security_group_ingress_rule.endpoints_from_tasks, aws_vpc_security_group_egress_rule.ecs_to_endpoints,
    aws_vpc_security_group_egress_rule.ecs_to_s3,
  ]
}

resource "aws_appautoscaling_target" "app" {
  service_namespace  = "ecs"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.app.name}"
  scalable_dimension = "ecs:service:DesiredCount"
  min_capacity       = var.autoscaling.min_capacity
  max_capacity       = var.autoscaling.max_capacity

  # costctl holds the bounds at 0/0 while paused and restores them on resume.
  lifecycle {
    ignore_changes = [min_capacity, max_capacity]
  }
}

resource "aws_appautoscaling_policy" "cpu" {
  name               = "${local.name}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.app.service_namespace
  resource_id        = aws_appautoscaling_target.app.resource_id
  scalable_dimension = aws_appautoscaling_target.app.scalable_dimension

  target_tracking_scaling_policy_configuration {
    target_value = var.autoscaling.cpu_target
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}
