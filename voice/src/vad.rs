//! Energy-based voice activity detection with end-of-speech detection.
//!
//! Works on 16 kHz mono in 20 ms frames. A frame is speech when its level is
//! well above a noise floor that adapts during silence; speech starts after a
//! short run of speech frames and ends after a configurable stretch of silence.

use std::collections::VecDeque;
use std::time::Duration;

pub use digios_voice_ipc::VadConfig;

use crate::WHISPER_SAMPLE_RATE;

/// 20 ms at 16 kHz.
pub const FRAME_SAMPLES: usize = 320;
const FRAME_MS: u32 = 20;
/// Below this a frame is silence whatever the noise floor (digital silence, hiss).
const ABSOLUTE_FLOOR_DB: f32 = -55.0;
/// The noise floor is the quietest frame of the last 3 s: speech always has
/// gaps, steady noise does not.
const FLOOR_WINDOW_FRAMES: usize = 150;
/// Until a full window has been seen, the floor is assumed no louder than this,
/// so speech from the very first frame is still found.
const INITIAL_FLOOR_DB: f32 = -50.0;

/// Sample positions count from the first sample the detector was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VadEvent {
    SpeechStart {
        at: u64,
    },
    /// `forced` when the utterance hit `max_utterance_secs` rather than ending in silence.
    SpeechEnd {
        at: u64,
        forced: bool,
    },
}

pub struct VoiceActivityDetector {
    config: VadConfig,
    recent_levels: VecDeque<f32>,
    frames_seen: u64,
    frame: Vec<f32>,
    samples_seen: u64,
    in_speech: bool,
    speech_run: u32,
    silence_run: u32,
    speech_started_at: u64,
}

impl VoiceActivityDetector {
    pub fn new(config: VadConfig) -> Self {
        Self {
            config,
            recent_levels: VecDeque::with_capacity(FLOOR_WINDOW_FRAMES),
            frames_seen: 0,
            frame: Vec::with_capacity(FRAME_SAMPLES),
            samples_seen: 0,
            in_speech: false,
            speech_run: 0,
            silence_run: 0,
            speech_started_at: 0,
        }
    }

    pub fn in_speech(&self) -> bool {
        self.in_speech
    }

    /// Feeds 16 kHz mono samples; returns the events they complete.
    pub fn push(&mut self, samples: &[f32]) -> Vec<VadEvent> {
        let mut events = Vec::new();
        for &s in samples {
            self.frame.push(s);
            if self.frame.len() == FRAME_SAMPLES {
                let level = level_db(&self.frame);
                self.frame.clear();
                self.samples_seen += FRAME_SAMPLES as u64;
                self.on_frame(level, &mut events);
            }
        }
        events
    }

    fn frames(ms: u32) -> u32 {
        ms.div_ceil(FRAME_MS).max(1)
    }

    fn on_frame(&mut self, level: f32, events: &mut Vec<VadEvent>) {
        if self.recent_levels.len() == FLOOR_WINDOW_FRAMES {
            self.recent_levels.pop_front();
        }
        self.recent_levels.push_back(level);
        self.frames_seen += 1;
        let mut floor = self
            .recent_levels
            .iter()
            .copied()
            .fold(f32::INFINITY, f32::min);
        if self.frames_seen < FLOOR_WINDOW_FRAMES as u64 {
            floor = floor.min(INITIAL_FLOOR_DB);
        }
        let speech = level > ABSOLUTE_FLOOR_DB && level > floor + self.config.threshold_db;
        let frame_end = self.samples_seen;

        if self.in_speech {
            self.silence_run = if speech { 0 } else { self.silence_run + 1 };
            let max_samples = (self.config.max_utterance_secs * WHISPER_SAMPLE_RATE as f32) as u64;
            if self.silence_run >= Self::frames(self.config.end_silence_ms) {
                let trailing = u64::from(self.silence_run) * FRAME_SAMPLES as u64;
                events.push(VadEvent::SpeechEnd {
                    at: frame_end - trailing,
                    forced: false,
                });
                self.reset_run();
            } else if frame_end - self.speech_started_at >= max_samples {
                events.push(VadEvent::SpeechEnd {
                    at: frame_end,
                    forced: true,
                });
                self.reset_run();
            }
        } else {
            self.speech_run = if speech { self.speech_run + 1 } else { 0 };
            if self.speech_run >= Self::frames(self.config.min_speech_ms) {
                self.in_speech = true;
                self.silence_run = 0;
                self.speech_started_at =
                    frame_end - u64::from(self.speech_run) * FRAME_SAMPLES as u64;
                events.push(VadEvent::SpeechStart {
                    at: self.speech_started_at,
                });
            }
        }
    }

    fn reset_run(&mut self) {
        self.in_speech = false;
        self.speech_run = 0;
        self.silence_run = 0;
    }
}

/// RMS level in dBFS.
pub fn level_db(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return -120.0;
    }
    let power = samples.iter().map(|s| s * s).sum::<f32>() / samples.len() as f32;
    10.0 * (power + 1e-12).log10()
}

