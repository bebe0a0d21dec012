//! One turn of conversation: what was said becomes an agent task through the
//! public API, and the task's outcome (or its question) becomes the reply.

use std::sync::Mutex;
use std::time::Duration;

use digios_voice_ipc::{TranscriptReply, VoiceConfig, VoiceState};
use serde_json::json;

use super::dialogue::{self, Answer};
use super::hub::Hub;
use super::tasks::{TaskClient, TaskError, TaskView};
use crate::stt::{SpeechToText, SttError};
use crate::tts::TextToSpeech;
use crate::{NameMatcher, normalize};

/// The models, loaded once for the life of the service.
pub struct Engine {
    pub stt: SpeechToText,
    pub tts: TextToSpeech,
    pub names: NameMatcher,
}

impl Engine {
    /// Transcribes 16 kHz mono and corrects misheard names.
    pub fn hear(&self, samples: &[f32]) -> Result<TranscriptReply, SttError> {
        let transcript = self.stt.transcribe(samples)?;
        Ok(self.reply_for(transcript))
    }

    pub fn reply_for(&self, transcript: crate::Transcript) -> TranscriptReply {
        TranscriptReply {
            normalized: self.names.correct(&normalize(&transcript.text)),
            text: transcript.text,
            audio_ms: transcript.audio.as_millis() as u64,
            elapsed_ms: transcript.elapsed.as_millis() as u64,
            silent: transcript.silent,
        }
    }
}

/// What a turn came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub transcript: TranscriptReply,
    /// The command acted on (the wake phrase removed).
    pub command: Option<String>,
    pub task: Option<TaskView>,
    /// What to say back; empty when the speech was not for digiOS.
    pub reply: String,
    /// The reply is a question; the next utterance answers it.
    pub awaiting_answer: bool,
    /// The user only said the wake phrase; the next utterance is the command.
    pub awaiting_command: bool,
}

pub struct Conversation {
    tasks: TaskClient,
    config: VoiceConfig,
    /// A task whose confirmation question was asked and not yet answered.
    pending: Mutex<Option<i64>>,
    /// Whether the last question was asked twice already.
    asked_again: Mutex<bool>,
}

/// How the utterance was addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressed {
    /// Push-to-talk or an answer: all of it is for digiOS.
    Directly,
    /// Always-on listening: only speech starting with the wake phrase is.
    ByWakePhrase,
}

impl Conversation {
    pub fn new(tasks: TaskClient, config: VoiceConfig) -> Self {
        Self {
            tasks,
            config,
            pending: Mutex::new(None),
            asked_again: Mutex::new(false),
        }
    }

    pub fn awaiting_answer(&self) -> bool {
        self.pending.lock().map(|p| p.is_some()).unwrap_or(false)
    }

    /// Acts on one transcribed utterance and returns the reply to speak.
    pub fn respond(&self, transcript: TranscriptReply, addressed: Addressed, hub: &Hub) -> Turn {
        let mut turn = Turn {
            transcript,
            command: None,
            task: None,
            reply: String::new(),
            awaiting_answer: false,
            awaiting_command: false,
        };
        let heard = turn.transcript.normalized.clone();
        let pending = self.pending.lock().ok().and_then(|mut p| p.take());
        if let Some(task_id) = pending {
            self.answer(&mut turn, task_id, &heard, hub);
            return turn;
        }
        let command = match addressed {
            Addressed::Directly => Some(heard),
            Addressed::ByWakePhrase => dialogue::strip_wake_phrase(&heard, &self.config.wake_words),
        };
        let Some(command) = command else {
            return turn;
        };
        if addressed == Addressed::ByWakePhrase {
            hub.publish("wake", json!({ "heard": turn.transcript.text }));
        }
        if command.is_empty() {
            if turn.transcript.silent || addressed == Addressed::Directly {
                turn.reply = "Sorry, I did not catch that.".into();
            } else {
                turn.reply = "Yes?".into();
                turn.awaiting_command = true;
            }
            return turn;
        }
        turn.command = Some(command.clone());
        hub.set_state(VoiceState::Thinking, None);
        let outcome = self
            .tasks
            .submit(&command)
            .and_then(|task| self.follow(task.task.id));
        self.conclude(&mut turn, outcome);
        turn
    }

    fn answer(&self, turn: &mut Turn, task_id: i64, heard: &str, hub: &Hub) {
        let approve = match dialogue::answer(heard) {
            Answer::Yes => true,
            Answer::No => false,
            Answer::Unclear => {
                let mut asked_again = self.asked_again.lock().unwrap_or_else(|e| e.into_inner());
                if !*asked_again {
                    *asked_again = true;
                    if let Ok(mut pending) = self.pending.lock() {
                        *pending = Some(task_id);
                    }
                    turn.reply = "Please say yes or no.".into();
                    turn.awaiting_answer = true;
                    return;
                }
                // Twice unclear: the safe answer.
                false
            }
        };
        if let Ok(mut asked_again) = self.asked_again.lock() {
            *asked_again = false;
        }
        hub.set_state(VoiceState::Thinking, None);
        hub.publish("answer", json!({ "task_id": task_id, "approve": approve }));
        let outcome = self
            .tasks
            .confirm(task_id, approve)
            .and_then(|_| self.follow(task_id));
        self.conclude(turn, outcome);
    }

    fn follow(&self, task_id: i64) -> Result<Option<TaskView>, TaskError> {
        let timeout = Duration::from_secs_f32(self.config.task_timeout_secs);
        self.tasks.wait(task_id, timeout)
    }

    fn conclude(&self, turn: &mut Turn, outcome: Result<Option<TaskView>, TaskError>) {
        match outcome {
            Ok(Some(task)) => {
                if let Some(pending) = task
                    .pending_confirmation
                    .as_ref()
                    .filter(|_| task.is_awaiting_confirmation())
                {
                    turn.reply = dialogue::confirmation_question(pending);
                    turn.awaiting_answer = true;
                    if let Ok(mut slot) = self.pending.lock() {
                        *slot = Some(task.task.id);
                    }
                } else {
                    turn.reply = dialogue::task_summary(&task);
                }
                turn.task = Some(task);
            }
            Ok(None) => {
                turn.reply = "This is taking a while; it goes on in the background.".into();
            }
            Err(err) => {
                tracing::warn!("voice task failed: {err}");
                turn.reply = match err {
                    TaskError::Unreachable { .. } => "Sorry, I cannot reach the agent.".into(),
                    _ => "Sorry, the agent could not take that on.".into(),
                };
            }
        }
    }

    /// The task client, for the service's own reporting.
    pub fn tasks(&self) -> &TaskClient {
        &self.tasks
    }
}
