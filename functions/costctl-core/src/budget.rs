//! AWS Budgets notifications: parsing the plain-text SNS message, and the policy that maps an
//! alert to a power level.
//!
//! AWS Budgets publishes to SNS a human-readable letter, not JSON. Real messages (see
//! `tests/fixtures/budget-*.txt` and where each comes from) look like:
//!
//! ```text
//! AWS Budget Notification May 13, 2024
//! AWS Account 123456789012
//!
//! Dear AWS Customer,
//!
//! You requested that we alert you when the ACTUAL Cost associated with your NAME budget is
//! greater than $80.00 for the current month. The ACTUAL Cost associated with this budget is
//! $85.21. You can find additional details below and by accessing the AWS Budgets dashboard [1].
//!
//! Budget Name: NAME
//! Budget Type: Cost
//! Budgeted Amount: $100.00
//! Alert Type: ACTUAL
//! Alert Threshold: > $80.00
//! ACTUAL Amount: $85.21
//! ```
//!
//! Older messages spell the type `Actual` / `Forecasted` (and `Actual Amount:`); daily budgets
//! say `per day` instead of `for the current month`. Only the `Key: value` lines are trusted;
//! the sentence is read for the budget period alone. Amounts may carry thousands separators.
//! The threshold is always printed as a dollar amount by AWS (even for a percentage threshold);
//! a `> 80%` form is accepted too, for hand-written test messages.

use crate::DesiredState;
use crate::config::BudgetConfig;
use serde::{Deserialize, Serialize};
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Which spend the alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AlertType {
    /// Spend so far in the period.
    Actual,
    /// AWS's forecast for the whole period.
    Forecasted,
}

impl AlertType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Actual => "ACTUAL",
            Self::Forecasted => "FORECASTED",
        }
    }
}

/// The `Alert Threshold:` line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertThreshold {
    /// `> $80.00` — what AWS sends.
    Amount(f64),
    /// `> 80%` — accepted for hand-written messages.
    Percent(f64),
}

/// The budget's period, read from the sentence of the letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetPeriod {
    Daily,
    Monthly,
    Quarterly,
    Annually,
}

/// One parsed AWS Budgets notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetAlert {
    pub budget_name: String,
    pub alert_type: AlertType,
    pub threshold: AlertThreshold,
    /// `Budgeted Amount:` (the budget limit for the period), when present.
    pub budgeted_amount: Option<f64>,
    /// `ACTUAL Amount:` or `FORECASTED Amount:`, matching the alert type.
    pub amount: f64,
    pub account_id: Option<String>,
    pub budget_type: Option<String>,
    pub period: Option<BudgetPeriod>,
}

