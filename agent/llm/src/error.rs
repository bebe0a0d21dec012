//! Everything that can go wrong between a request and a reply, as one typed error.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    #[error(
        "model file {path} does not exist; run `cargo xtask setup` (or let digiOS download it) to fetch it"
    )]
    ModelMissing { path: PathBuf },
    #[error("model file {path} is not a usable GGUF model: {reason}")]
    ModelInvalid { path: PathBuf, reason: String },
    #[error("llama.cpp: {0}")]
    Backend(String),
    #[error("chat template: {0}")]
    ChatTemplate(String),
    #[error(
        "the prompt has {prompt_tokens} tokens but the context holds {context_size}; shorten the conversation or raise llm.local.context_size"
    )]
    ContextOverflow {
        prompt_tokens: usize,
        context_size: u32,
    },
    #[error("invalid constraint: {0}")]
    InvalidConstraint(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("inference failed: {0}")]
    Inference(String),
    #[error("the model backend stopped before finishing the reply")]
    BackendGone,
    #[error("environment variable {var} (the API key) is not set")]
    MissingApiKey { var: String },
    #[error("cannot reach {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("{url} did not answer within {seconds} s")]
    Timeout { url: String, seconds: u64 },
    #[error("{url} answered HTTP {status}: {message}")]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url} sent something that is not an OpenAI chat completion: {reason}")]
    Protocol { url: String, reason: String },
    #[error("the reply does not have the requested form: {reason}; reply: {output:?}")]
    OutputMismatch { output: String, reason: String },
}

impl LlmError {
    /// True when the same request may succeed if sent again later.
    pub fn is_transient(&self) -> bool {
        match self {
            LlmError::Connect { .. } | LlmError::Timeout { .. } => true,
            LlmError::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}
