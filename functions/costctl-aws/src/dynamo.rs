//! [`DynamoStore`]: the state store in one DynamoDB table, every write that matters
//! conditional (the lease, the generation fence, the lockout), the reduce-only function's
//! lowering requests in a partition of their own.

use crate::error::FromSdk;
use crate::report::Report;
use crate::store::{
    HistoryEntry, Lease, Lockout, LockoutRule, LoweringItem, LoweringRequest, NewRequest, Snooze,
    SnoozeRule, StackState, StateStore, StoreError, StoreResult,
};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue,
    ScalarAttributeType,
};
use costctl_core::savings::LedgerPoint;
use costctl_core::spec::EphemeralSpec;
use costctl_core::{DesiredState, Manifest};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// The DynamoDB store: one table, `pk` = `STACK#<name>`, `sk` = `STATE`, `HIST#<time>#<seq>`
/// (history) or `COST#<time>#<seq>` (the savings ledger).
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

const STATE: &str = "STATE";
/// The savings ledger's sort-key prefix: `COST#<time>#<unique>`.
const LEDGER: &str = "COST";
static SEQ: AtomicU64 = AtomicU64::new(0);

fn pk(stack: &str) -> AttributeValue {
    AttributeValue::S(format!("STACK#{stack}"))
}

/// A sort key `PREFIX#<time>#<nanos><seq>`: ordered by time, and distinct for two writes of the
/// same millisecond (from one process by the sequence, from two by the nanoseconds).
fn unique_sk(prefix: &str, at_ms: i64) -> String {
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}#{at_ms:015}#{nanos:09}{:06}", seq % 1_000_000)
}

/// The partition key of a stack's reduce-only partition; IAM scopes the reduce-only function's
/// writes to exactly this value (`infra/modules/costctl/iam.tf`).
pub fn reduce_pk(stack: &str) -> String {
    format!("REDUCE#{stack}")
}
fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}
fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
fn json<T: Serialize>(v: &T) -> AttributeValue {
    AttributeValue::S(serde_json::to_string(v).expect("state types serialise"))
}

/// The condition under which `:me` may take a stack's lease: nobody holds it, its holder's
/// grant ended before `:now`, or `:me` holds it already (a renewal).
const LEASE_FREE_OR_MINE: &str =
    "(attribute_not_exists(lease_owner) OR lease_expires < :now OR lease_owner = :me)";

impl DynamoStore {
    pub fn new(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::build(config, table, None)
    }

    /// As [`DynamoStore::new`], counting every request in `counter`.
    pub fn counted(
        config: &aws_config::SdkConfig,
        table: impl Into<String>,
        counter: &crate::requests::RequestCounter,
    ) -> Self {
        Self::build(config, table, Some(counter))
    }

