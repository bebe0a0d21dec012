//! Where the control socket lives.

use std::path::PathBuf;

/// Overrides the control socket path for both the compositor and clients.
pub const SOCKET_ENV: &str = "DIGIOS_COMPOSITOR_SOCKET";

/// The control socket of the compositor serving Wayland display `display`:
/// `$XDG_RUNTIME_DIR/digios-compositor-<display>.sock` (`/tmp` without a
/// runtime directory).
pub fn socket_path_for_display(display: &str) -> PathBuf {
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    dir.join(format!("digios-compositor-{display}.sock"))
}

/// The control socket a client should use: `$DIGIOS_COMPOSITOR_SOCKET`, else
/// the one for `$WAYLAND_DISPLAY` (default `wayland-0`).
pub fn socket_path() -> PathBuf {
    if let Some(path) = std::env::var_os(SOCKET_ENV).filter(|path| !path.is_empty()) {
        return PathBuf::from(path);
    }
    let display = std::env::var("WAYLAND_DISPLAY")
        .ok()
        .filter(|display| !display.is_empty())
        .unwrap_or_else(|| "wayland-0".into());
    socket_path_for_display(&display)
}
