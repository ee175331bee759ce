//! Builds demo stacks on the emulator with the plain SDK (independently of costctl's adapters),
//! and snapshots what a pause/resume must give back.

use anyhow::{Context, Result};
use aws_config::SdkConfig;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};
use aws_sdk_ecs::types::{AssignPublicIp, AwsVpcConfiguration, LaunchType, NetworkConfiguration};
use std::collections::BTreeMap;

/// What to build.
#[derive(Debug, Clone)]
pub struct StackSpec {
    /// Value of the `Project` tag; `Env` is `dev`.
    pub project: String,
    pub clusters: usize,
    pub services: usize,
    /// Every n-th service gets an autoscaling target (0: none).
    pub autoscale_every: usize,
    pub databases: usize,
    /// Indexes of databases created with deletion protection on.
    pub protected_databases: Vec<usize>,
}

impl StackSpec {
    pub fn new(project: &str, clusters: usize, services: usize, databases: usize) -> Self {
        StackSpec {
            project: project.into(),
            clusters,
            services,
            autoscale_every: 3,
            databases,
            protected_databases: vec![],
        }
    }

    pub fn tags(&self) -> Vec<(String, String)> {
        vec![
            ("Project".into(), self.project.clone()),
            ("Env".into(), "dev".into()),
        ]
    }

    pub fn tag_args(&self) -> Vec<String> {
        self.tags()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }
}

/// What was built.
#[derive(Debug, Clone)]
pub struct DemoStack {
    pub spec: StackSpec,
    pub vpc: String,
    pub subnets: Vec<String>,
    pub security_group: String,
    pub clusters: Vec<String>,
    /// `(cluster, service)`.
    pub services: Vec<(String, String)>,
    pub databases: Vec<String>,
}

/// Tags one ECS service (ECS TagResource on the service's ARN).
pub async fn tag_service(
    config: &SdkConfig,
    cluster: &str,
    service: &str,
    key: &str,
    value: &str,
) -> Result<()> {
    let ecs = aws_sdk_ecs::Client::new(config);
    let described = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await?;
    let arn = described
        .services()
        .first()
        .and_then(|s| s.service_arn())
        .ok_or_else(|| anyhow::anyhow!("no service {cluster}/{service}"))?
        .to_string();
    ecs.tag_resource()
        .resource_arn(arn)
        .tags(
            aws_sdk_ecs::types::Tag::builder()
                .key(key)
                .value(value)
                .build(),
        )
        .send()
        .await?;
    Ok(())
}

/// A comparable picture of the stack: counts, bounds, database specs.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    pub desired: BTreeMap<String, i32>,
    pub bounds: BTreeMap<String, (i32, i32)>,
    /// id → (status, class, subnet group, security groups, parameter group, storage, tags)
    pub databases: BTreeMap<String, DbPicture>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DbPicture {
    pub status: String,
    pub class: String,
    pub subnet_group: Option<String>,
    pub security_groups: Vec<String>,
    pub parameter_group: Option<String>,
    pub storage_type: Option<String>,
    pub allocated_storage: Option<i32>,
    pub port: Option<i32>,
    pub tags: BTreeMap<String, String>,
}

