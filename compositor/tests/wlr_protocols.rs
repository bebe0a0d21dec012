//! wlr-foreign-toplevel-management and wlr-virtual-pointer, driven by a
//! Wayland client written here against the real compositor process.

mod support;

use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use digios_ipc::{Request, Response};
use support::{Compositor, DEADLINE};
use wayland_client::globals::{GlobalListContents, registry_queue_init};
use wayland_client::protocol::{wl_pointer, wl_registry};
use wayland_client::{Connection, Dispatch, EventQueue, QueueHandle, event_created_child};
use wayland_protocols_wlr::foreign_toplevel::v1::client::{
    zwlr_foreign_toplevel_handle_v1::{self, ZwlrForeignToplevelHandleV1},
    zwlr_foreign_toplevel_manager_v1::{self, ZwlrForeignToplevelManagerV1},
};
use wayland_protocols_wlr::virtual_pointer::v1::client::{
    zwlr_virtual_pointer_manager_v1::ZwlrVirtualPointerManagerV1,
    zwlr_virtual_pointer_v1::ZwlrVirtualPointerV1,
};

const BTN_LEFT: u32 = 0x110;
const ACTIVATED: u32 = 2;
const MAXIMIZED: u32 = 0;

#[derive(Debug, Default, Clone)]
struct Toplevel {
    title: String,
    app_id: String,
    states: Vec<u32>,
    closed: bool,
}

#[derive(Default)]
struct Tool {
    toplevels: Vec<(ZwlrForeignToplevelHandleV1, Toplevel)>,
}

