//! Audio plumbing without a model: WAV in and out, bad files, resampling,
//! and a machine without a sound card.

mod common;

use std::time::Duration;

use common::{espeak, within};
use digios_voice::audio::{
    AudioBuffer, DeviceError, DeviceSink, DeviceSource, MemorySource, StreamResampler,
    VoiceAvailability, WavSink, WavSource, to_whisper_input,
};
use digios_voice::vad::{VadEvent, VoiceActivityDetector};
use digios_voice::{AudioError, AudioFormat, AudioSink, AudioSource, VadConfig};

const BOUND: Duration = Duration::from_secs(120);

fn sine(rate: u32, hz: f32, secs: f32) -> Vec<f32> {
    let n = (rate as f32 * secs) as usize;
    (0..n)
        .map(|i| 0.5 * (i as f32 * 2.0 * std::f32::consts::PI * hz / rate as f32).sin())
        .collect()
}

/// Frequency estimated from upward zero crossings.
fn frequency(samples: &[f32], rate: u32) -> f32 {
    let crossings = samples
        .windows(2)
        .filter(|w| w[0] < 0.0 && w[1] >= 0.0)
        .count();
    crossings as f32 * rate as f32 / samples.len() as f32
}

#[test]
fn wav_round_trips_through_sink_and_source() {
    within(BOUND, || {
        let format = AudioFormat {
            sample_rate: 22_050,
            channels: 2,
        };
        let samples: Vec<f32> = sine(22_050, 440.0, 0.5)
            .iter()
            .flat_map(|&s| [s, -s])
            .collect();
        let mut sink = WavSink::in_memory(format).unwrap();
        sink.write(&samples[..1000]).unwrap();
        sink.write(&samples[1000..]).unwrap();
        sink.finish().unwrap();
        let bytes = sink.into_bytes().unwrap();

        let mut source = WavSource::from_bytes(bytes).unwrap();
        assert_eq!(source.format(), format);
        let read = AudioBuffer::read_all(&mut source, Duration::from_secs(5)).unwrap();
        assert_eq!(read.samples.len(), samples.len());
        for (a, b) in read.samples.iter().zip(&samples) {
            assert!((a - b).abs() < 1e-4);
        }

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.wav");
        let mut file_sink = WavSink::create(&path, format).unwrap();
        file_sink.write(&samples).unwrap();
        file_sink.finish().unwrap();
        drop(file_sink);
        let from_file =
            AudioBuffer::read_all(&mut WavSource::open(&path).unwrap(), Duration::from_secs(5))
                .unwrap();
        assert_eq!(from_file, read);
    });
}

#[test]
fn bad_wav_files_are_clear_errors() {
    within(BOUND, || {
        let err = WavSource::from_bytes(b"RIFF\x10\x00\x00\x00WAVEjunkjunk".to_vec())
            .err()
            .unwrap();
        assert!(matches!(err, AudioError::CorruptWav { .. }), "{err}");
        assert!(err.to_string().contains("not a readable WAV file"), "{err}");

        let err = WavSource::from_bytes(Vec::new()).err().unwrap();
        assert!(matches!(err, AudioError::CorruptWav { .. }), "{err}");

        // A real file cut in the middle of its samples.
        let dir = tempfile::tempdir().unwrap();
        let wav = espeak(dir.path(), "cut", "open the terminal", "en-us", 175);
        let bytes = std::fs::read(&wav).unwrap();
        let mut source = WavSource::from_bytes(bytes[..bytes.len() / 2 + 1].to_vec()).unwrap();
        let err = AudioBuffer::read_all(&mut source, Duration::from_secs(30)).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");

        let err = WavSource::open(&dir.path().join("absent.wav"))
            .err()
            .unwrap();
        assert!(matches!(err, AudioError::Io { .. }), "{err}");
    });
}