pub async fn build(config: &SdkConfig, spec: &StackSpec) -> Result<DemoStack> {
    let ec2 = aws_sdk_ec2::Client::new(config);
    let ecs = aws_sdk_ecs::Client::new(config);
    let aas = aws_sdk_applicationautoscaling::Client::new(config);
    let rds = aws_sdk_rds::Client::new(config);
    let p = &spec.project;

    // moto creates a default VPC with one subnet per zone.
    let vpcs = ec2.describe_vpcs().send().await?;
    let vpc = vpcs
        .vpcs()
        .iter()
        .find(|v| v.is_default() == Some(true))
        .and_then(|v| v.vpc_id())
        .context("default VPC")?
        .to_string();
    let subnets: Vec<String> = ec2
        .describe_subnets()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("vpc-id")
                .values(&vpc)
                .build(),
        )
        .send()
        .await?
        .subnets()
        .iter()
        .filter_map(|s| s.subnet_id().map(str::to_string))
        .collect();
    let sg = ec2
        .create_security_group()
        .group_name(format!("{p}-app"))
        .description("demo")
        .vpc_id(&vpc)
        .send()
        .await?
        .group_id()
        .context("sg id")?
        .to_string();

    let ecs_tags: Vec<aws_sdk_ecs::types::Tag> = spec
        .tags()
        .into_iter()
        .map(|(k, v)| aws_sdk_ecs::types::Tag::builder().key(k).value(v).build())
        .collect();
    ecs.register_task_definition()
        .family(format!("{p}-app"))
        .network_mode(aws_sdk_ecs::types::NetworkMode::Awsvpc)
        .requires_compatibilities(aws_sdk_ecs::types::Compatibility::Fargate)
        .cpu("256")
        .memory("512")
        .container_definitions(
            aws_sdk_ecs::types::ContainerDefinition::builder()
                .name("app")
                .image("public.ecr.aws/nginx/nginx:latest")
                .build(),
        )
        .send()
        .await?;
    let mut clusters = Vec::new();
    for c in 0..spec.clusters {
        let name = format!("{p}-c{c}");
        ecs.create_cluster().cluster_name(&name).send().await?;
        clusters.push(name);
    }
    let mut services = Vec::new();
    for i in 0..spec.services {
        let cluster = clusters[i % clusters.len()].clone();
        let name = format!("{p}-svc{i:03}");
        let desired = 1 + (i % 4) as i32;
        ecs.create_service()
            .cluster(&cluster)
            .service_name(&name)
            .task_definition(format!("{p}-app"))
            .desired_count(desired)
            .launch_type(LaunchType::Fargate)
            .network_configuration(
                NetworkConfiguration::builder()
                    .awsvpc_configuration(
                        AwsVpcConfiguration::builder()
                            .set_subnets(Some(subnets.clone()))
                            .security_groups(&sg)
                            .assign_public_ip(AssignPublicIp::Enabled)
                            .build()?,
                    )
                    .build(),
            )
            .set_tags(Some(ecs_tags.clone()))
            .send()
            .await?;
        if spec.autoscale_every > 0 && i % spec.autoscale_every == 0 {
            aas.register_scalable_target()
                .service_namespace(ServiceNamespace::Ecs)
                .scalable_dimension(ScalableDimension::EcsServiceDesiredCount)
                .resource_id(format!("service/{cluster}/{name}"))
                .min_capacity(desired)
                .max_capacity(desired + 3)
                .send()
                .await?;
        }
        services.push((cluster, name));
    }

    let mut databases = Vec::new();
    if spec.databases > 0 {
        rds.create_db_subnet_group()
            .db_subnet_group_name(format!("{p}-db"))
            .db_subnet_group_description("demo")
            .set_subnet_ids(Some(subnets.clone()))
            .send()
            .await?;
        rds.create_db_parameter_group()
            .db_parameter_group_name(format!("{p}-pg16"))
            .db_parameter_group_family("postgres16")
            .description("demo")
            .send()
            .await?;
    }
    for i in 0..spec.databases {
        let id = format!("{p}-db{i}");
        let rds_tags: Vec<aws_sdk_rds::types::Tag> = spec
            .tags()
            .into_iter()
            .chain([("Role".to_string(), format!("db{i}"))])
            .map(|(k, v)| aws_sdk_rds::types::Tag::builder().key(k).value(v).build())
            .collect();
        rds.create_db_instance()
            .db_instance_identifier(&id)
            .db_instance_class(if i % 2 == 0 {
                "db.t4g.micro"
            } else {
                "db.t3.small"
            })
            .engine("postgres")
            .engine_version("16.3")
            .master_username("app")
            .master_user_password("not-a-real-password")
            .allocated_storage(20 + 10 * i as i32)
            .storage_type("gp3")
            .db_subnet_group_name(format!("{p}-db"))
            .db_parameter_group_name(format!("{p}-pg16"))
            .vpc_security_group_ids(&sg)
            .deletion_protection(spec.protected_databases.contains(&i))
            .copy_tags_to_snapshot(true)
            .set_tags(Some(rds_tags))
            .send()
            .await?;
        databases.push(id);
    }
    Ok(DemoStack {
        spec: spec.clone(),
        vpc,
        subnets,
        security_group: sg,
        clusters,
        services,
        databases,
    })
}

