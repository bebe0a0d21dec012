//! One request per connection: the client writes a JSON line, then the
//! payload it announces (`bytes`); the service answers the same way. The
//! `events` request instead keeps the connection and streams one
//! [`VoiceEvent`] per line.

use std::io::{BufRead, Read, Write};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A JSON line longer than this is a protocol error, not a memory hog.
pub const MAX_LINE_BYTES: usize = 64 * 1024;
/// The largest WAV either side accepts (ten minutes of 48 kHz 16-bit stereo
/// is 110 MB; commands are seconds long).
pub const MAX_PAYLOAD_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    Status,
    /// A WAV file of `bytes` follows; the reply is a [`Reply::Transcript`].
    Transcribe {
        bytes: u64,
    },
    /// The reply is a [`Reply::Audio`]: a WAV of the text spoken.
    Speak {
        text: String,
        /// Relative pace, 0.5 to 2; the configured `speech_rate` if absent.
        #[serde(default)]
        speed: Option<f32>,
    },
    /// One whole turn on a WAV file of `bytes` that follows (a recording
    /// made elsewhere): hear it, act on it, answer with a [`Reply::Turn`].
    Converse {
        bytes: u64,
    },
    /// Push-to-talk: listen for one utterance on the microphone and act on it.
    Listen,
    /// Stop speaking and listening now.
    Stop,
    /// Keep the connection and stream events.
    Events,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    Status(VoiceStatus),
    Transcript(TranscriptReply),
    /// A WAV file of `bytes` follows.
    Audio {
        bytes: u64,
        sample_rate: u32,
        duration_ms: u64,
    },
    /// A WAV of the reply (`bytes`) follows.
    Turn(TurnReply),
    Accepted,
    Error {
        kind: ErrorKind,
        message: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The audio is not a usable WAV file.
    BadAudio,
    /// Longer than the configured limit.
    TooLong,
    /// Nothing to speak, or text past the limit.
    BadText,
    /// No microphone or speaker, or a model is missing.
    Unavailable,
    /// Already listening.
    Busy,
    Internal,
}

/// What the voice loop is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoiceState {
    Idle,
    Listening,
    Transcribing,
    Thinking,
    Speaking,
    /// No input device, or a model could not be loaded; `detail` says which.
    Unavailable,
}