/// A budget notification could not be read. Each variant names the line at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BudgetParseError {
    #[error("not an AWS Budgets notification: no `Budget Name:`, `Alert Type:` or amount lines")]
    NotABudgetNotification,
    #[error("budget notification has no `{line}:` line")]
    MissingLine { line: &'static str },
    #[error("budget notification has more than one `{line}:` line")]
    DuplicateLine { line: &'static str },
    #[error("invalid `{line}:` value `{value}`: {reason}")]
    InvalidValue {
        line: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("budget notification is {len} bytes, more than the {max} an SNS message can hold")]
    TooLong { len: usize, max: usize },
}

/// SNS messages are at most 256 KiB; anything larger did not come from AWS Budgets.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;

const BUDGET_NAME: &str = "Budget Name";
const BUDGET_TYPE: &str = "Budget Type";
const BUDGETED_AMOUNT: &str = "Budgeted Amount";
const ALERT_TYPE: &str = "Alert Type";
const ALERT_THRESHOLD: &str = "Alert Threshold";
const ACTUAL_AMOUNT: &str = "ACTUAL Amount";
const FORECASTED_AMOUNT: &str = "FORECASTED Amount";
const KEYS: [&str; 7] = [
    BUDGET_NAME,
    BUDGET_TYPE,
    BUDGETED_AMOUNT,
    ALERT_TYPE,
    ALERT_THRESHOLD,
    ACTUAL_AMOUNT,
    FORECASTED_AMOUNT,
];

impl BudgetAlert {
    /// Parses the SNS `Message` of an AWS Budgets notification. The `Subject`
    /// (`AWS Budgets: NAME has exceeded your alert threshold`) supplies the budget name only if
    /// the message has no `Budget Name:` line.
    pub fn parse(subject: Option<&str>, message: &str) -> Result<Self, BudgetParseError> {
        if message.len() > MAX_MESSAGE_BYTES {
            return Err(BudgetParseError::TooLong {
                len: message.len(),
                max: MAX_MESSAGE_BYTES,
            });
        }
        let mut values: [Option<&str>; KEYS.len()] = [None; KEYS.len()];
        let mut account_id = None;
        for raw in message.split('\n') {
            let line = raw.trim();
            if let Some(rest) = line.strip_prefix("AWS Account ") {
                let id = rest.trim();
                if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) {
                    account_id = Some(id.to_string());
                }
                continue;
            }
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let Some(idx) = KEYS.iter().position(|k| same_key(k, key)) else {
                continue;
            };
            if values[idx].is_some() {
                return Err(BudgetParseError::DuplicateLine { line: KEYS[idx] });
            }
            values[idx] = Some(value.trim());
        }
        let [
            name,
            budget_type,
            budgeted,
            alert_type,
            threshold,
            actual,
            forecasted,
        ] = values;
        if name.is_none() && alert_type.is_none() && actual.is_none() && forecasted.is_none() {
            return Err(BudgetParseError::NotABudgetNotification);
        }

        let budget_name = match name.filter(|n| !n.is_empty()) {
            Some(n) => n.to_string(),
            None => subject
                .and_then(name_from_subject)
                .ok_or(BudgetParseError::MissingLine { line: BUDGET_NAME })?,
        };
        let alert_type_raw =
            alert_type.ok_or(BudgetParseError::MissingLine { line: ALERT_TYPE })?;
        let alert_type = if alert_type_raw.eq_ignore_ascii_case("actual") {
            AlertType::Actual
        } else if alert_type_raw.eq_ignore_ascii_case("forecasted") {
            AlertType::Forecasted
        } else {
            return Err(invalid(
                ALERT_TYPE,
                alert_type_raw,
                "expected ACTUAL or FORECASTED",
            ));
        };
        let threshold_raw = threshold.ok_or(BudgetParseError::MissingLine {
            line: ALERT_THRESHOLD,
        })?;
        let threshold = parse_threshold(threshold_raw)
            .map_err(|reason| invalid(ALERT_THRESHOLD, threshold_raw, reason))?;
        let (amount_line, amount_raw) = match alert_type {
            AlertType::Actual => (ACTUAL_AMOUNT, actual),
            AlertType::Forecasted => (FORECASTED_AMOUNT, forecasted),
        };
        let amount_raw = amount_raw.ok_or(BudgetParseError::MissingLine { line: amount_line })?;
        let amount =
            parse_money(amount_raw).map_err(|reason| invalid(amount_line, amount_raw, reason))?;
        let budgeted_amount = budgeted
            .map(|b| parse_money(b).map_err(|reason| invalid(BUDGETED_AMOUNT, b, reason)))
            .transpose()?;

        Ok(BudgetAlert {
            budget_name,
            alert_type,
            threshold,
            budgeted_amount,
            amount,
            account_id,
            budget_type: budget_type.filter(|t| !t.is_empty()).map(str::to_string),
            period: parse_period(message),
        })
    }

    /// The threshold in dollars, when AWS printed it as an amount.
    pub fn threshold_amount(&self) -> Option<f64> {
        match self.threshold {
            AlertThreshold::Amount(a) => Some(a),
            AlertThreshold::Percent(_) => None,
        }
    }

    /// Spend as a percentage of the budget.
    ///
    /// With a `Budgeted Amount:` line: `amount / budgeted × 100` (a budget of zero with any spend
    /// counts as infinitely over). Without one, the alert's own threshold percentage — AWS only
    /// sends the alert once spend is past it, so it is a lower bound. Without either (a bare dollar
    /// threshold and no budgeted amount) the percentage is unknown and `None` is returned.
    pub fn percent_of_budget(&self) -> Option<f64> {
        match (self.budgeted_amount, self.threshold) {
            (Some(b), _) if b > 0.0 => Some(self.amount / b * 100.0),
            (Some(_), _) => Some(if self.amount > 0.0 {
                f64::INFINITY
            } else {
                0.0
            }),
            (None, AlertThreshold::Percent(p)) => Some(p),
            (None, AlertThreshold::Amount(_)) => None,
        }
    }

    /// When a lockout caused by this alert ends: the start of the next budget period (monthly
    /// when the letter does not say).
    pub fn lockout_until(&self, now: OffsetDateTime) -> OffsetDateTime {
        self.period.unwrap_or(BudgetPeriod::Monthly).next_start(now)
    }
}