impl DemoStack {
    /// Looks at everything with the plain SDK.
    pub async fn picture(&self, config: &SdkConfig) -> Result<Picture> {
        let ecs = aws_sdk_ecs::Client::new(config);
        let aas = aws_sdk_applicationautoscaling::Client::new(config);
        let rds = aws_sdk_rds::Client::new(config);
        let mut desired = BTreeMap::new();
        for cluster in &self.clusters {
            let names: Vec<String> = self
                .services
                .iter()
                .filter(|(c, _)| c == cluster)
                .map(|(_, s)| s.clone())
                .collect();
            for chunk in names.chunks(10) {
                let out = ecs
                    .describe_services()
                    .cluster(cluster)
                    .set_services(Some(chunk.to_vec()))
                    .send()
                    .await?;
                for s in out.services() {
                    desired.insert(
                        format!("{cluster}/{}", s.service_name().unwrap_or("")),
                        s.desired_count(),
                    );
                }
            }
        }
        let mut bounds = BTreeMap::new();
        let targets: Vec<aws_sdk_applicationautoscaling::types::ScalableTarget> = aas
            .describe_scalable_targets()
            .service_namespace(ServiceNamespace::Ecs)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<_, _>>()
            .await?;
        for t in &targets {
            if self
                .services
                .iter()
                .any(|(c, s)| t.resource_id() == format!("service/{c}/{s}"))
            {
                bounds.insert(
                    t.resource_id().to_string(),
                    (t.min_capacity(), t.max_capacity()),
                );
            }
        }
        let mut databases = BTreeMap::new();
        for id in &self.databases {
            let Ok(out) = rds
                .describe_db_instances()
                .db_instance_identifier(id)
                .send()
                .await
            else {
                continue;
            };
            for db in out.db_instances() {
                let mut sgs: Vec<String> = db
                    .vpc_security_groups()
                    .iter()
                    .filter_map(|g| g.vpc_security_group_id().map(str::to_string))
                    .collect();
                sgs.sort();
                databases.insert(
                    id.clone(),
                    DbPicture {
                        status: db.db_instance_status().unwrap_or("").into(),
                        class: db.db_instance_class().unwrap_or("").into(),
                        subnet_group: db
                            .db_subnet_group()
                            .and_then(|g| g.db_subnet_group_name())
                            .map(str::to_string),
                        security_groups: sgs,
                        parameter_group: db
                            .db_parameter_groups()
                            .first()
                            .and_then(|g| g.db_parameter_group_name())
                            .map(str::to_string),
                        storage_type: db.storage_type().map(str::to_string),
                        allocated_storage: db.allocated_storage(),
                        port: db.endpoint().and_then(|e| e.port()),
                        tags: db
                            .tag_list()
                            .iter()
                            .filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())))
                            .collect(),
                    },
                );
            }
        }
        Ok(Picture {
            desired,
            bounds,
            databases,
        })
    }
}

/// An ALB built by [`build_alb`].
#[derive(Debug, Clone)]
pub struct Alb {
    pub name: String,
    pub arn: String,
    pub certificate: String,
    pub target_groups: Vec<String>,
}

