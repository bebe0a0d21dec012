//! The model store: the manifest of known models, where their files live, and how they arrive.

pub mod ct2_whisper;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The `[models]` section of `digios.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Where verified model files live. Default: `<cache_dir>/models`.
    pub dir: Option<PathBuf>,
    /// The manifest id of the LLM the agent loads.
    pub default_llm: String,
    /// A manifest whose entries are added to (or replace) the built-in ones.
    pub manifest: Option<PathBuf>,
    /// Attempts per source before the next mirror is tried.
    pub attempts_per_source: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            dir: None,
            default_llm: "smollm2-135m-instruct".into(),
            manifest: None,
            attempts_per_source: 5,
        }
    }
}

impl StoreConfig {
    /// Checks values serde cannot; the error names the key within `[models]`.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.attempts_per_source == 0 {
            return Err(("attempts_per_source", "must be at least 1".into()));
        }
        if self.default_llm.trim().is_empty() {
            return Err(("default_llm", "must name a model id".into()));
        }
        Ok(())
    }
}
