//! Floating window management: ids, placement, focus, stacking, move,
//! resize, maximize, minimize, fullscreen, close, and the title bars.

use digios_ipc::{Error, ErrorCode, WindowId};
use smithay::desktop::{Window, WindowSurfaceType, layer_map_for_output};
use smithay::output::Output;
use smithay::reexports::wayland_protocols::xdg::decoration::zv1::server::zxdg_toplevel_decoration_v1::Mode as DecorationMode;
use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{DisplayHandle, Resource};
use smithay::utils::{Logical, Point, Rectangle, SERIAL_COUNTER, Size};
use smithay::wayland::compositor::with_states;
use smithay::wayland::shell::wlr_layer::Layer;
use smithay::wayland::shell::xdg::{ToplevelSurface, XdgToplevelSurfaceData};
use smithay::wayland::seat::WaylandFocus;
use smithay::xwayland::X11Surface;

use crate::drag::Edges;
use crate::state::State;
use crate::title_bar::TitleBar;

/// Height of the server-side title bar, logical pixels.
pub const TITLE_BAR_HEIGHT: i32 = 24;
/// Width of the close box at the right end of the title bar.
pub const CLOSE_BOX_WIDTH: i32 = digios_ipc::TITLE_BUTTON_WIDTH;
/// Width of the invisible resize border around a window's frame.
pub const RESIZE_BORDER: i32 = 6;
/// Offset between windows that would otherwise open on top of each other.
const CASCADE_STEP: i32 = 32;
/// Largest size a window may be asked to take.
pub const MAX_WINDOW_SIZE: i32 = 16384;

/// One toplevel the compositor manages.
pub struct ManagedWindow {
    pub id: WindowId,
    pub window: Window,
    /// Placed in the space at least once (it had a buffer).
    pub mapped: bool,
    pub minimized: bool,
    pub maximized: bool,
    pub fullscreen: bool,
    /// Content location; kept while minimized.
    pub location: Point<i32, Logical>,
    /// Content rectangle before maximize or fullscreen.
    pub restore: Option<Rectangle<i32, Logical>>,
    pub title_bar: Option<TitleBar>,
    /// An X11 override-redirect window (menu, tooltip): placed where X11
    /// puts it, never decorated, focused or listed.
    pub override_redirect: bool,
    /// An X11 window's surface, paired by the compositor from the
    /// `WL_SURFACE_ID` Xwayland < 23.1 sends (newer ones pair through
    /// xwayland-shell, which `X11Surface::wl_surface` reports).
    pub x11_surface: Option<WlSurface>,
}

impl ManagedWindow {
    /// The xdg toplevel, for Wayland windows.
    pub fn xdg(&self) -> Option<&ToplevelSurface> {
        self.window.toplevel()
    }

    /// The X11 window, for windows of X11 apps (through XWayland).
    pub fn x11(&self) -> Option<&X11Surface> {
        self.window.x11_surface()
    }

    /// The window's surface; an X11 window has none until it is paired.
    pub fn wl_surface(&self) -> Option<WlSurface> {
        if self.x11_surface.is_some() {
            return self.x11_surface.clone();
        }
        self.window.wl_surface().map(|surface| surface.into_owned())
    }

    /// The surface under `point` (relative to the window's render origin)
    /// and its offset.
    pub fn surface_under(
        &self,
        point: Point<f64, Logical>,
    ) -> Option<(WlSurface, Point<i32, Logical>)> {
        match &self.x11_surface {
            Some(surface) => smithay::desktop::utils::under_from_surface_tree(
                surface,
                point,
                (0, 0),
                WindowSurfaceType::ALL,
            ),
            None => self.window.surface_under(point, WindowSurfaceType::ALL),
        }
    }

