use super::*;
use crate::config::BudgetRule;
use time::macros::datetime;

const ACTUAL: &str = "AWS Budget Notification November 27, 2026\r\nAWS Account 123456789012\r\n\r\nDear AWS Customer,\r\n\r\nYou requested that we alert you when the ACTUAL Cost associated with your order-tracking-dev-monthly budget is greater than $80.00 for the current month. The ACTUAL Cost associated with this budget is $85.21. You can find additional details below and by accessing the AWS Budgets dashboard [1].\r\n\r\nBudget Name: order-tracking-dev-monthly\r\nBudget Type: Cost\r\nBudgeted Amount: $100.00\r\nAlert Type: ACTUAL\r\nAlert Threshold: > $80.00\r\nACTUAL Amount: $85.21\r\n\r\n[1] https://console.aws.amazon.com/billing/home#/budgets\r\n";

fn rule(t: AlertType, pct: f64, level: DesiredState, lockout: bool) -> BudgetRule {
    BudgetRule {
        alert_type: t,
        threshold_percent: pct,
        level,
        lockout,
    }
}

fn default_budget() -> BudgetConfig {
    BudgetConfig {
        name: "order-tracking-dev-monthly".into(),
        rules: vec![
            rule(AlertType::Forecasted, 100.0, DesiredState::Paused, false),
            rule(AlertType::Actual, 100.0, DesiredState::Hibernated, true),
        ],
    }
}

#[test]
fn parses_crlf_actual() {
    let a = BudgetAlert::parse(None, ACTUAL).unwrap();
    assert_eq!(a.budget_name, "order-tracking-dev-monthly");
    assert_eq!(a.alert_type, AlertType::Actual);
    assert_eq!(a.threshold, AlertThreshold::Amount(80.0));
    assert_eq!(a.threshold_amount(), Some(80.0));
    assert_eq!(a.budgeted_amount, Some(100.0));
    assert_eq!(a.amount, 85.21);
    assert_eq!(a.account_id.as_deref(), Some("123456789012"));
    assert_eq!(a.budget_type.as_deref(), Some("Cost"));
    assert_eq!(a.period, Some(BudgetPeriod::Monthly));
}

#[test]
fn tolerant_of_case_spacing_separators_and_percent() {
    let msg = "Budget Name:   big  \n  Budget   Type : Cost\nBudgeted Amount: $1,234,567.50\nAlert Type: Forecasted\nAlert Threshold: > 80%\nForecasted Amount: $1,500,000.00  \n";
    let a = BudgetAlert::parse(None, msg).unwrap();
    assert_eq!(a.budget_name, "big");
    assert_eq!(a.alert_type, AlertType::Forecasted);
    assert_eq!(a.threshold, AlertThreshold::Percent(80.0));
    assert_eq!(a.budgeted_amount, Some(1_234_567.5));
    assert_eq!(a.amount, 1_500_000.0);
    assert_eq!(a.period, None);
}

#[test]
fn missing_and_bad_lines_are_named() {
    let no_amount = ACTUAL.replace("ACTUAL Amount: $85.21", "");
    assert_eq!(
        BudgetAlert::parse(None, &no_amount),
        Err(BudgetParseError::MissingLine {
            line: "ACTUAL Amount"
        })
    );
    let bad_type = ACTUAL.replace("Alert Type: ACTUAL", "Alert Type: MAYBE");
    assert!(matches!(
        BudgetAlert::parse(None, &bad_type),
        Err(BudgetParseError::InvalidValue {
            line: "Alert Type",
            ..
        })
    ));
    let bad_money = ACTUAL.replace("$85.21\r\n\r\n[1]", "$85,21\r\n\r\n[1]");
    assert!(matches!(
        BudgetAlert::parse(None, &bad_money),
        Err(BudgetParseError::InvalidValue {
            line: "ACTUAL Amount",
            ..
        })
    ));
    let dup = format!("{ACTUAL}Alert Type: ACTUAL\n");
    assert_eq!(
        BudgetAlert::parse(None, &dup),
        Err(BudgetParseError::DuplicateLine { line: "Alert Type" })
    );
    assert_eq!(
        BudgetAlert::parse(None, "Hello\r\nworld!"),
        Err(BudgetParseError::NotABudgetNotification)
    );
    let no_threshold = ACTUAL.replace("Alert Threshold: > $80.00", "");
    assert_eq!(
        BudgetAlert::parse(None, &no_threshold),
        Err(BudgetParseError::MissingLine {
            line: "Alert Threshold"
        })
    );
}

