//! The microphone loop: push-to-talk or the wake phrase, one utterance at a
//! time, replies on the speaker with barge-in. No microphone is a resting
//! state (`unavailable`), looked at again now and then, never a crash.

use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::Duration;

use digios_voice_ipc::{Activation, VoiceState};
use serde_json::json;

use super::VoiceService;
use super::conversation::Addressed;
use super::speaking::{Prefixed, Spoken, speak};
use crate::audio::{AudioError, AudioSource, DeviceSink, DeviceSource};
use crate::capture::capture_utterance;

/// How often a missing microphone is looked for again.
const RETRY: Duration = Duration::from_secs(10);
/// Push-to-talk waits this long for speech to begin.
const PUSH_TO_TALK_WAIT: Duration = Duration::from_secs(8);
/// Wake-phrase listening returns this often to notice a push-to-talk or stop.
const WAKE_WINDOW: Duration = Duration::from_secs(5);
/// Audio discarded per read while waiting for push-to-talk.
const DISCARD_CHUNK: usize = 1024;

pub fn run(service: &VoiceService, triggers: Receiver<()>) {
    let hub = &service.hub;
    loop {
        let mut source = match DeviceSource::open(service.config.input_device.as_deref()) {
            Ok(source) => source,
            Err(err) => {
                service.microphone_ready.store(false, Ordering::Relaxed);
                tracing::info!("{err}");
                hub.set_resting(VoiceState::Unavailable, Some(err.to_string()));
                match triggers.recv_timeout(RETRY) {
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
                    _ => continue,
                }
            }
        };
        service.microphone_ready.store(true, Ordering::Relaxed);
        hub.set_resting(VoiceState::Idle, None);
        if let Err(err) = listen_on(service, &mut source, &triggers) {
            tracing::warn!("microphone loop: {err}");
        }
        service.microphone_ready.store(false, Ordering::Relaxed);
    }
}

/// Runs turns on an open microphone until it fails.
fn listen_on(
    service: &VoiceService,
    source: &mut DeviceSource,
    triggers: &Receiver<()>,
) -> Result<(), AudioError> {
    let mut speaker: Option<DeviceSink> = None;
    let mut discard = vec![0f32; DISCARD_CHUNK];
    loop {
        let pushed = match triggers.try_recv() {
            Ok(()) => true,
            Err(TryRecvError::Empty) => false,
            Err(TryRecvError::Disconnected) => return Ok(()),
        };
        let (addressed, wait) = match (pushed, service.config.activation) {
            (true, _) => (Addressed::Directly, PUSH_TO_TALK_WAIT),
            (false, Activation::WakePhrase) => (Addressed::ByWakePhrase, WAKE_WINDOW),
            (false, Activation::PushToTalk) => {
                // Keep the capture queue fresh so a push hears the present.
                source.read(&mut discard)?;
                continue;
            }
        };
        service.stop.store(false, Ordering::Relaxed);
        let mut prefix = Vec::new();
        let mut addressed = addressed;
        let mut wait = wait;
        // A turn, and the turns that follow from it (an answer, a barge-in).
        loop {
            if addressed == Addressed::Directly {
                service.hub.set_state(VoiceState::Listening, None);
            }
            let mut input = Prefixed::new(std::mem::take(&mut prefix), source);
            let heard = capture_utterance(&mut input, &service.config.vad, wait)?;
            let Some(utterance) = heard else {
                service.hub.rest();
                break;
            };
            // Held while acting, not while waiting for speech, so a turn
            // from the API is not kept waiting by an idle microphone.
            let Ok(_turn) = service.turn_lock.lock() else {
                return Ok(());
            };
            service.hub.set_state(VoiceState::Transcribing, None);
            let transcript = match service.engine.hear(&utterance.samples) {
                Ok(transcript) => transcript,
                Err(err) => {
                    tracing::warn!("transcription failed: {err}");
                    service.hub.rest();
                    break;
                }
            };
            if addressed == Addressed::Directly || !transcript.silent {
                service.hub.publish("transcript", json!(transcript));
            }
            let turn = service
                .conversation
                .respond(transcript, addressed, &service.hub);
            if turn.reply.is_empty() {
                service.hub.rest();
                break;
            }
            service.announce_reply(&turn);
            if speaker.is_none() {
                match DeviceSink::open(service.config.output_device.as_deref()) {
                    Ok(sink) => speaker = Some(sink),
                    Err(err) => tracing::warn!("replies are not played: {err}"),
                }
            }
            let spoken = match speaker.as_mut() {
                Some(sink) => {
                    let listen = service
                        .config
                        .barge_in
                        .then_some((source as &mut dyn AudioSource, &service.config.vad));
                    speak(
                        &service.engine.tts,
                        &turn.reply,
                        service.config.speech_rate,
                        sink,
                        listen,
                        &service.hub,
                        &service.stop,
                    )
                }
                None => Ok(Spoken::Finished),
            };
            match spoken {
                Ok(Spoken::Interrupted { heard }) => {
                    prefix = heard.samples;
                    addressed = Addressed::Directly;
                    wait = PUSH_TO_TALK_WAIT;
                }
                Ok(Spoken::Finished) if turn.awaiting_answer || turn.awaiting_command => {
                    addressed = Addressed::Directly;
                    wait = Duration::from_secs_f32(service.config.answer_timeout_secs);
                }
                Ok(_) => {
                    service.hub.rest();
                    break;
                }
                Err(err) => {
                    tracing::warn!("speaking failed: {err}");
                    speaker = None;
                    service.hub.rest();
                    break;
                }
            }
        }
    }
}
