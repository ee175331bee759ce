//! Power states: the three levels a stack can be asked to reach.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The power level a stack is asked to be at. Ordered by how much is switched off, so that a
/// budget alert can only ever move a stack *down* this list (`max` of two levels is the deeper one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DesiredState {
    /// Everything up: services at their recorded counts, RDS available, ALB and MSK present.
    Running,
    /// Nightly pause: services at 0, RDS stopped, ALB and MSK deleted (per policy).
    Paused,
    /// Long pause: as paused, but RDS is snapshotted and deleted so it cannot auto-start.
    Hibernated,
}

impl DesiredState {
    pub const ALL: [DesiredState; 3] = [Self::Running, Self::Paused, Self::Hibernated];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Paused => "paused",
            Self::Hibernated => "hibernated",
        }
    }

    /// True for the levels that switch the stack off.
    pub fn is_down(self) -> bool {
        self != Self::Running
    }
}

impl fmt::Display for DesiredState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so that the history table's `{:<10}` aligns.
        f.pad(self.as_str())
    }
}

/// Error for a state name that is not one of `running`, `paused`, `hibernated`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown state `{0}`: expected one of running, paused, hibernated")]
pub struct UnknownState(pub String);

impl FromStr for DesiredState {
    type Err = UnknownState;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "running" => Ok(Self::Running),
            "paused" => Ok(Self::Paused),
            "hibernated" => Ok(Self::Hibernated),
            other => Err(UnknownState(other.to_string())),
        }
    }
}
