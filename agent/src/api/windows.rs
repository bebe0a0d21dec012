//! Windows, outputs and apps: thin routes over the action engine.

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use digios_api::{Position, Size, WindowStateChange, WindowStateName};

use super::AppState;
use super::error::{ApiError, ApiJson, ApiPath, ErrorBody};
use crate::actions::{
    Action, ActionOutcome, LaunchParams, MoveWindowParams, ResizeWindowParams, ToggleWindowParams,
    WindowParams,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_windows))
        .routes(routes!(get_window))
        .routes(routes!(focus_window))
        .routes(routes!(close_window))
        .routes(routes!(move_window))
        .routes(routes!(resize_window))
        .routes(routes!(set_window_state))
        .routes(routes!(list_outputs))
        .routes(routes!(launch_app))
}

/// Every window, bottom of the stack first. The links hand a listed id to
/// the per-window routes.
#[utoipa::path(get, path = "/api/windows", tag = "windows",
    responses(
        (status = 200, body = Vec<Object>, links(
            ("GetWindow" = (operation_id = "get_window", parameters(("id" = "$response.body#/0/id")))),
            ("FocusWindow" = (operation_id = "focus_window", parameters(("id" = "$response.body#/0/id")))),
            ("MoveWindow" = (operation_id = "move_window", parameters(("id" = "$response.body#/0/id")))),
            ("ResizeWindow" = (operation_id = "resize_window", parameters(("id" = "$response.body#/0/id")))),
            ("SetWindowState" = (operation_id = "set_window_state", parameters(("id" = "$response.body#/0/id")))),
            ("CloseWindow" = (operation_id = "close_window", parameters(("id" = "$response.body#/0/id")))),
        )),
        (status = 503, body = ErrorBody)))]
async fn list_windows(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let windows = state.desktop.windows().await?;
    Ok(Json(serde_json::to_value(windows).unwrap_or_default()))
}

/// One window.
#[utoipa::path(get, path = "/api/windows/{id}", tag = "windows",
    params(("id" = u64, Path, description = "window id")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn get_window(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let window = state.desktop.window(id).await?;
    Ok(Json(serde_json::to_value(window).unwrap_or_default()))
}

fn by_id(id: u64) -> WindowParams {
    WindowParams {
        window_id: Some(id),
        window: None,
    }
}

/// Focus and raise a window.
#[utoipa::path(post, path = "/api/windows/{id}/focus", tag = "windows",
    params(("id" = u64, Path, description = "window id")),
    responses((status = 200, body = ActionOutcome), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn focus_window(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<ActionOutcome>, ApiError> {
    state
        .perform(Action::FocusWindow(by_id(id)))
        .await
        .map(Json)
}

/// Ask a window to close.
#[utoipa::path(post, path = "/api/windows/{id}/close", tag = "windows",
    params(("id" = u64, Path, description = "window id")),
    responses((status = 200, body = ActionOutcome), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn close_window(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<u64>,
) -> Result<Json<ActionOutcome>, ApiError> {
    state
        .perform(Action::CloseWindow(by_id(id)))
        .await
        .map(Json)
}

/// Move a window's content to `x`, `y`.
#[utoipa::path(post, path = "/api/windows/{id}/move", tag = "windows",
    params(("id" = u64, Path, description = "window id")), request_body = Position,
    responses((status = 200, body = ActionOutcome), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn move_window(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<u64>,
    ApiJson(to): ApiJson<Position>,
) -> Result<Json<ActionOutcome>, ApiError> {
    let params = MoveWindowParams {
        window_id: Some(id),
        window: None,
        x: to.x,
        y: to.y,
    };
    state.perform(Action::MoveWindow(params)).await.map(Json)
}

/// Resize a window's content.
#[utoipa::path(post, path = "/api/windows/{id}/resize", tag = "windows",
    params(("id" = u64, Path, description = "window id")), request_body = Size,
    responses((status = 200, body = ActionOutcome), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn resize_window(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<u64>,
    ApiJson(size): ApiJson<Size>,
) -> Result<Json<ActionOutcome>, ApiError> {
    let params = ResizeWindowParams {
        window_id: Some(id),
        window: None,
        width: size.width,
        height: size.height,
    };
    state.perform(Action::ResizeWindow(params)).await.map(Json)
}

/// Maximize, minimize or fullscreen a window, or restore it.
#[utoipa::path(post, path = "/api/windows/{id}/state", tag = "windows",
    params(("id" = u64, Path, description = "window id")), request_body = WindowStateChange,
    responses((status = 200, body = ActionOutcome), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn set_window_state(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<u64>,
    ApiJson(change): ApiJson<WindowStateChange>,
) -> Result<Json<ActionOutcome>, ApiError> {
    let params = ToggleWindowParams {
        window_id: Some(id),
        window: None,
        on: change.on,
    };
    let action = match change.state {
        WindowStateName::Maximized => Action::MaximizeWindow(params),
        WindowStateName::Minimized => Action::MinimizeWindow(params),
        WindowStateName::Fullscreen => Action::FullscreenWindow(params),
    };
    state.perform(action).await.map(Json)
}

/// Every output (monitor).
#[utoipa::path(get, path = "/api/outputs", tag = "windows",
    responses((status = 200, body = Vec<Object>), (status = 503, body = ErrorBody)))]
async fn list_outputs(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    match state.desktop.request(digios_ipc::Request::Outputs).await? {
        digios_ipc::Response::Outputs { outputs } => {
            Ok(Json(serde_json::to_value(outputs).unwrap_or_default()))
        }
        other => Err(crate::desktop::unexpected(other).into()),
    }
}

/// Start an app by name (see `[actions] apps`) or a command line.
#[utoipa::path(post, path = "/api/apps/launch", tag = "windows", request_body = LaunchParams,
    responses((status = 200, body = ActionOutcome), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 503, body = ErrorBody)))]
async fn launch_app(
    State(state): State<AppState>,
    ApiJson(params): ApiJson<LaunchParams>,
) -> Result<Json<ActionOutcome>, ApiError> {
    state.perform(Action::LaunchApp(params)).await.map(Json)
}
