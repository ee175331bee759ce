//! The state store: per stack, the desired state with who/why/when, a generation number, a
//! lease, the manifest and a history of transitions.
//!
//! Every write that matters is conditional. The lease gives mutual exclusion between
//! invocations; the generation fences writes so that an invocation planning for an older request
//! cannot record a manifest for it after a newer request arrived. The trait and its values are
//! here; the DynamoDB implementation is [`crate::dynamo`].

use crate::report::Report;
use async_trait::async_trait;
use costctl_core::event::Trigger;
use costctl_core::plan::Policy;
use costctl_core::savings::LedgerPoint;
use costctl_core::spec::EphemeralSpec;
use costctl_core::{DesiredState, Manifest, Selector};
use serde::{Deserialize, Serialize};

/// Who holds a stack, until when (unix milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub owner: String,
    pub expires_at_ms: i64,
}

/// A budget lockout: resumes are refused until `until_ms` unless forced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lockout {
    pub until_ms: i64,
    pub reason: String,
}

impl Lockout {
    /// Whether the lockout still refuses resumes at `now_ms` (its last refusing instant is
    /// `until_ms` itself).
    pub fn holds_at(&self, now_ms: i64) -> bool {
        self.until_ms >= now_ms
    }
}

/// What recording a request does to the stack's lockout: the one statement of the lockout rule.
/// Every store carries it out atomically with the request (DynamoDB as an update and condition
/// expression, the simulation's store in memory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockoutRule {
    /// A budget alert sets (or replaces) the lockout.
    Set(Lockout),
    /// A forced resume clears it.
    Clear,
    /// Any other resume is refused while a lockout holds ([`Lockout::holds_at`]).
    MustNotHold,
    /// Pauses and hibernations neither need nor touch it.
    Untouched,
}

impl NewRequest {
    pub fn lockout_rule(&self) -> LockoutRule {
        match (&self.lockout, self.desired, self.force) {
            (Some(lock), _, _) => LockoutRule::Set(lock.clone()),
            (None, DesiredState::Running, true) => LockoutRule::Clear,
            (None, DesiredState::Running, false) => LockoutRule::MustNotHold,
            (None, _, _) => LockoutRule::Untouched,
        }
    }
}

/// A person's hold on a stack's scheduled transitions: until `until_ms` (unix ms), scheduled
/// requests are refused by the store itself (a conditional write), whoever sends them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snooze {
    pub until_ms: i64,
    pub by: String,
    pub reason: String,
    pub set_at_ms: i64,
}

impl Snooze {
    /// Whether the snooze still holds at `now_ms`: it ends at `until_ms`, so a schedule firing
    /// at exactly that instant acts.
    pub fn holds_at(&self, now_ms: i64) -> bool {
        self.until_ms > now_ms
    }
}

/// What recording a request does to the stack's snooze, carried out atomically with it like
/// [`LockoutRule`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnoozeRule {
    /// `resume --until`: set it with the request.
    Set(Snooze),
    /// A budget alert overrides (and ends) it.
    Clear,
    /// A scheduled request is refused while it holds ([`Snooze::holds_at`]); one that has
    /// expired is removed with the request.
    MustNotHold,
    /// Manual, command-line and Terraform requests act and leave it in place.
    Untouched,
}

impl NewRequest {
    pub fn snooze_rule(&self) -> SnoozeRule {
        match (&self.snooze, self.trigger) {
            (Some(s), _) => SnoozeRule::Set(s.clone()),
            (None, Trigger::Schedule) => SnoozeRule::MustNotHold,
            (None, Trigger::Budget) if self.budget_overrides_snooze => SnoozeRule::Clear,
            (None, Trigger::Budget) => SnoozeRule::MustNotHold,
            (None, _) => SnoozeRule::Untouched,
        }
    }
}

/// Everything the store keeps about one stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackState {
    pub stack: String,
    pub desired: DesiredState,
    pub generation: u64,
    pub trigger: Trigger,
    pub reason: String,
    pub requested_at_ms: i64,
    pub selector: Selector,
    pub policy: Policy,
    pub manifest: Manifest,
    pub lease: Option<Lease>,
    pub lockout: Option<Lockout>,
    /// The last reconcile's report, as stored ([`Report::for_storage`]).
    pub last_report: Option<Report>,
    /// The desired ephemeral tier given by `apply-spec` (Terraform); items written before it
    /// existed have none.
    #[serde(default)]
    pub spec: Option<EphemeralSpec>,
    /// A hold on scheduled transitions (it may have expired: see [`Snooze::holds_at`]).
    #[serde(default)]
    pub snooze: Option<Snooze>,
}

