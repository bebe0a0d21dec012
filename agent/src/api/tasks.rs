//! Tasks: submit a goal, follow its steps, cancel it, answer its
//! confirmations; and the kill switch that stops them all.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::memory::MemoryError;
use crate::planner::{TaskError, TaskView};

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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    /// What to do, in words: `open a terminal and list my files`.
    pub goal: String,
    pub conversation_id: Option<i64>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// How many tasks, newest first (default 20, at most 200).
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmAnswer {
    pub approve: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KillSwitchState {
    pub engaged: bool,
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
            "kill_switch_engaged",
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
        super::events::Topic::Services,
        "kill_switch",
        serde_json::json!({ "engaged": engaged }),
    );
    Json(KillSwitchState { engaged })
}
