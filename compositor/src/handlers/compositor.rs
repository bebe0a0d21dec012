//! wl_compositor: surface commits drive mapping and redraws.

use smithay::backend::renderer::utils::on_commit_buffer_handler;
use smithay::delegate_compositor;
use smithay::desktop::{PopupKind, WindowSurfaceType, layer_map_for_output};
use smithay::reexports::wayland_server::Client;
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::buffer::BufferHandler;
use smithay::wayland::compositor::{
    CompositorClientState, CompositorHandler, CompositorState, get_parent, is_sync_subsurface,
    with_states,
};
use smithay::wayland::shell::wlr_layer::{KeyboardInteractivity, Layer, LayerSurfaceData};

use smithay::xwayland::XWaylandClientData;

use crate::state::{ClientState, State};

impl CompositorHandler for State {
    fn compositor_state(&mut self) -> &mut CompositorState {
        &mut self.compositor_state
    }

    fn client_compositor_state<'a>(&self, client: &'a Client) -> &'a CompositorClientState {
        if let Some(xwayland) = client.get_data::<XWaylandClientData>() {
            return &xwayland.compositor_state;
        }
        &client
            .get_data::<ClientState>()
            .expect("every other client is inserted with ClientState")
            .compositor_state
    }

    fn commit(&mut self, surface: &WlSurface) {
        let before = crate::damage::before_commit(surface);
        on_commit_buffer_handler::<Self>(surface);
        self.frame_pending = true;
        self.last_commit = std::time::Instant::now();
        self.backend.schedule_render();

        if !is_sync_subsurface(surface) {
            let mut root = surface.clone();
            while let Some(parent) = get_parent(&root) {
                root = parent;
            }
            if let Some(managed) = self.windows.by_surface(&root) {
                managed.window.on_commit();
            }
        }

        if let Some(toplevel) = self.windows.by_surface(surface).and_then(|m| m.xdg())
            && !toplevel.is_initial_configure_sent()
        {
            toplevel.send_configure();
        }
        self.map_when_ready(surface);

        self.popups.commit(surface);
        if let Some(PopupKind::Xdg(popup)) = self.popups.find_popup(surface)
            && !popup.is_initial_configure_sent()
        {
            // The initial configure of a popup is always allowed.
            let _ = popup.send_configure();
        }

        self.commit_layer_surface(surface);
        self.record_commit_damage(surface, before);
    }
}

impl State {
    /// Arranges a layer surface's output and answers its first commit.
    fn commit_layer_surface(&mut self, surface: &WlSurface) {
        let Some(output) = self
            .space
            .outputs()
            .find(|output| {
                layer_map_for_output(output)
                    .layer_for_surface(surface, WindowSurfaceType::TOPLEVEL)
                    .is_some()
            })
            .cloned()
        else {
            return;
        };
        let initial_configure_sent = with_states(surface, |states| {
            states
                .data_map
                .get::<LayerSurfaceData>()
                .map(|data| data.lock().unwrap().initial_configure_sent)
                .unwrap_or(true)
        });
        let mut map = layer_map_for_output(&output);
        let zones_changed = map.arrange();
        let Some(layer) = map.layer_for_surface(surface, WindowSurfaceType::TOPLEVEL) else {
            return;
        };
        if !initial_configure_sent {
            layer.layer_surface().send_configure();
        }
        let state = layer.cached_state();
        let takes_keyboard = state.keyboard_interactivity == KeyboardInteractivity::Exclusive
            && matches!(state.layer, Layer::Top | Layer::Overlay);
        let layer_surface = layer.wl_surface().clone();
        drop(map);
        if zones_changed {
            self.refit_maximized(&output);
        }
        if takes_keyboard && initial_configure_sent {
            self.focus_layer(layer_surface);
        }
    }
}

impl BufferHandler for State {
    fn buffer_destroyed(&mut self, _buffer: &WlBuffer) {}
}

delegate_compositor!(State);
