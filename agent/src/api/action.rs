//! `POST /api/action`: any action of the catalogue, in the seed's shape.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ApiJson, ApiQuery, ErrorBody};
use crate::actions::{self, ActionOutcome, ActionRequest, ActionSpec};
use crate::gate::Refusal;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(perform))
        .routes(routes!(catalogue))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ActionQuery {
    /// The user agreed to a confirm-tier action (see the safety policy).
    #[serde(default)]
    pub confirm: bool,
}

/// Carry out one action, e.g. `{"action_type": "click", "params": {"x": 500, "y": 300}}`.
#[utoipa::path(post, path = "/api/action", tag = "actions",
    request_body = ActionRequest, params(ActionQuery),
    responses(
        (status = 200, body = ActionOutcome),
        (status = 400, description = "malformed JSON or unknown action_type", body = ErrorBody),
        (status = 403, description = "denied by the safety policy, confirmation required, or outside the file roots", body = ErrorBody),
        (status = 404, description = "no such window, app, file or process", body = ErrorBody),
        (status = 409, description = "the target's state conflicts (exists, not empty)", body = ErrorBody),
        (status = 422, description = "invalid params", body = ErrorBody),
        (status = 503, description = "the compositor is not running", body = ErrorBody),
    ))]
async fn perform(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ActionQuery>,
    ApiJson(request): ApiJson<ActionRequest>,
) -> Result<Json<ActionOutcome>, ApiError> {
    let action = actions::parse(&request)?;
    state
        .perform_checked(action, request.params, query.confirm)
        .await
        .map(Json)
}

/// Every action type with its description, risk tier and params schema.
#[utoipa::path(get, path = "/api/actions", tag = "actions",
    responses((status = 200, body = Vec<ActionSpec>)))]
async fn catalogue() -> Json<Vec<ActionSpec>> {
    Json(actions::catalogue())
}

/// How the API answers for the gate: each refusal its status and code.
impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        let message = refusal.to_string();
        match refusal {
            Refusal::KillSwitch => crate::policy::KillSwitchEngaged.into(),
            Refusal::Denied { .. } => ApiError::new(StatusCode::FORBIDDEN, "denied", message),
            Refusal::ConfirmationRequired { risk, reason } => ApiError::new(
                StatusCode::FORBIDDEN,
                "confirmation_required",
                format!("{message}; resend with ?confirm=true once they agree"),
            )
            .with_details(serde_json::json!({"risk": risk, "reason": reason})),
            Refusal::Declined(_) => ApiError::new(StatusCode::FORBIDDEN, "declined", message),
            Refusal::AuditUnavailable(_) => ApiError::unavailable(message),
            Refusal::TimedOut { .. } => {
                ApiError::new(StatusCode::GATEWAY_TIMEOUT, "timed_out", message)
            }
            Refusal::Failed(err) => err.into(),
        }
    }
}
