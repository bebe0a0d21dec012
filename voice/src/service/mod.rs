//! The voice service: the models loaded once, the microphone loop, and the
//! local socket the agent forwards `/api/voice/*` to.

mod conversation;
mod dialogue;
mod hub;
mod microphone;
mod server;
mod speaking;
mod tasks;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use digios_voice_ipc::{ErrorKind, TranscriptReply, VoiceConfig, VoiceState, VoiceStatus};
use serde_json::json;

pub use conversation::{Addressed, Conversation, Engine, Turn};
pub use dialogue::{Answer, answer, confirmation_question, strip_wake_phrase, task_summary};
pub use hub::Hub;
pub use server::{bind, serve};
pub use speaking::{Prefixed, SpeakError, Spoken, speak};
pub use tasks::{PendingConfirmation, TaskClient, TaskError, TaskView};

use crate::audio::{AudioBuffer, AudioError, AudioFormat, WavSink, WavSource, to_whisper_input};
use crate::stt::SttError;

/// Longest text `speak` accepts: a few paragraphs.
pub const MAX_SPEAK_CHARS: usize = 4_000;

/// A failure a client is told about, with the kind the API maps to a status.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ServiceError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl From<SttError> for ServiceError {
    fn from(err: SttError) -> Self {
        let kind = match &err {
            SttError::InputTooLong { .. } | SttError::SourceTooLong { .. } => ErrorKind::TooLong,
            SttError::Audio(audio) => return audio_error(audio, err.to_string()),
            SttError::ModelMissing { .. } | SttError::ModelLoad { .. } => ErrorKind::Unavailable,
            SttError::Whisper(_) => ErrorKind::Internal,
        };
        Self::new(kind, err.to_string())
    }
}

impl From<AudioError> for ServiceError {
    fn from(err: AudioError) -> Self {
        let message = err.to_string();
        audio_error(&err, message)
    }
}

fn audio_error(err: &AudioError, message: String) -> ServiceError {
    let kind = match err {
        AudioError::CorruptWav { .. }
        | AudioError::UnsupportedWav { .. }
        | AudioError::BadFormat(_) => ErrorKind::BadAudio,
        AudioError::TooLong { .. } => ErrorKind::TooLong,
        AudioError::Device(_) => ErrorKind::Unavailable,
        AudioError::Io { .. } | AudioError::Resample(_) => ErrorKind::Internal,
    };
    ServiceError::new(kind, message)
}

impl From<SpeakError> for ServiceError {
    fn from(err: SpeakError) -> Self {
        match err {
            SpeakError::Audio(audio) => audio.into(),
            SpeakError::Tts(tts) => Self::new(ErrorKind::Internal, tts.to_string()),
        }
    }
}

/// A whole turn on uploaded audio, with the reply spoken into a WAV.
pub struct SpokenTurn {
    pub turn: Turn,
    pub wav: Vec<u8>,
    pub sample_rate: u32,
    pub duration_ms: u64,
}

pub struct VoiceService {
    pub engine: Engine,
    pub hub: Hub,
    pub conversation: Conversation,
    pub config: VoiceConfig,
    /// Set to stop speaking and listening at once.
    pub stop: AtomicBool,
    /// One turn at a time, from the microphone or from the API.
    turn_lock: Mutex<()>,
    microphone_ready: AtomicBool,
    push_to_talk: SyncSender<()>,
    push_to_talk_rx: Mutex<Option<Receiver<()>>>,
}

impl VoiceService {
    pub fn new(engine: Engine, conversation: Conversation, config: VoiceConfig) -> Arc<Self> {
        let (push_to_talk, push_to_talk_rx) = mpsc::sync_channel(1);
        Arc::new(Self {
            engine,
            hub: Hub::default(),
            conversation,
            config,
            stop: AtomicBool::new(false),
            turn_lock: Mutex::new(()),
            microphone_ready: AtomicBool::new(false),
            push_to_talk,
            push_to_talk_rx: Mutex::new(Some(push_to_talk_rx)),
        })
    }

    /// Starts the microphone loop on its own thread. Without a microphone it
    /// rests in the `unavailable` state and looks again now and then.
    pub fn start_microphone(self: &Arc<Self>) {
        let Some(triggers) = self.push_to_talk_rx.lock().ok().and_then(|mut r| r.take()) else {
            return;
        };
        let service = self.clone();
        let spawned = std::thread::Builder::new()
            .name("voice-microphone".into())
            .spawn(move || microphone::run(&service, triggers));
        if let Err(err) = spawned {
            self.hub.set_resting(
                VoiceState::Unavailable,
                Some(format!(
                    "voice unavailable: cannot start the microphone loop: {err}"
                )),
            );
        }
    }

    pub fn status(&self) -> VoiceStatus {
        let (state, detail) = self.hub.state();
        VoiceStatus {
            state,
            detail,
            activation: self.config.activation,
            models_loaded: true,
        }
    }

    /// Push-to-talk: the microphone loop listens for one utterance.
    pub fn listen(&self) -> Result<(), ServiceError> {
        if !self.microphone_ready.load(Ordering::Relaxed) {
            let (_, detail) = self.hub.state();
            return Err(ServiceError::new(
                ErrorKind::Unavailable,
                detail.unwrap_or_else(|| "voice unavailable: no input device".into()),
            ));
        }
        self.stop.store(false, Ordering::Relaxed);
        self.push_to_talk
            .try_send(())
            .map_err(|_| ServiceError::new(ErrorKind::Busy, "already listening"))
    }

