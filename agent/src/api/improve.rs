//! The evaluator and the improvement cycle: suite runs (`/api/eval/*`) and
//! cycles (`/api/improve/cycles`). Progress streams on the `improve` topic.

use std::path::PathBuf;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use digios_api::NewEvalRun;

use super::AppState;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::eval::{EvalError, EvalParts, EvalRun, Evaluator};
use crate::improve::{Cycle, ImproveConfig, ImproveError, ImproveParts, Improver};
use crate::planner::PlannerConfig;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(suite))
        .routes(routes!(start_eval_run, list_eval_runs))
        .routes(routes!(get_eval_run))
        .routes(routes!(start_cycle, list_cycles))
        .routes(routes!(get_cycle))
        .routes(routes!(cancel_cycle))
}

const DEFAULT_LIST: u32 = 20;
const MAX_LIST: u32 = 200;

impl AppState {
    /// Adds the evaluator and the improvement cycle. `binary` is the `digios`
    /// executable that starts each suite task's compositor.
    pub fn with_improvement(
        mut self,
        config: ImproveConfig,
        planner: PlannerConfig,
        binary: PathBuf,
    ) -> Self {
        let evaluator = Evaluator::new(EvalParts {
            binary,
            actions: self.actions.clone(),
            planner: PlannerConfig {
                max_steps: config.eval_max_steps,
                ..planner
            },
            task_timeout: Duration::from_secs(config.eval_task_timeout_secs),
            memory: self.memory.clone(),
            events: self.events.clone(),
            kill_switch: self.kill_switch.clone(),
        });
        let improver = Improver::new(ImproveParts {
            evaluator,
            skills: self.skills.clone(),
            model: self.model.clone(),
            memory: self.memory.clone(),
            events: self.events.clone(),
            config,
        });
        self.configure().improvement = Some(improver);
        self
    }

    fn improver(&self) -> Result<&Improver, ApiError> {
        self.improvement.as_ref().ok_or_else(|| {
            ApiError::unavailable("this agent runs without the evaluator and improvement cycle")
        })
    }
}

impl From<EvalError> for ApiError {
    fn from(err: EvalError) -> Self {
        let message = err.to_string();
        match err {
            EvalError::Busy => ApiError::conflict(message),
            EvalError::UnknownTask(_) => ApiError::invalid_params(message),
            EvalError::Memory(_) => ApiError::internal(message),
        }
    }
}

impl From<ImproveError> for ApiError {
    fn from(err: ImproveError) -> Self {
        let message = err.to_string();
        match err {
            ImproveError::Busy | ImproveError::DailyLimit(_) => ApiError::conflict(message),
            ImproveError::Memory(_) => ApiError::internal(message),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// How many, newest first (default 20, at most 200).
    pub limit: Option<u32>,
}

/// The task suite: goals, setup and checks. Read-only: it is compiled in.
#[utoipa::path(get, path = "/api/eval/suite", tag = "improve",
    responses((status = 200, body = Vec<Object>)))]
async fn suite() -> Json<Vec<crate::eval::EvalTask>> {
    Json(crate::eval::suite())
}

/// Run the suite headless with the current model and skills; each task on a
/// fresh compositor and temporary home. Follow it on the `improve` topic.
#[utoipa::path(post, path = "/api/eval/runs", tag = "improve", request_body = NewEvalRun,
    responses(
        (status = 202, body = EvalRun),
        (status = 409, description = "a run is under way", body = ErrorBody),
        (status = 422, description = "no such task", body = ErrorBody),
        (status = 503, description = "the evaluator is not configured", body = ErrorBody),
    ))]
async fn start_eval_run(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<NewEvalRun>,
) -> Result<(StatusCode, Json<EvalRun>), ApiError> {
    let improver = state.improver()?;
    let tasks = Evaluator::select(&request.tasks)?;
    let contestant = improver.contestant().await;
    let run = improver
        .evaluator()
        .start("manual", contestant, tasks)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(run)))
}

