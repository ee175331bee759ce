//! Every Lambda event costctl accepts, decoded into one typed [`Request`].
//!
//! The raw payload is a `serde_json::Value`; [`Request::from_value`] recognises, in this order:
//!
//! 1. an SNS event (`{"Records": [{"EventSource": "aws:sns", "Sns": {…}}]}`) carrying AWS Budgets
//!    notifications → [`Request::BudgetAlerts`];
//! 2. an EventBridge event (`source` + `detail-type`): only `aws.rds` / `RDS DB Instance Event`
//!    with `RDS-EVENT-0154` (auto-start after 7 days stopped) → [`Request::RdsAutoStart`];
//! 3. an action object (`{"action": "pause", …}`) from EventBridge Scheduler, a manual invoke,
//!    the command line, or Terraform's `aws_lambda_invocation` (`apply-spec` with a `tf` object).
//!
//! The SNS and EventBridge envelopes are read with the official `aws_lambda_events` types, so an
//! envelope must be whole, as AWS delivers it; an error names the path of the field. Anything
//! else is an [`EventError`] that names the problem; nothing is half-decoded. Action
//! objects are strict: a field that the action does not take is an error, so a typo such as
//! `"forse": true` cannot silently turn a forced resume into a refused one.
//! Full reference with example payloads: `docs/events.md`.

use crate::DesiredState;
use crate::budget::{BudgetAlert, BudgetParseError};
use crate::calendar::SnoozeEnd;
use crate::config::check_stack_name;
use crate::spec::{EphemeralSpec, SpecError};
pub use crate::trigger::Trigger;
use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// What to do with the ephemeral tier's spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TfAction {
    /// Terraform created the invocation resource: create what the spec describes.
    Create,
    /// Terraform changed the input: bring the resources from `prev_spec` to `spec`.
    Update,
    /// Terraform destroyed the invocation resource (or a manual `delete-spec`): delete them.
    Delete,
    /// A manual `apply-spec` without Terraform's `tf` object: create or update, whichever the
    /// observed resources call for.
    Apply,
}

/// One decoded request. Bad input never becomes a `Request`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Request {
    Pause {
        stack: String,
        /// `paused` (default) or `hibernated`.
        level: DesiredState,
        trigger: Trigger,
    },
    Resume {
        stack: String,
        /// Override a budget lockout. Only with `trigger: manual`.
        force: bool,
        trigger: Trigger,
        /// Resume and hold the schedules off until then (`resume --until`).
        until: Option<SnoozeEnd>,
    },
    /// Hold the stack's scheduled transitions until a time (a person is demoing).
    Snooze {
        stack: String,
        until: SnoozeEnd,
        reason: String,
        by: String,
    },
    /// End a snooze (or a hold a manual resume set).
    Unsnooze {
        stack: String,
        by: String,
    },
    /// Periodic tick: continue unfinished transitions and repair drift (all stacks if `None`).
    Reconcile {
        stack: Option<String>,
    },
    Status {
        stack: String,
    },
    /// Show the plan to reach `target` without executing it.
    Plan {
        stack: String,
        target: DesiredState,
    },
    BudgetAlerts(Vec<BudgetAlert>),
    /// AWS started a DB instance that had been stopped for 7 days (`RDS-EVENT-0154`).
    RdsAutoStart {
        instance_id: String,
        source_arn: String,
        #[serde(with = "time::serde::rfc3339")]
        time: OffsetDateTime,
    },
    /// Create / update / delete the ephemeral tier (Terraform or `apply-spec` / `delete-spec`).
    Terraform {
        tf_action: TfAction,
        stack: String,
        spec: EphemeralSpec,
        /// The spec of the previous invocation (Terraform update and delete).
        prev_spec: Option<EphemeralSpec>,
        /// `terraform` when the `tf` object was present, `manual` otherwise.
        trigger: Trigger,
    },
}

/// Decoding options. Terraform's `aws_lambda_invocation` names its lifecycle object after the
/// resource's `terraform_key` argument, `tf` by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeOptions {
    pub terraform_key: String,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            terraform_key: "tf".to_string(),
        }
    }
}

