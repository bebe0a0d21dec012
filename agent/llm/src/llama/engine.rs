//! The thread that owns a loaded model and its context. Requests queue up and run one at a
//! time; the KV cache stays between them, so a prompt that starts like the previous one is
//! only evaluated from where it differs.

use std::num::NonZeroU32;
use std::sync::OnceLock;
use std::sync::mpsc::{Receiver, SyncSender};
use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::token::LlamaToken;
use tokio_util::sync::CancellationToken;

use super::LocalModelSettings;
use super::token_sampler::TokenSampler;
use crate::completion::CompletionSender;
use crate::text_stream::{StopScanner, Utf8Assembler};
use crate::{
    ChatMessage, ChatRequest, CompletionOutcome, LlmError, ModelDescription, StopReason, Usage,
};

/// Streamed text goes to the reader at most this often: each send wakes a
/// thread that competes with inference for the cores, and a person or a
/// screen cannot tell 15 ms batches from single tokens.
const STREAM_INTERVAL: std::time::Duration = std::time::Duration::from_millis(15);

pub(super) struct Job {
    pub(super) request: ChatRequest,
    pub(super) cancel: CancellationToken,
    pub(super) sender: CompletionSender,
}

/// llama.cpp's backend may be initialised once per process.
fn backend() -> Result<&'static LlamaBackend, LlmError> {
    static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();
    BACKEND
        .get_or_init(|| {
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|error| error.to_string())
        })
        .as_ref()
        .map_err(|error| LlmError::Backend(error.clone()))
}

/// Loads the model, reports readiness (or why not) and then serves jobs until every
/// sender is gone.
pub(super) fn run(
    settings: LocalModelSettings,
    ready: SyncSender<Result<ModelDescription, LlmError>>,
    jobs: Receiver<Job>,
) {
    let model = match load_model(&settings) {
        Ok(model) => model,
        Err(error) => {
            let _ = ready.send(Err(error));
            return;
        }
    };
    let mut engine = match Engine::new(&model, &settings) {
        Ok(engine) => engine,
        Err(error) => {
            let _ = ready.send(Err(error));
            return;
        }
    };
    if ready.send(Ok(engine.description.clone())).is_err() {
        return;
    }
    while let Ok(job) = jobs.recv() {
        engine.serve(job);
    }
}

fn load_model(settings: &LocalModelSettings) -> Result<LlamaModel, LlmError> {
    let backend = backend()?;
    LlamaModel::load_from_file(backend, &settings.path, &LlamaModelParams::default()).map_err(
        |error| LlmError::ModelInvalid {
            path: settings.path.clone(),
            reason: format!(
                "llama.cpp could not load it ({error}); the file may be truncated or damaged"
            ),
        },
    )
}

struct Engine<'m> {
    model: &'m LlamaModel,
    context: LlamaContext<'m>,
    template: LlamaChatTemplate,
    batch: LlamaBatch<'static>,
    batch_size: usize,
    context_size: usize,
    reuse_kv_cache: bool,
    /// The tokens whose keys and values sit in the cache, at positions 0.., in sequence 0.
    cached: Vec<LlamaToken>,
    description: ModelDescription,
}

impl<'m> Engine<'m> {
    fn new(model: &'m LlamaModel, settings: &LocalModelSettings) -> Result<Self, LlmError> {
        let context_size = settings.context_size.min(model.n_ctx_train().max(256));
        let batch_size = settings.batch_size.clamp(1, context_size);
        let threads = i32::try_from(settings.threads.max(1)).unwrap_or(1);
        let params = LlamaContextParams::default()
            .with_n_ctx(NonZeroU32::new(context_size))
            .with_n_batch(batch_size)
            .with_n_ubatch(batch_size)
            .with_n_threads(threads)
            .with_n_threads_batch(threads);
        let context = model
            .new_context(backend()?, params)
            .map_err(|error| LlmError::Backend(format!("cannot create a context: {error}")))?;
        let template = chat_template(model, settings.chat_template.as_deref())?;
        // Render once now so a template llama.cpp does not know fails at load, not mid-task.
        render(model, &template, &[ChatMessage::user("hello")])?;
        let id = settings.id.clone().unwrap_or_else(|| {
            settings
                .path
                .file_stem()
                .map(|stem| stem.to_string_lossy().into_owned())
                .unwrap_or_else(|| "local".into())
        });
        Ok(Self {
            model,
            context,
            template,
            batch: LlamaBatch::new(batch_size as usize, 1),
            batch_size: batch_size as usize,
            context_size: context_size as usize,
            reuse_kv_cache: settings.reuse_kv_cache,
            cached: Vec::new(),
            description: ModelDescription {
                id,
                backend: "llama.cpp".into(),
                context_length: Some(context_size),
            },
        })
    }