/// What a budget alert asks for, per the stack's rules.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BudgetDecision {
    pub level: DesiredState,
    /// Refuse scheduled resumes until the next budget period.
    pub lockout: bool,
    /// The rule that set `level` (index into `BudgetConfig::rules`).
    pub rule_index: usize,
    /// The computed spend percentage the rules were compared against.
    pub percent: f64,
}

/// Tolerance for `percent ≥ threshold` so that `$100.00` of `$100.00` is 100 % despite rounding.
const EPSILON: f64 = 1e-9;

/// Applies a budget's rules to an alert.
///
/// A rule applies when its `alert_type` matches and the spend percentage
/// ([`BudgetAlert::percent_of_budget`]) is at least its `threshold_percent`. Of the rules that
/// apply, the deepest level wins (hibernated over paused; ties go to the higher threshold, then
/// the earlier rule); lockout is set if *any* applying rule has it. `None`: no rule applies, or the
/// percentage is unknown. The caller has already matched `alert.budget_name` to `budget`.
/// The desired state a budget alert requests for a stack whose stored desired state is
/// `current`: an alert only ever moves a stack down, so a stack already deeper (hibernated
/// when the alert asks for paused) stays where it is. One rule for the handler and the
/// simulation, so that what the simulation proves is what the Lambda does.
pub fn requested_level(decided: DesiredState, current: DesiredState) -> DesiredState {
    decided.max(current)
}

pub fn evaluate(alert: &BudgetAlert, budget: &BudgetConfig) -> Option<BudgetDecision> {
    let percent = alert.percent_of_budget()?;
    if percent.is_nan() {
        return None;
    }
    let mut best: Option<(usize, &crate::config::BudgetRule)> = None;
    let mut lockout = false;
    for (i, rule) in budget.rules.iter().enumerate() {
        if rule.alert_type != alert.alert_type
            || rule.level == DesiredState::Running
            || percent + EPSILON < rule.threshold_percent
        {
            continue;
        }
        lockout |= rule.lockout;
        let better = match best {
            None => true,
            Some((_, b)) => {
                rule.level > b.level
                    || (rule.level == b.level && rule.threshold_percent > b.threshold_percent)
            }
        };
        if better {
            best = Some((i, rule));
        }
    }
    best.map(|(rule_index, rule)| BudgetDecision {
        level: rule.level,
        lockout,
        rule_index,
        percent,
    })
}

/// The end of a lockout for a monthly budget: the first instant (00:00 UTC) of the next calendar
/// month. AWS Budgets periods follow the calendar in UTC, so a monthly budget resets then.
pub fn lockout_until(now: OffsetDateTime) -> OffsetDateTime {
    BudgetPeriod::Monthly.next_start(now)
}

impl BudgetPeriod {
    /// The first instant (UTC) of the period after the one containing `now`. Saturates at the
    /// largest representable date instead of failing.
    pub fn next_start(self, now: OffsetDateTime) -> OffsetDateTime {
        let Some(utc) = now.checked_to_offset(UtcOffset::UTC) else {
            // Only at the very ends of the representable range; an extreme is the honest answer.
            return if now.offset().is_negative() {
                PrimitiveDateTime::MAX.assume_utc()
            } else {
                PrimitiveDateTime::MIN.assume_utc()
            };
        };
        let today = utc.date();
        let (year, month) = (today.year(), today.month());
        let next = match self {
            Self::Daily => today.next_day(),
            Self::Monthly => first_of(year, month as u8 + 1),
            Self::Quarterly => first_of(year, (month as u8 - 1) / 3 * 3 + 4),
            Self::Annually => first_of(year, 13),
        };
        match next {
            Some(d) => PrimitiveDateTime::new(d, Time::MIDNIGHT).assume_utc(),
            None => PrimitiveDateTime::MAX.assume_utc(),
        }
    }
}

/// The 1st of `month` (1-based, 13 meaning January of the next year).
fn first_of(year: i32, month: u8) -> Option<Date> {
    let (year, month) = if month > 12 {
        (year.checked_add(1)?, month - 12)
    } else {
        (year, month)
    };
    Date::from_calendar_date(year, Month::try_from(month).ok()?, 1).ok()
}

