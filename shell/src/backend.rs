//! The shell's two threads of talk with the API: a worker that runs
//! commands (HTTP) one at a time, and a follower of `/api/ws` events that
//! reconnects with backoff. Both report through one callback, so the UI
//! thread owns all state and never blocks on the network.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::Duration;

use serde_json::Value;

use crate::api::{ApiError, Client, Status, Task, Window};
use crate::launcher::Launch;

/// How many finished tasks the chat shows from memory.
pub const HISTORY_LIMIT: usize = 50;
/// How often the worker rereads `/api/status` while nothing else happens.
const STATUS_INTERVAL: Duration = Duration::from_secs(10);
const BACKOFF_FIRST: Duration = Duration::from_millis(250);
const BACKOFF_MAX: Duration = Duration::from_secs(8);

/// What the UI asks of the API.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Reread status, model, windows and task history.
    Refresh,
    RefreshWindows,
    LoadTask(i64),
    SubmitGoal(String),
    Confirm {
        task: i64,
        approve: bool,
    },
    Cancel(i64),
    SetKillSwitch(bool),
    Launch {
        name: String,
        launch: Launch,
    },
    FocusWindow(u64),
}

/// One event from `/api/ws`.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub topic: String,
    pub kind: String,
    pub data: Value,
}

/// What the network threads tell the UI.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// The event stream is (re)connected.
    Connected,
    /// The event stream broke; the next attempt is in `retry_in`.
    Disconnected {
        reason: String,
        retry_in: Duration,
    },
    Status(Status),
    Model(Result<String, String>),
    Windows(Vec<Window>),
    /// Task history, newest first, without steps; `None` when the API has no tasks routes.
    History(Option<Vec<Task>>),
    Task(Task),
    Event(Event),
    Launched {
        name: String,
    },
    Failed {
        what: String,
        error: ApiError,
    },
}

pub type Notify = Arc<dyn Fn(Update) + Send + Sync>;

/// The handle the UI keeps: commands go in here. Dropping it stops the
/// threads once the event stream next breaks.
pub struct Backend {
    commands: Sender<Command>,
    stop: Arc<AtomicBool>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

impl Backend {
    /// Starts the worker and the event follower for `client`.
    pub fn start(client: Client, notify: Notify) -> Self {
        let (commands, receiver) = mpsc::channel::<Command>();
        {
            let client = client.clone();
            let notify = notify.clone();
            std::thread::Builder::new()
                .name("shell-api".into())
                .spawn(move || {
                    let mut worker = Worker { client, notify };
                    loop {
                        match receiver.recv_timeout(STATUS_INTERVAL) {
                            Ok(command) => worker.run(command),
                            Err(RecvTimeoutError::Timeout) => worker.status(),
                            Err(RecvTimeoutError::Disconnected) => break,
                        }
                    }
                })
                .expect("spawn the API worker thread");
        }
        let refresh = commands.clone();
        let stop = Arc::new(AtomicBool::new(false));
        {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("shell-events".into())
                .spawn(move || follow_events(&client, &notify, &refresh, &stop))
                .expect("spawn the event thread");
        }
        Self { commands, stop }
    }

    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }
}

struct Worker {
    client: Client,
    notify: Notify,
}

impl Worker {
    fn run(&mut self, command: Command) {
        let client = &self.client;
        match command {
            Command::Refresh => {
                self.status();
                let model = client.model_name().map_err(|err| match err {
                    ApiError::Refused { message, .. } => message,
                    other => other.to_string(),
                });
                (self.notify)(Update::Model(model));
                self.windows();
                self.history();
            }
            Command::RefreshWindows => self.windows(),
            Command::LoadTask(id) => self.report("load the task", client.task(id), Update::Task),
            Command::SubmitGoal(goal) => {
                self.report("start the task", client.create_task(&goal), Update::Task)
            }
            Command::Confirm { task, approve } => {
                let what = if approve { "approve" } else { "deny" };
                self.report(what, client.confirm(task, approve), Update::Task)
            }
            Command::Cancel(task) => self.report("cancel", client.cancel(task), Update::Task),
            Command::SetKillSwitch(engaged) => {
                if let Err(error) = client.set_kill_switch(engaged) {
                    (self.notify)(Update::Failed {
                        what: "switch the kill switch".into(),
                        error,
                    });
                }
                self.status();
            }
            Command::Launch { name, launch } => match client.launch(&launch) {
                Ok(_) => (self.notify)(Update::Launched { name }),
                Err(error) => (self.notify)(Update::Failed {
                    what: format!("launch {name}"),
                    error,
                }),
            },
            Command::FocusWindow(id) => {
                if let Err(error) = client.focus_window(id) {
                    (self.notify)(Update::Failed {
                        what: "focus the window".into(),
                        error,
                    });
                }
            }
        }
    }

