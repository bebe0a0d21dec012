//! Sound cards through cpal (ALSA). A machine without one is a normal state
//! ("voice unavailable"), never a crash: opening reports a [`DeviceError`].
//!
//! cpal streams may not cross threads, so each stream lives on its own thread
//! and talks to the source or sink over channels.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample, StreamConfig};

use super::{AudioError, AudioFormat, AudioSink, AudioSource};

/// How long a device may take to open before it counts as unavailable.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// A live device delivers audio continuously; this much silence from it means it stalled.
const STALL_TIMEOUT: Duration = Duration::from_secs(2);
/// Capture chunks buffered before new ones are dropped (a few seconds of audio).
const CAPTURE_QUEUE_CHUNKS: usize = 512;
/// Playback audio queued ahead of the device, in seconds.
const PLAYBACK_QUEUE_SECS: f32 = 2.0;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    #[error("voice unavailable: no input device")]
    NoInputDevice,
    #[error("voice unavailable: no output device")]
    NoOutputDevice,
    #[error("voice unavailable: no audio device named `{0}`")]
    NotFound(String),
    #[error("voice unavailable: {device}: {reason}")]
    Failed { device: String, reason: String },
    #[error("voice unavailable: the audio device did not open within {0:?}")]
    OpenTimeout(Duration),
    #[error("the audio stream stopped: {0}")]
    Stopped(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Input,
    Output,
}

/// Whether the voice loop can run here, and if not, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoiceAvailability {
    Available { input: String },
    Unavailable { reason: DeviceError },
}

impl VoiceAvailability {
    /// Looks for the input device (`None`: the default) without opening a stream.
    pub fn probe(input: Option<&str>) -> Self {
        let probe = || -> Result<String, DeviceError> {
            let device = find_device(Direction::Input, input)?;
            device_config(&device, Direction::Input)?;
            Ok(device.to_string())
        };
        match probe() {
            Ok(input) => Self::Available { input },
            Err(reason) => Self::Unavailable { reason },
        }
    }
}

fn find_device(direction: Direction, name: Option<&str>) -> Result<cpal::Device, DeviceError> {
    let host = cpal::default_host();
    let missing = || match direction {
        Direction::Input => DeviceError::NoInputDevice,
        Direction::Output => DeviceError::NoOutputDevice,
    };
    let Some(name) = name else {
        let device = match direction {
            Direction::Input => host.default_input_device(),
            Direction::Output => host.default_output_device(),
        };
        return device.ok_or_else(missing);
    };
    let devices = match direction {
        Direction::Input => host.input_devices().map(|d| d.collect::<Vec<_>>()),
        Direction::Output => host.output_devices().map(|d| d.collect::<Vec<_>>()),
    }
    .map_err(|_| missing())?;
    devices
        .into_iter()
        .find(|d| d.to_string() == name || d.id().is_ok_and(|id| id.to_string() == name))
        .ok_or_else(|| DeviceError::NotFound(name.to_string()))
}

fn device_config(
    device: &cpal::Device,
    direction: Direction,
) -> Result<(StreamConfig, SampleFormat), DeviceError> {
    let supported = match direction {
        Direction::Input => device.default_input_config(),
        Direction::Output => device.default_output_config(),
    }
    .map_err(|err| match (err.kind(), direction) {
        // ALSA names a "default" device even with no sound card behind it.
        (cpal::ErrorKind::DeviceNotAvailable, Direction::Input) => DeviceError::NoInputDevice,
        (cpal::ErrorKind::DeviceNotAvailable, Direction::Output) => DeviceError::NoOutputDevice,
        _ => DeviceError::Failed {
            device: device.to_string(),
            reason: err.to_string(),
        },
    })?;
    Ok((supported.config(), supported.sample_format()))
}

fn format_of(config: &StreamConfig) -> AudioFormat {
    AudioFormat {
        sample_rate: config.sample_rate,
        channels: config.channels,
    }
}

