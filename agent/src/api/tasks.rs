//! Tasks: submit a goal, follow its steps, cancel it, answer its
//! confirmations; and the kill switch that stops them all.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::memory::MemoryError;
use crate::planner::{TaskError, TaskView};
pub use digios_api::{ConfirmAnswer, KillSwitchState, NewTask};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(submit, list))
        .routes(routes!(get_task))
        .routes(routes!(cancel))
        .routes(routes!(confirm))
        .routes(routes!(kill_switch))
}

/// Longest goal a task accepts.
const MAX_GOAL_CHARS: usize = 4000;
const DEFAULT_LIST: u32 = 20;
const MAX_LIST: u32 = 200;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// How many tasks, newest first (default 20, at most 200).
    pub limit: Option<u32>,
}

impl From<TaskError> for ApiError {
    fn from(err: TaskError) -> Self {
        let message = err.to_string();
        match err {
            TaskError::Memory(MemoryError::NotFound { .. }) => ApiError::not_found(message),
            TaskError::Memory(MemoryError::Invalid { .. }) => ApiError::invalid_params(message),
            TaskError::Memory(_) => ApiError::internal(message),
            TaskError::NoModel(_) => ApiError::unavailable(message),
            TaskError::KillSwitch(engaged) => engaged.into(),
            TaskError::Finished { .. }
            | TaskError::NothingPending(_)
            | TaskError::NotRunning(_) => ApiError::conflict(message),
        }
    }
}

impl From<crate::policy::KillSwitchEngaged> for ApiError {
    fn from(engaged: crate::policy::KillSwitchEngaged) -> Self {
        ApiError::new(
            StatusCode::LOCKED,
            super::error::ErrorCode::KillSwitchEngaged,
            engaged.to_string(),
        )
    }
}

/// Start a task: digiOS works on the goal in the background; follow it on
/// `GET /api/tasks/{id}` or the WebSocket's `tasks` topic.
#[utoipa::path(post, path = "/api/tasks", tag = "tasks", request_body = NewTask,
    responses(
        (status = 202, body = TaskView),
        (status = 422, description = "empty or overlong goal", body = ErrorBody),
        (status = 423, description = "the kill switch is engaged", body = ErrorBody),
        (status = 503, description = "the goal needs a language model and none is loaded", body = ErrorBody),
    ))]
async fn submit(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<NewTask>,
) -> Result<(StatusCode, Json<TaskView>), ApiError> {
    let chars = request.goal.chars().count();
    if chars > MAX_GOAL_CHARS {
        return Err(ApiError::invalid_params(format!(
            "the goal has {chars} characters; at most {MAX_GOAL_CHARS}"
        )));
    }
    let view = state
        .planner
        .submit(&request.goal, request.conversation_id)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// Recent tasks, newest first, without their steps.
#[utoipa::path(get, path = "/api/tasks", tag = "tasks", params(ListQuery),
    responses((status = 200, body = Vec<TaskView>), (status = 400, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Vec<TaskView>>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIST).clamp(1, MAX_LIST);
    Ok(Json(state.planner.list(limit).await?))
}

/// One task with its steps and any pending confirmation.
#[utoipa::path(get, path = "/api/tasks/{id}", tag = "tasks",
    params(("id" = i64, Path, description = "task id")),
    responses((status = 200, body = TaskView), (status = 404, body = ErrorBody)))]
async fn get_task(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<TaskView>, ApiError> {
    Ok(Json(state.planner.view(id).await?))
}

/// Stop a task; it ends as `cancelled`.
#[utoipa::path(post, path = "/api/tasks/{id}/cancel", tag = "tasks",
    params(("id" = i64, Path, description = "task id")),
    responses(
        (status = 200, body = TaskView),
        (status = 404, body = ErrorBody),
        (status = 409, description = "the task already finished", body = ErrorBody),
    ))]
