//! `/api/voice/*`: speech to text, text to speech and the voice loop. The
//! voice service (`digios-voice`, its own process: whisper.cpp and llama.cpp
//! cannot share a binary) does the work; these routes forward to its local
//! socket, and its events are republished on the WebSocket's `voice` topic.

use std::path::PathBuf;
use std::sync::RwLock;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use digios_voice_ipc::{
    ClientError, ErrorKind, Reply, Request, TranscriptReply, VoiceClient, VoiceStatus,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ApiJson, ErrorBody};
use super::services::ServiceState;
use crate::events::Topic;

/// Largest WAV upload: ten minutes of 16 kHz 16-bit mono fits; the service
/// then refuses anything longer than its command limit by duration.
const MAX_WAV_BYTES: usize = 32 << 20;

/// Where the voice service listens; set from `[voice] socket` at start.
pub struct VoiceLink {
    socket: RwLock<PathBuf>,
}

impl VoiceLink {
    /// `$DIGIOS_VOICE_SOCKET`, else `$XDG_RUNTIME_DIR/digios-voice.sock`.
    pub fn from_env() -> Self {
        Self {
            socket: RwLock::new(digios_voice_ipc::socket_path()),
        }
    }

    pub fn set_socket(&self, socket: PathBuf) {
        *self.socket.write().unwrap_or_else(|e| e.into_inner()) = socket;
    }

    pub fn client(&self) -> VoiceClient {
        VoiceClient::new(
            self.socket
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(transcribe))
        .routes(routes!(speak))
        .routes(routes!(converse))
        .routes(routes!(listen))
        .routes(routes!(stop))
}

impl AppState {
    /// Follows the voice service's events for the life of the process: they
    /// go onto the bus (topic `voice`), and the `voice` service state tracks
    /// whether it answers. Not running at all is `disabled`, not degraded:
    /// the voice service is optional.
    pub fn follow_voice(&self) {
        let state = self.clone();
        state.services.set(
            "voice",
            ServiceState::Disabled,
            Some("the voice service (digios-voice) is not running".into()),
        );
        let spawned = std::thread::Builder::new()
            .name("voice-events".into())
            .spawn(move || {
                let mut was_up = false;
                loop {
                    let client = state.voice.client();
                    match client.events() {
                        Ok(events) => {
                            state.services.set("voice", ServiceState::Up, None);
                            was_up = true;
                            for event in events {
                                let Ok(event) = event else { break };
                                state.events.publish(Topic::Voice, event.kind, event.data);
                            }
                        }
                        Err(err) => {
                            if !was_up {
                                std::thread::sleep(Duration::from_millis(500));
                                continue;
                            }
                            tracing::debug!("voice service: {err}");
                        }
                    }
                    if was_up {
                        was_up = false;
                        let detail = "voice unavailable: the voice service stopped".to_string();
                        state
                            .services
                            .set("voice", ServiceState::Down, Some(detail.clone()));
                        state.events.publish(
                            Topic::Voice,
                            "unavailable",
                            json!({ "detail": detail }),
                        );
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
            });
        if let Err(err) = spawned {
            tracing::error!("cannot follow the voice service: {err}");
        }
    }
}

/// Sends one request to the voice service off the async runtime.
async fn call(
    state: &AppState,
    request: Request,
    payload: Vec<u8>,
) -> Result<(Reply, Vec<u8>), ApiError> {
    let client = state.voice.client();
    let (reply, payload) = tokio::task::spawn_blocking(move || client.call(&request, &payload))
        .await
        .map_err(|err| ApiError::internal(err.to_string()))?
        .map_err(unreachable)?;
    if let Reply::Error { kind, message } = reply {
        return Err(service_error(kind, message));
    }
    Ok((reply, payload))
}

fn unreachable(err: ClientError) -> ApiError {
    match err {
        ClientError::Unreachable { .. } => ApiError::unavailable(format!(
            "voice unavailable: {err}; start it with `digios-voice`"
        )),
        ClientError::Protocol(_) => ApiError::internal(err.to_string()),
    }
}

fn service_error(kind: ErrorKind, message: String) -> ApiError {
    match kind {
        ErrorKind::BadAudio => ApiError::new(StatusCode::BAD_REQUEST, "bad_audio", message),
        ErrorKind::TooLong => {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "audio_too_long", message)
        }
        ErrorKind::BadText => ApiError::invalid_params(message),
        ErrorKind::Unavailable => ApiError::unavailable(message),
        ErrorKind::Busy => ApiError::conflict(message),
        ErrorKind::Internal => ApiError::internal(message),
    }
}

fn unexpected(reply: Reply) -> ApiError {
    ApiError::internal(format!("the voice service answered out of turn: {reply:?}"))
}

/// Reads a WAV upload, refusing one announced or found to be over the limit
/// without reading the rest of it.
async fn wav_body(headers: &HeaderMap, body: Body) -> Result<Vec<u8>, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("WAV uploads are limited to {} MiB", MAX_WAV_BYTES >> 20),
        )
    };
    let announced = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > MAX_WAV_BYTES as u64) {
        return Err(too_large());
    }
    let body = axum::body::to_bytes(body, MAX_WAV_BYTES)
        .await
        .map_err(|err| {
            if err.to_string().contains("length limit") {
                too_large()
            } else {
                ApiError::bad_request(format!("cannot read the upload: {err}"))
            }
        })?;
    if body.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_audio",
            "send a WAV file as the request body (Content-Type: audio/wav)",
        ));
    }
    Ok(body.to_vec())
}

