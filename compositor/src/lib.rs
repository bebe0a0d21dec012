//! digiOS's own Wayland compositor. The agent owns it: it lists and arranges
//! windows, captures pixels with overlays and injects input through the
//! control socket (`digios-ipc`), while humans get floating windows with
//! title bars they can drag.
//!
//! Start it with [`run`]; it serves until the process ends.
//!
//! Where things live:
//! - `backend/`: what drives outputs (headless, nested winit, DRM/KMS with
//!   evdev input) behind the `Backend` trait; the renderer is pixman.
//! - `handlers/`: one file per Wayland protocol (and XWayland's window manager).
//! - `windows.rs`: window ids, placement, focus, stacking, move / resize /
//!   maximize / minimize / fullscreen / close, hit testing; `title_bar.rs`
//!   draws the server-side title bar.
//! - `input.rs`: the one input path for injected (and later real) input,
//!   with click-to-focus, title-bar drag and the human's shortcuts;
//!   `keymap.rs` maps keysyms and characters to key presses.
//! - `render.rs`: composes layers, windows and title bars for any region at
//!   any scale; `capture.rs` adds the reticle, grid and marks and encodes;
//!   `cursor.rs` is the pointer image backends that present draw.
//! - `control/`: the control socket (threads per connection, requests carried
//!   out on the event loop, event stream by snapshot diff).
//! - `damage.rs`: the damage log clients ask with `damage {since}`, so they
//!   redo work (OCR) only where the screen changed.
//!
//! Invariants: all compositor state lives on the event-loop thread; control
//! connections only parse and write. A window's `geometry` is its content in
//! global logical coordinates, the title bar sits directly above it. Bad
//! control input never panics: it becomes a `digios_ipc::Error`.

mod backend;
mod canvas;
mod capture;
pub mod cli;
pub mod config;
mod control;
mod cursor;
mod damage;
mod drag;
mod handlers;
mod input;
mod keymap;
mod render;
mod spawn;
mod state;
mod title_bar;
mod windows;

use std::time::Duration;

use anyhow::Context;
use smithay::desktop::{PopupManager, Space};
use smithay::input::SeatState;
use smithay::input::pointer::CursorImageStatus;
use smithay::output::Output;
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay::reexports::calloop::{EventLoop, Interest, Mode as TriggerMode, PostAction};
use smithay::reexports::wayland_server::Display;
use smithay::utils::Transform;
use smithay::wayland::compositor::CompositorState;
use smithay::wayland::fractional_scale::FractionalScaleManagerState;
use smithay::wayland::output::OutputManagerState;
use smithay::wayland::selection::data_device::DataDeviceState;
use smithay::wayland::shell::wlr_layer::WlrLayerShellState;
use smithay::wayland::shell::xdg::XdgShellState;
use smithay::wayland::shell::xdg::decoration::XdgDecorationState;
use smithay::wayland::shm::ShmState;
use smithay::wayland::socket::ListeningSocketSource;
use smithay::wayland::viewporter::ViewporterState;
use smithay::wayland::virtual_keyboard::VirtualKeyboardManagerState;
use smithay::wayland::xdg_activation::XdgActivationState;
use smithay::wayland::xwayland_shell::XWaylandShellState;

pub use config::{BackendKind, CompositorConfig, CompositorSection, OutputSpec};

use crate::control::ControlState;
use crate::handlers::{ForeignToplevelState, ScreencopyState, VirtualPointerState, Xwayland};
use crate::keymap::KeymapIndex;
use crate::state::{State, client_data, xkb_config};
use crate::windows::WindowList;

/// How often clients are told to draw their next frame.
const FRAME_INTERVAL: Duration = Duration::from_millis(16);