/// Runs `build` on a dedicated thread that owns the stream until `stop` closes.
/// Returns the stream's format once it plays, or why it could not.
fn spawn_stream_thread(
    thread_name: &str,
    build: impl FnOnce() -> Result<(cpal::Stream, AudioFormat), DeviceError> + Send + 'static,
) -> Result<(AudioFormat, SyncSender<()>), DeviceError> {
    let (ready_tx, ready_rx) = mpsc::sync_channel(1);
    let (stop_tx, stop_rx) = mpsc::sync_channel::<()>(1);
    thread::Builder::new()
        .name(thread_name.into())
        .spawn(move || {
            let stream = match build() {
                Ok((stream, format)) => {
                    if let Err(err) = stream.play() {
                        let _ = ready_tx.send(Err(DeviceError::Failed {
                            device: "stream".into(),
                            reason: err.to_string(),
                        }));
                        return;
                    }
                    let _ = ready_tx.send(Ok(format));
                    stream
                }
                Err(err) => {
                    let _ = ready_tx.send(Err(err));
                    return;
                }
            };
            // Blocks until the owner drops its handle.
            let _ = stop_rx.recv();
            drop(stream);
        })
        .map_err(|err| DeviceError::Failed {
            device: thread_name.into(),
            reason: err.to_string(),
        })?;
    match ready_rx.recv_timeout(OPEN_TIMEOUT) {
        Ok(Ok(format)) => Ok((format, stop_tx)),
        Ok(Err(err)) => Err(err),
        Err(RecvTimeoutError::Timeout) => Err(DeviceError::OpenTimeout(OPEN_TIMEOUT)),
        Err(RecvTimeoutError::Disconnected) => {
            Err(DeviceError::Stopped("the audio thread ended".into()))
        }
    }
}

/// Records the last stream error for the owner to report.
#[derive(Default)]
struct StreamErrors(Mutex<Option<String>>);

impl StreamErrors {
    fn set(&self, err: cpal::Error) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(err.to_string());
        }
    }

    fn take(&self) -> Option<String> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }
}

/// A microphone.
pub struct DeviceSource {
    format: AudioFormat,
    chunks: Receiver<Vec<f32>>,
    leftover: VecDeque<f32>,
    errors: Arc<StreamErrors>,
    dropped_chunks: Arc<AtomicU64>,
    _stop: SyncSender<()>,
}

impl DeviceSource {
    /// Opens the named input device, or the default one.
    pub fn open(name: Option<&str>) -> Result<Self, DeviceError> {
        let name = name.map(str::to_string);
        let (chunk_tx, chunks) = mpsc::sync_channel(CAPTURE_QUEUE_CHUNKS);
        let errors = Arc::new(StreamErrors::default());
        let dropped_chunks = Arc::new(AtomicU64::new(0));
        let (thread_errors, thread_dropped) = (errors.clone(), dropped_chunks.clone());
        let (format, stop) = spawn_stream_thread("digios-audio-in", move || {
            let device = find_device(Direction::Input, name.as_deref())?;
            let (config, sample_format) = device_config(&device, Direction::Input)?;
            let format = format_of(&config);
            let capture = Capture {
                chunks: chunk_tx,
                errors: thread_errors,
                dropped: thread_dropped,
            };
            let stream = match sample_format {
                SampleFormat::F32 => capture.build::<f32>(&device, config),
                SampleFormat::F64 => capture.build::<f64>(&device, config),
                SampleFormat::I8 => capture.build::<i8>(&device, config),
                SampleFormat::I16 => capture.build::<i16>(&device, config),
                SampleFormat::I32 => capture.build::<i32>(&device, config),
                SampleFormat::U8 => capture.build::<u8>(&device, config),
                SampleFormat::U16 => capture.build::<u16>(&device, config),
                SampleFormat::U32 => capture.build::<u32>(&device, config),
                other => Err(DeviceError::Failed {
                    device: device.to_string(),
                    reason: format!("unsupported sample format {other}"),
                }),
            }?;
            Ok((stream, format))
        })?;
        Ok(Self {
            format,
            chunks,
            leftover: VecDeque::new(),
            errors,
            dropped_chunks,
            _stop: stop,
        })
    }