/// The ephemeral tier of a reference stack: an ALB and an MSK Serverless cluster, tagged like
/// the stack so that its selector finds them.
#[derive(Debug, Clone)]
pub struct Ephemeral {
    pub alb: Alb,
    pub msk_name: String,
    pub msk_arn: String,
}

/// Builds an ALB with the plain SDK: two target groups, a certificate, an HTTP and an HTTPS
/// listener, two rules with different conditions (path; header) and actions (forward; fixed
/// response), non-default attributes (deletion protection when `protected`), the stack's tags
/// plus one more.
pub async fn build_alb(
    config: &SdkConfig,
    stack: &DemoStack,
    name: &str,
    protected: bool,
) -> Result<Alb> {
    use aws_sdk_elasticloadbalancingv2::types::{
        Action, ActionTypeEnum, Certificate, FixedResponseActionConfig, HttpHeaderConditionConfig,
        LoadBalancerAttribute, PathPatternConditionConfig, ProtocolEnum, RuleCondition, Tag,
    };
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(config);
    let p = &stack.spec.project;
    let mut target_groups = Vec::new();
    for suffix in ["a", "b"] {
        target_groups.push(target_group(config, stack, &format!("{p}-tg-{suffix}")).await?);
    }
    let certificate = certificate(config, &format!("{p}.example.com")).await?;
    let tags: Vec<Tag> = stack
        .spec
        .tags()
        .into_iter()
        .chain([("Team".to_string(), "orders".to_string())])
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect();
    let lb = elb
        .create_load_balancer()
        .name(name)
        .set_subnets(Some(stack.subnets.iter().take(2).cloned().collect()))
        .security_groups(&stack.security_group)
        .set_tags(Some(tags))
        .send()
        .await?;
    let arn = lb
        .load_balancers()
        .first()
        .and_then(|l| l.load_balancer_arn())
        .context("load balancer arn")?
        .to_string();
    let mut attributes = vec![
        ("idle_timeout.timeout_seconds", "120"),
        ("routing.http2.enabled", "false"),
        ("routing.http.drop_invalid_header_fields.enabled", "true"),
    ];
    if protected {
        attributes.push(("deletion_protection.enabled", "true"));
    }
    elb.modify_load_balancer_attributes()
        .load_balancer_arn(&arn)
        .set_attributes(Some(
            attributes
                .iter()
                .map(|(k, v)| LoadBalancerAttribute::builder().key(*k).value(*v).build())
                .collect(),
        ))
        .send()
        .await?;
    let forward = |tg: &str| {
        Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .target_group_arn(tg)
            .build()
    };
    let http = elb
        .create_listener()
        .load_balancer_arn(&arn)
        .port(80)
        .protocol(ProtocolEnum::Http)
        .default_actions(forward(&target_groups[0]))
        .send()
        .await?;
    let http_arn = http
        .listeners()
        .first()
        .and_then(|l| l.listener_arn())
        .context("listener arn")?
        .to_string();
    elb.create_listener()
        .load_balancer_arn(&arn)
        .port(443)
        .protocol(ProtocolEnum::Https)
        .ssl_policy("ELBSecurityPolicy-2016-08")
        .certificates(Certificate::builder().certificate_arn(&certificate).build())
        .default_actions(forward(&target_groups[1]))
        .send()
        .await?;
    let path = RuleCondition::builder()
        .field("path-pattern")
        .path_pattern_config(
            PathPatternConditionConfig::builder()
                .values("/api/*")
                .build(),
        )
        .build();
    let header = RuleCondition::builder()
        .field("http-header")
        .http_header_config(
            HttpHeaderConditionConfig::builder()
                .http_header_name("X-Canary")
                .values("1")
                .build(),
        )
        .build();
    let paused = Action::builder()
        .r#type(ActionTypeEnum::FixedResponse)
        .fixed_response_config(
            FixedResponseActionConfig::builder()
                .status_code("503")
                .content_type("text/plain")
                .message_body("paused")
                .build(),
        )
        .build();
    for (priority, condition, action) in
        [(10, path, forward(&target_groups[1])), (20, header, paused)]
    {
        elb.create_rule()
            .listener_arn(&http_arn)
            .priority(priority)
            .conditions(condition)
            .actions(action)
            .send()
            .await?;
    }
    Ok(Alb {
        name: name.to_string(),
        arn,
        certificate,
        target_groups,
    })
}

