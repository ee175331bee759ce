//! [`Trigger`]: who or what asked for a change of a stack, from the event to the store.

use serde::{Deserialize, Serialize};

/// Who or what asked for a change of a stack: recorded with the request and in its history,
/// typed from the event to the store. The lockout refuses `schedule` resumes and `force` is
/// accepted only from `manual`. Events may name the first five ([`Trigger::FROM_EVENTS`]); the
/// others are costctl's own: the command line, the escalation policy and the ephemeral tier's
/// spec lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    Schedule,
    Manual,
    Budget,
    Terraform,
    RdsEvent,
    /// The `costctl` command line.
    Cli,
    /// The stack's policy (`hibernate_after_days`).
    Policy,
    /// `apply-spec`: the ephemeral tier created from a spec.
    ApplySpec,
    /// `delete-spec`: the ephemeral tier deleted.
    DeleteSpec,
}

impl Trigger {
    /// The triggers an event's `trigger` field may name.
    pub const FROM_EVENTS: [Trigger; 5] = [
        Self::Schedule,
        Self::Manual,
        Self::Budget,
        Self::Terraform,
        Self::RdsEvent,
    ];

    pub const ALL: [Trigger; 9] = [
        Self::Schedule,
        Self::Manual,
        Self::Budget,
        Self::Terraform,
        Self::RdsEvent,
        Self::Cli,
        Self::Policy,
        Self::ApplySpec,
        Self::DeleteSpec,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Schedule => "schedule",
            Self::Manual => "manual",
            Self::Budget => "budget",
            Self::Terraform => "terraform",
            Self::RdsEvent => "rds-event",
            Self::Cli => "cli",
            Self::Policy => "policy",
            Self::ApplySpec => "apply-spec",
            Self::DeleteSpec => "delete-spec",
        }
    }
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so that `{:<9}` in a table aligns.
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for Trigger {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| format!("unknown trigger `{s}`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DesiredState;

    #[test]
    fn names_round_trip_and_pad_in_tables() {
        for t in Trigger::ALL {
            assert_eq!(t.as_str().parse::<Trigger>(), Ok(t));
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
        }
        assert!("cron".parse::<Trigger>().is_err());
        // The history table aligns its columns with `{:<N}`.
        assert_eq!(format!("{:<9}|", Trigger::Cli), "cli      |");
        assert_eq!(format!("{:<10}|", DesiredState::Paused), "paused    |");
    }
}