#[test]
fn name_falls_back_to_subject() {
    let msg = ACTUAL.replace("Budget Name: order-tracking-dev-monthly\r\n", "");
    assert_eq!(
        BudgetAlert::parse(None, &msg),
        Err(BudgetParseError::MissingLine {
            line: "Budget Name"
        })
    );
    let a = BudgetAlert::parse(
        Some("AWS Budgets: order-tracking-dev-monthly has exceeded your alert threshold"),
        &msg,
    )
    .unwrap();
    assert_eq!(a.budget_name, "order-tracking-dev-monthly");
}

#[test]
fn money_forms() {
    assert_eq!(parse_money("$0.5"), Ok(0.5));
    assert_eq!(parse_money("> $1,234.56"), Ok(1234.56));
    assert_eq!(parse_money("USD 20.00"), Ok(20.0));
    assert_eq!(parse_money("20 USD"), Ok(20.0));
    assert_eq!(parse_money("-$1.00"), Ok(-1.0));
    assert!(parse_money("$").is_err());
    assert!(parse_money("$1,23").is_err());
    assert!(parse_money("$1234,567").is_err());
    assert!(parse_money("$1.2.3").is_err());
    assert!(parse_money("abc").is_err());
}

#[test]
fn evaluate_picks_deepest_and_any_lockout() {
    let b = default_budget();
    let mut a = BudgetAlert::parse(None, ACTUAL).unwrap();
    assert_eq!(evaluate(&a, &b), None, "85 % is under every rule");
    a.amount = 100.0;
    let d = evaluate(&a, &b).unwrap();
    assert_eq!(d.level, DesiredState::Hibernated);
    assert!(d.lockout);
    assert_eq!(d.rule_index, 1);
    a.alert_type = AlertType::Forecasted;
    let d = evaluate(&a, &b).unwrap();
    assert_eq!(
        (d.level, d.lockout, d.rule_index),
        (DesiredState::Paused, false, 0)
    );

    let b = BudgetConfig {
        name: "x".into(),
        rules: vec![
            rule(AlertType::Actual, 50.0, DesiredState::Paused, true),
            rule(AlertType::Actual, 80.0, DesiredState::Hibernated, false),
            rule(AlertType::Actual, 90.0, DesiredState::Paused, false),
        ],
    };
    a.alert_type = AlertType::Actual;
    a.amount = 85.0;
    let d = evaluate(&a, &b).unwrap();
    assert_eq!(
        (d.level, d.lockout, d.rule_index),
        (DesiredState::Hibernated, true, 1)
    );
}

#[test]
fn percent_without_budgeted_amount() {
    let mut a = BudgetAlert::parse(None, ACTUAL).unwrap();
    a.budgeted_amount = None;
    assert_eq!(a.percent_of_budget(), None);
    assert_eq!(evaluate(&a, &default_budget()), None);
    a.threshold = AlertThreshold::Percent(100.0);
    assert_eq!(a.percent_of_budget(), Some(100.0));
    assert_eq!(
        evaluate(&a, &default_budget()).map(|d| d.level),
        Some(DesiredState::Hibernated)
    );
    a.budgeted_amount = Some(0.0);
    assert_eq!(a.percent_of_budget(), Some(f64::INFINITY));
}

#[test]
fn lockout_ends_next_month_utc() {
    assert_eq!(
        lockout_until(datetime!(2026-11-27 13:45 UTC)),
        datetime!(2026-12-01 0:00 UTC)
    );
    assert_eq!(
        lockout_until(datetime!(2026-12-31 23:59:59 UTC)),
        datetime!(2027-01-01 0:00 UTC)
    );
    // 23:30 on Nov 30 in UTC-5 is already December in UTC.
    assert_eq!(
        lockout_until(datetime!(2026-11-30 23:30 -5)),
        datetime!(2027-01-01 0:00 UTC)
    );
    assert_eq!(
        BudgetPeriod::Quarterly.next_start(datetime!(2026-11-27 0:00 UTC)),
        datetime!(2027-01-01 0:00 UTC)
    );
    assert_eq!(
        BudgetPeriod::Quarterly.next_start(datetime!(2026-04-01 0:00 UTC)),
        datetime!(2026-07-01 0:00 UTC)
    );
    assert_eq!(
        BudgetPeriod::Daily.next_start(datetime!(2026-02-28 10:00 UTC)),
        datetime!(2026-03-01 0:00 UTC)
    );
    assert_eq!(
        BudgetPeriod::Annually.next_start(datetime!(2026-02-28 10:00 UTC)),
        datetime!(2027-01-01 0:00 UTC)
    );
    // Saturates instead of panicking at the end of the calendar.
    let end = PrimitiveDateTime::MAX.assume_utc();
    assert_eq!(lockout_until(end), end);
}