    /// Asks the client to take `size` (content, logical pixels).
    pub fn request_size(&self, size: Size<i32, Logical>) {
        if let Some(toplevel) = self.xdg() {
            toplevel.with_pending_state(|state| state.size = Some(size));
            send_configure_if_ready(toplevel);
        } else if let Some(x11) = self.x11() {
            let _ = x11.configure(Rectangle::new(self.location, size));
        }
    }

    /// Tells the client it is (un)maximized or fullscreen, with its new size
    /// (`None`: the client chooses).
    pub fn request_states(
        &self,
        maximized: bool,
        fullscreen: bool,
        size: Option<Size<i32, Logical>>,
    ) {
        if let Some(toplevel) = self.xdg() {
            toplevel.with_pending_state(|state| {
                state.states.unset(xdg_toplevel::State::Maximized);
                state.states.unset(xdg_toplevel::State::Fullscreen);
                if maximized {
                    state.states.set(xdg_toplevel::State::Maximized);
                }
                if fullscreen {
                    state.states.set(xdg_toplevel::State::Fullscreen);
                }
                state.size = size;
            });
            send_configure_if_ready(toplevel);
        } else if let Some(x11) = self.x11() {
            let _ = x11.set_maximized(maximized);
            let _ = x11.set_fullscreen(fullscreen);
            let size = size.unwrap_or_else(|| x11.geometry().size);
            let _ = x11.configure(Rectangle::new(self.location, size));
        }
    }

    /// Tells an X11 client where its window is (X11 apps place their menus
    /// from it); Wayland clients never know their position.
    pub fn sync_position(&self) {
        if let Some(x11) = self.x11() {
            let _ = x11.configure(Rectangle::new(self.location, x11.geometry().size));
        }
    }

    pub fn send_close(&self) {
        if let Some(toplevel) = self.xdg() {
            toplevel.send_close();
        } else if let Some(x11) = self.x11() {
            let _ = x11.close();
        }
    }

    /// Process id of the client that owns the window.
    pub fn pid(&self, display_handle: &DisplayHandle) -> Option<i32> {
        if let Some(x11) = self.x11() {
            return x11.pid().map(|pid| pid as i32);
        }
        let surface = self.wl_surface()?;
        let client = display_handle.get_client(surface.id()).ok()?;
        Some(client.get_credentials(display_handle).ok()?.pid)
    }

    /// Content rectangle in global coordinates.
    pub fn geometry(&self) -> Rectangle<i32, Logical> {
        Rectangle::new(self.location, self.window.geometry().size)
    }

    pub fn has_title_bar(&self) -> bool {
        !self.fullscreen && !self.override_redirect
    }

    pub fn title_bar_rect(&self) -> Option<Rectangle<i32, Logical>> {
        self.has_title_bar().then(|| {
            let geometry = self.geometry();
            Rectangle::new(
                (geometry.loc.x, geometry.loc.y - TITLE_BAR_HEIGHT).into(),
                (geometry.size.w.max(CLOSE_BOX_WIDTH * 2), TITLE_BAR_HEIGHT).into(),
            )
        })
    }

    /// Content plus title bar.
    pub fn frame(&self) -> Rectangle<i32, Logical> {
        match self.title_bar_rect() {
            Some(bar) => bar.merge(self.geometry()),
            None => self.geometry(),
        }
    }

    /// The edges a press at `point` would resize: the point lies in the
    /// border just outside the frame. None for maximized and fullscreen windows.
    pub fn resize_edges_at(&self, point: Point<f64, Logical>) -> Option<Edges> {
        if self.maximized || self.fullscreen {
            return None;
        }
        let frame = self.frame().to_f64();
        let border = f64::from(RESIZE_BORDER);
        let outer = Rectangle::<f64, Logical>::new(
            (frame.loc.x - border, frame.loc.y - border).into(),
            (frame.size.w + 2.0 * border, frame.size.h + 2.0 * border).into(),
        );
        if !outer.contains(point) || frame.contains(point) {
            return None;
        }
        Some(Edges {
            left: point.x < frame.loc.x,
            right: point.x >= frame.loc.x + frame.size.w,
            top: point.y < frame.loc.y,
            bottom: point.y >= frame.loc.y + frame.size.h,
        })
    }