    fn report<T>(&self, what: &str, result: Result<T, ApiError>, update: impl FnOnce(T) -> Update) {
        match result {
            Ok(value) => (self.notify)(update(value)),
            Err(error) => (self.notify)(Update::Failed {
                what: what.into(),
                error,
            }),
        }
    }

    fn status(&self) {
        // Unreachable is the event follower's to report; it owns reconnection.
        if let Ok(status) = self.client.status() {
            (self.notify)(Update::Status(status));
        }
    }

    fn windows(&self) {
        // A compositor that is down shows in the status; an empty list says the rest.
        match self.client.windows() {
            Ok(windows) => (self.notify)(Update::Windows(windows)),
            Err(error) => {
                tracing::debug!("cannot list windows: {error}");
                (self.notify)(Update::Windows(Vec::new()));
            }
        }
    }

    fn history(&self) {
        match self.client.tasks(HISTORY_LIMIT) {
            Ok(tasks) => (self.notify)(Update::History(Some(tasks))),
            Err(ApiError::Refused { status: 404, .. }) => (self.notify)(Update::History(None)),
            Err(_) => {}
        }
    }
}

/// Follows `/api/ws` for the life of the process, reconnecting with
/// exponential backoff; every (re)connection asks the worker for a refresh,
/// since events missed while away are gone.
fn follow_events(client: &Client, notify: &Notify, refresh: &Sender<Command>, stop: &AtomicBool) {
    let mut backoff = BACKOFF_FIRST;
    while !stop.load(Ordering::Relaxed) {
        let reason = match connect(client) {
            Ok(mut socket) => {
                backoff = BACKOFF_FIRST;
                notify(Update::Connected);
                let _ = refresh.send(Command::Refresh);
                read_events(&mut socket, notify, refresh)
            }
            Err(reason) => reason,
        };
        notify(Update::Disconnected {
            reason,
            retry_in: backoff,
        });
        std::thread::sleep(backoff);
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

type Socket = tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>;

fn connect(client: &Client) -> Result<Socket, String> {
    use tungstenite::client::IntoClientRequest;
    let mut request = client
        .ws_url()
        .into_client_request()
        .map_err(|err| err.to_string())?;
    if let Some(token) = client.token() {
        let value = format!("Bearer {token}")
            .parse()
            .map_err(|_| "the API token is not a valid header value".to_string())?;
        request.headers_mut().insert("authorization", value);
    }
    let (mut socket, _) = tungstenite::connect(request).map_err(|err| match err {
        tungstenite::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    })?;
    let subscribe = serde_json::json!({
        "type": "subscribe",
        "topics": ["windows", "tasks", "tokens", "voice", "services"],
    });
    socket
        .send(tungstenite::Message::Text(subscribe.to_string().into()))
        .map_err(|err| err.to_string())?;
    Ok(socket)
}

/// Reads until the socket breaks; returns why.
fn read_events(socket: &mut Socket, notify: &Notify, refresh: &Sender<Command>) -> String {
    loop {
        let message = match socket.read() {
            Ok(message) => message,
            Err(tungstenite::Error::ConnectionClosed) => {
                return "the agent closed the connection".into();
            }
            Err(err) => return err.to_string(),
        };
        let text = match message {
            tungstenite::Message::Text(text) => text,
            tungstenite::Message::Close(_) => return "the agent closed the connection".into(),
            _ => continue,
        };
        let Ok(value) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        match value.get("type").and_then(Value::as_str) {
            Some("event") => {
                let field = |name: &str| {
                    value
                        .get(name)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                };
                notify(Update::Event(Event {
                    topic: field("topic"),
                    kind: field("kind"),
                    data: value.get("data").cloned().unwrap_or(Value::Null),
                }));
            }
            // Events were dropped: only a full reread brings the picture back.
            Some("lagged") => {
                let _ = refresh.send(Command::Refresh);
            }
            _ => {}
        }
    }
}
