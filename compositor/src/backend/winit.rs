//! Nested backend: each output is a window on another Wayland or X11
//! session (winit), drawn with pixman into a softbuffer surface — shared
//! memory on both, so it needs no GPU. The host's pointer and keyboard
//! events on a window become input on that output; closing the last window
//! stops the compositor.

use std::num::NonZeroU32;
use std::os::fd::AsFd;
use std::rc::Rc;
use std::time::Duration;

use anyhow::Context;
use smithay::backend::renderer::Bind;
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::pixman::PixmanRenderer;
use smithay::desktop::layer_map_for_output;
use smithay::output::{Mode, Output, PhysicalProperties, Subpixel};
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay::reexports::calloop::{Interest, LoopHandle, Mode as TriggerMode, PostAction};
use smithay::reexports::pixman;
use smithay::utils::{Logical, Point, Transform};
use winit::application::ApplicationHandler;
use winit::dpi::PhysicalSize;
use winit::event::{ElementState, MouseButton, MouseScrollDelta, WindowEvent};
use winit::event_loop::{ActiveEventLoop, EventLoop};
use winit::keyboard::PhysicalKey;
use winit::platform::pump_events::EventLoopExtPumpEvents;
use winit::platform::scancode::PhysicalKeyExtScancode;
use winit::window::{Window, WindowId};

use super::{Backend, Scene, Started, output_from_spec};
use crate::config::CompositorConfig;
use crate::input::SCROLL_NOTCH;
use crate::render::{draw_frame, scene_elements};
use crate::state::State;

/// Host events are also polled this often, in case the loop's descriptor
/// stayed quiet because another reader drained the connection.
const POLL: Duration = Duration::from_millis(8);
/// Evdev key codes are X keycodes minus this.
const XKB_OFFSET: u32 = 8;

type SoftSurface = softbuffer::Surface<Rc<Window>, Rc<Window>>;

pub struct WinitBackend {
    renderer: PixmanRenderer,
    event_loop: EventLoop<()>,
    host: Host,
}

/// The host side: windows and the events they produced since the last turn.
struct Host {
    windows: Vec<NestedWindow>,
    /// Output sizes still to open windows for (opened on the first pump).
    to_open: Vec<(String, i32, i32)>,
    events: Vec<HostEvent>,
    error: Option<anyhow::Error>,
}

struct NestedWindow {
    window: Rc<Window>,
    surface: SoftSurface,
    output: Output,
    size: (i32, i32),
    damage: OutputDamageTracker,
    needs_frame: bool,
}

enum HostEvent {
    Motion(Output, Point<f64, Logical>),
    Button(u32, bool),
    Scroll(f64, f64),
    Key(u32, bool),
    Resized(Output),
    Closed,
}

pub fn start(
    config: &CompositorConfig,
    event_loop: &LoopHandle<'static, State>,
) -> anyhow::Result<Started> {
    let host_loop = EventLoop::new().context(
        "connecting to the host session (WAYLAND_DISPLAY or DISPLAY); use --backend headless \
         to run without one",
    )?;
    let mut outputs = Vec::new();
    let mut to_open = Vec::new();
    for (index, spec) in config.outputs.iter().enumerate() {
        let output = output_from_spec("WINIT", index, spec);
        let name = output.name();
        outputs.push(output);
        to_open.push((name, spec.width, spec.height));
    }
    let mut backend = WinitBackend {
        renderer: PixmanRenderer::new().context("creating the pixman renderer")?,
        event_loop: host_loop,
        host: Host {
            windows: Vec::new(),
            to_open,
            events: Vec::new(),
            error: None,
        },
    };
    // Windows can only be created from inside the host loop.
    backend
        .event_loop
        .pump_app_events(Some(Duration::ZERO), &mut backend.host);
    if let Some(err) = backend.host.error.take() {
        return Err(err);
    }
    for (window, output) in backend.host.windows.iter_mut().zip(&outputs) {
        let scale = output.current_scale().fractional_scale();
        window.output = output.clone();
        window.damage = OutputDamageTracker::new(window.size, scale, Transform::Normal);
    }
    backend.host.events.clear();

    let fd = backend
        .event_loop
        .as_fd()
        .try_clone_to_owned()
        .context("duplicating the host loop's descriptor")?;
    event_loop
        .insert_source(
            Generic::new(fd, Interest::READ, TriggerMode::Level),
            |_, _, state| {
                pump(state);
                Ok(PostAction::Continue)
            },
        )
        .map_err(|err| anyhow::anyhow!("adding the host session to the event loop: {err}"))?;
    event_loop
        .insert_source(Timer::from_duration(POLL), |_, _, state| {
            pump(state);
            TimeoutAction::ToDuration(POLL)
        })
        .map_err(|err| anyhow::anyhow!("adding the host poll timer: {err}"))?;
    tracing::info!(windows = outputs.len(), "nested in the host session");
    Ok(Started {
        backend: Backend::Winit(Box::new(backend)),
        outputs,
    })
}

