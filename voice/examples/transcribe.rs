//! Transcribes WAV files and reports timing: `transcribe MODEL THREADS FILE...`
//! (`DIGIOS_AUDIO_CTX` overrides the minimum encoder context).

use std::path::Path;
use std::time::Instant;

use digios_voice::audio::WavSource;
use digios_voice::{NameMatcher, SpeechToText, SttConfig, normalize};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, threads, files @ ..] = &args[..] else {
        return Err("usage: transcribe MODEL THREADS FILE...".into());
    };
    let mut config = SttConfig {
        threads: threads.parse()?,
        ..SttConfig::default()
    };
    if let Ok(ctx) = std::env::var("DIGIOS_AUDIO_CTX") {
        config.audio_ctx = ctx.parse()?;
    }
    let started = Instant::now();
    let stt = SpeechToText::load(Path::new(model), config)?;
    println!("loaded in {:.2} s", started.elapsed().as_secs_f32());
    let names = NameMatcher::new(&["digiOS"]);
    for file in files {
        let started = Instant::now();
        let transcript = stt.transcribe_source(&mut WavSource::open(Path::new(file))?)?;
        println!(
            "{file}: {:.2} s audio, whisper {:.2} s, total {:.2} s: {:?} -> {:?}",
            transcript.audio.as_secs_f32(),
            transcript.elapsed.as_secs_f32(),
            started.elapsed().as_secs_f32(),
            transcript.text,
            names.correct(&normalize(&transcript.text)),
        );
    }
    Ok(())
}
