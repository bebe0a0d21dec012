use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{Memory, MemoryError, enum_column, now_ms, stored_enum};

stored_enum! {
    /// A fact is about the world ("home city = Lyon"); a preference is how
    /// the user wants digiOS to behave ("terminal = foot").
    FactKind {
        Fact = "fact",
        Preference = "preference",
    }
}

stored_enum! {
    /// Who put a fact into memory.
    FactSource {
        /// The user stated it directly (settings, "remember that ...").
        User = "user",
        /// The agent inferred it from a conversation or a task.
        Agent = "agent",
        /// Brought in from outside (an import, a configuration file).
        Import = "import",
    }
}

/// Where a fact came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    pub source: FactSource,
    pub message_id: Option<i64>,
    pub task_id: Option<i64>,
}

impl Provenance {
    pub fn user() -> Self {
        Self {
            source: FactSource::User,
            message_id: None,
            task_id: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    pub id: i64,
    pub kind: FactKind,
    pub key: String,
    pub value: String,
    pub provenance: Provenance,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

const COLUMNS: &str = "id, kind, key, value, source, source_message_id, source_task_id, \
     created_at_ms, updated_at_ms";

fn fact_from_row(row: &SqliteRow) -> Result<Fact, MemoryError> {
    Ok(Fact {
        id: row.try_get("id")?,
        kind: enum_column(row, "kind")?,
        key: row.try_get("key")?,
        value: row.try_get("value")?,
        provenance: Provenance {
            source: enum_column(row, "source")?,
            message_id: row.try_get("source_message_id")?,
            task_id: row.try_get("source_task_id")?,
        },
        created_at_ms: row.try_get("created_at_ms")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
    })
}

impl Memory {
    /// Sets `key` of `kind` to `value`, replacing any earlier value and its provenance.
    pub async fn set_fact(
        &self,
        kind: FactKind,
        key: &str,
        value: &str,
        provenance: &Provenance,
    ) -> Result<Fact, MemoryError> {
        if key.trim().is_empty() {
            return Err(MemoryError::invalid("key", "a fact needs a key"));
        }
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO facts (kind, key, value, source, source_message_id, source_task_id, \
             created_at_ms, updated_at_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) \
             ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value, \
             source = excluded.source, source_message_id = excluded.source_message_id, \
             source_task_id = excluded.source_task_id, updated_at_ms = excluded.updated_at_ms \
             RETURNING {COLUMNS}"
        ))
        .bind(kind.as_str())
        .bind(key)
        .bind(value)
        .bind(provenance.source.as_str())
        .bind(provenance.message_id)
        .bind(provenance.task_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|err| match err {
            err if super::error::is_foreign_key_violation(&err) => MemoryError::invalid(
                "provenance",
                format!(
                    "message {:?} or task {:?} does not exist",
                    provenance.message_id, provenance.task_id
                ),
            ),
            err => self.error(err),
        })?;
        self.commit(tx).await?;
        fact_from_row(&row)
    }

    pub async fn get_fact(&self, kind: FactKind, key: &str) -> Result<Option<Fact>, MemoryError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM facts WHERE kind = ? AND key = ?"
        ))
        .bind(kind.as_str())
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(|err| self.error(err))?
        .as_ref()
        .map(fact_from_row)
        .transpose()
    }

    /// Every fact of `kind`, by key.
    pub async fn list_facts(&self, kind: FactKind) -> Result<Vec<Fact>, MemoryError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM facts WHERE kind = ? ORDER BY key"
        ))
        .bind(kind.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(|err| self.error(err))?
        .iter()
        .map(fact_from_row)
        .collect()
    }

    /// Removes a fact at the user's request; `false` if there was none.
    pub async fn forget_fact(&self, kind: FactKind, key: &str) -> Result<bool, MemoryError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("DELETE FROM facts WHERE kind = ? AND key = ?")
            .bind(kind.as_str())
            .bind(key)
            .execute(&mut *tx)
            .await
            .map_err(|err| self.error(err))?;
        self.commit(tx).await?;
        Ok(done.rows_affected() > 0)
    }
}
