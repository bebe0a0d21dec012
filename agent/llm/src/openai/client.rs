//! Chat completions from any OpenAI-compatible server (llama.cpp server, vLLM, another
//! digiOS), streamed over SSE or in one piece, with timeouts and retries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::StatusCode;
use tokio_util::sync::CancellationToken;

use super::sse::SseDecoder;
use super::wire::{
    self, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ErrorBody, JsonSchemaFormat,
    ModelList, ResponseFormat, StopField, StreamOptions, WireMessage,
};
use crate::completion::CompletionSender;
use crate::{
    ChatRequest, Completion, CompletionOutcome, Constraint, LanguageModel, LlmError,
    ModelDescription, RemoteConfig, StopReason, Usage,
};

/// Longest wait between retries, whatever the server's `Retry-After` says.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How much of an error body ends up in an error message.
const ERROR_BODY_CHARS: usize = 300;

#[derive(Clone, PartialEq)]
pub struct RemoteSettings {
    /// Base URL including the API prefix, e.g. `http://127.0.0.1:8080/v1`.
    pub base_url: String,
    pub model: String,
    pub api_key: Option<String>,
    /// For the response head and, while streaming, for each next chunk.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub retries: u32,
    /// The first retry waits this long; each next one twice as long.
    pub backoff: Duration,
    pub stream: bool,
    pub json_schema: bool,
}

impl std::fmt::Debug for RemoteSettings {
    // The API key stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteSettings")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("retries", &self.retries)
            .field("backoff", &self.backoff)
            .field("stream", &self.stream)
            .field("json_schema", &self.json_schema)
            .finish()
    }
}

impl RemoteSettings {
    pub fn new(base_url: impl Into<String>, model: impl Into<String>) -> Self {
        let config = RemoteConfig::default();
        Self {
            base_url: base_url.into(),
            model: model.into(),
            api_key: None,
            timeout: Duration::from_secs(config.timeout_secs),
            connect_timeout: Duration::from_secs(config.connect_timeout_secs),
            retries: config.retries,
            backoff: Duration::from_millis(250),
            stream: config.stream,
            json_schema: config.json_schema,
        }
    }

    /// Settings from `[llm.remote]`; reads the API key from its environment variable.
    pub fn from_config(config: &RemoteConfig) -> Result<Self, LlmError> {
        let api_key = match &config.api_key_env {
            None => None,
            Some(var) => {
                Some(std::env::var(var).map_err(|_| LlmError::MissingApiKey { var: var.clone() })?)
            }
        };
        Ok(Self {
            api_key,
            timeout: Duration::from_secs(config.timeout_secs),
            connect_timeout: Duration::from_secs(config.connect_timeout_secs),
            retries: config.retries,
            stream: config.stream,
            json_schema: config.json_schema,
            ..Self::new(config.base_url.clone(), config.model.clone())
        })
    }

    pub fn with_stream(mut self, stream: bool) -> Self {
        self.stream = stream;
        self
    }

    pub fn with_retries(mut self, retries: u32, backoff: Duration) -> Self {
        self.retries = retries;
        self.backoff = backoff;
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// A model behind an OpenAI-compatible server. Needs a Tokio runtime: requests run as
/// tasks on the runtime the caller is in.
#[derive(Debug, Clone)]
pub struct OpenAiClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    settings: RemoteSettings,
    completions_url: String,
    models_url: String,
}

impl OpenAiClient {
    pub fn new(settings: RemoteSettings) -> Result<Self, LlmError> {
        let base = settings.base_url.trim().trim_end_matches('/').to_string();
        reqwest::Url::parse(&base)
            .map_err(|error| LlmError::InvalidRequest(format!("base URL {base:?}: {error}")))?;
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .build()
            .map_err(|error| LlmError::Backend(format!("HTTP client: {error}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                completions_url: format!("{base}/chat/completions"),
                models_url: format!("{base}/models"),
                settings,
            }),
        })
    }

