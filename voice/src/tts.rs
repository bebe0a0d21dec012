//! Text to speech with Piper (piper-rs on ONNX Runtime, loaded at run time
//! from the model store) and espeak-ng phonemes.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::audio::{AudioBuffer, AudioFormat};

/// Where Debian's espeak-ng-data lives (package espeak-ng-data).
pub const DEBIAN_ESPEAK_DATA_PARENT: &str = "/usr/lib/x86_64-linux-gnu";
const ESPEAK_DATA_ENV: &str = "PIPER_ESPEAKNG_DATA_DIRECTORY";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TtsError {
    #[error("voice file missing: {path} (run `cargo xtask setup` or `digios model pull {model}`)")]
    ModelMissing { path: PathBuf, model: &'static str },
    #[error("cannot start ONNX Runtime from {path}: {reason}")]
    Runtime { path: PathBuf, reason: String },
    #[error(
        "espeak-ng data not found: no espeak-ng-data under {0} (apt-get install espeak-ng-data)"
    )]
    EspeakDataMissing(PathBuf),
    #[error("cannot load voice {path}: {reason}")]
    VoiceLoad { path: PathBuf, reason: String },
    #[error("speech synthesis failed: {0}")]
    Synthesis(String),
}

/// Paths the synthesiser needs, all from the model store except espeak's data.
#[derive(Debug, Clone, PartialEq)]
pub struct TtsPaths {
    /// `<voice>.onnx`; its config is `<voice>.onnx.json` beside it.
    pub voice: PathBuf,
    pub onnxruntime: PathBuf,
    /// The directory holding `espeak-ng-data`.
    pub espeak_data_parent: PathBuf,
}

impl TtsPaths {
    /// The default voice and runtime in the model store directory `models`.
    pub fn in_store(models: &Path) -> Self {
        Self {
            voice: models.join("en_US-joe-medium.onnx"),
            onnxruntime: models.join("libonnxruntime.so"),
            espeak_data_parent: PathBuf::from(DEBIAN_ESPEAK_DATA_PARENT),
        }
    }
}

/// Speech from one spoken sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct Speech {
    pub audio: AudioBuffer,
    pub elapsed: Duration,
}

/// A loaded Piper voice; synthesis is serialised on it.
pub struct TextToSpeech {
    piper: Mutex<piper_rs::Piper>,
    sample_rate: u32,
}

/// ONNX Runtime can be initialised once per process, from one library.
/// espeak-ng, which phonemizes inside piper, keeps process-wide state and is
/// not thread-safe: voices loading or speaking in one process take turns.
static ESPEAK: Mutex<()> = Mutex::new(());

static RUNTIME: OnceLock<Result<PathBuf, String>> = OnceLock::new();

fn init_runtime(library: &Path) -> Result<(), TtsError> {
    let runtime_error = |reason: String| TtsError::Runtime {
        path: library.to_path_buf(),
        reason,
    };
    // ort blocks forever on a library it cannot open: check first.
    if !library.is_file() {
        return Err(TtsError::ModelMissing {
            path: library.to_path_buf(),
            model: "onnxruntime",
        });
    }
    let loaded = RUNTIME.get_or_init(|| {
        let builder = ort::init_from(library).map_err(|err| err.to_string())?;
        builder.commit();
        Ok(library.to_path_buf())
    });
    match loaded {
        Ok(path) if path == library => Ok(()),
        Ok(path) => Err(runtime_error(format!(
            "this process already runs ONNX Runtime from {}",
            path.display()
        ))),
        Err(reason) => Err(runtime_error(reason.clone())),
    }
}

fn point_espeak_at(parent: &Path) -> Result<(), TtsError> {
    if std::env::var_os(ESPEAK_DATA_ENV).is_some() {
        return Ok(());
    }
    if !parent.join("espeak-ng-data").is_dir() {
        return Err(TtsError::EspeakDataMissing(parent.to_path_buf()));
    }
    static SET: OnceLock<()> = OnceLock::new();
    SET.get_or_init(|| {
        // SAFETY: set once, before espeak-ng first reads it; no other code in
        // digiOS writes the environment, and readers only ever read this key.
        unsafe { std::env::set_var(ESPEAK_DATA_ENV, parent) };
    });
    Ok(())
}

