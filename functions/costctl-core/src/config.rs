//! Function and command-line configuration: which stacks exist, how their resources are found,
//! their pause policy, and which AWS Budgets map to them. Format: `docs/config.md`.
//!
//! The JSON is read into raw types that mirror it (unknown fields rejected), then checked and
//! turned into [`Config`], which the rest of the program can trust. Every problem is reported with
//! the exact field path, all at once, so a bad deployment fails at cold start with one message.

use crate::DesiredState;
use crate::budget::AlertType;
use crate::calendar::{self, Calendar, Entry, RawEntry};
use crate::exclude::{DEFAULT_TAG_KEY, Exclusion};
use crate::price::{PriceOverrides, PriceProblem, Prices, is_region_name};
use crate::schedule::{CronExpr, Schedule};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The validated configuration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Config {
    pub stacks: BTreeMap<String, StackConfig>,
    /// The tag that excludes a resource (`costctl:exclude` unless configured).
    pub exclude_tag_key: String,
    /// Price overrides by region ([`crate::price::Prices::for_region`]).
    pub prices: BTreeMap<String, PriceOverrides>,
}

impl Config {
    /// The price table for the region the functions (or the command line) act in.
    pub fn prices_for(&self, region: &str) -> Prices {
        Prices::for_region(region, &self.prices)
    }
}

/// One guarded stack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StackConfig {
    pub selector: Selector,
    pub policy: Policy,
    pub budgets: Vec<BudgetConfig>,
    /// The zone of the stack's wall clock: its schedules, calendar and snooze times.
    pub time_zone: Zone,
    /// The pause and resume schedules EventBridge Scheduler runs for the stack (as the
    /// Terraform module renders them), read to find the next schedule boundary.
    pub schedule: Option<Schedule>,
    /// Days on which scheduled resumes are skipped.
    pub calendar: Calendar,
    pub snooze: SnoozePolicy,
    /// Resources selected but never changed: those carrying the exclusion tag, and these.
    pub exclude: Exclusion,
}

/// An IANA time zone, by name.
#[derive(Debug, Clone)]
pub struct Zone {
    pub name: String,
    pub tz: jiff::tz::TimeZone,
}

impl Zone {
    pub fn utc() -> Self {
        Zone {
            name: "UTC".into(),
            tz: jiff::tz::TimeZone::UTC,
        }
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Serialize for Zone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

/// How long a person may hold a stack's schedules, and whether a budget alert outranks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnoozePolicy {
    /// The longest snooze accepted, in hours (default 168: a week).
    #[serde(default = "default_max_hours")]
    pub max_hours: u32,
    /// A budget alert pauses a snoozed stack (and ends the snooze); `false` lets the snooze hold
    /// budget transitions off too. Default true: cost control outranks convenience.
    #[serde(default = "yes")]
    pub budget_overrides: bool,
}

fn default_max_hours() -> u32 {
    168
}
fn yes() -> bool {
    true
}

impl Default for SnoozePolicy {
    fn default() -> Self {
        SnoozePolicy {
            max_hours: default_max_hours(),
            budget_overrides: true,
        }
    }
}

impl SnoozePolicy {
    pub fn max_ms(&self) -> i64 {
        i64::from(self.max_hours) * 3_600_000
    }
}

/// The schedules as written: EventBridge `cron(...)` expressions.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    #[serde(default)]
    pause: Option<String>,
    #[serde(default)]
    resume: Option<String>,
}

pub use crate::selector::{ResourceNames, Selector};

/// Per-stack overrides of the power-state table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub msk_on_pause: MskOnPause,
    #[serde(default)]
    pub rds_on_pause: RdsOnPause,
    #[serde(default)]
    pub rds_auto_start: RdsAutoStartPolicy,
    /// After this many days paused, escalate to hibernated. `None`: never.
    #[serde(default)]
    pub hibernate_after_days: Option<u32>,
    #[serde(default)]
    pub network_on_pause: NetworkOnPause,
}

/// What pausing does to the NAT gateways and interface endpoints of the ephemeral tier. Deleting
/// them loses nothing (the Elastic IPs stay allocated, routes and endpoints come back as
/// recorded); `keep` leaves them running and costing, for a stack whose other users need egress
/// while it is paused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkOnPause {
    #[default]
    Delete,
    Keep,
}

