//! Wall-clock time in a stack's time zone: closed-day calendars, snooze ends ("23:00",
//! "tomorrow 08:00", RFC 3339) and durations ("3h", "90m").
//!
//! Time zones are IANA names resolved with `jiff`'s bundled time-zone database, so a Lambda
//! function needs no zoneinfo files and every deployment reads the same rules. Wall-clock times
//! that fall into a daylight-saving gap resolve to the instant after the gap, and times the
//! autumn overlap repeats resolve to the first of the two (`jiff`'s "compatible" rule, which is
//! also RFC 5545's).

use jiff::civil::{Date, DateTime, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A time or calendar value was refused; every variant names the offending text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("unknown time zone `{0}`: expected an IANA name such as Europe/Madrid or UTC")]
    UnknownZone(String),
    #[error("calendar entry `{entry}`: {reason}")]
    Entry { entry: String, reason: String },
    #[error(
        "cannot read the time `{text}`: expected HH:MM (today, in {zone}), `tomorrow HH:MM`, `YYYY-MM-DD HH:MM` or RFC 3339 (2026-12-02T23:00:00+01:00)"
    )]
    Time { text: String, zone: String },
    #[error("cannot read the duration `{0}`: expected e.g. 3h, 90m, 1h30m or 2d")]
    Duration(String),
}

/// Looks up an IANA time zone.
pub fn zone(name: &str) -> Result<TimeZone, TimeError> {
    if name == "UTC" {
        return Ok(TimeZone::UTC);
    }
    TimeZone::get(name).map_err(|_| TimeError::UnknownZone(name.to_string()))
}

fn timestamp(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The instant `ms` in `tz`.
pub fn zoned(ms: i64, tz: &TimeZone) -> Zoned {
    timestamp(ms).to_zoned(tz.clone())
}

/// The calendar date of the instant `ms` in `tz`.
pub fn local_date(ms: i64, tz: &TimeZone) -> Date {
    zoned(ms, tz).date()
}

/// A wall-clock date and time in `tz` as an instant (gap: after it; overlap: the first).
pub fn local_ms(dt: DateTime, tz: &TimeZone) -> Option<i64> {
    tz.to_zoned(dt).ok().map(|z| z.timestamp().as_millisecond())
}

/// RFC 3339 text of an instant, in `tz` (with its offset).
pub fn display(ms: i64, tz: &TimeZone) -> String {
    zoned(ms, tz)
        .timestamp()
        .display_with_offset(zoned(ms, tz).offset())
        .to_string()
}

/// One closed-day rule of a calendar.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    /// `2026-12-25`
    Date(Date),
    /// `12-25`: every year.
    Annual { month: i8, day: i8 },
    /// `SAT,SUN`, `MON-FRI`
    Weekdays(Vec<Weekday>),
    /// `2026-12-24..2027-01-02`, both ends closed.
    Range { from: Date, to: Date },
}

/// A calendar entry as written in the configuration: a string (`"2026-12-25"`, `"12-25"`,
/// `"SAT,SUN"`, `"2026-12-24..2027-01-02 winter break"`) or an object naming a range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RawEntry {
    Text(String),
    Range {
        name: String,
        from: String,
        to: String,
    },
}

/// A checked calendar entry: the rule and how it was written (named in answers and history).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// The entry as written, e.g. `2026-12-24..2027-01-02 winter break`.
    pub entry: String,
    #[serde(skip)]
    rule: Rule,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.entry)
    }
}

fn entry_error(entry: &str, reason: impl Into<String>) -> TimeError {
    TimeError::Entry {
        entry: entry.to_string(),
        reason: reason.into(),
    }
}

fn parse_date(entry: &str, text: &str) -> Result<Date, TimeError> {
    let t = text.trim();
    let ok = t.len() == 10 && t.as_bytes()[4] == b'-' && t.as_bytes()[7] == b'-';
    if !ok {
        return Err(entry_error(
            entry,
            format!("`{t}` is not a date YYYY-MM-DD"),
        ));
    }
    t.parse::<Date>()
        .map_err(|e| entry_error(entry, format!("`{t}` is not a date: {e}")))
}

fn weekday(name: &str) -> Option<Weekday> {
    Some(match name {
        "MON" => Weekday::Monday,
        "TUE" => Weekday::Tuesday,
        "WED" => Weekday::Wednesday,
        "THU" => Weekday::Thursday,
        "FRI" => Weekday::Friday,
        "SAT" => Weekday::Saturday,
        "SUN" => Weekday::Sunday,
        _ => return None,
    })
}

