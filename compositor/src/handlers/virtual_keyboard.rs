//! zwp-virtual-keyboard: privileged tools such as `wtype` type through
//! their own keymap into the focused window.

use smithay::delegate_virtual_keyboard_manager;

use crate::state::State;

delegate_virtual_keyboard_manager!(State);