    /// Stops speaking and listening now.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Reads a WAV upload as 16 kHz mono, bounded by `max_input_secs`.
    fn decode(&self, wav: Vec<u8>) -> Result<Vec<f32>, ServiceError> {
        let mut source = WavSource::from_bytes(wav)?;
        let max = Duration::from_secs_f32(self.config.max_input_secs);
        let buffer = AudioBuffer::read_all(&mut source, max).map_err(|err| match err {
            AudioError::TooLong { max_secs } => ServiceError::new(
                ErrorKind::TooLong,
                format!("the audio is longer than the {max_secs} s limit for voice commands"),
            ),
            other => other.into(),
        })?;
        Ok(to_whisper_input(&buffer)?)
    }

    pub fn transcribe(&self, wav: Vec<u8>) -> Result<TranscriptReply, ServiceError> {
        let samples = self.decode(wav)?;
        Ok(self.engine.hear(&samples)?)
    }

    /// Speaks `text` into a WAV file.
    pub fn speak_to_wav(
        &self,
        text: &str,
        speed: Option<f32>,
    ) -> Result<(Vec<u8>, u32, u64), ServiceError> {
        let speed = speed.unwrap_or(self.config.speech_rate);
        if !(crate::tts::MIN_SPEED..=crate::tts::MAX_SPEED).contains(&speed) {
            return Err(ServiceError::new(
                ErrorKind::BadText,
                format!(
                    "speed must be between {} and {}",
                    crate::tts::MIN_SPEED,
                    crate::tts::MAX_SPEED
                ),
            ));
        }
        let text = text.trim();
        if text.is_empty() {
            return Err(ServiceError::new(
                ErrorKind::BadText,
                "there is no text to speak",
            ));
        }
        if text.chars().count() > MAX_SPEAK_CHARS {
            return Err(ServiceError::new(
                ErrorKind::BadText,
                format!("text is longer than {MAX_SPEAK_CHARS} characters"),
            ));
        }
        let format = AudioFormat {
            sample_rate: self.engine.tts.sample_rate(),
            channels: 1,
        };
        let mut sink = Recording::new(format);
        let never = AtomicBool::new(false);
        // A private hub: a WAV made for a client is not the loop speaking.
        speak(
            &self.engine.tts,
            text,
            speed,
            &mut sink,
            None,
            &Hub::default(),
            &never,
        )?;
        sink.into_wav()
    }

    /// One turn on uploaded audio: hear it, act on it, and speak the reply
    /// into a WAV. A question asked here is answered by the next turn.
    pub fn converse(&self, wav: Vec<u8>) -> Result<SpokenTurn, ServiceError> {
        let samples = self.decode(wav)?;
        let _turn = self
            .turn_lock
            .try_lock()
            .map_err(|_| ServiceError::new(ErrorKind::Busy, "a voice turn is already under way"))?;
        let result = (|| {
            self.hub.set_state(VoiceState::Transcribing, None);
            let transcript = self.engine.hear(&samples)?;
            self.hub.publish("transcript", json!(transcript));
            let turn = self
                .conversation
                .respond(transcript, Addressed::Directly, &self.hub);
            self.announce_reply(&turn);
            let format = AudioFormat {
                sample_rate: self.engine.tts.sample_rate(),
                channels: 1,
            };
            let mut sink = Recording::new(format);
            speak(
                &self.engine.tts,
                &turn.reply,
                self.config.speech_rate,
                &mut sink,
                None,
                &self.hub,
                &self.stop,
            )?;
            let (wav, sample_rate, duration_ms) = sink.into_wav()?;
            Ok(SpokenTurn {
                turn,
                wav,
                sample_rate,
                duration_ms,
            })
        })();
        self.hub.rest();
        result
    }

    fn announce_reply(&self, turn: &Turn) {
        self.hub.publish(
            "reply",
            json!({
                "text": turn.reply,
                "command": turn.command,
                "task_id": turn.task.as_ref().map(|t| t.task.id),
                "awaiting_answer": turn.awaiting_answer,
            }),
        );
    }
}

/// A sink that keeps what it is given, for replies returned as WAV.
struct Recording {
    format: AudioFormat,
    samples: Vec<f32>,
}

impl Recording {
    fn new(format: AudioFormat) -> Self {
        Self {
            format,
            samples: Vec::new(),
        }
    }

    fn into_wav(self) -> Result<(Vec<u8>, u32, u64), ServiceError> {
        let duration_ms = self.format.duration_of(self.samples.len()).as_millis() as u64;
        let mut wav = WavSink::in_memory(self.format)?;
        crate::AudioSink::write(&mut wav, &self.samples)?;
        Ok((wav.into_bytes()?, self.format.sample_rate, duration_ms))
    }
}

impl crate::AudioSink for Recording {
    fn format(&self) -> AudioFormat {
        self.format
    }

    fn write(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        self.samples.extend_from_slice(samples);
        Ok(())
    }

    fn finish(&mut self) -> Result<(), AudioError> {
        Ok(())
    }
}