impl TextToSpeech {
    pub fn load(paths: &TtsPaths) -> Result<Self, TtsError> {
        let config = PathBuf::from(format!("{}.json", paths.voice.display()));
        for path in [&paths.voice, &config] {
            if !path.is_file() {
                return Err(TtsError::ModelMissing {
                    path: path.clone(),
                    model: "piper-en-us-joe-medium",
                });
            }
        }
        point_espeak_at(&paths.espeak_data_parent)?;
        init_runtime(&paths.onnxruntime)?;
        let _espeak = ESPEAK.lock().unwrap_or_else(|e| e.into_inner());
        let piper =
            piper_rs::Piper::new(&paths.voice, &config).map_err(|err| TtsError::VoiceLoad {
                path: paths.voice.clone(),
                reason: err.to_string(),
            })?;
        Ok(Self {
            piper: Mutex::new(piper),
            sample_rate: voice_sample_rate(&config).unwrap_or(DEFAULT_SAMPLE_RATE),
        })
    }

    /// The rate this voice speaks at (from its `.onnx.json`).
    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    /// Speaks one piece of text (best kept to a sentence: see [`sentences`]).
    pub fn synthesize(&self, text: &str) -> Result<Speech, TtsError> {
        self.synthesize_at(text, 1.0)
    }

    /// As [`TextToSpeech::synthesize`], `speed` times as fast (0.5 to 2).
    pub fn synthesize_at(&self, text: &str, speed: f32) -> Result<Speech, TtsError> {
        if !(MIN_SPEED..=MAX_SPEED).contains(&speed) {
            return Err(TtsError::Synthesis(format!(
                "speed {speed} is outside {MIN_SPEED} to {MAX_SPEED}"
            )));
        }
        let started = Instant::now();
        let _espeak = ESPEAK.lock().unwrap_or_else(|e| e.into_inner());
        let mut piper = self
            .piper
            .lock()
            .map_err(|_| TtsError::Synthesis("an earlier synthesis panicked".into()))?;
        let (samples, sample_rate) = piper
            .create(text, false, None, Some(1.0 / speed), None, None)
            .map_err(|err| TtsError::Synthesis(err.to_string()))?;
        Ok(Speech {
            audio: AudioBuffer {
                format: AudioFormat {
                    sample_rate,
                    channels: 1,
                },
                samples,
            },
            elapsed: started.elapsed(),
        })
    }
}

/// Slowest and fastest speech offered, relative to the voice's own pace.
pub const MIN_SPEED: f32 = 0.5;
pub const MAX_SPEED: f32 = 2.0;

/// Piper's medium voices speak at 22,050 Hz.
const DEFAULT_SAMPLE_RATE: u32 = 22_050;

fn voice_sample_rate(config: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(config).ok()?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    json["audio"]["sample_rate"].as_u64().map(|r| r as u32)
}

/// Splits a reply into sentences so speech can start before the whole reply
/// is synthesised. Splits after `.`, `!`, `?` or `;` followed by a space.
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let ends = matches!(b, b'.' | b'!' | b'?' | b';')
            && bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace());
        // "3.5" and "e.g." stay whole: a sentence needs a space after its stop.
        if ends {
            let piece = text[start..=i].trim();
            if !piece.is_empty() {
                out.push(piece);
            }
            start = i + 1;
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_replies_into_sentences() {
        assert_eq!(
            sentences("Done. I opened 3.5 windows! Delete 3 files? Say yes or no"),
            [
                "Done.",
                "I opened 3.5 windows!",
                "Delete 3 files?",
                "Say yes or no"
            ]
        );
        assert!(sentences("   ").is_empty());
    }

    #[test]
    fn a_missing_runtime_is_reported_before_ort_can_hang() {
        let dir = tempfile::tempdir().unwrap();
        let err = init_runtime(&dir.path().join("libonnxruntime.so")).unwrap_err();
        assert!(
            matches!(
                err,
                TtsError::ModelMissing {
                    model: "onnxruntime",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("cargo xtask setup"));
    }
}
