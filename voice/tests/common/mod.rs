//! Shared fixtures: the speech model from the model store, espeak-ng clips,
//! and a bound on every test's run time.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use digios_voice::{SpeechToText, SttConfig};

pub const MODEL_FILE: &str = "ggml-tiny.en.bin";

/// The model store directory, as the model store resolves it.
pub fn model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DIGIOS_CACHE_DIR") {
        return PathBuf::from(dir).join("models");
    }
    let home = std::env::var_os("HOME").expect("HOME is set");
    PathBuf::from(home).join(".cache/digios/models")
}

/// The converted Whisper model; fails (never skips) when it is missing.
pub fn model_path() -> PathBuf {
    let path = model_dir().join(MODEL_FILE);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask setup` (it pulls and converts whisper-tiny-en)",
        path.display()
    );
    path
}

/// One loaded model per test binary; the model serialises transcriptions itself.
pub fn stt() -> &'static SpeechToText {
    static STT: OnceLock<SpeechToText> = OnceLock::new();
    STT.get_or_init(|| {
        let threads = std::env::var("DIGIOS_STT_THREADS")
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(SttConfig::default().threads);
        let config = SttConfig {
            threads,
            ..SttConfig::default()
        };
        SpeechToText::load(&model_path(), config).expect("the converted model loads")
    })
}

/// Speaks `text` into `dir/<name>.wav` with espeak-ng (22,050 Hz mono).
pub fn espeak(dir: &Path, name: &str, text: &str, voice: &str, words_per_minute: u32) -> PathBuf {
    let path = dir.join(format!("{name}.wav"));
    let status = Command::new("espeak-ng")
        .arg("-v")
        .arg(voice)
        .arg("-s")
        .arg(words_per_minute.to_string())
        .arg("-w")
        .arg(&path)
        .arg(text)
        .status()
        .expect("espeak-ng runs (apt-get install espeak-ng)");
    assert!(status.success(), "espeak-ng failed for {voice}: {text}");
    path
}

/// Runs `test` on its own thread and fails if it takes longer than `limit`.
pub fn within<T: Send + 'static>(limit: Duration, test: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        let _ = tx.send(test());
    });
    match rx.recv_timeout(limit) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The test panicked: surface its message.
            match handle.join() {
                Err(panic) => std::panic::resume_unwind(panic),
                Ok(()) => unreachable!("the test thread ended without a result"),
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test exceeded its {limit:?} bound"),
    }
}
