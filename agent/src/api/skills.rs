//! `/api/skills`: the skill library: list, install (compile, test,
//! activate), history, call, rollback.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use digios_api::SkillCallRequest;

use super::AppState;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::skills::{
    CallOptions, SkillCall, SkillDraft, SkillError, SkillHistory, SkillSummary, SkillTestReport,
    SkillVersion,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, install))
        .routes(routes!(test))
        .routes(routes!(history))
        .routes(routes!(call))
        .routes(routes!(rollback))
}

impl From<SkillError> for ApiError {
    fn from(err: SkillError) -> Self {
        let message = err.to_string();
        let unprocessable = |code| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, &message);
        match err {
            SkillError::InvalidManifest(_) => unprocessable("invalid_skill"),
            SkillError::Compile(compile) => unprocessable("compile_error").with_details(json!({
                "message": compile.message, "line": compile.line, "column": compile.column
            })),
            SkillError::TestsFailed(report) => unprocessable("tests_failed")
                .with_details(serde_json::to_value(report.as_ref()).unwrap_or_default()),
            SkillError::NotFound(_) | SkillError::NoSuchVersion { .. } => {
                ApiError::not_found(message)
            }
            SkillError::NothingToRollBack(_) => ApiError::conflict(message),
            SkillError::InvalidParams { .. } => ApiError::invalid_params(message),
            SkillError::Failed { line, .. } => {
                unprocessable("skill_failed").with_details(json!({ "line": line }))
            }
            SkillError::BadResult(_) => unprocessable("skill_failed"),
            SkillError::Refused { action, code, .. } => {
                ApiError::new(StatusCode::FORBIDDEN, code, message)
                    .with_details(json!({ "action": action }))
            }
            SkillError::CpuLimit { limit_ms } => {
                unprocessable("cpu_limit").with_details(json!({ "limit_ms": limit_ms }))
            }
            SkillError::WallLimit { limit_ms } => {
                unprocessable("time_limit").with_details(json!({ "limit_ms": limit_ms }))
            }
            SkillError::MemoryLimit { limit_bytes } => {
                unprocessable("memory_limit").with_details(json!({ "limit_bytes": limit_bytes }))
            }
            SkillError::HostCallLimit { limit } => {
                unprocessable("host_call_limit").with_details(json!({ "limit": limit }))
            }
            SkillError::KillSwitch => {
                ApiError::new(StatusCode::LOCKED, "kill_switch_engaged", message)
            }
            SkillError::Cancelled => ApiError::conflict(message),
            SkillError::Memory(_) => ApiError::unavailable(message),
            SkillError::Internal(_) => ApiError::internal(message),
        }
    }
}

/// Every skill's active version.
#[utoipa::path(get, path = "/api/skills", tag = "skills",
    responses((status = 200, body = Vec<SkillSummary>), (status = 503, body = ErrorBody)))]
async fn list(State(state): State<AppState>) -> Result<Json<Vec<SkillSummary>>, ApiError> {
    Ok(Json(state.skills.list().await?))
}

/// Install a skill: the draft is compiled and its tests run; if both pass it
/// becomes the skill's next version and is active at once (the planner can
/// call it on its next step). A rejected draft is recorded in the skill's
/// history with its compile error or test report.
#[utoipa::path(post, path = "/api/skills", tag = "skills", request_body = SkillDraft,
    responses(
        (status = 201, body = SkillVersion),
        (status = 400, description = "malformed JSON", body = ErrorBody),
        (status = 422, description = "invalid_skill, compile_error (details: line, column) or tests_failed (details: the test report)", body = ErrorBody),
    ))]
async fn install(
    State(state): State<AppState>,
    ApiJson(draft): ApiJson<SkillDraft>,
) -> Result<(StatusCode, Json<SkillVersion>), ApiError> {
    let version = state.skills.install(draft).await?;
    Ok((StatusCode::CREATED, Json(version)))
}

/// Compile a draft of skill `name` and run its tests without storing anything.
#[utoipa::path(post, path = "/api/skills/{name}/test", tag = "skills",
    params(("name" = String, Path)), request_body = SkillDraft,
    responses(
        (status = 200, body = SkillTestReport),
        (status = 400, description = "malformed JSON", body = ErrorBody),
        (status = 422, description = "invalid_skill (or the draft names another skill)", body = ErrorBody),
    ))]
async fn test(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(draft): ApiJson<SkillDraft>,
) -> Result<Json<SkillTestReport>, ApiError> {
    if draft.name != name {
        return Err(SkillError::InvalidManifest(format!(
            "the draft is named {:?}, the path {name:?}",
            draft.name
        ))
        .into());
    }
    crate::skills::validate_manifest(&draft)?;
    Ok(Json(state.skills.test(&draft).await))
}

/// A skill with all its versions (newest first) and rejected drafts.
#[utoipa::path(get, path = "/api/skills/{name}", tag = "skills",
    params(("name" = String, Path)),
    responses((status = 200, body = SkillHistory), (status = 404, body = ErrorBody)))]
async fn history(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<SkillHistory>, ApiError> {
    Ok(Json(state.skills.history(&name).await?))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CallQuery {
    /// The user agreed to the confirm-tier actions this call may take.
    #[serde(default)]
    pub confirm: bool,
}

/// Call a skill's active version. Its actions pass the safety policy like
/// `/api/action`'s: denied ones are refused, confirm-tier ones too unless
/// `?confirm=true`. The outcome counts toward the version's live failure
/// rate (bad params do not).
#[utoipa::path(post, path = "/api/skills/{name}/call", tag = "skills",
    params(("name" = String, Path), CallQuery), request_body = SkillCallRequest,
    responses(
        (status = 200, body = SkillCall),
        (status = 403, description = "denied or confirmation_required: the policy refused an action of the skill", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, description = "invalid_params, skill_failed, cpu_limit, time_limit, memory_limit or host_call_limit", body = ErrorBody),
        (status = 423, description = "the kill switch is engaged", body = ErrorBody),
    ))]
async fn call(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(query): ApiQuery<CallQuery>,
    ApiJson(request): ApiJson<SkillCallRequest>,
) -> Result<Json<SkillCall>, ApiError> {
    let options = CallOptions {
        approve_confirm: query.confirm,
        live: true,
        ..CallOptions::default()
    };
    Ok(Json(
        state
            .skills
            .call_with(&name, request.params, options)
            .await?,
    ))
}

/// Take the active version out of use and reactivate the previous one.
#[utoipa::path(post, path = "/api/skills/{name}/rollback", tag = "skills",
    params(("name" = String, Path)),
    responses(
        (status = 200, description = "the version now active", body = SkillVersion),
        (status = 404, body = ErrorBody),
        (status = 409, description = "no earlier version to roll back to", body = ErrorBody),
    ))]
async fn rollback(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<SkillVersion>, ApiError> {
    Ok(Json(state.skills.rollback(&name).await?))
}
