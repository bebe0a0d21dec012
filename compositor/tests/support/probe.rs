//! A minimal Wayland client for tests and benchmarks: one xdg toplevel
//! filled with a solid colour that reports, with the time it read them,
//! the pointer buttons and keys it receives. Runs on its own thread.

#![allow(dead_code)]

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use smithay::reexports::rustix::fs::{MemfdFlags, memfd_create};
use wayland_client::protocol::{
    wl_buffer, wl_compositor, wl_keyboard, wl_pointer, wl_registry, wl_seat, wl_shm,
    wl_shm_pool, wl_surface,
};
use wayland_client::{Connection, Dispatch, QueueHandle, WEnum, delegate_noop};
use wayland_protocols::xdg::shell::client::{xdg_surface, xdg_toplevel, xdg_wm_base};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeEvent {
    /// The first buffer is attached and committed.
    Shown,
    PointerEntered,
    KeyboardEntered,
    Button { pressed: bool, at: Instant },
    Key { key: u32, pressed: bool, at: Instant },
}

pub struct Probe {
    events: Receiver<ProbeEvent>,
}

impl Probe {
    /// Connects to `runtime_dir/display` and opens a `width`×`height` window
    /// with `app_id`, filled with `rgba`.
    pub fn start(
        runtime_dir: &Path,
        display: &str,
        app_id: &str,
        rgba: [u8; 4],
        (width, height): (i32, i32),
    ) -> Self {
        let stream = UnixStream::connect(runtime_dir.join(display))
            .unwrap_or_else(|err| panic!("connecting to {display}: {err}"));
        let connection = Connection::from_socket(stream).expect("a Wayland connection");
        let (sender, events) = channel();
        let app_id = app_id.to_string();
        std::thread::spawn(move || {
            let mut queue = connection.new_event_queue();
            let handle = queue.handle();
            connection.display().get_registry(&handle, ());
            let mut state = ProbeState {
                sender,
                app_id,
                rgba,
                size: (width, height),
                compositor: None,
                shm: None,
                wm_base: None,
                surface: None,
                shown: false,
            };
            while queue.blocking_dispatch(&mut state).is_ok() {}
        });
        Self { events }
    }

    /// Waits for an event matching `predicate`, dropping others.
    pub fn wait(
        &self,
        timeout: Duration,
        predicate: impl Fn(&ProbeEvent) -> bool,
    ) -> Option<ProbeEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.events.recv_timeout(left) {
                Ok(event) if predicate(&event) => return Some(event),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// Drops events received so far.
    pub fn drain(&self) {
        while self.events.try_recv().is_ok() {}
    }
}

struct ProbeState {
    sender: Sender<ProbeEvent>,
    app_id: String,
    rgba: [u8; 4],
    size: (i32, i32),
    compositor: Option<wl_compositor::WlCompositor>,
    shm: Option<wl_shm::WlShm>,
    wm_base: Option<xdg_wm_base::XdgWmBase>,
    surface: Option<wl_surface::WlSurface>,
    shown: bool,
}

impl ProbeState {
    fn open_window(&mut self, handle: &QueueHandle<Self>) {
        let (Some(compositor), Some(wm_base)) = (&self.compositor, &self.wm_base) else {
            return;
        };
        if self.surface.is_some() {
            return;
        }
        let surface = compositor.create_surface(handle, ());
        let xdg = wm_base.get_xdg_surface(&surface, handle, ());
        let toplevel = xdg.get_toplevel(handle, ());
        toplevel.set_app_id(self.app_id.clone());
        toplevel.set_title(self.app_id.clone());
        surface.commit();
        self.surface = Some(surface);
    }

