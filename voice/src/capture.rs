//! Listening for one utterance: read a source, convert to 16 kHz mono, and
//! cut from just before speech starts to when it ends.

use std::collections::VecDeque;
use std::time::Duration;

use crate::WHISPER_SAMPLE_RATE;
use crate::audio::{AudioError, AudioSource, StreamResampler};
use crate::vad::{VadConfig, VadEvent, VoiceActivityDetector};

/// Audio kept from before the detected onset: soft first consonants sit below
/// the threshold.
const PRE_ROLL: Duration = Duration::from_millis(300);
/// Audio kept after the detected end, for trailing consonants.
const TAIL: Duration = Duration::from_millis(200);
/// Samples read from the source per step.
const READ_CHUNK: usize = 4096;

/// One utterance, 16 kHz mono.
#[derive(Debug, Clone, PartialEq)]
pub struct Utterance {
    pub samples: Vec<f32>,
    /// The speaker was cut off at `max_utterance_secs` or the source ended mid-speech.
    pub cut_off: bool,
}

impl Utterance {
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.samples.len() as f64 / f64::from(WHISPER_SAMPLE_RATE))
    }
}

fn samples_in(duration: Duration) -> usize {
    (duration.as_secs_f64() * f64::from(WHISPER_SAMPLE_RATE)) as usize
}

/// Reads `source` until one utterance has ended. Returns `None` if the source
/// ends, or `max_wait` of audio passes, without speech. Time is counted in
/// audio, not wall-clock, so a file source behaves like a live one.
pub fn capture_utterance(
    source: &mut dyn AudioSource,
    config: &VadConfig,
    max_wait: Duration,
) -> Result<Option<Utterance>, AudioError> {
    let mut resampler = StreamResampler::new(source.format())?;
    let mut vad = VoiceActivityDetector::new(config.clone());
    let (pre_roll, tail, max_wait) = (samples_in(PRE_ROLL), samples_in(TAIL), samples_in(max_wait));

    // Everything since `origin` (a sample index in the 16 kHz stream).
    let mut kept: VecDeque<f32> = VecDeque::new();
    let mut origin = 0u64;
    let mut fed = 0u64;
    let mut speech_start: Option<u64> = None;
    let mut speech_end: Option<(u64, bool)> = None;

    let mut raw = vec![0f32; READ_CHUNK * usize::from(source.format().channels)];
    let mut converted = Vec::new();
    loop {
        let n = source.read(&mut raw)?;
        converted.clear();
        if n == 0 {
            resampler.finish(&mut converted)?;
        } else {
            resampler.push(&raw[..n], &mut converted)?;
        }
        kept.extend(&converted);
        for event in vad.push(&converted) {
            match event {
                VadEvent::SpeechStart { at } if speech_start.is_none() => speech_start = Some(at),
                VadEvent::SpeechEnd { at, forced }
                    if speech_start.is_some() && speech_end.is_none() =>
                {
                    speech_end = Some((at, forced));
                }
                _ => {}
            }
        }
        fed += converted.len() as u64;

        match (speech_start, speech_end) {
            (Some(start), Some((end, forced))) if fed >= end + tail as u64 || n == 0 => {
                return Ok(Some(cut(
                    &kept,
                    origin,
                    start.saturating_sub(pre_roll as u64),
                    end + tail as u64,
                    forced,
                )));
            }
            (Some(start), None) if n == 0 => {
                return Ok(Some(cut(
                    &kept,
                    origin,
                    start.saturating_sub(pre_roll as u64),
                    fed,
                    true,
                )));
            }
            (None, _) if n == 0 || fed >= max_wait as u64 => return Ok(None),
            (None, _) => {
                // Only the pre-roll matters before speech starts.
                let excess = kept
                    .len()
                    .saturating_sub(pre_roll + crate::vad::FRAME_SAMPLES * 4);
                kept.drain(..excess);
                origin += excess as u64;
            }
            _ => {}
        }
    }
}

fn cut(kept: &VecDeque<f32>, origin: u64, from: u64, to: u64, cut_off: bool) -> Utterance {
    let from = from.saturating_sub(origin).min(kept.len() as u64) as usize;
    let to = to.saturating_sub(origin).min(kept.len() as u64) as usize;
    Utterance {
        samples: kept.range(from..to.max(from)).copied().collect(),
        cut_off,
    }
}