    pub fn visible(&self) -> bool {
        self.mapped && !self.minimized
    }

    pub fn title_and_app_id(&self) -> (Option<String>, Option<String>) {
        if let Some(x11) = self.x11() {
            let non_empty = |text: String| (!text.is_empty()).then_some(text);
            return (non_empty(x11.title()), non_empty(x11.class()));
        }
        let Some(surface) = self.wl_surface() else {
            return (None, None);
        };
        with_states(&surface, |states| {
            states
                .data_map
                .get::<XdgToplevelSurfaceData>()
                .map(|data| {
                    let data = data.lock().unwrap();
                    (data.title.clone(), data.app_id.clone())
                })
                .unwrap_or_default()
        })
    }
}

/// Every managed toplevel, in creation order, plus focus.
#[derive(Default)]
pub struct WindowList {
    pub windows: Vec<ManagedWindow>,
    next_id: WindowId,
    pub focused: Option<WindowId>,
}

impl WindowList {
    pub fn get(&self, id: WindowId) -> Result<&ManagedWindow, Error> {
        self.windows
            .iter()
            .find(|managed| managed.id == id)
            .ok_or_else(|| Error::unknown_window(id))
    }

    pub fn get_mut(&mut self, id: WindowId) -> Result<&mut ManagedWindow, Error> {
        self.windows
            .iter_mut()
            .find(|managed| managed.id == id)
            .ok_or_else(|| Error::unknown_window(id))
    }

    pub fn by_surface(&self, surface: &WlSurface) -> Option<&ManagedWindow> {
        self.windows
            .iter()
            .find(|managed| managed.wl_surface().as_ref() == Some(surface))
    }
}

/// What lies under a point, top of the stack first.
#[derive(Debug, Clone)]
pub enum Hit {
    TitleBar {
        id: WindowId,
        close_box: bool,
        maximize_box: bool,
    },
    /// The resize border just outside a window's frame.
    Edge { id: WindowId, edges: Edges },
    /// A client surface and its origin in global coordinates.
    Surface {
        surface: WlSurface,
        origin: Point<f64, Logical>,
        window: Option<WindowId>,
        /// The layer surface to focus on click, if this is one that takes keyboard input.
        focusable_layer: Option<WlSurface>,
    },
}

impl State {
    pub fn add_toplevel(&mut self, toplevel: ToplevelSurface) {
        self.windows.next_id += 1;
        let id = self.windows.next_id;
        // digiOS draws every title bar itself, whether or not the client asks.
        toplevel
            .with_pending_state(|state| state.decoration_mode = Some(DecorationMode::ServerSide));
        self.windows.windows.push(ManagedWindow {
            id,
            window: Window::new_wayland_window(toplevel),
            mapped: false,
            minimized: false,
            maximized: false,
            fullscreen: false,
            location: (0, 0).into(),
            restore: None,
            title_bar: None,
            override_redirect: false,
            x11_surface: None,
        });
    }

    /// Manages an X11 window XWayland maps; it is placed once its surface
    /// has a buffer, like a Wayland toplevel.
    pub fn add_x11_window(&mut self, surface: X11Surface) {
        if self
            .windows
            .windows
            .iter()
            .any(|m| m.x11() == Some(&surface))
        {
            return;
        }
        self.windows.next_id += 1;
        let override_redirect = surface.is_override_redirect();
        let location = surface.geometry().loc;
        self.windows.windows.push(ManagedWindow {
            id: self.windows.next_id,
            window: Window::new_x11_window(surface),
            mapped: false,
            minimized: false,
            maximized: false,
            fullscreen: false,
            location,
            restore: None,
            title_bar: None,
            override_redirect,
            x11_surface: None,
        });
    }