    fn draw(&mut self, handle: &QueueHandle<Self>) {
        let (Some(shm), Some(surface)) = (&self.shm, &self.surface) else {
            return;
        };
        let (width, height) = self.size;
        let [r, g, b, a] = self.rgba;
        let pixel = [b, g, r, a];
        let bytes: Vec<u8> = pixel
            .iter()
            .copied()
            .cycle()
            .take((width * height * 4) as usize)
            .collect();
        let fd = memfd_create("digios-probe", MemfdFlags::CLOEXEC).expect("memfd");
        let mut file = std::fs::File::from(fd);
        file.write_all(&bytes).expect("filling the buffer");
        let pool = shm.create_pool(file.as_fd(), bytes.len() as i32, handle, ());
        let buffer = pool.create_buffer(
            0,
            width,
            height,
            width * 4,
            wl_shm::Format::Argb8888,
            handle,
            (),
        );
        surface.attach(Some(&buffer), 0, 0);
        surface.damage_buffer(0, 0, width, height);
        surface.commit();
        pool.destroy();
        if !self.shown {
            self.shown = true;
            let _ = self.sender.send(ProbeEvent::Shown);
        }
    }
}

impl Dispatch<wl_registry::WlRegistry, ()> for ProbeState {
    fn event(
        state: &mut Self,
        registry: &wl_registry::WlRegistry,
        event: wl_registry::Event,
        _: &(),
        _: &Connection,
        handle: &QueueHandle<Self>,
    ) {
        if let wl_registry::Event::Global {
            name, interface, ..
        } = event
        {
            match interface.as_str() {
                "wl_compositor" => state.compositor = Some(registry.bind(name, 4, handle, ())),
                "wl_shm" => state.shm = Some(registry.bind(name, 1, handle, ())),
                "xdg_wm_base" => state.wm_base = Some(registry.bind(name, 1, handle, ())),
                "wl_seat" => {
                    registry.bind::<wl_seat::WlSeat, _, _>(name, 5, handle, ());
                }
                _ => {}
            }
            state.open_window(handle);
        }
    }
}

impl Dispatch<xdg_wm_base::XdgWmBase, ()> for ProbeState {
    fn event(
        _: &mut Self,
        wm_base: &xdg_wm_base::XdgWmBase,
        event: xdg_wm_base::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_wm_base::Event::Ping { serial } = event {
            wm_base.pong(serial);
        }
    }
}

impl Dispatch<xdg_surface::XdgSurface, ()> for ProbeState {
    fn event(
        state: &mut Self,
        xdg: &xdg_surface::XdgSurface,
        event: xdg_surface::Event,
        _: &(),
        _: &Connection,
        handle: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            xdg.ack_configure(serial);
            state.draw(handle);
        }
    }
}

impl Dispatch<xdg_toplevel::XdgToplevel, ()> for ProbeState {
    fn event(
        state: &mut Self,
        _: &xdg_toplevel::XdgToplevel,
        event: xdg_toplevel::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_toplevel::Event::Configure { width, height, .. } = event
            && width > 0
            && height > 0
        {
            state.size = (width, height);
        }
    }
}

impl Dispatch<wl_seat::WlSeat, ()> for ProbeState {
    fn event(
        _: &mut Self,
        seat: &wl_seat::WlSeat,
        event: wl_seat::Event,
        _: &(),
        _: &Connection,
        handle: &QueueHandle<Self>,
    ) {
        if let wl_seat::Event::Capabilities {
            capabilities: WEnum::Value(capabilities),
        } = event
        {
            if capabilities.contains(wl_seat::Capability::Pointer) {
                seat.get_pointer(handle, ());
            }
            if capabilities.contains(wl_seat::Capability::Keyboard) {
                seat.get_keyboard(handle, ());
            }
        }
    }
}

impl Dispatch<wl_pointer::WlPointer, ()> for ProbeState {
    fn event(
        state: &mut Self,
        _: &wl_pointer::WlPointer,
        event: wl_pointer::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let at = Instant::now();
        let event = match event {
            wl_pointer::Event::Enter { .. } => ProbeEvent::PointerEntered,
            wl_pointer::Event::Button {
                state: button_state,
                ..
            } => ProbeEvent::Button {
                pressed: button_state == WEnum::Value(wl_pointer::ButtonState::Pressed),
                at,
            },
            _ => return,
        };
        let _ = state.sender.send(event);
    }
}

impl Dispatch<wl_keyboard::WlKeyboard, ()> for ProbeState {
    fn event(
        state: &mut Self,
        _: &wl_keyboard::WlKeyboard,
        event: wl_keyboard::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let at = Instant::now();
        let event = match event {
            wl_keyboard::Event::Enter { .. } => ProbeEvent::KeyboardEntered,
            wl_keyboard::Event::Key {
                key,
                state: key_state,
                ..
            } => ProbeEvent::Key {
                key,
                pressed: key_state == WEnum::Value(wl_keyboard::KeyState::Pressed),
                at,
            },
            _ => return,
        };
        let _ = state.sender.send(event);
    }
}

delegate_noop!(ProbeState: ignore wl_compositor::WlCompositor);
delegate_noop!(ProbeState: ignore wl_surface::WlSurface);
delegate_noop!(ProbeState: ignore wl_shm::WlShm);
delegate_noop!(ProbeState: ignore wl_shm_pool::WlShmPool);
delegate_noop!(ProbeState: ignore wl_buffer::WlBuffer);
