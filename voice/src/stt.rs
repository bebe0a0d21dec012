//! Speech to text with whisper.cpp (through whisper-rs), tuned for short
//! spoken commands: a narrowed encoder context, one segment, no carried-over
//! context, greedy decoding, and no run at all when the clip holds no speech.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState,
};

use crate::WHISPER_SAMPLE_RATE;
use crate::audio::{AudioBuffer, AudioError, AudioSource, to_whisper_input};
use crate::vad::{self, VadConfig};

/// Whisper's encoder covers 30 s in 1500 positions: 50 per second.
const AUDIO_CTX_PER_SEC: f32 = 50.0;
const FULL_AUDIO_CTX: u32 = 1500;
/// Room past the clip's end so the last word is not clipped by a narrow context.
const AUDIO_CTX_MARGIN: u32 = 64;
/// Bounds decoding: speech runs at about four tokens a second; allow twice
/// that. The margin keeps every cap above 32 tokens, the length from which
/// whisper.cpp notices a repeating (low-entropy) decode and retries it at a
/// higher temperature; a narrowed context sometimes makes Whisper repeat itself.
const TOKENS_PER_SEC: f32 = 8.0;
const TOKEN_MARGIN: f32 = 48.0;

#[derive(Debug, Clone, PartialEq)]
pub struct SttConfig {
    pub threads: u32,
    /// Minimum encoder context; 0 means Whisper's full 1500.
    pub audio_ctx: u32,
    pub max_input_secs: f32,
    pub vad: VadConfig,
}

impl Default for SttConfig {
    fn default() -> Self {
        Self::from_voice(&crate::VoiceConfig::default())
    }
}

impl SttConfig {
    pub fn from_voice(config: &crate::VoiceConfig) -> Self {
        Self {
            threads: config.stt_threads,
            audio_ctx: config.audio_ctx,
            max_input_secs: config.max_input_secs,
            vad: config.vad.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SttError {
    #[error(
        "speech model missing: {path} (run `cargo xtask setup` or `digios model pull whisper-tiny-en`)"
    )]
    ModelMissing { path: PathBuf },
    #[error("cannot load speech model {path}: {reason}")]
    ModelLoad { path: PathBuf, reason: String },
    #[error("audio is {secs:.1} s long; commands are limited to {max_secs} s")]
    InputTooLong { secs: f32, max_secs: f32 },
    #[error("audio input runs past the {max_secs} s limit for commands")]
    SourceTooLong { max_secs: f32 },
    #[error("transcription failed: {0}")]
    Whisper(String),
    #[error(transparent)]
    Audio(#[from] AudioError),
}

/// What was heard.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// Whisper's text, trimmed; empty when there was no speech.
    pub text: String,
    pub audio: Duration,
    /// Wall time spent in whisper.cpp (zero when the clip was silent).
    pub elapsed: Duration,
    /// The clip held no speech, so Whisper was not run.
    pub silent: bool,
}

/// A loaded Whisper model with one reusable decoding state.
pub struct SpeechToText {
    model_path: PathBuf,
    config: SttConfig,
    state: Mutex<WhisperState>,
    _context: WhisperContext,
}

impl SpeechToText {
    pub fn load(model: &Path, config: SttConfig) -> Result<Self, SttError> {
        if !model.is_file() {
            return Err(SttError::ModelMissing {
                path: model.to_path_buf(),
            });
        }
        // whisper.cpp logs through tracing rather than onto stderr.
        whisper_rs::install_logging_hooks();
        let load_error = |reason: String| SttError::ModelLoad {
            path: model.to_path_buf(),
            reason,
        };
        let mut params = WhisperContextParameters::default();
        params.use_gpu(false);
        let context = WhisperContext::new_with_params(model, params)
            .map_err(|err| load_error(err.to_string()))?;
        let state = context
            .create_state()
            .map_err(|err| load_error(err.to_string()))?;
        Ok(Self {
            model_path: model.to_path_buf(),
            config,
            state: Mutex::new(state),
            _context: context,
        })
    }

    pub fn model_path(&self) -> &Path {
        &self.model_path
    }

    pub fn config(&self) -> &SttConfig {
        &self.config
    }

    /// Reads a whole source (bounded by `max_input_secs`), converts it to
    /// 16 kHz mono and transcribes it.
    pub fn transcribe_source(&self, source: &mut dyn AudioSource) -> Result<Transcript, SttError> {
        let max = Duration::from_secs_f32(self.config.max_input_secs);
        let buffer = AudioBuffer::read_all(source, max).map_err(|err| match err {
            AudioError::TooLong { max_secs } => SttError::SourceTooLong { max_secs },
            other => other.into(),
        })?;
        self.transcribe(&to_whisper_input(&buffer)?)
    }