#[test]
fn resampling_keeps_pitch_and_length() {
    within(BOUND, || {
        for (rate, channels) in [
            (44_100u32, 1u16),
            (48_000, 2),
            (8_000, 1),
            (22_050, 1),
            (16_000, 2),
        ] {
            let mono = sine(rate, 1000.0, 1.0);
            let samples: Vec<f32> = mono
                .iter()
                .flat_map(|&s| std::iter::repeat_n(s, channels.into()))
                .collect();
            let buffer = AudioBuffer {
                format: AudioFormat {
                    sample_rate: rate,
                    channels,
                },
                samples: samples.clone(),
            };
            let out = to_whisper_input(&buffer).unwrap();
            assert!(
                out.len().abs_diff(16_000) <= 1,
                "{rate} Hz: {} samples",
                out.len()
            );
            let hz = frequency(&out[800..15_200], 16_000);
            assert!((hz - 1000.0).abs() < 10.0, "{rate} Hz: heard {hz} Hz");

            // Streaming in device-sized pieces gives the same length and pitch.
            let mut stream = StreamResampler::new(buffer.format).unwrap();
            let mut streamed = Vec::new();
            for piece in samples.chunks(480 * usize::from(channels)) {
                stream.push(piece, &mut streamed).unwrap();
            }
            stream.finish(&mut streamed).unwrap();
            assert!(
                streamed.len().abs_diff(out.len()) <= 1,
                "{rate} Hz: {} vs {}",
                streamed.len(),
                out.len()
            );
            let hz = frequency(&streamed[800..15_200], 16_000);
            assert!(
                (hz - 1000.0).abs() < 10.0,
                "{rate} Hz streamed: heard {hz} Hz"
            );
        }

        // Frequencies above 8 kHz cannot survive 16 kHz and must not alias back in.
        let high = AudioBuffer {
            format: AudioFormat {
                sample_rate: 48_000,
                channels: 1,
            },
            samples: sine(48_000, 12_000.0, 1.0),
        };
        let out = to_whisper_input(&high).unwrap();
        let rms = (out[1000..15_000].iter().map(|s| s * s).sum::<f32>() / 14_000.0).sqrt();
        assert!(rms < 0.01, "aliasing: rms {rms}");

        let bad = AudioBuffer {
            format: AudioFormat {
                sample_rate: 0,
                channels: 1,
            },
            samples: vec![0.0; 10],
        };
        assert!(matches!(
            to_whisper_input(&bad),
            Err(AudioError::BadFormat(_))
        ));
    });
}

#[test]
fn end_of_speech_is_found_in_an_espeak_clip() {
    within(BOUND, || {
        let dir = tempfile::tempdir().unwrap();
        let wav = espeak(dir.path(), "vad", "open the terminal", "en-us", 175);
        let clip =
            AudioBuffer::read_all(&mut WavSource::open(&wav).unwrap(), Duration::from_secs(30))
                .unwrap();
        let mut speech = vec![0.0f32; 8_000];
        speech.extend(to_whisper_input(&clip).unwrap());
        speech.extend(vec![0.0f32; 16_000]);

        let mut vad = VoiceActivityDetector::new(VadConfig::default());
        let mut source = MemorySource::new(AudioBuffer {
            format: AudioFormat::WHISPER,
            samples: speech.clone(),
        });
        let mut events = Vec::new();
        let mut chunk = vec![0.0; 512];
        loop {
            let n = source.read(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            events.extend(vad.push(&chunk[..n]));
        }
        let starts = events
            .iter()
            .filter(|e| matches!(e, VadEvent::SpeechStart { .. }))
            .count();
        let ends: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                VadEvent::SpeechEnd { at, forced } => Some((*at, *forced)),
                _ => None,
            })
            .collect();
        // Pauses between words are shorter than end_silence_ms: one utterance.
        assert_eq!((starts, ends.len()), (1, 1), "{events:?}");
        let (end, forced) = ends[0];
        assert!(!forced);
        assert!(end as usize <= speech.len() - 16_000 + 1_000, "end {end}");
    });
}