    fn serve(&mut self, job: Job) {
        let Job {
            request,
            cancel,
            sender,
        } = job;
        // The reader may have gone while the job waited in the queue.
        if sender.is_closed() {
            return;
        }
        let result = self.generate(&request, &cancel, &sender);
        if result.is_err() {
            self.forget_cache();
        }
        sender.finish_blocking(result);
    }

    fn forget_cache(&mut self) {
        self.context.clear_kv_cache();
        self.cached.clear();
    }

    fn generate(
        &mut self,
        request: &ChatRequest,
        cancel: &CancellationToken,
        sender: &CompletionSender,
    ) -> Result<CompletionOutcome, LlmError> {
        let prompt = render(self.model, &self.template, &request.messages)?;
        let tokens = self.model.vocab().tokenize(prompt.as_bytes(), true, true);
        if tokens.is_empty() {
            return Err(LlmError::InvalidRequest("the prompt is empty".into()));
        }
        if tokens.len() >= self.context_size {
            return Err(LlmError::ContextOverflow {
                prompt_tokens: tokens.len(),
                context_size: self.context_size as u32,
            });
        }
        let mut sampler = TokenSampler::new(self.model, &request.options)?;
        let mut usage = Usage {
            prompt_tokens: tokens.len() as u32,
            ..Usage::default()
        };

        let prompt_started = Instant::now();
        let Some(reused) = self.evaluate_prompt(&tokens, cancel)? else {
            usage.prompt_ms = elapsed_ms(prompt_started);
            return Ok(CompletionOutcome {
                text: String::new(),
                stop_reason: StopReason::Cancelled,
                usage,
            });
        };
        usage.cached_prompt_tokens = reused as u32;
        usage.prompt_ms = elapsed_ms(prompt_started);

        let generation_started = Instant::now();
        let model = self.model;
        let vocab = model.vocab();
        let mut utf8 = Utf8Assembler::default();
        let mut scanner = StopScanner::new(&request.options.stop);
        let mut logits_index = self.batch.n_tokens() - 1;
        // Text released but not yet streamed; sent at most every STREAM_INTERVAL.
        let mut outgoing = String::new();
        let mut last_sent: Option<Instant> = None;
        let stop_reason = loop {
            if cancel.is_cancelled() {
                break StopReason::Cancelled;
            }
            if usage.completion_tokens >= request.options.max_tokens
                || self.cached.len() >= self.context_size
            {
                break StopReason::MaxTokens;
            }
            let Some(token) = sampler.sample(&self.context, logits_index) else {
                return Err(LlmError::Inference(
                    "the constraint allows no next token".into(),
                ));
            };
            if vocab.is_eog(token) {
                break StopReason::EndOfText;
            }
            usage.completion_tokens += 1;
            let text = utf8.push(&vocab.token_to_piece(token, false, None));
            let scanned = scanner.push(&text);
            outgoing.push_str(&scanned.release);
            let due = last_sent.is_none_or(|at| at.elapsed() >= STREAM_INTERVAL);
            if !outgoing.is_empty() && due {
                if !sender.piece_blocking(std::mem::take(&mut outgoing)) {
                    break StopReason::Cancelled;
                }
                last_sent = Some(Instant::now());
            } else if sender.is_closed() {
                break StopReason::Cancelled;
            }
            if scanned.stopped {
                break StopReason::StopString;
            }
            self.decode(&[token], true)?;
            logits_index = 0;
        };
        // Text held back as a possible stop-string start, or an unfinished character, is
        // part of the reply after all.
        let mut rest = std::mem::take(&mut outgoing);
        if stop_reason != StopReason::StopString {
            let tail = scanner.push(&utf8.finish());
            rest.push_str(&tail.release);
            if !tail.stopped {
                rest.push_str(&scanner.finish());
            }
        }
        if !rest.is_empty() {
            sender.piece_blocking(rest);
        }
        usage.generation_ms = elapsed_ms(generation_started);
        Ok(CompletionOutcome {
            text: scanner.text().to_string(),
            stop_reason,
            usage,
        })
    }