/// Dispatches host events and applies them to the compositor.
fn pump(state: &mut State) {
    let Some(backend) = state.backend.winit() else {
        return;
    };
    backend
        .event_loop
        .pump_app_events(Some(Duration::ZERO), &mut backend.host);
    let events = std::mem::take(&mut backend.host.events);
    for event in events {
        match event {
            HostEvent::Motion(output, position) => {
                let origin = state
                    .space
                    .output_geometry(&output)
                    .map(|geometry| geometry.loc.to_f64())
                    .unwrap_or_default();
                state.pointer_motion(origin + position);
            }
            HostEvent::Button(code, pressed) => state.pointer_button(code, pressed),
            HostEvent::Scroll(dx, dy) => state.pointer_scroll(dx, dy),
            HostEvent::Key(code, pressed) => {
                state.key(
                    smithay::input::keyboard::Keycode::new(code + XKB_OFFSET),
                    pressed,
                );
            }
            HostEvent::Resized(output) => {
                layer_map_for_output(&output).arrange();
                state.refit_maximized(&output);
                state.backend.schedule_render();
            }
            HostEvent::Closed => {
                tracing::info!("the nested window was closed; stopping");
                std::process::exit(0);
            }
        }
    }
}

impl ApplicationHandler for Host {
    fn resumed(&mut self, event_loop: &ActiveEventLoop) {
        for (title, width, height) in std::mem::take(&mut self.to_open) {
            match open_window(event_loop, &title, width, height) {
                Ok(window) => self.windows.push(window),
                Err(err) => self.error = Some(err),
            }
        }
    }

    fn window_event(&mut self, _: &ActiveEventLoop, id: WindowId, event: WindowEvent) {
        let Some(nested) = self.windows.iter_mut().find(|w| w.window.id() == id) else {
            return;
        };
        let scale = nested.output.current_scale().fractional_scale();
        match event {
            WindowEvent::CloseRequested => self.events.push(HostEvent::Closed),
            WindowEvent::Resized(size) => {
                let (width, height) = (size.width.max(1) as i32, size.height.max(1) as i32);
                if (width, height) != nested.size {
                    nested.size = (width, height);
                    let mode = Mode {
                        size: (width, height).into(),
                        refresh: 60_000,
                    };
                    nested
                        .output
                        .change_current_state(Some(mode), None, None, None);
                    nested.damage =
                        OutputDamageTracker::new((width, height), scale, Transform::Normal);
                    self.events.push(HostEvent::Resized(nested.output.clone()));
                }
                nested.needs_frame = true;
            }
            WindowEvent::RedrawRequested => nested.needs_frame = true,
            WindowEvent::CursorMoved { position, .. } => {
                let logical = Point::from((position.x / scale, position.y / scale));
                self.events
                    .push(HostEvent::Motion(nested.output.clone(), logical));
            }
            WindowEvent::MouseInput { state, button, .. } => {
                let code = match button {
                    MouseButton::Left => 0x110,
                    MouseButton::Right => 0x111,
                    MouseButton::Middle => 0x112,
                    MouseButton::Forward => 0x115,
                    MouseButton::Back => 0x116,
                    MouseButton::Other(_) => return,
                };
                self.events
                    .push(HostEvent::Button(code, state == ElementState::Pressed));
            }
            WindowEvent::MouseWheel { delta, .. } => {
                // Positive host deltas scroll up; the compositor's positive dy scrolls down.
                let (dx, dy) = match delta {
                    MouseScrollDelta::LineDelta(x, y) => {
                        (-f64::from(x) * SCROLL_NOTCH, -f64::from(y) * SCROLL_NOTCH)
                    }
                    MouseScrollDelta::PixelDelta(position) => {
                        (-position.x / scale, -position.y / scale)
                    }
                };
                self.events.push(HostEvent::Scroll(dx, dy));
            }
            WindowEvent::KeyboardInput { event, .. } if !event.repeat => {
                if let PhysicalKey::Code(_) = event.physical_key
                    && let Some(code) = event.physical_key.to_scancode()
                {
                    self.events
                        .push(HostEvent::Key(code, event.state == ElementState::Pressed));
                }
            }
            _ => {}
        }
    }
}