    /// Capture chunks lost because the reader fell behind.
    pub fn dropped_chunks(&self) -> u64 {
        self.dropped_chunks.load(Ordering::Relaxed)
    }
}

struct Capture {
    chunks: SyncSender<Vec<f32>>,
    errors: Arc<StreamErrors>,
    dropped: Arc<AtomicU64>,
}

impl Capture {
    fn build<T>(
        self,
        device: &cpal::Device,
        config: StreamConfig,
    ) -> Result<cpal::Stream, DeviceError>
    where
        T: SizedSample,
        f32: FromSample<T>,
    {
        let Capture {
            chunks,
            errors,
            dropped,
        } = self;
        device
            .build_input_stream::<T, _, _>(
                config,
                move |data: &[T], _| {
                    let samples: Vec<f32> = data.iter().map(|s| s.to_sample::<f32>()).collect();
                    // Never block the audio thread: a slow reader loses audio, counted.
                    if chunks.try_send(samples).is_err() {
                        dropped.fetch_add(1, Ordering::Relaxed);
                    }
                },
                move |err| errors.set(err),
                Some(OPEN_TIMEOUT),
            )
            .map_err(|err| DeviceError::Failed {
                device: device.to_string(),
                reason: err.to_string(),
            })
    }
}

impl AudioSource for DeviceSource {
    fn format(&self) -> AudioFormat {
        self.format
    }

    fn read(&mut self, buf: &mut [f32]) -> Result<usize, AudioError> {
        if self.leftover.is_empty() {
            match self.chunks.recv_timeout(STALL_TIMEOUT) {
                Ok(chunk) => self.leftover.extend(chunk),
                Err(err) => {
                    let reason = self.errors.take().unwrap_or_else(|| match err {
                        RecvTimeoutError::Timeout => format!("no audio for {STALL_TIMEOUT:?}"),
                        RecvTimeoutError::Disconnected => "the device closed".into(),
                    });
                    return Err(DeviceError::Stopped(reason).into());
                }
            }
        }
        let n = buf.len().min(self.leftover.len());
        for (slot, sample) in buf.iter_mut().zip(self.leftover.drain(..n)) {
            *slot = sample;
        }
        Ok(n)
    }
}

/// Samples waiting for the speaker, shared with the playback callback.
#[derive(Default)]
struct PlaybackQueue {
    samples: Mutex<VecDeque<f32>>,
    changed: Condvar,
}

/// A speaker. Write samples in [`DeviceSink::format`] (the device's own rate and channels).
pub struct DeviceSink {
    format: AudioFormat,
    queue: Arc<PlaybackQueue>,
    errors: Arc<StreamErrors>,
    _stop: SyncSender<()>,
}

impl DeviceSink {
    /// Opens the named output device, or the default one.
    pub fn open(name: Option<&str>) -> Result<Self, DeviceError> {
        let name = name.map(str::to_string);
        let queue = Arc::new(PlaybackQueue::default());
        let errors = Arc::new(StreamErrors::default());
        let (thread_queue, thread_errors) = (queue.clone(), errors.clone());
        let (format, stop) = spawn_stream_thread("digios-audio-out", move || {
            let device = find_device(Direction::Output, name.as_deref())?;
            let (config, sample_format) = device_config(&device, Direction::Output)?;
            let format = format_of(&config);
            let playback = Playback {
                queue: thread_queue,
                errors: thread_errors,
            };
            let stream = match sample_format {
                SampleFormat::F32 => playback.build::<f32>(&device, config),
                SampleFormat::F64 => playback.build::<f64>(&device, config),
                SampleFormat::I8 => playback.build::<i8>(&device, config),
                SampleFormat::I16 => playback.build::<i16>(&device, config),
                SampleFormat::I32 => playback.build::<i32>(&device, config),
                SampleFormat::U8 => playback.build::<u8>(&device, config),
                SampleFormat::U16 => playback.build::<u16>(&device, config),
                SampleFormat::U32 => playback.build::<u32>(&device, config),
                other => Err(DeviceError::Failed {
                    device: device.to_string(),
                    reason: format!("unsupported sample format {other}"),
                }),
            }?;
            Ok((stream, format))
        })?;
        Ok(Self {
            format,
            queue,
            errors,
            _stop: stop,
        })
    }

