//! One module per Wayland protocol the compositor serves.

mod compositor;
mod data_device;
mod layer_shell;
mod output;
mod seat;
mod shm;
mod viewporter;
mod xdg_activation;
mod xdg_decoration;
mod xdg_shell;
