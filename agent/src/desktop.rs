//! The agent's side of the compositor's control socket: typed requests on
//! pooled connections, and a mirror of the desktop kept current from the
//! compositor's event stream, so window reads cost no round trip while the
//! stream is live.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use digios_ipc::{
    Client, ClientError, DesktopState, MAX_REPLY_BYTES, Reply, Request, Response, Window,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::watch;

use crate::vision::MarkBoard;

/// How long one compositor request may take before the API gives up on it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Connections kept open between requests; connecting costs more than
/// asking (the compositor starts a thread per connection). Enough for the
/// API's concurrent callers; the compositor accepts 64.
const IDLE_CONNECTIONS: usize = 32;

#[derive(Clone)]
pub struct Desktop {
    socket: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<Connection>>>,
    /// Input requests waiting for the batch in flight to come back.
    input: Arc<Mutex<InputLane>>,
    /// The latest screen analysis, whose mark numbers actions may name.
    marks: Arc<MarkBoard>,
    /// The desktop as the event stream describes it; not `synced` while no
    /// stream is connected (reads then ask the compositor).
    mirror: Arc<watch::Sender<DesktopState>>,
}

impl std::fmt::Debug for Desktop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desktop")
            .field("socket", &self.socket)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DesktopError {
    #[error("the compositor is not reachable: {0}")]
    Unavailable(String),
    #[error("{}", .0.message)]
    Compositor(digios_ipc::Error),
}

impl From<ClientError> for DesktopError {
    fn from(err: ClientError) -> Self {
        match err {
            ClientError::Compositor(err) => DesktopError::Compositor(err),
            other => DesktopError::Unavailable(other.to_string()),
        }
    }
}

impl Desktop {
    pub fn new(socket: PathBuf) -> Self {
        Self {
            socket: Arc::new(socket),
            idle: Arc::default(),
            input: Arc::default(),
            marks: Arc::default(),
            mirror: Arc::new(watch::channel(DesktopState::default()).0),
        }
    }

    /// The compositor named by the environment (`DIGIOS_COMPOSITOR_SOCKET`, or `WAYLAND_DISPLAY`'s).
    pub fn from_env() -> Self {
        Self::new(digios_ipc::socket_path())
    }

    pub fn socket(&self) -> &std::path::Path {
        &self.socket
    }

    pub fn marks(&self) -> &MarkBoard {
        &self.marks
    }

    /// Asks the compositor on an idle connection if there is one. A pooled
    /// connection that fails (the compositor restarted) is dropped and the
    /// request sent once more on a fresh one; a typed refusal keeps its
    /// connection. Runs on the async runtime: no thread hand-off per request.
    pub async fn request(&self, request: Request) -> Result<Response, DesktopError> {
        let mut line = serde_json::to_vec(&request)
            .map_err(|err| DesktopError::Unavailable(format!("encoding a request: {err}")))?;
        line.push(b'\n');
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if let Some(mut connection) = pooled {
            match connection.ask(&line).await {
                Ok(reply) => return self.answered(connection, reply),
                Err(_) => drop(connection),
            }
        }
        let mut connection = Connection::open(&self.socket).await?;
        let reply = connection.ask(&line).await?;
        self.answered(connection, reply)
    }

