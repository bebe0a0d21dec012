//! `/api/memory`: full-text search over what digiOS remembers, and the
//! user's facts and preferences.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use digios_api::FactValue;

use super::AppState;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery, ErrorBody};
use crate::memory::{AuditEntry, Fact, FactKind, MemoryError, Provenance, SearchHit};

/// Longest fact key accepted.
const MAX_KEY_CHARS: usize = 256;
/// Largest fact value accepted.
const MAX_VALUE_BYTES: usize = 64 << 10;
/// Longest search text accepted.
const MAX_QUERY_CHARS: usize = 1000;
/// Most hits one search returns (memory caps it there too).
const MAX_HITS: u32 = 200;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search))
        .routes(routes!(list_facts))
        .routes(routes!(get_fact, put_fact, delete_fact))
        .routes(routes!(audit))
}

impl From<MemoryError> for ApiError {
    fn from(err: MemoryError) -> Self {
        let message = err.to_string();
        match err {
            MemoryError::NotFound { .. } => ApiError::not_found(message),
            MemoryError::Invalid { .. } => ApiError::invalid_params(message),
            _ => ApiError::unavailable(message),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// Free text; every word counts, the best matches come first.
    pub q: String,
    /// At most this many hits (1 to 200, default 20).
    pub limit: Option<u32>,
}

/// Search messages, task goals, steps and facts.
#[utoipa::path(get, path = "/api/memory/search", tag = "memory", params(SearchQuery),
    responses((status = 200, body = Vec<Object>), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn search(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<SearchQuery>,
) -> Result<Json<Vec<SearchHit>>, ApiError> {
    if query.q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::invalid_params(format!(
            "q is longer than {MAX_QUERY_CHARS} characters"
        )));
    }
    let limit = query.limit.unwrap_or(20);
    if !(1..=MAX_HITS).contains(&limit) {
        return Err(ApiError::invalid_params(format!(
            "limit must be 1 to {}",
            MAX_HITS
        )));
    }
    Ok(Json(state.memory.search(&query.q, limit).await?))
}

#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FactKindName {
    Fact,
    Preference,
}

impl From<FactKindName> for FactKind {
    fn from(kind: FactKindName) -> Self {
        match kind {
            FactKindName::Fact => FactKind::Fact,
            FactKindName::Preference => FactKind::Preference,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FactsQuery {
    /// Only facts or only preferences; both when absent.
    #[param(inline)]
    pub kind: Option<FactKindName>,
}

/// Every fact and preference, by kind then key.
#[utoipa::path(get, path = "/api/memory/facts", tag = "memory", params(FactsQuery),
    responses((status = 200, body = Vec<Object>), (status = 400, body = ErrorBody)))]
async fn list_facts(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<FactsQuery>,
) -> Result<Json<Vec<Fact>>, ApiError> {
    let kinds = match query.kind {
        Some(kind) => vec![kind.into()],
        None => FactKind::ALL.to_vec(),
    };
    let mut facts = Vec::new();
    for kind in kinds {
        facts.extend(state.memory.list_facts(kind).await?);
    }
    Ok(Json(facts))
}

fn check_key(key: &str) -> Result<(), ApiError> {
    if key.trim().is_empty() || key.chars().count() > MAX_KEY_CHARS {
        return Err(ApiError::invalid_params(format!(
            "key must be 1 to {MAX_KEY_CHARS} characters"
        )));
    }
    Ok(())
}

/// One fact or preference.
#[utoipa::path(get, path = "/api/memory/facts/{kind}/{key}", tag = "memory",
    params(("kind" = inline(FactKindName), Path), ("key" = String, Path)),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_fact(
    State(state): State<AppState>,
    ApiPath((kind, key)): ApiPath<(FactKindName, String)>,
) -> Result<Json<Fact>, ApiError> {
    check_key(&key)?;
    state
        .memory
        .get_fact(kind.into(), &key)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no {} named {key:?}", FactKind::from(kind))))
}

/// Set a fact or preference (the user's word: it replaces any earlier value).
#[utoipa::path(put, path = "/api/memory/facts/{kind}/{key}", tag = "memory",
    params(("kind" = inline(FactKindName), Path), ("key" = String, Path)), request_body = FactValue,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_fact(
    State(state): State<AppState>,
    ApiPath((kind, key)): ApiPath<(FactKindName, String)>,
    ApiJson(body): ApiJson<FactValue>,
) -> Result<Json<Fact>, ApiError> {
    check_key(&key)?;
    if body.value.len() > MAX_VALUE_BYTES {
        return Err(ApiError::invalid_params(format!(
            "value is larger than {MAX_VALUE_BYTES} bytes"
        )));
    }
    let fact = state
        .memory
        .set_fact(kind.into(), &key, &body.value, &Provenance::user())
        .await?;
    Ok(Json(fact))
}

/// Forget a fact or preference.
#[utoipa::path(delete, path = "/api/memory/facts/{kind}/{key}", tag = "memory",
    params(("kind" = inline(FactKindName), Path), ("key" = String, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_fact(
    State(state): State<AppState>,
    ApiPath((kind, key)): ApiPath<(FactKindName, String)>,
) -> Result<StatusCode, ApiError> {
    check_key(&key)?;
    if state.memory.forget_fact(kind.into(), &key).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "no {} named {key:?}",
            FactKind::from(kind)
        )))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this task's actions.
    pub task_id: Option<i64>,
    /// At most this many entries (1 to 1000, default 50).
    pub limit: Option<u32>,
}

/// The append-only audit log, newest first: every action's decision and outcome.
#[utoipa::path(get, path = "/api/memory/audit", tag = "memory", params(AuditQuery),
    responses((status = 200, body = Vec<Object>), (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn audit(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid_params("limit must be 1 to 1000"));
    }
    Ok(Json(state.memory.list_audit(query.task_id, limit).await?))
}
