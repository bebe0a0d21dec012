//! One module per Wayland protocol the compositor serves.

mod compositor;
mod data_device;
mod layer_shell;
mod output;
mod screencopy;
mod seat;
mod shm;
mod viewporter;
mod virtual_keyboard;
mod xdg_activation;
mod xdg_decoration;
mod xdg_shell;

pub use screencopy::ScreencopyState;