impl VoiceState {
    pub fn as_str(self) -> &'static str {
        match self {
            VoiceState::Idle => "idle",
            VoiceState::Listening => "listening",
            VoiceState::Transcribing => "transcribing",
            VoiceState::Thinking => "thinking",
            VoiceState::Speaking => "speaking",
            VoiceState::Unavailable => "unavailable",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoiceStatus {
    pub state: VoiceState,
    /// Why the microphone loop is unavailable, e.g. "voice unavailable: no input device".
    pub detail: Option<String>,
    pub activation: crate::Activation,
    /// Transcription and speech work (the models are loaded), device or not.
    pub models_loaded: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TranscriptReply {
    /// Whisper's text; empty when the audio held no speech.
    pub text: String,
    /// Normalised, with misheard names corrected ("diggy os" → "digiOS").
    pub normalized: String,
    pub audio_ms: u64,
    pub elapsed_ms: u64,
    /// The audio held no speech, so Whisper was not run.
    pub silent: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnReply {
    pub transcript: TranscriptReply,
    /// The command acted on, if the speech was one.
    pub command: Option<String>,
    /// The agent task it became.
    pub task_id: Option<i64>,
    pub task_state: Option<String>,
    /// What digiOS says back (spoken in the WAV that follows).
    pub reply: String,
    /// The reply asks a yes-or-no question; the next turn answers it.
    pub awaiting_answer: bool,
    pub bytes: u64,
    pub sample_rate: u32,
    pub duration_ms: u64,
}

/// One event of the `voice` topic. `kind` is a state (`listening`,
/// `transcribing`, `thinking`, `speaking`, `idle`, `unavailable`) or what
/// happened (`transcript`, `reply`, `barge_in`, `wake`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoiceEvent {
    pub kind: String,
    #[serde(default)]
    pub data: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("the connection closed")]
    Closed,
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("a message line is longer than {MAX_LINE_BYTES} bytes")]
    LineTooLong,
    #[error("a payload of {0} bytes is over the {MAX_PAYLOAD_BYTES}-byte limit")]
    PayloadTooLarge(u64),
}

/// Writes one message line and its payload.
pub fn write_message<T: Serialize>(
    out: &mut impl Write,
    message: &T,
    payload: &[u8],
) -> Result<(), FrameError> {
    let mut line =
        serde_json::to_vec(message).map_err(|err| FrameError::Malformed(err.to_string()))?;
    line.push(b'\n');
    out.write_all(&line)?;
    out.write_all(payload)?;
    out.flush()?;
    Ok(())
}

/// Reads one message line.
pub fn read_message<T: for<'de> Deserialize<'de>>(
    input: &mut impl BufRead,
) -> Result<T, FrameError> {
    let mut line = Vec::new();
    let read = input
        .take(MAX_LINE_BYTES as u64 + 1)
        .read_until(b'\n', &mut line)?;
    if read == 0 {
        return Err(FrameError::Closed);
    }
    if line.last() != Some(&b'\n') {
        return Err(if line.len() > MAX_LINE_BYTES {
            FrameError::LineTooLong
        } else {
            FrameError::Closed
        });
    }
    serde_json::from_slice(&line).map_err(|err| FrameError::Malformed(err.to_string()))
}

/// Reads a payload of `bytes` announced by the message before it.
pub fn read_payload(input: &mut impl Read, bytes: u64) -> Result<Vec<u8>, FrameError> {
    if bytes > MAX_PAYLOAD_BYTES {
        return Err(FrameError::PayloadTooLarge(bytes));
    }
    let mut payload = vec![0; bytes as usize];
    input
        .read_exact(&mut payload)
        .map_err(|err| match err.kind() {
            std::io::ErrorKind::UnexpectedEof => FrameError::Closed,
            _ => FrameError::Io(err),
        })?;
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_payloads_round_trip() {
        let mut wire = Vec::new();
        write_message(&mut wire, &Request::Transcribe { bytes: 3 }, b"abc").unwrap();
        write_message(&mut wire, &Request::Status, &[]).unwrap();
        let mut input = std::io::Cursor::new(wire);
        let first: Request = read_message(&mut input).unwrap();
        assert_eq!(first, Request::Transcribe { bytes: 3 });
        assert_eq!(read_payload(&mut input, 3).unwrap(), b"abc");
        assert_eq!(
            read_message::<Request>(&mut input).unwrap(),
            Request::Status
        );
        assert!(matches!(
            read_message::<Request>(&mut input),
            Err(FrameError::Closed)
        ));
    }

    #[test]
    fn every_reply_round_trips() {
        let transcript = TranscriptReply {
            text: "Open the terminal.".into(),
            normalized: "open the terminal".into(),
            audio_ms: 1200,
            elapsed_ms: 900,
            silent: false,
        };
        let replies = [
            Reply::Transcript(transcript.clone()),
            Reply::Turn(TurnReply {
                transcript,
                command: Some("open the terminal".into()),
                task_id: Some(3),
                task_state: Some("succeeded".into()),
                reply: "Opened foot.".into(),
                awaiting_answer: false,
                bytes: 10,
                sample_rate: 22_050,
                duration_ms: 800,
            }),
            Reply::Audio {
                bytes: 4,
                sample_rate: 22_050,
                duration_ms: 1,
            },
            Reply::Accepted,
            Reply::Error {
                kind: ErrorKind::BadAudio,
                message: "no".into(),
            },
        ];
        for reply in replies {
            let mut wire = Vec::new();
            write_message(&mut wire, &reply, &[]).unwrap();
            let back: Reply = read_message(&mut std::io::Cursor::new(wire)).unwrap();
            assert_eq!(back, reply);
        }
    }

    #[test]
    fn oversized_lines_and_payloads_are_refused() {
        let long = vec![b'x'; MAX_LINE_BYTES + 10];
        let err = read_message::<Request>(&mut std::io::Cursor::new(long)).unwrap_err();
        assert!(matches!(err, FrameError::LineTooLong), "{err}");
        let err = read_payload(&mut std::io::empty(), MAX_PAYLOAD_BYTES + 1).unwrap_err();
        assert!(matches!(err, FrameError::PayloadTooLarge(_)), "{err}");
        let err =
            read_message::<Request>(&mut std::io::Cursor::new(b"{\"op\":\"fly\"}\n".to_vec()))
                .unwrap_err();
        assert!(matches!(err, FrameError::Malformed(_)), "{err}");
    }
}