impl Tool {
    fn by_app_id(&self, app_id: &str) -> Option<&(ZwlrForeignToplevelHandleV1, Toplevel)> {
        self.toplevels
            .iter()
            .find(|(_, toplevel)| toplevel.app_id == app_id && !toplevel.closed)
    }
}

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for Tool {
    fn event(
        _: &mut Self,
        _: &wl_registry::WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<ZwlrForeignToplevelManagerV1, ()> for Tool {
    fn event(
        tool: &mut Self,
        _: &ZwlrForeignToplevelManagerV1,
        event: zwlr_foreign_toplevel_manager_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let zwlr_foreign_toplevel_manager_v1::Event::Toplevel { toplevel } = event {
            tool.toplevels.push((toplevel, Toplevel::default()));
        }
    }

    event_created_child!(Tool, ZwlrForeignToplevelManagerV1, [
        zwlr_foreign_toplevel_manager_v1::EVT_TOPLEVEL_OPCODE => (ZwlrForeignToplevelHandleV1, ()),
    ]);
}

impl Dispatch<ZwlrForeignToplevelHandleV1, ()> for Tool {
    fn event(
        tool: &mut Self,
        handle: &ZwlrForeignToplevelHandleV1,
        event: zwlr_foreign_toplevel_handle_v1::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        let Some((_, toplevel)) = tool.toplevels.iter_mut().find(|(h, _)| h == handle) else {
            return;
        };
        match event {
            zwlr_foreign_toplevel_handle_v1::Event::Title { title } => toplevel.title = title,
            zwlr_foreign_toplevel_handle_v1::Event::AppId { app_id } => toplevel.app_id = app_id,
            zwlr_foreign_toplevel_handle_v1::Event::State { state } => {
                toplevel.states = state
                    .chunks_exact(4)
                    .map(|bytes| u32::from_ne_bytes(bytes.try_into().unwrap()))
                    .collect();
            }
            zwlr_foreign_toplevel_handle_v1::Event::Closed => toplevel.closed = true,
            _ => {}
        }
    }
}

impl Dispatch<ZwlrVirtualPointerManagerV1, ()> for Tool {
    fn event(
        _: &mut Self,
        _: &ZwlrVirtualPointerManagerV1,
        _: <ZwlrVirtualPointerManagerV1 as wayland_client::Proxy>::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<ZwlrVirtualPointerV1, ()> for Tool {
    fn event(
        _: &mut Self,
        _: &ZwlrVirtualPointerV1,
        _: <ZwlrVirtualPointerV1 as wayland_client::Proxy>::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<wayland_client::protocol::wl_seat::WlSeat, ()> for Tool {
    fn event(
        _: &mut Self,
        _: &wayland_client::protocol::wl_seat::WlSeat,
        _: wayland_client::protocol::wl_seat::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

struct Session {
    queue: EventQueue<Tool>,
    tool: Tool,
    globals: wayland_client::globals::GlobalList,
}

impl Session {
    fn connect(compositor: &Compositor) -> Self {
        let socket = UnixStream::connect(compositor.runtime_dir.path().join(&compositor.display))
            .expect("connecting to the Wayland socket");
        let connection = Connection::from_socket(socket).unwrap();
        let (globals, queue) = registry_queue_init::<Tool>(&connection).unwrap();
        Self {
            queue,
            tool: Tool::default(),
            globals,
        }
    }

    fn roundtrip(&mut self) {
        self.queue.roundtrip(&mut self.tool).unwrap();
    }

    /// Round-trips until `check` holds.
    fn until(&mut self, what: &str, check: impl Fn(&Tool) -> bool) {
        let start = Instant::now();
        loop {
            self.roundtrip();
            if check(&self.tool) {
                return;
            }
            assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[test]
fn foreign_toplevel_management_lists_and_controls_windows() {
    let mut compositor = Compositor::start();
    let foot = compositor.foot("sleep 60");
    let shm = compositor.simple_shm();
    let mut session = Session::connect(&compositor);
    let qh = session.queue.handle();
    let _manager: ZwlrForeignToplevelManagerV1 = session.globals.bind(&qh, 1..=3, ()).unwrap();
    session.until("both toplevels", |tool| {
        tool.by_app_id("foot").is_some()
            && tool
                .by_app_id("org.freedesktop.weston.simple-shm")
                .is_some()
    });
    let (foot_handle, foot_state) = session.tool.by_app_id("foot").unwrap().clone();
    assert_eq!(foot_state.title, "foot");
    assert!(!foot_state.states.contains(&ACTIVATED));
    let shm_handle = session
        .tool
        .by_app_id("org.freedesktop.weston.simple-shm")
        .unwrap()
        .0
        .clone();

    foot_handle.activate(&session.globals.bind(&qh, 1..=7, ()).unwrap());
    session.until("foot activated", |tool| {
        tool.by_app_id("foot")
            .unwrap()
            .1
            .states
            .contains(&ACTIVATED)
    });
    assert!(compositor.window(foot.id).unwrap().focused);

    foot_handle.set_maximized();
    session.until("foot maximized", |tool| {
        tool.by_app_id("foot")
            .unwrap()
            .1
            .states
            .contains(&MAXIMIZED)
    });
    assert!(compositor.window(foot.id).unwrap().maximized);

    shm_handle.close();
    session.until("simple-shm closed", |tool| {
        tool.toplevels
            .iter()
            .any(|(handle, toplevel)| handle == &shm_handle && toplevel.closed)
    });
    assert!(compositor.window(shm.id).is_none());
}

#[test]
fn virtual_pointer_moves_clicks_and_focuses() {
    let mut compositor = Compositor::start();
    let first = compositor.foot("sleep 60");
    compositor.request(Request::Move {
        id: first.id,
        x: 20,
        y: 40,
    });
    let second = compositor.foot("sleep 60");
    compositor.request(Request::Move {
        id: second.id,
        x: 560,
        y: 280,
    });
    let mut session = Session::connect(&compositor);
    let qh = session.queue.handle();
    let manager: ZwlrVirtualPointerManagerV1 = session.globals.bind(&qh, 1..=2, ()).unwrap();
    let pointer = manager.create_virtual_pointer(None, &qh, ());

    // Absolute motion maps the extent onto the whole 1280x800 layout.
    pointer.motion_absolute(0, 100, 100, 1280, 800);
    pointer.frame();
    session.roundtrip();
    let Response::Pointer { x, y } = compositor.request(Request::Pointer) else {
        panic!("not a pointer position");
    };
    assert_eq!((x, y), (100.0, 100.0));

    pointer.motion(0, 15.0, -10.0);
    pointer.frame();
    pointer.button(0, BTN_LEFT, wl_pointer::ButtonState::Pressed);
    pointer.button(0, BTN_LEFT, wl_pointer::ButtonState::Released);
    pointer.frame();
    session.roundtrip();
    let Response::Pointer { x, y } = compositor.request(Request::Pointer) else {
        panic!("not a pointer position");
    };
    assert_eq!((x, y), (115.0, 90.0));
    assert!(
        compositor.window(first.id).unwrap().focused,
        "the click focused the first window"
    );

    // Motion past the edge stops at the edge.
    pointer.motion(0, 5000.0, 5000.0);
    pointer.frame();
    session.roundtrip();
    let Response::Pointer { x, y } = compositor.request(Request::Pointer) else {
        panic!("not a pointer position");
    };
    assert_eq!((x, y), (1279.0, 799.0));
}
