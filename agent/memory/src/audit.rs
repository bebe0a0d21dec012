use digios_api::Risk;
use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{Memory, MemoryError, enum_column, json_column, now_ms, stored_enum};

stored_enum! {
    /// What the safety policy (and, for confirm-tier actions, the user) decided.
    Decision {
        Allowed = "allowed",
        /// The user confirmed a confirm-tier action.
        Confirmed = "confirmed",
        Denied = "denied",
    }
}

stored_enum! {
    /// How an action ended.
    ActionOutcome {
        Succeeded = "succeeded",
        Failed = "failed",
        /// Denied, cancelled or stopped before it ran.
        NotRun = "not_run",
    }
}

/// An action about to be decided on, as the action engine reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAuditEntry {
    pub task_id: Option<i64>,
    pub step_index: Option<i64>,
    pub action: String,
    pub params: serde_json::Value,
    /// The action's risk tier; stored by its wire name.
    pub risk: Risk,
    pub decision: Decision,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditOutcome {
    pub outcome: ActionOutcome,
    pub detail: Option<String>,
    pub at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: i64,
    pub task_id: Option<i64>,
    pub step_index: Option<i64>,
    pub action: String,
    pub params: serde_json::Value,
    pub risk: Risk,
    pub decision: Decision,
    pub decided_at_ms: i64,
    /// `None` while the action runs, or forever if digiOS died during it.
    pub outcome: Option<AuditOutcome>,
}

const SELECT: &str = "SELECT a.id, a.task_id, a.step_index, a.action, a.params, a.risk, \
     a.decision, a.decided_at_ms, o.outcome, o.detail, o.at_ms \
     FROM audit a LEFT JOIN audit_outcomes o ON o.audit_id = a.id";

fn entry_from_row(row: &SqliteRow) -> Result<AuditEntry, MemoryError> {
    let outcome = match row.try_get::<Option<String>, _>("outcome")? {
        None => None,
        Some(_) => Some(AuditOutcome {
            outcome: enum_column(row, "outcome")?,
            detail: row.try_get("detail")?,
            at_ms: row.try_get("at_ms")?,
        }),
    };
    Ok(AuditEntry {
        id: row.try_get("id")?,
        task_id: row.try_get("task_id")?,
        step_index: row.try_get("step_index")?,
        action: row.try_get("action")?,
        params: json_column(row, "params")?.unwrap_or(serde_json::Value::Null),
        risk: enum_column(row, "risk")?,
        decision: enum_column(row, "decision")?,
        decided_at_ms: row.try_get("decided_at_ms")?,
        outcome,
    })
}

fn validate(entry: &NewAuditEntry) -> Result<(), MemoryError> {
    if entry.action.trim().is_empty() {
        return Err(MemoryError::invalid(
            "action",
            "an audit entry needs an action name",
        ));
    }
    Ok(())
}

async fn insert_decision<'c>(
    conn: impl sqlx::SqliteExecutor<'c>,
    entry: &NewAuditEntry,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO audit (task_id, step_index, action, params, risk, decision, decided_at_ms) \
         VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(entry.task_id)
    .bind(entry.step_index)
    .bind(&entry.action)
    .bind(entry.params.to_string())
    .bind(entry.risk.as_str())
    .bind(entry.decision.as_str())
    .bind(now_ms())
    .fetch_one(conn)
    .await
}

async fn insert_outcome<'c>(
    conn: impl sqlx::SqliteExecutor<'c>,
    audit_id: i64,
    outcome: ActionOutcome,
    detail: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO audit_outcomes (audit_id, outcome, detail, at_ms) VALUES (?, ?, ?, ?)")
        .bind(audit_id)
        .bind(outcome.as_str())
        .bind(detail)
        .bind(now_ms())
        .execute(conn)
        .await
        .map(|_| ())
}

impl Memory {
    /// Records a decision before the action runs; follow it with
    /// [`Memory::record_outcome`]. Audit rows can never be changed or removed.
    pub async fn record_decision(&self, entry: &NewAuditEntry) -> Result<AuditEntry, MemoryError> {
        validate(entry)?;
        let mut tx = self.begin_write().await?;
        let id = insert_decision(&mut *tx, entry)
            .await
            .map_err(|err| self.error(err))?;
        self.commit(tx).await?;
        self.get_audit(id).await
    }

    /// Records how a decided action ended. Each entry takes exactly one outcome.
    pub async fn record_outcome(
        &self,
        audit_id: i64,
        outcome: ActionOutcome,
        detail: Option<&str>,
    ) -> Result<AuditEntry, MemoryError> {
        let mut tx = self.begin_write().await?;
        insert_outcome(&mut *tx, audit_id, outcome, detail)
            .await
            .map_err(|err| match &err {
                sqlx::Error::Database(db) if db.message().contains("already has an outcome") => {
                    MemoryError::invalid(
                        "audit outcome",
                        format!("audit entry {audit_id} already has an outcome"),
                    )
                }
                _ => self.error_or_missing(err, "audit entry", audit_id),
            })?;
        self.commit(tx).await?;
        self.get_audit(audit_id).await
    }

    /// Records a decision and its outcome at once, for actions that never ran
    /// (denied) or finished before they could be recorded.
    pub async fn record_action(
        &self,
        entry: &NewAuditEntry,
        outcome: ActionOutcome,
        detail: Option<&str>,
    ) -> Result<AuditEntry, MemoryError> {
        validate(entry)?;
        let mut tx = self.begin_write().await?;
        let id = insert_decision(&mut *tx, entry)
            .await
            .map_err(|err| self.error(err))?;
        insert_outcome(&mut *tx, id, outcome, detail)
            .await
            .map_err(|err| self.error(err))?;
        self.commit(tx).await?;
        self.get_audit(id).await
    }

    pub async fn get_audit(&self, id: i64) -> Result<AuditEntry, MemoryError> {
        let row = sqlx::query(&format!("{SELECT} WHERE a.id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|err| self.error(err))?
            .ok_or(MemoryError::NotFound {
                kind: "audit entry",
                id,
            })?;
        entry_from_row(&row)
    }

    /// Audit entries, newest first; only one task's when `task_id` is given.
    pub async fn list_audit(
        &self,
        task_id: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, MemoryError> {
        sqlx::query(&format!(
            "{SELECT} WHERE ?1 IS NULL OR a.task_id = ?1 ORDER BY a.id DESC LIMIT ?2"
        ))
        .bind(task_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|err| self.error(err))?
        .iter()
        .map(entry_from_row)
        .collect()
    }
}
