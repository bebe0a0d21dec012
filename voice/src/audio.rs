//! Audio in and out behind two small traits, so the voice loop runs the same
//! over a sound card, a WAV file or a scripted test source.

pub mod device;
pub mod resample;
pub mod wav;

use std::path::PathBuf;
use std::time::Duration;

pub use device::{DeviceError, DeviceSink, DeviceSource, VoiceAvailability};
pub use resample::{StreamResampler, resample, to_whisper_input};
pub use wav::{WavSink, WavSource};

/// Sample rate and channel count of interleaved `f32` samples in [-1, 1].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioFormat {
    pub sample_rate: u32,
    pub channels: u16,
}

impl AudioFormat {
    pub const WHISPER: AudioFormat = AudioFormat {
        sample_rate: crate::WHISPER_SAMPLE_RATE,
        channels: 1,
    };

    pub fn duration_of(&self, samples: usize) -> Duration {
        let frames = samples / usize::from(self.channels.max(1));
        Duration::from_secs_f64(frames as f64 / f64::from(self.sample_rate.max(1)))
    }
}

/// Where audio comes from: a microphone, a file, a script.
pub trait AudioSource: Send {
    fn format(&self) -> AudioFormat;
    /// Fills `buf` with interleaved samples and returns how many were written;
    /// `Ok(0)` means the source has ended.
    fn read(&mut self, buf: &mut [f32]) -> Result<usize, AudioError>;
}

/// Where audio goes: a speaker, a file, a test buffer.
pub trait AudioSink: Send {
    fn format(&self) -> AudioFormat;
    /// Queues interleaved samples in this sink's format.
    fn write(&mut self, samples: &[f32]) -> Result<(), AudioError>;
    /// Blocks until everything written has been played or stored.
    fn finish(&mut self) -> Result<(), AudioError>;
    /// Drops audio written but not yet played (barge-in). Sinks that store
    /// rather than play have nothing pending.
    fn clear(&mut self) {}
}

#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    #[error("{origin}: not a readable WAV file: {reason}")]
    CorruptWav { origin: String, reason: String },
    #[error("{origin}: unsupported WAV format: {reason}")]
    UnsupportedWav { origin: String, reason: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("audio input is longer than the {max_secs} s limit")]
    TooLong { max_secs: f32 },
    #[error("audio format {0:?} is not usable (zero rate or channels)")]
    BadFormat(AudioFormat),
    #[error("resampling failed: {0}")]
    Resample(String),
    #[error(transparent)]
    Device(#[from] DeviceError),
}

/// A whole clip in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioBuffer {
    pub format: AudioFormat,
    pub samples: Vec<f32>,
}

impl AudioBuffer {
    pub fn duration(&self) -> Duration {
        self.format.duration_of(self.samples.len())
    }

    /// Reads `source` to its end, refusing (without reading on) anything longer than `max`.
    pub fn read_all(source: &mut dyn AudioSource, max: Duration) -> Result<Self, AudioError> {
        let format = source.format();
        if format.sample_rate == 0 || format.channels == 0 {
            return Err(AudioError::BadFormat(format));
        }
        let max_samples = (max.as_secs_f64() * f64::from(format.sample_rate)).ceil() as usize
            * usize::from(format.channels);
        let mut samples = Vec::new();
        let mut chunk = vec![0f32; 8192 * usize::from(format.channels)];
        loop {
            let n = source.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            if samples.len() + n > max_samples {
                return Err(AudioError::TooLong {
                    max_secs: max.as_secs_f32(),
                });
            }
            samples.extend_from_slice(&chunk[..n]);
        }
        Ok(Self { format, samples })
    }
}

/// A source over samples already in memory (scripted input for tests and the API).
pub struct MemorySource {
    buffer: AudioBuffer,
    position: usize,
}

impl MemorySource {
    pub fn new(buffer: AudioBuffer) -> Self {
        Self {
            buffer,
            position: 0,
        }
    }
}

impl AudioSource for MemorySource {
    fn format(&self) -> AudioFormat {
        self.buffer.format
    }

    fn read(&mut self, buf: &mut [f32]) -> Result<usize, AudioError> {
        let rest = &self.buffer.samples[self.position..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.position += n;
        Ok(n)
    }
}

/// Averages interleaved channels into one.
pub fn downmix(samples: &[f32], channels: u16) -> Vec<f32> {
    match channels {
        0 | 1 => samples.to_vec(),
        n => samples
            .chunks_exact(usize::from(n))
            .map(|frame| frame.iter().sum::<f32>() / f32::from(n))
            .collect(),
    }
}
