//! digiOS's desktop shell: a top panel, a launcher, a chat with the agent and
//! notifications, drawn with egui. It is a client of the public API (HTTP and
//! the `/api/ws` event stream) and, on Wayland, of the compositor's
//! layer-shell; the views are plain egui code so tests drive them without
//! a display.

pub mod api;
pub mod backend;
pub mod clock;
pub mod launcher;
pub mod model;
pub mod software;
pub mod views;
pub mod wayland;

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};

pub use backend::{Backend, Command, Update};
pub use model::Model;

/// The shell without a display: its model, fed by the API.
pub struct Shell {
    pub model: Model,
    backend: Backend,
    updates: Receiver<Update>,
}

impl Shell {
    /// Connects to the API at `base`; `wake` is called from network threads
    /// whenever an update waits in [`Shell::poll`].
    pub fn connect(
        client: api::Client,
        apps: Vec<launcher::AppEntry>,
        wake: Arc<dyn Fn() + Send + Sync>,
    ) -> Self {
        let (sender, updates) = mpsc::channel();
        let notify: backend::Notify = Arc::new(move |update| {
            if sender.send(update).is_ok() {
                wake();
            }
        });
        Self {
            model: Model::new(apps),
            backend: Backend::start(client, notify),
            updates,
        }
    }

    /// Applies waiting updates and sends queued commands; returns whether
    /// anything changed.
    pub fn poll(&mut self) -> bool {
        let mut changed = false;
        while let Ok(update) = self.updates.try_recv() {
            changed |= self.model.apply(update);
        }
        changed |= self.flush();
        changed
    }

    /// Sends the commands the views queued.
    pub fn flush(&mut self) -> bool {
        let queued = !self.model.outbox.is_empty();
        for command in self.model.outbox.drain(..) {
            self.backend.send(command);
        }
        queued
    }
}
