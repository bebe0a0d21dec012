//! XWayland: X11 apps run through `Xwayland`, started with the compositor.
//! Its window manager turns X11 toplevels into managed windows (listed,
//! decorated, captured and driven like Wayland ones) and keeps
//! override-redirect windows (menus, tooltips) where X11 puts them.

use std::process::Stdio;

use smithay::delegate_xwayland_shell;
use smithay::reexports::calloop::LoopHandle;
use smithay::reexports::wayland_server::Client;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Rectangle};
use smithay::wayland::xwayland_shell::{XWaylandShellHandler, XWaylandShellState};
use smithay::xwayland::xwm::{Reorder, ResizeEdge, XwmId};
use smithay::xwayland::{X11Surface, X11Wm, XWayland, XWaylandEvent, XwmHandler};

use crate::drag::Edges;
use crate::state::State;

/// The running X server and its window manager.
#[derive(Default)]
pub struct Xwayland {
    pub wm: Option<X11Wm>,
    /// The X display number (`DISPLAY=:N`) once the server is ready.
    pub display: Option<u32>,
    /// Xwayland's own Wayland connection.
    pub client: Option<Client>,
}

/// Starts Xwayland; X11 apps can connect once it reports ready. A missing
/// `Xwayland` binary is logged and leaves a Wayland-only desktop.
pub fn start(state: &State, event_loop: &LoopHandle<'static, State>) {
    if let Err(err) = ensure_x11_socket_dir(std::path::Path::new(X11_SOCKET_DIR)) {
        tracing::warn!("X11 apps unavailable: {X11_SOCKET_DIR}: {err}");
        return;
    }
    let spawned = XWayland::spawn(
        &state.display_handle,
        None,
        std::iter::empty::<(String, String)>(),
        true,
        Stdio::null(),
        Stdio::null(),
        |_| {},
    );
    let (xwayland, client) = match spawned {
        Ok(spawned) => spawned,
        Err(err) => {
            tracing::warn!("X11 apps unavailable: cannot start Xwayland ({err})");
            return;
        }
    };
    let handle = event_loop.clone();
    let inserted = event_loop.insert_source(xwayland, move |event, _, state| match event {
        XWaylandEvent::Ready {
            x11_socket,
            display_number,
        } => match X11Wm::start_wm(handle.clone(), x11_socket, client.clone()) {
            Ok(wm) => {
                tracing::info!(display = %format!(":{display_number}"), "XWayland ready");
                state.xwayland.wm = Some(wm);
                state.xwayland.display = Some(display_number);
                state.xwayland.client = Some(client.clone());
            }
            Err(err) => tracing::warn!("X11 apps unavailable: the X11 window manager: {err}"),
        },
        XWaylandEvent::Error => tracing::warn!("X11 apps unavailable: Xwayland exited"),
    });
    if let Err(err) = inserted {
        tracing::warn!("X11 apps unavailable: {err}");
    }
}

/// Where X servers put their sockets; a new machine may not have it yet.
const X11_SOCKET_DIR: &str = "/tmp/.X11-unix";

/// Creates the X11 socket directory as every X server expects it:
/// world-writable and sticky, like `/tmp` itself. An existing one is left as
/// it is, whoever made it.
fn ensure_x11_socket_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::create_dir(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777)),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

impl XWaylandShellHandler for State {
    fn xwayland_shell_state(&mut self) -> &mut XWaylandShellState {
        &mut self.xwayland_shell_state
    }

    /// The surface may have committed its buffer before it was paired with
    /// its X11 window, and an idle app commits no other.
    fn surface_associated(&mut self, _xwm: XwmId, surface: WlSurface, _window: X11Surface) {
        self.map_when_ready(&surface);
    }
}

delegate_xwayland_shell!(State);

impl XwmHandler for State {
    fn xwm_state(&mut self, _xwm: XwmId) -> &mut X11Wm {
        self.xwayland
            .wm
            .as_mut()
            .expect("X11 events come only from a running window manager")
    }

    fn new_window(&mut self, _xwm: XwmId, _window: X11Surface) {}

    fn new_override_redirect_window(&mut self, _xwm: XwmId, _window: X11Surface) {}

    fn map_window_request(&mut self, _xwm: XwmId, window: X11Surface) {
        if let Err(err) = window.set_mapped(true) {
            tracing::warn!("mapping an X11 window: {err}");
            return;
        }
        self.add_x11_window(window);
    }

    fn mapped_override_redirect_window(&mut self, _xwm: XwmId, window: X11Surface) {
        self.add_x11_window(window);
    }

    fn unmapped_window(&mut self, _xwm: XwmId, window: X11Surface) {
        self.remove_x11_window(&window);
        if !window.is_override_redirect() {
            let _ = window.set_mapped(false);
        }
    }

    fn destroyed_window(&mut self, _xwm: XwmId, window: X11Surface) {
        self.remove_x11_window(&window);
    }

