//! wp_viewporter: clients crop and scale their buffers; Smithay's surface
//! state applies it, so nothing more is needed here.

use smithay::delegate_viewporter;

use crate::state::State;

delegate_viewporter!(State);
