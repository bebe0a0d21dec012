//! The `[voice]` section of `digios.toml`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// How the voice service decides that speech is meant for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Only when asked: `POST /api/voice/listen` (a shell button or hotkey).
    PushToTalk,
    /// Always listening for utterances that begin with the wake phrase
    /// ("digiOS, open the terminal"); push-to-talk works too.
    WakePhrase,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VoiceConfig {
    /// The voice service's socket. Default: `$DIGIOS_VOICE_SOCKET`, else
    /// `$XDG_RUNTIME_DIR/digios-voice.sock`.
    pub socket: Option<PathBuf>,
    /// The public API the voice loop is a client of. Default: `api.bind`.
    pub api_url: Option<String>,
    pub activation: Activation,
    /// Words that wake digiOS when they begin an utterance (matched after
    /// name correction, so "Diggy OS" counts as "digiOS").
    pub wake_words: Vec<String>,
    /// Stop speaking when the user starts talking.
    pub barge_in: bool,
    /// Microphone by name or id; `None`: the system default.
    pub input_device: Option<String>,
    /// Speaker by name or id; `None`: the system default.
    pub output_device: Option<String>,
    /// Threads whisper.cpp uses per transcription. One is the default because
    /// whisper.cpp's worker threads spin: on a busy 2-core machine two threads
    /// measured 4–8× slower than one (8–20 s vs 2.0–2.6 s per 1–2 s command).
    pub stt_threads: u32,
    /// Whisper encoder context (50 per second of audio; 1500 is Whisper's full
    /// 30 s; 0 means full); longer clips widen it. Measured on 1–2 s commands,
    /// one thread: 1500 → 10.7 s, 512 → 2.6 s, 256 → 1.2 s but Whisper then
    /// often repeats itself, so 512.
    pub audio_ctx: u32,
    /// Longest clip accepted for transcription, in seconds.
    pub max_input_secs: f32,
    /// Names Whisper mishears, in their canonical spelling.
    pub names: Vec<String>,
    /// Pace of digiOS's speech relative to the voice's own (0.5 to 2).
    pub speech_rate: f32,
    /// How long a spoken question waits for "yes" or "no", in seconds.
    pub answer_timeout_secs: f32,
    /// How long the loop waits for a task to finish before saying so.
    pub task_timeout_secs: f32,
    pub vad: VadConfig,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        Self {
            socket: None,
            api_url: None,
            activation: Activation::PushToTalk,
            wake_words: vec!["digiOS".into()],
            barge_in: true,
            input_device: None,
            output_device: None,
            stt_threads: 1,
            audio_ctx: 512,
            max_input_secs: 30.0,
            names: vec!["digiOS".into()],
            speech_rate: 1.0,
            answer_timeout_secs: 8.0,
            task_timeout_secs: 120.0,
            vad: VadConfig::default(),
        }
    }
}

impl VoiceConfig {
    /// Checks values serde cannot; the error names the key within `[voice]`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !(1..=64).contains(&self.stt_threads) {
            return Err(("stt_threads".into(), "must be between 1 and 64".into()));
        }
        if self.audio_ctx != 0 && !(64..=1500).contains(&self.audio_ctx) {
            return Err((
                "audio_ctx".into(),
                "must be 0 (full) or between 64 and 1500".into(),
            ));
        }
        if !(1.0..=600.0).contains(&self.max_input_secs) {
            return Err(("max_input_secs".into(), "must be between 1 and 600".into()));
        }
        if !(0.5..=2.0).contains(&self.speech_rate) {
            return Err(("speech_rate".into(), "must be between 0.5 and 2".into()));
        }
        if !(1.0..=120.0).contains(&self.answer_timeout_secs) {
            return Err((
                "answer_timeout_secs".into(),
                "must be between 1 and 120".into(),
            ));
        }
        if !(1.0..=3600.0).contains(&self.task_timeout_secs) {
            return Err((
                "task_timeout_secs".into(),
                "must be between 1 and 3600".into(),
            ));
        }
        if self.wake_words.iter().all(|w| w.trim().is_empty()) {
            return Err(("wake_words".into(), "needs at least one word".into()));
        }
        self.vad
            .validate()
            .map_err(|(key, message)| (format!("vad.{key}"), message))
    }

    /// The socket the service listens on and the agent connects to.
    pub fn socket_path(&self) -> PathBuf {
        self.socket.clone().unwrap_or_else(crate::socket_path)
    }
}

/// 20 ms frames of the energy detector.
const FRAME_MS: u32 = 20;

/// The `[voice.vad]` section of `digios.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VadConfig {
    /// How far above the noise floor (dB) a frame must be to count as speech.
    pub threshold_db: f32,
    /// Speech must last this long to start an utterance (filters clicks).
    pub min_speech_ms: u32,
    /// This much silence ends an utterance.
    pub end_silence_ms: u32,
    /// An utterance is cut here even if the speaker goes on.
    pub max_utterance_secs: f32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            threshold_db: 12.0,
            min_speech_ms: 60,
            end_silence_ms: 600,
            max_utterance_secs: 20.0,
        }
    }
}

impl VadConfig {
    /// Checks values serde cannot; the error names the key within `[voice.vad]`.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if !(0.0..=60.0).contains(&self.threshold_db) {
            return Err(("threshold_db", "must be between 0 and 60".into()));
        }
        if self.end_silence_ms < FRAME_MS || self.end_silence_ms > 10_000 {
            return Err(("end_silence_ms", "must be between 20 and 10000".into()));
        }
        if self.min_speech_ms > 2_000 {
            return Err(("min_speech_ms", "must be at most 2000".into()));
        }
        if !(1.0..=120.0).contains(&self.max_utterance_secs) {
            return Err(("max_utterance_secs", "must be between 1 and 120".into()));
        }
        Ok(())
    }
}