    /// The ids the server lists at `/models`.
    pub async fn list_models(&self) -> Result<Vec<String>, LlmError> {
        let inner = &self.inner;
        let url = &inner.models_url;
        let mut request = inner.http.get(url);
        if let Some(key) = &inner.settings.api_key {
            request = request.bearer_auth(key);
        }
        let response = tokio::time::timeout(inner.settings.timeout, request.send())
            .await
            .map_err(|_| inner.timeout_error(url))?
            .map_err(|error| inner.transport_error(url, &error))?;
        let status = response.status();
        let body = tokio::time::timeout(inner.settings.timeout, response.bytes())
            .await
            .map_err(|_| inner.timeout_error(url))?
            .map_err(|error| inner.transport_error(url, &error))?;
        if !status.is_success() {
            return Err(status_error(url, status, &body));
        }
        let list: ModelList =
            serde_json::from_slice(&body).map_err(|error| LlmError::Protocol {
                url: url.clone(),
                reason: format!("invalid model list ({error}): {}", excerpt(&body)),
            })?;
        Ok(list.data.into_iter().map(|model| model.id).collect())
    }
}

impl LanguageModel for OpenAiClient {
    fn describe(&self) -> ModelDescription {
        ModelDescription {
            id: self.inner.settings.model.clone(),
            backend: "openai".into(),
            context_length: None,
        }
    }

    fn complete(&self, request: ChatRequest, cancel: CancellationToken) -> Completion {
        if let Err(error) = request.check() {
            return Completion::failed(error);
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Completion::failed(LlmError::Backend(
                "the OpenAI client must be used inside a Tokio runtime".into(),
            ));
        };
        let (sender, completion) = Completion::channel();
        let inner = self.inner.clone();
        runtime.spawn(async move {
            let result = inner.exchange(&request, &sender, &cancel).await;
            sender.finish(result).await;
        });
        completion
    }
}

/// What a streamed or whole reply has produced so far.
struct Progress {
    text: String,
    started: Instant,
    first_piece: Option<Instant>,
    pieces: u32,
    finish_reason: Option<String>,
    usage: Option<wire::WireUsage>,
}

impl Progress {
    fn new() -> Self {
        Self {
            text: String::new(),
            started: Instant::now(),
            first_piece: None,
            pieces: 0,
            finish_reason: None,
            usage: None,
        }
    }

    /// Records a piece and hands it on; false when the reader is gone.
    async fn piece(&mut self, content: String, sender: &CompletionSender) -> bool {
        if content.is_empty() {
            return true;
        }
        self.first_piece.get_or_insert_with(Instant::now);
        self.pieces += 1;
        self.text.push_str(&content);
        sender.piece(content).await
    }

    fn outcome(self, stop_reason: StopReason) -> CompletionOutcome {
        let now = Instant::now();
        let first = self.first_piece.unwrap_or(now);
        let wire = self.usage.unwrap_or_default();
        CompletionOutcome {
            text: self.text,
            stop_reason,
            usage: Usage {
                prompt_tokens: wire.prompt_tokens,
                cached_prompt_tokens: 0,
                completion_tokens: if self.usage.is_some() {
                    wire.completion_tokens
                } else {
                    self.pieces
                },
                prompt_ms: (first - self.started).as_secs_f64() * 1000.0,
                generation_ms: (now - first).as_secs_f64() * 1000.0,
            },
        }
    }
}

impl Inner {
    fn body(&self, request: &ChatRequest) -> ChatCompletionRequest {
        let options = &request.options;
        let stream = self.settings.stream;
        let (response_format, grammar) = match &options.constraint {
            None => (None, None),
            Some(Constraint::JsonSchema(schema)) if self.settings.json_schema => (
                Some(ResponseFormat::JsonSchema {
                    json_schema: JsonSchemaFormat {
                        name: "reply".into(),
                        schema: schema.clone(),
                        strict: Some(true),
                    },
                }),
                None,
            ),
            // Without server support the reply is only checked when parsed.
            Some(Constraint::JsonSchema(_)) => (None, None),
            Some(Constraint::Grammar(grammar)) => (None, Some(grammar.clone())),
        };
        ChatCompletionRequest {
            model: self.settings.model.clone(),
            messages: request
                .messages
                .iter()
                .map(WireMessage::from_chat)
                .collect(),
            max_tokens: Some(options.max_tokens),
            max_completion_tokens: None,
            temperature: Some(options.temperature),
            top_p: (options.temperature > 0.0).then_some(options.top_p),
            seed: Some(i64::from(options.seed)),
            stop: (!options.stop.is_empty()).then(|| StopField::Many(options.stop.clone())),
            stream,
            stream_options: stream.then_some(StreamOptions {
                include_usage: true,
            }),
            response_format,
            grammar,
        }
    }

