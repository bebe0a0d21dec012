//! Improvement cycles in the memory database (`improve_cycles`).

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{Cycle, CycleState};
use crate::memory::{Memory, MemoryError, now_ms};

fn db(err: sqlx::Error) -> MemoryError {
    MemoryError::Database(err)
}

fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}

pub async fn start(memory: &Memory, trigger: &str, model: &str) -> Result<Cycle, MemoryError> {
    let started = now_ms();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO improve_cycles (started_at_ms, state, trigger, model, targets, attempts) \
         VALUES (?, 'running', ?, ?, '[]', '[]') RETURNING id",
    )
    .bind(started)
    .bind(trigger)
    .bind(model)
    .fetch_one(memory.pool())
    .await
    .map_err(db)?;
    Ok(Cycle {
        id,
        started_at_ms: started,
        finished_at_ms: None,
        state: CycleState::Running,
        trigger: trigger.into(),
        model: model.into(),
        targets: Vec::new(),
        skill_name: None,
        skill_version: None,
        baseline_run_id: None,
        candidate_run_id: None,
        score_before: None,
        score_after: None,
        reason: None,
        attempts: Vec::new(),
        test_report: None,
    })
}

/// Writes the cycle as it stands (called after every stage).
pub async fn save(memory: &Memory, cycle: &Cycle) -> Result<(), MemoryError> {
    sqlx::query(
        "UPDATE improve_cycles SET finished_at_ms = ?, state = ?, targets = ?, skill_name = ?, \
         skill_version = ?, baseline_run_id = ?, candidate_run_id = ?, score_before = ?, \
         score_after = ?, reason = ?, attempts = ?, test_report = ? WHERE id = ?",
    )
    .bind(cycle.finished_at_ms)
    .bind(cycle.state.as_str())
    .bind(json(&cycle.targets))
    .bind(&cycle.skill_name)
    .bind(cycle.skill_version)
    .bind(cycle.baseline_run_id)
    .bind(cycle.candidate_run_id)
    .bind(cycle.score_before)
    .bind(cycle.score_after)
    .bind(&cycle.reason)
    .bind(json(&cycle.attempts))
    .bind(cycle.test_report.as_ref().map(json))
    .bind(cycle.id)
    .execute(memory.pool())
    .await
    .map_err(db)?;
    Ok(())
}

/// Cycles an agent stopped in the middle of can never finish: mark them failed.
pub async fn mark_interrupted(memory: &Memory) -> Result<u64, MemoryError> {
    let done = sqlx::query(
        "UPDATE improve_cycles SET state = 'failed', finished_at_ms = ?, \
         reason = 'the agent stopped during the cycle' WHERE state = 'running'",
    )
    .bind(now_ms())
    .execute(memory.pool())
    .await
    .map_err(db)?;
    Ok(done.rows_affected())
}

const COLUMNS: &str = "id, started_at_ms, finished_at_ms, state, trigger, model, targets, \
     skill_name, skill_version, baseline_run_id, candidate_run_id, score_before, score_after, \
     reason, attempts, test_report";

fn from_row(row: &SqliteRow) -> Result<Cycle, MemoryError> {
    let state: String = row.try_get("state").map_err(db)?;
    let targets: String = row.try_get("targets").map_err(db)?;
    let attempts: String = row.try_get("attempts").map_err(db)?;
    let report: Option<String> = row.try_get("test_report").map_err(db)?;
    Ok(Cycle {
        id: row.try_get("id").map_err(db)?,
        started_at_ms: row.try_get("started_at_ms").map_err(db)?,
        finished_at_ms: row.try_get("finished_at_ms").map_err(db)?,
        state: CycleState::parse(&state),
        trigger: row.try_get("trigger").map_err(db)?,
        model: row.try_get("model").map_err(db)?,
        targets: serde_json::from_str(&targets).unwrap_or_default(),
        skill_name: row.try_get("skill_name").map_err(db)?,
        skill_version: row.try_get("skill_version").map_err(db)?,
        baseline_run_id: row.try_get("baseline_run_id").map_err(db)?,
        candidate_run_id: row.try_get("candidate_run_id").map_err(db)?,
        score_before: row.try_get("score_before").map_err(db)?,
        score_after: row.try_get("score_after").map_err(db)?,
        reason: row.try_get("reason").map_err(db)?,
        attempts: serde_json::from_str(&attempts).unwrap_or_default(),
        test_report: report.and_then(|r| serde_json::from_str(&r).ok()),
    })
}

pub async fn get(memory: &Memory, id: i64) -> Result<Option<Cycle>, MemoryError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM improve_cycles WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(memory.pool())
    .await
    .map_err(db)?;
    row.as_ref().map(from_row).transpose()
}

pub async fn list(memory: &Memory, limit: u32) -> Result<Vec<Cycle>, MemoryError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM improve_cycles ORDER BY id DESC LIMIT ?"
    ))
    .bind(i64::from(limit))
    .fetch_all(memory.pool())
    .await
    .map_err(db)?;
    rows.iter().map(from_row).collect()
}

/// Cycles started since `since_ms`, for the schedule's daily bound.
pub async fn count_since(memory: &Memory, since_ms: i64) -> Result<i64, MemoryError> {
    sqlx::query_scalar("SELECT COUNT(*) FROM improve_cycles WHERE started_at_ms >= ?")
        .bind(since_ms)
        .fetch_one(memory.pool())
        .await
        .map_err(db)
}