    fn build(
        config: &aws_config::SdkConfig,
        table: impl Into<String>,
        counter: Option<&crate::requests::RequestCounter>,
    ) -> Self {
        Self {
            client: crate::aws::client!(aws_sdk_dynamodb, config, counter),
            table: table.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table if it does not exist (the command line's `init`). Returns true when it
    /// was created now.
    pub async fn create_table(&self) -> StoreResult<bool> {
        match self
            .client
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(_) => return Ok(false),
            Err(e) => {
                let e = self.err(e);
                if !matches!(e, StoreError::MissingTable { .. }) {
                    return Err(e);
                }
            }
        }
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .expect("name and type set")
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("name and type set")
        };
        self.client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .attribute_definitions(attr("pk"))
            .attribute_definitions(attr("sk"))
            .send()
            .await
            .map_err(|e| self.err(e))?;
        Ok(true)
    }

    /// The UpdateItem that records a request (its lockout and snooze rules as conditions),
    /// taking the lease too when `lease` gives its owner and expiry.
    async fn request_update(
        &self,
        stack: &str,
        req: &NewRequest,
        now_ms: i64,
        lease: Option<(&str, i64)>,
    ) -> Result<
        aws_sdk_dynamodb::operation::update_item::UpdateItemOutput,
        aws_sdk_dynamodb::error::SdkError<
            aws_sdk_dynamodb::operation::update_item::UpdateItemError,
        >,
    > {
        let mut update = String::from(
            "SET #d = :d, #tr = :t, #r = :r, #ra = :now, #sel = :sel, #pol = :pol ADD #g :one",
        );
        let mut cond: Vec<&str> = Vec::new();
        let mut remove: Vec<&str> = Vec::new();
        let mut values = HashMap::from([
            (":d".to_string(), s(req.desired.as_str())),
            (":t".to_string(), s(req.trigger.as_str())),
            (":r".to_string(), s(&req.reason)),
            (":now".to_string(), n(now_ms)),
            (":sel".to_string(), json(&req.selector)),
            (":pol".to_string(), json(&req.policy)),
            (":one".to_string(), n(1)),
        ]);
        match req.lockout_rule() {
            LockoutRule::Set(lock) => {
                update =
                    update.replacen("SET ", "SET lockout_until = :lu, lockout_reason = :lr, ", 1);
                values.insert(":lu".into(), n(lock.until_ms));
                values.insert(":lr".into(), s(&lock.reason));
            }
            LockoutRule::Clear => remove.extend(["lockout_until", "lockout_reason"]),
            // `Lockout::holds_at` as a condition: no lockout, or one that ended before now.
            LockoutRule::MustNotHold => {
                cond.push("(attribute_not_exists(lockout_until) OR lockout_until < :now)");
            }
            LockoutRule::Untouched => {}
        }
        match req.snooze_rule() {
            SnoozeRule::Set(snooze) => {
                update = update.replacen(
                    "SET ",
                    "SET snooze_until = :su, snooze_by = :sb, snooze_reason = :sr, snooze_set_at = :ss, ",
                    1,
                );
                values.insert(":su".into(), n(snooze.until_ms));
                values.insert(":sb".into(), s(&snooze.by));
                values.insert(":sr".into(), s(&snooze.reason));
                values.insert(":ss".into(), n(snooze.set_at_ms));
            }
            SnoozeRule::Clear => remove.extend([
                "snooze_until",
                "snooze_by",
                "snooze_reason",
                "snooze_set_at",
            ]),
            // `Snooze::holds_at` as a condition: no snooze, or one that ended at or before now,
            // which the request then removes (its expiry is recorded once, in the history).
            SnoozeRule::MustNotHold => {
                cond.push("(attribute_not_exists(snooze_until) OR snooze_until <= :now)");
                remove.extend([
                    "snooze_until",
                    "snooze_by",
                    "snooze_reason",
                    "snooze_set_at",
                ]);
            }
            SnoozeRule::Untouched => {}
        }
        if !remove.is_empty() {
            update.push_str(" REMOVE ");
            update.push_str(&remove.join(", "));
        }
        if let Some((owner, expires_at_ms)) = lease {
            update = update.replacen("SET ", "SET lease_owner = :me, lease_expires = :exp, ", 1);
            values.insert(":me".into(), s(owner));
            values.insert(":exp".into(), n(expires_at_ms));
            cond.push(LEASE_FREE_OR_MINE);
        }
        let cond = (!cond.is_empty()).then(|| cond.join(" AND "));
        self.update_state(stack)
            .update_expression(update)
            .set_condition_expression(cond)
            // Every name aliased: several are DynamoDB reserved words.
            .expression_attribute_names("#d", "desired")
            .expression_attribute_names("#tr", "trigger")
            .expression_attribute_names("#r", "reason")
            .expression_attribute_names("#ra", "requested_at")
            .expression_attribute_names("#sel", "selector")
            .expression_attribute_names("#pol", "policy")
            .expression_attribute_names("#g", "generation")
            .set_expression_attribute_values(Some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
    }

    /// An UpdateItem on the stack's `STATE` item (every state write is one).
    fn update_state(
        &self,
        stack: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", pk(stack))
            .key("sk", s(STATE))
    }

    /// Sends a finish (`update` sets the report and releases the lease under a condition on
    /// the owner). A failed condition is `Fenced`, unless an attempt whose answer was lost
    /// finished already.
    async fn finish_by(
        &self,
        update: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
        stack: &str,
        owner: &str,
        report: &Report,
    ) -> StoreResult<()> {
        let result = update
            .expression_attribute_values(":r", json(report))
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if Self::is_condition_failure(&e) => {
                // An attempt whose answer was lost may have finished already (the SDK retries
                // an attempt that timed out or whose connection broke): then the stored report
                // is this one and no lease is left, and that is success, not a lost lease.
                let current = self.load(stack).await?;
                let done = current.is_some_and(|c| {
                    c.lease.is_none()
                        && c.last_report.is_some_and(|r| {
                            r.finished_at_ms == report.finished_at_ms
                                && r.generation == report.generation
                        })
                });
                if done {
                    return Ok(());
                }
                Err(StoreError::Fenced {
                    stack: stack.into(),
                    owner: owner.into(),
                    generation: 0,
                })
            }
            Err(e) => Err(self.err(e)),
        }
    }

    fn err<E, R>(&self, e: aws_smithy_runtime_api::client::result::SdkError<E, R>) -> StoreError
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata
            + std::error::Error
            + Send
            + Sync
            + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        store_error(
            &self.table,
            crate::error::CloudError::from_sdk("dynamodb", self.table.clone(), e),
        )
    }

