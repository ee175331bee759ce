//! The SNS and EventBridge envelopes, read with the official `aws_lambda_events` types after the
//! checks that name an event costctl does not handle (its source, its detail-type, its EventID).

use super::{EventError, Obj, RDS_AUTO_START_EVENT, Request, missing, shown, wrong_type};
use crate::budget::BudgetAlert;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sns::SnsEvent;
use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Reads an envelope into its official type; an error names the path of the field.
fn envelope<T: serde::de::DeserializeOwned>(
    value: &Value,
    envelope: &'static str,
) -> Result<T, EventError> {
    serde_path_to_error::deserialize(value).map_err(|e| EventError::Envelope {
        envelope,
        path: e.path().to_string(),
        message: e.inner().to_string(),
    })
}

/// An SNS event: every record must come from SNS (an SQS or S3 record sent to this function is
/// named as such), then the envelope is read as `aws_lambda_events::sns::SnsEvent` and each
/// message as a budget notification.
pub(super) fn decode_sns(value: &Value, map: &Map<String, Value>) -> Result<Request, EventError> {
    let records = match map.get("Records") {
        Some(Value::Array(r)) => r,
        Some(v) => return Err(wrong_type("Records", "an array", v)),
        None => return Err(missing("Records")),
    };
    if records.is_empty() {
        return Err(EventError::NoRecords);
    }
    for (i, record) in records.iter().enumerate() {
        let path = format!("Records[{i}]");
        let rec = match record {
            Value::Object(m) => Obj::new(m, &path),
            v => return Err(wrong_type(&path, "an object", v)),
        };
        let source = rec
            .opt_str("EventSource")?
            .or(rec.opt_str("eventSource")?)
            .ok_or_else(|| missing(&rec.field("EventSource")))?;
        if source != "aws:sns" {
            return Err(EventError::UnknownEventSource {
                event_source: shown(source),
                detail_type: None,
            });
        }
    }
    let event: SnsEvent = envelope(value, "SNS")?;
    let mut alerts = Vec::with_capacity(event.records.len());
    for (i, record) in event.records.iter().enumerate() {
        let alert = BudgetAlert::parse(record.sns.subject.as_deref(), &record.sns.message)
            .map_err(|error| EventError::Budget { record: i, error })?;
        alerts.push(alert);
    }
    Ok(Request::BudgetAlerts(alerts))
}

/// The `detail` of an RDS DB instance event (the fields costctl reads; `Serialize` only because
/// `EventBridgeEvent` asks for it).
#[derive(Debug, Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RdsInstanceEvent {
    #[serde(rename = "EventID")]
    event_id: String,
    #[serde(default)]
    source_type: Option<String>,
    source_identifier: String,
    source_arn: String,
    #[serde(default)]
    date: Option<String>,
}

/// An EventBridge event: only `aws.rds` / `RDS DB Instance Event` is handled (anything else is
/// named by its source and detail-type); the envelope is read as
/// `aws_lambda_events::eventbridge::EventBridgeEvent`.
pub(super) fn decode_eventbridge(
    value: &Value,
    map: &Map<String, Value>,
) -> Result<Request, EventError> {
    let o = Obj::new(map, "");
    let source = o.req_str("source")?;
    let detail_type = o.req_str("detail-type")?;
    if source != "aws.rds" || detail_type != "RDS DB Instance Event" {
        return Err(EventError::UnknownEventSource {
            event_source: shown(source),
            detail_type: Some(shown(detail_type)),
        });
    }
    let event: EventBridgeEvent<RdsInstanceEvent> = envelope(value, "EventBridge")?;
    let detail = &event.detail;
    if detail.event_id != RDS_AUTO_START_EVENT {
        return Err(EventError::UnsupportedEvent {
            event_source: "aws.rds".into(),
            event_id: shown(&detail.event_id),
            supported: RDS_AUTO_START_EVENT,
        });
    }
    if let Some(t) = &detail.source_type
        && t != "DB_INSTANCE"
    {
        return Err(EventError::InvalidValue {
            field: "detail.SourceType".into(),
            value: shown(t),
            reason: "expected DB_INSTANCE".into(),
        });
    }
    let instance_id = detail.source_identifier.as_str();
    let source_arn = detail.source_arn.as_str();
    // arn:PARTITION:rds:REGION:ACCOUNT:db:ID — the ARN must name the same instance.
    let parts: Vec<&str> = source_arn.splitn(7, ':').collect();
    let arn_ok = parts.len() == 7
        && parts[0] == "arn"
        && parts[2] == "rds"
        && parts[5] == "db"
        && parts[6] == instance_id;
    if !arn_ok || instance_id.is_empty() {
        return Err(EventError::InvalidValue {
            field: "detail.SourceArn".into(),
            value: shown(source_arn),
            reason: format!(
                "expected arn:…:rds:REGION:ACCOUNT:db:{}",
                shown(instance_id)
            ),
        });
    }
    let time = match (event.time, &detail.date) {
        (Some(t), _) => {
            let nanos =
                i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos());
            OffsetDateTime::from_unix_timestamp_nanos(nanos).map_err(|e| {
                EventError::InvalidValue {
                    field: "time".into(),
                    value: t.to_rfc3339(),
                    reason: e.to_string(),
                }
            })?
        }
        (None, Some(date)) => {
            OffsetDateTime::parse(date, &Rfc3339).map_err(|e| EventError::InvalidValue {
                field: "detail.Date".into(),
                value: shown(date),
                reason: format!("expected an RFC 3339 timestamp: {e}"),
            })?
        }
        (None, None) => return Err(missing("detail.Date")),
    };
    Ok(Request::RdsAutoStart {
        instance_id: instance_id.to_string(),
        source_arn: source_arn.to_string(),
        time,
    })
}
