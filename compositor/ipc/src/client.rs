//! A small blocking client: one request at a time, or an event stream.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{Error, Event, Image, MAX_REPLY_BYTES, Reply, Request, Response};

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to the compositor at {path}: {source}")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("connection to the compositor: {0}")]
    Io(#[from] std::io::Error),
    #[error("the compositor closed the connection")]
    Closed,
    #[error("the compositor sent a message this client does not understand: {0}")]
    Protocol(String),
    /// The compositor answered with a typed error.
    #[error(transparent)]
    Compositor(#[from] Error),
}

/// A connection to the compositor's control socket.
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    /// Connects to the socket named by the environment (see [`crate::socket_path`]).
    pub fn connect_default() -> Result<Self, ClientError> {
        Self::connect(&crate::socket_path())
    }

    pub fn connect(path: &Path) -> Result<Self, ClientError> {
        let stream = UnixStream::connect(path).map_err(|source| ClientError::Connect {
            path: path.to_path_buf(),
            source,
        })?;
        let writer = stream.try_clone()?;
        Ok(Self {
            reader: BufReader::new(stream),
            writer,
        })
    }

    /// Bounds how long a reply may take; `None` waits for ever.
    pub fn set_timeout(&self, timeout: Option<Duration>) -> Result<(), ClientError> {
        self.writer.set_read_timeout(timeout)?;
        self.writer.set_write_timeout(timeout)?;
        Ok(())
    }

    /// Sends one request and waits for its answer; a typed compositor error
    /// becomes [`ClientError::Compositor`].
    pub fn request(&mut self, request: &Request) -> Result<Response, ClientError> {
        let line =
            serde_json::to_string(request).map_err(|err| ClientError::Protocol(err.to_string()))?;
        self.send_line(&line)?;
        self.read_reply()
    }

    /// Sends a raw line (for tools that build JSON themselves) and reads the answer.
    pub fn send_line(&mut self, line: &str) -> Result<(), ClientError> {
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        self.writer.write_all(&bytes)?;
        self.writer.flush()?;
        Ok(())
    }

    /// Reads one reply line.
    pub fn read_reply(&mut self) -> Result<Response, ClientError> {
        let line = self.read_line()?;
        let reply: Reply =
            serde_json::from_slice(&line).map_err(|err| ClientError::Protocol(err.to_string()))?;
        let mut response = Result::<Response, Error>::from(reply)?;
        if let Some((image, len)) = raw_image(&mut response)? {
            let mut data = vec![0; len];
            self.reader.read_exact(&mut data)?;
            image.data = data;
        }
        Ok(response)
    }

    /// Turns the connection into an event stream; the first event is the full state.
    pub fn event_stream(mut self) -> Result<EventStream, ClientError> {
        match self.request(&Request::EventStream)? {
            Response::EventStream => Ok(EventStream { client: self }),
            other => Err(ClientError::Protocol(format!(
                "expected an event stream, got {other:?}"
            ))),
        }
    }

    fn read_line(&mut self) -> Result<Vec<u8>, ClientError> {
        let mut line = Vec::new();
        let limit = MAX_REPLY_BYTES as u64 + 1;
        let read = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut line)?;
        if read == 0 {
            return Err(ClientError::Closed);
        }
        if line.last() != Some(&b'\n') {
            return Err(if line.len() as u64 >= limit {
                ClientError::Protocol("reply longer than the maximum message size".into())
            } else {
                ClientError::Closed
            });
        }
        line.pop();
        Ok(line)
    }
}

/// Events from the compositor, starting with [`Event::State`].
pub struct EventStream {
    client: Client,
}

impl EventStream {
    /// Waits for the next event.
    pub fn next_event(&mut self) -> Result<Event, ClientError> {
        let line = self.client.read_line()?;
        serde_json::from_slice(&line).map_err(|err| ClientError::Protocol(err.to_string()))
    }

    /// Bounds how long [`Self::next_event`] waits.
    pub fn set_timeout(&self, timeout: Option<Duration>) -> Result<(), ClientError> {
        self.client.set_timeout(timeout)
    }
}

impl Iterator for EventStream {
    type Item = Result<Event, ClientError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_event() {
            Err(ClientError::Closed) => None,
            other => Some(other),
        }
    }
}

/// An `rgba_raw` image in a reply and how many raw bytes of pixels follow
/// its line; every client of the control socket reads them the same way.
pub fn raw_image(response: &mut Response) -> Result<Option<(&mut Image, usize)>, ClientError> {
    let Response::Image(image) = response else {
        return Ok(None);
    };
    let Some(len) = image.trailing_len() else {
        return Ok(None);
    };
    if len > MAX_REPLY_BYTES {
        return Err(ClientError::Protocol(format!(
            "a {}x{} raw image is larger than the maximum message size",
            image.width, image.height
        )));
    }
    Ok(Some((image, len)))
}
