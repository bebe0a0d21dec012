//! The agent's side of the compositor's control socket: typed requests run
//! on blocking threads (the IPC client is synchronous), and the compositor's
//! event stream forwarded onto the API's event bus.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use digios_ipc::{Client, ClientError, Request, Response, Window};

use crate::vision::MarkBoard;

/// How long one compositor request may take before the API gives up on it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Connections kept open between requests; connecting costs more than asking.
const IDLE_CONNECTIONS: usize = 8;

#[derive(Clone)]
pub struct Desktop {
    socket: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<Client>>>,
    /// The latest screen analysis, whose mark numbers actions may name.
    marks: Arc<MarkBoard>,
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
            marks: Arc::default(),
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

    pub async fn request(&self, request: Request) -> Result<Response, DesktopError> {
        let desktop = self.clone();
        tokio::task::spawn_blocking(move || desktop.request_blocking(&request))
            .await
            .map_err(|err| DesktopError::Unavailable(format!("request task failed: {err}")))?
    }

    fn connect(&self) -> Result<Client, DesktopError> {
        let client = Client::connect(&self.socket)?;
        client.set_timeout(Some(REQUEST_TIMEOUT))?;
        Ok(client)
    }

    /// Asks on an idle connection if there is one. A pooled connection that
    /// fails (the compositor restarted) is dropped and the request sent once
    /// more on a fresh one; a typed refusal keeps its connection.
    fn request_blocking(&self, request: &Request) -> Result<Response, DesktopError> {
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if let Some(mut client) = pooled {
            match client.request(request) {
                Ok(response) => {
                    self.give_back(client);
                    return Ok(response);
                }
                Err(ClientError::Compositor(err)) => {
                    self.give_back(client);
                    return Err(DesktopError::Compositor(err));
                }
                Err(_) => {}
            }
        }
        let mut client = self.connect()?;
        match client.request(request) {
            Ok(response) => {
                self.give_back(client);
                Ok(response)
            }
            Err(ClientError::Compositor(err)) => {
                self.give_back(client);
                Err(DesktopError::Compositor(err))
            }
            Err(err) => Err(err.into()),
        }
    }

    fn give_back(&self, client: Client) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE_CONNECTIONS {
            idle.push(client);
        }
    }

    pub async fn windows(&self) -> Result<Vec<Window>, DesktopError> {
        match self.request(Request::Windows).await? {
            Response::Windows { windows } => Ok(windows),
            other => Err(unexpected(other)),
        }
    }

    pub async fn window(&self, id: digios_ipc::WindowId) -> Result<Window, DesktopError> {
        self.windows()
            .await?
            .into_iter()
            .find(|w| w.id == id)
            .ok_or_else(|| DesktopError::Compositor(digios_ipc::Error::unknown_window(id)))
    }

    /// Blocks on the compositor's event stream, calling `on_event` for each
    /// event; returns when the stream ends or fails.
    pub fn follow_events(
        &self,
        mut on_event: impl FnMut(digios_ipc::Event),
    ) -> Result<(), DesktopError> {
        let client = Client::connect(&self.socket)?;
        let mut stream = client.event_stream()?;
        loop {
            on_event(stream.next_event()?);
        }
    }
}

pub fn unexpected(response: Response) -> DesktopError {
    DesktopError::Unavailable(format!(
        "the compositor answered with an unexpected response: {response:?}"
    ))
}
