//! The wake phrase on real speech: Whisper hears "digiOS" as "Diggy OS" and
//! the like; only utterances that begin with it are acted on.

mod common;

use std::time::Duration;

use common::{espeak, model_dir, model_path, within};
use digios_voice::audio::{AudioBuffer, WavSource, to_whisper_input};
use digios_voice::service::{Addressed, Conversation, Engine, Hub, TaskClient};
use digios_voice::{NameMatcher, SpeechToText, SttConfig, TextToSpeech, TtsPaths, VoiceConfig};

const BOUND: Duration = Duration::from_secs(600);

fn engine() -> Engine {
    Engine {
        stt: SpeechToText::load(&model_path(), SttConfig::default()).unwrap(),
        tts: TextToSpeech::load(&TtsPaths::in_store(&model_dir())).unwrap(),
        names: NameMatcher::new(&["digiOS"]),
    }
}

fn hear(
    engine: &Engine,
    dir: &std::path::Path,
    name: &str,
    text: &str,
) -> digios_voice::TranscriptReply {
    let wav = espeak(dir, name, text, "en-us", 160);
    let clip = AudioBuffer::read_all(&mut WavSource::open(&wav).unwrap(), Duration::from_secs(30))
        .unwrap();
    engine.hear(&to_whisper_input(&clip).unwrap()).unwrap()
}

#[test]
fn only_speech_that_starts_with_the_wake_phrase_is_acted_on() {
    within(BOUND, || {
        let dir = tempfile::tempdir().unwrap();
        let engine = engine();
        // No agent listens here: a command that gets through says so.
        let conversation = Conversation::new(
            TaskClient::new("http://127.0.0.1:9", None),
            VoiceConfig::default(),
        );
        let hub = Hub::default();
        let events = hub.subscribe();

        let ignored = hear(&engine, dir.path(), "chatter", "open the terminal");
        let turn = conversation.respond(ignored, Addressed::ByWakePhrase, &hub);
        assert_eq!(turn.reply, "", "{turn:?}");
        assert_eq!(turn.command, None);

        // tiny.en hears a lone "Diggy O S" as "big ass"; after "hey" it holds.
        let woken = hear(&engine, dir.path(), "wake", "Hey Diggy O S.");
        assert_eq!(woken.normalized, "hey digiOS", "{woken:?}");
        let turn = conversation.respond(woken, Addressed::ByWakePhrase, &hub);
        assert_eq!(turn.reply, "Yes?");
        assert!(turn.awaiting_command);

        let command = hear(
            &engine,
            dir.path(),
            "command",
            "Hey Diggy O S, open the terminal",
        );
        let turn = conversation.respond(command, Addressed::ByWakePhrase, &hub);
        assert_eq!(
            turn.command.as_deref(),
            Some("open the terminal"),
            "{turn:?}"
        );
        assert_eq!(turn.reply, "Sorry, I cannot reach the agent.");

        let kinds: Vec<String> = events.try_iter().map(|e| e.kind).collect();
        assert_eq!(kinds, ["idle", "wake", "wake", "thinking"], "{kinds:?}");
    });
}