#[test]
fn no_sound_card_means_voice_unavailable_not_a_crash() {
    within(BOUND, || {
        let sound_card = std::path::Path::new("/dev/snd").exists();
        match DeviceSource::open(None) {
            Err(err) if !sound_card => {
                assert_eq!(err, DeviceError::NoInputDevice);
                assert_eq!(err.to_string(), "voice unavailable: no input device");
            }
            Err(err) => assert!(err.to_string().starts_with("voice unavailable"), "{err}"),
            Ok(_) => assert!(sound_card, "opened a microphone without a sound card"),
        }
        match DeviceSink::open(None) {
            Err(err) if !sound_card => {
                assert_eq!(err.to_string(), "voice unavailable: no output device")
            }
            Err(err) => assert!(err.to_string().starts_with("voice unavailable"), "{err}"),
            Ok(_) => assert!(sound_card, "opened a speaker without a sound card"),
        }
        let err = DeviceSource::open(Some("no-such-microphone"))
            .err()
            .expect("no such device");
        assert!(
            matches!(err, DeviceError::NotFound(_) | DeviceError::NoInputDevice),
            "{err}"
        );
        let availability = VoiceAvailability::probe(None);
        if !sound_card {
            assert_eq!(
                availability,
                VoiceAvailability::Unavailable {
                    reason: DeviceError::NoInputDevice
                }
            );
        }
    });
}

/// Silence, a spoken command at 22,050 Hz, silence: the capture cuts out the command.
fn padded_command(dir: &std::path::Path) -> (AudioBuffer, usize) {
    let wav = espeak(dir, "capture", "open the terminal", "en-us", 175);
    let clip = AudioBuffer::read_all(&mut WavSource::open(&wav).unwrap(), Duration::from_secs(30))
        .unwrap();
    let rate = clip.format.sample_rate as usize;
    let mut samples = vec![0.0f32; rate];
    samples.extend(&clip.samples);
    samples.extend(vec![0.0f32; rate * 2]);
    (
        AudioBuffer {
            format: clip.format,
            samples,
        },
        clip.samples.len(),
    )
}

#[test]
fn an_utterance_is_cut_from_a_stream() {
    within(BOUND, || {
        let dir = tempfile::tempdir().unwrap();
        let (padded, speech_len) = padded_command(dir.path());
        let mut source = MemorySource::new(padded.clone());
        let utterance = digios_voice::capture_utterance(
            &mut source,
            &VadConfig::default(),
            Duration::from_secs(10),
        )
        .unwrap()
        .expect("speech is found");
        assert!(!utterance.cut_off);
        let speech_secs = speech_len as f32 / 22_050.0;
        let got = utterance.duration().as_secs_f32();
        // espeak pads its own output with a little silence; the cut keeps ~0.5 s around speech.
        assert!(
            got > speech_secs - 0.4 && got < speech_secs + 0.6,
            "{got} s vs {speech_secs} s"
        );

        // Silence only: nothing, bounded by max_wait even for an endless source.
        let silence = AudioBuffer {
            format: AudioFormat::WHISPER,
            samples: vec![0.0; 16_000 * 60],
        };
        let none = digios_voice::capture_utterance(
            &mut MemorySource::new(silence),
            &VadConfig::default(),
            Duration::from_secs(5),
        )
        .unwrap();
        assert_eq!(none, None);

        // A speaker who never stops is cut at max_utterance_secs.
        let config = VadConfig {
            max_utterance_secs: 1.0,
            ..VadConfig::default()
        };
        let endless = AudioBuffer {
            format: AudioFormat::WHISPER,
            samples: sine(16_000, 300.0, 20.0),
        };
        let cut = digios_voice::capture_utterance(
            &mut MemorySource::new(endless),
            &config,
            Duration::from_secs(5),
        )
        .unwrap()
        .expect("the tone counts as speech");
        assert!(cut.cut_off);
        assert!(
            cut.duration() <= Duration::from_millis(1_500),
            "{:?}",
            cut.duration()
        );
    });
}
