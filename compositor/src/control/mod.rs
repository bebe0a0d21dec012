//! The control socket: JSON lines over a Unix socket (see `digios-ipc`).
//!
//! Each connection has its own thread that reads and parses requests and
//! writes replies and events, so a slow or hostile client never blocks the
//! compositor; parsed requests reach the event loop through a channel and are
//! carried out there one at a time.

mod dispatch;
mod events;
mod idle;
mod server;
mod snapshot;

pub use events::publish_events;
use idle::IdleWait;
pub use idle::answer_idle_waits;
pub use server::start;
pub(crate) use snapshot::rect;

use std::path::PathBuf;
use std::sync::mpsc::{Sender, SyncSender};

use digios_ipc::{Event, Output, Reply, Request, Window};

/// Control bookkeeping kept in the compositor state.
pub struct ControlState {
    pub socket_path: PathBuf,
    /// `wait_idle` requests not answered yet.
    idle_waits: Vec<IdleWait>,
    subscribers: Vec<SyncSender<Event>>,
    last_windows: Vec<Window>,
    last_outputs: Vec<Output>,
    /// Damage sequence and pointer position last sent as `screen_changed`.
    last_screen: (u64, f64, f64),
    /// Requests served (see `Request::Stats`).
    requests_served: u64,
}

impl ControlState {
    pub fn new(socket_path: PathBuf) -> Self {
        Self {
            socket_path,
            idle_waits: Vec::new(),
            subscribers: Vec::new(),
            last_windows: Vec::new(),
            last_outputs: Vec::new(),
            last_screen: (0, f64::NAN, f64::NAN),
            requests_served: 0,
        }
    }
}

/// What a connection thread asks of the event loop.
pub enum ControlMessage {
    Request {
        request: Request,
        reply: Sender<Reply>,
    },
    Subscribe {
        events: SyncSender<Event>,
    },
}

impl Drop for ControlState {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.socket_path);
    }
}
