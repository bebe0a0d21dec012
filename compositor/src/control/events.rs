//! The event stream: the full state on subscription, then deltas computed
//! by comparing snapshots after every turn of the event loop.

use std::sync::mpsc::{SyncSender, TrySendError};

use digios_ipc::Event;
use digios_ipc::state::window_deltas;

use crate::state::State;

/// Events a subscriber may have queued before it is dropped as too slow.
pub const EVENT_QUEUE: usize = 1024;

/// Sends the deltas since the last call to every subscriber.
pub fn publish_events(state: &mut State) {
    if state.control.subscribers.is_empty() {
        return;
    }
    let windows = state.window_views();
    let outputs = state.output_views();
    let mut events = window_deltas(&state.control.last_windows, &windows);
    if outputs != state.control.last_outputs {
        events.push(Event::OutputsChanged {
            outputs: outputs.clone(),
        });
    }
    state.control.last_windows = windows;
    state.control.last_outputs = outputs;
    let pointer = state.pointer_location();
    let screen = (state.damage.seq(), pointer.x, pointer.y);
    if screen != state.control.last_screen {
        state.control.last_screen = screen;
        events.push(Event::ScreenChanged {
            damage_seq: screen.0,
            x: screen.1,
            y: screen.2,
        });
    }
    for event in events {
        broadcast(&mut state.control.subscribers, event);
    }
}

/// Adds a subscriber after flushing pending deltas to the others, so its
/// first event is exactly the current state.
pub fn subscribe(state: &mut State, sender: SyncSender<Event>) {
    publish_events(state);
    let windows = state.window_views();
    let outputs = state.output_views();
    if state.control.subscribers.is_empty() {
        state.control.last_windows = windows.clone();
        state.control.last_outputs = outputs.clone();
    }
    if sender.try_send(Event::State { outputs, windows }).is_ok() {
        state.control.subscribers.push(sender);
    }
}

fn broadcast(subscribers: &mut Vec<SyncSender<Event>>, event: Event) {
    subscribers.retain(|subscriber| match subscriber.try_send(event.clone()) {
        Ok(()) => true,
        // A subscriber that cannot keep up is dropped; its stream ends.
        Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
    });
}
