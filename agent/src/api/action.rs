//! `POST /api/action`: any action of the catalogue, in the seed's shape.

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ApiJson, ErrorBody};
use crate::actions::{self, ActionOutcome, ActionRequest, ActionSpec};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(perform))
        .routes(routes!(catalogue))
}

/// Carry out one action, e.g. `{"action_type": "click", "params": {"x": 500, "y": 300}}`.
#[utoipa::path(post, path = "/api/action", tag = "actions",
    request_body = ActionRequest,
    responses(
        (status = 200, body = ActionOutcome),
        (status = 400, description = "malformed JSON or unknown action_type", body = ErrorBody),
        (status = 404, description = "no such window or app", body = ErrorBody),
        (status = 422, description = "invalid params", body = ErrorBody),
        (status = 503, description = "the compositor is not running", body = ErrorBody),
    ))]
async fn perform(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ActionRequest>,
) -> Result<Json<ActionOutcome>, ApiError> {
    let action = actions::parse(&request)?;
    state.perform(action).await.map(Json)
}

/// Every action type with its description, risk tier and params schema.
#[utoipa::path(get, path = "/api/actions", tag = "actions",
    responses((status = 200, body = Vec<ActionSpec>)))]
async fn catalogue() -> Json<Vec<ActionSpec>> {
    Json(actions::catalogue())
}