fn same_key(expected: &str, found: &str) -> bool {
    let mut words = found.split_whitespace();
    expected
        .split(' ')
        .all(|w| words.next().is_some_and(|f| f.eq_ignore_ascii_case(w)))
        && words.next().is_none()
}

fn invalid(line: &'static str, value: &str, reason: &'static str) -> BudgetParseError {
    let mut shown: String = value.chars().take(80).collect();
    if shown.len() < value.len() {
        shown.push('…');
    }
    let value = shown;
    BudgetParseError::InvalidValue {
        line,
        value,
        reason,
    }
}

fn name_from_subject(subject: &str) -> Option<String> {
    let rest = subject.trim().strip_prefix("AWS Budgets:")?;
    let name = rest
        .trim()
        .strip_suffix("has exceeded your alert threshold")?
        .trim();
    (!name.is_empty()).then(|| name.to_string())
}

fn parse_period(message: &str) -> Option<BudgetPeriod> {
    let lower = message.to_ascii_lowercase();
    let lower = lower.split_whitespace().collect::<Vec<_>>().join(" ");
    if lower.contains("for the current month") {
        Some(BudgetPeriod::Monthly)
    } else if lower.contains("per day") || lower.contains("for the current day") {
        Some(BudgetPeriod::Daily)
    } else if lower.contains("for the current quarter") {
        Some(BudgetPeriod::Quarterly)
    } else if lower.contains("for the current year") {
        Some(BudgetPeriod::Annually)
    } else {
        None
    }
}

fn strip_comparison(s: &str) -> &str {
    s.trim_start_matches(['>', '<', '=', '≥', '≤', ' ', '\t'])
}

fn parse_threshold(s: &str) -> Result<AlertThreshold, &'static str> {
    let s = strip_comparison(s.trim());
    if let Some(p) = s.strip_suffix('%') {
        let p = parse_number(p.trim())?;
        if p < 0.0 {
            return Err("negative percentage");
        }
        Ok(AlertThreshold::Percent(p))
    } else {
        parse_money(s).map(AlertThreshold::Amount)
    }
}

/// `$1,234.56`, `> $80.00`, `$0.5`, `USD 20.00`, `20.00 USD`, `-$1.00`.
pub fn parse_money(s: &str) -> Result<f64, &'static str> {
    let mut s = strip_comparison(s.trim()).trim();
    if s.is_empty() {
        return Err("empty amount");
    }
    if s.len() > 64 {
        return Err("amount too long");
    }
    if let Some(rest) = s.strip_prefix("USD") {
        s = rest.trim_start();
    } else if let Some(rest) = s.strip_suffix("USD") {
        s = rest.trim_end();
    }
    let negative = s.starts_with('-');
    let s = s.trim_start_matches('-').trim_start();
    let s = s.strip_prefix('$').unwrap_or(s).trim_start();
    let s = s.strip_prefix('-').map_or(s, |rest| rest);
    let value = parse_number(s)?;
    Ok(if negative { -value } else { value })
}

/// Digits with optional `,` thousands separators (groups of three) and an optional `.` fraction.
fn parse_number(s: &str) -> Result<f64, &'static str> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    if int.is_empty() {
        return Err("expected a number such as $1,234.56");
    }
    let groups: Vec<&str> = int.split(',').collect();
    let first_ok = !groups[0].is_empty()
        && groups[0].len() <= 18
        && groups[0].bytes().all(|b| b.is_ascii_digit());
    let rest_ok = groups[1..]
        .iter()
        .all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()));
    if !first_ok || !rest_ok || (groups.len() > 1 && groups[0].len() > 3) {
        return Err("expected a number such as $1,234.56");
    }
    if let Some(f) = frac
        && (f.is_empty() || f.len() > 18 || !f.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("expected a number such as $1,234.56");
    }
    let digits: String = int.chars().filter(|c| *c != ',').collect();
    let text = match frac {
        Some(f) => format!("{digits}.{f}"),
        None => digits,
    };
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or("number out of range")
}

#[cfg(test)]
mod level_tests {
    use super::requested_level;
    use crate::DesiredState::{Hibernated, Paused, Running};

    #[test]
    fn an_alert_never_moves_a_stack_up() {
        assert_eq!(requested_level(Paused, Running), Paused);
        assert_eq!(requested_level(Paused, Hibernated), Hibernated);
        assert_eq!(requested_level(Hibernated, Paused), Hibernated);
        assert_eq!(requested_level(Paused, Paused), Paused);
    }
}

#[cfg(test)]
mod tests;
