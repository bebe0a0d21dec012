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
mod xwayland;

pub use foreign_toplevel::{ForeignToplevelState, refresh_foreign_toplevels};
pub use screencopy::ScreencopyState;
pub use virtual_pointer::VirtualPointerState;
pub use xwayland::Xwayland;
pub(crate) use xwayland::{pair_surfaces as pair_x11_surfaces, start as start_xwayland};
