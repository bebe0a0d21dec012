//! The nested (winit) backend, tested inside a headless digiOS compositor:
//! the inner compositor's window is a client of the outer one, so the outer
//! capture shows the inner desktop, and input sent to the outer window
//! reaches the inner compositor's clients.

mod support;

use digios_ipc::{Button, Request};
use support::probe::{Probe, ProbeEvent};
use support::{BACKGROUND, Compositor, DEADLINE};

const PROBE_COLOUR: [u8; 4] = [0x20, 0xa0, 0x40, 0xff];

#[test]
fn a_nested_compositor_draws_into_its_window_and_takes_input() {
    let outer = Compositor::start();
    let inner = Compositor::start_nested(&outer, &["--size", "640x400"]);
    let nested = outer.wait_for_window("the nested compositor's window", |window| {
        window.title.as_deref() == Some("digiOS WINIT-1")
    });
    assert_eq!(
        (nested.geometry.width, nested.geometry.height),
        (640, 400),
        "{nested:?}"
    );
    let outputs = match inner.request(Request::Outputs) {
        digios_ipc::Response::Outputs { outputs } => outputs,
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(outputs.len(), 1);
    assert_eq!((outputs[0].width, outputs[0].height), (640, 400));

    // A solid-colour client of the inner compositor shows up in the outer capture.
    let probe = Probe::start(
        inner.runtime_dir.path(),
        &inner.display,
        "probe",
        PROBE_COLOUR,
        (200, 120),
    );
    probe
        .wait(DEADLINE, |event| *event == ProbeEvent::Shown)
        .expect("the probe window");
    let inner_window = inner.wait_for_window("the probe window", |window| {
        window.app_id.as_deref() == Some("probe")
    });
    let on_outer = |x: i32, y: i32| (nested.geometry.x + x, nested.geometry.y + y);
    let probe_rect = digios_ipc::Rect::new(
        nested.geometry.x + inner_window.geometry.x,
        nested.geometry.y + inner_window.geometry.y,
        inner_window.geometry.width,
        inner_window.geometry.height,
    );
    let screen = outer.wait_until("the inner desktop in the outer capture", || {
        let screen = outer.screen();
        (screen.count_in(probe_rect, PROBE_COLOUR) == (200 * 120) as usize).then_some(screen)
    });
    let (corner_x, corner_y) = on_outer(2, 2);
    assert_eq!(
        screen.at_logical(corner_x, corner_y),
        BACKGROUND,
        "the inner desktop's background fills the window"
    );

    // A click and a key on the outer window reach the inner client.
    let (x, y) = on_outer(
        inner_window.geometry.x + 100,
        inner_window.geometry.y + 60,
    );
    probe.drain();
    outer.request(Request::Click {
        x: Some(f64::from(x)),
        y: Some(f64::from(y)),
        button: Button::Left,
        count: 1,
    });
    probe
        .wait(DEADLINE, |event| {
            matches!(event, ProbeEvent::Button { pressed: true, .. })
        })
        .expect("the click reached the inner client");
    let pointer = match inner.request(Request::Pointer) {
        digios_ipc::Response::Pointer { x, y } => (x, y),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(
        (pointer.0.round() as i32, pointer.1.round() as i32),
        (inner_window.geometry.x + 100, inner_window.geometry.y + 60),
        "the inner pointer is where the outer one points"
    );
    outer.request(Request::Type { text: "a".into() });
    // KEY_A is evdev code 30 in the inner client's keymap too.
    probe
        .wait(DEADLINE, |event| {
            matches!(event, ProbeEvent::Key { key: 30, pressed: true, .. })
        })
        .expect("the key reached the inner client");
}