    /// Sends pointer input on one lane: while a batch is at the compositor,
    /// the input requests that arrive meanwhile queue up and go together as
    /// the next [`Request::Batch`], carried out in arrival order, each with
    /// its own reply. Concurrent callers then cost the compositor one round
    /// trip per batch instead of one each; a lone caller's request goes at once.
    pub async fn input(&self, request: Request) -> Result<Response, DesktopError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let lead = {
            let mut lane = self.input.lock().unwrap_or_else(|e| e.into_inner());
            lane.queued.push((request, answer));
            !std::mem::replace(&mut lane.sending, true)
        };
        if lead {
            tokio::spawn(self.clone().send_input());
        }
        answered
            .await
            .map_err(|_| DesktopError::Unavailable("the input lane stopped".into()))?
    }

    /// Sends queued input batch by batch until none is left.
    async fn send_input(self) {
        loop {
            let mut batch = {
                let mut lane = self.input.lock().unwrap_or_else(|e| e.into_inner());
                if lane.queued.is_empty() {
                    lane.sending = false;
                    return;
                }
                let take = lane.queued.len().min(digios_ipc::MAX_BATCH);
                lane.queued.drain(..take).collect::<Vec<_>>()
            };
            if batch.len() == 1 {
                let (request, answer) = batch.pop().expect("one request");
                let _ = answer.send(self.request(request).await);
                continue;
            }
            let (requests, answers): (Vec<Request>, Vec<_>) = batch.into_iter().unzip();
            match self.request(Request::Batch { requests }).await {
                Ok(Response::Batch { replies }) if replies.len() == answers.len() => {
                    for (reply, answer) in replies.into_iter().zip(answers) {
                        let result = Result::<Response, digios_ipc::Error>::from(reply)
                            .map_err(DesktopError::Compositor);
                        let _ = answer.send(result);
                    }
                }
                Ok(other) => {
                    let error = unexpected(other).to_string();
                    for answer in answers {
                        let _ = answer.send(Err(DesktopError::Unavailable(error.clone())));
                    }
                }
                Err(err) => {
                    let error = err.to_string();
                    for answer in answers {
                        let _ = answer.send(Err(match &err {
                            DesktopError::Compositor(e) => DesktopError::Compositor(e.clone()),
                            DesktopError::Unavailable(_) => {
                                DesktopError::Unavailable(error.clone())
                            }
                        }));
                    }
                }
            }
        }
    }

    fn answered(&self, connection: Connection, reply: Reply) -> Result<Response, DesktopError> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_CONNECTIONS {
            idle.push(connection);
        }
        drop(idle);
        Result::<Response, digios_ipc::Error>::from(reply).map_err(DesktopError::Compositor)
    }

    /// Every window, bottom of the stack first: from the mirror while the
    /// event stream is live, else asked of the compositor.
    pub async fn windows(&self) -> Result<Vec<Window>, DesktopError> {
        if let Some(windows) = self.mirrored(|state| state.windows.clone()) {
            return Ok(windows);
        }
        self.list_windows().await
    }

    /// Every window as the compositor lists it now, past the mirror: for a
    /// window the stream may not have reported yet.
    pub async fn list_windows(&self) -> Result<Vec<Window>, DesktopError> {
        match self.request(Request::Windows).await? {
            Response::Windows { windows } => Ok(windows),
            other => Err(unexpected(other)),
        }
    }

    /// Whether the mirror is live (an event stream is connected and synced).
    pub fn live(&self) -> bool {
        self.mirror.borrow().synced
    }

    /// Reads the mirror, if the event stream is live.
    pub fn mirrored<T>(&self, read: impl FnOnce(&DesktopState) -> T) -> Option<T> {
        let state = self.mirror.borrow();
        state.synced.then(|| read(&state))
    }

    /// Follows the mirror: `changed()` wakes on every event applied and when
    /// the stream goes down.
    pub fn watch(&self) -> watch::Receiver<DesktopState> {
        self.mirror.subscribe()
    }

    /// How long since input (a person's, or injected) last reached the desktop.
    pub async fn input_idle(&self) -> Result<Duration, DesktopError> {
        match self.request(Request::Activity).await? {
            Response::Activity { input_idle_ms } => Ok(Duration::from_millis(input_idle_ms)),
            other => Err(unexpected(other)),
        }
    }

    /// One window: from the mirror if it holds it, else asked of the compositor.
    pub async fn window(&self, id: digios_ipc::WindowId) -> Result<Window, DesktopError> {
        if let Some(Some(window)) = self.mirrored(|state| state.window(id).cloned()) {
            return Ok(window);
        }
        self.list_windows()
            .await?
            .into_iter()
            .find(|w| w.id == id)
            .ok_or_else(|| DesktopError::Compositor(digios_ipc::Error::unknown_window(id)))
    }

    /// Blocks on the compositor's event stream, applying each event to the
    /// mirror, then calling `on_event` with it; returns when the stream ends
    /// or fails, the mirror marked not live.
    pub fn follow_events(
        &self,
        mut on_event: impl FnMut(digios_ipc::Event),
    ) -> Result<(), DesktopError> {
        let result = (|| -> Result<(), DesktopError> {
            let client = Client::connect(&self.socket)?;
            let mut stream = client.event_stream()?;
            loop {
                let event = stream.next_event()?;
                self.mirror.send_modify(|state| state.apply(&event));
                on_event(event);
            }
        })();
        self.mirror.send_modify(|state| state.synced = false);
        result
    }
}

pub fn unexpected(response: Response) -> DesktopError {
    DesktopError::Unavailable(format!(
        "the compositor answered with an unexpected response: {response:?}"
    ))
}

type Answer = tokio::sync::oneshot::Sender<Result<Response, DesktopError>>;

#[derive(Default)]
struct InputLane {
    /// A batch is at the compositor (or about to be).
    sending: bool,
    queued: Vec<(Request, Answer)>,
}

/// One open control connection: JSON lines, one request and its reply at a time.
struct Connection {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

impl Connection {
    async fn open(socket: &std::path::Path) -> Result<Self, DesktopError> {
        let stream = tokio::time::timeout(REQUEST_TIMEOUT, UnixStream::connect(socket))
            .await
            .map_err(|_| DesktopError::Unavailable("connecting timed out".into()))?
            .map_err(|source| {
                DesktopError::from(ClientError::Connect {
                    path: socket.to_path_buf(),
                    source,
                })
            })?;
        let (reader, writer) = stream.into_split();
        Ok(Self {
            reader: BufReader::new(reader),
            writer,
        })
    }

    /// Sends one request line and reads its reply, within [`REQUEST_TIMEOUT`];
    /// an `rgba_raw` image's pixels follow its reply line as raw bytes.
    async fn ask(&mut self, line: &[u8]) -> Result<Reply, DesktopError> {
        tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(line))
            .await
            .map_err(|_| {
                DesktopError::Unavailable("the compositor did not answer in time".into())
            })?
    }

    async fn exchange(&mut self, line: &[u8]) -> Result<Reply, DesktopError> {
        let io = |err| DesktopError::from(ClientError::Io(err));
        self.writer.write_all(line).await.map_err(io)?;
        let mut reply = Vec::new();
        let limit = MAX_REPLY_BYTES as u64 + 1;
        let read = (&mut self.reader)
            .take(limit)
            .read_until(b'\n', &mut reply)
            .await
            .map_err(io)?;
        if read == 0 || reply.last() != Some(&b'\n') {
            return Err(DesktopError::from(
                if reply.len() as u64 > MAX_REPLY_BYTES as u64 {
                    ClientError::Protocol("reply longer than the maximum message size".into())
                } else {
                    ClientError::Closed
                },
            ));
        }
        let mut reply: Reply = serde_json::from_slice(&reply[..reply.len() - 1])
            .map_err(|err| DesktopError::from(ClientError::Protocol(err.to_string())))?;
        if let Reply::Ok(response) = &mut reply
            && let Some((image, len)) = digios_ipc::raw_image(response)?
        {
            let mut data = vec![0; len];
            self.reader.read_exact(&mut data).await.map_err(io)?;
            image.data = data;
        }
        Ok(reply)
    }
}
