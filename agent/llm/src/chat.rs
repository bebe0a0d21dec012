//! What a caller asks of a model: the conversation and how to generate.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

/// Restricts what the model may produce. A constraint shapes every token but does not end
/// generation by itself: bound strings (`maxLength`, `enum`) and `max_tokens`, then parse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Constraint {
    /// Output is one JSON value valid against this schema.
    JsonSchema(serde_json::Value),
    /// Output matches this GBNF grammar, starting at the rule `root`.
    Grammar(String),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerationOptions {
    /// Upper bound on generated tokens.
    pub max_tokens: u32,
    /// 0 picks the most likely token every time (deterministic).
    pub temperature: f32,
    /// Nucleus sampling cut-off; only used when `temperature > 0`.
    pub top_p: f32,
    /// Seeds sampling, so equal requests give equal replies.
    pub seed: u32,
    /// Generation ends before any of these strings; they are not part of the reply.
    pub stop: Vec<String>,
    pub constraint: Option<Constraint>,
}

impl Default for GenerationOptions {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            temperature: 0.0,
            top_p: 0.95,
            seed: 0,
            stop: Vec::new(),
            constraint: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ChatRequest {
    pub messages: Vec<ChatMessage>,
    #[serde(default)]
    pub options: GenerationOptions,
}

impl ChatRequest {
    pub fn new(messages: Vec<ChatMessage>) -> Self {
        Self {
            messages,
            options: GenerationOptions::default(),
        }
    }

    pub fn with_options(mut self, options: GenerationOptions) -> Self {
        self.options = options;
        self
    }

    /// Checks what every backend would reject anyway, before any work starts.
    pub(crate) fn check(&self) -> Result<(), super::LlmError> {
        use super::LlmError::InvalidRequest;
        if self.messages.is_empty() {
            return Err(InvalidRequest("a chat needs at least one message".into()));
        }
        if self.options.max_tokens == 0 {
            return Err(InvalidRequest("max_tokens must be at least 1".into()));
        }
        if !self.options.temperature.is_finite() || self.options.temperature < 0.0 {
            return Err(InvalidRequest(format!(
                "temperature must be a number >= 0, not {}",
                self.options.temperature
            )));
        }
        if !(self.options.top_p > 0.0 && self.options.top_p <= 1.0) {
            return Err(InvalidRequest(format!(
                "top_p must be in (0, 1], not {}",
                self.options.top_p
            )));
        }
        Ok(())
    }
}
