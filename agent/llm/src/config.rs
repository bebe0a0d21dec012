//! The `[llm]` section of `digios.toml`: which model backend the agent uses.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// A GGUF model from the model store, run in process by llama.cpp.
    #[default]
    Local,
    /// An OpenAI-compatible server (llama.cpp server, vLLM, another digiOS).
    Remote,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    pub backend: BackendKind,
    pub local: LocalConfig,
    pub remote: RemoteConfig,
}

/// `[llm.local]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LocalConfig {
    /// Manifest id of the model. Default: `[models].default_llm`.
    pub model: Option<String>,
    /// A GGUF file to load instead of a model from the store.
    pub path: Option<PathBuf>,
    /// CPU threads for inference. llama.cpp's threads spin while waiting, so more threads
    /// than idle cores makes generation much slower, not faster.
    pub threads: u32,
    /// Tokens of context (prompt plus reply).
    pub context_size: u32,
    /// Prompt tokens evaluated per batch. Large batches are ~15% faster on the prompt but
    /// take other matrix kernels, whose rounding differs: then a reply built on a reused
    /// cache prefix can differ from a cold one. Up to 16, both are the same.
    pub batch_size: u32,
    /// A llama.cpp built-in chat template by name (`chatml`, `gemma`, `llama3`, ...).
    /// Default: the template embedded in the GGUF.
    pub chat_template: Option<String>,
    /// Keep the KV cache between requests so a shared prompt prefix is evaluated once.
    pub reuse_kv_cache: bool,
}

impl Default for LocalConfig {
    fn default() -> Self {
        Self {
            model: None,
            path: None,
            threads: 1,
            context_size: 4096,
            batch_size: 16,
            chat_template: None,
            reuse_kv_cache: true,
        }
    }
}

/// `[llm.remote]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RemoteConfig {
    /// Base URL including the API prefix, e.g. `http://gpu-box:8080/v1`.
    pub base_url: String,
    /// The `model` field sent with every request.
    pub model: String,
    /// Environment variable holding the API key; none means no `Authorization` header.
    pub api_key_env: Option<String>,
    /// Seconds to wait for the response head and, while streaming, for each next chunk.
    pub timeout_secs: u64,
    pub connect_timeout_secs: u64,
    /// Retries after a connection error, HTTP 429 or 5xx, with exponential backoff.
    pub retries: u32,
    /// Ask for server-side streaming (SSE).
    pub stream: bool,
    /// The server understands `response_format: {"type": "json_schema"}`.
    pub json_schema: bool,
}

impl Default for RemoteConfig {
    fn default() -> Self {
        Self {
            base_url: "http://127.0.0.1:8080/v1".into(),
            model: "default".into(),
            api_key_env: None,
            timeout_secs: 120,
            connect_timeout_secs: 10,
            retries: 3,
            stream: true,
            json_schema: true,
        }
    }
}

impl LlmConfig {
    /// Checks values serde cannot; the error names the key within `[llm]`.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let local = &self.local;
        if local.threads == 0 {
            return Err(("local.threads", "must be at least 1".into()));
        }
        if local.context_size < 256 {
            return Err(("local.context_size", "must be at least 256".into()));
        }
        if local.batch_size == 0 {
            return Err(("local.batch_size", "must be at least 1".into()));
        }
        if let Some(template) = &local.chat_template
            && template.trim().is_empty()
        {
            return Err(("local.chat_template", "must name a template".into()));
        }
        let remote = &self.remote;
        if self.backend == BackendKind::Remote {
            let url = remote.base_url.trim();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err((
                    "remote.base_url",
                    format!("must be an http:// or https:// URL, not {url:?}"),
                ));
            }
            if remote.model.trim().is_empty() {
                return Err(("remote.model", "must name the server's model".into()));
            }
        }
        if remote.timeout_secs == 0 {
            return Err(("remote.timeout_secs", "must be at least 1".into()));
        }
        if remote.connect_timeout_secs == 0 {
            return Err(("remote.connect_timeout_secs", "must be at least 1".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_section_is_the_defaults() {
        let config: LlmConfig = toml::from_str("").unwrap();
        assert_eq!(config, LlmConfig::default());
        assert!(config.validate().is_ok());
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let error = toml::from_str::<LlmConfig>("[local]\nthread = 2\n").unwrap_err();
        assert!(error.to_string().contains("thread"), "{error}");
    }

    #[test]
    fn remote_needs_a_url() {
        let config: LlmConfig =
            toml::from_str("backend = \"remote\"\n[remote]\nbase_url = \"gpu-box\"\n").unwrap();
        assert_eq!(config.validate().unwrap_err().0, "remote.base_url");
    }
}