/// Whether a 16 kHz mono clip holds any speech at all.
pub fn contains_speech(samples: &[f32], config: &VadConfig) -> bool {
    let mut vad = VoiceActivityDetector::new(config.clone());
    !vad.push(samples).is_empty() || vad.in_speech()
}

/// The span of the first utterance in a 16 kHz mono clip, padded by `margin`
/// on both sides, or `None` if there is no speech.
pub fn first_utterance(
    samples: &[f32],
    config: &VadConfig,
    margin: Duration,
) -> Option<std::ops::Range<usize>> {
    let mut vad = VoiceActivityDetector::new(config.clone());
    let events = vad.push(samples);
    let pad = (margin.as_secs_f32() * WHISPER_SAMPLE_RATE as f32) as usize;
    let start = events.iter().find_map(|e| match e {
        VadEvent::SpeechStart { at } => Some(*at as usize),
        _ => None,
    })?;
    let end = events
        .iter()
        .find_map(|e| match e {
            VadEvent::SpeechEnd { at, .. } => Some(*at as usize),
            _ => None,
        })
        .unwrap_or(samples.len());
    Some(start.saturating_sub(pad)..(end + pad).min(samples.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(secs: f32, amplitude: f32) -> Vec<f32> {
        let n = (secs * WHISPER_SAMPLE_RATE as f32) as usize;
        (0..n)
            .map(|i| amplitude * (i as f32 * 2.0 * std::f32::consts::PI * 220.0 / 16_000.0).sin())
            .collect()
    }

    fn noise(secs: f32, amplitude: f32) -> Vec<f32> {
        // A fixed LCG: reproducible hiss without a dependency.
        let mut state = 0x1234_5678u32;
        let n = (secs * WHISPER_SAMPLE_RATE as f32) as usize;
        (0..n)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                amplitude * ((state >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0)
            })
            .collect()
    }

    #[test]
    fn finds_start_and_end_of_speech_in_noise() {
        let mut clip = noise(0.5, 0.002);
        let onset = clip.len() as u64;
        clip.extend(
            tone(1.0, 0.3)
                .iter()
                .zip(noise(1.0, 0.002))
                .map(|(a, b)| a + b),
        );
        let offset = clip.len() as u64;
        clip.extend(noise(1.0, 0.002));

        let mut vad = VoiceActivityDetector::new(VadConfig::default());
        // Fed in odd-sized pieces, as a device delivers them.
        let events: Vec<VadEvent> = clip.chunks(441).flat_map(|c| vad.push(c)).collect();
        assert_eq!(events.len(), 2, "{events:?}");
        let VadEvent::SpeechStart { at: start } = events[0] else {
            panic!()
        };
        let VadEvent::SpeechEnd { at: end, forced } = events[1] else {
            panic!()
        };
        assert!(
            start.abs_diff(onset) <= FRAME_SAMPLES as u64,
            "{start} vs {onset}"
        );
        assert!(
            end.abs_diff(offset) <= FRAME_SAMPLES as u64,
            "{end} vs {offset}"
        );
        assert!(!forced);
    }

    #[test]
    fn silence_and_steady_noise_are_not_speech() {
        let config = VadConfig::default();
        assert!(!contains_speech(&vec![0.0; 16_000 * 3], &config));
        assert!(!contains_speech(&noise(3.0, 0.01), &config));
        assert!(contains_speech(&tone(0.5, 0.2), &config));
        // A click shorter than min_speech_ms is ignored.
        let mut click = vec![0.0; 16_000];
        click.extend(tone(0.02, 0.5));
        click.extend(vec![0.0; 16_000]);
        assert!(!contains_speech(&click, &config));
    }

    #[test]
    fn endless_speech_is_cut_at_the_limit() {
        let config = VadConfig {
            max_utterance_secs: 2.0,
            ..VadConfig::default()
        };
        let mut vad = VoiceActivityDetector::new(config);
        let events = vad.push(&tone(5.0, 0.3));
        assert!(
            events.contains(&VadEvent::SpeechEnd {
                at: 32_000,
                forced: true
            }),
            "{events:?}"
        );
    }

    #[test]
    fn first_utterance_is_padded_and_clamped() {
        let mut clip = vec![0.0; 8_000];
        clip.extend(tone(1.0, 0.3));
        clip.extend(vec![0.0; 16_000]);
        let span =
            first_utterance(&clip, &VadConfig::default(), Duration::from_millis(200)).unwrap();
        assert_eq!(span.start, 8_000 - 3_200);
        assert_eq!(span.end, 24_000 + 3_200);
        assert_eq!(
            first_utterance(&[0.0; 16_000], &VadConfig::default(), Duration::ZERO),
            None
        );
    }

    #[test]
    fn config_is_validated_by_key() {
        assert!(VadConfig::default().validate().is_ok());
        let bad = VadConfig {
            end_silence_ms: 5,
            ..VadConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().0, "end_silence_ms");
    }
}
