//! The JSON of `/v1/chat/completions` and `/v1/models`, as far as digiOS speaks it. Readers
//! are lenient (unknown fields are ignored, optional ones may be absent or null).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{ChatMessage, Constraint, LlmError, Role, StopReason, Usage};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ChatCompletionRequest {
    #[serde(default)]
    pub(crate) model: String,
    pub(crate) messages: Vec<WireMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) max_completion_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) temperature: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) top_p: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) stop: Option<StopField>,
    #[serde(default)]
    pub(crate) stream: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) stream_options: Option<StreamOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) response_format: Option<ResponseFormat>,
    /// llama.cpp server's extension: a GBNF grammar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) grammar: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct WireMessage {
    pub(crate) role: String,
    #[serde(default)]
    pub(crate) content: Option<WireContent>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum WireContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ContentPart {
    #[serde(rename = "type")]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) text: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum StopField {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StreamOptions {
    #[serde(default)]
    pub(crate) include_usage: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema { json_schema: JsonSchemaFormat },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct JsonSchemaFormat {
    #[serde(default)]
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) schema: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) strict: Option<bool>,
}

impl WireMessage {
    pub(crate) fn from_chat(message: &ChatMessage) -> Self {
        Self {
            role: message.role.as_str().into(),
            content: Some(WireContent::Text(message.content.clone())),
        }
    }

    pub(crate) fn to_chat(&self) -> Result<ChatMessage, LlmError> {
        let role = match self.role.as_str() {
            "system" | "developer" => Role::System,
            "user" => Role::User,
            "assistant" => Role::Assistant,
            other => {
                return Err(LlmError::InvalidRequest(format!(
                    "messages with role {other:?} are not supported"
                )));
            }
        };
        let content = match &self.content {
            None => String::new(),
            Some(WireContent::Text(text)) => text.clone(),
            Some(WireContent::Parts(parts)) => {
                let mut text = String::new();
                for part in parts {
                    match (part.kind.as_str(), &part.text) {
                        ("text", Some(piece)) => text.push_str(piece),
                        (kind, _) => {
                            return Err(LlmError::InvalidRequest(format!(
                                "content parts of type {kind:?} are not supported"
                            )));
                        }
                    }
                }
                text
            }
        };
        Ok(ChatMessage { role, content })
    }
}

impl StopField {
    pub(crate) fn into_vec(self) -> Vec<String> {
        match self {
            StopField::One(stop) => vec![stop],
            StopField::Many(stops) => stops,
        }
    }
}

impl ResponseFormat {
    pub(crate) fn into_constraint(self) -> Option<Constraint> {
        match self {
            ResponseFormat::Text => None,
            ResponseFormat::JsonObject => Some(Constraint::JsonSchema(
                serde_json::json!({"type": "object"}),
            )),
            ResponseFormat::JsonSchema { json_schema } => {
                Some(Constraint::JsonSchema(json_schema.schema))
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ChatCompletion {
    #[serde(default)]
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) object: String,
    #[serde(default)]
    pub(crate) created: u64,
    #[serde(default)]
    pub(crate) model: String,
    pub(crate) choices: Vec<Choice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) usage: Option<WireUsage>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Choice {
    #[serde(default)]
    pub(crate) index: u32,
    pub(crate) message: AssistantMessage,
    #[serde(default)]
    pub(crate) finish_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AssistantMessage {
    #[serde(default)]
    pub(crate) role: String,
    #[serde(default)]
    pub(crate) content: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ChatCompletionChunk {
    #[serde(default)]
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) object: String,
    #[serde(default)]
    pub(crate) created: u64,
    #[serde(default)]
    pub(crate) model: String,
    #[serde(default)]
    pub(crate) choices: Vec<ChunkChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) usage: Option<WireUsage>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ChunkChoice {
    #[serde(default)]
    pub(crate) index: u32,
    #[serde(default)]
    pub(crate) delta: Delta,
    #[serde(default)]
    pub(crate) finish_reason: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Delta {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) content: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    pub(crate) prompt_tokens: u32,
    #[serde(default)]
    pub(crate) completion_tokens: u32,
    #[serde(default)]
    pub(crate) total_tokens: u32,
}

impl From<&Usage> for WireUsage {
    fn from(usage: &Usage) -> Self {
        Self {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.prompt_tokens + usage.completion_tokens,
        }
    }
}

/// `{"error": {...}}`, what OpenAI-compatible servers send when they refuse.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ErrorBody {
    pub(crate) error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ErrorDetail {
    #[serde(default)]
    pub(crate) message: String,
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) code: Option<Value>,
}

pub(crate) fn finish_reason(stop: StopReason) -> &'static str {
    match stop {
        StopReason::EndOfText | StopReason::StopString => "stop",
        StopReason::MaxTokens => "length",
        StopReason::Cancelled => "cancelled",
    }
}

pub(crate) fn stop_reason(finish_reason: &str) -> StopReason {
    match finish_reason {
        "length" => StopReason::MaxTokens,
        "cancelled" => StopReason::Cancelled,
        _ => StopReason::EndOfText,
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ModelList {
    pub(crate) object: String,
    pub(crate) data: Vec<ModelEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ModelEntry {
    pub(crate) id: String,
    pub(crate) object: String,
    pub(crate) created: u64,
    pub(crate) owned_by: String,
}
