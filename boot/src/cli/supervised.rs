//! What the agent learns from, and asks of, the supervisor that started it:
//! the services' states (from the supervisor's status file, into
//! `/api/status`) and reboot or power-off requests (signals to init).

use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use digios_agent::api::AppState;
use digios_agent::api::error::ApiError;
use digios_agent::api::services::ServiceState;

use crate::supervisor::StatusFile;
use crate::supervisor::status::STATUS_ENV;

/// Services whose state the agent observes itself, more precisely than the
/// supervisor can (the compositor: whether its control socket answers).
const OBSERVED_BY_AGENT: &[&str] = &["compositor"];

/// Mirrors the supervisor's status file into the API's service states, for
/// the life of the process.
pub fn follow_status(state: &AppState) {
    let Some(path) = status_path() else {
        return;
    };
    let state = state.clone();
    tokio::spawn(async move {
        loop {
            if let Ok(document) = StatusFile::read(&path) {
                for report in document.services {
                    if OBSERVED_BY_AGENT.contains(&report.name.as_str()) {
                        continue;
                    }
                    let (service_state, detail) = match report.state.as_str() {
                        "running" => (ServiceState::Up, None),
                        "finished" => (ServiceState::Up, Some("completed".to_string())),
                        "restarting" => (ServiceState::Starting, report.last_exit.clone()),
                        _ => (ServiceState::Down, report.last_exit.clone()),
                    };
                    // This process answering is proof the agent is up.
                    let service_state = if report.name == "agent" {
                        ServiceState::Up
                    } else {
                        service_state
                    };
                    state.services.set(&report.name, service_state, detail);
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

fn status_path() -> Option<PathBuf> {
    std::env::var_os(STATUS_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `POST /api/system/reboot` and `POST /api/system/poweroff`: ask init for an
/// orderly stop. Only when digiOS is the system's init; hosted it is a 409.
pub fn power_routes() -> Router {
    Router::new()
        .route(
            "/api/system/reboot",
            axum::routing::post(|| async { request_power(PowerRequest::Reboot) }),
        )
        .route(
            "/api/system/poweroff",
            axum::routing::post(|| async { request_power(PowerRequest::Poweroff) }),
        )
}

#[derive(Debug, Clone, Copy)]
enum PowerRequest {
    Reboot,
    Poweroff,
}

fn request_power(request: PowerRequest) -> Response {
    let supervisor = status_path().and_then(|path| StatusFile::read(&path).ok());
    let Some(document) = supervisor.filter(|d| d.supervisor_pid == 1) else {
        return ApiError::new(
            StatusCode::CONFLICT,
            "not_init",
            "digiOS is not this system's init (it runs hosted); reboot or power off the host instead",
        )
        .into_response();
    };
    let signal = match request {
        PowerRequest::Reboot => crate::init::signals::REBOOT,
        PowerRequest::Poweroff => crate::init::signals::POWEROFF,
    };
    let pid = nix::unistd::Pid::from_raw(document.supervisor_pid as i32);
    match nix::sys::signal::kill(pid, signal) {
        Ok(()) => {
            let action = match request {
                PowerRequest::Reboot => "reboot",
                PowerRequest::Poweroff => "poweroff",
            };
            tracing::info!("{action} requested through the API");
            (
                StatusCode::ACCEPTED,
                axum::Json(serde_json::json!({ "accepted": action })),
            )
                .into_response()
        }
        Err(err) => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "signal_failed",
            format!("cannot signal init ({signal:?}): {err}"),
        )
        .into_response(),
    }
}