/// Suite runs, newest first, with every task's result.
#[utoipa::path(get, path = "/api/eval/runs", tag = "improve", params(ListQuery),
    responses((status = 200, body = Vec<EvalRun>), (status = 400, body = ErrorBody)))]
async fn list_eval_runs(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Vec<EvalRun>>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIST).clamp(1, MAX_LIST);
    let runs = crate::eval::list_runs(&state.memory, limit)
        .await
        .map_err(|err| ApiError::internal(err.to_string()))?;
    Ok(Json(runs))
}

/// One suite run.
#[utoipa::path(get, path = "/api/eval/runs/{id}", tag = "improve",
    params(("id" = i64, Path, description = "run id")),
    responses((status = 200, body = EvalRun), (status = 404, body = ErrorBody)))]
async fn get_eval_run(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<EvalRun>, ApiError> {
    crate::eval::get_run(&state.memory, id)
        .await
        .map_err(|err| ApiError::internal(err.to_string()))?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("eval run {id} does not exist")))
}

/// Start an improvement cycle: the model writes a skill for a failing task,
/// which is installed only if the suite improves with no regression.
#[utoipa::path(post, path = "/api/improve/cycles", tag = "improve",
    responses(
        (status = 202, body = Cycle),
        (status = 409, description = "a cycle is under way, or the daily bound is reached", body = ErrorBody),
        (status = 503, description = "the improvement cycle is not configured", body = ErrorBody),
    ))]
async fn start_cycle(State(state): State<AppState>) -> Result<(StatusCode, Json<Cycle>), ApiError> {
    let cycle = state.improver()?.start("api").await?;
    Ok((StatusCode::ACCEPTED, Json(cycle)))
}

/// Improvement cycles, newest first: prompts, code, compile errors, scores, decision.
#[utoipa::path(get, path = "/api/improve/cycles", tag = "improve", params(ListQuery),
    responses((status = 200, body = Vec<Cycle>), (status = 400, body = ErrorBody)))]
async fn list_cycles(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Vec<Cycle>>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_LIST).clamp(1, MAX_LIST);
    let cycles = crate::improve::list(&state.memory, limit)
        .await
        .map_err(|err| ApiError::internal(err.to_string()))?;
    Ok(Json(cycles))
}

/// One improvement cycle.
#[utoipa::path(get, path = "/api/improve/cycles/{id}", tag = "improve",
    params(("id" = i64, Path, description = "cycle id")),
    responses((status = 200, body = Cycle), (status = 404, body = ErrorBody)))]
async fn get_cycle(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Cycle>, ApiError> {
    stored_cycle(&state.memory, id).await.map(Json)
}

async fn stored_cycle(memory: &crate::memory::Memory, id: i64) -> Result<Cycle, ApiError> {
    crate::improve::get(memory, id)
        .await
        .map_err(|err| ApiError::internal(err.to_string()))?
        .ok_or_else(|| ApiError::not_found(format!("improvement cycle {id} does not exist")))
}

/// Stop a running improvement cycle: it ends `cancelled`, nothing is
/// installed, its sandboxes are torn down. Answers with the stopped cycle.
#[utoipa::path(post, path = "/api/improve/cycles/{id}/cancel", tag = "improve",
    params(("id" = i64, Path, description = "cycle id")),
    responses(
        (status = 200, body = Cycle),
        (status = 404, body = ErrorBody),
        (status = 409, description = "the cycle has already ended", body = ErrorBody),
        (status = 503, description = "the improvement cycle is not configured", body = ErrorBody),
    ))]
async fn cancel_cycle(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Cycle>, ApiError> {
    let improver = state.improver()?;
    if !improver.cancel(Some(id), "cancelled by the user") {
        let cycle = stored_cycle(&state.memory, id).await?;
        return Err(ApiError::conflict(format!(
            "improvement cycle {id} has already ended ({})",
            cycle.state.as_str()
        )));
    }
    // The cycle closes its record as it stops; wait for that.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let cycle = stored_cycle(&state.memory, id).await?;
        if cycle.state != crate::improve::CycleState::Running
            || tokio::time::Instant::now() >= deadline
        {
            return Ok(Json(cycle));
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
