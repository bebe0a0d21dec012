//! A GGUF model run in process by llama.cpp.

mod engine;
mod gguf_header;
mod token_sampler;

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use tokio_util::sync::CancellationToken;

use super::{ChatRequest, Completion, LanguageModel, LlmError, LocalConfig, ModelDescription};

/// How to load and run a local model.
#[derive(Debug, Clone, PartialEq)]
pub struct LocalModelSettings {
    pub path: PathBuf,
    /// The name clients see. Default: the file name without `.gguf`.
    pub id: Option<String>,
    pub threads: u32,
    pub context_size: u32,
    pub batch_size: u32,
    /// A llama.cpp built-in template name; `None` uses the one in the GGUF.
    pub chat_template: Option<String>,
    pub reuse_kv_cache: bool,
}

impl LocalModelSettings {
    /// Defaults of `[llm.local]` for the model at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self::from_config(&LocalConfig::default(), &path.into())
    }

    /// Settings from `[llm.local]`; `store_path` is the store's file for the configured model,
    /// used unless the section names its own `path`.
    pub fn from_config(config: &LocalConfig, store_path: &Path) -> Self {
        Self {
            path: config
                .path
                .clone()
                .unwrap_or_else(|| store_path.to_path_buf()),
            id: config.model.clone(),
            threads: config.threads,
            context_size: config.context_size,
            batch_size: config.batch_size,
            chat_template: config.chat_template.clone(),
            reuse_kv_cache: config.reuse_kv_cache,
        }
    }

    pub fn with_threads(mut self, threads: u32) -> Self {
        self.threads = threads;
        self
    }

    pub fn with_chat_template(mut self, name: impl Into<String>) -> Self {
        self.chat_template = Some(name.into());
        self
    }

    pub fn with_kv_cache_reuse(mut self, reuse: bool) -> Self {
        self.reuse_kv_cache = reuse;
        self
    }
}

/// A loaded GGUF model. Inference runs on the model's own thread, never on the async
/// runtime; requests are served one at a time in arrival order.
#[derive(Debug)]
pub struct LocalModel {
    description: ModelDescription,
    jobs: mpsc::Sender<engine::Job>,
}

impl LocalModel {
    /// Loads the model and waits until it is ready. Blocks (about a second for small
    /// models): from async code, call it inside `spawn_blocking`.
    pub fn load(settings: LocalModelSettings) -> Result<Self, LlmError> {
        gguf_header::check(&settings.path)?;
        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let (jobs_tx, jobs_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("llm-llama".into())
            .spawn(move || engine::run(settings, ready_tx, jobs_rx))
            .map_err(|error| {
                LlmError::Backend(format!("cannot start the model thread: {error}"))
            })?;
        let description = ready_rx.recv().map_err(|_| LlmError::BackendGone)??;
        Ok(Self {
            description,
            jobs: jobs_tx,
        })
    }
}

impl LanguageModel for LocalModel {
    fn describe(&self) -> ModelDescription {
        self.description.clone()
    }

    fn complete(&self, request: ChatRequest, cancel: CancellationToken) -> Completion {
        if let Err(error) = request.check() {
            return Completion::failed(error);
        }
        let (sender, completion) = Completion::channel();
        let job = engine::Job {
            request,
            cancel,
            sender,
        };
        if self.jobs.send(job).is_err() {
            return Completion::failed(LlmError::BackendGone);
        }
        completion
    }
}