    /// Transcribes 16 kHz mono samples.
    pub fn transcribe(&self, samples: &[f32]) -> Result<Transcript, SttError> {
        let audio = Duration::from_secs_f64(samples.len() as f64 / f64::from(WHISPER_SAMPLE_RATE));
        let secs = audio.as_secs_f32();
        if secs > self.config.max_input_secs {
            return Err(SttError::InputTooLong {
                secs,
                max_secs: self.config.max_input_secs,
            });
        }
        if !vad::contains_speech(samples, &self.config.vad) {
            return Ok(Transcript {
                text: String::new(),
                audio,
                elapsed: Duration::ZERO,
                silent: true,
            });
        }

        let started = Instant::now();
        let mut state = self
            .state
            .lock()
            .map_err(|_| SttError::Whisper("an earlier transcription panicked".into()))?;
        // A narrowed context now and then sends Whisper into a loop that
        // whisper.cpp's own entropy check lets through. Such a decode says
        // more than the clip can hold; it is redone with the full context,
        // then sampled warmer, and the shortest reading kept.
        let narrowed = self.audio_ctx_for(secs);
        let mut attempts = vec![(narrowed, 0.0)];
        if narrowed != FULL_AUDIO_CTX {
            attempts.push((FULL_AUDIO_CTX, 0.0));
        }
        attempts.push((FULL_AUDIO_CTX, 0.5));
        // The first reading that does not run away is taken as it is; when
        // all do, the shortest.
        let mut text = String::new();
        for (i, (audio_ctx, temperature)) in attempts.into_iter().enumerate() {
            let reading = self.decode(&mut state, samples, secs, audio_ctx, temperature)?;
            if !is_runaway(&reading, secs) {
                text = reading;
                break;
            }
            if i == 0 || reading.split_whitespace().count() < text.split_whitespace().count() {
                text = reading;
            }
            tracing::debug!("runaway transcript of a {secs:.1} s clip; decoding again");
        }
        Ok(Transcript {
            text: text.trim().to_string(),
            audio,
            elapsed: started.elapsed(),
            silent: false,
        })
    }

    fn decode(
        &self,
        state: &mut WhisperState,
        samples: &[f32],
        secs: f32,
        audio_ctx: u32,
        temperature: f32,
    ) -> Result<String, SttError> {
        let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        params.set_n_threads(self.config.threads.max(1) as i32);
        params.set_audio_ctx(audio_ctx as i32);
        params.set_temperature(temperature);
        params.set_language(Some("en"));
        params.set_single_segment(true);
        params.set_no_context(true);
        params.set_no_timestamps(true);
        params.set_max_tokens((TOKEN_MARGIN + TOKENS_PER_SEC * secs).ceil() as i32);
        params.set_suppress_blank(true);
        params.set_suppress_nst(true);
        params.set_print_special(false);
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_timestamps(false);
        state
            .full(params, samples)
            .map_err(|err| SttError::Whisper(err.to_string()))?;
        let mut text = String::new();
        for segment in state.as_iter() {
            let piece = segment
                .to_str_lossy()
                .map_err(|err| SttError::Whisper(err.to_string()))?;
            text.push_str(&piece);
        }
        Ok(text.trim().to_string())
    }

    /// The configured context, widened to cover the whole clip.
    fn audio_ctx_for(&self, secs: f32) -> u32 {
        if self.config.audio_ctx == 0 {
            return FULL_AUDIO_CTX;
        }
        let needed = (secs * AUDIO_CTX_PER_SEC).ceil() as u32 + AUDIO_CTX_MARGIN;
        needed.max(self.config.audio_ctx).min(FULL_AUDIO_CTX)
    }
}

/// Fast speech runs near five words a second; a transcript well past that,
/// one that keeps repeating the same three words, or one that says a phrase
/// twice in a row, is Whisper looping (or, rarely, the speaker repeating
/// themself, which the wider decode then confirms).
fn is_runaway(text: &str, secs: f32) -> bool {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .collect();
    if words.len() as f32 > 8.0 + 5.0 * secs || repeats_a_phrase(&words) {
        return true;
    }
    let trigrams: Vec<&[String]> = words.windows(3).collect();
    if trigrams.len() < 6 {
        return false;
    }
    let distinct: std::collections::HashSet<&[String]> = trigrams.iter().copied().collect();
    distinct.len() * 2 < trigrams.len()
}

/// Whether some phrase of two or more words comes twice back to back.
fn repeats_a_phrase(words: &[String]) -> bool {
    (2..=words.len() / 2).any(|n| {
        (0..=words.len() - 2 * n)
            .any(|start| words[start..start + n] == words[start + n..start + 2 * n])
    })
}

#[cfg(test)]
mod tests {
    use super::is_runaway;

    #[test]
    fn a_looping_decode_is_runaway_and_a_command_is_not() {
        assert!(!is_runaway("Open the file manager.", 1.2));
        assert!(!is_runaway("Switch to the next window.", 1.5));
        assert!(!is_runaway(
            "Please open a terminal, then list the files in my home folder and show me the biggest one.",
            5.0
        ));
        // Whisper looping on a 1.2 s clip.
        assert!(is_runaway(
            "Open the file manager. Open the file manager. Open the file manager have set open the \
             file manager Mark the file file editor. Open the filematically Open the file Open the file",
            1.2
        ));
        // A sentence said twice, within the word budget of its clip.
        assert!(is_runaway(
            "Open the file manager. Open the file manager.",
            1.2
        ));
        assert!(!is_runaway("Scroll down, then down again.", 1.5));
        // Within the word budget of a long clip, but the same words over and over.
        assert!(is_runaway(
            "scroll down scroll down scroll down scroll down scroll down scroll down scroll down",
            10.0
        ));
    }
}
