//! Serves a model the way OpenAI does: `POST /v1/chat/completions` (whole or streamed as
//! SSE) and `GET /v1/models`, so one digiOS can use another's model.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::{StreamExt, stream};
use tokio_util::sync::{CancellationToken, DropGuard};

use super::wire::{
    self, AssistantMessage, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, Choice,
    ChunkChoice, Delta, ErrorBody, ErrorDetail, ModelEntry, ModelList, WireUsage,
};
use crate::{
    ChatRequest, Completion, CompletionEvent, CompletionOutcome, GenerationOptions, LanguageModel,
    LlmError, ModelSlot,
};

/// Reply length when a request does not bound it.
const DEFAULT_MAX_TOKENS: u32 = 512;
/// OpenAI's default sampling temperature.
const DEFAULT_TEMPERATURE: f32 = 1.0;

#[derive(Clone)]
struct ServerState {
    slot: ModelSlot,
}

impl ServerState {
    /// The model in the slot now, or a 503 naming why there is none.
    fn model(&self) -> Result<Arc<dyn LanguageModel>, ApiError> {
        self.slot.get().map_err(|reason| {
            let mut error = ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                format!("no language model is loaded: {reason}"),
            );
            error.body.error.code = Some("unavailable".into());
            error
        })
    }
}

/// The `/v1` routes serving whatever model is in `slot` (a model selected
/// later is served from then on), ready to be served or merged into a larger router.
pub fn openai_router(slot: impl Into<ModelSlot>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(list_models))
        .with_state(ServerState { slot: slot.into() })
}

async fn list_models(State(state): State<ServerState>) -> Response {
    let model = match state.model() {
        Ok(model) => model,
        Err(error) => return error.into_response(),
    };
    Json(ModelList {
        object: "list".into(),
        data: vec![ModelEntry {
            id: model.describe().id,
            object: "model".into(),
            created: 0,
            owned_by: "digios".into(),
        }],
    })
    .into_response()
}

async fn chat_completions(State(state): State<ServerState>, body: Bytes) -> Response {
    let model = match state.model() {
        Ok(model) => model,
        Err(error) => return error.into_response(),
    };
    let wire: ChatCompletionRequest = match serde_json::from_slice(&body) {
        Ok(wire) => wire,
        Err(error) => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                format!("the body is not a chat completion request: {error}"),
            )
            .into_response();
        }
    };
    let stream = wire.stream;
    let include_usage = wire
        .stream_options
        .as_ref()
        .is_some_and(|o| o.include_usage);
    let request = match chat_request(wire) {
        Ok(request) => request,
        Err(error) => return ApiError::from(error).into_response(),
    };
    let cancel = CancellationToken::new();
    let mut completion = model.complete(request, cancel.clone());
    // Cancels generation when the client goes away and axum drops this handler or stream.
    let guard = cancel.drop_guard();
    let meta = ReplyMeta::new(model.describe().id);

    if !stream {
        return match completion.collect().await {
            Ok(outcome) => Json(meta.whole(outcome)).into_response(),
            Err(error) => ApiError::from(error).into_response(),
        };
    }
    // Errors found before the first token (a bad constraint, an overlong prompt) get an
    // HTTP status rather than an error inside a 200 stream.
    let first = match completion.next_event().await {
        Some(CompletionEvent::Finished(Err(error))) => {
            return ApiError::from(error).into_response();
        }
        first => first,
    };
    let opening = meta.chunk(
        Delta {
            role: Some("assistant".into()),
            content: None,
        },
        None,
        None,
    );
    let state = SseState {
        completion,
        first,
        meta: meta.clone(),
        include_usage,
        _guard: guard,
    };
    let events = stream::unfold(Some(state), next_sse_events)
        .flat_map(|events| stream::iter(events.into_iter().map(Ok::<_, Infallible>)));
    let opening = stream::once(async move { Ok::<_, Infallible>(json_event(&opening)) });
    Sse::new(opening.chain(events)).into_response()
}