    fn is_condition_failure<E, R>(
        e: &aws_smithy_runtime_api::client::result::SdkError<E, R>,
    ) -> bool
    where
        E: aws_smithy_types::error::metadata::ProvideErrorMetadata,
    {
        e.as_service_error()
            .and_then(|se| se.code())
            .is_some_and(|c| c == "ConditionalCheckFailedException")
    }

    fn parse_state(stack: &str, item: &HashMap<String, AttributeValue>) -> StoreResult<StackState> {
        let get_s = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        let get_n = |k: &str| {
            item.get(k)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<i64>().ok())
        };
        fn parse<T: serde::de::DeserializeOwned>(
            stack: &str,
            field: &'static str,
            raw: Option<String>,
        ) -> StoreResult<Option<T>> {
            raw.map(|r| {
                serde_json::from_str(&r).map_err(|e| StoreError::Corrupt {
                    stack: stack.into(),
                    field,
                    message: e.to_string(),
                })
            })
            .transpose()
        }
        let desired = get_s("desired")
            .ok_or_else(|| StoreError::Corrupt {
                stack: stack.into(),
                field: "desired",
                message: "missing".into(),
            })?
            .parse::<DesiredState>()
            .map_err(|e| StoreError::Corrupt {
                stack: stack.into(),
                field: "desired",
                message: e.to_string(),
            })?;
        let lease = match (get_s("lease_owner"), get_n("lease_expires")) {
            (Some(owner), Some(expires_at_ms)) => Some(Lease {
                owner,
                expires_at_ms,
            }),
            _ => None,
        };
        let lockout = match (get_n("lockout_until"), get_s("lockout_reason")) {
            (Some(until_ms), reason) => Some(Lockout {
                until_ms,
                reason: reason.unwrap_or_default(),
            }),
            _ => None,
        };
        Ok(StackState {
            stack: stack.to_string(),
            desired,
            generation: get_n("generation").unwrap_or(0).max(0) as u64,
            trigger: get_s("trigger")
                .ok_or_else(|| "missing".to_string())
                .and_then(|t| t.parse())
                .map_err(|message| StoreError::Corrupt {
                    stack: stack.into(),
                    field: "trigger",
                    message,
                })?,
            reason: get_s("reason").unwrap_or_default(),
            requested_at_ms: get_n("requested_at").unwrap_or(0),
            selector: parse(stack, "selector", get_s("selector"))?.ok_or_else(|| {
                StoreError::Corrupt {
                    stack: stack.into(),
                    field: "selector",
                    message: "missing".into(),
                }
            })?,
            policy: parse(stack, "policy", get_s("policy"))?.unwrap_or_default(),
            manifest: parse(stack, "manifest", get_s("manifest"))?.unwrap_or_default(),
            lease,
            lockout,
            // Informational (what the last reconcile did): one an older version wrote in another
            // shape is dropped rather than making the stack unreadable.
            last_report: parse(stack, "last_report", get_s("last_report")).unwrap_or(None),
            spec: parse(stack, "spec", get_s("spec"))?,
            snooze: match (get_n("snooze_until"), get_n("snooze_set_at")) {
                (Some(until_ms), set_at) => Some(Snooze {
                    until_ms,
                    by: get_s("snooze_by").unwrap_or_default(),
                    reason: get_s("snooze_reason").unwrap_or_default(),
                    set_at_ms: set_at.unwrap_or(0),
                }),
                _ => None,
            },
        })
    }
}