/// The actions an action object may name.
pub const ACTIONS: &[&str] = &[
    "pause",
    "resume",
    "reconcile",
    "status",
    "plan",
    "snooze",
    "unsnooze",
    "apply-spec",
    "delete-spec",
];

/// Why an event was rejected. Every variant names the field or value at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EventError {
    #[error("event must be a JSON object, got {found}")]
    NotAnObject { found: &'static str },
    #[error(
        "unrecognised event: expected an `action` field, an SNS `Records` list or an EventBridge `source`; found keys [{}]",
        .keys.join(", ")
    )]
    Unrecognised { keys: Vec<String> },
    #[error("unknown action `{action}`: expected one of {}", ACTIONS.join(", "))]
    UnknownAction { action: String },
    #[error("missing field `{field}`")]
    MissingField { field: String },
    #[error("field `{field}` must be {expected}, got {found}")]
    WrongType {
        field: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("invalid `{field}` value `{value}`: {reason}")]
    InvalidValue {
        field: String,
        value: String,
        reason: String,
    },
    #[error("field `{field}` is not valid for action `{action}` (allowed: {})", .allowed.join(", "))]
    UnknownField {
        action: String,
        field: String,
        allowed: Vec<String>,
    },
    #[error("unknown event source `{event_source}`{}", .detail_type.as_ref().map(|d| format!(" (detail-type `{d}`)")).unwrap_or_default())]
    UnknownEventSource {
        event_source: String,
        detail_type: Option<String>,
    },
    #[error("unsupported {event_source} event `{event_id}`: only {supported} is handled")]
    UnsupportedEvent {
        event_source: String,
        event_id: String,
        supported: &'static str,
    },
    #[error("SNS event has no records")]
    NoRecords,
    /// The envelope is not what AWS delivers (a field missing or of the wrong type), read with
    /// the official `aws_lambda_events` types.
    #[error("not an {envelope} event as AWS delivers it: `{path}`: {message}")]
    Envelope {
        envelope: &'static str,
        path: String,
        message: String,
    },
    #[error("`Records[{record}].Sns.Message` is not an AWS Budgets notification: {error}")]
    Budget {
        record: usize,
        error: BudgetParseError,
    },
    #[error("`{field}`: {error}")]
    Spec { field: String, error: SpecError },
    #[error(
        "`{field}` is `{found}` but `stack` is `{expected}`: a stack cannot be renamed in place; replace the invocation resource instead"
    )]
    StackChanged {
        field: String,
        expected: String,
        found: String,
    },
}

/// The RDS event this decoder handles.
pub const RDS_AUTO_START_EVENT: &str = "RDS-EVENT-0154";

impl Request {
    /// Decodes a raw Lambda payload with the default options (`terraform_key = "tf"`).
    pub fn from_value(value: &Value) -> Result<Self, EventError> {
        Self::from_value_with(value, &DecodeOptions::default())
    }

    /// Decodes a raw Lambda payload.
    pub fn from_value_with(value: &Value, opts: &DecodeOptions) -> Result<Self, EventError> {
        let obj = value.as_object().ok_or(EventError::NotAnObject {
            found: type_name(value),
        })?;
        if obj.contains_key("Records") {
            decode_sns(value, obj)
        } else if obj.contains_key("source") && obj.contains_key("detail-type") {
            decode_eventbridge(value, obj)
        } else if obj.contains_key("action") {
            decode_action(obj, opts)
        } else {
            Err(EventError::Unrecognised {
                keys: obj.keys().take(10).cloned().collect(),
            })
        }
    }

