//! `/api/models`: the model store — what is missing, present or verified —
//! pulls, whose progress goes to the WebSocket topic `downloads`, and the
//! choice of the language model the planner and `/v1` share.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use digios_api::SelectModel;

use super::AppState;
use super::error::{ApiError, ApiPath, ErrorBody};
use crate::events::Topic;
use crate::llm::{BackendKind, LanguageModel, LlmConfig};
use crate::models::{
    EntryStatus, FileState, ModelKind, ModelStore, PullEvent, PullOutcome, StoreError,
};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_models))
        .routes(routes!(pull_model))
        .routes(routes!(select_model))
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
    let active = state.active_model();
    let list = store.list();
    Ok(Json(
        list.iter()
            .map(|entry| {
                let mut value = entry_json(entry);
                value["pulling"] = json!(pulling.contains(&entry.id));
                value["active"] = json!(active.as_deref() == Some(entry.id.as_str()));
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

/// Load a language model from the store into the slot the planner and
/// `/v1` share, replacing the one in use once it has loaded (a task already
/// running finishes with the model it started with). Answers when the model
/// is loaded; `model_loading`, then `model_selected` or `model_load_failed`
/// go to the WebSocket topic `models`. The body may be empty.
#[utoipa::path(post, path = "/api/models/{id}/select", tag = "models",
    params(("id" = String, Path, description = "manifest id of a language model, e.g. smollm2-135m-instruct")),
    request_body(content = Option<SelectModel>, description = "optional; `{}` or nothing for the defaults"),
    responses((status = 200, body = Object),
        (status = 400, description = "malformed JSON body", body = ErrorBody),
        (status = 404, description = "no such model in the manifest", body = ErrorBody),
        (status = 409, description = "a model is loading, or this one is being pulled", body = ErrorBody),
        (status = 422, description = "not a language model, not in the store (pull it first), or unusable", body = ErrorBody),
        (status = 503, body = ErrorBody)))]
async fn select_model(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let options: SelectModel = if body.iter().all(u8::is_ascii_whitespace) {
        SelectModel::default()
    } else {
        serde_json::from_slice(&body).map_err(|err| {
            ApiError::bad_request(format!("the body is not valid JSON options: {err}"))
        })?
    };
    let store = store(&state)?;
    let entry = store
        .entry(&id)
        .map_err(|err| ApiError::not_found(err.to_string()))?;
    if entry.kind != ModelKind::Llm {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_a_language_model",
            format!("{id} is a {} model, not a language model", entry.kind),
        ));
    }
    if state
        .pulls
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(&id)
    {
        return Err(ApiError::conflict(format!(
            "{id} is being pulled; select it once the pull has finished"
        )));
    }
    let path = store.resolve(&id).map_err(|err| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "model_not_present",
            err.to_string(),
        )
        .with_details(json!({"pull": format!("/api/models/{id}/pull")}))
    })?;
    let _loading = LoadGuard::claim(&state, &id)?;
    state
        .events
        .publish(Topic::Models, "model_loading", json!({"model": id}));
    let config = local_config(&state.llm, &id, options.chat_template);
    let loaded = tokio::task::spawn_blocking(move || crate::llm::open_backend(&config, &path))
        .await
        .map_err(|err| ApiError::unavailable(format!("the loading task failed: {err}")))?;
    let model: std::sync::Arc<dyn LanguageModel> = match loaded {
        Ok(model) => model,
        Err(err) => {
            state.events.publish(
                Topic::Models,
                "model_load_failed",
                json!({"model": id, "error": err.to_string()}),
            );
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "model_unusable",
                format!("{id} did not load: {err}"),
            ));
        }
    };
    let description = model.describe();
    state.model.set(model);
    state.set_active_model(&id);
    state
        .services
        .set("model", super::services::ServiceState::Up, None);
    let reply = json!({"model": id, "state": "loaded", "description": description});
    state
        .events
        .publish(Topic::Models, "model_selected", reply.clone());
    Ok(Json(reply))
}

/// The `[llm]` settings for loading manifest model `id` locally: the
/// configured threads and context, and the configured chat template only
/// when `id` is the configured model.
fn local_config(base: &LlmConfig, id: &str, chat_template: Option<String>) -> LlmConfig {
    let mut config = base.clone();
    let configured = config.local.model.as_deref() == Some(id);
    config.backend = BackendKind::Local;
    config.local.path = None;
    config.local.model = Some(id.to_string());
    config.local.chat_template = chat_template.or(if configured {
        config.local.chat_template.take()
    } else {
        None
    });
    config
}

/// One model load at a time; a second is a 409 until the first ends.
struct LoadGuard(AppState);

impl LoadGuard {
    fn claim(state: &AppState, id: &str) -> Result<Self, ApiError> {
        let mut loading = state
            .loading_model
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(other) = loading.as_deref() {
            return Err(ApiError::conflict(format!(
                "{other} is loading; select again once it has finished (topic `models`)"
            )));
        }
        *loading = Some(id.to_string());
        Ok(Self(state.clone()))
    }
}

impl Drop for LoadGuard {
    fn drop(&mut self) {
        *self
            .0
            .loading_model
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
    }
}
