//! The event bus behind `/api/ws`: every event has a topic and a sequence
//! number assigned in publish order, so subscribers see one total order.
//! It lives below the API so the planner, evaluator and improvement cycle
//! publish without depending on the API.

use std::sync::Mutex;

use serde_json::Value;
use tokio::sync::broadcast;

// The envelope and topics are wire types, shared with every client.
pub use digios_api::{Event, Topic};

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
