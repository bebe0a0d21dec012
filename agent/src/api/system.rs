//! Status, capabilities: what digiOS is running and what it can do.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::services::{ServiceState, ServiceStatus};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(capabilities))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// `ok` when every service is up, else `degraded`.
    pub status: String,
    pub version: String,
    pub uptime_seconds: f64,
    pub services: Vec<ServiceStatus>,
    /// While engaged, no task runs and no input is injected.
    pub kill_switch: super::tasks::KillSwitchState,
}

/// Health of digiOS and each of its services.
#[utoipa::path(get, path = "/api/status", tag = "system",
    responses((status = 200, body = Status)))]
async fn status(State(state): State<AppState>) -> Json<Status> {
    let services = state.services.all();
    let healthy = services
        .iter()
        .all(|s| matches!(s.state, ServiceState::Up | ServiceState::Disabled));
    Json(Status {
        status: if healthy { "ok" } else { "degraded" }.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        uptime_seconds: state.started.elapsed().as_secs_f64(),
        services,
        kill_switch: super::tasks::KillSwitchState {
            engaged: state.kill_switch.is_engaged(),
        },
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Capabilities {
    pub api_version: u32,
    /// Event topics a WebSocket client may subscribe to.
    pub event_topics: Vec<crate::events::Topic>,
    /// Whether a bearer token is demanded on this bind.
    pub token_required: bool,
    /// Every action `/api/action` accepts.
    pub actions: Vec<crate::actions::ActionSpec>,
}

/// What this digiOS can do: action types, event topics, features.
#[utoipa::path(get, path = "/api/capabilities", tag = "system",
    responses((status = 200, body = Capabilities)))]
async fn capabilities(State(state): State<AppState>) -> Json<Capabilities> {
    Json(Capabilities {
        api_version: 1,
        event_topics: crate::events::Topic::ALL.to_vec(),
        token_required: state.config.needs_token(),
        actions: crate::actions::catalogue(),
    })
}