/// What the voice loop is doing, and whether it can hear.
#[utoipa::path(get, path = "/api/voice", tag = "voice",
    responses((status = 200, body = VoiceStatusView), (status = 503, body = ErrorBody)))]
async fn status(State(state): State<AppState>) -> Result<Json<VoiceStatusView>, ApiError> {
    match call(&state, Request::Status, Vec::new()).await? {
        (Reply::Status(status), _) => Ok(Json(status.into())),
        (other, _) => Err(unexpected(other)),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VoiceStatusView {
    /// `idle`, `listening`, `transcribing`, `thinking`, `speaking` or `unavailable`.
    pub state: String,
    /// Why it is unavailable, e.g. "voice unavailable: no input device".
    pub detail: Option<String>,
    /// `push_to_talk` or `wake_phrase`.
    pub activation: String,
}

impl From<VoiceStatus> for VoiceStatusView {
    fn from(status: VoiceStatus) -> Self {
        Self {
            state: status.state.as_str().to_string(),
            detail: status.detail,
            activation: serde_json::to_value(status.activation)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TranscriptView {
    /// What Whisper heard; empty when the audio held no speech.
    pub text: String,
    /// Lower-cased, punctuation removed, numbers as digits, misheard names corrected.
    pub normalized: String,
    pub audio_ms: u64,
    pub elapsed_ms: u64,
    /// No speech was found, so Whisper was not run.
    pub silent: bool,
}

impl From<TranscriptReply> for TranscriptView {
    fn from(t: TranscriptReply) -> Self {
        Self {
            text: t.text,
            normalized: t.normalized,
            audio_ms: t.audio_ms,
            elapsed_ms: t.elapsed_ms,
            silent: t.silent,
        }
    }
}

/// Speech to text: a WAV file (any rate, mono or stereo, PCM or float) in, text out.
#[utoipa::path(post, path = "/api/voice/transcribe", tag = "voice",
    request_body(content = Vec<u8>, content_type = "audio/wav", description = "a WAV file, at most 30 s of audio by default"),
    responses(
        (status = 200, body = TranscriptView),
        (status = 400, body = ErrorBody, description = "not a usable WAV file"),
        (status = 413, body = ErrorBody, description = "longer than the limit for voice commands"),
        (status = 503, body = ErrorBody, description = "the voice service is not running"),
    ))]
async fn transcribe(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<TranscriptView>, ApiError> {
    let wav = wav_body(&headers, body).await?;
    let request = Request::Transcribe {
        bytes: wav.len() as u64,
    };
    match call(&state, request, wav).await? {
        (Reply::Transcript(transcript), _) => Ok(Json(transcript.into())),
        (other, _) => Err(unexpected(other)),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpeakRequest {
    /// What to say (up to 4000 characters).
    pub text: String,
    /// Pace relative to the voice's own, 0.5 to 2 (default: `voice.speech_rate`).
    pub speed: Option<f32>,
}

/// Text to speech: text in, a WAV file of it spoken out.
#[utoipa::path(post, path = "/api/voice/speak", tag = "voice",
    request_body = SpeakRequest,
    responses(
        (status = 200, description = "16-bit mono WAV", content_type = "audio/wav"),
        (status = 422, body = ErrorBody, description = "no text, or too much"),
        (status = 503, body = ErrorBody, description = "the voice service is not running"),
    ))]
async fn speak(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<SpeakRequest>,
) -> Result<Response, ApiError> {
    let request = Request::Speak {
        text: request.text,
        speed: request.speed,
    };
    match call(&state, request, Vec::new()).await? {
        (Reply::Audio { .. }, wav) => Ok(([(CONTENT_TYPE, "audio/wav")], wav).into_response()),
        (other, _) => Err(unexpected(other)),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TurnView {
    pub transcript: TranscriptView,
    /// The command acted on.
    pub command: Option<String>,
    /// The task it became (`GET /api/tasks/{id}`).
    pub task_id: Option<i64>,
    pub task_state: Option<String>,
    /// What digiOS says back.
    pub reply: String,
    /// The reply asks a yes-or-no question; the next turn answers it.
    pub awaiting_answer: bool,
    /// The reply spoken: a WAV file, base64.
    pub audio_wav_base64: String,
    pub audio_ms: u64,
}

/// One whole voice turn on a recording made elsewhere (a phone, a browser):
/// what was said becomes a task, and the reply comes back as text and speech.
#[utoipa::path(post, path = "/api/voice/converse", tag = "voice",
    request_body(content = Vec<u8>, content_type = "audio/wav", description = "the spoken command as a WAV file"),
    responses(
        (status = 200, body = TurnView),
        (status = 400, body = ErrorBody), (status = 409, body = ErrorBody, description = "another turn is under way"),
        (status = 413, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
async fn converse(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<TurnView>, ApiError> {
    let wav = wav_body(&headers, body).await?;
    let request = Request::Converse {
        bytes: wav.len() as u64,
    };
    match call(&state, request, wav).await? {
        (Reply::Turn(turn), wav) => Ok(Json(TurnView {
            transcript: turn.transcript.into(),
            command: turn.command,
            task_id: turn.task_id,
            task_state: turn.task_state,
            reply: turn.reply,
            awaiting_answer: turn.awaiting_answer,
            audio_wav_base64: base64::engine::general_purpose::STANDARD.encode(wav),
            audio_ms: turn.duration_ms,
        })),
        (other, _) => Err(unexpected(other)),
    }
}

/// Push-to-talk: listen on the microphone for one command and act on it.
/// Progress arrives on the WebSocket's `voice` topic.
#[utoipa::path(post, path = "/api/voice/listen", tag = "voice",
    responses(
        (status = 202, description = "listening"),
        (status = 409, body = ErrorBody, description = "already listening"),
        (status = 503, body = ErrorBody, description = "no microphone, or the voice service is not running"),
    ))]
async fn listen(State(state): State<AppState>) -> Result<Response, ApiError> {
    match call(&state, Request::Listen, Vec::new()).await? {
        (Reply::Accepted, _) => {
            Ok((StatusCode::ACCEPTED, Json(json!({"state": "listening"}))).into_response())
        }
        (other, _) => Err(unexpected(other)),
    }
}

/// Stop speaking and listening now.
#[utoipa::path(post, path = "/api/voice/stop", tag = "voice",
    responses((status = 202, description = "stopping"), (status = 503, body = ErrorBody)))]
async fn stop(State(state): State<AppState>) -> Result<Response, ApiError> {
    match call(&state, Request::Stop, Vec::new()).await? {
        (Reply::Accepted, _) => {
            Ok((StatusCode::ACCEPTED, Json(json!({"state": "stopping"}))).into_response())
        }
        (other, _) => Err(unexpected(other)),
    }
}
