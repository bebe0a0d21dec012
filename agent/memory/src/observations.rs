use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{Memory, MemoryError, now_ms};

/// Something digiOS saw: a window list, the focused window, a screenshot summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observation {
    pub id: i64,
    pub task_id: Option<i64>,
    /// What produced it, e.g. `windows`, `focus`, `screenshot`.
    pub source: String,
    pub content: String,
    pub created_at_ms: i64,
}

const COLUMNS: &str = "id, task_id, source, content, created_at_ms";

fn observation_from_row(row: &SqliteRow) -> Result<Observation, MemoryError> {
    Ok(Observation {
        id: row.try_get("id")?,
        task_id: row.try_get("task_id")?,
        source: row.try_get("source")?,
        content: row.try_get("content")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

impl Memory {
    pub async fn record_observation(
        &self,
        task_id: Option<i64>,
        source: &str,
        content: &str,
    ) -> Result<Observation, MemoryError> {
        if source.trim().is_empty() {
            return Err(MemoryError::invalid(
                "source",
                "an observation needs a source",
            ));
        }
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO observations (task_id, source, content, created_at_ms) \
             VALUES (?, ?, ?, ?) RETURNING {COLUMNS}"
        ))
        .bind(task_id)
        .bind(source)
        .bind(content)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await
        .map_err(|err| self.error_or_missing(err, "task", task_id.unwrap_or(0)))?;
        self.commit(tx).await?;
        observation_from_row(&row)
    }

    pub async fn get_observation(&self, id: i64) -> Result<Observation, MemoryError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM observations WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|err| self.error(err))?
            .ok_or(MemoryError::NotFound {
                kind: "observation",
                id,
            })?;
        observation_from_row(&row)
    }

    /// A task's observations in order.
    pub async fn list_observations(&self, task_id: i64) -> Result<Vec<Observation>, MemoryError> {
        self.get_task(task_id).await?;
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM observations WHERE task_id = ? ORDER BY id"
        ))
        .bind(task_id)
        .fetch_all(&self.pool)
        .await
        .map_err(|err| self.error(err))?
        .iter()
        .map(observation_from_row)
        .collect()
    }
}