/// What pausing does to an MSK Serverless cluster. Deleting loses topics and messages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MskOnPause {
    #[default]
    Delete,
    Keep,
}

/// What `paused` does to RDS: stop it, or take a final snapshot and delete it (as hibernated).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RdsOnPause {
    #[default]
    Stop,
    Snapshot,
}

/// What to do when AWS auto-starts an instance stopped for 7 days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RdsAutoStartPolicy {
    /// Stop it again.
    #[default]
    Stop,
    /// Escalate the stack to hibernated (snapshot + delete), so it cannot auto-start again.
    Hibernate,
}

/// One AWS Budget and the levels its alerts map to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    pub name: String,
    pub rules: Vec<BudgetRule>,
}

/// "When the `alert_type` spend reaches `threshold_percent` of the budget, go to `level`."
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetRule {
    pub alert_type: AlertType,
    pub threshold_percent: f64,
    /// `paused` or `hibernated`; never `running` (a budget alert can only reduce cost).
    pub level: DesiredState,
    /// Refuse scheduled resumes until the next budget period (a forced manual resume still works).
    #[serde(default)]
    pub lockout: bool,
}

/// A configuration was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// Not JSON, or not the shape of the format.
    #[error("invalid configuration at `{path}`: {message}")]
    Parse { path: String, message: String },
    /// Well-formed, but breaks one or more rules; all are listed.
    #[error("invalid configuration: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<ConfigViolation>),
}

/// One broken rule and its field path, e.g. `stacks.order-tracking-dev.budgets[0].rules[1]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigViolation {
    pub path: String,
    pub problem: ConfigProblem,
}

