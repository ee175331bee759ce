//! Reading costctl's transition events back: an EventBridge rule on the default bus matching
//! `source: costctl`, with an SQS queue as its target, as a user would route them.

use aws_sdk_eventbridge::types::Target;
use serde_json::Value;

pub struct EventTap {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl EventTap {
    /// Creates the queue `name`, and a rule of the same name on the default bus routing every
    /// event of source `costctl` to it.
    pub async fn start(sdk: &aws_config::SdkConfig, name: &str) -> anyhow::Result<EventTap> {
        let sqs = aws_sdk_sqs::Client::new(sdk);
        let queue_url = sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await?
            .queue_url()
            .unwrap_or_default()
            .to_string();
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await?
            .attributes()
            .and_then(|a| {
                a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn)
                    .cloned()
            })
            .unwrap_or_default();
        let events = aws_sdk_eventbridge::Client::new(sdk);
        events
            .put_rule()
            .name(name)
            .event_pattern(r#"{"source":["costctl"]}"#)
            .send()
            .await?;
        events
            .put_targets()
            .rule(name)
            .targets(Target::builder().id("queue").arn(queue_arn).build()?)
            .send()
            .await?;
        Ok(EventTap { sqs, queue_url })
    }

    /// Every event delivered since the last call, oldest first (as EventBridge sends them:
    /// `source`, `detail-type`, `detail`, …), deleted from the queue.
    pub async fn drain(&self) -> anyhow::Result<Vec<Value>> {
        let mut out = Vec::new();
        loop {
            let got = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .send()
                .await?;
            if got.messages().is_empty() {
                return Ok(out);
            }
            for m in got.messages() {
                out.push(serde_json::from_str(m.body().unwrap_or("null"))?);
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle().unwrap_or_default())
                    .send()
                    .await?;
            }
        }
    }

    /// The detail types of `events`, in order.
    pub fn kinds(events: &[Value]) -> Vec<String> {
        events
            .iter()
            .map(|e| e["detail-type"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}
