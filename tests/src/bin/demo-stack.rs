//! Builds a demo stack on an emulator that is already running:
//! `demo-stack ENDPOINT [PROJECT] [CLUSTERS] [SERVICES] [DATABASES]`.
//! Used by `scripts/demo`; prints what it built.

use anyhow::{Context, Result};
use aws_config::{BehaviorVersion, Region};
use costctl_tests::stack::{StackSpec, build};

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let endpoint = args
        .first()
        .context("usage: demo-stack ENDPOINT [PROJECT] [CLUSTERS] [SERVICES] [DATABASES]")?;
    anyhow::ensure!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "the demo stack is only built on a local emulator, not on {endpoint}"
    );
    let project = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "order-tracking".into());
    let num = |i: usize, default: usize| -> Result<usize> {
        args.get(i).map_or(Ok(default), |v| {
            v.parse().with_context(|| format!("not a number: {v}"))
        })
    };
    let spec = StackSpec::new(&project, num(2, 1)?, num(3, 4)?, num(4, 1)?);
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ecs::config::Credentials::new(
            "testing", "testing", None, None, "demo",
        ))
        .endpoint_url(endpoint)
        .load()
        .await;
    let stack = build(&sdk, &spec).await?;
    println!(
        "built demo stack {project}: {} ECS service(s) in {} cluster(s) (every 3rd autoscaled), {} RDS instance(s), tags {}",
        stack.services.len(),
        stack.clusters.len(),
        stack.databases.len(),
        spec.tag_args().join(" ")
    );
    Ok(())
}