    /// Forgets an X11 window that was unmapped or destroyed.
    pub fn remove_x11_window(&mut self, surface: &X11Surface) {
        let Some(index) = self
            .windows
            .windows
            .iter()
            .position(|managed| managed.x11() == Some(surface))
        else {
            return;
        };
        self.forget_window(index);
    }

    /// Follows an override-redirect window X11 moved or resized.
    pub fn x11_configured(&mut self, surface: &X11Surface, geometry: Rectangle<i32, Logical>) {
        let Some(managed) = self
            .windows
            .windows
            .iter_mut()
            .find(|managed| managed.x11() == Some(surface))
        else {
            return;
        };
        if !managed.override_redirect {
            return;
        }
        managed.location = geometry.loc;
        if managed.mapped {
            let window = managed.window.clone();
            self.space.map_element(window, geometry.loc, false);
        }
    }

    /// Places a toplevel when it first commits a buffer, and takes it off
    /// the screen when it commits none (it unmapped itself).
    pub fn map_when_ready(&mut self, surface: &WlSurface) {
        let Some(managed) = self.windows.by_surface(surface) else {
            return;
        };
        let has_buffer =
            smithay::backend::renderer::utils::with_renderer_surface_state(surface, |state| {
                state.buffer().is_some()
            })
            .unwrap_or(false);
        if managed.mapped {
            if !has_buffer {
                let (id, window) = (managed.id, managed.window.clone());
                self.space.unmap_elem(&window);
                if let Ok(managed) = self.windows.get_mut(id) {
                    managed.mapped = false;
                    managed.minimized = false;
                }
                if self.windows.focused == Some(id) {
                    self.focus_topmost();
                }
            }
            return;
        }
        if !has_buffer {
            return;
        }
        let id = managed.id;
        if managed.override_redirect {
            let (window, location) = (managed.window.clone(), managed.location);
            self.windows.get_mut(id).expect("window just found").mapped = true;
            self.space.map_element(window, location, true);
            return;
        }
        let size = managed.window.geometry().size;
        let location = self.place_new_window(size);
        let managed = self.windows.get_mut(id).expect("window just found");
        managed.mapped = true;
        managed.location = location;
        managed.sync_position();
        let window = managed.window.clone();
        self.space.map_element(window, location, false);
        self.focus_window(Some(id));
    }

    pub fn remove_toplevel(&mut self, surface: &WlSurface) {
        let Some(index) = self
            .windows
            .windows
            .iter()
            .position(|managed| managed.wl_surface().as_ref() == Some(surface))
        else {
            return;
        };
        self.forget_window(index);
    }

    fn forget_window(&mut self, index: usize) {
        let managed = self.windows.windows.remove(index);
        self.space.unmap_elem(&managed.window);
        if self
            .pointer_drag
            .is_some_and(|drag| drag.window() == managed.id)
        {
            self.pointer_drag = None;
        }
        if self.windows.focused == Some(managed.id) {
            self.focus_topmost();
        }
    }

    /// Focuses the topmost visible window, or nothing.
    pub fn focus_topmost(&mut self) {
        let top = self
            .space
            .elements()
            .rev()
            .filter_map(|window| self.windows.windows.iter().find(|m| &m.window == window))
            .find(|managed| !managed.override_redirect)
            .map(|managed| managed.id);
        self.focus_window(top);
    }

    /// Gives keyboard focus to a window (raising and restoring it) or to nothing.
    pub fn focus_window(&mut self, id: Option<WindowId>) {
        let serial = SERIAL_COUNTER.next_serial();
        let mut surface = None;
        if let Some(id) = id {
            let Ok(managed) = self.windows.get_mut(id) else {
                return;
            };
            if managed.override_redirect {
                return;
            }
            if managed.minimized {
                managed.minimized = false;
                let (window, location) = (managed.window.clone(), managed.location);
                self.space.map_element(window, location, false);
            }
            let managed = self.windows.get(id).expect("window exists");
            self.space.raise_element(&managed.window, false);
            if let (Some(x11), Some(wm)) = (managed.x11(), self.xwayland.wm.as_mut()) {
                let _ = wm.raise_window(x11);
            }
            surface = managed.wl_surface();
        }
        self.windows.focused = id;
        for managed in &self.windows.windows {
            let active = Some(managed.id) == id;
            if managed.window.set_activated(active)
                && let Some(toplevel) = managed.xdg()
            {
                send_configure_if_ready(toplevel);
            }
        }
        if let Some(keyboard) = self.seat.get_keyboard() {
            keyboard.set_focus(self, surface, serial);
        }
    }

