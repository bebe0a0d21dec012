//! WAV files as a source and a sink (tests, the API's WAV in / WAV out).

use std::fs::File;
use std::io::{BufReader, BufWriter, Cursor, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use hound::{SampleFormat, WavReader, WavSpec, WavWriter};

use super::{AudioError, AudioFormat, AudioSink, AudioSource};

/// Reads PCM (8/16/24/32-bit integer) or 32-bit float WAV data as `f32`.
pub struct WavSource<R: Read> {
    reader: WavReader<R>,
    format: AudioFormat,
    origin: String,
    /// Divides integer samples into [-1, 1]; `None` for float data.
    int_scale: Option<f32>,
}

impl WavSource<BufReader<File>> {
    pub fn open(path: &Path) -> Result<Self, AudioError> {
        let file = File::open(path).map_err(|source| AudioError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::new(BufReader::new(file), path.display().to_string())
    }
}

impl WavSource<Cursor<Vec<u8>>> {
    /// A WAV file held in memory, e.g. an uploaded request body.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, AudioError> {
        Self::new(Cursor::new(bytes), "WAV data".into())
    }
}

impl<R: Read> WavSource<R> {
    /// `origin` names the data in errors.
    pub fn new(reader: R, origin: String) -> Result<Self, AudioError> {
        let reader = WavReader::new(reader).map_err(|err| wav_error(&origin, err))?;
        let spec = reader.spec();
        let int_scale = match (spec.sample_format, spec.bits_per_sample) {
            (SampleFormat::Float, 32) => None,
            (SampleFormat::Int, bits @ (8 | 16 | 24 | 32)) => Some((1u64 << (bits - 1)) as f32),
            (format, bits) => {
                return Err(AudioError::UnsupportedWav {
                    origin,
                    reason: format!("{bits}-bit {format:?} samples"),
                });
            }
        };
        if spec.channels == 0 || spec.sample_rate == 0 {
            return Err(AudioError::UnsupportedWav {
                origin,
                reason: format!("{} channels at {} Hz", spec.channels, spec.sample_rate),
            });
        }
        Ok(Self {
            format: AudioFormat {
                sample_rate: spec.sample_rate,
                channels: spec.channels,
            },
            reader,
            origin,
            int_scale,
        })
    }
}

impl<R: Read + Send> AudioSource for WavSource<R> {
    fn format(&self) -> AudioFormat {
        self.format
    }

    fn read(&mut self, buf: &mut [f32]) -> Result<usize, AudioError> {
        let mut n = 0;
        match self.int_scale {
            Some(scale) => {
                for (slot, sample) in buf.iter_mut().zip(self.reader.samples::<i32>()) {
                    *slot = sample.map_err(|err| wav_error(&self.origin, err))? as f32 / scale;
                    n += 1;
                }
            }
            None => {
                for (slot, sample) in buf.iter_mut().zip(self.reader.samples::<f32>()) {
                    *slot = sample.map_err(|err| wav_error(&self.origin, err))?;
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}

fn wav_error(origin: &str, err: hound::Error) -> AudioError {
    let reason = match err {
        // hound reports a short read as `Other` with this message.
        hound::Error::IoError(io)
            if io.kind() == std::io::ErrorKind::UnexpectedEof
                || io.to_string().contains("enough bytes") =>
        {
            "the data ends early (truncated)".to_string()
        }
        other => other.to_string(),
    };
    AudioError::CorruptWav {
        origin: origin.to_string(),
        reason,
    }
}

/// Writes 16-bit PCM WAV.
pub struct WavSink<W: Write + Seek> {
    writer: Option<WavWriter<W>>,
    format: AudioFormat,
    origin: String,
    /// The bytes of an in-memory sink.
    memory: Option<SharedBuffer>,
}

impl WavSink<BufWriter<File>> {
    pub fn create(path: &Path, format: AudioFormat) -> Result<Self, AudioError> {
        let writer = WavWriter::create(path, spec_for(format)).map_err(|err| AudioError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other(err),
        })?;
        Ok(Self {
            writer: Some(writer),
            format,
            origin: path.display().to_string(),
            memory: None,
        })
    }
}

impl WavSink<SharedBuffer> {
    /// A WAV file built in memory; take it with [`WavSink::into_bytes`].
    pub fn in_memory(format: AudioFormat) -> Result<Self, AudioError> {
        let buffer = SharedBuffer::default();
        let writer = WavWriter::new(buffer.clone(), spec_for(format))
            .map_err(|err| wav_error("WAV output", err))?;
        Ok(Self {
            writer: Some(writer),
            format,
            origin: "WAV output".into(),
            memory: Some(buffer),
        })
    }

    pub fn into_bytes(mut self) -> Result<Vec<u8>, AudioError> {
        let Some(writer) = self.writer.take() else {
            return Err(AudioError::CorruptWav {
                origin: self.origin.clone(),
                reason: "already finished".into(),
            });
        };
        let Some(buffer) = self.memory.take() else {
            return Err(AudioError::CorruptWav {
                origin: self.origin.clone(),
                reason: "not an in-memory sink".into(),
            });
        };
        writer
            .finalize()
            .map_err(|err| wav_error(&self.origin, err))?;
        let bytes = buffer.0.lock().map(|mut c| std::mem::take(c.get_mut()));
        bytes.map_err(|_| AudioError::CorruptWav {
            origin: self.origin.clone(),
            reason: "the buffer was poisoned".into(),
        })
    }
}

/// An in-memory file whose bytes stay reachable after hound's writer, which
/// consumes its output on `finalize`, is gone.
#[derive(Clone, Default)]
pub struct SharedBuffer(Arc<Mutex<Cursor<Vec<u8>>>>);

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lock()?.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Seek for SharedBuffer {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.lock()?.seek(pos)
    }
}

impl SharedBuffer {
    fn lock(&self) -> std::io::Result<std::sync::MutexGuard<'_, Cursor<Vec<u8>>>> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("WAV buffer poisoned"))
    }
}

fn spec_for(format: AudioFormat) -> WavSpec {
    WavSpec {
        channels: format.channels,
        sample_rate: format.sample_rate,
        bits_per_sample: 16,
        sample_format: SampleFormat::Int,
    }
}

impl<W: Write + Seek + Send> AudioSink for WavSink<W> {
    fn format(&self) -> AudioFormat {
        self.format
    }

    fn write(&mut self, samples: &[f32]) -> Result<(), AudioError> {
        let Some(writer) = self.writer.as_mut() else {
            return Err(AudioError::CorruptWav {
                origin: self.origin.clone(),
                reason: "written after finish".into(),
            });
        };
        let mut i16_writer = writer.get_i16_writer(samples.len() as u32);
        for &s in samples {
            i16_writer.write_sample((s.clamp(-1.0, 1.0) * f32::from(i16::MAX)) as i16);
        }
        i16_writer
            .flush()
            .map_err(|err| wav_error(&self.origin, err))
    }

    fn finish(&mut self) -> Result<(), AudioError> {
        if let Some(writer) = self.writer.as_mut() {
            writer.flush().map_err(|err| wav_error(&self.origin, err))?;
        }
        Ok(())
    }
}
