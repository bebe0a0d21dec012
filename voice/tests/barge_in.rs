//! Barge-in: speech from the user while digiOS speaks stops the reply. A
//! scripted microphone (silence, then a spoken word) makes the moment
//! deterministic; the test asserts the order of events and how much reply
//! audio was handed out after the user began, never wall-clock time.

mod common;

use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{espeak, model_dir, stt, within};
use digios_voice::audio::{AudioBuffer, MemorySource, WavSource, to_whisper_input};
use digios_voice::service::{Hub, Prefixed, Spoken, speak};
use digios_voice::{
    AudioError, AudioFormat, AudioSink, TextToSpeech, TtsPaths, VadConfig, VoiceEvent,
    capture_utterance, normalize, word_error_rate,
};

const BOUND: Duration = Duration::from_secs(600);

/// A speaker that logs what it is given, interleaved with the loop's events.
struct LoggingSpeaker {
    format: AudioFormat,
    log: Arc<Mutex<Vec<String>>>,
    events: Receiver<VoiceEvent>,
    written: usize,
    played: usize,
    kept: Vec<f32>,
}

impl LoggingSpeaker {
    fn drain_events(&self) {
        let mut log = self.log.lock().unwrap();
        for event in self.events.try_iter() {
            log.push(format!("event:{}", event.kind));
        }
    }
}

impl AudioSink for LoggingSpeaker {
    fn format(&self) -> AudioFormat {
        self.format
    }

    fn write(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        self.drain_events();
        let mut log = self.log.lock().unwrap();
        if log.last().map(String::as_str) != Some("write") {
            log.push("write".into());
        }
        self.written += samples.len();
        self.kept.extend_from_slice(samples);
        Ok(())
    }

    fn finish(&mut self) -> Result<(), AudioError> {
        self.drain_events();
        self.log.lock().unwrap().push("finish".into());
        self.played = self.written;
        Ok(())
    }

    fn clear(&mut self) {
        self.drain_events();
        self.log.lock().unwrap().push("clear".into());
    }
}

fn tts() -> TextToSpeech {
    TextToSpeech::load(&TtsPaths::in_store(&model_dir())).expect("the Piper voice loads")
}

const REPLY: &str = "I found twelve files in your documents folder. \
    The largest is a video from last summer. Shall I list them all?";