    /// Gives keyboard focus to a layer surface (a launcher or the shell's
    /// panel); windows lose focus meanwhile.
    pub fn focus_layer(&mut self, surface: WlSurface) {
        let keyboard_surface = self.seat.get_keyboard().and_then(|k| k.current_focus());
        if keyboard_surface.as_ref() == Some(&surface) {
            return;
        }
        self.focus_window(None);
        if let Some(keyboard) = self.seat.get_keyboard() {
            keyboard.set_focus(self, Some(surface), SERIAL_COUNTER.next_serial());
        }
    }

    /// The output a window is mostly on, or the first output.
    pub fn output_for_rect(&self, rect: Rectangle<i32, Logical>) -> Option<Output> {
        let (cx, cy) = (rect.loc.x + rect.size.w / 2, rect.loc.y + rect.size.h / 2);
        self.space
            .output_under(Point::<f64, Logical>::from((f64::from(cx), f64::from(cy))))
            .next()
            .or_else(|| self.space.outputs().next())
            .cloned()
    }

    /// The output under the pointer, or the first output.
    pub fn active_output(&self) -> Option<Output> {
        let pointer = self.pointer_location();
        self.space
            .output_under(pointer)
            .next()
            .or_else(|| self.space.outputs().next())
            .cloned()
    }

    /// An output's area minus the exclusive zones of panels, global coordinates.
    pub fn usable_area(&self, output: &Output) -> Rectangle<i32, Logical> {
        let output_geometry = self.space.output_geometry(output).unwrap_or_default();
        let mut zone = layer_map_for_output(output).non_exclusive_zone();
        zone.loc += output_geometry.loc;
        zone
    }

    fn place_new_window(&self, size: Size<i32, Logical>) -> Point<i32, Logical> {
        let Some(output) = self.active_output() else {
            return (0, TITLE_BAR_HEIGHT).into();
        };
        let area = self.usable_area(&output);
        let top = area.loc.y + TITLE_BAR_HEIGHT;
        let mut x = area.loc.x + (area.size.w - size.w).max(0) / 2;
        let mut y = top + (area.size.h - TITLE_BAR_HEIGHT - size.h).max(0) / 2;
        for _ in 0..16 {
            let taken = self
                .windows
                .windows
                .iter()
                .any(|managed| managed.visible() && managed.location == (x, y).into());
            if !taken {
                break;
            }
            x += CASCADE_STEP;
            y += CASCADE_STEP;
            if x + size.w > area.loc.x + area.size.w || y + size.h > area.loc.y + area.size.h {
                x = area.loc.x;
                y = top;
            }
        }
        (x, y).into()
    }

    /// Whether a point lies on some output.
    pub fn on_some_output(&self, x: f64, y: f64) -> bool {
        self.space.output_under((x, y)).next().is_some()
    }

    pub fn move_window(&mut self, id: WindowId, x: i32, y: i32) -> Result<(), Error> {
        if !self.on_some_output(f64::from(x), f64::from(y)) {
            return Err(Error::new(
                ErrorCode::OutOfBounds,
                format!("({x}, {y}) is on no output"),
            ));
        }
        let managed = self.windows.get_mut(id)?;
        managed.location = (x, y).into();
        if managed.maximized || managed.fullscreen {
            managed.maximized = false;
            managed.fullscreen = false;
            managed.restore = None;
            managed.request_states(false, false, None);
        }
        managed.sync_position();
        if managed.visible() {
            let window = managed.window.clone();
            self.space.map_element(window, (x, y), false);
        }
        Ok(())
    }

