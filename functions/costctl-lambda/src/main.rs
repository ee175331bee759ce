//! The costctl Lambda bootstrap: configuration validated at cold start, SDK clients built once,
//! then one handler for every event (`costctl_lambda::handler`, docs/events.md).

use costctl_engine::Service;
use costctl_lambda::{handler, settings};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use std::sync::Arc;

fn main() -> Result<(), lambda_runtime::Error> {
    let mut filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    // Whatever RUST_LOG says, no credential is ever logged (see QUIET_SECRETS).
    let most_verbose = filter
        .max_level_hint()
        .unwrap_or(tracing::level_filters::LevelFilter::TRACE);
    for directive in costctl_aws::secret_caps(most_verbose) {
        filter = filter.add_directive(directive.parse().expect("a valid directive"));
    }
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .init();

    // A bad configuration fails the cold start loudly, naming the field: better than a function
    // that accepts events it cannot carry out.
    let settings = match settings::Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "invalid configuration");
            return Err(e.into());
        }
    };
    let runtime = match settings.worker_threads {
        0 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build()?,
    };
    runtime.block_on(serve(settings))
}

/// Cold start (SDK configuration, the stack configuration, clients), then the event loop.
async fn serve(settings: settings::Settings) -> Result<(), lambda_runtime::Error> {
    let sdk = costctl_aws::load_config(&costctl_aws::Connection {
        region: None,
        endpoint_url: settings.endpoint_url.clone(),
        profile: None,
    })
    .await;
    let config = match settings.load_config(&sdk).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "invalid configuration");
            return Err(e.into());
        }
    };
    // Every AWS request is counted in the client and logged per invocation: how many calls a
    // pause made, and how many retries throttling cost, without turning on SDK debug logs.
    let counter = costctl_aws::RequestCounter::new();
    // Costs are estimated with the price table of the function's own region.
    let region = sdk.region().map(ToString::to_string).unwrap_or_default();
    let engine = costctl_engine::Engine::new(
        costctl_aws::AwsCloud::counted(&sdk, &counter).with_event_bus(settings.event_bus.clone()),
        costctl_aws::DynamoStore::counted(&sdk, &settings.state_table, &counter),
        settings.engine_options(),
    )
    .with_prices(config.prices_for(&region));
    let service = Arc::new(Service::with_engine(engine, config, settings.mode));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let service = Arc::clone(&service);
        let counter = counter.clone();
        async move {
            let before = counter.snapshot();
            let function = event.context.env_config.function_name.clone();
            let result = handler::handle(&service, event).await;
            // Metrics in the Embedded Metric Format: plain stdout lines CloudWatch Logs reads.
            if let Ok(answer) = &result {
                let now = service.engine().now_ms();
                for report in answer.reports() {
                    println!(
                        "{}",
                        costctl_lambda::metrics::emf_line(report, &function, now)
                    );
                }
            }
            let used = counter.snapshot().since(&before);
            let total = used.total();
            // The longest chain of calls that each waited for the previous one's answer: what
            // the invocation's time is made of at a region's latency.
            let spans = counter.take_spans();
            let path = costctl_aws::critical_path(&spans);
            tracing::info!(
                calls = total.calls,
                attempts = total.attempts,
                retries = total.retries(),
                round_trips = path.len(),
                critical_path = %costctl_aws::critical_path_line(&path),
                requests = %serde_json::to_string(&used).unwrap_or_default(),
                "aws requests"
            );
            result
        }
    }))
    .await
}