fn parse_weekdays(entry: &str, text: &str) -> Result<Vec<Weekday>, TimeError> {
    let mut days = Vec::new();
    for part in text.split(',') {
        let part = part.trim().to_ascii_uppercase();
        let bad = || {
            entry_error(
                entry,
                format!("`{part}` is not a weekday (MON … SUN) or a range of them (MON-FRI)"),
            )
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (weekday(a).ok_or_else(bad)?, weekday(b).ok_or_else(bad)?);
                let mut d = a;
                loop {
                    days.push(d);
                    if d == b {
                        break;
                    }
                    d = d.wrapping_add(1);
                }
            }
            None => days.push(weekday(&part).ok_or_else(bad)?),
        }
    }
    days.sort_by_key(|d| d.to_monday_one_offset());
    days.dedup();
    Ok(days)
}

impl Entry {
    /// Checks one entry; the error names it and says what is wrong (a bad date, an empty range,
    /// a range that ends before it starts).
    pub fn parse(raw: &RawEntry) -> Result<Entry, TimeError> {
        match raw {
            RawEntry::Range { name, from, to } => {
                let entry = format!("{from}..{to} {name}");
                if name.trim().is_empty() {
                    return Err(entry_error(
                        &entry,
                        "a named range needs a non-empty `name`",
                    ));
                }
                Self::range(&entry, from, to)
            }
            RawEntry::Text(text) => {
                let entry = text.trim();
                if entry.is_empty() {
                    return Err(entry_error(text, "empty entry"));
                }
                if let Some((from, rest)) = entry.split_once("..") {
                    let to = rest.split_whitespace().next().unwrap_or("");
                    if to.is_empty() {
                        return Err(entry_error(entry, "empty range: expected FROM..TO"));
                    }
                    return Self::range(entry, from, to);
                }
                let b = entry.as_bytes();
                let rule = if entry.len() == 10 && b[0].is_ascii_digit() {
                    Rule::Date(parse_date(entry, entry)?)
                } else if entry.len() == 5 && b[0].is_ascii_digit() && b[2] == b'-' {
                    // Checked against a leap year, so that 02-29 is allowed.
                    let d = parse_date(entry, &format!("2024-{entry}"))
                        .map_err(|_| entry_error(entry, "not an annual date MM-DD"))?;
                    Rule::Annual {
                        month: d.month(),
                        day: d.day(),
                    }
                } else if b[0].is_ascii_digit() {
                    return Err(entry_error(
                        entry,
                        "expected a date YYYY-MM-DD, an annual date MM-DD, weekdays (SAT,SUN or MON-FRI) or a range FROM..TO [name]",
                    ));
                } else {
                    Rule::Weekdays(parse_weekdays(entry, entry)?)
                };
                Ok(Entry {
                    entry: entry.to_string(),
                    rule,
                })
            }
        }
    }

    fn range(entry: &str, from: &str, to: &str) -> Result<Entry, TimeError> {
        let (from, to) = (parse_date(entry, from)?, parse_date(entry, to)?);
        if to < from {
            return Err(entry_error(
                entry,
                format!("the range ends ({to}) before it starts ({from})"),
            ));
        }
        Ok(Entry {
            entry: entry.to_string(),
            rule: Rule::Range { from, to },
        })
    }

    /// Whether this entry closes `date`.
    pub fn closes(&self, date: Date) -> bool {
        match &self.rule {
            Rule::Date(d) => *d == date,
            Rule::Annual { month, day } => date.month() == *month && date.day() == *day,
            Rule::Weekdays(days) => days.contains(&date.weekday()),
            Rule::Range { from, to } => *from <= date && date <= *to,
        }
    }
}

/// A stack's closed days.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Calendar {
    pub entries: Vec<Entry>,
}

impl Calendar {
    /// The first entry that closes `date`, if one does.
    pub fn closed_on(&self, date: Date) -> Option<&Entry> {
        self.entries.iter().find(|e| e.closes(date))
    }
}

/// The end of a snooze as a person wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub enum SnoozeEnd {
    /// RFC 3339, with its offset: an instant.
    At(i64),
    /// Wall-clock time in the stack's zone: `23:00` (today), `tomorrow 08:00`, or a date and
    /// time `2026-12-24 18:00`.
    Local {
        date: Option<Date>,
        tomorrow: bool,
        time: Time,
        text: String,
    },
    /// A duration from now (`--for 3h`), in milliseconds.
    For(i64),
}

impl From<SnoozeEnd> for String {
    fn from(e: SnoozeEnd) -> String {
        match e {
            SnoozeEnd::At(ms) => display(ms, &TimeZone::UTC),
            SnoozeEnd::Local { text, .. } => text,
            SnoozeEnd::For(ms) => format!("{}m", ms / 60_000),
        }
    }
}

