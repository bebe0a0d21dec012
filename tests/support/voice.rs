//! The voice service (`digios-voice`) as a real process beside a real agent.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::digios::{Process, binary, model_cache_dir};

/// The `digios-voice` binary of this build, beside `digios`.
pub fn voice_binary() -> PathBuf {
    let path = binary().with_file_name("digios-voice");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace` (cargo xtask test does)",
        path.display()
    );
    path
}

/// The voice service's socket for an agent whose `XDG_RUNTIME_DIR` is `runtime_dir`.
pub fn socket_in(runtime_dir: &Path) -> PathBuf {
    runtime_dir.join("digios-voice.sock")
}

/// Starts `digios-voice` on `socket`, a client of the API at `api_url`, and
/// waits until it serves (its models loaded).
pub fn start_voice(socket: &Path, api_url: &str) -> Process {
    let home = tempfile::tempdir().expect("voice home");
    let mut child = Command::new(voice_binary())
        .env("DIGIOS_CACHE_DIR", model_cache_dir())
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env_remove("DIGIOS_CONFIG")
        .env_remove("DIGIOS_VOICE_SOCKET")
        .arg("--socket")
        .arg(socket)
        .args(["--api-url", api_url])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn digios-voice");
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("digios-voice listening on ") {
                let _ = sender.send(());
            }
        }
    });
    let mut process = Process { child, home };
    if receiver.recv_timeout(Duration::from_secs(180)).is_err() {
        let status = process.child.try_wait();
        panic!("digios-voice did not start within 180 s ({status:?})");
    }
    process
}

/// `digios agent` on a free port with `XDG_RUNTIME_DIR` = `runtime_dir` (so
/// it looks for the voice service there); returns it and its URL.
pub fn start_agent_in(runtime_dir: &Path) -> (Process, String) {
    let home = tempfile::tempdir().expect("agent home");
    let mut child = crate::digios::command(home.path())
        .env("XDG_RUNTIME_DIR", runtime_dir)
        .env_remove("DIGIOS_VOICE_SOCKET")
        .args(["agent", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn digios agent");
    let url = crate::digios::read_listening_line(&mut child);
    (Process { child, home }, url)
}

/// Speaks `text` into a WAV file with espeak-ng.
pub fn espeak(dir: &Path, name: &str, text: &str, voice: &str, words_per_minute: u32) -> PathBuf {
    let path = dir.join(format!("{name}.wav"));
    let status = Command::new("espeak-ng")
        .args(["-v", voice, "-s", &words_per_minute.to_string(), "-w"])
        .arg(&path)
        .arg(text)
        .status()
        .expect("espeak-ng runs (apt-get install espeak-ng)");
    assert!(status.success(), "espeak-ng failed for {voice}: {text}");
    path
}

/// RMS level of a WAV file's samples in dBFS, and its length in seconds.
pub fn wav_level(wav: &[u8]) -> (f32, f32) {
    let mut reader = hound::WavReader::new(std::io::Cursor::new(wav)).expect("a WAV file");
    let spec = reader.spec();
    let samples: Vec<f32> = reader
        .samples::<i16>()
        .map(|s| f32::from(s.expect("a sample")) / 32768.0)
        .collect();
    let power = samples.iter().map(|s| s * s).sum::<f32>() / samples.len().max(1) as f32;
    let secs = samples.len() as f32 / (spec.sample_rate as f32 * f32::from(spec.channels));
    (10.0 * (power + 1e-12).log10(), secs)
}

/// Word error rate after the same normalisation the voice service uses for
/// comparisons: lower case, letters and digits only.
pub fn word_error_rate(reference: &str, hypothesis: &str) -> f32 {
    let words = |text: &str| -> Vec<String> {
        text.to_lowercase()
            .split(|c: char| !c.is_alphanumeric() && c != '\'')
            .filter(|w| !w.is_empty())
            .map(|w| w.replace('\'', ""))
            .collect()
    };
    let (r, h) = (words(reference), words(hypothesis));
    if r.is_empty() {
        return if h.is_empty() { 0.0 } else { 1.0 };
    }
    let mut previous: Vec<usize> = (0..=h.len()).collect();
    for (i, wr) in r.iter().enumerate() {
        let mut row = vec![i + 1; h.len() + 1];
        for (j, wh) in h.iter().enumerate() {
            row[j + 1] = (previous[j] + usize::from(wr != wh))
                .min(previous[j + 1] + 1)
                .min(row[j] + 1);
        }
        previous = row;
    }
    previous[h.len()] as f32 / r.len() as f32
}
