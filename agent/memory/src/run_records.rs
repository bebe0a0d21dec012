//! Queries shared by the tables that record runs with a start, a `state` and
//! an id (`eval_runs`, `improve_cycles`); each caller maps its own rows.

use sqlx::sqlite::SqliteRow;

use super::{Memory, MemoryError, now_ms};

/// Rows still `running` when the agent starts can never finish: marks them
/// failed, with `note` in `note_column`. Returns how many it marked.
pub async fn fail_running(
    memory: &Memory,
    table: &str,
    note_column: &str,
    note: &str,
) -> Result<u64, MemoryError> {
    let done = sqlx::query(&format!(
        "UPDATE {table} SET state = 'failed', finished_at_ms = ?, {note_column} = ? \
         WHERE state = 'running'"
    ))
    .bind(now_ms())
    .bind(note)
    .execute(memory.pool())
    .await?;
    Ok(done.rows_affected())
}

pub async fn row_by_id(
    memory: &Memory,
    table: &str,
    columns: &str,
    id: i64,
) -> Result<Option<SqliteRow>, MemoryError> {
    Ok(
        sqlx::query(&format!("SELECT {columns} FROM {table} WHERE id = ?"))
            .bind(id)
            .fetch_optional(memory.pool())
            .await?,
    )
}

/// The newest `limit` rows first.
pub async fn newest_rows(
    memory: &Memory,
    table: &str,
    columns: &str,
    limit: u32,
) -> Result<Vec<SqliteRow>, MemoryError> {
    Ok(sqlx::query(&format!(
        "SELECT {columns} FROM {table} ORDER BY id DESC LIMIT ?"
    ))
    .bind(i64::from(limit))
    .fetch_all(memory.pool())
    .await?)
}
