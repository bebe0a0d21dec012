//! The model store: the manifest of known models, where their files live, and how they arrive.

mod assemble;
pub mod ct2_whisper;
mod digest;
mod download;
mod error;
mod lock;
pub mod manifest;
mod progress;
mod space;
mod stamp;
mod store;

use std::path::PathBuf;
use std::time::Duration;

pub use digest::sha256_file;
pub use download::RetryPolicy;
pub use error::StoreError;
pub use lock::EntryLock;
pub use manifest::{Manifest, ManifestError, ModelEntry, ModelFile, ModelKind, Sha256};
pub use progress::{ProgressFn, PullEvent, ignore_progress};
pub use store::{
    EntryStatus, FileState, FileStatus, FileVerification, ModelStore, PullOutcome, VerifyOutcome,
};

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
    /// Failed attempts in a row (without new bytes) before the next mirror is tried.
    pub attempts_per_source: u32,
    /// First pause before retrying a download; it doubles up to `backoff_max_ms`.
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
    /// A download that receives nothing for this long is retried.
    pub stall_timeout_secs: u64,
    pub connect_timeout_secs: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            dir: None,
            default_llm: "smollm2-135m-instruct".into(),
            manifest: None,
            attempts_per_source: 5,
            backoff_initial_ms: 500,
            backoff_max_ms: 30_000,
            stall_timeout_secs: 60,
            connect_timeout_secs: 20,
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
        if self.backoff_max_ms < self.backoff_initial_ms {
            return Err((
                "backoff_max_ms",
                "must be at least backoff_initial_ms".into(),
            ));
        }
        if self.stall_timeout_secs == 0 {
            return Err(("stall_timeout_secs", "must be at least 1".into()));
        }
        if self.connect_timeout_secs == 0 {
            return Err(("connect_timeout_secs", "must be at least 1".into()));
        }
        Ok(())
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            attempts: self.attempts_per_source,
            initial_backoff: Duration::from_millis(self.backoff_initial_ms),
            max_backoff: Duration::from_millis(self.backoff_max_ms),
            stall_timeout: Duration::from_secs(self.stall_timeout_secs),
            connect_timeout: Duration::from_secs(self.connect_timeout_secs),
        }
    }
}
