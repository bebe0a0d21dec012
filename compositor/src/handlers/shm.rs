//! wl_shm: shared-memory buffers, the format every client can draw into.

use smithay::delegate_shm;
use smithay::wayland::shm::{ShmHandler, ShmState};

use crate::state::State;

impl ShmHandler for State {
    fn shm_state(&self) -> &ShmState {
        &self.shm_state
    }
}

delegate_shm!(State);