fn parse_hhmm(t: &str) -> Option<Time> {
    let (h, m) = t.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let (h, m) = (h.parse::<i8>().ok()?, m.parse::<i8>().ok()?);
    Time::new(h, m, 0, 0).ok()
}

impl SnoozeEnd {
    /// Reads `--until` text; `zone` only names the zone in the error.
    pub fn parse_until(text: &str, zone: &str) -> Result<SnoozeEnd, TimeError> {
        let t = text.trim();
        let bad = || TimeError::Time {
            text: text.to_string(),
            zone: zone.to_string(),
        };
        if let Ok(ts) = t.parse::<Timestamp>() {
            return Ok(SnoozeEnd::At(ts.as_millisecond()));
        }
        let (date, tomorrow, time) = match t.split_once(char::is_whitespace) {
            None => (None, false, t),
            Some((first, rest)) if first.eq_ignore_ascii_case("tomorrow") => {
                (None, true, rest.trim())
            }
            Some((first, rest)) => (
                Some(first.parse::<Date>().map_err(|_| bad())?),
                false,
                rest.trim(),
            ),
        };
        let time = parse_hhmm(time).ok_or_else(bad)?;
        Ok(SnoozeEnd::Local {
            date,
            tomorrow,
            time,
            text: t.to_string(),
        })
    }

    /// Reads `--for` text.
    pub fn parse_for(text: &str) -> Result<SnoozeEnd, TimeError> {
        parse_duration_ms(text).map(SnoozeEnd::For)
    }

    /// The instant this end names, seen at `now_ms` in `tz`.
    pub fn resolve(&self, now_ms: i64, tz: &TimeZone) -> i64 {
        match self {
            SnoozeEnd::At(ms) => *ms,
            SnoozeEnd::For(ms) => now_ms.saturating_add(*ms),
            SnoozeEnd::Local {
                date,
                tomorrow,
                time,
                ..
            } => {
                let today = local_date(now_ms, tz);
                let day = match (date, tomorrow) {
                    (Some(d), _) => *d,
                    (None, true) => today.tomorrow().unwrap_or(today),
                    (None, false) => today,
                };
                local_ms(day.to_datetime(*time), tz).unwrap_or(now_ms)
            }
        }
    }
}

