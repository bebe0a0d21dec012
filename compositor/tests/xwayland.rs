//! X11 apps run through XWayland: a real xterm is listed as a window, shows
//! up in captures, and takes typed text like any Wayland client.

mod support;

use std::time::{Duration, Instant};

use digios_ipc::{CaptureTarget, Request, Response};
use support::{Compositor, DEADLINE, Overlays, wait_for_file};

/// Starts xterm through the compositor (which sets `DISPLAY` once XWayland
/// is ready), retrying while XWayland is still starting.
fn xterm(compositor: &Compositor, command: &str) -> digios_ipc::Window {
    let start = Instant::now();
    loop {
        let response = compositor.request(Request::Spawn {
            // An Xft font: the core X fonts (xfonts-base) are not installed.
            command: [
                "xterm", "-fa", "DejaVu Sans Mono", "-fs", "10", "-bg", "white", "-fg", "black",
                "-e", "sh", "-c", command,
            ]
            .map(String::from)
            .to_vec(),
            env: vec![("LC_ALL".into(), "C.UTF-8".into())],
        });
        let Response::Spawned { pid } = response else {
            panic!("unexpected {response:?}");
        };
        let tried = Instant::now();
        while tried.elapsed() < Duration::from_secs(5) {
            if let Some(window) = compositor
                .windows()
                .into_iter()
                .find(|window| window.app_id.as_deref() == Some("XTerm"))
            {
                return window;
            }
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(
            start.elapsed() < DEADLINE,
            "no xterm window among {:?}\ncompositor log:\n{}",
            compositor.windows(),
            compositor.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn an_x11_app_is_listed_captured_and_typed_into() {
    let compositor = Compositor::start_with_xwayland(&[]);
    let file = compositor.runtime_dir.path().join("x11-typed.txt");
    let window = xterm(&compositor, &format!("read x; echo \"$x\" > {}", file.display()));
    assert!(window.focused, "a new X11 window takes focus: {window:?}");
    assert!(window.title.is_some(), "the X11 title is listed: {window:?}");
    assert!(window.pid.is_some(), "the X11 client's pid is listed: {window:?}");
    let geometry = window.geometry;
    assert!(geometry.width > 50 && geometry.height > 50, "{window:?}");

    // The window's white background is in a capture of the screen and of the window.
    let white = [0xff, 0xff, 0xff, 0xff];
    let screen = compositor.wait_until("xterm to draw", || {
        let screen = compositor.screen();
        (screen.count_in(geometry, white) > (geometry.width * geometry.height / 2) as usize)
            .then_some(screen)
    });
    assert_eq!(
        screen.at_logical(geometry.x - 1, geometry.y + geometry.height / 2),
        support::BACKGROUND,
        "outside the window is the desktop"
    );
    let shot = compositor.capture(CaptureTarget::Window { id: window.id }, Overlays::default());
    assert!(shot.width >= geometry.width);

    compositor.request(Request::Type {
        text: "x11 ok\n".into(),
    });
    assert_eq!(wait_for_file(&compositor, &file), "x11 ok\n");
}
