//! The voice loop's state and events, fanned out to every subscriber (the
//! agent republishes them on the WebSocket's `voice` topic).

use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, Sender};

use digios_voice_ipc::{VoiceEvent, VoiceState};
use serde_json::{Value, json};

pub struct Hub {
    inner: Mutex<Inner>,
}

struct Inner {
    state: VoiceState,
    detail: Option<String>,
    /// Where the loop rests between turns: idle, or unavailable with why.
    resting: (VoiceState, Option<String>),
    subscribers: Vec<Sender<VoiceEvent>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                state: VoiceState::Idle,
                detail: None,
                resting: (VoiceState::Idle, None),
                subscribers: Vec::new(),
            }),
        }
    }
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn state(&self) -> (VoiceState, Option<String>) {
        let inner = self.lock();
        (inner.state, inner.detail.clone())
    }

    /// Moves to `state`, announcing it only if it changed.
    pub fn set_state(&self, state: VoiceState, detail: Option<String>) {
        let mut inner = self.lock();
        if inner.state == state && inner.detail == detail {
            return;
        }
        inner.state = state;
        inner.detail = detail.clone();
        let data = json!({ "detail": detail });
        Self::send(&mut inner, state.as_str(), data);
    }

    /// Sets where the loop rests between turns, and rests there if idle.
    pub fn set_resting(&self, state: VoiceState, detail: Option<String>) {
        let now_resting = {
            let mut inner = self.lock();
            let was_resting = (inner.state, inner.detail.clone()) == inner.resting;
            inner.resting = (state, detail);
            was_resting
        };
        if now_resting {
            self.rest();
        }
    }

    /// Back to idle (or unavailable) after a turn.
    pub fn rest(&self) {
        let (state, detail) = self.lock().resting.clone();
        self.set_state(state, detail);
    }

    /// Announces something that happened (`transcript`, `reply`, `barge_in`, `wake`).
    pub fn publish(&self, kind: &str, data: Value) {
        let mut inner = self.lock();
        Self::send(&mut inner, kind, data);
    }

    fn send(inner: &mut Inner, kind: &str, data: Value) {
        let event = VoiceEvent {
            kind: kind.to_string(),
            data,
        };
        inner
            .subscribers
            .retain(|subscriber| subscriber.send(event.clone()).is_ok());
    }

    /// Events from now on, starting with the current state.
    pub fn subscribe(&self) -> Receiver<VoiceEvent> {
        let (sender, receiver) = mpsc::channel();
        let mut inner = self.lock();
        let _ = sender.send(VoiceEvent {
            kind: inner.state.as_str().to_string(),
            data: json!({ "detail": inner.detail }),
        });
        inner.subscribers.push(sender);
        receiver
    }
}
