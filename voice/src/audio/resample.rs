//! Conversion to Whisper's input (16 kHz mono) with rubato's FFT resampler.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use super::{AudioBuffer, AudioError, AudioFormat, downmix};
use crate::WHISPER_SAMPLE_RATE;

/// Input frames per resampler step: ~20–60 ms at common rates, small enough
/// for live capture, large enough for a good anti-aliasing filter.
const CHUNK_FRAMES: usize = 1024;

/// Downmixes and resamples a whole clip to 16 kHz mono.
pub fn to_whisper_input(buffer: &AudioBuffer) -> Result<Vec<f32>, AudioError> {
    let format = buffer.format;
    if format.sample_rate == 0 || format.channels == 0 {
        return Err(AudioError::BadFormat(format));
    }
    let mono = downmix(&buffer.samples, format.channels);
    if format.sample_rate == WHISPER_SAMPLE_RATE || mono.is_empty() {
        return Ok(mono);
    }
    let mut resampler = new_resampler(format.sample_rate)?;
    let input = InterleavedSlice::new(&mono, 1, mono.len()).map_err(resample_error)?;
    let output = resampler
        .process_all(&input, mono.len(), None)
        .map_err(resample_error)?;
    Ok(output.take_data())
}

/// Converts a clip to `format` (e.g. speech at 22,050 Hz mono for a 48 kHz stereo speaker).
pub fn resample(buffer: &AudioBuffer, format: AudioFormat) -> Result<Vec<f32>, AudioError> {
    let from = buffer.format;
    if from.sample_rate == 0 || from.channels == 0 {
        return Err(AudioError::BadFormat(from));
    }
    if format.sample_rate == 0 || format.channels == 0 {
        return Err(AudioError::BadFormat(format));
    }
    let mono = downmix(&buffer.samples, from.channels);
    let mono = if from.sample_rate == format.sample_rate || mono.is_empty() {
        mono
    } else {
        let mut resampler = Fft::<f32>::new(
            from.sample_rate as usize,
            format.sample_rate as usize,
            CHUNK_FRAMES,
            1,
            FixedSync::Input,
        )
        .map_err(resample_error)?;
        let input = InterleavedSlice::new(&mono, 1, mono.len()).map_err(resample_error)?;
        resampler
            .process_all(&input, mono.len(), None)
            .map_err(resample_error)?
            .take_data()
    };
    let channels = usize::from(format.channels);
    Ok(mono
        .iter()
        .flat_map(|&s| std::iter::repeat_n(s, channels))
        .collect())
}

fn new_resampler(rate: u32) -> Result<Fft<f32>, AudioError> {
    Fft::<f32>::new(
        rate as usize,
        WHISPER_SAMPLE_RATE as usize,
        CHUNK_FRAMES,
        1,
        FixedSync::Input,
    )
    .map_err(resample_error)
}

fn resample_error(err: impl std::fmt::Display) -> AudioError {
    AudioError::Resample(err.to_string())
}

/// Resamples a live stream chunk by chunk (device capture), trimming the
/// resampler's start-up delay so timestamps line up with the input.
pub struct StreamResampler {
    format: AudioFormat,
    resampler: Option<Fft<f32>>,
    pending: Vec<f32>,
    delay_to_trim: usize,
    frames_in: u64,
    frames_out: u64,
}

impl StreamResampler {
    pub fn new(format: AudioFormat) -> Result<Self, AudioError> {
        if format.sample_rate == 0 || format.channels == 0 {
            return Err(AudioError::BadFormat(format));
        }
        let resampler = if format.sample_rate == WHISPER_SAMPLE_RATE {
            None
        } else {
            Some(new_resampler(format.sample_rate)?)
        };
        let delay_to_trim = resampler.as_ref().map_or(0, |r| r.output_delay());
        Ok(Self {
            format,
            resampler,
            pending: Vec::new(),
            delay_to_trim,
            frames_in: 0,
            frames_out: 0,
        })
    }

    /// Adds interleaved input; appends whatever 16 kHz mono output is ready to `out`.
    pub fn push(&mut self, interleaved: &[f32], out: &mut Vec<f32>) -> Result<(), AudioError> {
        let mono = downmix(interleaved, self.format.channels);
        self.frames_in += mono.len() as u64;
        let Some(resampler) = self.resampler.as_mut() else {
            out.extend_from_slice(&mono);
            return Ok(());
        };
        self.pending.extend_from_slice(&mono);
        let mut consumed = 0;
        while self.pending.len() - consumed >= resampler.input_frames_next() {
            let frames = resampler.input_frames_next();
            let chunk = &self.pending[consumed..consumed + frames];
            let input = InterleavedSlice::new(chunk, 1, frames).map_err(resample_error)?;
            let produced = resampler.process(&input, None).map_err(resample_error)?;
            let data = produced.take_data();
            let skip = self.delay_to_trim.min(data.len());
            self.delay_to_trim -= skip;
            out.extend_from_slice(&data[skip..]);
            self.frames_out += (data.len() - skip) as u64;
            consumed += frames;
        }
        self.pending.drain(..consumed);
        Ok(())
    }

    /// Flushes the tail once the input has ended.
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<(), AudioError> {
        let Some(resampler) = self.resampler.as_ref() else {
            return Ok(());
        };
        let expected = (self.frames_in as f64 * resampler.resample_ratio()).ceil() as u64;
        // Zero padding pushes the last real samples through the delay line.
        let chunk = resampler.input_frames_next();
        let zeros = vec![0f32; chunk];
        let frames_in = self.frames_in;
        let mut produced = Vec::new();
        while self.frames_out < expected {
            let channels = usize::from(self.format.channels);
            let padded: Vec<f32> = zeros
                .iter()
                .flat_map(|&z| std::iter::repeat_n(z, channels))
                .collect();
            self.push(&padded, &mut produced)?;
        }
        let overshoot = (self.frames_out - expected) as usize;
        let keep = produced.len().saturating_sub(overshoot);
        out.extend_from_slice(&produced[..keep]);
        self.frames_in = frames_in;
        self.frames_out = expected;
        self.pending.clear();
        Ok(())
    }
}