#[async_trait]
impl StateStore for DynamoStore {
    async fn load(&self, stack: &str) -> StoreResult<Option<StackState>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", pk(stack))
            .key("sk", s(STATE))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.err(e))?;
        out.item()
            .map(|item| Self::parse_state(stack, item))
            .transpose()
    }

    async fn request(&self, stack: &str, req: &NewRequest, now_ms: i64) -> StoreResult<StackState> {
        let result = self.request_update(stack, req, now_ms, None).await;
        match result {
            Ok(out) => Self::parse_state(stack, out.attributes().unwrap_or(&HashMap::new())),
            Err(e) if Self::is_condition_failure(&e) => {
                let current = self.load(stack).await?;
                // Which condition failed: a snooze that holds, else the lockout.
                if let Some(snooze) = current.as_ref().and_then(|c| c.snooze_at(now_ms)) {
                    return Err(StoreError::Snoozed {
                        stack: stack.into(),
                        snooze: snooze.clone(),
                    });
                }
                let lock = current.and_then(|c| c.lockout).unwrap_or(Lockout {
                    until_ms: 0,
                    reason: String::new(),
                });
                Err(StoreError::LockedOut {
                    stack: stack.into(),
                    until_ms: lock.until_ms,
                    reason: lock.reason,
                })
            }
            Err(e) => Err(self.err(e)),
        }
    }

    /// One UpdateItem: the request, and the lease under the same condition as
    /// [`StateStore::lease`]'s. When a condition fails (the lease is another's, or a lockout
    /// or snooze refuses the request) the request alone is tried, which records it or names
    /// its refusal: the extra round trip is paid only then.
    async fn request_with_lease(
        &self,
        stack: &str,
        req: &NewRequest,
        now_ms: i64,
        owner: &str,
        ttl_ms: i64,
    ) -> StoreResult<(StackState, bool)> {
        let result = self
            .request_update(stack, req, now_ms, Some((owner, now_ms + ttl_ms)))
            .await;
        match result {
            Ok(out) => Ok((
                Self::parse_state(stack, out.attributes().unwrap_or(&HashMap::new()))?,
                true,
            )),
            Err(e) if Self::is_condition_failure(&e) => {
                let state = self.request(stack, req, now_ms).await?;
                let ours = state.lease.as_ref().is_some_and(|l| l.owner == owner);
                Ok((state, ours))
            }
            Err(e) => Err(self.err(e)),
        }
    }

    async fn set_snooze(&self, stack: &str, snooze: Option<&Snooze>) -> StoreResult<StackState> {
        let update = self
            .update_state(stack)
            .condition_expression("attribute_exists(pk)")
            .return_values(ReturnValue::AllOld);
        let update = match snooze {
            Some(z) => update
                .update_expression(
                    "SET snooze_until = :su, snooze_by = :sb, snooze_reason = :sr, snooze_set_at = :ss",
                )
                .expression_attribute_values(":su", n(z.until_ms))
                .expression_attribute_values(":sb", s(&z.by))
                .expression_attribute_values(":sr", s(&z.reason))
                .expression_attribute_values(":ss", n(z.set_at_ms)),
            None => update
                .update_expression("REMOVE snooze_until, snooze_by, snooze_reason, snooze_set_at"),
        };
        match update.send().await {
            Ok(out) => Self::parse_state(stack, out.attributes().unwrap_or(&HashMap::new())),
            Err(e) if Self::is_condition_failure(&e) => Err(StoreError::UnknownStack {
                stack: stack.into(),
            }),
            Err(e) => Err(self.err(e)),
        }
    }

    async fn lease(
        &self,
        stack: &str,
        owner: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> StoreResult<StackState> {
        let result = self
            .update_state(stack)
            .update_expression("SET lease_owner = :me, lease_expires = :exp")
            .condition_expression(format!("attribute_exists(pk) AND {LEASE_FREE_OR_MINE}"))
            .expression_attribute_values(":me", s(owner))
            .expression_attribute_values(":exp", n(now_ms + ttl_ms))
            .expression_attribute_values(":now", n(now_ms))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => Self::parse_state(stack, out.attributes().unwrap_or(&HashMap::new())),
            Err(e) if Self::is_condition_failure(&e) => match self.load(stack).await? {
                None => Err(StoreError::UnknownStack {
                    stack: stack.into(),
                }),
                Some(state) => {
                    let lease = state.lease.unwrap_or(Lease {
                        owner: "?".into(),
                        expires_at_ms: 0,
                    });
                    Err(StoreError::LeaseHeld {
                        stack: stack.into(),
                        owner: lease.owner,
                        expires_at_ms: lease.expires_at_ms,
                    })
                }
            },
            Err(e) => Err(self.err(e)),
        }
    }

    async fn release(&self, stack: &str, owner: &str) -> StoreResult<()> {
        let result = self
            .update_state(stack)
            .update_expression("REMOVE lease_owner, lease_expires")
            .condition_expression("lease_owner = :me")
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Someone else took over after our lease expired: nothing of ours to release.
            Err(e) if Self::is_condition_failure(&e) => Ok(()),
            Err(e) => Err(self.err(e)),
        }
    }

    async fn save_manifest(
        &self,
        stack: &str,
        owner: &str,
        generation: u64,
        manifest: &Manifest,
    ) -> StoreResult<()> {
        let result = self
            .update_state(stack)
            .update_expression("SET manifest = :m")
            .condition_expression("lease_owner = :me AND #g = :g")
            .expression_attribute_names("#g", "generation")
            .expression_attribute_values(":m", json(manifest))
            .expression_attribute_values(":me", s(owner))
            .expression_attribute_values(":g", n(generation))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if Self::is_condition_failure(&e) => Err(StoreError::Fenced {
                stack: stack.into(),
                owner: owner.into(),
                generation,
            }),
            Err(e) => Err(self.err(e)),
        }
    }

    async fn finish(&self, stack: &str, owner: &str, report: &Report) -> StoreResult<()> {
        let update = self
            .update_state(stack)
            .update_expression("SET last_report = :r REMOVE lease_owner, lease_expires")
            .condition_expression("lease_owner = :me");
        self.finish_by(update, stack, owner, report).await
    }

    async fn finish_current(
        &self,
        stack: &str,
        owner: &str,
        generation: u64,
        manifest: Option<&Manifest>,
        report: &Report,
    ) -> StoreResult<()> {
        let set = match manifest {
            Some(_) => "SET last_report = :r, manifest = :m REMOVE lease_owner, lease_expires",
            None => "SET last_report = :r REMOVE lease_owner, lease_expires",
        };
        let mut update = self
            .update_state(stack)
            .update_expression(set)
            .condition_expression("lease_owner = :me AND #g = :g")
            .expression_attribute_names("#g", "generation")
            .expression_attribute_values(":g", n(generation));
        if let Some(m) = manifest {
            update = update.expression_attribute_values(":m", json(m));
        }
        self.finish_by(update, stack, owner, report).await
    }

    async fn append_history(&self, stack: &str, entry: &HistoryEntry) -> StoreResult<()> {
        let sk = unique_sk("HIST", entry.at_ms);
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", pk(stack))
            .item("sk", s(sk))
            .item("entry", json(entry))
            .send()
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn history(&self, stack: &str, limit: usize) -> StoreResult<Vec<HistoryEntry>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :h)")
            .expression_attribute_values(":pk", pk(stack))
            .expression_attribute_values(":h", s("HIST#"))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| self.err(e))?;
        out.items()
            .iter()
            .map(|item| {
                let raw = item
                    .get("entry")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                serde_json::from_str(&raw).map_err(|e| StoreError::Corrupt {
                    stack: stack.into(),
                    field: "history",
                    message: e.to_string(),
                })
            })
            .collect()
    }

    async fn append_ledger(&self, stack: &str, point: &LedgerPoint) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", pk(stack))
            .item("sk", s(unique_sk(LEDGER, point.at_ms)))
            .item("point", json(point))
            .send()
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn ledger(&self, stack: &str, from_ms: i64, to_ms: i64) -> StoreResult<Vec<LedgerPoint>> {
        // The rate in force at `from_ms`: the newest point before it.
        let before = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", pk(stack))
            .expression_attribute_values(":lo", s(format!("{LEDGER}#")))
            .expression_attribute_values(":hi", s(format!("{LEDGER}#{from_ms:015}")))
            .scan_index_forward(false)
            .limit(1)
            .send()
            .await
            .map_err(|e| self.err(e))?;
        let mut items: Vec<_> = before.items().to_vec();
        // Then every point of the period, page by page (a month of a busy stack is a few
        // hundred small items).
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
            .expression_attribute_values(":pk", pk(stack))
            .expression_attribute_values(":lo", s(format!("{LEDGER}#{from_ms:015}")))
            .expression_attribute_values(":hi", s(format!("{LEDGER}#{:015}", to_ms.max(from_ms))))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            items.extend(page.map_err(|e| self.err(e))?.items().iter().cloned());
        }
        items
            .iter()
            .map(|item| {
                let raw = item.get("point").and_then(|v| v.as_s().ok());
                serde_json::from_str(raw.map_or("", String::as_str)).map_err(|e| {
                    StoreError::Corrupt {
                        stack: stack.into(),
                        field: "ledger",
                        message: e.to_string(),
                    }
                })
            })
            .collect()
    }

    async fn set_spec(&self, stack: &str, spec: Option<&EphemeralSpec>) -> StoreResult<()> {
        let mut req = self
            .update_state(stack)
            .condition_expression("attribute_exists(pk)");
        req = match spec {
            Some(spec) => req
                .update_expression("SET spec = :s")
                .expression_attribute_values(":s", json(spec)),
            None => req.update_expression("REMOVE spec"),
        };
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) if Self::is_condition_failure(&e) => Err(StoreError::UnknownStack {
                stack: stack.into(),
            }),
            Err(e) => Err(self.err(e)),
        }
    }

    async fn put_lowering(&self, stack: &str, req: &LoweringRequest) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(reduce_pk(stack)))
            .item("sk", s(unique_sk("REQ", req.at_ms)))
            .item("request", json(req))
            .send()
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn lowering(&self, stack: &str) -> StoreResult<Vec<LoweringItem>> {
        let items: Vec<HashMap<String, AttributeValue>> = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(reduce_pk(stack)))
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))?;
        Ok(items
            .iter()
            .map(|item| {
                let sk = item
                    .get("sk")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default();
                let parsed = item
                    .get("request")
                    .and_then(|v| v.as_s().ok())
                    .ok_or_else(|| "no `request` attribute".to_string())
                    .and_then(|raw| {
                        serde_json::from_str::<LoweringRequest>(raw).map_err(|e| e.to_string())
                    });
                (sk, parsed)
            })
            .collect())
    }

    async fn drop_lowering(&self, stack: &str, sk: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(reduce_pk(stack)))
            .key("sk", s(sk))
            .send()
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn stacks(&self) -> StoreResult<Vec<String>> {
        let items: Vec<HashMap<String, AttributeValue>> = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("sk = :s")
            .expression_attribute_values(":s", s(STATE))
            .projection_expression("pk")
            .into_paginator()
            .items()
            .send()
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))?;
        let mut stacks: Vec<String> = items
            .iter()
            .filter_map(|i| i.get("pk").and_then(|v| v.as_s().ok()))
            .filter_map(|p| p.strip_prefix("STACK#").map(str::to_string))
            .collect();
        stacks.sort();
        Ok(stacks)
    }
}

