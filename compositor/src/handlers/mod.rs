//! One module per Wayland protocol the compositor serves.

mod compositor;
mod data_device;
mod foreign_toplevel;
mod layer_shell;
mod output;
mod screencopy;
mod seat;
mod shm;
mod viewporter;
mod virtual_keyboard;
mod virtual_pointer;
mod xdg_activation;
mod xdg_decoration;
mod xdg_shell;

pub use foreign_toplevel::{ForeignToplevelState, refresh_foreign_toplevels};
pub use screencopy::ScreencopyState;
pub use virtual_pointer::VirtualPointerState;
