//! The answer to a request: streamed text pieces, then one outcome.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::Stream;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::LlmError;

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model ended its reply (or a constraint was complete).
    EndOfText,
    /// One of the request's stop strings appeared.
    StopString,
    /// `max_tokens` or the context size was reached.
    MaxTokens,
    /// The caller cancelled.
    Cancelled,
}

/// Token counts and timings of one completion.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the rendered prompt.
    pub prompt_tokens: u32,
    /// Of those, how many were already in the KV cache and not evaluated again.
    pub cached_prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Wall time to evaluate the prompt (remote: until the first piece arrived).
    pub prompt_ms: f64,
    /// Wall time spent generating after the prompt.
    pub generation_ms: f64,
}

impl Usage {
    /// Prompt tokens evaluated per second (cached tokens excluded).
    pub fn prompt_tokens_per_second(&self) -> Option<f64> {
        let evaluated = self.prompt_tokens.saturating_sub(self.cached_prompt_tokens);
        (self.prompt_ms > 0.0 && evaluated > 0)
            .then(|| f64::from(evaluated) * 1000.0 / self.prompt_ms)
    }

    pub fn generation_tokens_per_second(&self) -> Option<f64> {
        (self.generation_ms > 0.0 && self.completion_tokens > 0)
            .then(|| f64::from(self.completion_tokens) * 1000.0 / self.generation_ms)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionOutcome {
    /// The whole reply: every piece, in order, without stop strings.
    pub text: String,
    pub stop_reason: StopReason,
    pub usage: Usage,
}

impl CompletionOutcome {
    /// Parses the reply as JSON of type `T`; see [`super::parse_json_output`].
    pub fn parse_json<T: serde::de::DeserializeOwned>(&self) -> Result<T, LlmError> {
        super::parse_json_output(&self.text, self.stop_reason)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum CompletionEvent {
    /// More text; concatenated pieces equal the outcome's text.
    Piece(String),
    /// The last event.
    Finished(Result<CompletionOutcome, LlmError>),
}

/// A completion in progress. Dropping it tells the backend to stop.
#[derive(Debug)]
pub struct Completion {
    events: mpsc::Receiver<CompletionEvent>,
    finished: bool,
}

/// The backend's end of a [`Completion`].
#[derive(Debug, Clone)]
pub struct CompletionSender {
    events: mpsc::Sender<CompletionEvent>,
}

/// Pieces buffered before a slow reader holds the backend back.
const BUFFERED_EVENTS: usize = 64;

impl Completion {
    /// A new completion and the backend's end of it, for backends outside this crate.
    pub fn channel() -> (CompletionSender, Completion) {
        let (tx, rx) = mpsc::channel(BUFFERED_EVENTS);
        (
            CompletionSender { events: tx },
            Completion {
                events: rx,
                finished: false,
            },
        )
    }

    /// A completion whose whole reply is already known (a cached or scripted answer).
    pub fn ready(text: impl Into<String>) -> Completion {
        let text = text.into();
        let (tx, completion) = Completion::channel();
        // Two events fit the empty buffer, so neither send can fail.
        let _ = tx.events.try_send(CompletionEvent::Piece(text.clone()));
        let _ = tx
            .events
            .try_send(CompletionEvent::Finished(Ok(CompletionOutcome {
                text,
                stop_reason: StopReason::EndOfText,
                usage: Usage::default(),
            })));
        completion
    }

    /// A completion that has already failed.
    pub fn failed(error: LlmError) -> Completion {
        let (tx, completion) = Completion::channel();
        // The receiver is alive and the buffer empty, so this cannot fail.
        let _ = tx.events.try_send(CompletionEvent::Finished(Err(error)));
        completion
    }

    /// The next event; `None` after [`CompletionEvent::Finished`].
    pub async fn next_event(&mut self) -> Option<CompletionEvent> {
        if self.finished {
            return None;
        }
        let event = self
            .events
            .recv()
            .await
            .unwrap_or(CompletionEvent::Finished(Err(LlmError::BackendGone)));
        self.finished = matches!(event, CompletionEvent::Finished(_));
        Some(event)
    }

    /// Waits for the end and returns the outcome (pieces are dropped; the outcome holds the text).
    pub async fn collect(mut self) -> Result<CompletionOutcome, LlmError> {
        while let Some(event) = self.next_event().await {
            if let CompletionEvent::Finished(result) = event {
                return result;
            }
        }
        Err(LlmError::BackendGone)
    }
}

impl Stream for Completion {
    type Item = CompletionEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        match self.events.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(event) => {
                let event = event.unwrap_or(CompletionEvent::Finished(Err(LlmError::BackendGone)));
                self.finished = matches!(event, CompletionEvent::Finished(_));
                Poll::Ready(Some(event))
            }
        }
    }
}

impl CompletionSender {
    /// Sends a piece from a blocking thread; false when the reader is gone.
    pub(crate) fn piece_blocking(&self, piece: String) -> bool {
        self.events
            .blocking_send(CompletionEvent::Piece(piece))
            .is_ok()
    }

    pub(crate) fn finish_blocking(&self, result: Result<CompletionOutcome, LlmError>) {
        let _ = self.events.blocking_send(CompletionEvent::Finished(result));
    }

    /// Sends a piece from async code; false when the reader is gone.
    pub async fn piece(&self, piece: String) -> bool {
        self.events
            .send(CompletionEvent::Piece(piece))
            .await
            .is_ok()
    }

    pub async fn finish(&self, result: Result<CompletionOutcome, LlmError>) {
        let _ = self.events.send(CompletionEvent::Finished(result)).await;
    }

    /// True once the reader dropped its end.
    pub fn is_closed(&self) -> bool {
        self.events.is_closed()
    }
}