/// Error codes by which AWS refuses the caller rather than the request: a missing grant, bad or
/// expired credentials. Permanent — a person must fix the role or the credentials.
const DENIED: &[&str] = &[
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredToken",
    "ExpiredTokenException",
    "InvalidClientTokenId",
    "MissingAuthenticationToken",
];

/// A DynamoDB error as a [`StoreError`]: a missing table, a denied caller, a temporary failure
/// or another refusal, each with AWS's code and message.
pub fn store_error(table: &str, err: crate::error::CloudError) -> StoreError {
    use crate::error::CloudError;
    let code = err.code().unwrap_or("Client").to_string();
    let message = match &err {
        CloudError::NotFound { message, .. }
        | CloudError::Transient { message, .. }
        | CloudError::Rejected { message, .. }
        | CloudError::Refused { message, .. } => message.clone(),
    };
    if code == "ResourceNotFoundException" {
        StoreError::MissingTable {
            table: table.to_string(),
        }
    } else if DENIED.contains(&code.as_str()) {
        StoreError::Denied { code, message }
    } else if err.is_transient() {
        StoreError::Transient { code, message }
    } else {
        StoreError::Rejected { code, message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::CloudError;

    fn rejected(code: &str) -> CloudError {
        CloudError::Rejected {
            operation: "dynamodb",
            resource: "costctl-state".into(),
            code: code.into(),
            message: "m".into(),
        }
    }

    #[test]
    fn a_denied_table_is_a_permanent_error_with_the_aws_message() {
        let e = store_error("costctl-state", rejected("AccessDeniedException"));
        assert!(matches!(e, StoreError::Denied { .. }), "{e:?}");
        assert!(!e.is_transient());
        assert_eq!(
            e.to_string(),
            "state store: access denied (AccessDeniedException): m"
        );
    }

    #[test]
    fn throttling_is_transient_and_a_missing_table_names_the_table() {
        let throttled = CloudError::Transient {
            operation: "dynamodb",
            resource: "t".into(),
            code: "ProvisionedThroughputExceededException".into(),
            message: "slow down".into(),
        };
        assert!(store_error("t", throttled).is_transient());
        let missing = CloudError::NotFound {
            operation: "dynamodb",
            resource: "t".into(),
            code: "ResourceNotFoundException".into(),
            message: "no table".into(),
        };
        assert_eq!(
            store_error("t", missing),
            StoreError::MissingTable { table: "t".into() }
        );
        let invalid = store_error("t", rejected("ValidationException"));
        assert!(matches!(invalid, StoreError::Rejected { .. }) && !invalid.is_transient());
    }
}