    pub fn resize_window(&mut self, id: WindowId, width: i32, height: i32) -> Result<(), Error> {
        if !(1..=MAX_WINDOW_SIZE).contains(&width) || !(1..=MAX_WINDOW_SIZE).contains(&height) {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                format!("size {width}x{height} is not within 1..={MAX_WINDOW_SIZE}"),
            ));
        }
        let managed = self.windows.get_mut(id)?;
        managed.maximized = false;
        managed.fullscreen = false;
        managed.restore = None;
        managed.request_states(false, false, Some((width, height).into()));
        Ok(())
    }

    pub fn set_maximized(&mut self, id: WindowId, on: bool) -> Result<(), Error> {
        let managed = self.windows.get(id)?;
        if managed.maximized == on {
            return Ok(());
        }
        let target = if on {
            let output = self
                .output_for_rect(managed.geometry())
                .ok_or_else(|| Error::new(ErrorCode::Internal, "no output"))?;
            Some(self.maximized_rect(&output))
        } else {
            None
        };
        let managed = self.windows.get_mut(id)?;
        managed.fullscreen = false;
        managed.maximized = on;
        self.apply_state_change(id, target, xdg_toplevel::State::Maximized, on)
    }

    /// Content rectangle of a window maximized on `output`: the usable area
    /// below its title bar.
    fn maximized_rect(&self, output: &Output) -> Rectangle<i32, Logical> {
        let area = self.usable_area(output);
        Rectangle::new(
            (area.loc.x, area.loc.y + TITLE_BAR_HEIGHT).into(),
            (area.size.w, (area.size.h - TITLE_BAR_HEIGHT).max(1)).into(),
        )
    }

    /// Fits maximized windows on `output` to its usable area again (a panel
    /// appeared or went away).
    pub fn refit_maximized(&mut self, output: &Output) {
        let target = self.maximized_rect(output);
        let ids: Vec<WindowId> = self
            .windows
            .windows
            .iter()
            .filter(|managed| managed.maximized)
            .filter(|managed| self.output_for_rect(managed.geometry()).as_ref() == Some(output))
            .map(|managed| managed.id)
            .collect();
        for id in ids {
            let Ok(managed) = self.windows.get_mut(id) else {
                continue;
            };
            if managed.geometry() == target {
                continue;
            }
            managed.location = target.loc;
            managed.request_size(target.size);
            if managed.visible() {
                let window = managed.window.clone();
                self.space.map_element(window, target.loc, false);
            }
        }
    }

    pub fn set_fullscreen(&mut self, id: WindowId, on: bool) -> Result<(), Error> {
        let managed = self.windows.get(id)?;
        if managed.fullscreen == on {
            return Ok(());
        }
        let target = if on {
            let output = self
                .output_for_rect(managed.geometry())
                .ok_or_else(|| Error::new(ErrorCode::Internal, "no output"))?;
            self.space.output_geometry(&output)
        } else {
            None
        };
        let managed = self.windows.get_mut(id)?;
        managed.maximized = false;
        managed.fullscreen = on;
        self.apply_state_change(id, target, xdg_toplevel::State::Fullscreen, on)
    }

    /// Moves and configures a window into (`target`) or out of a maximized or
    /// fullscreen state, remembering the rectangle to restore.
    fn apply_state_change(
        &mut self,
        id: WindowId,
        target: Option<Rectangle<i32, Logical>>,
        flag: xdg_toplevel::State,
        on: bool,
    ) -> Result<(), Error> {
        let managed = self.windows.get_mut(id)?;
        let (rect, size) = match target {
            Some(rect) => {
                if managed.restore.is_none() {
                    managed.restore = Some(managed.geometry());
                }
                (rect, Some(rect.size))
            }
            None => match managed.restore.take() {
                Some(rect) => (rect, Some(rect.size)),
                None => (managed.geometry(), None),
            },
        };
        managed.location = rect.loc;
        let maximized = on && flag == xdg_toplevel::State::Maximized;
        let fullscreen = on && flag == xdg_toplevel::State::Fullscreen;
        managed.request_states(maximized, fullscreen, size);
        if managed.visible() {
            let window = managed.window.clone();
            self.space.map_element(window, rect.loc, false);
        }
        Ok(())
    }

    pub fn set_minimized(&mut self, id: WindowId, on: bool) -> Result<(), Error> {
        let managed = self.windows.get_mut(id)?;
        if !on {
            if managed.minimized {
                self.focus_window(Some(id));
            }
            return Ok(());
        }
        if managed.minimized {
            return Ok(());
        }
        managed.minimized = true;
        let window = managed.window.clone();
        self.space.unmap_elem(&window);
        if self.windows.focused == Some(id) {
            self.focus_topmost();
        }
        Ok(())
    }

    pub fn close_window(&mut self, id: WindowId) -> Result<(), Error> {
        self.windows.get(id)?.send_close();
        Ok(())
    }

    /// What is under a global point: layers, title bars and windows in stacking order.
    pub fn hit_test(&self, point: Point<f64, Logical>) -> Option<Hit> {
        let output = self.space.output_under(point).next().cloned();
        let layer_hit = |layers: &[Layer]| -> Option<Hit> {
            let output = output.as_ref()?;
            let output_origin = self.space.output_geometry(output)?.loc;
            let map = layer_map_for_output(output);
            for layer in layers {
                for surface in map.layers_on(*layer).rev() {
                    let Some(geometry) = map.layer_geometry(surface) else {
                        continue;
                    };
                    let origin = geometry.loc + output_origin;
                    if let Some((hit, offset)) =
                        surface.surface_under(point - origin.to_f64(), WindowSurfaceType::ALL)
                    {
                        return Some(Hit::Surface {
                            surface: hit,
                            origin: (origin + offset).to_f64(),
                            window: None,
                            focusable_layer: surface
                                .can_receive_keyboard_focus()
                                .then(|| surface.wl_surface().clone()),
                        });
                    }
                }
            }
            None
        };
        if let Some(hit) = layer_hit(&[Layer::Overlay, Layer::Top]) {
            return Some(hit);
        }
        for window in self.space.elements().rev() {
            let Some(managed) = self.windows.windows.iter().find(|m| &m.window == window) else {
                continue;
            };
            if let Some(edges) = managed.resize_edges_at(point) {
                return Some(Hit::Edge {
                    id: managed.id,
                    edges,
                });
            }
            if let Some(bar) = managed.title_bar_rect()
                && bar.to_f64().contains(point)
            {
                let (close, maximize) = digios_ipc::title_buttons(digios_ipc::Rect::new(
                    bar.loc.x, bar.loc.y, bar.size.w, bar.size.h,
                ));
                return Some(Hit::TitleBar {
                    id: managed.id,
                    close_box: close.contains(point.x, point.y),
                    maximize_box: maximize.is_some_and(|m| m.contains(point.x, point.y)),
                });
            }
            let render_origin = managed.location - window.geometry().loc;
            if let Some((surface, offset)) = managed.surface_under(point - render_origin.to_f64()) {
                return Some(Hit::Surface {
                    surface,
                    origin: (render_origin + offset).to_f64(),
                    window: Some(managed.id),
                    focusable_layer: None,
                });
            }
        }
        layer_hit(&[Layer::Bottom, Layer::Background])
    }
}

/// Sends pending toplevel state, unless the initial configure is still to come
/// (it will carry the state).
pub fn send_configure_if_ready(toplevel: &ToplevelSurface) {
    if toplevel.is_initial_configure_sent() {
        toplevel.send_pending_configure();
    }
}
