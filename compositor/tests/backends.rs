//! Backend selection: `auto` falls back to headless with neither a session
//! nor a GPU, and a backend whose device is missing fails with an error that
//! names the fallback instead of panicking.

use std::process::{Command, Stdio};

use std::time::Duration;

use smithay::reexports::rustix::process::{Pid, Signal, kill_process};

fn compositor(backend: &str, runtime_dir: &std::path::Path) -> Command {
    let mut command = Command::new("timeout");
    command
        .args(["-s", "KILL", "60"])
        .arg(env!("CARGO_BIN_EXE_digios-compositor"))
        .args([
            "--backend",
            backend,
            "--no-xwayland",
            "--socket-name",
            "wl-backend-test",
        ])
        .env("XDG_RUNTIME_DIR", runtime_dir)
        .env("DIGIOS_LOG", "info")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("DISPLAY")
        .stdin(Stdio::null());
    command
}

fn has_gpu() -> bool {
    std::fs::read_dir("/dev/dri").is_ok_and(|entries| {
        entries
            .filter_map(|entry| entry.ok())
            .any(|entry| entry.file_name().to_string_lossy().starts_with("card"))
    })
}

#[test]
fn drm_without_a_gpu_fails_naming_the_fallback() {
    if has_gpu() {
        eprintln!("skipped: this machine has a GPU");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let output = compositor("drm", dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("/dev/dri/card*"), "{stderr}");
    assert!(stderr.contains("--backend headless"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn winit_without_a_session_fails_naming_the_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let output = compositor("winit", dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--backend headless"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn auto_without_a_session_or_gpu_runs_headless() {
    if has_gpu() {
        eprintln!("skipped: this machine has a GPU");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let mut child = compositor("auto", dir.path())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let ready = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("compositor ready") || std::time::Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // SIGTERM reaches the compositor through `timeout`.
    if let Some(pid) = Pid::from_raw(child.id() as i32) {
        let _ = kill_process(pid, Signal::TERM);
    }
    let _ = child.wait();
    let line = ready
        .lines()
        .find(|line| line.contains("compositor ready"))
        .unwrap_or_default();
    assert!(line.contains("\"headless\""), "{ready}");
}
