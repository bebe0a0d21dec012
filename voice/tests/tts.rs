//! Piper speech from the model store, checked by listening to it with Whisper.

mod common;

use std::time::Duration;

use common::{model_dir, stt, within};
use digios_voice::audio::to_whisper_input;
use digios_voice::vad::level_db;
use digios_voice::{TextToSpeech, TtsError, TtsPaths, normalize, sentences, word_error_rate};

const BOUND: Duration = Duration::from_secs(600);

fn tts() -> TextToSpeech {
    let paths = TtsPaths::in_store(&model_dir());
    for path in [&paths.voice, &paths.onnxruntime] {
        assert!(
            path.is_file(),
            "{} is missing: run `cargo xtask setup` (it pulls piper-en-us-joe-medium and onnxruntime)",
            path.display()
        );
    }
    TextToSpeech::load(&paths).expect("the Piper voice loads")
}

#[test]
fn spoken_replies_are_heard_back_as_the_same_words() {
    within(BOUND, || {
        let tts = tts();
        let reply = "Opening the terminal. Delete three files? Say yes or no.";
        let parts = sentences(reply);
        assert_eq!(parts.len(), 3);
        let (mut errors, mut words) = (0.0f32, 0usize);
        for sentence in parts {
            let speech = tts.synthesize(sentence).unwrap();
            let audio = &speech.audio;
            assert_eq!(audio.format.sample_rate, 22_050);
            assert!(level_db(&audio.samples) > -40.0, "{sentence:?} is silent");
            let secs = audio.duration().as_secs_f32();
            eprintln!(
                "{sentence:?}: {secs:.2} s of speech in {:.2} s (RTF {:.2})",
                speech.elapsed.as_secs_f32(),
                speech.elapsed.as_secs_f32() / secs
            );
            let heard = stt().transcribe(&to_whisper_input(audio).unwrap()).unwrap();
            let wer = word_error_rate(sentence, &heard.text);
            eprintln!("  heard {:?} (WER {wer:.2})", heard.text);
            let n = sentence.split_whitespace().count();
            (errors, words) = (errors + wer * n as f32, words + n);
            if sentence == "Opening the terminal." {
                assert_eq!(normalize(&heard.text), "opening the terminal");
            }
        }
        // tiny.en mishears a lone "Delete" ("the late"); the reply as a whole must hold.
        let total = errors / words as f32;
        assert!(total <= 0.25, "WER {total:.2} over the reply");
    });
}

#[test]
fn missing_voice_files_are_named() {
    within(BOUND, || {
        let dir = tempfile::tempdir().unwrap();
        let err = TextToSpeech::load(&TtsPaths::in_store(dir.path()))
            .err()
            .unwrap();
        assert!(matches!(err, TtsError::ModelMissing { .. }), "{err}");
        assert!(err.to_string().contains("en_US-joe-medium.onnx"), "{err}");
    });
}
