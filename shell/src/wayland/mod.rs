//! The shell on Wayland: layer-shell surfaces (the panel with an exclusive
//! zone, a drawer for the launcher or chat, notifications), each with its
//! own egui context, painted in software into `wl_shm` buffers. A surface
//! is drawn only when its input, the model or the clock changed, or egui
//! asked for another frame.

mod input;

use std::sync::Arc;
use std::time::{Duration, Instant};

use smithay_client_toolkit::compositor::{CompositorHandler, CompositorState, FrameCallbackData};
use smithay_client_toolkit::output::{OutputHandler, OutputState};
use smithay_client_toolkit::reexports::calloop::{self, EventLoop, LoopHandle};
use smithay_client_toolkit::reexports::calloop_wayland_source::WaylandSource;
use smithay_client_toolkit::reexports::client::globals::registry_queue_init;
use smithay_client_toolkit::reexports::client::protocol::{
    wl_keyboard, wl_output, wl_pointer, wl_seat, wl_shm, wl_surface,
};
use smithay_client_toolkit::reexports::client::{Connection, QueueHandle};
use smithay_client_toolkit::registry::{ProvidesRegistryState, RegistryState};
use smithay_client_toolkit::seat::keyboard::{
    KeyEvent, KeyboardHandler, Keysym, Modifiers, RawModifiers,
};
use smithay_client_toolkit::seat::pointer::{PointerEvent, PointerEventKind, PointerHandler};
use smithay_client_toolkit::seat::{Capability, SeatHandler, SeatState};
use smithay_client_toolkit::shell::WaylandSurface;
use smithay_client_toolkit::shell::wlr_layer::{
    Anchor, KeyboardInteractivity, Layer, LayerShell, LayerShellHandler, LayerSurface,
    LayerSurfaceConfigure,
};
use smithay_client_toolkit::shm::slot::SlotPool;
use smithay_client_toolkit::shm::{Shm, ShmHandler};
use smithay_client_toolkit::{delegate_dispatch2, registry_handlers};

use crate::model::{Drawer, Model};
use crate::software::{Canvas, Textures};
use crate::{Shell, api, clock, launcher, views};

