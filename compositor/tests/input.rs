//! Injected input reaches real clients, and the compositor's own pointer
//! handling (click-to-focus, title-bar drag, close box) works.

mod support;

use digios_ipc::{Button, Request};
use support::{Compositor, TITLE_BAR_HEIGHT, wait_for_file};

/// A foot window whose shell writes the first line it reads to a file.
fn foot_reading_a_line(compositor: &mut Compositor) -> (digios_ipc::Window, std::path::PathBuf) {
    foot_reading_a_line_in(compositor, "typed.txt")
}

fn foot_reading_a_line_in(
    compositor: &mut Compositor,
    name: &str,
) -> (digios_ipc::Window, std::path::PathBuf) {
    let file = compositor.runtime_dir.path().join(name);
    let window = compositor.foot(&format!("read x; echo \"$x\" > {}", file.display()));
    (window, file)
}

#[test]
fn typed_text_arrives_in_foot() {
    let mut compositor = Compositor::start();
    let (window, file) = foot_reading_a_line(&mut compositor);
    assert!(window.focused);
    let text = "Hello, digiOS! 42 ~/a_b+c=d {x} \"q\" 'y'";
    compositor.request(Request::Type {
        text: format!("{text}\n"),
    });
    assert_eq!(wait_for_file(&compositor, &file), format!("{text}\n"));
}

#[test]
fn text_beyond_the_keymap_arrives_through_a_temporary_keymap() {
    let mut compositor = Compositor::start();
    let (_, file) = foot_reading_a_line(&mut compositor);
    let text = "grüße ☃ 日本 ok";
    compositor.request(Request::Type {
        text: format!("{text}\n"),
    });
    assert_eq!(wait_for_file(&compositor, &file), format!("{text}\n"));
    // The keymap is restored: plain text still types, with shifted characters.
    let (_, second) = foot_reading_a_line_in(&mut compositor, "second.txt");
    compositor.request(Request::Type {
        text: "Back To US!\n".into(),
    });
    assert_eq!(wait_for_file(&compositor, &second), "Back To US!\n");
}

#[test]
fn keys_by_keysym_name_and_chords_arrive_in_foot() {
    let mut compositor = Compositor::start();
    let (_, file) = foot_reading_a_line(&mut compositor);
    for keysym in ["d", "i", "g", "i"] {
        compositor.request(Request::Key {
            keysym: keysym.into(),
            state: digios_ipc::KeyState::Pressed,
        });
        compositor.request(Request::Key {
            keysym: keysym.into(),
            state: digios_ipc::KeyState::Released,
        });
    }
    // Shift is added for a keysym on the shifted level.
    compositor.request(Request::KeyChord { keys: "O".into() });
    compositor.request(Request::KeyChord {
        keys: "shift+s".into(),
    });
    // ctrl+u erases the line so far in the terminal; then type again.
    compositor.request(Request::KeyChord {
        keys: "ctrl+u".into(),
    });
    compositor.request(Request::Type { text: "ok".into() });
    compositor.request(Request::KeyChord {
        keys: "Return".into(),
    });
    assert_eq!(wait_for_file(&compositor, &file), "ok\n");
}

#[test]
fn a_click_focuses_the_window_under_the_pointer() {
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
        y: 260,
    });
    assert!(compositor.window(second.id).unwrap().focused);

    compositor.request(Request::Click {
        x: Some(100.0),
        y: Some(100.0),
        button: Button::Left,
        count: 1,
    });
    let windows = compositor.windows();
    let focused: Vec<u64> = windows.iter().filter(|w| w.focused).map(|w| w.id).collect();
    assert_eq!(focused, vec![first.id]);
    assert_eq!(windows.last().unwrap().id, first.id, "click raises");

    // A double click on the other window's content focuses it too.
    compositor.request(Request::Click {
        x: Some(1000.0),
        y: Some(700.0),
        button: Button::Left,
        count: 2,
    });
    assert!(compositor.window(second.id).unwrap().focused);

    // Clicking the empty desktop keeps focus where it is.
    compositor.request(Request::Click {
        x: Some(1275.0),
        y: Some(5.0),
        button: Button::Left,
        count: 1,
    });
    assert!(compositor.window(second.id).unwrap().focused);
}

#[test]
fn dragging_the_title_bar_moves_the_window() {
    let mut compositor = Compositor::start();
    let foot = compositor.foot("sleep 60");
    compositor.request(Request::Move {
        id: foot.id,
        x: 100,
        y: 100,
    });
    let grab = (300.0, f64::from(100 - TITLE_BAR_HEIGHT / 2));
    compositor.request(Request::Drag {
        from: grab,
        to: (grab.0 + 250.0, grab.1 + 120.0),
        button: Button::Left,
        steps: 10,
    });
    let moved = compositor.window(foot.id).unwrap();
    assert_eq!((moved.geometry.x, moved.geometry.y), (350, 220));
    let image = compositor.screen();
    assert_eq!(image.at_logical(360, 230), support::FOOT_BACKGROUND);
    assert_eq!(image.at_logical(150, 150), support::BACKGROUND);
}