impl fmt::Display for ConfigViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.path, self.problem)
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigProblem {
    #[error("no stacks configured")]
    NoStacks,
    #[error("empty stack name")]
    EmptyStackName,
    #[error(
        "invalid stack name `{0}`: 1-128 characters `[A-Za-z0-9_.-]`, starting with a letter or digit"
    )]
    InvalidStackName(String),
    #[error(
        "a stack selects its resources by `tags` or by `names`: neither is set (or both are empty)"
    )]
    NoSelector,
    #[error("a stack selects its resources by `tags` or by `names`, not both")]
    BothSelectors,
    #[error("empty tag key")]
    EmptyTagKey,
    #[error("invalid ECS service `{0}`: expected `cluster/service`")]
    InvalidEcsService(String),
    #[error("invalid RDS instance identifier `{0}`")]
    InvalidRdsInstance(String),
    #[error("duplicate entry `{0}`")]
    Duplicate(String),
    #[error("must be a positive number of days, got 0")]
    ZeroDays,
    #[error("empty budget name")]
    EmptyBudgetName,
    #[error("budget `{budget}` is already mapped to stack `{other_stack}`")]
    BudgetMappedTwice { budget: String, other_stack: String },
    #[error("budget has no rules")]
    NoRules,
    #[error("threshold_percent {0} must be > 0 and <= 1000")]
    ThresholdOutOfRange(f64),
    #[error(
        "level `running` is not allowed: a budget rule can only reduce cost (use paused or hibernated)"
    )]
    RunningLevel,
    #[error("same alert_type and threshold_percent as rule {0}")]
    DuplicateRule(usize),
    #[error("{0}")]
    Time(#[from] calendar::TimeError),
    #[error("{0}")]
    Cron(#[from] crate::schedule::CronError),
    #[error("max_hours must be between 1 and 8760 (a year), got {0}")]
    SnoozeBound(u32),
    #[error("{0}")]
    Price(#[from] PriceProblem),
}

/// `Config::stack` was asked for a stack that is not configured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown stack `{name}`: configured stacks are {}", if .known.is_empty() { "none".to_string() } else { .known.join(", ") })]
pub struct UnknownStack {
    pub name: String,
    pub known: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    stacks: BTreeMap<String, RawStack>,
    #[serde(default)]
    exclude_tag_key: Option<String>,
    #[serde(default)]
    prices: BTreeMap<String, PriceOverrides>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStack {
    #[serde(default)]
    tags: Option<BTreeMap<String, String>>,
    #[serde(default)]
    names: Option<ResourceNames>,
    #[serde(default)]
    policy: Policy,
    #[serde(default)]
    budgets: Vec<BudgetConfig>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    schedule: Option<RawSchedule>,
    #[serde(default)]
    calendar: Vec<RawEntry>,
    #[serde(default)]
    snooze: SnoozePolicy,
    #[serde(default)]
    exclude: ResourceNames,
}

impl Config {
    /// Parses and validates the configuration JSON.
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        let mut de = serde_json::Deserializer::from_str(json);
        let raw: RawConfig =
            serde_path_to_error::deserialize(&mut de).map_err(|e| ConfigError::Parse {
                path: e.path().to_string(),
                message: e.inner().to_string(),
            })?;
        de.end().map_err(|e| ConfigError::Parse {
            path: ".".into(),
            message: e.to_string(),
        })?;
        Self::from_raw(raw)
    }

    fn from_raw(raw: RawConfig) -> Result<Self, ConfigError> {
        let mut v = Vec::new();
        let mut push = |path: String, problem: ConfigProblem| {
            v.push(ConfigViolation { path, problem });
        };
        if raw.stacks.is_empty() {
            push("stacks".into(), ConfigProblem::NoStacks);
        }
        let tag_key = raw
            .exclude_tag_key
            .clone()
            .unwrap_or_else(|| DEFAULT_TAG_KEY.to_string());
        if tag_key.trim().is_empty() {
            push("exclude_tag_key".into(), ConfigProblem::EmptyTagKey);
        }
        for (region, o) in &raw.prices {
            if !is_region_name(region) {
                push(
                    format!("prices.{region}"),
                    PriceProblem::NotARegion(region.clone()).into(),
                );
            }
            for (field, problem) in o.problems() {
                push(format!("prices.{region}.{field}"), problem.into());
            }
        }
        let mut budget_owner: BTreeMap<String, String> = BTreeMap::new();
        let mut stacks = BTreeMap::new();
        for (name, rs) in raw.stacks {
            let p = format!("stacks.{name}");
            if let Err(problem) = check_stack_name(&name) {
                push(p.clone(), problem);
            }
            let tags = rs.tags.filter(|t| !t.is_empty());
            let names = rs
                .names
                .filter(|n| !n.ecs_services.is_empty() || !n.rds_instances.is_empty());
            let selector = match (tags, names) {
                (Some(_), Some(_)) => {
                    push(p.clone(), ConfigProblem::BothSelectors);
                    None
                }
                (None, None) => {
                    push(p.clone(), ConfigProblem::NoSelector);
                    None
                }
                (Some(tags), None) => {
                    if tags.keys().any(|k| k.trim().is_empty()) {
                        push(format!("{p}.tags"), ConfigProblem::EmptyTagKey);
                    }
                    Some(Selector::Tags(tags))
                }
                (None, Some(names)) => {
                    check_names(&names, &format!("{p}.names"), &mut push);
                    Some(Selector::Names(names))
                }
            };
            if rs.policy.hibernate_after_days == Some(0) {
                push(
                    format!("{p}.policy.hibernate_after_days"),
                    ConfigProblem::ZeroDays,
                );
            }
            for (i, b) in rs.budgets.iter().enumerate() {
                let bp = format!("{p}.budgets[{i}]");
                if b.name.trim().is_empty() {
                    push(format!("{bp}.name"), ConfigProblem::EmptyBudgetName);
                } else if let Some(other) = budget_owner.get(&b.name) {
                    push(
                        format!("{bp}.name"),
                        ConfigProblem::BudgetMappedTwice {
                            budget: b.name.clone(),
                            other_stack: other.clone(),
                        },
                    );
                } else {
                    budget_owner.insert(b.name.clone(), name.clone());
                }
                if b.rules.is_empty() {
                    push(format!("{bp}.rules"), ConfigProblem::NoRules);
                }
                for (j, r) in b.rules.iter().enumerate() {
                    let rp = format!("{bp}.rules[{j}]");
                    if !(r.threshold_percent > 0.0 && r.threshold_percent <= 1000.0) {
                        push(
                            format!("{rp}.threshold_percent"),
                            ConfigProblem::ThresholdOutOfRange(r.threshold_percent),
                        );
                    }
                    if r.level == DesiredState::Running {
                        push(format!("{rp}.level"), ConfigProblem::RunningLevel);
                    }
                    if let Some(k) = b.rules[..j].iter().position(|o| {
                        o.alert_type == r.alert_type && o.threshold_percent == r.threshold_percent
                    }) {
                        push(rp, ConfigProblem::DuplicateRule(k));
                    }
                }
            }
            let time_zone = match rs.time_zone.as_deref() {
                None => Some(Zone::utc()),
                Some(zone) => match calendar::zone(zone) {
                    Ok(tz) => Some(Zone {
                        name: zone.to_string(),
                        tz,
                    }),
                    Err(e) => {
                        push(format!("{p}.time_zone"), e.into());
                        None
                    }
                },
            };
            let mut cron = |field: &str, text: Option<&String>| {
                text.and_then(|t| {
                    CronExpr::parse(t)
                        .map_err(|e| push(format!("{p}.schedule.{field}"), e.into()))
                        .ok()
                })
            };
            let schedule = rs.schedule.as_ref().map(|raw| Schedule {
                pause: cron("pause", raw.pause.as_ref()),
                resume: cron("resume", raw.resume.as_ref()),
            });
            let mut entries = Vec::new();
            for (i, raw) in rs.calendar.iter().enumerate() {
                match Entry::parse(raw) {
                    Ok(e) => entries.push(e),
                    Err(e) => push(format!("{p}.calendar[{i}]"), e.into()),
                }
            }
            if !(1..=8760).contains(&rs.snooze.max_hours) {
                push(
                    format!("{p}.snooze.max_hours"),
                    ConfigProblem::SnoozeBound(rs.snooze.max_hours),
                );
            }
            check_names(&rs.exclude, &format!("{p}.exclude"), &mut push);
            let exclude = Exclusion {
                tag_key: tag_key.clone(),
                names: rs
                    .exclude
                    .ecs_services
                    .iter()
                    .chain(&rs.exclude.rds_instances)
                    .cloned()
                    .collect(),
            };
            if let (Some(selector), Some(time_zone)) = (selector, time_zone) {
                stacks.insert(
                    name,
                    StackConfig {
                        selector,
                        policy: rs.policy,
                        budgets: rs.budgets,
                        time_zone,
                        schedule,
                        calendar: Calendar { entries },
                        snooze: rs.snooze,
                        exclude,
                    },
                );
            }
        }
        if v.is_empty() {
            Ok(Config {
                stacks,
                exclude_tag_key: tag_key,
                prices: raw.prices,
            })
        } else {
            Err(ConfigError::Invalid(v))
        }
    }

    /// The configuration of one stack, or an error naming the configured ones.
    pub fn stack(&self, name: &str) -> Result<&StackConfig, UnknownStack> {
        self.stacks.get(name).ok_or_else(|| UnknownStack {
            name: name.to_string(),
            known: self.stacks.keys().cloned().collect(),
        })
    }

    /// The stack an AWS Budget belongs to (each budget maps to at most one stack).
    pub fn stack_for_budget(&self, budget_name: &str) -> Option<(&str, &BudgetConfig)> {
        self.stacks.iter().find_map(|(stack, sc)| {
            sc.budgets
                .iter()
                .find(|b| b.name == budget_name)
                .map(|b| (stack.as_str(), b))
        })
    }
}

/// Stack names: `[A-Za-z0-9][A-Za-z0-9_.-]{0,127}` (they become DynamoDB keys, log fields and
/// parts of SSM paths, so they stay plain). Shared with the event decoder.
pub fn check_stack_name(name: &str) -> Result<(), ConfigProblem> {
    let b = name.as_bytes();
    if b.is_empty() {
        return Err(ConfigProblem::EmptyStackName);
    }
    let ok = b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ConfigProblem::InvalidStackName(name.to_string()))
    }
}

