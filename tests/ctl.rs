//! `digios ctl` as a client of the public API, and `digios compositor msg`
//! on the control socket, each a real process against a real desktop.

use std::process::Output;

use digios_tests::digios::{self, Desktop, command, start_desktop};
use serde_json::Value;

fn ctl(desktop: &Desktop, args: &[&str]) -> Output {
    digios::ctl(&desktop.url, args)
}

fn ctl_json(desktop: &Desktop, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&digios::ctl_ok(&desktop.url, &all)).unwrap()
}

#[test]
fn ctl_drives_digios_through_the_api() {
    let desktop = start_desktop();

    let status = ctl_json(&desktop, &["status"]);
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    let text = ctl(&desktop, &["status"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("api: up"));

    let moved = ctl_json(
        &desktop,
        &["action", "move_pointer", r#"{"x": 40, "y": 30}"#],
    );
    assert_eq!(moved["result"]["x"], 40.0);

    // A typed error from the API is a failure with its code on stderr.
    let bad = ctl(&desktop, &["action", "teleport"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown_action"));

    let windows = ctl_json(&desktop, &["windows"]);
    assert!(windows.is_array());

    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("screen.png");
    ctl_json(
        &desktop,
        &["screenshot", "--reticle", "-o", shot.to_str().unwrap()],
    );
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    let set = ctl_json(
        &desktop,
        &["memory", "set", "preference", "editor", "helix"],
    );
    assert_eq!(set["value"], "helix");
    let facts = ctl(&desktop, &["memory", "facts"]);
    assert!(String::from_utf8_lossy(&facts.stdout).contains("editor\thelix"));

    // The compositor's own socket stays reachable for debugging.
    let home = tempfile::tempdir().unwrap();
    let output = command(home.path())
        .args(["compositor", "msg", "--json", "--socket"])
        .arg(&desktop.control_socket)
        .arg("version")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let version: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(version["compositor"].is_string(), "{version}");
}
