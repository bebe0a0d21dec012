//! Evaluation runs in the memory database (`eval_runs`, `eval_results`).

use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use super::{EvalRun, RunState, TaskResult};
use crate::memory::run_records::{fail_running, newest_rows, row_by_id};
use crate::memory::{Memory, MemoryError, now_ms};

/// Records a run as started; returns it with its id.
pub async fn start_run(
    memory: &Memory,
    purpose: &str,
    model: &str,
    skills_version: &str,
) -> Result<EvalRun, MemoryError> {
    let started = now_ms();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO eval_runs (started_at_ms, state, purpose, model, skills_version) \
         VALUES (?, 'running', ?, ?, ?) RETURNING id",
    )
    .bind(started)
    .bind(purpose)
    .bind(model)
    .bind(skills_version)
    .fetch_one(memory.pool())
    .await?;
    Ok(EvalRun {
        id,
        started_at_ms: started,
        finished_at_ms: None,
        state: RunState::Running,
        purpose: purpose.into(),
        model: model.into(),
        skills_version: skills_version.into(),
        success_rate: None,
        error: None,
        tasks: Vec::new(),
    })
}

/// Stores a task's result as soon as it is known, so a crash loses at most one.
pub async fn add_result(
    memory: &Memory,
    run_id: i64,
    position: usize,
    result: &TaskResult,
) -> Result<(), MemoryError> {
    sqlx::query(
        "INSERT INTO eval_results (run_id, position, task, success, steps, duration_ms, error, trace) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(run_id)
    .bind(position as i64)
    .bind(&result.task)
    .bind(result.success)
    .bind(result.steps as i64)
    .bind(result.duration_ms as i64)
    .bind(&result.error)
    .bind(serde_json::to_string(&result.trace).unwrap_or_else(|_| "[]".into()))
    .execute(memory.pool())
    .await?;
    Ok(())
}

pub async fn finish_run(
    memory: &Memory,
    run_id: i64,
    success_rate: Option<f64>,
    error: Option<&str>,
) -> Result<(), MemoryError> {
    let state = if error.is_some() {
        RunState::Failed
    } else {
        RunState::Finished
    };
    sqlx::query(
        "UPDATE eval_runs SET finished_at_ms = ?, state = ?, success_rate = ?, error = ? WHERE id = ?",
    )
    .bind(now_ms())
    .bind(state.as_str())
    .bind(success_rate)
    .bind(error)
    .bind(run_id)
    .execute(memory.pool())
    .await?;
    Ok(())
}

/// Runs an agent stopped in the middle of can never finish: mark them failed.
pub async fn mark_interrupted(memory: &Memory) -> Result<u64, MemoryError> {
    fail_running(
        memory,
        "eval_runs",
        "error",
        "the agent stopped during the run",
    )
    .await
}

/// Closes the suite runs an improvement cycle started at `since_ms` left
/// running when it was stopped. Runs started on demand are not its own.
pub async fn stop_cycle_runs(
    memory: &Memory,
    since_ms: i64,
    note: &str,
) -> Result<u64, MemoryError> {
    let done = sqlx::query(
        "UPDATE eval_runs SET state = 'failed', finished_at_ms = ?, error = ? \
         WHERE state = 'running' AND purpose IN ('baseline', 'candidate') AND started_at_ms >= ?",
    )
    .bind(crate::memory::now_ms())
    .bind(note)
    .bind(since_ms)
    .execute(memory.pool())
    .await?;
    Ok(done.rows_affected())
}

const RUN_COLUMNS: &str = "id, started_at_ms, finished_at_ms, state, purpose, model, \
     skills_version, success_rate, error";

fn run_from_row(row: &SqliteRow) -> Result<EvalRun, MemoryError> {
    let state: String = row.try_get("state")?;
    Ok(EvalRun {
        id: row.try_get("id")?,
        started_at_ms: row.try_get("started_at_ms")?,
        finished_at_ms: row.try_get("finished_at_ms")?,
        state: RunState::parse(&state),
        purpose: row.try_get("purpose")?,
        model: row.try_get("model")?,
        skills_version: row.try_get("skills_version")?,
        success_rate: row.try_get("success_rate")?,
        error: row.try_get("error")?,
        tasks: Vec::new(),
    })
}

async fn results(memory: &Memory, run_id: i64) -> Result<Vec<TaskResult>, MemoryError> {
    let rows = sqlx::query(
        "SELECT task, success, steps, duration_ms, error, trace FROM eval_results \
         WHERE run_id = ? ORDER BY position",
    )
    .bind(run_id)
    .fetch_all(memory.pool())
    .await?;
    rows.iter()
        .map(|row| {
            let trace: String = row.try_get("trace")?;
            Ok(TaskResult {
                task: row.try_get("task")?,
                success: row.try_get("success")?,
                steps: row.try_get::<i64, _>("steps")? as u32,
                duration_ms: row.try_get::<i64, _>("duration_ms")? as u64,
                error: row.try_get("error")?,
                trace: serde_json::from_str(&trace).unwrap_or_default(),
            })
        })
        .collect()
}

pub async fn get_run(memory: &Memory, id: i64) -> Result<Option<EvalRun>, MemoryError> {
    let row = row_by_id(memory, "eval_runs", RUN_COLUMNS, id).await?;
    let Some(row) = row else { return Ok(None) };
    let mut run = run_from_row(&row)?;
    run.tasks = results(memory, id).await?;
    Ok(Some(run))
}

/// The newest runs first, each with its task results.
pub async fn list_runs(memory: &Memory, limit: u32) -> Result<Vec<EvalRun>, MemoryError> {
    let rows = newest_rows(memory, "eval_runs", RUN_COLUMNS, limit).await?;
    let mut runs = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut run = run_from_row(row)?;
        run.tasks = results(memory, run.id).await?;
        runs.push(run);
    }
    Ok(runs)
}
