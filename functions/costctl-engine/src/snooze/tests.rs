use super::*;
use costctl_core::config::Config;
use jiff::Timestamp;

fn ms(rfc: &str) -> i64 {
    rfc.parse::<Timestamp>().unwrap().as_millisecond()
}

fn cfg(extra: &str) -> StackConfig {
    let json = format!(
        r#"{{"stacks":{{"s":{{"tags":{{"Project":"p"}},"time_zone":"Europe/Madrid"{extra}}}}}}}"#
    );
    Config::from_json(&json).unwrap().stacks["s"].clone()
}

const WEEKDAYS: &str =
    r#","schedule":{"pause":"cron(0 20 ? * MON-FRI *)","resume":"cron(0 8 ? * MON-FRI *)"}"#;

#[test]
fn snooze_bounds() {
    let c = cfg(r#","snooze":{"max_hours":12}"#);
    let now = ms("2026-12-02T17:00:00Z"); // 18:00 Madrid
    let end = SnoozeEnd::parse_until("23:00", "Europe/Madrid").unwrap();
    let s = snooze(&c.time_zone, &c.snooze, &end, now, "alice", "demo").unwrap();
    assert_eq!(s.until_ms, ms("2026-12-02T22:00:00Z"));
    assert_eq!(
        (s.by.as_str(), s.reason.as_str(), s.set_at_ms),
        ("alice", "demo", now)
    );
    assert_eq!(
        describe(&s, &c.time_zone),
        "snoozed until 2026-12-02T23:00:00+01:00 by alice (demo)"
    );
    // 17:00 today is behind us: an error naming the time and the zone.
    let past = SnoozeEnd::parse_until("17:00", "Europe/Madrid").unwrap();
    let err = snooze(&c.time_zone, &c.snooze, &past, now, "a", "").unwrap_err();
    assert!(matches!(err, SnoozeRefusal::InPast { .. }), "{err}");
    assert!(
        err.to_string().contains("2026-12-02T17:00:00+01:00"),
        "{err}"
    );
    assert!(err.to_string().contains("Europe/Madrid"), "{err}");
    // Exactly now is not in the future either.
    let zero = SnoozeEnd::At(now);
    assert!(snooze(&c.time_zone, &c.snooze, &zero, now, "a", "").is_err());
    // 13 hours is past the 12-hour bound; 12 exactly is allowed.
    let long = SnoozeEnd::parse_for("13h").unwrap();
    let err = snooze(&c.time_zone, &c.snooze, &long, now, "a", "").unwrap_err();
    assert!(err.to_string().contains("12 h"), "{err}");
    let ok = SnoozeEnd::parse_for("12h").unwrap();
    assert!(snooze(&c.time_zone, &c.snooze, &ok, now, "a", "").is_ok());
    // The default bound is a week.
    let d = cfg("");
    let week = SnoozeEnd::parse_for("7d").unwrap();
    assert!(snooze(&d.time_zone, &d.snooze, &week, now, "a", "").is_ok());
    let more = SnoozeEnd::parse_for("7d1m").unwrap();
    assert!(snooze(&d.time_zone, &d.snooze, &more, now, "a", "").is_err());
}

#[test]
fn manual_resume_at_night_holds_until_the_next_boundary() {
    let c = cfg(WEEKDAYS);
    // Wednesday 21:00 Madrid: off since 20:00; held until Thursday 08:00.
    let hold = manual_resume_hold(&c, ms("2026-12-02T20:00:00Z"), "cli").unwrap();
    assert_eq!(hold.until_ms, ms("2026-12-03T07:00:00Z"));
    assert!(
        hold.reason.contains("next scheduled resume"),
        "{}",
        hold.reason
    );
    // Saturday: off since Friday 20:00; held until Monday 08:00.
    let hold = manual_resume_hold(&c, ms("2026-12-05T10:00:00Z"), "cli").unwrap();
    assert_eq!(hold.until_ms, ms("2026-12-07T07:00:00Z"));
    // Thursday 10:00: the schedule has it running; nothing to hold.
    assert!(manual_resume_hold(&c, ms("2026-12-03T09:00:00Z"), "cli").is_none());
    // No schedule configured: nothing to hold.
    assert!(manual_resume_hold(&cfg(""), ms("2026-12-02T20:00:00Z"), "cli").is_none());
    // Capped at the bound.
    let short = cfg(&format!(r#"{WEEKDAYS},"snooze":{{"max_hours":2}}"#));
    let now = ms("2026-12-02T20:00:00Z");
    assert_eq!(
        manual_resume_hold(&short, now, "cli").unwrap().until_ms,
        now + 2 * 3_600_000
    );
}

#[test]
fn manual_resume_hold_across_dst() {
    // New York falls back on Sunday 2026-11-01; a daily 07:00 resume the next morning is 12:00Z
    // (EST), not 11:00Z.
    let json = r#"{"stacks":{"s":{"tags":{"P":"p"},"time_zone":"America/New_York",
        "schedule":{"pause":"cron(0 19 * * ? *)","resume":"cron(0 7 * * ? *)"}}}}"#;
    let c = Config::from_json(json).unwrap().stacks["s"].clone();
    let hold = manual_resume_hold(&c, ms("2026-11-01T03:00:00Z"), "cli").unwrap();
    assert_eq!(hold.until_ms, ms("2026-11-01T12:00:00Z"));
    // Madrid springs forward on 2027-03-28: the 08:00 resume is 06:00Z (CEST).
    let c = cfg(r#","schedule":{"pause":"cron(0 20 * * ? *)","resume":"cron(0 8 * * ? *)"}"#);
    let hold = manual_resume_hold(&c, ms("2027-03-27T22:00:00Z"), "cli").unwrap();
    assert_eq!(hold.until_ms, ms("2027-03-28T06:00:00Z"));
}

#[test]
fn calendar_days_in_the_zone() {
    let c = cfg(
        r#","calendar":["2026-12-25","01-06",{"name":"winter break","from":"2026-12-28","to":"2027-01-02"}]"#,
    );
    // 23:30Z on the 24th is already the 25th in Madrid.
    assert_eq!(
        closed_today(&c, ms("2026-12-24T23:30:00Z")).unwrap().entry,
        "2026-12-25"
    );
    assert!(closed_today(&c, ms("2026-12-24T22:30:00Z")).is_none());
    assert_eq!(
        closed_today(&c, ms("2026-12-30T08:00:00Z")).unwrap().entry,
        "2026-12-28..2027-01-02 winter break"
    );
    assert!(closed_today(&c, ms("2027-01-06T07:00:00Z")).is_some());
}

#[test]
fn the_automatic_hold_never_shortens_a_longer_snooze() {
    let s = |until_ms| Snooze {
        until_ms,
        by: "x".into(),
        reason: String::new(),
        set_at_ms: 0,
    };
    assert_eq!(unless_longer(Some(s(10)), Some(&s(20))), None);
    assert_eq!(unless_longer(Some(s(10)), Some(&s(10))), None);
    assert_eq!(unless_longer(Some(s(20)), Some(&s(10))), Some(s(20)));
    assert_eq!(unless_longer(Some(s(20)), None), Some(s(20)));
    assert_eq!(unless_longer(None, Some(&s(10))), None);
}