    /// Brings the cache to hold `tokens`, evaluating only what is not there yet. Returns how
    /// many tokens were reused, or `None` when cancelled.
    fn evaluate_prompt(
        &mut self,
        tokens: &[LlamaToken],
        cancel: &CancellationToken,
    ) -> Result<Option<usize>, LlmError> {
        let mut keep = if self.reuse_kv_cache {
            common_prefix_len(&self.cached, tokens)
        } else {
            0
        };
        // The last prompt token is always evaluated again: its logits start the reply.
        keep = keep.min(tokens.len() - 1);
        if keep == 0 {
            self.forget_cache();
        } else if keep < self.cached.len() {
            let removed = self
                .context
                .kv_cache_seq_rm(0, Some(keep as u32), None)
                .is_ok();
            if removed {
                self.cached.truncate(keep);
            } else {
                // Some caches (sliding-window attention) cannot drop a tail: start over.
                self.forget_cache();
                keep = 0;
            }
        }
        let rest = &tokens[keep..];
        let chunks = rest.len().div_ceil(self.batch_size);
        for (index, chunk) in rest.chunks(self.batch_size).enumerate() {
            if cancel.is_cancelled() {
                return Ok(None);
            }
            self.decode(chunk, index + 1 == chunks)?;
        }
        Ok(Some(keep))
    }

    /// Evaluates `tokens` after the cached ones; logits only for the last if `want_logits`.
    fn decode(&mut self, tokens: &[LlamaToken], want_logits: bool) -> Result<(), LlmError> {
        self.batch.clear();
        let start = self.cached.len();
        for (offset, token) in tokens.iter().enumerate() {
            let last = offset + 1 == tokens.len();
            self.batch
                .add(*token, (start + offset) as i32, &[0], want_logits && last)
                .map_err(|error| LlmError::Inference(format!("batch: {error}")))?;
        }
        self.context
            .decode(&mut self.batch)
            .map_err(|error| LlmError::Inference(format!("decode: {error}")))?;
        self.cached.extend_from_slice(tokens);
        Ok(())
    }
}

fn chat_template(model: &LlamaModel, name: Option<&str>) -> Result<LlamaChatTemplate, LlmError> {
    match name {
        Some(name) => LlamaChatTemplate::new(name)
            .map_err(|_| LlmError::ChatTemplate(format!("invalid template name {name:?}"))),
        None => model.chat_template(None).map_err(|_| {
            LlmError::ChatTemplate(
                "the model file has no chat template; name a built-in one in llm.local.chat_template \
                 (for example \"chatml\", or \"gemma\" for Gemma base models)"
                    .into(),
            )
        }),
    }
}

fn render(
    model: &LlamaModel,
    template: &LlamaChatTemplate,
    messages: &[ChatMessage],
) -> Result<String, LlmError> {
    let messages = messages
        .iter()
        .map(|message| {
            LlamaChatMessage::new(message.role.as_str().into(), message.content.clone())
                .map_err(|_| LlmError::InvalidRequest("a message contains a NUL character".into()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    model
        .apply_chat_template(template, &messages, true)
        .map_err(|error| {
            LlmError::ChatTemplate(format!(
                "llama.cpp cannot apply the template ({error}); it may not be one llama.cpp knows"
            ))
        })
}

fn common_prefix_len(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

fn elapsed_ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}
