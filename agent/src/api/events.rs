//! The event bus behind `/api/ws`: every event has a topic and a sequence
//! number assigned in publish order, so subscribers see one total order.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::broadcast;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    Windows,
    Tasks,
    Tokens,
    Voice,
    Downloads,
    Services,
    /// `screen_changed` after an action, once the screen has been analyzed.
    Vision,
    /// Evaluation runs and improvement cycles: `eval_*` and `cycle_*` progress.
    Improve,
    /// The language model in use: `model_loading`, `model_selected`, `model_load_failed`.
    Models,
}

impl Topic {
    pub const ALL: [Topic; 9] = [
        Topic::Windows,
        Topic::Tasks,
        Topic::Tokens,
        Topic::Voice,
        Topic::Downloads,
        Topic::Services,
        Topic::Vision,
        Topic::Improve,
        Topic::Models,
    ];
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Event {
    pub seq: u64,
    pub topic: Topic,
    /// What happened, e.g. `window_opened`, `step_finished`, `progress`.
    pub kind: String,
    pub data: Value,
}

/// How many events a slow subscriber may fall behind before it is told it lagged.
const BACKLOG: usize = 1024;

pub struct EventBus {
    sender: broadcast::Sender<Event>,
    next_seq: Mutex<u64>,
}

impl Default for EventBus {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(BACKLOG).0,
            next_seq: Mutex::new(1),
        }
    }
}

impl EventBus {
    pub fn publish(&self, topic: Topic, kind: impl Into<String>, data: Value) -> u64 {
        // Numbering and sending under one lock keeps sequence order and
        // delivery order the same.
        let mut next = self.next_seq.lock().unwrap_or_else(|e| e.into_inner());
        let seq = *next;
        *next += 1;
        let _ = self.sender.send(Event {
            seq,
            topic,
            kind: kind.into(),
            data,
        });
        seq
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}
