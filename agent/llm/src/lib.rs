//! Language models behind one trait: llama.cpp in process, or any OpenAI-compatible server.
//!
//! Every backend answers [`LanguageModel::complete`] with a [`Completion`]: a stream of text
//! pieces that ends in one [`CompletionOutcome`] (the whole text, why it stopped, token counts
//! and timings) or an [`LlmError`]. Dropping the stream or triggering the request's
//! [`CancellationToken`] stops generation.
//!
//! - [`LocalModel`]: a GGUF model run by llama.cpp on a dedicated thread, with the KV cache kept
//!   between calls so a repeated prompt prefix (the planner's system prompt) is evaluated once.
//! - [`OpenAiClient`]: chat completions from any OpenAI-compatible server.
//!   The default model, SmolLM2-135M-Instruct, carries its ChatML template in the GGUF.
//!   Gemma 3 270M is a base model without one: load it with the built-in `gemma` template
//!   (`chat_template = "gemma"`) and give it few-shot examples; its free chat is poor, and
//!   only grammar-constrained output (tool calls) is dependable.
//! - [`openai_router`]: serves a model at `/v1/chat/completions` and `/v1/models`, so one digiOS
//!   can use another's model.

mod chat;
mod completion;
mod config;
mod error;
mod llama;
mod openai;
mod slot;
mod structured;
mod text_stream;

pub use chat::{ChatMessage, ChatRequest, Constraint, GenerationOptions, Role};
pub use completion::{
    Completion, CompletionEvent, CompletionOutcome, CompletionSender, StopReason, Usage,
};
pub use config::{BackendKind, LlmConfig, LocalConfig, RemoteConfig};
pub use error::LlmError;
pub use llama::{LocalModel, LocalModelSettings};
pub use openai::{OpenAiClient, RemoteSettings, openai_router};
pub use slot::ModelSlot;
pub use structured::{parse_json_output, unbounded_strings};
pub use tokio_util::sync::CancellationToken;

use std::sync::Arc;

/// What a backend says about the model it runs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelDescription {
    /// The name clients use for this model (`/v1/models`, the `model` field of a request).
    pub id: String,
    /// `llama.cpp` or `openai`.
    pub backend: String,
    /// Tokens of context, when known.
    pub context_length: Option<u32>,
}

/// A chat model. Object-safe: callers hold an `Arc<dyn LanguageModel>`.
pub trait LanguageModel: Send + Sync {
    fn describe(&self) -> ModelDescription;

    /// Starts a completion and returns at once; the work happens off the caller's task.
    /// Triggering `cancel` (or dropping the returned stream) stops it; a cancelled completion
    /// still finishes with the text produced so far and [`StopReason::Cancelled`].
    fn complete(&self, request: ChatRequest, cancel: CancellationToken) -> Completion;
}

/// Builds the backend the configuration names. `local_model_path` is the GGUF file resolved
/// from the model store; it is ignored for the remote backend. Loading a local model blocks
/// for a moment: call this from a blocking context.
pub fn open_backend(
    config: &LlmConfig,
    local_model_path: &std::path::Path,
) -> Result<Arc<dyn LanguageModel>, LlmError> {
    config
        .validate()
        .map_err(|(key, message)| LlmError::InvalidRequest(format!("llm.{key}: {message}")))?;
    match config.backend {
        BackendKind::Local => {
            let settings = LocalModelSettings::from_config(&config.local, local_model_path);
            Ok(Arc::new(LocalModel::load(settings)?))
        }
        BackendKind::Remote => {
            let settings = RemoteSettings::from_config(&config.remote)?;
            Ok(Arc::new(OpenAiClient::new(settings)?))
        }
    }
}
