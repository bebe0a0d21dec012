//! Speaking a reply: synthesis runs a sentence ahead of playback, so the
//! first sentence plays while the next is made; while speaking, the
//! microphone is watched and speech from the user stops playback (barge-in).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::json;

use super::hub::Hub;
use crate::audio::{
    AudioBuffer, AudioError, AudioFormat, AudioSink, AudioSource, StreamResampler, resample,
};
use crate::tts::{TextToSpeech, TtsError, sentences};
use crate::vad::{VadConfig, VadEvent, VoiceActivityDetector};
use digios_voice_ipc::VoiceState;

/// Audio is handed to the sink in slices this long; between slices the
/// microphone is read for as long, which paces a live loop in real time.
const SLICE: Duration = Duration::from_millis(20);
/// Microphone audio kept from before speech is detected, so the words that
/// interrupted are heard whole.
const PRE_ROLL: Duration = Duration::from_millis(400);

#[derive(Debug, thiserror::Error)]
pub enum SpeakError {
    #[error(transparent)]
    Tts(#[from] TtsError),
    #[error(transparent)]
    Audio(#[from] AudioError),
}

#[derive(Debug)]
pub enum Spoken {
    Finished,
    /// The user spoke over the reply; `heard` is their speech so far (the
    /// microphone's format), to be heard to its end and acted on.
    Interrupted {
        heard: AudioBuffer,
    },
    /// Stopped on request.
    Stopped,
}

/// Speaks `text` into `sink`. With `listen`, the microphone is watched and
/// playback stops as soon as the user speaks.
pub fn speak(
    tts: &TextToSpeech,
    text: &str,
    speed: f32,
    sink: &mut dyn AudioSink,
    listen: Option<(&mut dyn AudioSource, &VadConfig)>,
    hub: &Hub,
    stop: &AtomicBool,
) -> Result<Spoken, SpeakError> {
    let parts: Vec<String> = sentences(text).into_iter().map(str::to_string).collect();
    if parts.is_empty() {
        return Ok(Spoken::Finished);
    }
    let mut monitor = match listen {
        Some((source, vad)) => Some(Monitor::new(source, vad)?),
        None => None,
    };
    let format = sink.format();
    let cancel = AtomicBool::new(false);
    std::thread::scope(|scope| {
        // One sentence ahead: enough to play without gaps, little wasted on barge-in.
        let (synthesised, next) = mpsc::sync_channel::<Result<AudioBuffer, TtsError>>(1);
        let cancel = &cancel;
        scope.spawn(move || {
            for part in parts {
                if cancel.load(Ordering::Relaxed) {
                    break;
                }
                let speech = tts.synthesize_at(&part, speed).map(|s| s.audio);
                if synthesised.send(speech).is_err() {
                    break;
                }
            }
        });
        let outcome = (|| -> Result<Spoken, SpeakError> {
            hub.set_state(VoiceState::Speaking, None);
            let slice = slice_len(format);
            for speech in next.iter() {
                let samples = resample(&speech?, format)?;
                for piece in samples.chunks(slice) {
                    if stop.load(Ordering::Relaxed) {
                        sink.clear();
                        return Ok(Spoken::Stopped);
                    }
                    sink.write(piece)?;
                    if let Some(monitor) = monitor.as_mut()
                        && let Some(heard) = monitor.listen()?
                    {
                        sink.clear();
                        hub.publish(
                            "barge_in",
                            json!({ "heard_ms": heard.duration().as_millis() as u64 }),
                        );
                        return Ok(Spoken::Interrupted { heard });
                    }
                }
            }
            sink.finish()?;
            Ok(Spoken::Finished)
        })();
        cancel.store(true, Ordering::Relaxed);
        drop(next);
        outcome
    })
}

fn slice_len(format: AudioFormat) -> usize {
    let frames = (SLICE.as_secs_f64() * f64::from(format.sample_rate)).ceil() as usize;
    frames.max(1) * usize::from(format.channels.max(1))
}

/// Watches a microphone for the start of speech.
struct Monitor<'a> {
    source: &'a mut dyn AudioSource,
    resampler: StreamResampler,
    vad: VoiceActivityDetector,
    recent: VecDeque<f32>,
    keep: usize,
    slice: usize,
    ended: bool,
    converted: Vec<f32>,
}

impl<'a> Monitor<'a> {
    fn new(source: &'a mut dyn AudioSource, vad: &VadConfig) -> Result<Self, AudioError> {
        let format = source.format();
        Ok(Self {
            resampler: StreamResampler::new(format)?,
            vad: VoiceActivityDetector::new(vad.clone()),
            recent: VecDeque::new(),
            keep: slice_len(format) * (PRE_ROLL.as_millis() / SLICE.as_millis()) as usize,
            slice: slice_len(format),
            source,
            ended: false,
            converted: Vec::new(),
        })
    }

    /// Reads one slice of microphone audio; returns what was heard if speech began.
    fn listen(&mut self) -> Result<Option<AudioBuffer>, AudioError> {
        if self.ended {
            return Ok(None);
        }
        let mut buf = vec![0f32; self.slice];
        let mut filled = 0;
        while filled < buf.len() {
            let n = self.source.read(&mut buf[filled..])?;
            if n == 0 {
                self.ended = true;
                break;
            }
            filled += n;
        }
        let raw = &buf[..filled];
        self.recent.extend(raw);
        let excess = self.recent.len().saturating_sub(self.keep);
        self.recent.drain(..excess);
        self.converted.clear();
        self.resampler.push(raw, &mut self.converted)?;
        let started = self
            .vad
            .push(&self.converted)
            .iter()
            .any(|e| matches!(e, VadEvent::SpeechStart { .. }));
        if !started {
            return Ok(None);
        }
        Ok(Some(AudioBuffer {
            format: self.source.format(),
            samples: self.recent.iter().copied().collect(),
        }))
    }
}

/// A source that first replays audio already heard, then reads on.
pub struct Prefixed<'a> {
    prefix: VecDeque<f32>,
    source: &'a mut dyn AudioSource,
}

impl<'a> Prefixed<'a> {
    /// `prefix` must be in `source`'s format.
    pub fn new(prefix: Vec<f32>, source: &'a mut dyn AudioSource) -> Self {
        Self {
            prefix: prefix.into(),
            source,
        }
    }
}

impl AudioSource for Prefixed<'_> {
    fn format(&self) -> AudioFormat {
        self.source.format()
    }

    fn read(&mut self, buf: &mut [f32]) -> Result<usize, AudioError> {
        if self.prefix.is_empty() {
            return self.source.read(buf);
        }
        let n = buf.len().min(self.prefix.len());
        for (slot, sample) in buf.iter_mut().zip(self.prefix.drain(..n)) {
            *slot = sample;
        }
        Ok(n)
    }
}