/// Runs the compositor until the process is killed or a fatal error occurs.
pub fn run(config: CompositorConfig) -> anyhow::Result<()> {
    anyhow::ensure!(!config.outputs.is_empty(), "at least one output is needed");
    let mut event_loop: EventLoop<'static, State> =
        EventLoop::try_new().context("creating the event loop")?;
    let display: Display<State> = Display::new().context("creating the Wayland display")?;
    let display_handle = display.handle();

    let listening = match &config.socket_name {
        Some(name) => ListeningSocketSource::with_name(name),
        None => ListeningSocketSource::new_auto(),
    }
    .context("binding the Wayland socket (is XDG_RUNTIME_DIR set?)")?;
    let socket_name = listening.socket_name().to_string_lossy().into_owned();
    event_loop
        .handle()
        .insert_source(listening, |stream, _, state| {
            match state.display_handle.insert_client(stream, client_data()) {
                Ok(client) => state::grant_privilege(&state.display_handle, &client),
                Err(err) => tracing::warn!("cannot accept a Wayland client: {err}"),
            }
        })
        .map_err(|err| anyhow::anyhow!("adding the Wayland socket: {err}"))?;
    event_loop
        .handle()
        .insert_source(
            Generic::new(display, Interest::READ, TriggerMode::Level),
            |_, display, state| {
                // SAFETY: the display is never dropped while the loop runs.
                unsafe {
                    display.get_mut().dispatch_clients(state)?;
                }
                Ok(PostAction::Continue)
            },
        )
        .map_err(|err| anyhow::anyhow!("adding the Wayland display: {err}"))?;

    let started = backend::start(&config, &event_loop.handle())?;

    let mut seat_state = SeatState::new();
    let mut seat = seat_state.new_wl_seat(&display_handle, "seat0");
    seat.add_keyboard(xkb_config(&config.keyboard_layout), 200, 25)
        .context("creating the keyboard (is xkb-data installed?)")?;
    seat.add_pointer();

    let control_path = config
        .control_socket
        .clone()
        .unwrap_or_else(|| digios_ipc::socket_path_for_display(&socket_name));

    let mut state = State {
        display_handle: display_handle.clone(),
        socket_name: socket_name.clone(),
        started: std::time::Instant::now(),
        compositor_state: CompositorState::new_v6::<State>(&display_handle),
        xdg_shell_state: XdgShellState::new::<State>(&display_handle),
        xdg_decoration_state: XdgDecorationState::new::<State>(&display_handle),
        layer_shell_state: WlrLayerShellState::new::<State>(&display_handle),
        shm_state: ShmState::new::<State>(&display_handle, vec![]),
        output_manager_state: OutputManagerState::new_with_xdg_output::<State>(&display_handle),
        seat_state,
        data_device_state: DataDeviceState::new::<State>(&display_handle),
        xdg_activation_state: XdgActivationState::new::<State>(&display_handle),
        viewporter_state: ViewporterState::new::<State>(&display_handle),
        virtual_keyboard_state: VirtualKeyboardManagerState::new::<State, _>(
            &display_handle,
            state::is_privileged,
        ),
        screencopy_state: ScreencopyState::new(&display_handle),
        virtual_pointer_state: VirtualPointerState::new(&display_handle),
        foreign_toplevel_state: ForeignToplevelState::new(&display_handle),
        xwayland_shell_state: XWaylandShellState::new::<State>(&display_handle),
        fractional_scale_state: FractionalScaleManagerState::new::<State>(&display_handle),
        xwayland: Xwayland::default(),
        popups: PopupManager::default(),
        seat,
        space: Space::default(),
        windows: WindowList::default(),
        keymap: KeymapIndex::new(&config.keyboard_layout)?,
        backend: started.backend,
        cursor_image: CursorImageStatus::default_named(),
        pointer_drag: None,
        control: ControlState::new(control_path.clone()),
        frame_pending: false,
        last_commit: std::time::Instant::now(),
        last_input: std::time::Instant::now(),
        damage: Default::default(),
    };

    add_outputs(&mut state, started.outputs);
    // The pointer starts in the middle of the first output, not in a corner.
    let first_output = state.space.outputs().next().cloned();
    if let Some(geometry) = first_output.and_then(|output| state.space.output_geometry(&output)) {
        let (x, y) = (geometry.size.w / 2, geometry.size.h / 2);
        state.pointer_motion((f64::from(x), f64::from(y)).into());
    }
    control::start(&control_path, &event_loop.handle())?;
    if config.xwayland {
        handlers::start_xwayland(&state, &event_loop.handle());
    }

    event_loop
        .handle()
        .insert_source(Timer::from_duration(FRAME_INTERVAL), |_, _, state| {
            if std::mem::take(&mut state.frame_pending) {
                render::send_frame_callbacks(state);
            }
            handlers::refresh_surface_scales(state);
            control::answer_idle_waits(state);
            state.space.refresh();
            state.popups.cleanup();
            TimeoutAction::ToDuration(FRAME_INTERVAL)
        })
        .map_err(|err| anyhow::anyhow!("adding the frame timer: {err}"))?;

    tracing::info!(
        backend = state.backend.name(),
        wayland_display = %socket_name,
        control = %control_path.display(),
        "compositor ready"
    );
    event_loop
        .run(None, &mut state, |state| {
            handlers::pair_x11_surfaces(state);
            render::present(state);
            state.record_window_damage();
            control::publish_events(state);
            handlers::refresh_foreign_toplevels(state);
            if let Err(err) = state.display_handle.flush_clients() {
                tracing::debug!("flushing clients: {err}");
            }
        })
        .context("running the event loop")?;
    Ok(())
}

/// Advertises the backend's outputs and lays them out left to right.
fn add_outputs(state: &mut State, outputs: Vec<Output>) {
    let mut x = 0;
    for output in outputs {
        let Some(mode) = output.current_mode() else {
            continue;
        };
        let scale = output.current_scale().fractional_scale();
        output.change_current_state(None, Some(Transform::Normal), None, Some((x, 0).into()));
        output.create_global::<State>(&state.display_handle);
        state.space.map_output(&output, (x, 0));
        x += (f64::from(mode.size.w) / scale).round() as i32;
    }
}
