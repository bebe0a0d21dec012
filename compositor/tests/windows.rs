//! Window listing and window operations against real clients.

mod support;

use digios_ipc::{CaptureTarget, Rect, Request, Response};
use support::probe::{Probe, ProbeEvent};
use support::{
    BACKGROUND, Compositor, DEADLINE, FOOT_BACKGROUND, Overlays, TITLE_BAR_HEIGHT, is_child_of,
};

#[test]
fn list_windows_reports_real_clients() {
    let mut compositor = Compositor::start();
    let shm_pid = compositor.launch("weston-simple-shm", &[]);
    let shm = compositor.wait_for_window("weston-simple-shm", |w| {
        w.app_id.as_deref() == Some("org.freedesktop.weston.simple-shm")
    });
    assert_eq!(shm.title.as_deref(), Some("simple-shm"));
    assert_eq!((shm.geometry.width, shm.geometry.height), (250, 250));
    assert!(
        is_child_of(shm.pid.unwrap() as u32, shm_pid),
        "pid {:?}",
        shm.pid
    );
    assert_eq!(shm.output.as_deref(), Some("HEADLESS-1"));
    let bar = shm.title_bar.expect("a title bar");
    assert_eq!(bar.y + bar.height, shm.geometry.y);
    assert_eq!(bar.height, TITLE_BAR_HEIGHT);

    let foot = compositor.foot("sleep 60");
    assert_eq!(foot.title.as_deref(), Some("foot"));
    assert!(foot.focused, "a new window takes focus");
    let screen = Rect::new(0, 0, 1280, 800);
    for window in [&shm, &foot] {
        let g = window.geometry;
        assert!(g.width > 0 && g.height > 0);
        assert!(screen.contains(f64::from(g.x), f64::from(g.y - TITLE_BAR_HEIGHT)));
        assert!(screen.contains(f64::from(g.x + g.width - 1), f64::from(g.y + g.height - 1)));
    }
    let windows = compositor.windows();
    assert_eq!(windows.len(), 2);
    assert_eq!(windows.iter().filter(|w| w.focused).count(), 1);
    assert_eq!(
        windows.last().unwrap().id,
        foot.id,
        "the focused window is on top"
    );
}

#[test]
fn move_maximize_minimize_fullscreen_and_close_show_in_list_and_image() {
    let mut compositor = Compositor::start();
    let foot = compositor.foot("sleep 60");
    let id = foot.id;

    // Each change answers with the window as it is afterwards.
    let moved = changed(compositor.request(Request::Move { id, x: 100, y: 150 }));
    assert_eq!((moved.geometry.x, moved.geometry.y), (100, 150));
    assert_eq!(Some(&moved), compositor.window(id).as_ref());
    let image = compositor.screen();
    assert_eq!(image.at_logical(110, 160), FOOT_BACKGROUND);
    let bar_right = moved.geometry.x + moved.geometry.width - 60;
    assert_eq!(
        image.at_logical(bar_right, 150 - TITLE_BAR_HEIGHT / 2),
        support::FOCUSED_BAR
    );
    assert_eq!(image.at_logical(95, 160), BACKGROUND);

    compositor.request(Request::Resize {
        id,
        width: 400,
        height: 300,
    });
    compositor.wait_for_window("the resized foot", |w| {
        w.id == id && w.geometry.width == 400 && w.geometry.height == 300
    });
    let image = compositor.screen();
    assert_eq!(image.at_logical(100 + 395, 150 + 295), FOOT_BACKGROUND);
    assert_eq!(image.at_logical(100 + 405, 150 + 295), BACKGROUND);

    let answer = changed(compositor.request(Request::Maximize { id, on: true }));
    assert!(answer.maximized && answer.geometry.y == TITLE_BAR_HEIGHT);
    let maximized = compositor.wait_for_window("the maximized foot", |w| {
        w.id == id
            && w.maximized
            && w.geometry == Rect::new(0, TITLE_BAR_HEIGHT, 1280, 800 - TITLE_BAR_HEIGHT)
    });
    assert!(maximized.maximized);
    let image = compositor.screen();
    assert_eq!(image.at_logical(1270, 790), FOOT_BACKGROUND);

    compositor.request(Request::Maximize { id, on: false });
    compositor.wait_for_window("the restored foot", |w| {
        w.id == id && !w.maximized && w.geometry == Rect::new(100, 150, 400, 300)
    });

    compositor.request(Request::Fullscreen { id, on: true });
    let fullscreen = compositor.wait_for_window("the fullscreen foot", |w| {
        w.id == id && w.fullscreen && w.geometry == Rect::new(0, 0, 1280, 800)
    });
    assert_eq!(fullscreen.title_bar, None);
    let image = compositor.screen();
    assert_eq!(
        image.at_logical(1270, 10),
        FOOT_BACKGROUND,
        "no title bar when fullscreen"
    );
    compositor.request(Request::Fullscreen { id, on: false });
    compositor.wait_for_window("foot out of fullscreen", |w| {
        w.id == id && !w.fullscreen && w.geometry == Rect::new(100, 150, 400, 300)
    });

    let minimized = changed(compositor.request(Request::Minimize { id, on: true }));
    assert!(minimized.minimized && !minimized.focused);
    assert_eq!(Some(&minimized), compositor.window(id).as_ref());
    let image = compositor.screen();
    assert_eq!(
        image.at_logical(110, 160),
        BACKGROUND,
        "a minimized window is hidden"
    );
    let restored = changed(compositor.request(Request::Focus { id }));
    assert!(!restored.minimized && restored.focused);
    assert_eq!(Some(&restored), compositor.window(id).as_ref());
    assert_eq!(compositor.screen().at_logical(110, 160), FOOT_BACKGROUND);

    let before = compositor.capture(CaptureTarget::Screen, Overlays::default());
    assert_eq!(
        compositor.request(Request::Close { id }),
        Response::Closing { id }
    );
    compositor.wait_until("foot to close", || {
        compositor.window(id).is_none().then_some(())
    });
    let after = compositor.screen();
    assert_ne!(before.at_logical(110, 160), after.at_logical(110, 160));
    assert_eq!(after.at_logical(110, 160), BACKGROUND);
}

