//! Voice figures (`cargo xtask bench`; prints, asserts nothing):
//! - speech to text: our binding against whisper.cpp's own C API on the same
//!   model, parameters and clips (the anchor is compiled here from the
//!   whisper.cpp source whisper-rs-sys vendors);
//! - text to speech: Piper's real-time factor;
//! - end of speech → first audio of the reply, through a real agent when a
//!   `digios` binary is built beside this benchmark.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use digios_voice::audio::{AudioBuffer, WavSource, to_whisper_input};
use digios_voice::service::{Addressed, Conversation, Engine, Hub, TaskClient};
use digios_voice::{
    NameMatcher, SpeechToText, SttConfig, TextToSpeech, TtsPaths, VoiceConfig, sentences,
};

const COMMANDS: &[&str] = &[
    "open the terminal",
    "close this window",
    "open the file manager",
    "what time is it",
    "switch to the next window",
    "play some music",
];
const VOICES: &[(&str, u32)] = &[("en-us", 175), ("en-gb", 150)];
const REPLIES: &[&str] = &[
    "I opened the terminal.",
    "There are three windows open: a terminal, the file manager and a browser.",
    "Delete three files? Say yes or no.",
    "Done. The volume is at fifty percent.",
];

fn models() -> PathBuf {
    std::env::var_os("DIGIOS_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/digios")))
        .expect("HOME or DIGIOS_CACHE_DIR")
        .join("models")
}

fn espeak(dir: &Path, name: &str, text: &str, voice: &str, wpm: u32) -> Vec<f32> {
    let path = dir.join(format!("{name}.wav"));
    let status = Command::new("espeak-ng")
        .args(["-v", voice, "-s", &wpm.to_string(), "-w"])
        .arg(&path)
        .arg(text)
        .status()
        .expect("espeak-ng");
    assert!(status.success());
    let clip = AudioBuffer::read_all(
        &mut WavSource::open(&path).unwrap(),
        Duration::from_secs(30),
    )
    .unwrap();
    to_whisper_input(&clip).unwrap()
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let model = models().join("ggml-tiny.en.bin");
    let mut clips = Vec::new();
    for (v, &(voice, wpm)) in VOICES.iter().enumerate() {
        for (c, &command) in COMMANDS.iter().enumerate() {
            let samples = espeak(dir.path(), &format!("{v}-{c}"), command, voice, wpm);
            let raw = dir.path().join(format!("{v}-{c}.f32"));
            let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
            std::fs::write(&raw, bytes).unwrap();
            clips.push((command, samples, raw));
        }
    }

    println!(
        "== speech to text: whisper tiny.en, 1 thread, audio_ctx 512, {} clips",
        clips.len()
    );
    let config = SttConfig::default();
    let stt = SpeechToText::load(&model, config.clone()).expect("whisper model");
    // One clip first: the first run pays for allocations neither side repeats.
    stt.transcribe(&clips[0].1).unwrap();
    let mut ours = Vec::new();
    for (command, samples, _) in &clips {
        let t = stt.transcribe(samples).unwrap();
        println!(
            "  ours   {:>7.1} ms  {command:?} -> {:?}",
            t.elapsed.as_secs_f64() * 1e3,
            t.text
        );
        ours.push(t.elapsed.as_secs_f64() * 1e3);
    }
    match build_anchor(dir.path()) {
        Ok(anchor) => {
            let mut args: Vec<PathBuf> = vec![clips[0].2.clone()];
            args.extend(clips.iter().map(|c| c.2.clone()));
            let output = Command::new(&anchor)
                .arg(&model)
                .arg(config.threads.to_string())
                .arg(config.audio_ctx.to_string())
                .args(&args)
                .output()
                .expect("the anchor runs");
            let text = String::from_utf8_lossy(&output.stdout);
            let theirs: Vec<f64> = text
                .lines()
                .skip(1)
                .map(|line| {
                    let (ms, heard) = line.split_once('\t').unwrap_or((line, ""));
                    println!(
                        "  anchor {:>7.1} ms  -> {heard:?}",
                        ms.parse::<f64>().unwrap_or(0.0)
                    );
                    ms.parse().unwrap_or(0.0)
                })
                .collect();
            let (sum_ours, sum_theirs): (f64, f64) = (ours.iter().sum(), theirs.iter().sum());
            println!(
                "STT total: ours {sum_ours:.0} ms, whisper.cpp {sum_theirs:.0} ms; speed ratio (whisper.cpp / ours) {:.3} (target >= 0.95)",
                sum_theirs / sum_ours
            );
        }
        Err(why) => println!("STT anchor skipped: {why}"),
    }

    println!("== text to speech: Piper en_US-joe-medium");
    let tts = TextToSpeech::load(&TtsPaths::in_store(&models())).expect("Piper voice");
    tts.synthesize("Warming up.").unwrap();
    let (mut spent, mut spoken) = (0.0, 0.0);
    for reply in REPLIES {
        let speech = tts.synthesize(reply).unwrap();
        let secs = speech.audio.duration().as_secs_f64();
        let took = speech.elapsed.as_secs_f64();
        println!(
            "  {took:>5.2} s for {secs:>5.2} s of speech (RTF {:.2})  {reply:?}",
            took / secs
        );
        spent += took;
        spoken += secs;
    }
    println!(
        "TTS real-time factor: {:.3} (target <= 0.5)",
        spent / spoken
    );

    println!("== end of speech -> first audio of the reply");
    let engine = Engine {
        stt,
        tts,
        names: NameMatcher::new(&["digiOS"]),
    };
    let voice_config = VoiceConfig::default();
    println!(
        "  (a live microphone first waits {} ms of silence to know speech ended)",
        voice_config.vad.end_silence_ms
    );
    let desktop = match Desktop::start(dir.path()) {
        Ok(desktop) => Some(desktop),
        Err(why) => {
            println!("  no agent: {why}; the figure below leaves out the agent");
            None
        }
    };
    let conversation = desktop
        .as_ref()
        .map(|d| Conversation::new(TaskClient::new(&d.url, None), voice_config.clone()));
    for command in ["open the terminal", "close this window"] {
        let samples = espeak(dir.path(), "eos", command, "en-us", 175);
        let hub = Hub::default();
        let started = Instant::now();
        let transcript = engine.hear(&samples).unwrap();
        let heard = started.elapsed();
        let reply = match &conversation {
            Some(conversation) => {
                conversation
                    .respond(transcript.clone(), Addressed::Directly, &hub)
                    .reply
            }
            None => "Done.".to_string(),
        };
        let acted = started.elapsed();
        let first = sentences(&reply)
            .first()
            .map(|s| s.to_string())
            .unwrap_or_default();
        engine.tts.synthesize(&first).unwrap();
        let total = started.elapsed();
        println!(
            "  {command:?}: heard {:?} in {:.2} s, agent replied {reply:?} at {:.2} s, first audio at {:.2} s (target <= 2.0 s)",
            transcript.normalized,
            heard.as_secs_f64(),
            acted.as_secs_f64(),
            total.as_secs_f64()
        );
    }
}