#[test]
fn speech_while_speaking_stops_playback_and_is_heard() {
    within(BOUND, || {
        let dir = tempfile::tempdir().unwrap();
        let tts = tts();
        // The microphone: 0.6 s of quiet room, then "stop", then quiet.
        let word = espeak(dir.path(), "stop", "stop", "en-us", 175);
        let word =
            AudioBuffer::read_all(&mut WavSource::open(&word).unwrap(), Duration::from_secs(5))
                .unwrap();
        let rate = word.format.sample_rate as usize;
        let onset_samples = rate * 6 / 10;
        let mut samples = vec![0.0f32; onset_samples];
        samples.extend(&word.samples);
        samples.extend(vec![0.0f32; rate * 2]);
        let mut microphone = MemorySource::new(AudioBuffer {
            format: word.format,
            samples,
        });

        let hub = Hub::default();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut speaker = LoggingSpeaker {
            format: AudioFormat {
                sample_rate: 48_000,
                channels: 2,
            },
            log: log.clone(),
            events: hub.subscribe(),
            written: 0,
            played: 0,
            kept: Vec::new(),
        };
        let never = AtomicBool::new(false);
        let vad = VadConfig::default();
        let spoken = speak(
            &tts,
            REPLY,
            1.0,
            &mut speaker,
            Some((&mut microphone, &vad)),
            &hub,
            &never,
        )
        .unwrap();
        speaker.drain_events();
        let log = log.lock().unwrap().clone();
        eprintln!("{log:?}");

        let Spoken::Interrupted { heard } = spoken else {
            panic!("the reply was not interrupted: {spoken:?}");
        };
        // Order: speaking, playback, the stop (queue dropped), then the barge-in event.
        let position = |what: &str| log.iter().position(|l| l == what);
        let speaking = position("event:speaking").expect("speaking announced");
        let first_write = position("write").expect("audio written");
        let clear = position("clear").expect("playback cleared");
        let barge_in = position("event:barge_in").expect("barge-in announced");
        assert!(
            speaking < first_write && first_write < clear && clear < barge_in,
            "{log:?}"
        );
        assert!(!log.contains(&"finish".to_string()), "{log:?}");
        assert_eq!(speaker.played, 0);

        // Reply audio handed to the speaker after the user began talking, in
        // the speaker's own time: at most 200 ms.
        let speaker_rate = 48_000.0 * 2.0;
        let written_secs = speaker.written as f32 / speaker_rate;
        let onset_secs = onset_samples as f32 / rate as f32;
        let after_onset = written_secs - onset_secs;
        eprintln!(
            "reply audio written: {written_secs:.3} s; after the user began: {after_onset:.3} s"
        );
        assert!(
            after_onset <= 0.2,
            "{after_onset:.3} s of reply audio after barge-in"
        );
        let whole_reply = tts
            .synthesize(REPLY)
            .unwrap()
            .audio
            .duration()
            .as_secs_f32();
        assert!(
            written_secs < whole_reply / 2.0,
            "{written_secs} s of {whole_reply} s"
        );

        // What interrupted is heard whole: the pre-roll plus the rest of the microphone.
        assert_eq!(heard.format, word.format);
        let mut rest = Prefixed::new(heard.samples, &mut microphone);
        let utterance = capture_utterance(&mut rest, &vad, Duration::from_secs(5))
            .unwrap()
            .expect("the interrupting word is captured");
        let transcript = stt().transcribe(&utterance.samples).unwrap();
        assert_eq!(normalize(&transcript.text), "stop", "{transcript:?}");
    });
}

#[test]
fn a_reply_without_interruption_is_played_to_the_end() {
    within(BOUND, || {
        let tts = tts();
        let hub = Hub::default();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut speaker = LoggingSpeaker {
            format: AudioFormat {
                sample_rate: 22_050,
                channels: 1,
            },
            log: log.clone(),
            events: hub.subscribe(),
            written: 0,
            played: 0,
            kept: Vec::new(),
        };
        // A quiet room for longer than the reply.
        let mut microphone = MemorySource::new(AudioBuffer {
            format: AudioFormat::WHISPER,
            samples: vec![0.0; 16_000 * 30],
        });
        let never = AtomicBool::new(false);
        let vad = VadConfig::default();
        let spoken = speak(
            &tts,
            REPLY,
            1.0,
            &mut speaker,
            Some((&mut microphone, &vad)),
            &hub,
            &never,
        )
        .unwrap();
        assert!(matches!(spoken, Spoken::Finished), "{spoken:?}");
        let log = log.lock().unwrap().clone();
        assert_eq!(log.last().map(String::as_str), Some("finish"), "{log:?}");
        assert!(!log.contains(&"clear".to_string()));
        // Spoken sentence by sentence, the reply is as long as the reply at once (±10 %).
        let whole = tts.synthesize(REPLY).unwrap().audio.samples.len() as f32;
        let ratio = speaker.played as f32 / whole;
        assert!((0.9..1.1).contains(&ratio), "{ratio}");
        let played = AudioBuffer {
            format: speaker.format,
            samples: std::mem::take(&mut speaker.kept),
        };
        let heard = stt()
            .transcribe(&to_whisper_input(&played).unwrap())
            .unwrap();
        let wer = word_error_rate(REPLY, &heard.text);
        eprintln!("heard {:?} (WER {wer:.2})", heard.text);
        assert!(wer <= 0.25, "heard {:?}", heard.text);
    });
}