impl StackState {
    /// A stack with nothing recorded yet: running, generation 0, the given selector and policy.
    pub fn new(stack: &str, trigger: Trigger, selector: Selector, policy: Policy) -> Self {
        StackState {
            stack: stack.into(),
            desired: DesiredState::Running,
            generation: 0,
            trigger,
            reason: String::new(),
            requested_at_ms: 0,
            selector,
            policy,
            manifest: Manifest::default(),
            lease: None,
            lockout: None,
            last_report: None,
            spec: None,
            snooze: None,
        }
    }

    /// The snooze that holds at `now_ms`, if one does.
    pub fn snooze_at(&self, now_ms: i64) -> Option<&Snooze> {
        self.snooze.as_ref().filter(|s| s.holds_at(now_ms))
    }
}

/// A request for a desired state.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRequest {
    pub desired: DesiredState,
    pub trigger: Trigger,
    pub reason: String,
    pub selector: Selector,
    pub policy: Policy,
    /// A resume that overrides a budget lockout (and clears it).
    pub force: bool,
    /// Set a lockout with this request (budget alerts).
    pub lockout: Option<Lockout>,
    /// Set a snooze with this request (`resume --until`, a manual resume at night).
    pub snooze: Option<Snooze>,
    /// A budget request ends a snooze rather than being held by it (the stack's policy).
    pub budget_overrides_snooze: bool,
}

/// A request the reduce-only function writes into its own partition of the table (`pk` =
/// `REDUCE#<stack>`), the only place its IAM policy lets it write (`dynamodb:LeadingKeys`). The
/// full function reads these on its tick and applies them only as lowering requests, so nothing
/// the reduce-only principal can write — even by hand — raises cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoweringRequest {
    pub desired: DesiredState,
    /// `budget` or `rds-event`.
    pub trigger: Trigger,
    pub reason: String,
    pub at_ms: i64,
    /// A budget lockout to set with it (resumes refused until then unless forced).
    #[serde(default)]
    pub lockout: Option<Lockout>,
}

/// One item of the reduce-only partition, as read: its sort key (to drop it once handled) and
/// the request, or why it is not one (an item written by hand).
pub type LoweringItem = (String, Result<LoweringRequest, String>);

/// One line of a stack's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub at_ms: i64,
    pub generation: u64,
    /// `request` or `reconcile`.
    pub kind: String,
    pub desired: DesiredState,
    pub trigger: Trigger,
    pub detail: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    #[error(
        "state table `{table}` does not exist: create it with `costctl init` or deploy the costctl Terraform module"
    )]
    MissingTable { table: String },
    #[error(
        "stack `{stack}` is not in the state store: pause or resume it once with a selector (--tag KEY=VALUE or a config file)"
    )]
    UnknownStack { stack: String },
    #[error(
        "stack `{stack}` is being reconciled by {owner} until {expires_at_ms} (unix ms); try again later"
    )]
    LeaseHeld {
        stack: String,
        owner: String,
        expires_at_ms: i64,
    },
    #[error(
        "stack `{stack}`: the lease of {owner} was lost or a newer request (generation > {generation}) arrived"
    )]
    Fenced {
        stack: String,
        owner: String,
        generation: u64,
    },
    #[error(
        "stack `{stack}` is locked out until {until_ms} (unix ms): {reason}; resume with force to override"
    )]
    LockedOut {
        stack: String,
        until_ms: i64,
        reason: String,
    },
    #[error(
        "stack `{stack}` is snoozed until {} (unix ms) by {} ({}): scheduled transitions are held",
        .snooze.until_ms, .snooze.by, .snooze.reason
    )]
    Snoozed { stack: String, snooze: Snooze },
    /// The store refused our credentials or role (AccessDenied, an expired token…): permanent,
    /// a person must fix the grant; retrying only hides it.
    #[error("state store: access denied ({code}): {message}")]
    Denied { code: String, message: String },
    /// Throttled, timed out, unreachable: worth another try.
    #[error("state store: temporary failure ({code}): {message}")]
    Transient { code: String, message: String },
    /// Any other refusal of the store (a validation error, a bad key): permanent.
    #[error("state store: {code}: {message}")]
    Rejected { code: String, message: String },
    /// This store does not keep what was asked of it (an optional capability of the trait).
    #[error("stack `{stack}`: this state store cannot keep {what}")]
    Unsupported { stack: String, what: &'static str },
    #[error("state store: stack `{stack}` holds an unreadable {field}: {message}")]
    Corrupt {
        stack: String,
        field: &'static str,
        message: String,
    },
}

impl StoreError {
    /// Throttling and network trouble, or another invocation holding the stack: worth another
    /// try. Everything else (a denied grant, a missing table, a lockout) is permanent.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Transient { .. } | StoreError::LeaseHeld { .. }
        )
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