/// How long to wait for a frame callback before drawing anyway: a
/// compositor that does not repaint an unchanged output may never send one.
const FRAME_CALLBACK_GRACE: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum WaylandError {
    #[error("cannot connect to the Wayland display: {0}")]
    Connect(String),
    #[error("the compositor lacks {0}")]
    MissingGlobal(&'static str),
    #[error("Wayland: {0}")]
    Protocol(String),
}

/// What the shell needs to start.
pub struct Options {
    pub client: api::Client,
    pub apps: Vec<launcher::AppEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum View {
    Panel,
    Drawer(Drawer),
    Notifications,
}

struct Surface {
    view: View,
    layer: LayerSurface,
    ctx: egui::Context,
    textures: Textures,
    canvas: Canvas,
    /// The pixels last committed, so an unchanged frame is not sent and a
    /// changed one damages only the rows that differ.
    shown: Vec<u32>,
    size: (u32, u32),
    configured: bool,
    events: Vec<egui::Event>,
    /// Something changed: draw at the next chance.
    dirty: bool,
    /// egui asked for a frame at this time (tooltips, text cursor).
    repaint_at: Option<Instant>,
    /// A frame callback is outstanding since then.
    frame_pending: Option<Instant>,
    has_keyboard: bool,
}

impl Surface {
    fn new(view: View, layer: LayerSurface) -> Self {
        let ctx = egui::Context::default();
        views::configure(&ctx);
        Self {
            view,
            layer,
            ctx,
            textures: Textures::default(),
            canvas: Canvas::new(0, 0),
            shown: Vec::new(),
            size: (0, 0),
            configured: false,
            events: Vec::new(),
            dirty: true,
            repaint_at: None,
            frame_pending: None,
            has_keyboard: false,
        }
    }

    fn is(&self, surface: &wl_surface::WlSurface) -> bool {
        self.layer.wl_surface() == surface
    }

    /// When this surface next wants drawing, if at all.
    fn due(&self, now: Instant) -> Option<Instant> {
        if !self.configured {
            return None;
        }
        let wanted = if self.dirty {
            Some(now)
        } else {
            self.repaint_at
        }?;
        Some(match self.frame_pending {
            Some(since) => wanted.max(since + FRAME_CALLBACK_GRACE),
            None => wanted,
        })
    }
}

struct App {
    registry: RegistryState,
    seats: SeatState,
    outputs: OutputState,
    compositor: CompositorState,
    layer_shell: LayerShell,
    shm: Shm,
    pool: SlotPool,
    shell: Shell,
    surfaces: Vec<Surface>,
    keyboard: Option<wl_keyboard::WlKeyboard>,
    pointer: Option<wl_pointer::WlPointer>,
    modifiers: egui::Modifiers,
    started: Instant,
    next_clock: Instant,
    exit: bool,
}

/// Connects to the Wayland display in the environment and runs the shell
/// until the compositor goes away.
pub fn run(options: Options) -> Result<(), WaylandError> {
    let connection =
        Connection::connect_to_env().map_err(|e| WaylandError::Connect(e.to_string()))?;
    let (globals, queue) = registry_queue_init::<App>(&connection)
        .map_err(|e| WaylandError::Protocol(e.to_string()))?;
    let qh = queue.handle();
    let mut event_loop: EventLoop<App> =
        EventLoop::try_new().map_err(|e| WaylandError::Protocol(e.to_string()))?;
    let handle = event_loop.handle();
    WaylandSource::new(connection.clone(), queue)
        .insert(handle.clone())
        .map_err(|e| WaylandError::Protocol(e.to_string()))?;

    let compositor = CompositorState::bind(&globals, &qh)
        .map_err(|_| WaylandError::MissingGlobal("wl_compositor"))?;
    let layer_shell = LayerShell::bind(&globals, &qh)
        .map_err(|_| WaylandError::MissingGlobal("zwlr_layer_shell_v1"))?;
    let shm = Shm::bind(&globals, &qh).map_err(|_| WaylandError::MissingGlobal("wl_shm"))?;
    let pool = SlotPool::new(1 << 20, &shm).map_err(|e| WaylandError::Protocol(e.to_string()))?;

    let (ping, ping_source) =
        calloop::ping::make_ping().map_err(|e| WaylandError::Protocol(e.to_string()))?;
    handle
        .insert_source(ping_source, |_, _, _| {})
        .map_err(|e| WaylandError::Protocol(e.to_string()))?;
    let api_base = options.client.base().to_string();
    let shell = Shell::connect(options.client, options.apps, Arc::new(move || ping.ping()));

    let mut app = App {
        registry: RegistryState::new(&globals),
        seats: SeatState::new(&globals, &qh),
        outputs: OutputState::new(&globals, &qh),
        compositor,
        layer_shell,
        shm,
        pool,
        shell,
        surfaces: Vec::new(),
        keyboard: None,
        pointer: None,
        modifiers: egui::Modifiers::NONE,
        started: Instant::now(),
        next_clock: Instant::now(),
        exit: false,
    };
    app.shell.model.clock = clock::now_text();
    app.next_clock = Instant::now() + clock::until_next_minute();
    app.open(View::Panel, &qh);
    tracing::info!("digios-shell on Wayland, API at {api_base}");

    while !app.exit {
        let timeout = app.timeout();
        event_loop
            .dispatch(timeout, &mut app)
            .map_err(|e| WaylandError::Protocol(e.to_string()))?;
        app.update(&qh, &handle);
    }
    Ok(())
}

impl App {
    /// How long the loop may sleep: until the earliest surface, clock or
    /// notification deadline; forever when nothing is due.
    fn timeout(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut next = Some(self.next_clock);
        let mut consider = |at: Option<Instant>| {
            if let Some(at) = at {
                next = Some(next.map_or(at, |n: Instant| n.min(at)));
            }
        };
        for surface in &self.surfaces {
            consider(surface.due(now));
        }
        consider(self.notification_deadline());
        consider(self.reconnect_tick(now));
        next.map(|at| at.saturating_duration_since(now))
    }

    fn notification_deadline(&self) -> Option<Instant> {
        self.shell
            .model
            .notifications
            .iter()
            .map(|n| n.shown_at + crate::model::NOTIFICATION_TTL)
            .min()
    }

    /// While the agent is down the panel counts down to the next attempt.
    fn reconnect_tick(&self, now: Instant) -> Option<Instant> {
        match &self.shell.model.connection {
            crate::model::Connection::Down { retry_at, .. } if *retry_at > now => {
                Some(now + Duration::from_secs(1).min(*retry_at - now))
            }
            _ => None,
        }
    }

    fn update(&mut self, qh: &QueueHandle<Self>, _handle: &LoopHandle<'static, Self>) {
        let now = Instant::now();
        if self.shell.poll() {
            self.touch_all();
        }
        if now >= self.next_clock {
            self.shell.model.clock = clock::now_text();
            self.next_clock = now + clock::until_next_minute();
            self.touch(View::Panel);
        }
        if self.reconnect_tick(now).is_some()
            || matches!(
                self.shell.model.connection,
                crate::model::Connection::Down { .. }
            )
        {
            self.touch(View::Panel);
        }
        let before = self.shell.model.notifications.len();
        self.shell.model.expire_notifications(now);
        if before != self.shell.model.notifications.len() {
            self.touch(View::Notifications);
        }
        self.sync_surfaces(qh);
        for index in 0..self.surfaces.len() {
            if self.surfaces[index].due(now).is_some_and(|at| at <= now) {
                self.draw(index, qh);
            }
        }
        // A frame may have changed the model (a click queued a command or
        // opened a drawer): bring the other surfaces along.
        if self.shell.flush() {
            self.touch_all();
        }
        self.sync_surfaces(qh);
    }

    fn touch(&mut self, view: View) {
        for surface in &mut self.surfaces {
            if surface.view == view {
                surface.dirty = true;
            }
        }
    }

    fn touch_all(&mut self) {
        for surface in &mut self.surfaces {
            surface.dirty = true;
        }
    }

    /// Opens and closes the drawer and notification surfaces to match the model.
    fn sync_surfaces(&mut self, qh: &QueueHandle<Self>) {
        let model: &Model = &self.shell.model;
        let wanted_drawer = model.drawer.map(View::Drawer);
        let wants_notes = !model.notifications.is_empty();
        let mut closed = false;
        self.surfaces.retain(|s| {
            let keep = match s.view {
                View::Panel => true,
                View::Drawer(_) => Some(s.view) == wanted_drawer,
                View::Notifications => wants_notes,
            };
            closed |= !keep;
            keep
        });
        if let Some(view) = wanted_drawer
            && !self.surfaces.iter().any(|s| s.view == view)
        {
            self.open(view, qh);
        }
        if wants_notes && !self.surfaces.iter().any(|s| s.view == View::Notifications) {
            self.open(View::Notifications, qh);
        }
        if closed {
            self.touch(View::Panel);
        }
    }

    fn open(&mut self, view: View, qh: &QueueHandle<Self>) {
        let wl_surface = self.compositor.create_surface(qh);
        let (layer, namespace) = match view {
            View::Panel => (Layer::Top, "digios-panel"),
            View::Drawer(Drawer::Launcher) => (Layer::Top, "digios-launcher"),
            View::Drawer(Drawer::Chat) => (Layer::Top, "digios-chat"),
            View::Notifications => (Layer::Overlay, "digios-notifications"),
        };
        let surface =
            self.layer_shell
                .create_layer_surface(qh, wl_surface, layer, Some(namespace), None);
        let drawer = views::DRAWER_SIZE;
        match view {
            View::Panel => {
                surface.set_anchor(Anchor::TOP | Anchor::LEFT | Anchor::RIGHT);
                surface.set_size(0, views::PANEL_HEIGHT as u32);
                surface.set_exclusive_zone(views::PANEL_HEIGHT as i32);
                surface.set_keyboard_interactivity(KeyboardInteractivity::None);
            }
            View::Drawer(side) => {
                let edge = if side == Drawer::Launcher {
                    Anchor::LEFT
                } else {
                    Anchor::RIGHT
                };
                surface.set_anchor(Anchor::TOP | edge);
                surface.set_size(drawer.x as u32, drawer.y as u32);
                surface.set_keyboard_interactivity(KeyboardInteractivity::Exclusive);
            }
            View::Notifications => {
                surface.set_anchor(Anchor::BOTTOM | Anchor::RIGHT);
                surface.set_size(views::NOTIFICATION_WIDTH as u32, 260);
                surface.set_margin(0, 8, 8, 0);
                surface.set_keyboard_interactivity(KeyboardInteractivity::None);
            }
        }
        surface.commit();
        self.surfaces.push(Surface::new(view, surface));
    }

    fn draw(&mut self, index: usize, qh: &QueueHandle<Self>) {
        let surface = &mut self.surfaces[index];
        let (width, height) = surface.size;
        if width == 0 || height == 0 {
            return;
        }
        let raw_input = egui::RawInput {
            screen_rect: Some(egui::Rect::from_min_size(
                egui::Pos2::ZERO,
                egui::vec2(width as f32, height as f32),
            )),
            time: Some(self.started.elapsed().as_secs_f64()),
            events: std::mem::take(&mut surface.events),
            focused: surface.has_keyboard,
            ..Default::default()
        };
        let view = surface.view;
        let model = &mut self.shell.model;
        let mut output = surface.ctx.run_ui(raw_input, |ui| match view {
            View::Panel => views::panel(ui, model),
            View::Drawer(drawer) => views::drawer_frame(ui, |ui| match drawer {
                Drawer::Launcher => views::launcher(ui, model),
                Drawer::Chat => views::chat(ui, model),
            }),
            View::Notifications => views::notifications(ui, model),
        });
        surface.textures.set(&mut output.textures_delta);
        let primitives = surface
            .ctx
            .tessellate(output.shapes, output.pixels_per_point);
        if surface.canvas.width != width as usize || surface.canvas.height != height as usize {
            surface.canvas.resize(width as usize, height as usize);
        }
        surface
            .canvas
            .paint(&primitives, &surface.textures, output.pixels_per_point);
        surface.textures.free(&mut output.textures_delta);

        let now = Instant::now();
        surface.dirty = false;
        surface.repaint_at = output
            .viewport_output
            .get(&egui::ViewportId::ROOT)
            .map(|v| v.repaint_delay)
            .filter(|delay| *delay < Duration::from_secs(3600))
            .map(|delay| now + delay);

        let Some(rows) = changed_rows(&surface.shown, &surface.canvas) else {
            return;
        };
        surface.shown.clone_from(&surface.canvas.pixels);

        let stride = width as i32 * 4;
        let Ok((buffer, bytes)) = self.pool.create_buffer(
            width as i32,
            height as i32,
            stride,
            wl_shm::Format::Argb8888,
        ) else {
            tracing::warn!("no shared memory for a {width}x{height} buffer");
            return;
        };
        bytes.copy_from_slice(surface.canvas.bytes());
        let wl_surface = surface.layer.wl_surface();
        wl_surface.damage_buffer(0, rows.start as i32, width as i32, rows.len() as i32);
        wl_surface.frame(qh, FrameCallbackData(wl_surface.clone()));
        if buffer.attach_to(wl_surface).is_err() {
            return;
        }
        surface.layer.commit();
        surface.frame_pending = Some(now);
        tracing::trace!(target: "digios_shell::frame", ?view, width, height, "frame drawn");
    }

    fn surface_mut(&mut self, wl: &wl_surface::WlSurface) -> Option<&mut Surface> {
        self.surfaces.iter_mut().find(|s| s.is(wl))
    }
}

/// The rows of `canvas` that differ from `shown`; all of them after a
/// resize, `None` when nothing changed.
fn changed_rows(shown: &[u32], canvas: &Canvas) -> Option<std::ops::Range<usize>> {
    if shown.len() != canvas.pixels.len() {
        return Some(0..canvas.height);
    }
    let width = canvas.width.max(1);
    let differs =
        |y: &usize| shown[y * width..(y + 1) * width] != canvas.pixels[y * width..(y + 1) * width];
    let first = (0..canvas.height).find(differs)?;
    let last = (first..canvas.height).rev().find(differs)?;
    Some(first..last + 1)
}

impl CompositorHandler for App {
    fn scale_factor_changed(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_surface::WlSurface,
        _: i32,
    ) {
    }
    fn transform_changed(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_surface::WlSurface,
        _: wl_output::Transform,
    ) {
    }
    fn frame(&mut self, _: &Connection, _: &QueueHandle<Self>, wl: &wl_surface::WlSurface, _: u32) {
        if let Some(surface) = self.surface_mut(wl) {
            surface.frame_pending = None;
        }
    }
    fn surface_enter(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_surface::WlSurface,
        _: &wl_output::WlOutput,
    ) {
    }
    fn surface_leave(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_surface::WlSurface,
        _: &wl_output::WlOutput,
    ) {
    }
}

impl OutputHandler for App {
    fn output_state(&mut self) -> &mut OutputState {
        &mut self.outputs
    }
    fn new_output(&mut self, _: &Connection, _: &QueueHandle<Self>, _: wl_output::WlOutput) {}
    fn update_output(&mut self, _: &Connection, _: &QueueHandle<Self>, _: wl_output::WlOutput) {}
    fn output_destroyed(&mut self, _: &Connection, _: &QueueHandle<Self>, _: wl_output::WlOutput) {}
}

impl LayerShellHandler for App {
    fn closed(&mut self, _: &Connection, _: &QueueHandle<Self>, layer: &LayerSurface) {
        let Some(view) = self
            .surfaces
            .iter()
            .find(|s| &s.layer == layer)
            .map(|s| s.view)
        else {
            return;
        };
        match view {
            // The compositor took the panel's output away: nothing left to show on.
            View::Panel => self.exit = true,
            View::Drawer(_) => self.shell.model.drawer = None,
            View::Notifications => self.shell.model.notifications.clear(),
        }
        self.surfaces.retain(|s| &s.layer != layer);
    }

    fn configure(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        layer: &LayerSurface,
        configure: LayerSurfaceConfigure,
        _serial: u32,
    ) {
        let Some(surface) = self.surfaces.iter_mut().find(|s| &s.layer == layer) else {
            return;
        };
        let (w, h) = configure.new_size;
        let fallback = match surface.view {
            View::Panel => (1280, views::PANEL_HEIGHT as u32),
            View::Drawer(_) => (views::DRAWER_SIZE.x as u32, views::DRAWER_SIZE.y as u32),
            View::Notifications => (views::NOTIFICATION_WIDTH as u32, 260),
        };
        surface.size = (
            if w == 0 { fallback.0 } else { w },
            if h == 0 { fallback.1 } else { h },
        );
        surface.configured = true;
        surface.dirty = true;
        // The next frame commits whatever it draws, which acks this configure.
        surface.shown.clear();
    }
}

impl SeatHandler for App {
    fn seat_state(&mut self) -> &mut SeatState {
        &mut self.seats
    }
    fn new_seat(&mut self, _: &Connection, _: &QueueHandle<Self>, _: wl_seat::WlSeat) {}
    fn new_capability(
        &mut self,
        _: &Connection,
        qh: &QueueHandle<Self>,
        seat: wl_seat::WlSeat,
        capability: Capability,
    ) {
        if capability == Capability::Keyboard && self.keyboard.is_none() {
            match self.seats.get_keyboard(qh, &seat, None) {
                Ok(keyboard) => self.keyboard = Some(keyboard),
                Err(err) => tracing::warn!("no keyboard: {err}"),
            }
        }
        if capability == Capability::Pointer && self.pointer.is_none() {
            match self.seats.get_pointer(qh, &seat) {
                Ok(pointer) => self.pointer = Some(pointer),
                Err(err) => tracing::warn!("no pointer: {err}"),
            }
        }
    }
    fn remove_capability(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: wl_seat::WlSeat,
        capability: Capability,
    ) {
        if capability == Capability::Keyboard
            && let Some(keyboard) = self.keyboard.take()
        {
            keyboard.release();
        }
        if capability == Capability::Pointer
            && let Some(pointer) = self.pointer.take()
        {
            pointer.release();
        }
    }
    fn remove_seat(&mut self, _: &Connection, _: &QueueHandle<Self>, _: wl_seat::WlSeat) {}
}

impl KeyboardHandler for App {
    fn enter(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        wl: &wl_surface::WlSurface,
        _: u32,
        _: &[u32],
        _: &[Keysym],
    ) {
        for surface in &mut self.surfaces {
            surface.has_keyboard = surface.is(wl);
        }
        if let Some(surface) = self.surface_mut(wl) {
            surface.dirty = true;
        }
    }

    fn leave(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        wl: &wl_surface::WlSurface,
        _: u32,
    ) {
        if let Some(surface) = self.surface_mut(wl) {
            surface.has_keyboard = false;
            surface.dirty = true;
        }
    }

    fn press_key(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: u32,
        event: KeyEvent,
    ) {
        self.key(event, true, false);
    }

    fn repeat_key(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: u32,
        event: KeyEvent,
    ) {
        self.key(event, true, true);
    }

    fn release_key(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: u32,
        event: KeyEvent,
    ) {
        self.key(event, false, false);
    }

    fn update_modifiers(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_keyboard::WlKeyboard,
        _: u32,
        modifiers: Modifiers,
        _: RawModifiers,
        _: u32,
    ) {
        self.modifiers = input::modifiers(&modifiers);
        let changed = egui::Event::ModifiersChanged(self.modifiers);
        if let Some(surface) = self.surfaces.iter_mut().find(|s| s.has_keyboard) {
            surface.events.push(changed);
        }
    }
}

impl App {
    fn key(&mut self, event: KeyEvent, pressed: bool, repeat: bool) {
        let modifiers = self.modifiers;
        let Some(surface) = self.surfaces.iter_mut().find(|s| s.has_keyboard) else {
            return;
        };
        if let Some(key) = input::key(event.keysym) {
            surface.events.push(egui::Event::Key {
                key,
                physical_key: None,
                pressed,
                repeat,
                modifiers,
            });
        }
        if pressed
            && !modifiers.ctrl
            && !modifiers.alt
            && let Some(text) = event.utf8.filter(|t| t.chars().all(|c| !c.is_control()))
        {
            surface.events.push(egui::Event::Text(text));
        }
        surface.dirty = true;
    }
}

impl PointerHandler for App {
    fn pointer_frame(
        &mut self,
        _: &Connection,
        _: &QueueHandle<Self>,
        _: &wl_pointer::WlPointer,
        events: &[PointerEvent],
    ) {
        let modifiers = self.modifiers;
        let mut clicked = false;
        for event in events {
            let Some(surface) = self.surface_mut(&event.surface) else {
                continue;
            };
            let pos = egui::pos2(event.position.0 as f32, event.position.1 as f32);
            let egui_event = match event.kind {
                PointerEventKind::Enter { .. } | PointerEventKind::Motion { .. } => {
                    egui::Event::PointerMoved(pos)
                }
                PointerEventKind::Leave { .. } => egui::Event::PointerGone,
                PointerEventKind::Press { button, .. }
                | PointerEventKind::Release { button, .. } => {
                    let Some(button) = input::pointer_button(button) else {
                        continue;
                    };
                    let pressed = matches!(event.kind, PointerEventKind::Press { .. });
                    clicked |= !pressed;
                    egui::Event::PointerButton {
                        pos,
                        button,
                        pressed,
                        modifiers,
                    }
                }
                PointerEventKind::Axis {
                    horizontal,
                    vertical,
                    ..
                } => egui::Event::MouseWheel {
                    unit: egui::MouseWheelUnit::Point,
                    delta: egui::vec2(-horizontal.absolute as f32, -vertical.absolute as f32),
                    phase: egui::TouchPhase::Move,
                    source: egui::MouseWheelSource::Unknown,
                    modifiers,
                },
            };
            surface.events.push(egui_event);
            surface.dirty = true;
        }
        let _ = clicked;
    }
}

impl ShmHandler for App {
    fn shm_state(&mut self) -> &mut Shm {
        &mut self.shm
    }
}

impl ProvidesRegistryState for App {
    fn registry(&mut self) -> &mut RegistryState {
        &mut self.registry
    }
    registry_handlers![OutputState, SeatState];
}

smithay_client_toolkit::delegate_registry!(App);
delegate_dispatch2!(App);