async fn cancel(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<TaskView>, ApiError> {
    Ok(Json(state.planner.cancel(id).await?))
}

/// Answer the task's pending confirmation: approve runs the action, deny
/// ends the task as `cancelled`.
#[utoipa::path(post, path = "/api/tasks/{id}/confirm", tag = "tasks",
    params(("id" = i64, Path, description = "task id")),
    request_body = ConfirmAnswer,
    responses(
        (status = 200, body = TaskView),
        (status = 404, body = ErrorBody),
        (status = 409, description = "nothing is waiting for an answer", body = ErrorBody),
    ))]
async fn confirm(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(answer): ApiJson<ConfirmAnswer>,
) -> Result<Json<TaskView>, ApiError> {
    Ok(Json(state.planner.confirm(id, answer.approve).await?))
}

/// Engage the kill switch (every running task stops, input injection is
/// refused) or release it.
#[utoipa::path(post, path = "/api/kill-switch", tag = "tasks", request_body = KillSwitchState,
    responses((status = 200, body = KillSwitchState)))]
async fn kill_switch(
    State(state): State<AppState>,
    ApiJson(wanted): ApiJson<KillSwitchState>,
) -> Json<KillSwitchState> {
    if wanted.engaged {
        state.planner.engage_kill_switch();
    } else {
        state.planner.release_kill_switch();
    }
    let engaged = state.kill_switch.is_engaged();
    state.events.publish(
        crate::events::Topic::Services,
        "kill_switch",
        serde_json::json!({ "engaged": engaged }),
    );
    Json(KillSwitchState { engaged })
}

#[cfg(test)]
mod tests {
    use crate::memory::{Step, StepOutcome, Task, TaskState};
    use crate::planner::{PendingConfirmation, TaskView};

    /// The task view is `digios_api::TaskView` itself; this pins its bytes
    /// (field order included) to what the agent has always sent, so moving
    /// the type cannot change the wire.
    #[test]
    fn the_task_view_sends_the_agents_bytes() {
        let view = TaskView {
            task: Task {
                id: 3,
                conversation_id: Some(1),
                goal: "open a terminal".into(),
                state: TaskState::AwaitingConfirmation,
                result: None,
                created_at_ms: 10,
                updated_at_ms: 11,
                finished_at_ms: None,
            },
            steps: Some(vec![Step {
                id: 5,
                task_id: 3,
                index: 0,
                thought: "launch it".into(),
                tool_call: Some(
                    serde_json::json!({"action": "launch_app", "params": {"app": "foot"}}),
                ),
                observation: Some("asked".into()),
                outcome: StepOutcome::Denied,
                duration_ms: 4,
                created_at_ms: 12,
            }]),
            pending_confirmation: Some(PendingConfirmation {
                action_type: "launch_app".into(),
                params: serde_json::json!({"app": "foot"}),
                risk: "high".into(),
                reason: "launching asks first".into(),
            }),
        };
        assert_eq!(
            serde_json::to_string(&view).unwrap(),
            concat!(
                r#"{"id":3,"conversation_id":1,"goal":"open a terminal","#,
                r#""state":"awaiting_confirmation","result":null,"created_at_ms":10,"#,
                r#""updated_at_ms":11,"finished_at_ms":null,"steps":[{"id":5,"task_id":3,"#,
                r#""index":0,"thought":"launch it","tool_call":{"action":"launch_app","#,
                r#""params":{"app":"foot"}},"observation":"asked","outcome":"denied","#,
                r#""duration_ms":4,"created_at_ms":12}],"pending_confirmation":"#,
                r#"{"action_type":"launch_app","params":{"app":"foot"},"risk":"high","#,
                r#""reason":"launching asks first"}}"#
            )
        );
        let listed = TaskView {
            steps: None,
            pending_confirmation: None,
            ..view
        };
        let sent = serde_json::to_value(&listed).unwrap();
        assert!(!sent.as_object().unwrap().contains_key("steps"), "{sent}");
        assert_eq!(sent["pending_confirmation"], serde_json::Value::Null);
        for state in TaskState::ALL {
            assert_eq!(serde_json::to_value(state).unwrap(), state.as_str());
        }
        for outcome in StepOutcome::ALL {
            assert_eq!(serde_json::to_value(outcome).unwrap(), outcome.as_str());
        }
    }
}