#[async_trait]
pub trait StateStore: Send + Sync {
    async fn load(&self, stack: &str) -> StoreResult<Option<StackState>>;
    /// Records a request and bumps the generation; refuses a resume under lockout unless forced.
    async fn request(&self, stack: &str, req: &NewRequest, now_ms: i64) -> StoreResult<StackState>;
    /// Acquires or renews the lease and returns the latest state in the same call.
    async fn lease(
        &self,
        stack: &str,
        owner: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> StoreResult<StackState>;
    /// Records a request and takes (or renews) the lease for `owner`, in one write where the
    /// store can: a request its own invocation carries out at once then costs one round trip,
    /// not two. Returns the state and whether the lease is now `owner`'s; a lease another
    /// invocation holds is left to it, and the request is recorded all the same (that holder
    /// reads it at its next renewal). The request's own refusals (lockout, snooze) are as
    /// [`StateStore::request`]'s.
    async fn request_with_lease(
        &self,
        stack: &str,
        req: &NewRequest,
        now_ms: i64,
        owner: &str,
        ttl_ms: i64,
    ) -> StoreResult<(StackState, bool)> {
        let state = self.request(stack, req, now_ms).await?;
        match self.lease(stack, owner, now_ms, ttl_ms).await {
            Ok(leased) => Ok((leased, true)),
            Err(StoreError::LeaseHeld { .. }) => Ok((state, false)),
            Err(e) => Err(e),
        }
    }
    async fn release(&self, stack: &str, owner: &str) -> StoreResult<()>;
    /// Writes the manifest, only while `owner` holds the lease and `generation` is current.
    async fn save_manifest(
        &self,
        stack: &str,
        owner: &str,
        generation: u64,
        manifest: &Manifest,
    ) -> StoreResult<()>;
    /// Stores the report of a reconcile and releases the lease, in one write.
    async fn finish(&self, stack: &str, owner: &str, report: &Report) -> StoreResult<()>;
    /// `finish`, only while `generation` is the current request, together with the manifest
    /// of a converged pass if it changed (a resume forgets its records once the stack is
    /// back), in one conditional write: `Fenced` and nothing written when a newer request
    /// arrived or the lease is not `owner`'s.
    async fn finish_current(
        &self,
        stack: &str,
        owner: &str,
        generation: u64,
        manifest: Option<&Manifest>,
        report: &Report,
    ) -> StoreResult<()>;
    async fn append_history(&self, stack: &str, entry: &HistoryEntry) -> StoreResult<()>;
    /// Newest first.
    async fn history(&self, stack: &str, limit: usize) -> StoreResult<Vec<HistoryEntry>>;
    /// Every stack the store knows.
    async fn stacks(&self) -> StoreResult<Vec<String>>;
    /// Stores (or with `None` forgets) the stack's desired ephemeral-tier spec. The stack must
    /// exist. Not fenced: the spec is an input like a request, not progress of a reconcile.
    async fn set_spec(&self, stack: &str, spec: Option<&EphemeralSpec>) -> StoreResult<()> {
        let _ = spec;
        Err(StoreError::Unsupported {
            stack: stack.to_string(),
            what: "an ephemeral-tier spec",
        })
    }
    /// Sets (or with `None` ends) the stack's snooze; the stack must exist. Returns the state as
    /// it was before (its `snooze` is what was replaced).
    async fn set_snooze(&self, stack: &str, snooze: Option<&Snooze>) -> StoreResult<StackState> {
        let _ = snooze;
        Err(StoreError::Unsupported {
            stack: stack.to_string(),
            what: "a snooze",
        })
    }
    /// Appends a point to the stack's savings ledger ([`LedgerPoint`]).
    async fn append_ledger(&self, stack: &str, point: &LedgerPoint) -> StoreResult<()> {
        let _ = point;
        Err(StoreError::Unsupported {
            stack: stack.to_string(),
            what: "a savings ledger",
        })
    }
    /// The ledger's points in `[from_ms, to_ms)`, oldest first, preceded by the last point
    /// before `from_ms` if there is one (the rate in force when the period begins).
    async fn ledger(&self, stack: &str, from_ms: i64, to_ms: i64) -> StoreResult<Vec<LedgerPoint>> {
        let _ = (from_ms, to_ms);
        Err(StoreError::Unsupported {
            stack: stack.to_string(),
            what: "a savings ledger",
        })
    }
    /// Writes a request into the reduce-only partition (the reduce-only function's one write).
    async fn put_lowering(&self, stack: &str, req: &LoweringRequest) -> StoreResult<()> {
        let _ = req;
        Err(StoreError::Unsupported {
            stack: stack.to_string(),
            what: "a reduce-only partition",
        })
    }
    /// The items of the reduce-only partition, oldest first.
    async fn lowering(&self, stack: &str) -> StoreResult<Vec<LoweringItem>> {
        let _ = stack;
        Ok(Vec::new())
    }
    /// Deletes one item of the reduce-only partition once the full function handled it.
    async fn drop_lowering(&self, stack: &str, sk: &str) -> StoreResult<()> {
        let _ = (stack, sk);
        Ok(())
    }
}
