//! The event fixtures are real AWS shapes: they parse into the official `aws_lambda_events`
//! types too (and so do the payloads the function decodes itself).

use aws_lambda_events::cloudwatch_events::CloudWatchEvent;
use aws_lambda_events::sns::SnsEvent;
use costctl_tests::repo_root;

fn fixture(name: &str) -> String {
    std::fs::read_to_string(
        repo_root()
            .join("functions/costctl-core/tests/fixtures")
            .join(name),
    )
    .unwrap()
}

#[test]
fn budget_notifications_are_sns_events() {
    for name in [
        "sns-budget-actual.json",
        "sns-budget-forecasted.json",
        "sns-budget-actual-80.json",
        "sns-budget-daily.json",
        "sns-budget-large-crlf.json",
        "sns-budget-legacy-capitalised.json",
    ] {
        let event: SnsEvent =
            serde_json::from_str(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let record = &event.records[0];
        assert_eq!(record.event_source, "aws:sns");
        assert!(record.sns.message.contains("Budget Name:"), "{name}");
        let decoded = costctl_core::event::Request::from_value(
            &serde_json::from_str(&fixture(name)).unwrap(),
        )
        .unwrap();
        assert_eq!(decoded.request_kind(), "budget-alerts");
    }
}

#[test]
fn the_rds_auto_start_event_is_an_eventbridge_event() {
    let event: CloudWatchEvent = serde_json::from_str(&fixture("rds-auto-start.json")).unwrap();
    assert_eq!(event.source.as_deref(), Some("aws.rds"));
    assert_eq!(event.detail_type.as_deref(), Some("RDS DB Instance Event"));
    assert_eq!(event.detail.as_ref().unwrap()["EventID"], "RDS-EVENT-0154");
}