#[test]
fn dragging_a_frame_edge_resizes_the_window() {
    let mut compositor = Compositor::start();
    let foot = compositor.foot("sleep 60");
    compositor.request(Request::Move {
        id: foot.id,
        x: 100,
        y: 100,
    });
    compositor.request(Request::Resize {
        id: foot.id,
        width: 400,
        height: 300,
    });
    compositor.wait_for_window("foot at 400x300", |w| {
        w.id == foot.id && (w.geometry.width, w.geometry.height) == (400, 300)
    });
    // Just outside the bottom-right corner of the frame.
    let corner = (100.0 + 400.0 + 3.0, 100.0 + 300.0 + 3.0);
    compositor.request(Request::Drag {
        from: corner,
        to: (corner.0 + 200.0, corner.1 + 100.0),
        button: Button::Left,
        steps: 10,
    });
    let grown = compositor.wait_for_window("foot grown from its corner", |w| {
        w.id == foot.id && w.geometry.width > 550 && w.geometry.height > 350
    });
    assert_eq!((grown.geometry.x, grown.geometry.y), (100, 100));
    assert!(grown.geometry.width <= 600 && grown.geometry.height <= 400);

    // The left edge moves the window and keeps its right side in place.
    let right = grown.geometry.x + grown.geometry.width;
    let left_edge = (97.0, 250.0);
    compositor.request(Request::Drag {
        from: left_edge,
        to: (left_edge.0 + 150.0, left_edge.1),
        button: Button::Left,
        steps: 5,
    });
    let narrowed = compositor.wait_for_window("foot narrowed from the left", |w| {
        w.id == foot.id && w.geometry.width < grown.geometry.width - 100
    });
    assert!(narrowed.geometry.x > 200);
    assert!((narrowed.geometry.x + narrowed.geometry.width - right).abs() <= 20);
}

#[test]
fn the_close_box_closes_the_window() {
    let mut compositor = Compositor::start();
    let foot = compositor.foot("sleep 60");
    let bar = foot.title_bar.unwrap();
    compositor.request(Request::Click {
        x: Some(f64::from(bar.x + bar.width - 12)),
        y: Some(f64::from(bar.y + bar.height / 2)),
        button: Button::Left,
        count: 1,
    });
    compositor.wait_until("foot to close", || {
        compositor.window(foot.id).is_none().then_some(())
    });
}

#[test]
fn scrolling_and_right_clicks_are_delivered_without_error() {
    let mut compositor = Compositor::start();
    let foot = compositor.foot("sleep 60");
    let (x, y) = foot.geometry.center();
    compositor.request(Request::Scroll {
        x: Some(x),
        y: Some(y),
        dx: 0.0,
        dy: 45.0,
    });
    compositor.request(Request::Click {
        x: None,
        y: None,
        button: Button::Right,
        count: 1,
    });
    let digios_ipc::Response::Pointer { x: px, y: py } = compositor.request(Request::Pointer)
    else {
        panic!("not a pointer position");
    };
    assert_eq!((px, py), (x, y));
    assert!(compositor.alive());
}

fn wait_idle(compositor: &Compositor, quiet_ms: u32, timeout_ms: u32) -> bool {
    match compositor.request(Request::WaitIdle {
        quiet_ms,
        timeout_ms,
    }) {
        digios_ipc::Response::Idle { idle } => idle,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn wait_idle_lets_a_capture_show_the_result_of_typing() {
    let mut compositor = Compositor::start();
    let foot = compositor.foot("sleep 60");
    assert!(wait_idle(&compositor, 300, 20_000));
    let area = foot.geometry;
    let before = compositor.screen().count_in(area, support::FOOT_BACKGROUND);
    compositor.request(Request::Type {
        text: "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWW".into(),
    });
    assert!(wait_idle(&compositor, 500, 20_000));
    let after = compositor.screen().count_in(area, support::FOOT_BACKGROUND);
    assert!(
        after + 200 < before,
        "typed glyphs cover the background: {before} -> {after}"
    );

    // A client that never stops drawing makes the wait time out instead.
    compositor.simple_shm();
    assert!(!wait_idle(&compositor, 1000, 300));
}

fn input_idle_ms(compositor: &Compositor) -> u64 {
    match compositor.request(Request::Activity) {
        digios_ipc::Response::Activity { input_idle_ms } => input_idle_ms,
        other => panic!("{other:?}"),
    }
}

#[test]
fn activity_counts_from_the_latest_input() {
    let compositor = Compositor::start();
    std::thread::sleep(std::time::Duration::from_millis(400));
    let quiet = input_idle_ms(&compositor);
    assert!(quiet >= 400, "{quiet}");
    // Reading state is not input; moving, clicking and typing are.
    compositor.request(Request::Windows);
    assert!(input_idle_ms(&compositor) >= quiet);
    for input in [
        Request::PointerMove { x: 10.0, y: 10.0 },
        Request::Scroll {
            x: None,
            y: None,
            dx: 0.0,
            dy: 15.0,
        },
        Request::KeyChord {
            keys: "shift".into(),
        },
    ] {
        std::thread::sleep(std::time::Duration::from_millis(700));
        let before = input_idle_ms(&compositor);
        compositor.request(input.clone());
        let after = input_idle_ms(&compositor);
        assert!(
            after < before,
            "{input:?}: {before} ms before, {after} ms after"
        );
    }
}