/// Builds the ephemeral tier with the plain SDK: the ALB of [`build_alb`] and an MSK Serverless
/// cluster with IAM auth in two subnets.
pub async fn build_ephemeral(config: &SdkConfig, stack: &DemoStack) -> Result<Ephemeral> {
    use aws_sdk_kafka::types::{
        Iam, ServerlessClientAuthentication, ServerlessRequest, ServerlessSasl, VpcConfig,
    };
    let p = &stack.spec.project;
    let alb = build_alb(config, stack, &format!("{p}-alb"), false).await?;
    let msk_name = format!("{p}-events");
    let msk = aws_sdk_kafka::Client::new(config)
        .create_cluster_v2()
        .cluster_name(&msk_name)
        .serverless(
            ServerlessRequest::builder()
                .vpc_configs(
                    VpcConfig::builder()
                        .set_subnet_ids(Some(stack.subnets.iter().take(2).cloned().collect()))
                        .security_group_ids(&stack.security_group)
                        .build(),
                )
                .client_authentication(
                    ServerlessClientAuthentication::builder()
                        .sasl(
                            ServerlessSasl::builder()
                                .iam(Iam::builder().enabled(true).build())
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .set_tags(Some(stack.spec.tags().into_iter().collect()))
        .send()
        .await?;
    let msk_arn = msk.cluster_arn().context("cluster arn")?.to_string();
    Ok(Ephemeral {
        alb,
        msk_name,
        msk_arn,
    })
}

/// Whether the ALB and the MSK cluster of the ephemeral tier exist now (an MSK cluster being
/// deleted counts as gone): what a pause must take away and a resume must give back.
pub async fn ephemeral_present(config: &SdkConfig, e: &Ephemeral) -> Result<(bool, bool)> {
    let elb = aws_sdk_elasticloadbalancingv2::Client::new(config);
    let alb = elb
        .describe_load_balancers()
        .names(&e.alb.name)
        .send()
        .await
        .is_ok_and(|o| !o.load_balancers().is_empty());
    let msk = aws_sdk_kafka::Client::new(config)
        .list_clusters_v2()
        .cluster_name_filter(&e.msk_name)
        .send()
        .await?
        .cluster_info_list()
        .iter()
        .any(|c| {
            c.cluster_name() == Some(e.msk_name.as_str())
                && c.state().is_some_and(|s| s.as_str() != "DELETING")
        });
    Ok((alb, msk))
}

/// An IP target group (HTTP, port 8080) in the stack's VPC; its ARN.
pub async fn target_group(config: &SdkConfig, stack: &DemoStack, name: &str) -> Result<String> {
    use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, TargetTypeEnum};
    let out = aws_sdk_elasticloadbalancingv2::Client::new(config)
        .create_target_group()
        .name(name)
        .protocol(ProtocolEnum::Http)
        .port(8080)
        .vpc_id(&stack.vpc)
        .target_type(TargetTypeEnum::Ip)
        .send()
        .await?;
    Ok(out
        .target_groups()
        .first()
        .and_then(|t| t.target_group_arn())
        .context("target group arn")?
        .to_string())
}

/// An ACM certificate for `domain`; its ARN.
pub async fn certificate(config: &SdkConfig, domain: &str) -> Result<String> {
    Ok(aws_sdk_acm::Client::new(config)
        .request_certificate()
        .domain_name(domain)
        .send()
        .await?
        .certificate_arn()
        .context("certificate arn")?
        .to_string())
}