fn check_names(names: &ResourceNames, p: &str, push: &mut impl FnMut(String, ConfigProblem)) {
    let mut seen = BTreeSet::new();
    for (i, s) in names.ecs_services.iter().enumerate() {
        let path = format!("{p}.ecs_services[{i}]");
        let ok = match s.split_once('/') {
            Some((cluster, service)) => {
                !cluster.trim().is_empty() && !service.trim().is_empty() && !service.contains('/')
            }
            None => false,
        };
        if !ok {
            push(path, ConfigProblem::InvalidEcsService(s.clone()));
        } else if !seen.insert(s.as_str()) {
            push(path, ConfigProblem::Duplicate(s.clone()));
        }
    }
    let mut seen = BTreeSet::new();
    for (i, id) in names.rds_instances.iter().enumerate() {
        let path = format!("{p}.rds_instances[{i}]");
        if !valid_rds_identifier(id) {
            push(path, ConfigProblem::InvalidRdsInstance(id.clone()));
        } else if !seen.insert(id.to_ascii_lowercase()) {
            push(path, ConfigProblem::Duplicate(id.clone()));
        }
    }
}

/// RDS DB instance identifier: 1-63 letters, digits or hyphens, starting with a letter, no
/// trailing hyphen and no two consecutive hyphens.
pub fn valid_rds_identifier(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphabetic()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && !id.ends_with('-')
        && !id.contains("--")
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{"stacks": {"order-tracking-dev": {
       "tags": {"Project": "order-tracking", "Env": "dev"},
       "policy": {"msk_on_pause": "delete", "rds_on_pause": "stop", "rds_auto_start": "stop", "hibernate_after_days": null},
       "budgets": [{"name": "order-tracking-dev-monthly", "rules": [
           {"alert_type": "FORECASTED", "threshold_percent": 100, "level": "paused"},
           {"alert_type": "ACTUAL", "threshold_percent": 100, "level": "hibernated", "lockout": true}]}]
    }}}"#;

    fn problems(json: &str) -> Vec<(String, ConfigProblem)> {
        match Config::from_json(json) {
            Err(ConfigError::Invalid(v)) => v.into_iter().map(|v| (v.path, v.problem)).collect(),
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    #[test]
    fn example_parses() {
        let c = Config::from_json(EXAMPLE).unwrap();
        let s = c.stack("order-tracking-dev").unwrap();
        assert!(matches!(&s.selector, Selector::Tags(t) if t.len() == 2));
        assert_eq!(s.policy, Policy::default());
        assert_eq!(s.budgets[0].rules[1].level, DesiredState::Hibernated);
        assert!(s.budgets[0].rules[1].lockout);
        assert!(!s.budgets[0].rules[0].lockout);
        let (stack, b) = c.stack_for_budget("order-tracking-dev-monthly").unwrap();
        assert_eq!(stack, "order-tracking-dev");
        assert_eq!(b.rules.len(), 2);
        assert!(c.stack_for_budget("other").is_none());
        let err = c.stack("nope").unwrap_err();
        assert_eq!(err.known, vec!["order-tracking-dev".to_string()]);
        assert!(err.to_string().contains("order-tracking-dev"));
    }

    #[test]
    fn minimal_stack_with_names() {
        let c = Config::from_json(
            r#"{"stacks":{"s1":{"names":{"ecs_services":["c/s"],"rds_instances":["db-1"]}}}}"#,
        )
        .unwrap();
        let s = c.stack("s1").unwrap();
        assert!(s.budgets.is_empty());
        assert!(matches!(&s.selector, Selector::Names(n) if n.ecs_services == ["c/s"]));
    }

    #[test]
    fn prices_are_checked_by_region_and_field_and_used_for_their_region() {
        let p = problems(
            r#"{"stacks":{"s":{"tags":{"a":"b"}}},"prices":{
                 "eu-west-1":{"alb_hour":-0.1,"rds_instance_hour":{"db.t4g.micro":-1}},
                 "ireland":{"as_of":"30/11/2026"}}}"#,
        );
        let paths: Vec<&str> = p.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "prices.eu-west-1.alb_hour",
                "prices.eu-west-1.rds_instance_hour.db.t4g.micro",
                "prices.ireland",
                "prices.ireland.as_of"
            ],
            "{p:?}"
        );
        let err = Config::from_json(
            r#"{"stacks":{"s":{"tags":{"a":"b"}}},"prices":{"eu-west-1":{"alb":1}}}"#,
        )
        .unwrap_err();
        assert!(
            matches!(err, ConfigError::Parse { ref path, .. } if path == "prices.eu-west-1.alb"),
            "{err:?}"
        );
        let c = Config::from_json(
            r#"{"stacks":{"s":{"tags":{"a":"b"}}},"prices":{"eu-west-1":{"alb_hour":0.0252}}}"#,
        )
        .unwrap();
        assert_eq!(c.prices_for("eu-west-1").alb_hour, 0.0252);
        assert_eq!(c.prices_for("us-east-1").alb_hour, 0.0225);
    }

    #[test]
    fn unknown_fields_have_paths() {
        let err =
            Config::from_json(r#"{"stacks":{"s":{"tags":{"a":"b"},"polcy":{}}}}"#).unwrap_err();
        match err {
            ConfigError::Parse { path, message } => {
                assert_eq!(path, "stacks.s.polcy");
                assert!(message.contains("polcy"));
            }
            other => panic!("{other:?}"),
        }
        let err = Config::from_json(
            r#"{"stacks":{"s":{"tags":{"a":"b"},"policy":{"msk_on_pause":"sometimes"}}}}"#,
        )
        .unwrap_err();
        assert!(
            matches!(err, ConfigError::Parse { ref path, .. } if path == "stacks.s.policy.msk_on_pause"),
            "{err:?}"
        );
    }

    #[test]
    fn rule_violations() {
        let p = problems(
            r#"{"stacks":{
              "a":{"tags":{"":"x"},"policy":{"hibernate_after_days":0},"budgets":[{"name":"b1","rules":[
                 {"alert_type":"ACTUAL","threshold_percent":0,"level":"running"},
                 {"alert_type":"ACTUAL","threshold_percent":0,"level":"paused","lockout":true},
                 {"alert_type":"FORECASTED","threshold_percent":1000.5,"level":"paused"}]}]},
              "b":{"names":{"ecs_services":["nocluster"],"rds_instances":["1db"]},"budgets":[{"name":"b1","rules":[]}]},
              "-bad":{},
              "both":{"tags":{"a":"b"},"names":{"rds_instances":["x"]}},
              "empty":{"tags":{},"names":{}}
            }}"#,
        );
        let has = |path: &str, pr: ConfigProblem| {
            assert!(
                p.contains(&(path.to_string(), pr.clone())),
                "missing {path}: {pr:?} in {p:#?}"
            )
        };
        has("stacks.a.tags", ConfigProblem::EmptyTagKey);
        has(
            "stacks.a.policy.hibernate_after_days",
            ConfigProblem::ZeroDays,
        );
        has(
            "stacks.a.budgets[0].rules[0].threshold_percent",
            ConfigProblem::ThresholdOutOfRange(0.0),
        );
        has(
            "stacks.a.budgets[0].rules[0].level",
            ConfigProblem::RunningLevel,
        );
        has(
            "stacks.a.budgets[0].rules[1]",
            ConfigProblem::DuplicateRule(0),
        );
        has(
            "stacks.a.budgets[0].rules[2].threshold_percent",
            ConfigProblem::ThresholdOutOfRange(1000.5),
        );
        has(
            "stacks.b.names.ecs_services[0]",
            ConfigProblem::InvalidEcsService("nocluster".into()),
        );
        has(
            "stacks.b.names.rds_instances[0]",
            ConfigProblem::InvalidRdsInstance("1db".into()),
        );
        has(
            "stacks.b.budgets[0].name",
            ConfigProblem::BudgetMappedTwice {
                budget: "b1".into(),
                other_stack: "a".into(),
            },
        );
        has("stacks.b.budgets[0].rules", ConfigProblem::NoRules);
        has(
            "stacks.-bad",
            ConfigProblem::InvalidStackName("-bad".into()),
        );
        has("stacks.-bad", ConfigProblem::NoSelector);
        has("stacks.both", ConfigProblem::BothSelectors);
        has("stacks.empty", ConfigProblem::NoSelector);
    }

    #[test]
    fn time_zone_schedule_calendar_and_snooze() {
        let c = Config::from_json(
            r#"{"stacks":{"s":{"tags":{"a":"b"},"time_zone":"Europe/Madrid",
              "schedule":{"pause":"cron(0 20 ? * MON-FRI *)"},
              "calendar":["12-25",{"name":"offsite","from":"2027-03-01","to":"2027-03-02"}],
              "snooze":{"max_hours":12}}}}"#,
        )
        .unwrap();
        let s = c.stack("s").unwrap();
        assert_eq!(s.time_zone.name, "Europe/Madrid");
        let schedule = s.schedule.as_ref().unwrap();
        assert!(schedule.pause.is_some() && schedule.resume.is_none());
        assert_eq!(s.calendar.entries.len(), 2);
        assert_eq!((s.snooze.max_hours, s.snooze.budget_overrides), (12, true));
        let d = Config::from_json(r#"{"stacks":{"s":{"tags":{"a":"b"}}}}"#).unwrap();
        let d = d.stack("s").unwrap();
        assert_eq!(d.time_zone.name, "UTC");
        assert!(d.schedule.is_none() && d.calendar.entries.is_empty());
        assert_eq!(d.snooze, SnoozePolicy::default());

        let p = problems(
            r#"{"stacks":{"s":{"tags":{"a":"b"},"time_zone":"Mars/Olympus",
              "schedule":{"resume":"cron(0 8 * * MON *)"},
              "calendar":["2026-12-25","2027-01-02..2026-12-24 backwards"],
              "snooze":{"max_hours":0}}}}"#,
        );
        let paths: Vec<&str> = p.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "stacks.s.time_zone",
                "stacks.s.schedule.resume",
                "stacks.s.calendar[1]",
                "stacks.s.snooze.max_hours"
            ]
        );
        let text = ConfigError::Invalid(
            p.into_iter()
                .map(|(path, problem)| ConfigViolation { path, problem })
                .collect(),
        )
        .to_string();
        for needle in [
            "Mars/Olympus",
            "must be `?`",
            "2027-01-02..2026-12-24 backwards",
            "ends (2026-12-24)",
            "got 0",
        ] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
    }

    #[test]
    fn exclusions() {
        let c = Config::from_json(
            r#"{"exclude_tag_key":"team:keep","stacks":{"s":{"tags":{"a":"b"},
              "exclude":{"ecs_services":["c/batch"],"rds_instances":["db-x"]}}}}"#,
        )
        .unwrap();
        let ex = &c.stack("s").unwrap().exclude;
        assert_eq!(ex.tag_key, "team:keep");
        assert!(ex.names.contains("c/batch") && ex.names.contains("db-x"));
        let d = Config::from_json(r#"{"stacks":{"s":{"tags":{"a":"b"}}}}"#).unwrap();
        assert_eq!(d.stack("s").unwrap().exclude.tag_key, "costctl:exclude");
        let p = problems(
            r#"{"exclude_tag_key":" ","stacks":{"s":{"tags":{"a":"b"},"exclude":{"ecs_services":["nocluster"]}}}}"#,
        );
        assert_eq!(
            p,
            vec![
                ("exclude_tag_key".into(), ConfigProblem::EmptyTagKey),
                (
                    "stacks.s.exclude.ecs_services[0]".into(),
                    ConfigProblem::InvalidEcsService("nocluster".into())
                )
            ]
        );
    }

    #[test]
    fn empty_and_long_stack_names() {
        assert_eq!(check_stack_name(""), Err(ConfigProblem::EmptyStackName));
        assert!(check_stack_name(&"a".repeat(128)).is_ok());
        assert!(check_stack_name(&"a".repeat(129)).is_err());
        assert!(check_stack_name("a.b_c-d").is_ok());
        assert!(check_stack_name("a/b").is_err());
        let p = problems(r#"{"stacks":{"":{"tags":{"a":"b"}}}}"#);
        assert_eq!(p, vec![("stacks.".into(), ConfigProblem::EmptyStackName)]);
        let p = problems(r#"{"stacks":{}}"#);
        assert_eq!(p, vec![("stacks".into(), ConfigProblem::NoStacks)]);
    }
}