    /// A short name for logs and metrics.
    pub fn request_kind(&self) -> &'static str {
        match self {
            Self::Pause { .. } => "pause",
            Self::Resume { .. } => "resume",
            Self::Reconcile { .. } => "reconcile",
            Self::Status { .. } => "status",
            Self::Plan { .. } => "plan",
            Self::Snooze { .. } => "snooze",
            Self::Unsnooze { .. } => "unsnooze",
            Self::BudgetAlerts(_) => "budget-alerts",
            Self::RdsAutoStart { .. } => "rds-auto-start",
            Self::Terraform {
                tf_action, trigger, ..
            } => match (tf_action, trigger) {
                (TfAction::Create, _) => "tf-create",
                (TfAction::Update, _) => "tf-update",
                (TfAction::Delete, Trigger::Terraform) => "tf-delete",
                (TfAction::Delete, _) => "delete-spec",
                (TfAction::Apply, _) => "apply-spec",
            },
        }
    }

    /// True for requests that may create, start or restore something, i.e. cost more money. A
    /// reduce-only deployment refuses these before doing anything.
    ///
    /// `Reconcile` is not counted: a tick only continues what an earlier request asked for, and a
    /// reduce-only deployment's engine must plan reduce-only steps for it anyway. A snooze is:
    /// it holds scheduled pauses off, so the stack keeps running (and costing) longer.
    pub fn increases_cost(&self) -> bool {
        match self {
            Self::Resume { .. } | Self::Snooze { .. } => true,
            Self::Terraform { tf_action, .. } => *tf_action != TfAction::Delete,
            Self::Pause { .. }
            | Self::Reconcile { .. }
            | Self::Status { .. }
            | Self::Plan { .. }
            | Self::Unsnooze { .. }
            | Self::BudgetAlerts(_)
            | Self::RdsAutoStart { .. } => false,
        }
    }

    /// The stack the request names, if it names one.
    pub fn stack(&self) -> Option<&str> {
        match self {
            Self::Pause { stack, .. }
            | Self::Resume { stack, .. }
            | Self::Status { stack }
            | Self::Plan { stack, .. }
            | Self::Snooze { stack, .. }
            | Self::Unsnooze { stack, .. }
            | Self::Terraform { stack, .. } => Some(stack),
            Self::Reconcile { stack } => stack.as_deref(),
            Self::BudgetAlerts(_) | Self::RdsAutoStart { .. } => None,
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(field: &str, expected: &'static str, v: &Value) -> EventError {
    EventError::WrongType {
        field: field.to_string(),
        expected,
        found: type_name(v),
    }
}

fn missing(field: &str) -> EventError {
    EventError::MissingField {
        field: field.to_string(),
    }
}

fn shown(value: &str) -> String {
    let mut s: String = value.chars().take(80).collect();
    if s.len() < value.len() {
        s.push('…');
    }
    s
}

/// Field access with the path of the object for error messages.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    fn new(map: &'a Map<String, Value>, path: &str) -> Self {
        Self {
            map,
            path: path.to_string(),
        }
    }

    fn field(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Absent and `null` are both `None`.
    fn opt(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn opt_str(&self, key: &str) -> Result<Option<&'a str>, EventError> {
        match self.opt(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(v) => Err(wrong_type(&self.field(key), "a string", v)),
        }
    }

    fn req_str(&self, key: &str) -> Result<&'a str, EventError> {
        self.opt_str(key)?.ok_or_else(|| missing(&self.field(key)))
    }

    fn opt_bool(&self, key: &str) -> Result<Option<bool>, EventError> {
        match self.opt(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(wrong_type(&self.field(key), "a boolean", v)),
        }
    }

    fn only(&self, action: &str, allowed: &[&str]) -> Result<(), EventError> {
        match self.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            None => Ok(()),
            Some(k) => Err(EventError::UnknownField {
                action: action.to_string(),
                field: self.field(k),
                allowed: allowed.iter().map(|s| s.to_string()).collect(),
            }),
        }
    }

    fn stack(&self) -> Result<String, EventError> {
        let s = self.req_str("stack")?;
        check_stack_name(s).map_err(|p| EventError::InvalidValue {
            field: self.field("stack"),
            value: shown(s),
            reason: p.to_string(),
        })?;
        Ok(s.to_string())
    }
}