fn chat_request(wire: ChatCompletionRequest) -> Result<ChatRequest, LlmError> {
    let messages = wire
        .messages
        .iter()
        .map(|message| message.to_chat())
        .collect::<Result<Vec<_>, _>>()?;
    let mut constraint = wire
        .response_format
        .and_then(|format| format.into_constraint());
    if let Some(grammar) = wire.grammar {
        if constraint.is_some() {
            return Err(LlmError::InvalidRequest(
                "give either response_format or grammar, not both".into(),
            ));
        }
        constraint = Some(crate::Constraint::Grammar(grammar));
    }
    Ok(ChatRequest {
        messages,
        options: GenerationOptions {
            max_tokens: wire
                .max_completion_tokens
                .or(wire.max_tokens)
                .unwrap_or(DEFAULT_MAX_TOKENS),
            temperature: wire.temperature.unwrap_or(DEFAULT_TEMPERATURE),
            top_p: wire.top_p.unwrap_or(GenerationOptions::default().top_p),
            // Any 64-bit seed maps onto llama.cpp's 32-bit one.
            seed: wire.seed.map_or(0, |seed| seed as u32),
            stop: wire.stop.map(wire::StopField::into_vec).unwrap_or_default(),
            constraint,
        },
    })
}

struct SseState {
    completion: Completion,
    first: Option<CompletionEvent>,
    meta: ReplyMeta,
    include_usage: bool,
    _guard: DropGuard,
}

/// The SSE events for the next completion event; `None` state once the reply is over.
async fn next_sse_events(state: Option<SseState>) -> Option<(Vec<Event>, Option<SseState>)> {
    let mut state = state?;
    let event = match state.first.take() {
        Some(event) => event,
        None => state.completion.next_event().await?,
    };
    match event {
        CompletionEvent::Piece(text) => {
            let chunk = state.meta.chunk(
                Delta {
                    role: None,
                    content: Some(text),
                },
                None,
                None,
            );
            Some((vec![json_event(&chunk)], Some(state)))
        }
        CompletionEvent::Finished(Ok(outcome)) => {
            let mut events = vec![json_event(&state.meta.chunk(
                Delta::default(),
                Some(wire::finish_reason(outcome.stop_reason)),
                None,
            ))];
            if state.include_usage {
                let mut usage_chunk = state.meta.chunk(Delta::default(), None, None);
                usage_chunk.choices.clear();
                usage_chunk.usage = Some(WireUsage::from(&outcome.usage));
                events.push(json_event(&usage_chunk));
            }
            events.push(Event::default().data("[DONE]"));
            Some((events, None))
        }
        CompletionEvent::Finished(Err(error)) => {
            let body = ApiError::from(error).body;
            Some((vec![json_event(&body)], None))
        }
    }
}

fn json_event(value: &impl serde::Serialize) -> Event {
    Event::default().data(serde_json::to_string(value).unwrap_or_else(|_| "{}".into()))
}

/// What every chunk of one reply shares.
#[derive(Clone)]
struct ReplyMeta {
    id: String,
    created: u64,
    model: String,
}

impl ReplyMeta {
    fn new(model: String) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        Self {
            id: format!(
                "chatcmpl-{created:x}-{}",
                NEXT_ID.fetch_add(1, Ordering::Relaxed)
            ),
            created,
            model,
        }
    }

    fn whole(&self, outcome: CompletionOutcome) -> ChatCompletion {
        ChatCompletion {
            id: self.id.clone(),
            object: "chat.completion".into(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![Choice {
                index: 0,
                message: AssistantMessage {
                    role: "assistant".into(),
                    content: Some(outcome.text),
                },
                finish_reason: Some(wire::finish_reason(outcome.stop_reason).into()),
            }],
            usage: Some(WireUsage::from(&outcome.usage)),
        }
    }

    fn chunk(
        &self,
        delta: Delta,
        finish_reason: Option<&str>,
        usage: Option<WireUsage>,
    ) -> ChatCompletionChunk {
        ChatCompletionChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".into(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish_reason.map(str::to_string),
            }],
            usage,
        }
    }
}

/// An OpenAI-shaped error reply.
struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

impl ApiError {
    fn new(status: StatusCode, kind: &str, message: String) -> Self {
        Self {
            status,
            body: ErrorBody {
                error: ErrorDetail {
                    message,
                    kind: kind.into(),
                    code: None,
                },
            },
        }
    }
}

impl From<LlmError> for ApiError {
    fn from(error: LlmError) -> Self {
        let (status, kind) = match &error {
            LlmError::InvalidRequest(_)
            | LlmError::InvalidConstraint(_)
            | LlmError::ContextOverflow { .. } => {
                (StatusCode::BAD_REQUEST, "invalid_request_error")
            }
            LlmError::BackendGone => (StatusCode::SERVICE_UNAVAILABLE, "server_error"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        };
        ApiError::new(status, kind, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}
