//! Speech to text on the converted tiny.en model with espeak-ng speech.

mod common;

use std::time::{Duration, Instant};

use common::{espeak, model_path, stt, within};
use digios_voice::audio::{AudioBuffer, MemorySource, WavSource, to_whisper_input};
use digios_voice::{
    AudioFormat, NameMatcher, SpeechToText, SttConfig, SttError, VadConfig, normalize,
    word_error_rate,
};

const BOUND: Duration = Duration::from_secs(600);

const COMMANDS: &[&str] = &[
    "open the terminal",
    "close this window",
    "open the file manager",
    "what time is it",
    "set the volume to fifty",
    "switch to the next window",
    "open a new tab",
    "play some music",
    "scroll down",
    "read my email",
];

/// (espeak-ng voice, words per minute)
const VOICES: &[(&str, u32)] = &[
    ("en-us", 175),
    ("en-gb", 150),
    ("en-us+f3", 200),
    ("en-gb-scotland", 160),
];

#[test]
fn converted_model_loads_in_whisper_cpp() {
    within(BOUND, || {
        let stt = stt();
        assert_eq!(stt.model_path(), model_path());

        let dir = tempfile::tempdir().unwrap();
        let missing = SpeechToText::load(&dir.path().join("nope.bin"), SttConfig::default());
        let err = missing.err().expect("a missing model is an error");
        assert!(matches!(err, SttError::ModelMissing { .. }));
        assert!(err.to_string().contains("cargo xtask setup"), "{err}");

        let garbage = dir.path().join("garbage.bin");
        std::fs::write(&garbage, b"this is not a ggml model at all").unwrap();
        let err = SpeechToText::load(&garbage, SttConfig::default())
            .err()
            .expect("garbage is refused");
        assert!(matches!(err, SttError::ModelLoad { .. }), "{err}");
    });
}

#[test]
fn transcribes_espeak_commands_across_voices_and_speeds() {
    within(BOUND, || {
        let dir = tempfile::tempdir().unwrap();
        let stt = stt();
        let (mut errors, mut words) = (0.0f32, 0usize);
        for (v, &(voice, wpm)) in VOICES.iter().enumerate() {
            for (c, &command) in COMMANDS.iter().enumerate() {
                let wav = espeak(dir.path(), &format!("{v}-{c}"), command, voice, wpm);
                let started = Instant::now();
                let transcript = stt
                    .transcribe_source(&mut WavSource::open(&wav).unwrap())
                    .unwrap();
                let wer = word_error_rate(command, &transcript.text);
                eprintln!(
                    "{voice:>15} {wpm} wpm | {:>4.1} s audio | whisper {:>5.2} s, total {:>5.2} s | WER {wer:.2} | {command:?} -> {:?}",
                    transcript.audio.as_secs_f32(),
                    transcript.elapsed.as_secs_f32(),
                    started.elapsed().as_secs_f32(),
                    transcript.text
                );
                let n = command.split_whitespace().count();
                errors += wer * n as f32;
                words += n;
                if voice == "en-us" {
                    // The default voice must be heard exactly.
                    assert_eq!(normalize(&transcript.text), normalize(command));
                }
            }
        }
        let total_wer = errors / words as f32;
        eprintln!(
            "normalised WER over {} clips: {total_wer:.3}",
            VOICES.len() * COMMANDS.len()
        );
        assert!(total_wer <= 0.10, "WER {total_wer:.3} exceeds 10 %");
    });
}

#[test]
fn resampled_and_stereo_input_is_heard() {
    within(BOUND, || {
        let dir = tempfile::tempdir().unwrap();
        let wav = espeak(dir.path(), "stereo", "open the terminal", "en-us", 175);
        let mono =
            AudioBuffer::read_all(&mut WavSource::open(&wav).unwrap(), Duration::from_secs(30))
                .unwrap();
        assert_eq!(mono.format.sample_rate, 22_050);

        // The same speech as 44.1 kHz stereo: upsampled, then each sample doubled across channels.
        let upsampled = upsample_twice(&mono.samples);
        let stereo = AudioBuffer {
            format: AudioFormat {
                sample_rate: 44_100,
                channels: 2,
            },
            samples: upsampled.iter().flat_map(|&s| [s, s]).collect(),
        };
        let transcript = stt()
            .transcribe_source(&mut MemorySource::new(stereo.clone()))
            .unwrap();
        assert_eq!(
            normalize(&transcript.text),
            "open the terminal",
            "{transcript:?}"
        );
        let input = to_whisper_input(&stereo).unwrap();
        let expected = (mono.samples.len() as f32 * 16_000.0 / 22_050.0) as usize;
        assert!(
            input.len().abs_diff(expected) <= 2,
            "{} vs {expected}",
            input.len()
        );
    });
}