fn open_window(
    event_loop: &ActiveEventLoop,
    title: &str,
    width: i32,
    height: i32,
) -> anyhow::Result<NestedWindow> {
    let attributes = Window::default_attributes()
        .with_title(format!("digiOS {title}"))
        .with_inner_size(PhysicalSize::new(width as u32, height as u32));
    let window = Rc::new(
        event_loop
            .create_window(attributes)
            .context("opening a window on the host session")?,
    );
    let context = softbuffer::Context::new(window.clone())
        .map_err(|err| anyhow::anyhow!("softbuffer context: {err}"))?;
    let surface = softbuffer::Surface::new(&context, window.clone())
        .map_err(|err| anyhow::anyhow!("softbuffer surface: {err}"))?;
    Ok(NestedWindow {
        window,
        surface,
        output: Output::new(
            title.to_string(),
            PhysicalProperties {
                size: (0, 0).into(),
                subpixel: Subpixel::Unknown,
                make: "digiOS".into(),
                model: "nested".into(),
            },
        ),
        size: (width, height),
        damage: OutputDamageTracker::new((width, height), 1.0, Transform::Normal),
        needs_frame: true,
    })
}

impl WinitBackend {
    fn present_window(
        renderer: &mut PixmanRenderer,
        nested: &mut NestedWindow,
        scene: &Scene<'_>,
    ) -> anyhow::Result<()> {
        let Some(region) = scene.space.output_geometry(&nested.output) else {
            return Ok(());
        };
        let scale = nested.output.current_scale().fractional_scale();
        let elements = scene_elements(renderer, scene.space, scene.windows, region, scale)?;
        let (width, height) = nested.size;
        let (Some(w), Some(h)) = (
            NonZeroU32::new(width as u32),
            NonZeroU32::new(height as u32),
        ) else {
            return Ok(());
        };
        nested
            .surface
            .resize(w, h)
            .map_err(|err| anyhow::anyhow!("resizing the window's buffer: {err}"))?;
        let mut buffer = nested
            .surface
            .buffer_mut()
            .map_err(|err| anyhow::anyhow!("getting the window's buffer: {err}"))?;
        let age = usize::from(buffer.age());
        let drawn = {
            // SAFETY: the buffer holds width × height 0RGB pixels with no
            // row padding and outlives the image, which is dropped in this block.
            let mut image = unsafe {
                pixman::Image::from_raw_mut(
                    pixman::FormatCode::X8R8G8B8,
                    width as usize,
                    height as usize,
                    buffer.as_mut_ptr(),
                    width as usize * 4,
                    false,
                )
            }
            .map_err(|_| anyhow::anyhow!("cannot wrap the window's buffer"))?;
            let mut framebuffer = renderer
                .bind(&mut image)
                .context("binding the window's buffer")?;
            draw_frame(
                renderer,
                &mut framebuffer,
                &mut nested.damage,
                age,
                &elements,
            )?
        };
        if drawn || age == 0 {
            buffer
                .present()
                .map_err(|err| anyhow::anyhow!("presenting: {err}"))?;
        }
        Ok(())
    }
}

/// What [`Backend`] asks of this backend.
impl WinitBackend {
    pub fn renderer(&mut self) -> &mut PixmanRenderer {
        &mut self.renderer
    }

    pub fn schedule_render(&mut self) {
        for window in &mut self.host.windows {
            window.needs_frame = true;
        }
    }

    pub fn present(&mut self, scene: Scene<'_>) {
        for nested in &mut self.host.windows {
            if !nested.needs_frame {
                continue;
            }
            nested.needs_frame = false;
            if let Err(err) = Self::present_window(&mut self.renderer, nested, &scene) {
                tracing::warn!(output = %nested.output.name(), "presenting a frame: {err:#}");
            }
        }
    }
}