fn decode_action(map: &Map<String, Value>, opts: &DecodeOptions) -> Result<Request, EventError> {
    let o = Obj::new(map, "");
    let action = o.req_str("action")?;
    match action {
        "pause" => {
            o.only(action, &["action", "stack", "level", "trigger"])?;
            let level = match o.opt_str("level")? {
                None => DesiredState::Paused,
                Some("paused") => DesiredState::Paused,
                Some("hibernated") => DesiredState::Hibernated,
                Some(other) => {
                    return Err(EventError::InvalidValue {
                        field: "level".into(),
                        value: shown(other),
                        reason: "expected paused or hibernated".into(),
                    });
                }
            };
            Ok(Request::Pause {
                stack: o.stack()?,
                level,
                trigger: trigger(&o)?,
            })
        }
        "resume" => {
            o.only(action, &["action", "stack", "force", "trigger", "until"])?;
            let stack = o.stack()?;
            let trigger = trigger(&o)?;
            let force = o.opt_bool("force")?.unwrap_or(false);
            let until = o
                .opt_str("until")?
                .map(|t| until_at(t, "until"))
                .transpose()?;
            if until.is_some() && !matches!(trigger, Trigger::Manual | Trigger::Cli) {
                return Err(EventError::InvalidValue {
                    field: "until".into(),
                    value: shown(o.opt_str("until")?.unwrap_or_default()),
                    reason: format!(
                        "only a person's resume holds the schedules off, this one has trigger `{}`",
                        trigger.as_str()
                    ),
                });
            }
            if trigger == Trigger::Budget {
                return Err(EventError::InvalidValue {
                    field: "trigger".into(),
                    value: "budget".into(),
                    reason: "a budget trigger can only reduce cost, never resume".into(),
                });
            }
            if force && trigger != Trigger::Manual {
                return Err(EventError::InvalidValue {
                    field: "force".into(),
                    value: "true".into(),
                    reason: format!(
                        "only a manual resume may override a lockout, this one has trigger `{}`",
                        trigger.as_str()
                    ),
                });
            }
            Ok(Request::Resume {
                stack,
                force,
                trigger,
                until,
            })
        }
        "snooze" => {
            o.only(action, &["action", "stack", "until", "for", "reason", "by"])?;
            let stack = o.stack()?;
            let until = match (o.opt_str("until")?, o.opt_str("for")?) {
                (Some(t), None) => until_at(t, "until")?,
                (None, Some(d)) => {
                    SnoozeEnd::parse_for(d).map_err(|e| EventError::InvalidValue {
                        field: "for".into(),
                        value: shown(d),
                        reason: e.to_string(),
                    })?
                }
                (Some(_), Some(_)) => {
                    return Err(EventError::InvalidValue {
                        field: "for".into(),
                        value: shown(o.opt_str("for")?.unwrap_or_default()),
                        reason: "give `until` or `for`, not both".into(),
                    });
                }
                (None, None) => return Err(missing("until")),
            };
            Ok(Request::Snooze {
                stack,
                until,
                reason: o.opt_str("reason")?.unwrap_or_default().to_string(),
                by: o.opt_str("by")?.unwrap_or("manual invoke").to_string(),
            })
        }
        "unsnooze" => {
            o.only(action, &["action", "stack", "by"])?;
            Ok(Request::Unsnooze {
                stack: o.stack()?,
                by: o.opt_str("by")?.unwrap_or("manual invoke").to_string(),
            })
        }
        "reconcile" => {
            o.only(action, &["action", "stack"])?;
            let stack = match o.opt("stack") {
                None => None,
                Some(_) => Some(o.stack()?),
            };
            Ok(Request::Reconcile { stack })
        }
        "status" => {
            o.only(action, &["action", "stack"])?;
            Ok(Request::Status { stack: o.stack()? })
        }
        "plan" => {
            o.only(action, &["action", "stack", "target"])?;
            let target = o.req_str("target")?;
            let target = target
                .parse::<DesiredState>()
                .map_err(|e| EventError::InvalidValue {
                    field: "target".into(),
                    value: shown(target),
                    reason: e.to_string(),
                })?;
            Ok(Request::Plan {
                stack: o.stack()?,
                target,
            })
        }
        "apply-spec" => decode_apply_spec(&o, opts),
        "delete-spec" => {
            o.only(action, &["action", "stack", "spec"])?;
            let stack = o.stack()?;
            let spec = spec_at(&o, "spec", false)?;
            Ok(Request::Terraform {
                tf_action: TfAction::Delete,
                stack,
                spec,
                prev_spec: None,
                trigger: Trigger::Manual,
            })
        }
        other => Err(EventError::UnknownAction {
            action: shown(other),
        }),
    }
}

