//! wlr-foreign-toplevel-management: privileged taskbars and tools (wlrctl)
//! list windows and focus, maximize, minimize, fullscreen or close them.
//! Handles are kept current by comparing window views after every turn of
//! the event loop, like the control socket's event stream.

use digios_ipc::{Window, WindowId};
use smithay::output::Output;
use smithay::reexports::wayland_protocols_wlr::foreign_toplevel::v1::server::{
    zwlr_foreign_toplevel_handle_v1::{self, ZwlrForeignToplevelHandleV1},
    zwlr_foreign_toplevel_manager_v1::{self, ZwlrForeignToplevelManagerV1},
};
use smithay::reexports::wayland_server::backend::GlobalId;
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource,
};

use crate::state::{State, is_privileged};

const VERSION: u32 = 3;

pub struct ForeignToplevelState {
    _global: GlobalId,
    managers: Vec<ZwlrForeignToplevelManagerV1>,
    handles: Vec<HandleRecord>,
}

struct HandleRecord {
    handle: ZwlrForeignToplevelHandleV1,
    manager: ZwlrForeignToplevelManagerV1,
    window: WindowId,
    /// What the client was last told.
    sent: Option<Window>,
}

/// The window a handle stands for.
pub struct HandleData {
    window: WindowId,
}

impl ForeignToplevelState {
    /// Advertises the global to privileged clients only.
    pub fn new(display: &DisplayHandle) -> Self {
        let global = display.create_global::<State, ZwlrForeignToplevelManagerV1, _>(VERSION, ());
        Self {
            _global: global,
            managers: Vec::new(),
            handles: Vec::new(),
        }
    }
}

impl GlobalDispatch<ZwlrForeignToplevelManagerV1, ()> for State {
    fn bind(
        state: &mut State,
        _display: &DisplayHandle,
        _client: &Client,
        resource: New<ZwlrForeignToplevelManagerV1>,
        _global_data: &(),
        data_init: &mut DataInit<'_, State>,
    ) {
        let manager = data_init.init(resource, ());
        state.foreign_toplevel_state.managers.push(manager);
        refresh_foreign_toplevels(state);
    }

    fn can_view(client: Client, _global_data: &()) -> bool {
        is_privileged(&client)
    }
}

impl Dispatch<ZwlrForeignToplevelManagerV1, ()> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        manager: &ZwlrForeignToplevelManagerV1,
        request: zwlr_foreign_toplevel_manager_v1::Request,
        _data: &(),
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
        if let zwlr_foreign_toplevel_manager_v1::Request::Stop = request {
            let toplevels = &mut state.foreign_toplevel_state;
            toplevels.managers.retain(|known| known != manager);
            toplevels
                .handles
                .retain(|record| &record.manager != manager);
            manager.finished();
        }
    }
}

impl Dispatch<ZwlrForeignToplevelHandleV1, HandleData> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        handle: &ZwlrForeignToplevelHandleV1,
        request: zwlr_foreign_toplevel_handle_v1::Request,
        data: &HandleData,
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
        use zwlr_foreign_toplevel_handle_v1::Request;
        let id = data.window;
        // A window that is already gone: the handle's `closed` is on its way.
        let _ = match request {
            Request::SetMaximized => state.set_maximized(id, true),
            Request::UnsetMaximized => state.set_maximized(id, false),
            Request::SetMinimized => state.set_minimized(id, true),
            Request::UnsetMinimized => state.set_minimized(id, false),
            Request::SetFullscreen { .. } => state.set_fullscreen(id, true),
            Request::UnsetFullscreen => state.set_fullscreen(id, false),
            Request::Close => state.close_window(id),
            Request::Activate { .. } => state
                .windows
                .get(id)
                .map(|_| ())
                .map(|()| state.focus_window(Some(id))),
            Request::Destroy => {
                state
                    .foreign_toplevel_state
                    .handles
                    .retain(|record| &record.handle != handle);
                Ok(())
            }
            _ => Ok(()),
        };
    }
}

/// Creates handles for new windows, updates changed ones and closes gone ones.
pub fn refresh_foreign_toplevels(state: &mut State) {
    let toplevels = &mut state.foreign_toplevel_state;
    toplevels.managers.retain(|manager| manager.is_alive());
    toplevels
        .handles
        .retain(|record| record.handle.is_alive() && record.manager.is_alive());
    if toplevels.managers.is_empty() {
        return;
    }
    let views = state.window_views();
    let outputs: Vec<Output> = state.space.outputs().cloned().collect();
    let display = state.display_handle.clone();
    let toplevels = &mut state.foreign_toplevel_state;

    toplevels.handles.retain(|record| {
        let open = views.iter().any(|view| view.id == record.window);
        if !open {
            record.handle.closed();
        }
        open
    });
    for manager in &toplevels.managers {
        let Some(client) = manager.client() else {
            continue;
        };
        for view in &views {
            let known = toplevels
                .handles
                .iter()
                .any(|record| &record.manager == manager && record.window == view.id);
            if known {
                continue;
            }
            let Ok(handle) = client.create_resource::<ZwlrForeignToplevelHandleV1, _, State>(
                &display,
                manager.version(),
                HandleData { window: view.id },
            ) else {
                continue;
            };
            manager.toplevel(&handle);
            toplevels.handles.push(HandleRecord {
                handle,
                manager: manager.clone(),
                window: view.id,
                sent: None,
            });
        }
    }

    for record in &mut toplevels.handles {
        let Some(view) = views.iter().find(|view| view.id == record.window) else {
            continue;
        };
        if record.sent.as_ref() == Some(view) {
            continue;
        }
        let previous = record.sent.take();
        let handle = &record.handle;
        if previous.as_ref().map(|p| &p.title) != Some(&view.title) {
            handle.title(view.title.clone().unwrap_or_default());
        }
        if previous.as_ref().map(|p| &p.app_id) != Some(&view.app_id) {
            handle.app_id(view.app_id.clone().unwrap_or_default());
        }
        if previous.as_ref().map(|p| &p.output) != Some(&view.output) {
            send_outputs(&outputs, previous.as_ref(), view, handle);
        }
        handle.state(state_bytes(view));
        handle.done();
        record.sent = Some(view.clone());
    }
}

fn send_outputs(
    outputs: &[Output],
    previous: Option<&Window>,
    view: &Window,
    handle: &ZwlrForeignToplevelHandleV1,
) {
    let Some(client) = handle.client() else {
        return;
    };
    for output in outputs {
        let name = Some(output.name());
        let was = previous.is_some_and(|p| p.output == name);
        let is = view.output == name;
        for wl_output in output.client_outputs(&client) {
            match (was, is) {
                (false, true) => handle.output_enter(&wl_output),
                (true, false) => handle.output_leave(&wl_output),
                _ => {}
            }
        }
    }
}

/// The protocol's state array: u32 values in native byte order.
fn state_bytes(view: &Window) -> Vec<u8> {
    use zwlr_foreign_toplevel_handle_v1::State as Flag;
    let mut flags = Vec::new();
    if view.maximized {
        flags.push(Flag::Maximized);
    }
    if view.minimized {
        flags.push(Flag::Minimized);
    }
    if view.focused {
        flags.push(Flag::Activated);
    }
    if view.fullscreen {
        flags.push(Flag::Fullscreen);
    }
    flags
        .into_iter()
        .flat_map(|flag| (flag as u32).to_ne_bytes())
        .collect()
}
