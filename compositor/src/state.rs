//! The compositor's one state struct: Smithay protocol states, the window
//! space, the seat and the control-socket bookkeeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use smithay::desktop::{PopupManager, Space, Window};
use smithay::input::keyboard::XkbConfig;
use smithay::input::pointer::CursorImageStatus;
use smithay::input::{Seat, SeatState};
use smithay::reexports::wayland_server::backend::{ClientData, ClientId, DisconnectReason};
use smithay::reexports::wayland_server::{Client, DisplayHandle};
use smithay::wayland::compositor::{CompositorClientState, CompositorState};
use smithay::wayland::fractional_scale::FractionalScaleManagerState;
use smithay::wayland::output::OutputManagerState;
use smithay::wayland::selection::data_device::DataDeviceState;
use smithay::wayland::shell::wlr_layer::WlrLayerShellState;
use smithay::wayland::shell::xdg::XdgShellState;
use smithay::wayland::shell::xdg::decoration::XdgDecorationState;
use smithay::wayland::shm::ShmState;
use smithay::wayland::viewporter::ViewporterState;
use smithay::wayland::virtual_keyboard::VirtualKeyboardManagerState;
use smithay::wayland::xdg_activation::XdgActivationState;
use smithay::wayland::xwayland_shell::XWaylandShellState;

use crate::backend::Backend;
use crate::control::ControlState;
use crate::drag::PointerDrag;
use crate::handlers::{ForeignToplevelState, ScreencopyState, VirtualPointerState, Xwayland};
use crate::keymap::KeymapIndex;
use crate::windows::WindowList;

pub struct State {
    pub display_handle: DisplayHandle,
    /// The Wayland socket name clients use as `WAYLAND_DISPLAY`.
    pub socket_name: String,
    pub started: Instant,

    pub compositor_state: CompositorState,
    pub xdg_shell_state: XdgShellState,
    #[allow(dead_code)] // held so its global stays advertised
    pub xdg_decoration_state: XdgDecorationState,
    pub layer_shell_state: WlrLayerShellState,
    pub shm_state: ShmState,
    #[allow(dead_code)] // held so its global stays advertised
    pub output_manager_state: OutputManagerState,
    pub seat_state: SeatState<State>,
    pub data_device_state: DataDeviceState,
    pub xdg_activation_state: XdgActivationState,
    #[allow(dead_code)] // held so its global stays advertised
    pub viewporter_state: ViewporterState,
    #[allow(dead_code)] // held so its global stays advertised
    pub virtual_keyboard_state: VirtualKeyboardManagerState,
    #[allow(dead_code)] // held so its global stays advertised
    pub screencopy_state: ScreencopyState,
    #[allow(dead_code)] // held so its global stays advertised
    pub virtual_pointer_state: VirtualPointerState,
    pub foreign_toplevel_state: ForeignToplevelState,
    pub xwayland_shell_state: XWaylandShellState,
    #[allow(dead_code)] // held so its global stays advertised
    pub fractional_scale_state: FractionalScaleManagerState,
    pub xwayland: Xwayland,
    pub popups: PopupManager,

    pub seat: Seat<State>,
    pub space: Space<Window>,
    pub windows: WindowList,
    pub keymap: KeymapIndex,
    pub backend: Backend,
    pub cursor_image: CursorImageStatus,
    /// A window being moved or resized with the pointer.
    pub pointer_drag: Option<PointerDrag>,
    pub control: ControlState,
    /// Surfaces committed since frame callbacks were last sent.
    pub frame_pending: bool,
    /// When a surface last committed, for `wait_idle`.
    pub last_commit: Instant,
    /// When input (from a device or injected) last arrived, for `activity`.
    pub last_input: Instant,
    /// Where the screen changed, for clients that redo work only there.
    pub damage: crate::damage::DamageLog,
}

/// The XKB rules the keyboard and the keysym index both use.
pub fn xkb_config(layout: &str) -> XkbConfig<'_> {
    XkbConfig {
        layout,
        ..XkbConfig::default()
    }
}

impl State {
    /// Milliseconds since start, the clock of input events and frame callbacks.
    pub fn now_ms(&self) -> u32 {
        self.started.elapsed().as_millis() as u32
    }
}

/// Per-client data.
#[derive(Default)]
pub struct ClientState {
    pub compositor_state: CompositorClientState,
    /// May use the automation protocols (screencopy, virtual keyboard).
    pub privileged: AtomicBool,
}

/// Whether a client may use the automation protocols: processes of the
/// compositor's own user (or root) are; anyone else reaching the socket is not.
pub fn is_privileged(client: &Client) -> bool {
    client
        .get_data::<ClientState>()
        .is_some_and(|data| data.privileged.load(Ordering::Relaxed))
}

/// Decides a new client's privilege from its credentials.
pub fn grant_privilege(display_handle: &DisplayHandle, client: &Client) {
    let Ok(credentials) = client.get_credentials(display_handle) else {
        return;
    };
    let own_uid = smithay::reexports::rustix::process::getuid().as_raw();
    let privileged = credentials.uid == own_uid || credentials.uid == 0;
    if let Some(data) = client.get_data::<ClientState>() {
        data.privileged.store(privileged, Ordering::Relaxed);
    }
}

impl ClientData for ClientState {
    fn initialized(&self, _client_id: ClientId) {}
    fn disconnected(&self, _client_id: ClientId, _reason: DisconnectReason) {}
}

pub fn client_data() -> Arc<ClientState> {
    Arc::new(ClientState::default())
}
