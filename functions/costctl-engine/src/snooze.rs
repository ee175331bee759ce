//! Snoozes and calendars: a person's hold on a stack's scheduled transitions, and the days on
//! which its scheduled resumes are skipped.
//!
//! The decisions are pure functions of the stack's configuration and the time (tested in
//! `snooze/tests.rs`); the store enforces an existing snooze on every scheduled request with a
//! conditional write ([`crate::store::SnoozeRule`]), so the expiry is the store's, not the
//! clock of whichever invocation happens to read it. [`Engine::snooze`] and
//! [`Engine::unsnooze`] are the one way both the service and the command line set and end one.

use crate::engine::Engine;
use crate::store::{HistoryEntry, Snooze, StackState};
use crate::{Cloud, EngineError, StateStore};
use costctl_core::calendar::{self, Entry, SnoozeEnd};
use costctl_core::config::{SnoozePolicy, StackConfig, Zone};
use costctl_core::event::Trigger;
use costctl_core::schedule::Boundary;
use costctl_core::{DesiredState, calendar::local_date};

/// Why a snooze was refused (nothing is written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnoozeRefusal {
    #[error("snooze until {until} is not in the future (it is now {now} in {zone})")]
    InPast {
        until: String,
        now: String,
        zone: String,
    },
    #[error(
        "snooze until {until} is longer than this stack allows ({max_hours} h, `snooze.max_hours` in the configuration)"
    )]
    TooLong { until: String, max_hours: u32 },
}

/// A snooze asked for at `now_ms`, checked against the stack's bound.
pub fn snooze(
    zone: &Zone,
    limits: &SnoozePolicy,
    end: &SnoozeEnd,
    now_ms: i64,
    by: &str,
    reason: &str,
) -> Result<Snooze, SnoozeRefusal> {
    let until_ms = end.resolve(now_ms, &zone.tz);
    let until = calendar::display(until_ms, &zone.tz);
    if until_ms <= now_ms {
        return Err(SnoozeRefusal::InPast {
            until,
            now: calendar::display(now_ms, &zone.tz),
            zone: zone.name.clone(),
        });
    }
    if until_ms - now_ms > limits.max_ms() {
        return Err(SnoozeRefusal::TooLong {
            until,
            max_hours: limits.max_hours,
        });
    }
    Ok(Snooze {
        until_ms,
        by: by.to_string(),
        reason: reason.to_string(),
        set_at_ms: now_ms,
    })
}

/// The hold a person's resume sets without `--until`: when the stack's schedules have it off
/// now, hold them until their next boundary (the next scheduled resume or pause), so that the
/// person's resume is not undone by the schedule minutes later. `None` outside an off window
/// or for a stack without schedules. Capped at the snooze bound.
pub fn manual_resume_hold(cfg: &StackConfig, now_ms: i64, by: &str) -> Option<Snooze> {
    let schedule = cfg.schedule.as_ref()?;
    let tz = &cfg.time_zone.tz;
    if !schedule.is_off(now_ms, tz) {
        return None;
    }
    let (at, which) = schedule.next_boundary(now_ms, tz)?;
    let until_ms = at.min(now_ms + cfg.snooze.max_ms());
    let which = match which {
        Boundary::Pause => "pause",
        Boundary::Resume => "resume",
    };
    Some(Snooze {
        until_ms,
        by: by.to_string(),
        reason: format!(
            "manual resume during the scheduled-off window: held until the next scheduled {which} ({})",
            calendar::display(at, tz)
        ),
        set_at_ms: now_ms,
    })
}

/// The hold a manual resume sets, unless a snooze that already holds ends later: a person's
/// longer snooze is never shortened by the automatic hold.
pub fn unless_longer(hold: Option<Snooze>, held: Option<&Snooze>) -> Option<Snooze> {
    match (hold, held) {
        (Some(h), Some(s)) if s.until_ms >= h.until_ms => None,
        (hold, _) => hold,
    }
}

/// The calendar entry that closes the stack's day at `now_ms` (in its zone), if one does: a
/// scheduled resume is skipped then.
pub fn closed_today(cfg: &StackConfig, now_ms: i64) -> Option<&Entry> {
    cfg.calendar
        .closed_on(local_date(now_ms, &cfg.time_zone.tz))
}

/// "snoozed until … by … (reason)", in the stack's zone.
pub fn describe(snooze: &Snooze, zone: &Zone) -> String {
    let mut s = format!(
        "snoozed until {} by {}",
        calendar::display(snooze.until_ms, &zone.tz),
        snooze.by
    );
    if !snooze.reason.is_empty() {
        s.push_str(&format!(" ({})", snooze.reason));
    }
    s
}

impl<C: Cloud, S: StateStore> Engine<C, S> {
    /// Sets a snooze (replacing one that holds) and records it in the history; returns the
    /// state as it was before. The stack must be in the store.
    pub async fn snooze(
        &self,
        stack: &str,
        snooze: &Snooze,
        trigger: Trigger,
    ) -> Result<StackState, EngineError> {
        let before = self.store().set_snooze(stack, Some(snooze)).await?;
        let replaced = before.snooze_at(self.now_ms()).cloned();
        self.history_note(
            &before,
            "snooze",
            trigger,
            serde_json::json!({ "snooze": snooze, "replaced": replaced }),
        )
        .await?;
        Ok(before)
    }

    /// The hold a person's resume of `stack` sets without `--until` ([`manual_resume_hold`]),
    /// unless the snooze the store holds already ends later ([`unless_longer`]).
    pub async fn resume_hold(
        &self,
        stack: &str,
        cfg: &StackConfig,
        by: &str,
    ) -> Result<Option<Snooze>, EngineError> {
        let now = self.now_ms();
        let Some(hold) = manual_resume_hold(cfg, now, by) else {
            return Ok(None);
        };
        let state = self.store().load(stack).await?;
        let held = state.as_ref().and_then(|s| s.snooze_at(now));
        Ok(unless_longer(Some(hold), held))
    }

    /// Ends the stack's snooze; returns the one that held, if one did.
    pub async fn unsnooze(
        &self,
        stack: &str,
        by: &str,
        trigger: Trigger,
    ) -> Result<Option<Snooze>, EngineError> {
        let before = self.store().set_snooze(stack, None).await?;
        let ended = before.snooze_at(self.now_ms()).cloned();
        self.history_note(
            &before,
            "unsnooze",
            trigger,
            serde_json::json!({ "by": by, "ended": ended }),
        )
        .await?;
        Ok(ended)
    }

    /// Records in the history that a scheduled request was skipped, and why.
    pub async fn skipped(
        &self,
        stack: &str,
        desired: DesiredState,
        detail: serde_json::Value,
    ) -> Result<(), EngineError> {
        // A stack never requested has no history to write to (and runs anyway).
        let Some(state) = self.store().load(stack).await? else {
            return Ok(());
        };
        let mut detail = detail;
        detail["asked"] = serde_json::json!(desired);
        self.history_note(&state, "skipped", Trigger::Schedule, detail)
            .await
    }

    async fn history_note(
        &self,
        state: &StackState,
        kind: &str,
        trigger: Trigger,
        detail: serde_json::Value,
    ) -> Result<(), EngineError> {
        let entry = HistoryEntry {
            at_ms: self.now_ms(),
            generation: state.generation,
            kind: kind.into(),
            desired: state.desired,
            trigger,
            detail,
        };
        self.store().append_history(&state.stack, &entry).await?;
        Ok(())
    }
}

#[cfg(test)]
#[path = "snooze/tests.rs"]
mod tests;
