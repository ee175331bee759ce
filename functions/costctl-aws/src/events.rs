//! Publishing costctl's transition events to EventBridge (`events:PutEvents`), on the bus the
//! deployment names (`COSTCTL_EVENT_BUS`); without one nothing is sent.

use crate::aws::AwsCloud;
use crate::error::{CloudError, CloudResult, FromSdk};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use costctl_engine::events::{Event, SOURCE};

impl AwsCloud {
    pub(crate) async fn events_put(&self, events: &[Event]) -> CloudResult<()> {
        let Some(bus) = &self.event_bus else {
            return Ok(());
        };
        let mut call = self.events.put_events();
        for e in events {
            let detail = serde_json::to_string(&e.detail)
                .map_err(|err| CloudError::refused("events", err.to_string()))?;
            call = call.entries(
                PutEventsRequestEntry::builder()
                    .source(SOURCE)
                    .detail_type(e.detail_type.as_str())
                    .detail(detail)
                    .event_bus_name(bus)
                    .build(),
            );
        }
        let out = call
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("events:PutEvents", bus.clone(), e))?;
        // PutEvents answers 200 with per-entry failures (e.g. a throttled or too large entry):
        // the whole batch is tried again, and the consumers see an event at least once.
        if out.failed_entry_count() > 0 {
            let first = out
                .entries()
                .iter()
                .find(|r| r.error_code().is_some())
                .map(|r| {
                    (
                        r.error_code().unwrap_or_default().to_string(),
                        r.error_message().unwrap_or_default().to_string(),
                    )
                })
                .unwrap_or_default();
            return Err(CloudError::Transient {
                operation: "events:PutEvents",
                resource: bus.clone(),
                code: first.0,
                message: format!(
                    "{} of {} entries failed: {}",
                    out.failed_entry_count(),
                    events.len(),
                    first.1
                ),
            });
        }
        Ok(())
    }
}
