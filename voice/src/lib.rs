//! digiOS's ears and voice: audio in and out behind small traits, voice
//! activity detection, local speech to text with Whisper and text to speech
//! with Piper.
//!
//! Everything here is a library; the voice service, its API routes and the
//! conversation loop are built on this public surface.

pub mod audio;
pub mod capture;
pub mod names;
pub mod service;
pub mod stt;
pub mod transcript;
pub mod tts;
pub mod vad;

pub use audio::{AudioBuffer, AudioError, AudioFormat, AudioSink, AudioSource};
pub use capture::{Utterance, capture_utterance};
pub use digios_voice_ipc::{Activation, TranscriptReply, VoiceConfig, VoiceEvent, VoiceState};
pub use names::NameMatcher;
pub use stt::{SpeechToText, SttConfig, SttError, Transcript};
pub use transcript::{normalize, word_error_rate};
pub use tts::{Speech, TextToSpeech, TtsError, TtsPaths, sentences};
pub use vad::{VadConfig, VadEvent, VoiceActivityDetector};

/// Whisper's input: mono at 16 kHz.
pub const WHISPER_SAMPLE_RATE: u32 = 16_000;