/// Linear interpolation is enough to make a 44.1 kHz test signal from 22.05 kHz.
fn upsample_twice(samples: &[f32]) -> Vec<f32> {
    let mut out = Vec::with_capacity(samples.len() * 2);
    for (i, &s) in samples.iter().enumerate() {
        let next = samples.get(i + 1).copied().unwrap_or(s);
        out.push(s);
        out.push((s + next) / 2.0);
    }
    out
}

#[test]
fn whisper_hears_digios_as_a_sound_alike_that_the_matcher_fixes() {
    within(BOUND, || {
        let dir = tempfile::tempdir().unwrap();
        let wav = espeak(
            dir.path(),
            "name",
            "Diggy O S, open the terminal",
            "en-us",
            160,
        );
        let transcript = stt()
            .transcribe_source(&mut WavSource::open(&wav).unwrap())
            .unwrap();
        let fixed = NameMatcher::new(&["digiOS"]).correct(&normalize(&transcript.text));
        assert_eq!(
            fixed, "digiOS open the terminal",
            "heard {:?}",
            transcript.text
        );
    });
}

#[test]
fn silence_is_not_sent_to_whisper() {
    within(BOUND, || {
        let silence = vec![0.0f32; 16_000 * 3];
        let transcript = stt().transcribe(&silence).unwrap();
        assert!(transcript.silent);
        assert_eq!(transcript.text, "");
        assert_eq!(transcript.elapsed, Duration::ZERO);
    });
}

#[test]
fn a_ten_minute_input_is_refused_without_decoding_it() {
    within(BOUND, || {
        let ten_minutes = 16_000 * 600;
        // A loud square wave, so it is not refused for being silent.
        let samples: Vec<f32> = (0..ten_minutes)
            .map(|i| if i / 40 % 2 == 0 { 0.3 } else { -0.3 })
            .collect();
        let err = stt().transcribe(&samples).unwrap_err();
        assert!(matches!(err, SttError::InputTooLong { .. }), "{err}");
        assert!(err.to_string().contains("600.0 s"), "{err}");

        // From a source, reading stops at the limit.
        let buffer = AudioBuffer {
            format: AudioFormat::WHISPER,
            samples,
        };
        let err = stt()
            .transcribe_source(&mut MemorySource::new(buffer))
            .unwrap_err();
        assert!(matches!(err, SttError::SourceTooLong { .. }), "{err}");
    });
}

#[test]
fn a_captured_utterance_is_transcribed() {
    within(BOUND, || {
        let dir = tempfile::tempdir().unwrap();
        let wav = espeak(dir.path(), "captured", "play some music", "en-gb", 150);
        let clip =
            AudioBuffer::read_all(&mut WavSource::open(&wav).unwrap(), Duration::from_secs(30))
                .unwrap();
        let rate = clip.format.sample_rate as usize;
        let mut samples = vec![0.0f32; rate * 2];
        samples.extend(&clip.samples);
        samples.extend(vec![0.0f32; rate * 3]);
        let mut source = MemorySource::new(AudioBuffer {
            format: clip.format,
            samples,
        });
        let utterance = digios_voice::capture_utterance(
            &mut source,
            &VadConfig::default(),
            Duration::from_secs(10),
        )
        .unwrap()
        .expect("speech is found");
        let transcript = stt().transcribe(&utterance.samples).unwrap();
        assert_eq!(
            normalize(&transcript.text),
            "play some music",
            "{transcript:?}"
        );
    });
}
