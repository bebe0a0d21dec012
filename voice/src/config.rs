//! The `[voice]` section of `digios.toml`.

use serde::{Deserialize, Serialize};

use crate::vad::VadConfig;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VoiceConfig {
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
    pub vad: VadConfig,
}

impl Default for VoiceConfig {
    fn default() -> Self {
        Self {
            input_device: None,
            output_device: None,
            stt_threads: 1,
            audio_ctx: 512,
            max_input_secs: 30.0,
            names: vec!["digiOS".into()],
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
        self.vad
            .validate()
            .map_err(|(key, message)| (format!("vad.{key}"), message))
    }

    pub fn stt(&self) -> crate::SttConfig {
        crate::SttConfig {
            threads: self.stt_threads,
            audio_ctx: self.audio_ctx,
            max_input_secs: self.max_input_secs,
            vad: self.vad.clone(),
        }
    }
}