/// `3h`, `90m`, `1h30m`, `2d` as milliseconds (at least one minute).
pub fn parse_duration_ms(text: &str) -> Result<i64, TimeError> {
    let bad = || TimeError::Duration(text.to_string());
    let t = text.trim().to_ascii_lowercase();
    let mut total: i64 = 0;
    let mut num = String::new();
    let mut any = false;
    for c in t.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            'd' => 86_400_000,
            'h' => 3_600_000,
            'm' => 60_000,
            _ => return Err(bad()),
        };
        let n: i64 = num.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        num.clear();
        any = true;
    }
    if !num.is_empty() || !any || total < 60_000 {
        return Err(bad());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(rfc: &str) -> i64 {
        rfc.parse::<Timestamp>().unwrap().as_millisecond()
    }
    fn text(s: &str) -> RawEntry {
        RawEntry::Text(s.into())
    }

    #[test]
    fn entries_parse_and_close_days() {
        let cal = Calendar {
            entries: [
                "2026-12-08",
                "01-06",
                "SAT,SUN",
                "2026-12-24..2027-01-02 winter break",
            ]
            .iter()
            .map(|s| Entry::parse(&text(s)).unwrap())
            .collect(),
        };
        let d = |s: &str| s.parse::<Date>().unwrap();
        assert_eq!(cal.closed_on(d("2026-12-08")).unwrap().entry, "2026-12-08");
        assert_eq!(cal.closed_on(d("2030-01-06")).unwrap().entry, "01-06");
        assert_eq!(cal.closed_on(d("2026-12-05")).unwrap().entry, "SAT,SUN");
        assert_eq!(
            cal.closed_on(d("2026-12-31")).unwrap().entry,
            "2026-12-24..2027-01-02 winter break"
        );
        assert_eq!(
            cal.closed_on(d("2027-01-01")).unwrap().to_string(),
            "2026-12-24..2027-01-02 winter break"
        );
        assert!(cal.closed_on(d("2026-12-09")).is_none());
        assert!(cal.closed_on(d("2027-01-04")).is_none());
        let wd = Entry::parse(&text("mon-wed")).unwrap();
        assert!(wd.closes(d("2026-12-02")) && !wd.closes(d("2026-12-03")));
        let wrap = Entry::parse(&text("FRI-MON")).unwrap();
        assert!(wrap.closes(d("2026-12-06")) && !wrap.closes(d("2026-12-02")));
        let named = Entry::parse(&RawEntry::Range {
            name: "audit".into(),
            from: "2027-03-01".into(),
            to: "2027-03-01".into(),
        })
        .unwrap();
        assert!(named.closes(d("2027-03-01")));
        assert!(
            Entry::parse(&text("02-29"))
                .unwrap()
                .closes(d("2028-02-29"))
        );
    }

    #[test]
    fn bad_entries_name_themselves() {
        for (e, needle) in [
            ("2026-13-01", "not a date"),
            ("2026-02-30", "not a date"),
            ("13-01", "annual"),
            ("2026-12-24..", "empty range"),
            (
                "2027-01-02..2026-12-24 oops",
                "ends (2026-12-24) before it starts",
            ),
            ("FUNDAY", "not a weekday"),
            ("", "empty"),
            ("12345", "expected a date"),
        ] {
            let err = Entry::parse(&text(e)).unwrap_err().to_string();
            assert!(err.contains(needle), "{e}: {err}");
            assert!(err.contains(e.trim()), "{e}: {err}");
        }
        assert!(
            Entry::parse(&RawEntry::Range {
                name: " ".into(),
                from: "2026-01-01".into(),
                to: "2026-01-02".into()
            })
            .is_err()
        );
    }

    #[test]
    fn snooze_ends_resolve_in_the_zone() {
        let madrid = zone("Europe/Madrid").unwrap();
        let now = ms("2026-12-02T17:00:00Z"); // 18:00 in Madrid (UTC+1)
        let e = SnoozeEnd::parse_until("23:00", "Europe/Madrid").unwrap();
        assert_eq!(e.resolve(now, &madrid), ms("2026-12-02T22:00:00Z"));
        let e = SnoozeEnd::parse_until("tomorrow 08:00", "Europe/Madrid").unwrap();
        assert_eq!(e.resolve(now, &madrid), ms("2026-12-03T07:00:00Z"));
        let e = SnoozeEnd::parse_until("2026-12-24 18:30", "Europe/Madrid").unwrap();
        assert_eq!(e.resolve(now, &madrid), ms("2026-12-24T17:30:00Z"));
        let e = SnoozeEnd::parse_until("2026-12-02T23:00:00+01:00", "Europe/Madrid").unwrap();
        assert_eq!(e.resolve(now, &madrid), ms("2026-12-02T22:00:00Z"));
        assert_eq!(
            SnoozeEnd::parse_for("90m").unwrap().resolve(now, &madrid),
            now + 90 * 60_000
        );
        for bad in [
            "25:00",
            "tomorrow",
            "23h",
            "next week 08:00",
            "2026-12-02T25:00Z",
        ] {
            let err = SnoozeEnd::parse_until(bad, "Europe/Madrid").unwrap_err();
            assert!(err.to_string().contains(bad) && err.to_string().contains("Europe/Madrid"));
        }
        assert!(
            zone("Mars/Olympus")
                .unwrap_err()
                .to_string()
                .contains("Mars/Olympus")
        );
    }

    #[test]
    fn dst_gap_and_overlap() {
        // Spring forward: 2027-03-28 02:00 → 03:00 in Madrid; 02:30 does not exist, it resolves
        // to the instant after the gap (03:30 CEST = 01:30Z).
        let madrid = zone("Europe/Madrid").unwrap();
        let before = ms("2027-03-27T23:00:00Z");
        let e = SnoozeEnd::parse_until("02:30", "Europe/Madrid").unwrap();
        assert_eq!(
            e.resolve(ms("2027-03-28T00:10:00Z"), &madrid),
            ms("2027-03-28T01:30:00Z")
        );
        // Autumn: 2026-11-01 01:30 happens twice in New York; the first (EDT, 05:30Z) is meant.
        let ny = zone("America/New_York").unwrap();
        let e = SnoozeEnd::parse_until("01:30", "America/New_York").unwrap();
        assert_eq!(
            e.resolve(ms("2026-11-01T04:10:00Z"), &ny),
            ms("2026-11-01T05:30:00Z")
        );
        // Dates: the local date at a UTC instant, either side of midnight.
        assert_eq!(local_date(before, &madrid).to_string(), "2027-03-28");
        assert_eq!(local_date(before, &TimeZone::UTC).to_string(), "2027-03-27");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("3h").unwrap(), 3 * 3_600_000);
        assert_eq!(parse_duration_ms("1h30m").unwrap(), 90 * 60_000);
        assert_eq!(parse_duration_ms("2d").unwrap(), 2 * 86_400_000);
        for bad in ["", "3", "h", "3x", "-3h", "0m", "99999999999999999d"] {
            assert!(parse_duration_ms(bad).is_err(), "{bad}");
        }
    }
}