    async fn exchange(
        &self,
        request: &ChatRequest,
        sender: &CompletionSender,
        cancel: &CancellationToken,
    ) -> Result<CompletionOutcome, LlmError> {
        let body = self.body(request);
        let mut progress = Progress::new();
        let Some(response) = self.send_with_retries(&body, cancel).await? else {
            return Ok(progress.outcome(StopReason::Cancelled));
        };
        if body.stream {
            self.read_stream(response, &mut progress, sender, cancel)
                .await
                .map(|stop| progress.outcome(stop))
        } else {
            self.read_whole(response, &mut progress, sender, cancel)
                .await
                .map(|stop| progress.outcome(stop))
        }
    }

    /// Sends the request until it succeeds, fails for good, or is cancelled (`None`).
    async fn send_with_retries(
        &self,
        body: &ChatCompletionRequest,
        cancel: &CancellationToken,
    ) -> Result<Option<reqwest::Response>, LlmError> {
        let url = &self.completions_url;
        let mut attempt = 0u32;
        loop {
            let mut request = self.http.post(url).json(body);
            if let Some(key) = &self.settings.api_key {
                request = request.bearer_auth(key);
            }
            let sent = tokio::select! {
                _ = cancel.cancelled() => return Ok(None),
                sent = tokio::time::timeout(self.settings.timeout, request.send()) => sent,
            };
            let (error, retry_after) = match sent {
                Err(_) => (self.timeout_error(url), None),
                Ok(Err(error)) => (self.transport_error(url, &error), None),
                Ok(Ok(response)) if response.status().is_success() => return Ok(Some(response)),
                Ok(Ok(response)) => {
                    let status = response.status();
                    let retry_after = retry_after(&response);
                    let body = tokio::time::timeout(self.settings.timeout, response.bytes())
                        .await
                        .ok()
                        .and_then(Result::ok)
                        .unwrap_or_default();
                    (status_error(url, status, &body), retry_after)
                }
            };
            if !error.is_transient() || attempt >= self.settings.retries {
                return Err(error);
            }
            let backoff = self.settings.backoff.saturating_mul(1 << attempt.min(16));
            let delay = retry_after.unwrap_or(backoff).min(MAX_BACKOFF);
            tracing::warn!(%error, attempt, ?delay, "model server request failed; retrying");
            attempt += 1;
            tokio::select! {
                _ = cancel.cancelled() => return Ok(None),
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    async fn read_whole(
        &self,
        response: reqwest::Response,
        progress: &mut Progress,
        sender: &CompletionSender,
        cancel: &CancellationToken,
    ) -> Result<StopReason, LlmError> {
        let url = &self.completions_url;
        let body = tokio::select! {
            _ = cancel.cancelled() => return Ok(StopReason::Cancelled),
            body = tokio::time::timeout(self.settings.timeout, response.bytes()) => body,
        };
        let body = body
            .map_err(|_| self.timeout_error(url))?
            .map_err(|error| self.transport_error(url, &error))?;
        let completion: ChatCompletion =
            serde_json::from_slice(&body).map_err(|error| LlmError::Protocol {
                url: url.clone(),
                reason: format!("invalid JSON ({error}): {}", excerpt(&body)),
            })?;
        let Some(choice) = completion.choices.into_iter().next() else {
            return Err(LlmError::Protocol {
                url: url.clone(),
                reason: "the reply has no choices".into(),
            });
        };
        progress.usage = completion.usage;
        progress.first_piece = Some(Instant::now());
        let finish = choice.finish_reason.as_deref().map(wire::stop_reason);
        if !progress
            .piece(choice.message.content.unwrap_or_default(), sender)
            .await
        {
            return Ok(StopReason::Cancelled);
        }
        Ok(finish.unwrap_or(StopReason::EndOfText))
    }

    async fn read_stream(
        &self,
        response: reqwest::Response,
        progress: &mut Progress,
        sender: &CompletionSender,
        cancel: &CancellationToken,
    ) -> Result<StopReason, LlmError> {
        let url = &self.completions_url;
        let mut bytes = response.bytes_stream();
        let mut decoder = SseDecoder::default();
        loop {
            let next = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Ok(StopReason::Cancelled),
                next = tokio::time::timeout(self.settings.timeout, bytes.next()) => next,
            };
            let (events, ended) = match next.map_err(|_| self.timeout_error(url))? {
                Some(chunk) => {
                    let chunk = chunk.map_err(|error| LlmError::Connect {
                        url: url.clone(),
                        reason: format!("the stream broke off: {}", error_chain(&error)),
                    })?;
                    (decoder.push(&chunk), false)
                }
                None => (decoder.finish().into_iter().collect(), true),
            };
            for data in events {
                if data.trim() == "[DONE]" {
                    return Ok(self.stop_reason(progress));
                }
                if !self.stream_event(&data, progress, sender).await? {
                    return Ok(StopReason::Cancelled);
                }
            }
            if ended {
                break;
            }
        }
        // Some servers close without `[DONE]`; a finish reason still marks a whole reply.
        if progress.finish_reason.is_some() {
            return Ok(self.stop_reason(progress));
        }
        Err(LlmError::Protocol {
            url: url.clone(),
            reason: "the stream ended before the reply was complete".into(),
        })
    }

    fn stop_reason(&self, progress: &Progress) -> StopReason {
        progress
            .finish_reason
            .as_deref()
            .map_or(StopReason::EndOfText, wire::stop_reason)
    }

    /// Handles one SSE data payload; false when the reader is gone.
    async fn stream_event(
        &self,
        data: &str,
        progress: &mut Progress,
        sender: &CompletionSender,
    ) -> Result<bool, LlmError> {
        let url = &self.completions_url;
        let value: serde_json::Value =
            serde_json::from_str(data).map_err(|error| LlmError::Protocol {
                url: url.clone(),
                reason: format!(
                    "invalid JSON in the stream ({error}): {}",
                    excerpt(data.as_bytes())
                ),
            })?;
        if let Ok(refusal) = serde_json::from_value::<ErrorBody>(value.clone()) {
            return Err(LlmError::Inference(format!(
                "{url} reported an error mid-stream: {}",
                refusal.error.message
            )));
        }
        let chunk: ChatCompletionChunk =
            serde_json::from_value(value).map_err(|error| LlmError::Protocol {
                url: url.clone(),
                reason: format!(
                    "not a chat completion chunk ({error}): {}",
                    excerpt(data.as_bytes())
                ),
            })?;
        if chunk.usage.is_some() {
            progress.usage = chunk.usage;
        }
        for choice in chunk.choices.into_iter().filter(|choice| choice.index == 0) {
            if let Some(content) = choice.delta.content
                && !progress.piece(content, sender).await
            {
                return Ok(false);
            }
            if choice.finish_reason.is_some() {
                progress.finish_reason = choice.finish_reason;
            }
        }
        Ok(true)
    }

    fn timeout_error(&self, url: &str) -> LlmError {
        LlmError::Timeout {
            url: url.to_string(),
            seconds: self.settings.timeout.as_secs(),
        }
    }

    fn transport_error(&self, url: &str, error: &reqwest::Error) -> LlmError {
        if error.is_timeout() {
            return self.timeout_error(url);
        }
        LlmError::Connect {
            url: url.to_string(),
            reason: error_chain(error),
        }
    }
}

fn status_error(url: &str, status: StatusCode, body: &[u8]) -> LlmError {
    let message = serde_json::from_slice::<ErrorBody>(body)
        .map(|refusal| refusal.error.message)
        .unwrap_or_else(|_| excerpt(body));
    LlmError::Status {
        url: url.to_string(),
        status: status.as_u16(),
        message,
    }
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?;
    let seconds: u64 = value.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "(empty body)".into();
    }
    let mut cut: String = text.chars().take(ERROR_BODY_CHARS).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
