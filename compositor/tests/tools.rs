//! Standard Wayland automation tools work against the compositor: `grim`
//! through wlr-screencopy and `wtype` through the virtual keyboard, and only
//! for privileged clients.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use digios_ipc::Request;
use support::{Compositor, FOOT_BACKGROUND, wait_for_file};

fn run_tool(compositor: &Compositor, program: &str, args: &[&str]) -> std::process::Output {
    Command::new("timeout")
        .args(["-s", "KILL", "30", program])
        .args(args)
        .env("XDG_RUNTIME_DIR", compositor.runtime_dir.path())
        .env("WAYLAND_DISPLAY", &compositor.display)
        .output()
        .unwrap_or_else(|err| panic!("running {program}: {err}"))
}

fn decode_png(path: &std::path::Path) -> (u32, u32, png::ColorType, Vec<u8>) {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    pixels.truncate(info.buffer_size());
    (info.width, info.height, info.color_type, pixels)
}

#[test]
fn grim_captures_the_same_pixels_as_the_control_socket() {
    let mut compositor = Compositor::start();
    let foot = compositor.foot("sleep 60");
    compositor.request(Request::Move {
        id: foot.id,
        x: 40,
        y: 60,
    });
    let path = compositor.runtime_dir.path().join("grim.png");
    let output = run_tool(&compositor, "grim", &[path.to_str().unwrap()]);
    assert!(
        output.status.success(),
        "grim failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (width, height, colour, pixels) = decode_png(&path);
    assert_eq!((width, height), (1280, 800));
    assert_eq!(colour, png::ColorType::Rgb);
    let ours = compositor.screen();
    let rgb_at = |x: i32, y: i32| {
        let at = ((y * 1280 + x) * 3) as usize;
        [pixels[at], pixels[at + 1], pixels[at + 2], 255]
    };
    assert_eq!(rgb_at(50, 70), FOOT_BACKGROUND);
    let mismatches = (0..800)
        .step_by(7)
        .flat_map(|y| (0..1280).step_by(5).map(move |x| (x, y)))
        .filter(|&(x, y)| rgb_at(x, y) != ours.at(x, y))
        .count();
    assert_eq!(mismatches, 0);

    let region = compositor.runtime_dir.path().join("region.png");
    let output = run_tool(
        &compositor,
        "grim",
        &["-g", "30,50 100x40", region.to_str().unwrap()],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (width, height, _, _) = decode_png(&region);
    assert_eq!((width, height), (100, 40));
}

#[test]
fn wtype_types_into_foot() {
    let mut compositor = Compositor::start();
    let file = compositor.runtime_dir.path().join("wtype.txt");
    compositor.foot(&format!("read x; echo \"$x\" > {}", file.display()));
    let output = run_tool(
        &compositor,
        "wtype",
        &["typed by wtype: ok", "-k", "Return"],
    );
    assert!(
        output.status.success(),
        "wtype failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(wait_for_file(&compositor, &file), "typed by wtype: ok\n");
    // Injected input through the control socket still uses the compositor's keymap afterwards.
    let second = compositor.runtime_dir.path().join("after.txt");
    compositor.foot(&format!("read x; echo \"$x\" > {}", second.display()));
    compositor.request(Request::Type {
        text: "after wtype\n".into(),
    });
    assert_eq!(wait_for_file(&compositor, &second), "after wtype\n");
}

#[test]
fn unprivileged_clients_get_no_automation_protocols() {
    let compositor = Compositor::start();
    // Let another user reach the socket at all.
    let runtime = compositor.runtime_dir.path();
    std::fs::set_permissions(runtime, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        runtime.join(&compositor.display),
        std::fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    let as_nobody = |program: &str, args: &[&str]| {
        Command::new("timeout")
            .args([
                "-s",
                "KILL",
                "30",
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
            ])
            .args(["--clear-groups", program])
            .args(args)
            .env("XDG_RUNTIME_DIR", runtime)
            .env("WAYLAND_DISPLAY", &compositor.display)
            .output()
            .expect("running setpriv (the test needs root to switch users)")
    };
    let grim = as_nobody("grim", &["/dev/null"]);
    assert!(
        !grim.status.success(),
        "grim must not capture as another user"
    );
    let stderr = String::from_utf8_lossy(&grim.stderr);
    assert!(stderr.contains("screencopy"), "grim said: {stderr}");
    let wtype = as_nobody("wtype", &["x"]);
    assert!(
        !wtype.status.success(),
        "wtype must not type as another user"
    );
    // The same tool as the compositor's own user works.
    let ok = run_tool(&compositor, "grim", &["/dev/null"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}