/// A snooze end: RFC 3339 or wall-clock time in the stack's zone (resolved by the service,
/// which knows the zone and the time).
fn until_at(text: &str, field: &str) -> Result<SnoozeEnd, EventError> {
    SnoozeEnd::parse_until(text, "the stack's time zone").map_err(|e| EventError::InvalidValue {
        field: field.into(),
        value: shown(text),
        reason: e.to_string(),
    })
}

fn trigger(o: &Obj<'_>) -> Result<Trigger, EventError> {
    match o.opt_str("trigger")? {
        None => Ok(Trigger::Manual),
        Some(t) => Trigger::FROM_EVENTS
            .into_iter()
            .find(|k| k.as_str() == t)
            .ok_or_else(|| EventError::InvalidValue {
                field: "trigger".into(),
                value: shown(t),
                reason: "expected one of schedule, manual, budget, terraform, rds-event".into(),
            }),
    }
}

/// Decodes `o[key]` as a spec. `validate: false` checks the shape only (for deletes, so that a
/// rule added after the resources were created cannot block their removal).
fn spec_at(o: &Obj<'_>, key: &str, validate: bool) -> Result<EphemeralSpec, EventError> {
    let field = o.field(key);
    let value = match o.opt(key) {
        None => return Err(missing(&field)),
        Some(v @ Value::Object(_)) => v,
        Some(v) => return Err(wrong_type(&field, "an object", v)),
    };
    let parsed = if validate {
        EphemeralSpec::from_value(value)
    } else {
        EphemeralSpec::from_value_unvalidated(value)
    };
    parsed.map_err(|error| EventError::Spec { field, error })
}

fn decode_apply_spec(o: &Obj<'_>, opts: &DecodeOptions) -> Result<Request, EventError> {
    let key = opts.terraform_key.as_str();
    o.only("apply-spec", &["action", "stack", "spec", key])?;
    let stack = o.stack()?;
    let Some(tf_value) = o.opt(key) else {
        return Ok(Request::Terraform {
            tf_action: TfAction::Apply,
            stack,
            spec: spec_at(o, "spec", true)?,
            prev_spec: None,
            trigger: Trigger::Manual,
        });
    };
    let tf = match tf_value {
        Value::Object(m) => Obj::new(m, key),
        v => return Err(wrong_type(key, "an object", v)),
    };
    tf.only("apply-spec", &["action", "prev_input"])?;
    let tf_action = match tf.req_str("action")? {
        "create" => TfAction::Create,
        "update" => TfAction::Update,
        "delete" => TfAction::Delete,
        other => {
            return Err(EventError::InvalidValue {
                field: tf.field("action"),
                value: shown(other),
                reason: "expected create, update or delete".into(),
            });
        }
    };
    // On delete the provider sends the last applied input as the payload itself (and again as
    // `prev_input`): delete what it names, checking the shape only.
    let spec = spec_at(o, "spec", tf_action != TfAction::Delete)?;
    let prev_spec = match tf.opt("prev_input") {
        None => None,
        Some(Value::Object(m)) => {
            let prev = Obj::new(m, &tf.field("prev_input"));
            let prev_stack = prev.req_str("stack")?;
            if prev_stack != stack {
                return Err(EventError::StackChanged {
                    field: prev.field("stack"),
                    expected: stack,
                    found: shown(prev_stack),
                });
            }
            // The previous spec was accepted when it was applied; check its shape only.
            Some(spec_at(&prev, "spec", false)?)
        }
        Some(v) => return Err(wrong_type(&tf.field("prev_input"), "an object or null", v)),
    };
    if tf_action == TfAction::Update && prev_spec.is_none() {
        return Err(missing(&tf.field("prev_input")));
    }
    Ok(Request::Terraform {
        tf_action,
        stack,
        spec,
        prev_spec,
        trigger: Trigger::Terraform,
    })
}

mod envelope;
use envelope::{decode_eventbridge, decode_sns};

#[cfg(test)]
mod tests;
