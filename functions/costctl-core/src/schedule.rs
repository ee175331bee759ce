//! A stack's pause and resume schedules, as EventBridge Scheduler runs them: cron expressions
//! evaluated in the stack's time zone. costctl does not fire them (EventBridge Scheduler does);
//! it reads them to know the next *boundary*, so that a person's manual resume at night is held
//! until the schedule would next act, not undone by it five minutes later.
//!
//! EventBridge cron: `cron(minutes hours day-of-month month day-of-week year)`, weekdays 1-7 =
//! SUN-SAT, one of the day fields `?`. Evaluated with `croner` in Quartz mode. Daylight-saving
//! time follows EventBridge Scheduler's documented behaviour ("Daylight saving time on
//! EventBridge Scheduler", Schedule types in the User Guide): an occurrence that falls in the
//! spring-forward gap is skipped, and one the autumn overlap repeats runs once, at the first.

use crate::calendar::{self, TimeError};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use serde::Serialize;

/// One `cron(...)` expression.
#[derive(Debug, Clone)]
pub struct CronExpr {
    text: String,
    cron: Cron,
}

impl PartialEq for CronExpr {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Serialize for CronExpr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

/// A schedule expression was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid schedule expression `{text}`: {reason}")]
pub struct CronError {
    pub text: String,
    pub reason: String,
}

impl CronExpr {
    pub fn parse(text: &str) -> Result<CronExpr, CronError> {
        let err = |reason: String| CronError {
            text: text.to_string(),
            reason,
        };
        let inner = text
            .trim()
            .strip_prefix("cron(")
            .and_then(|t| t.strip_suffix(')'))
            .ok_or_else(|| {
                err("expected cron(minutes hours day-of-month month day-of-week year)".into())
            })?;
        let fields: Vec<&str> = inner.split_whitespace().collect();
        if fields.len() != 6 {
            return Err(err(format!("expected 6 fields, found {}", fields.len())));
        }
        if fields[2] != "?" && fields[4] != "?" {
            return Err(err(
                "one of day-of-month and day-of-week must be `?` (EventBridge cron)".into(),
            ));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Required)
            .year(Year::Required)
            .alternative_weekdays(true)
            .build()
            .parse(&format!("0 {inner}"))
            .map_err(|e| err(e.to_string()))?;
        Ok(CronExpr {
            text: text.trim().to_string(),
            cron,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first instant after `after_ms` at which EventBridge Scheduler fires this expression
    /// in `tz`; `None` if it never fires again (a past year) within the search.
    pub fn next_after(&self, after_ms: i64, tz: &TimeZone) -> Option<i64> {
        self.walk(after_ms, tz, true)
    }

    /// The last instant at or before `at_ms` at which it fired.
    pub fn last_before(&self, at_ms: i64, tz: &TimeZone) -> Option<i64> {
        self.walk(at_ms, tz, false)
    }

    /// Walks wall-clock occurrences from the local time of `from_ms` (croner evaluates on a
    /// "wall clock as UTC" value, so `jiff` alone decides what each wall-clock time means in
    /// `tz`), keeping the first that exists and lies on the right side of `from_ms`.
    fn walk(&self, from_ms: i64, tz: &TimeZone, forward: bool) -> Option<i64> {
        let local = calendar::zoned(from_ms, tz).datetime();
        let mut cursor = wall_as_utc(local)?;
        for _ in 0..2_000 {
            let next = if forward {
                self.cron.find_next_occurrence(&cursor, false)
            } else {
                self.cron.find_previous_occurrence(&cursor, false)
            }
            .ok()?;
            cursor = next;
            let wall = utc_as_wall(next)?;
            let instant = match tz.to_ambiguous_zoned(wall).offset() {
                // The gap: this wall-clock time does not happen that day.
                AmbiguousOffset::Gap { .. } => continue,
                AmbiguousOffset::Unambiguous { offset } => offset,
                AmbiguousOffset::Fold { before, .. } => before,
            };
            let ms = instant.to_timestamp(wall).ok()?.as_millisecond();
            if (forward && ms > from_ms) || (!forward && ms <= from_ms) {
                return Some(ms);
            }
        }
        None
    }
}

fn wall_as_utc(dt: DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::TimeZone as _;
    chrono::Utc
        .with_ymd_and_hms(
            i32::from(dt.year()),
            u32::try_from(dt.month()).ok()?,
            u32::try_from(dt.day()).ok()?,
            u32::try_from(dt.hour()).ok()?,
            u32::try_from(dt.minute()).ok()?,
            u32::try_from(dt.second()).ok()?,
        )
        .single()
}

fn utc_as_wall(t: chrono::DateTime<chrono::Utc>) -> Option<DateTime> {
    use chrono::{Datelike as _, Timelike as _};
    DateTime::new(
        i16::try_from(t.year()).ok()?,
        i8::try_from(t.month()).ok()?,
        i8::try_from(t.day()).ok()?,
        i8::try_from(t.hour()).ok()?,
        i8::try_from(t.minute()).ok()?,
        0,
        0,
    )
    .ok()
}

/// Which schedule a boundary belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Boundary {
    Pause,
    Resume,
}

/// A stack's schedules (either may be absent: a stack only paused at night and resumed by
/// hand has no resume schedule).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedule {
    pub pause: Option<CronExpr>,
    pub resume: Option<CronExpr>,
}

impl Schedule {
    /// The next instant after `now_ms` at which either schedule acts, and which.
    pub fn next_boundary(&self, now_ms: i64, tz: &TimeZone) -> Option<(i64, Boundary)> {
        let p = self
            .pause
            .as_ref()
            .and_then(|c| c.next_after(now_ms, tz))
            .map(|t| (t, Boundary::Pause));
        let r = self
            .resume
            .as_ref()
            .and_then(|c| c.next_after(now_ms, tz))
            .map(|t| (t, Boundary::Resume));
        match (p, r) {
            (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
            (a, b) => a.or(b),
        }
    }

    /// Whether `now_ms` lies in a scheduled-off window: the schedule's last action was a pause.
    pub fn is_off(&self, now_ms: i64, tz: &TimeZone) -> bool {
        let last = |c: &Option<CronExpr>| c.as_ref().and_then(|c| c.last_before(now_ms, tz));
        match (last(&self.pause), last(&self.resume)) {
            (Some(p), Some(r)) => p > r,
            (Some(_), None) => true,
            _ => false,
        }
    }
}

/// Parses a time zone for a schedule or calendar (re-exported for the configuration).
pub fn zone(name: &str) -> Result<TimeZone, TimeError> {
    calendar::zone(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    fn ms(rfc: &str) -> i64 {
        rfc.parse::<Timestamp>().unwrap().as_millisecond()
    }
    fn at(ms: i64) -> String {
        Timestamp::from_millisecond(ms).unwrap().to_string()
    }

    #[test]
    fn weekday_evenings_in_madrid() {
        let tz = zone("Europe/Madrid").unwrap();
        let s = Schedule {
            pause: Some(CronExpr::parse("cron(0 20 ? * MON-FRI *)").unwrap()),
            resume: Some(CronExpr::parse("cron(0 8 ? * MON-FRI *)").unwrap()),
        };
        // Wednesday 2026-12-02 22:00 Madrid (21:00Z): off; next boundary Thursday 08:00.
        let now = ms("2026-12-02T21:00:00Z");
        assert!(s.is_off(now, &tz));
        assert_eq!(
            s.next_boundary(now, &tz).map(|(t, b)| (at(t), b)),
            Some(("2026-12-03T07:00:00Z".into(), Boundary::Resume))
        );
        // Friday night → Monday 08:00 (the weekend has no boundary).
        let fri = ms("2026-12-04T21:00:00Z");
        assert_eq!(
            s.next_boundary(fri, &tz).map(|(t, _)| at(t)),
            Some("2026-12-07T07:00:00Z".into())
        );
        // Thursday noon: on; next boundary the pause at 20:00.
        let noon = ms("2026-12-03T11:00:00Z");
        assert!(!s.is_off(noon, &tz));
        assert_eq!(
            s.next_boundary(noon, &tz),
            Some((ms("2026-12-03T19:00:00Z"), Boundary::Pause))
        );
        // Numeric weekdays are EventBridge's: 2-6 = MON-FRI.
        let numeric = CronExpr::parse("cron(0 20 ? * 2-6 *)").unwrap();
        assert_eq!(
            numeric.next_after(fri, &tz),
            Some(ms("2026-12-07T19:00:00Z"))
        );
    }

    #[test]
    fn dst_gap_is_skipped_and_overlap_runs_once() {
        // Madrid springs forward on 2027-03-28 at 02:00 → 03:00: a 02:30 schedule does not run
        // that day (EventBridge Scheduler skips it); the next run is the 29th.
        let tz = zone("Europe/Madrid").unwrap();
        let c = CronExpr::parse("cron(30 2 * * ? *)").unwrap();
        assert_eq!(
            c.next_after(ms("2027-03-27T12:00:00Z"), &tz),
            Some(ms("2027-03-29T00:30:00Z"))
        );
        // New York falls back on 2026-11-01 at 02:00 EDT → 01:00 EST: 01:30 runs once, at the
        // first (EDT, 05:30Z); asked after it, the next run is the following day.
        let ny = zone("America/New_York").unwrap();
        let c = CronExpr::parse("cron(30 1 * * ? *)").unwrap();
        let first = ms("2026-11-01T05:30:00Z");
        assert_eq!(c.next_after(ms("2026-11-01T04:00:00Z"), &ny), Some(first));
        assert_eq!(c.next_after(first, &ny), Some(ms("2026-11-02T06:30:00Z")));
        assert_eq!(c.last_before(ms("2026-11-01T06:45:00Z"), &ny), Some(first));
        // Madrid falls back on 2026-10-25 at 03:00 CEST → 02:00 CET: 02:30 runs once, at the
        // first (CEST, 00:30Z), not again at 01:30Z.
        let c = CronExpr::parse("cron(30 2 * * ? *)").unwrap();
        let first = ms("2026-10-25T00:30:00Z");
        assert_eq!(c.next_after(ms("2026-10-24T12:00:00Z"), &tz), Some(first));
        assert_eq!(c.next_after(first, &tz), Some(ms("2026-10-26T01:30:00Z")));
        // And New York springs forward on 2027-03-14: 02:30 is skipped.
        let c = CronExpr::parse("cron(30 2 * * ? *)").unwrap();
        assert_eq!(
            c.next_after(ms("2027-03-14T05:00:00Z"), &ny),
            Some(ms("2027-03-15T06:30:00Z"))
        );
    }

    #[test]
    fn bad_expressions_say_why() {
        for (e, needle) in [
            ("0 20 * * MON-FRI", "expected cron("),
            ("cron(0 20 * * MON-FRI)", "6 fields"),
            ("cron(0 20 * * MON-FRI *)", "must be `?`"),
            ("cron(0 25 ? * MON-FRI *)", "cron(0 25"),
        ] {
            let err = CronExpr::parse(e).unwrap_err().to_string();
            assert!(err.contains(needle), "{e}: {err}");
        }
        // A schedule that never fires again has no next boundary.
        let tz = zone("UTC").unwrap();
        let c = CronExpr::parse("cron(0 8 1 1 ? 2020)").unwrap();
        assert_eq!(c.next_after(ms("2026-12-02T00:00:00Z"), &tz), None);
    }
}