#[test]
fn new_windows_do_not_open_exactly_on_top_of_each_other() {
    let mut compositor = Compositor::start();
    let first = compositor.simple_shm();
    let second = compositor.simple_shm();
    assert_ne!(
        (first.geometry.x, first.geometry.y),
        (second.geometry.x, second.geometry.y)
    );
}

#[test]
fn outputs_have_size_scale_and_layout() {
    let compositor = Compositor::start_with(&["--size", "800x600", "--extra-output", "1280x800@2"]);
    let digios_ipc::Response::Outputs { outputs } = compositor.request(Request::Outputs) else {
        panic!("not outputs");
    };
    assert_eq!(outputs.len(), 2);
    assert_eq!(outputs[0].logical, Rect::new(0, 0, 800, 600));
    assert_eq!(
        (outputs[1].width, outputs[1].height, outputs[1].scale),
        (1280, 800, 2.0)
    );
    assert_eq!(outputs[1].logical, Rect::new(800, 0, 640, 400));
    let image = compositor.capture(
        CaptureTarget::Output {
            name: outputs[1].name.clone(),
        },
        Overlays::default(),
    );
    assert_eq!((image.width, image.height), (1280, 800));
    assert_eq!(image.at(0, 0), BACKGROUND);
}

#[test]
fn a_window_on_a_scaled_output_is_told_its_scale() {
    let compositor = Compositor::start_with(&["--size", "800x600", "--extra-output", "1280x800@2"]);
    let probe = Probe::start(
        compositor.runtime_dir.path(),
        &compositor.display,
        "probe",
        [0x40, 0x40, 0xc0, 0xff],
        (200, 100),
    );
    probe
        .wait(DEADLINE, |event| *event == ProbeEvent::Shown)
        .expect("the probe window");
    let window =
        compositor.wait_for_window("the probe window", |w| w.app_id.as_deref() == Some("probe"));
    assert_eq!(window.output.as_deref(), Some("HEADLESS-1"));
    compositor.request(Request::Move {
        id: window.id,
        x: 900,
        y: 100,
    });
    assert_eq!(
        probe.wait(DEADLINE, |event| matches!(event, ProbeEvent::Scale(_))),
        Some(ProbeEvent::Scale(2)),
        "moved onto the 2× output, the client is asked for 2× buffers"
    );
    assert_eq!(
        compositor.window(window.id).unwrap().output.as_deref(),
        Some("HEADLESS-2")
    );
    compositor.request(Request::Move {
        id: window.id,
        x: 100,
        y: 100,
    });
    assert_eq!(
        probe.wait(DEADLINE, |event| matches!(event, ProbeEvent::Scale(_))),
        Some(ProbeEvent::Scale(1))
    );
}

#[test]
fn spawned_apps_connect_to_this_compositor() {
    let compositor = Compositor::start();
    let Response::Spawned { pid } = compositor.request(Request::Spawn {
        command: vec!["weston-simple-shm".into()],
        env: vec![("DIGIOS_TEST_MARK".into(), "1".into())],
    }) else {
        panic!("not spawned");
    };
    let window = compositor.wait_for_window("the spawned window", |w| w.pid == Some(pid as i32));
    assert_eq!(
        window.app_id.as_deref(),
        Some("org.freedesktop.weston.simple-shm")
    );
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    assert!(environ.contains(&format!("WAYLAND_DISPLAY={}", compositor.display)));
    assert!(environ.contains("DIGIOS_TEST_MARK=1"));
    assert!(environ.contains(&format!(
        "DIGIOS_COMPOSITOR_SOCKET={}",
        compositor.control.display()
    )));
    compositor.request(Request::Close { id: window.id });
    compositor.wait_until("the spawned app to close", || {
        compositor.window(window.id).is_none().then_some(())
    });
}

#[test]
fn keyboard_shortcuts_switch_and_close_windows() {
    let mut compositor = Compositor::start();
    let first = compositor.simple_shm();
    let second = compositor.simple_shm();
    assert!(compositor.window(second.id).unwrap().focused);
    compositor.request(Request::KeyChord {
        keys: "alt+Tab".into(),
    });
    assert!(compositor.window(first.id).unwrap().focused);
    compositor.request(Request::KeyChord {
        keys: "super+q".into(),
    });
    compositor.wait_until("the focused window to close", || {
        compositor.window(first.id).is_none().then_some(())
    });
    assert!(compositor.window(second.id).unwrap().focused);
}

/// The window a window-changing request answered with.
fn changed(response: Response) -> digios_ipc::Window {
    match response {
        Response::Window { window } => window,
        other => panic!("expected the changed window, got {other:?}"),
    }
}