    /// X11 apps may choose their size; where a managed window goes is the
    /// compositor's decision.
    fn configure_request(
        &mut self,
        _xwm: XwmId,
        window: X11Surface,
        x: Option<i32>,
        y: Option<i32>,
        width: Option<u32>,
        height: Option<u32>,
        _reorder: Option<Reorder>,
    ) {
        let mut geometry = window.geometry();
        if let Some(width) = width {
            geometry.size.w = width as i32;
        }
        if let Some(height) = height {
            geometry.size.h = height as i32;
        }
        match self
            .windows
            .windows
            .iter()
            .find(|m| m.x11() == Some(&window))
        {
            Some(managed) if managed.mapped => geometry.loc = managed.location,
            _ => {
                geometry.loc.x = x.unwrap_or(geometry.loc.x);
                geometry.loc.y = y.unwrap_or(geometry.loc.y);
            }
        }
        let _ = window.configure(geometry);
    }

    fn configure_notify(
        &mut self,
        _xwm: XwmId,
        window: X11Surface,
        geometry: Rectangle<i32, Logical>,
        _above: Option<u32>,
    ) {
        self.x11_configured(&window, geometry);
    }

    fn resize_request(&mut self, _xwm: XwmId, window: X11Surface, _button: u32, edge: ResizeEdge) {
        let Some(id) = self.x11_window_id(&window) else {
            return;
        };
        let edges = Edges {
            left: matches!(
                edge,
                ResizeEdge::Left | ResizeEdge::TopLeft | ResizeEdge::BottomLeft
            ),
            right: matches!(
                edge,
                ResizeEdge::Right | ResizeEdge::TopRight | ResizeEdge::BottomRight
            ),
            top: matches!(
                edge,
                ResizeEdge::Top | ResizeEdge::TopLeft | ResizeEdge::TopRight
            ),
            bottom: matches!(
                edge,
                ResizeEdge::Bottom | ResizeEdge::BottomLeft | ResizeEdge::BottomRight
            ),
        };
        let pointer = self.pointer_location();
        self.start_resize(id, edges, pointer);
    }

    fn move_request(&mut self, _xwm: XwmId, window: X11Surface, _button: u32) {
        if let Some(id) = self.x11_window_id(&window) {
            let pointer = self.pointer_location();
            self.start_move(id, pointer);
        }
    }

    fn maximize_request(&mut self, _xwm: XwmId, window: X11Surface) {
        if let Some(id) = self.x11_window_id(&window) {
            let _ = self.set_maximized(id, true);
        }
    }

    fn unmaximize_request(&mut self, _xwm: XwmId, window: X11Surface) {
        if let Some(id) = self.x11_window_id(&window) {
            let _ = self.set_maximized(id, false);
        }
    }

    fn fullscreen_request(&mut self, _xwm: XwmId, window: X11Surface) {
        if let Some(id) = self.x11_window_id(&window) {
            let _ = self.set_fullscreen(id, true);
        }
    }

    fn unfullscreen_request(&mut self, _xwm: XwmId, window: X11Surface) {
        if let Some(id) = self.x11_window_id(&window) {
            let _ = self.set_fullscreen(id, false);
        }
    }

    fn minimize_request(&mut self, _xwm: XwmId, window: X11Surface) {
        if let Some(id) = self.x11_window_id(&window) {
            let _ = self.set_minimized(id, true);
        }
    }

    fn unminimize_request(&mut self, _xwm: XwmId, window: X11Surface) {
        if let Some(id) = self.x11_window_id(&window) {
            let _ = self.set_minimized(id, false);
        }
    }
}

/// Pairs X11 windows with the surfaces Xwayland named by `WL_SURFACE_ID`
/// (Xwayland before 23.1, e.g. Debian 12's, never uses xwayland-shell).
/// Called once per event-loop turn; a paired window is mapped once it has a buffer.
pub fn pair_surfaces(state: &mut State) {
    let Some(client) = state.xwayland.client.clone() else {
        return;
    };
    let mut paired = Vec::new();
    for managed in &mut state.windows.windows {
        let Some(x11) = managed.x11() else {
            continue;
        };
        if managed.x11_surface.is_some() || x11.wl_surface().is_some() {
            continue;
        }
        #[allow(deprecated)] // the only pairing older Xwayland offers
        let Some(id) = x11.wl_surface_id() else {
            continue;
        };
        if let Ok(surface) = client.object_from_protocol_id::<WlSurface>(&state.display_handle, id)
        {
            managed.x11_surface = Some(surface.clone());
            paired.push(surface);
        }
    }
    for surface in paired {
        state.map_when_ready(&surface);
    }
}

impl State {
    fn x11_window_id(&self, window: &X11Surface) -> Option<digios_ipc::WindowId> {
        self.windows
            .windows
            .iter()
            .find(|managed| managed.x11() == Some(window) && !managed.override_redirect)
            .map(|managed| managed.id)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_x11_socket_dir_is_made_sticky_and_world_writable_when_missing() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(".X11-unix");
        super::ensure_x11_socket_dir(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o1777);
        // A second start finds it and leaves it alone.
        super::ensure_x11_socket_dir(&dir).unwrap();
    }
}
