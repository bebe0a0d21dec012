//! Improvement cycles in the memory database (`improve_cycles`).

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{Cycle, CycleState};
use crate::memory::run_records::{fail_running, newest_rows, row_by_id};
use crate::memory::{Memory, MemoryError, now_ms};

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
    .await?;
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
    .await?;
    Ok(())
}

/// Cycles an agent stopped in the middle of can never finish: mark them failed.
pub async fn mark_interrupted(memory: &Memory) -> Result<u64, MemoryError> {
    fail_running(
        memory,
        "improve_cycles",
        "reason",
        "the agent stopped during the cycle",
    )
    .await
}

const COLUMNS: &str = "id, started_at_ms, finished_at_ms, state, trigger, model, targets, \
     skill_name, skill_version, baseline_run_id, candidate_run_id, score_before, score_after, \
     reason, attempts, test_report";

fn from_row(row: &SqliteRow) -> Result<Cycle, MemoryError> {
    let state: String = row.try_get("state")?;
    let targets: String = row.try_get("targets")?;
    let attempts: String = row.try_get("attempts")?;
    let report: Option<String> = row.try_get("test_report")?;
    Ok(Cycle {
        id: row.try_get("id")?,
        started_at_ms: row.try_get("started_at_ms")?,
        finished_at_ms: row.try_get("finished_at_ms")?,
        state: CycleState::parse(&state),
        trigger: row.try_get("trigger")?,
        model: row.try_get("model")?,
        targets: serde_json::from_str(&targets).unwrap_or_default(),
        skill_name: row.try_get("skill_name")?,
        skill_version: row.try_get("skill_version")?,
        baseline_run_id: row.try_get("baseline_run_id")?,
        candidate_run_id: row.try_get("candidate_run_id")?,
        score_before: row.try_get("score_before")?,
        score_after: row.try_get("score_after")?,
        reason: row.try_get("reason")?,
        attempts: serde_json::from_str(&attempts).unwrap_or_default(),
        test_report: report.and_then(|r| serde_json::from_str(&r).ok()),
    })
}

pub async fn get(memory: &Memory, id: i64) -> Result<Option<Cycle>, MemoryError> {
    let row = row_by_id(memory, "improve_cycles", COLUMNS, id).await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn list(memory: &Memory, limit: u32) -> Result<Vec<Cycle>, MemoryError> {
    let rows = newest_rows(memory, "improve_cycles", COLUMNS, limit).await?;
    rows.iter().map(from_row).collect()
}

/// Cycles started since `since_ms`, for the schedule's daily bound.
pub async fn count_since(memory: &Memory, since_ms: i64) -> Result<i64, MemoryError> {
    sqlx::query_scalar("SELECT COUNT(*) FROM improve_cycles WHERE started_at_ms >= ?")
        .bind(since_ms)
        .fetch_one(memory.pool())
        .await
        .map_err(MemoryError::from)
}
