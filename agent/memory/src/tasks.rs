use serde::{Deserialize, Serialize};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

use digios_api::{Step, StepOutcome, Task, TaskState};

use super::{Memory, MemoryError, enum_column, json_column, now_ms};

/// `Unknown` is what a client reads from a newer agent; it is never stored.
fn stored_state(state: TaskState) -> Result<&'static str, MemoryError> {
    match state {
        TaskState::Unknown => Err(MemoryError::invalid(
            "task state",
            "`unknown` is not a state a task can be in",
        )),
        known => Ok(known.as_str()),
    }
}

fn stored_outcome(outcome: StepOutcome) -> Result<&'static str, MemoryError> {
    match outcome {
        StepOutcome::Unknown => Err(MemoryError::invalid(
            "step outcome",
            "`unknown` is not an outcome a step can have",
        )),
        known => Ok(known.as_str()),
    }
}

/// A step as the planner reports it; memory assigns its id and index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewStep {
    pub thought: String,
    pub tool_call: Option<serde_json::Value>,
    pub observation: Option<String>,
    pub outcome: StepOutcome,
    pub duration_ms: u64,
}

const TASK_COLUMNS: &str =
    "id, conversation_id, goal, state, result, created_at_ms, updated_at_ms, finished_at_ms";
const STEP_COLUMNS: &str = "id, task_id, step_index, thought, tool_call, observation, outcome, \
     duration_ms, created_at_ms";

fn task_from_row(row: &SqliteRow) -> Result<Task, MemoryError> {
    Ok(Task {
        id: row.try_get("id")?,
        conversation_id: row.try_get("conversation_id")?,
        goal: row.try_get("goal")?,
        state: enum_column(row, "state")?,
        result: row.try_get("result")?,
        created_at_ms: row.try_get("created_at_ms")?,
        updated_at_ms: row.try_get("updated_at_ms")?,
        finished_at_ms: row.try_get("finished_at_ms")?,
    })
}

fn step_from_row(row: &SqliteRow) -> Result<Step, MemoryError> {
    Ok(Step {
        id: row.try_get("id")?,
        task_id: row.try_get("task_id")?,
        index: row.try_get("step_index")?,
        thought: row.try_get("thought")?,
        tool_call: json_column(row, "tool_call")?,
        observation: row.try_get("observation")?,
        outcome: enum_column(row, "outcome")?,
        duration_ms: row.try_get("duration_ms")?,
        created_at_ms: row.try_get("created_at_ms")?,
    })
}

