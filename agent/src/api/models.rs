//! `/api/models`: the model store — what is missing, present or verified —
//! and pulls, whose progress goes to the WebSocket topic `downloads`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ApiPath, ErrorBody};
use super::events::Topic;
use crate::models::{EntryStatus, FileState, ModelStore, PullEvent, PullOutcome, StoreError};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_models))
        .routes(routes!(pull_model))
}

fn store(state: &AppState) -> Result<&ModelStore, ApiError> {
    state
        .models
        .as_ref()
        .ok_or_else(|| ApiError::unavailable("this agent has no model store configured"))
}

/// One state for a whole model: its weakest file's.
fn summary(entry: &EntryStatus) -> &'static str {
    let states: Vec<FileState> = entry.files.iter().map(|f| f.state).collect();
    if states.iter().all(|s| *s == FileState::Verified) {
        "verified"
    } else if states
        .iter()
        .all(|s| matches!(s, FileState::Verified | FileState::Present))
    {
        "present"
    } else {
        "missing"
    }
}

fn entry_json(entry: &EntryStatus) -> Value {
    let mut value = serde_json::to_value(entry).unwrap_or(Value::Null);
    value["state"] = json!(summary(entry));
    value
}

/// Every model the manifest knows, with its state (`missing`, `present`,
/// `verified`) and each file's, and whether a pull is under way.
#[utoipa::path(get, path = "/api/models", tag = "models",
    responses((status = 200, body = Vec<Object>), (status = 503, body = ErrorBody)))]
async fn list_models(State(state): State<AppState>) -> Result<Json<Vec<Value>>, ApiError> {
    let store = store(&state)?;
    let pulling = state
        .pulls
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let list = store.list();
    Ok(Json(
        list.iter()
            .map(|entry| {
                let mut value = entry_json(entry);
                value["pulling"] = json!(pulling.contains(&entry.id));
                value
            })
            .collect(),
    ))
}

/// Start pulling a model into the store. Answers 202 at once; progress
/// (`download_progress`, ...) and the end (`pull_finished` or `pull_failed`)
/// arrive as events on the WebSocket topic `downloads`.
#[utoipa::path(post, path = "/api/models/{id}/pull", tag = "models",
    params(("id" = String, Path, description = "manifest id, e.g. smollm2-135m-instruct")),
    responses((status = 202, body = Object), (status = 404, body = ErrorBody),
        (status = 409, description = "a pull of this model is already under way", body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn pull_model(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let store = store(&state)?;
    store
        .entry(&id)
        .map_err(|err| ApiError::not_found(err.to_string()))?;
    {
        let mut pulls = state.pulls.lock().unwrap_or_else(|e| e.into_inner());
        if !pulls.insert(id.clone()) {
            return Err(ApiError::conflict(format!(
                "{id} is already being pulled; follow the downloads topic"
            )));
        }
    }
    let task_state = state.clone();
    let model = id.clone();
    tokio::spawn(async move {
        let state = task_state;
        let events = &state.events;
        let publish = |event: PullEvent| {
            let mut data = serde_json::to_value(&event).unwrap_or(Value::Null);
            let kind = data["event"].as_str().unwrap_or("progress").to_string();
            data["model"] = json!(model);
            events.publish(Topic::Downloads, kind, data);
        };
        let result = match state.models.as_ref() {
            Some(store) => store.pull(&model, &publish).await,
            None => Err(StoreError::UnknownModel(model.clone())),
        };
        match result {
            Ok(outcome) => {
                let downloaded = matches!(outcome, PullOutcome::Downloaded);
                let status = state
                    .models
                    .as_ref()
                    .and_then(|store| store.status(&model).ok())
                    .map(|entry| entry_json(&entry));
                events.publish(
                    Topic::Downloads,
                    "pull_finished",
                    json!({"model": model, "downloaded": downloaded, "status": status}),
                );
            }
            Err(err) => {
                events.publish(
                    Topic::Downloads,
                    "pull_failed",
                    json!({"model": model, "error": err.to_string()}),
                );
            }
        }
        state
            .pulls
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&model);
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"model": id, "state": "pulling", "events": "downloads"})),
    ))
}
