//! Pointer, keys and text: thin routes over the action engine.

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ApiJson, ErrorBody};
use crate::actions::{
    Action, ActionOutcome, ClickParams, DragParams, KeyParams, PointParams, ScrollParams,
    TextParams,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pointer))
        .routes(routes!(click))
        .routes(routes!(drag))
        .routes(routes!(scroll))
        .routes(routes!(key))
        .routes(routes!(text))
}

/// Move the pointer.
#[utoipa::path(post, path = "/api/input/pointer", tag = "input", request_body = PointParams,
    responses((status = 200, body = ActionOutcome), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn pointer(
    State(state): State<AppState>,
    ApiJson(p): ApiJson<PointParams>,
) -> Result<Json<ActionOutcome>, ApiError> {
    state.perform(Action::MovePointer(p)).await.map(Json)
}

/// Click, at `x`, `y` if given.
#[utoipa::path(post, path = "/api/input/click", tag = "input", request_body = ClickParams,
    responses((status = 200, body = ActionOutcome), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn click(
    State(state): State<AppState>,
    ApiJson(p): ApiJson<ClickParams>,
) -> Result<Json<ActionOutcome>, ApiError> {
    state.perform(Action::Click(p)).await.map(Json)
}

/// Drag with a button held.
#[utoipa::path(post, path = "/api/input/drag", tag = "input", request_body = DragParams,
    responses((status = 200, body = ActionOutcome), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn drag(
    State(state): State<AppState>,
    ApiJson(p): ApiJson<DragParams>,
) -> Result<Json<ActionOutcome>, ApiError> {
    state.perform(Action::Drag(p)).await.map(Json)
}

/// Scroll.
#[utoipa::path(post, path = "/api/input/scroll", tag = "input", request_body = ScrollParams,
    responses((status = 200, body = ActionOutcome), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn scroll(
    State(state): State<AppState>,
    ApiJson(p): ApiJson<ScrollParams>,
) -> Result<Json<ActionOutcome>, ApiError> {
    state.perform(Action::Scroll(p)).await.map(Json)
}

/// Press a key or chord, e.g. `Return` or `ctrl+c`.
#[utoipa::path(post, path = "/api/input/key", tag = "input", request_body = KeyParams,
    responses((status = 200, body = ActionOutcome), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn key(
    State(state): State<AppState>,
    ApiJson(p): ApiJson<KeyParams>,
) -> Result<Json<ActionOutcome>, ApiError> {
    state.perform(Action::Key(p)).await.map(Json)
}

/// Type text into the focused window.
#[utoipa::path(post, path = "/api/input/text", tag = "input", request_body = TextParams,
    responses((status = 200, body = ActionOutcome), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn text(
    State(state): State<AppState>,
    ApiJson(p): ApiJson<TextParams>,
) -> Result<Json<ActionOutcome>, ApiError> {
    state.perform(Action::TypeText(p)).await.map(Json)
}