impl Memory {
    /// Records a new goal in state `Pending`, optionally within a conversation.
    pub async fn create_task(
        &self,
        goal: &str,
        conversation_id: Option<i64>,
    ) -> Result<Task, MemoryError> {
        if goal.trim().is_empty() {
            return Err(MemoryError::invalid("goal", "a task needs a goal"));
        }
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO tasks (conversation_id, goal, state, created_at_ms, updated_at_ms) \
             VALUES (?, ?, ?, ?, ?) RETURNING {TASK_COLUMNS}"
        ))
        .bind(conversation_id)
        .bind(goal)
        .bind(TaskState::Pending.as_str())
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|err| self.error_or_missing(err, "conversation", conversation_id.unwrap_or(0)))?;
        self.commit(tx).await?;
        task_from_row(&row)
    }

    pub async fn get_task(&self, id: i64) -> Result<Task, MemoryError> {
        let row = sqlx::query(&format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|err| self.error(err))?
            .ok_or(MemoryError::NotFound { kind: "task", id })?;
        task_from_row(&row)
    }

    /// The most recent tasks first.
    pub async fn list_tasks(&self, limit: u32) -> Result<Vec<Task>, MemoryError> {
        sqlx::query(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks ORDER BY id DESC LIMIT ?"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(|err| self.error(err))?
        .iter()
        .map(task_from_row)
        .collect()
    }

    /// Moves a task to `state`, with its result text when it finishes. A
    /// finished task is immutable: changing it again is [`MemoryError::Invalid`].
    pub async fn set_task_state(
        &self,
        id: i64,
        state: TaskState,
        result: Option<&str>,
    ) -> Result<Task, MemoryError> {
        let stored = stored_state(state)?;
        let now = now_ms();
        let finished_at = state.is_finished().then_some(now);
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!(
            "UPDATE tasks SET state = ?, result = COALESCE(?, result), updated_at_ms = ?, \
             finished_at_ms = ? WHERE id = ? AND finished_at_ms IS NULL RETURNING {TASK_COLUMNS}"
        ))
        .bind(stored)
        .bind(result)
        .bind(now)
        .bind(finished_at)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|err| self.error(err))?;
        self.commit(tx).await?;
        match row {
            Some(row) => task_from_row(&row),
            None => {
                let task = self.get_task(id).await?;
                Err(MemoryError::invalid(
                    "task state",
                    format!("task {id} already finished as {}", task.state),
                ))
            }
        }
    }

    /// Marks every unfinished task `Interrupted`; run once at start-up, before
    /// the planner takes new work. Returns the tasks it marked.
    pub async fn mark_interrupted_tasks(&self) -> Result<Vec<Task>, MemoryError> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let rows = sqlx::query(&format!(
            "UPDATE tasks SET state = ?, updated_at_ms = ?, finished_at_ms = ? \
             WHERE finished_at_ms IS NULL RETURNING {TASK_COLUMNS}"
        ))
        .bind(TaskState::Interrupted.as_str())
        .bind(now)
        .bind(now)
        .fetch_all(&mut *tx)
        .await
        .map_err(|err| self.error(err))?;
        self.commit(tx).await?;
        rows.iter().map(task_from_row).collect()
    }

    /// Appends a step to a task; its index is one past the task's last step.
    pub async fn append_step(&self, task_id: i64, step: &NewStep) -> Result<Step, MemoryError> {
        let duration_ms = i64::try_from(step.duration_ms)
            .map_err(|_| MemoryError::invalid("duration_ms", "out of range"))?;
        let outcome = stored_outcome(step.outcome)?;
        let tool_call = step.tool_call.as_ref().map(|call| call.to_string());
        // Assigned under the write lock, so concurrent writers never share an index.
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(&format!(
            "INSERT INTO steps (task_id, step_index, thought, tool_call, observation, outcome, \
             duration_ms, created_at_ms) \
             SELECT ?1, COALESCE(MAX(step_index) + 1, 0), ?2, ?3, ?4, ?5, ?6, ?7 \
             FROM steps WHERE task_id = ?1 RETURNING {STEP_COLUMNS}"
        ))
        .bind(task_id)
        .bind(&step.thought)
        .bind(tool_call)
        .bind(&step.observation)
        .bind(outcome)
        .bind(duration_ms)
        .bind(now_ms())
        .fetch_one(&mut *tx)
        .await
        .map_err(|err| self.error_or_missing(err, "task", task_id))?;
        self.commit(tx).await?;
        step_from_row(&row)
    }

    pub async fn get_step(&self, id: i64) -> Result<Step, MemoryError> {
        let row = sqlx::query(&format!("SELECT {STEP_COLUMNS} FROM steps WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|err| self.error(err))?
            .ok_or(MemoryError::NotFound { kind: "step", id })?;
        step_from_row(&row)
    }

    /// A task's steps in order.
    pub async fn list_steps(&self, task_id: i64) -> Result<Vec<Step>, MemoryError> {
        self.get_task(task_id).await?;
        sqlx::query(&format!(
            "SELECT {STEP_COLUMNS} FROM steps WHERE task_id = ? ORDER BY step_index"
        ))
        .bind(task_id)
        .fetch_all(&self.pool)
        .await
        .map_err(|err| self.error(err))?
        .iter()
        .map(step_from_row)
        .collect()
    }
}