    /// Drops everything not yet played (barge-in: the user started speaking).
    pub fn clear(&self) {
        if let Ok(mut samples) = self.queue.samples.lock() {
            samples.clear();
        }
        self.queue.changed.notify_all();
    }

    fn capacity(&self) -> usize {
        (PLAYBACK_QUEUE_SECS * self.format.sample_rate as f32) as usize
            * usize::from(self.format.channels)
    }

    fn stalled(&self) -> AudioError {
        let reason = self
            .errors
            .take()
            .unwrap_or_else(|| "the device stopped taking audio".into());
        DeviceError::Stopped(reason).into()
    }
}

struct Playback {
    queue: Arc<PlaybackQueue>,
    errors: Arc<StreamErrors>,
}

impl Playback {
    fn build<T>(
        self,
        device: &cpal::Device,
        config: StreamConfig,
    ) -> Result<cpal::Stream, DeviceError>
    where
        T: SizedSample + FromSample<f32>,
    {
        let Playback { queue, errors } = self;
        device
            .build_output_stream::<T, _, _>(
                config,
                move |data: &mut [T], _| {
                    let Ok(mut samples) = queue.samples.lock() else {
                        return;
                    };
                    for slot in data.iter_mut() {
                        // Underrun plays silence.
                        *slot = T::from_sample(samples.pop_front().unwrap_or(0.0));
                    }
                    drop(samples);
                    queue.changed.notify_all();
                },
                move |err| errors.set(err),
                Some(OPEN_TIMEOUT),
            )
            .map_err(|err| DeviceError::Failed {
                device: device.to_string(),
                reason: err.to_string(),
            })
    }
}

impl AudioSink for DeviceSink {
    fn format(&self) -> AudioFormat {
        self.format
    }

    fn write(&mut self, mut samples: &[f32]) -> Result<(), AudioError> {
        let capacity = self.capacity().max(1);
        while !samples.is_empty() {
            let guard = self.queue.samples.lock().map_err(|_| self.stalled())?;
            let (mut queued, timeout) = self
                .queue
                .changed
                .wait_timeout_while(guard, STALL_TIMEOUT, |q| q.len() >= capacity)
                .map_err(|_| self.stalled())?;
            if timeout.timed_out() {
                drop(queued);
                return Err(self.stalled());
            }
            let n = (capacity - queued.len()).min(samples.len());
            queued.extend(&samples[..n]);
            samples = &samples[n..];
        }
        Ok(())
    }

    fn clear(&mut self) {
        DeviceSink::clear(self);
    }

    fn finish(&mut self) -> Result<(), AudioError> {
        let queued = self.queue.samples.lock().map_err(|_| self.stalled())?;
        let deadline = self.format.duration_of(queued.len()) + STALL_TIMEOUT;
        let started = Instant::now();
        let (_queued, timeout) = self
            .queue
            .changed
            .wait_timeout_while(queued, deadline, |q| !q.is_empty())
            .map_err(|_| self.stalled())?;
        if timeout.timed_out() {
            tracing::warn!(waited = ?started.elapsed(), "playback did not drain");
            return Err(self.stalled());
        }
        Ok(())
    }
}