/// Compiles the anchor against the whisper.cpp this build linked.
fn build_anchor(dir: &Path) -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let build = exe
        .parent()
        .and_then(Path::parent)
        .map(|p| p.join("build"))
        .ok_or("no build directory")?;
    let out = std::fs::read_dir(&build)
        .map_err(|e| format!("{}: {e}", build.display()))?
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("whisper-rs-sys-")
        })
        .map(|e| e.path().join("out"))
        .filter(|out| out.join("lib/libwhisper.a").is_file())
        .max_by_key(|out| {
            std::fs::metadata(out.join("lib/libwhisper.a"))
                .and_then(|m| m.modified())
                .ok()
        })
        .ok_or("whisper-rs-sys's build output not found")?;
    let anchor = dir.join("whisper_anchor");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/whisper_anchor.c");
    let status = Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&anchor)
        .arg(&source)
        .arg(format!("-I{}", out.join("include").display()))
        .arg(format!("-L{}", out.join("lib").display()))
        .args([
            "-lwhisper",
            "-lggml",
            "-lggml-cpu",
            "-lggml-base",
            "-lstdc++",
            "-lm",
            "-lpthread",
            "-fopenmp",
        ])
        .status()
        .map_err(|e| format!("cc: {e}"))?;
    if !status.success() {
        return Err("the anchor did not compile".into());
    }
    Ok(anchor)
}

/// A headless compositor and an agent (with the default model) from the
/// `digios` binary built beside this benchmark.
struct Desktop {
    children: Vec<Child>,
    url: String,
}

impl Drop for Desktop {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Desktop {
    fn start(dir: &Path) -> Result<Self, String> {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let target = exe
            .parent()
            .and_then(Path::parent)
            .and_then(Path::parent)
            .ok_or("no target dir")?;
        let digios = ["release", "debug"]
            .iter()
            .map(|p| target.join(p).join("digios"))
            .find(|p| p.is_file())
            .ok_or("build `digios` first (cargo build -p digios-boot)")?;
        let runtime = dir.join("runtime");
        std::fs::create_dir_all(&runtime).map_err(|e| e.to_string())?;
        let control = runtime.join("control.sock");
        let home = dir.join("home");
        let env = |c: &mut Command| {
            c.env("XDG_RUNTIME_DIR", &runtime)
                .env("HOME", &home)
                .env("XDG_CONFIG_HOME", home.join("config"))
                .env("XDG_DATA_HOME", home.join("data"))
                .env("DIGIOS_CACHE_DIR", models().parent().unwrap())
                .env_remove("DIGIOS_CONFIG");
        };
        let mut compositor = Command::new(&digios);
        env(&mut compositor);
        let compositor = compositor
            .args([
                "compositor",
                "--headless",
                "--socket-name",
                "wayland-voice-bench",
                "--control-socket",
            ])
            .arg(&control)
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        let mut desktop = Desktop {
            children: vec![compositor],
            url: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::os::unix::net::UnixStream::connect(&control).is_err() {
            if Instant::now() > deadline {
                return Err("the compositor did not start".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut agent = Command::new(&digios);
        env(&mut agent);
        let mut agent = agent
            .env("WAYLAND_DISPLAY", "wayland-voice-bench")
            .env("DIGIOS_COMPOSITOR_SOCKET", &control)
            .args(["agent", "--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let stdout = agent.stdout.take().ok_or("no stdout")?;
        desktop.children.push(agent);
        // Keep reading, so the agent never writes into a closed pipe.
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("digios-agent listening on ") {
                    let _ = sender.send(url.to_string());
                }
            }
        });
        desktop.url = receiver
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_default();
        if desktop.url.is_empty() {
            return Err("the agent did not start".into());
        }
        println!("  agent {} ({})", desktop.url, digios.display());
        Ok(desktop)
    }
}
