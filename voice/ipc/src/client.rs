//! A blocking client of the voice service's socket.

use std::io::{BufReader, BufWriter};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::protocol::{self, FrameError, Reply, Request, VoiceEvent};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the voice service is not running (no socket at {path}): {reason}")]
    Unreachable { path: PathBuf, reason: String },
    #[error("the voice service stopped answering: {0}")]
    Protocol(#[from] FrameError),
}

#[derive(Debug, Clone)]
pub struct VoiceClient {
    socket: PathBuf,
    timeout: Option<Duration>,
}

impl VoiceClient {
    pub fn new(socket: impl Into<PathBuf>) -> Self {
        Self {
            socket: socket.into(),
            timeout: Some(Duration::from_secs(300)),
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Bounds each read and write; `None` waits forever.
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    fn connect(&self) -> Result<UnixStream, ClientError> {
        let stream = UnixStream::connect(&self.socket).map_err(|err| ClientError::Unreachable {
            path: self.socket.clone(),
            reason: err.to_string(),
        })?;
        stream
            .set_read_timeout(self.timeout)
            .and_then(|()| stream.set_write_timeout(self.timeout))
            .map_err(FrameError::Io)?;
        Ok(stream)
    }

    /// Sends one request (with its payload) and returns the reply and its payload.
    pub fn call(&self, request: &Request, payload: &[u8]) -> Result<(Reply, Vec<u8>), ClientError> {
        let stream = self.connect()?;
        let mut writer = BufWriter::new(stream.try_clone().map_err(FrameError::Io)?);
        protocol::write_message(&mut writer, request, payload)?;
        let mut reader = BufReader::new(stream);
        let reply: Reply = protocol::read_message(&mut reader)?;
        let payload = match &reply {
            Reply::Audio { bytes, .. } => protocol::read_payload(&mut reader, *bytes)?,
            Reply::Turn(turn) => protocol::read_payload(&mut reader, turn.bytes)?,
            _ => Vec::new(),
        };
        Ok((reply, payload))
    }

    /// Follows the service's events until it goes away.
    pub fn events(&self) -> Result<EventStream, ClientError> {
        let stream = self.connect()?;
        // Events come when something happens; silence is not a failure.
        stream.set_read_timeout(None).map_err(FrameError::Io)?;
        let mut writer = stream.try_clone().map_err(FrameError::Io)?;
        protocol::write_message(&mut writer, &Request::Events, &[])?;
        Ok(EventStream {
            reader: BufReader::new(stream),
        })
    }
}

pub struct EventStream {
    reader: BufReader<UnixStream>,
}

impl Iterator for EventStream {
    type Item = Result<VoiceEvent, ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        match protocol::read_message(&mut self.reader) {
            Ok(event) => Some(Ok(event)),
            Err(FrameError::Closed) => None,
            Err(err) => Some(Err(err.into())),
        }
    }
}
