//! Automation latency against the usual tools, measured in one run:
//! - capture with reticle through the control socket, against `grim` on
//!   sway (headless, pixman) and `grim` on digiOS;
//! - injected click → client receives the button, and injected key →
//!   client receives the key, against `wtype` on sway.
//!
//! Prints medians and ratios; asserts nothing. Sway refuses to run as root,
//! so it runs as `nobody` (setpriv); the tools and the probe client connect
//! to its socket as they are.

#[path = "../tests/support/mod.rs"]
mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use smithay::reexports::rustix::process::{Pid, Signal, kill_process};
use digios_ipc::{Button, CaptureRequest, CaptureTarget, ImageFormat, Request, Response};
use support::probe::{Probe, ProbeEvent};
use support::{Compositor, DEADLINE};

const RUNS: usize = 20;
const SIZE: (i32, i32) = (1280, 800);
const PROBE_SIZE: (i32, i32) = (400, 300);
/// `nobody`: sway refuses root.
const SWAY_UID: &str = "65534";

fn main() {
    let missing: Vec<&str> = ["sway", "grim", "wtype", "setpriv"]
        .into_iter()
        .filter(|tool| !on_path(tool))
        .collect();
    if !missing.is_empty() {
        println!("automation bench skipped: {} not installed", missing.join(", "));
        return;
    }
    let digios = Compositor::start_with(&["--size", "1280x800"]);
    let sway = Sway::start();

    println!("automation latency, {RUNS} runs each, median (p90)");
    let ours_capture = measure(|| capture_with_reticle(&digios));
    let grim_sway = measure(|| grim(&sway.runtime_dir, &sway.display));
    let grim_digios = measure(|| grim(digios.runtime_dir.path(), &digios.display));
    report("capture, PNG with reticle (control socket)", &ours_capture);
    report("grim on digiOS (wlr-screencopy)", &grim_digios);
    report("grim on sway", &grim_sway);
    ratio("capture: grim on sway / digiOS", &grim_sway, &ours_capture);

    let probe = Probe::start(
        digios.runtime_dir.path(),
        &digios.display,
        "digios-bench-probe",
        [0x20, 0x80, 0x20, 0xff],
        PROBE_SIZE,
    );
    probe
        .wait(DEADLINE, |event| *event == ProbeEvent::Shown)
        .expect("the probe window on digiOS");
    let window = digios.wait_for_window("the probe window", |window| {
        window.app_id.as_deref() == Some("digios-bench-probe")
    });
    let centre = (
        f64::from(window.geometry.x + window.geometry.width / 2),
        f64::from(window.geometry.y + window.geometry.height / 2),
    );
    digios.pointer_move(centre.0, centre.1);
    probe.wait(DEADLINE, |event| *event == ProbeEvent::PointerEntered);
    let mut client = digios.client();
    let ours_click = measure(|| {
        probe.drain();
        let start = Instant::now();
        client
            .request(&Request::Click {
                x: Some(centre.0),
                y: Some(centre.1),
                button: Button::Left,
                count: 1,
            })
            .expect("click");
        received(&probe, start, |event| {
            matches!(event, ProbeEvent::Button { pressed: true, .. })
        })
    });
    let ours_key = measure(|| {
        probe.drain();
        let start = Instant::now();
        client
            .request(&Request::Type { text: "a".into() })
            .expect("type");
        received(&probe, start, |event| {
            matches!(event, ProbeEvent::Key { pressed: true, .. })
        })
    });

    let sway_probe = Probe::start(
        &sway.runtime_dir,
        &sway.display,
        "digios-bench-probe",
        [0x20, 0x80, 0x20, 0xff],
        PROBE_SIZE,
    );
    sway_probe
        .wait(DEADLINE, |event| *event == ProbeEvent::KeyboardEntered)
        .expect("the probe window focused on sway");
    let wtype_key = measure(|| {
        sway_probe.drain();
        let start = Instant::now();
        let status = Command::new("wtype")
            .arg("a")
            .env("XDG_RUNTIME_DIR", &sway.runtime_dir)
            .env("WAYLAND_DISPLAY", &sway.display)
            .status()
            .expect("running wtype");
        assert!(status.success(), "wtype failed");
        received(&sway_probe, start, |event| {
            matches!(event, ProbeEvent::Key { pressed: true, .. })
        })
    });
    report("click → client has the button (control socket)", &ours_click);
    report("key → client has the key (control socket)", &ours_key);
    report("wtype a → client has the key, on sway", &wtype_key);
    ratio("input: wtype on sway / digiOS click", &wtype_key, &ours_click);
    ratio("input: wtype on sway / digiOS key", &wtype_key, &ours_key);
}

fn capture_with_reticle(compositor: &Compositor) -> Duration {
    let start = Instant::now();
    let response = compositor.request(Request::Capture(CaptureRequest {
        target: CaptureTarget::Screen,
        format: ImageFormat::Png,
        reticle: true,
        grid: None,
        marks: false,
    }));
    let elapsed = start.elapsed();
    assert!(matches!(response, Response::Image(_)), "capture failed");
    elapsed
}

/// A whole `grim` process writing a PNG, as a script would run it.
fn grim(runtime_dir: &Path, display: &str) -> Duration {
    let file = runtime_dir.join("bench-grim.png");
    let start = Instant::now();
    let status = Command::new("grim")
        .arg(&file)
        .env("XDG_RUNTIME_DIR", runtime_dir)
        .env("WAYLAND_DISPLAY", display)
        .stderr(Stdio::null())
        .status()
        .expect("running grim");
    let elapsed = start.elapsed();
    assert!(status.success(), "grim failed on {display}");
    elapsed
}

fn received(probe: &Probe, start: Instant, predicate: impl Fn(&ProbeEvent) -> bool) -> Duration {
    match probe.wait(DEADLINE, predicate) {
        Some(ProbeEvent::Button { at, .. } | ProbeEvent::Key { at, .. }) => at - start,
        other => panic!("the probe did not receive the input: {other:?}"),
    }
}

fn measure(mut run: impl FnMut() -> Duration) -> Vec<Duration> {
    // One warm-up run: first captures allocate and first processes load.
    run();
    let mut samples: Vec<Duration> = (0..RUNS).map(|_| run()).collect();
    samples.sort();
    samples
}

fn median(samples: &[Duration]) -> Duration {
    samples[samples.len() / 2]
}

fn report(what: &str, samples: &[Duration]) {
    let p90 = samples[(samples.len() * 9 / 10).min(samples.len() - 1)];
    println!(
        "  {what:<52} {:>8.2} ms ({:.2} ms)",
        median(samples).as_secs_f64() * 1000.0,
        p90.as_secs_f64() * 1000.0
    );
}

fn ratio(what: &str, anchor: &[Duration], ours: &[Duration]) {
    let ratio = median(anchor).as_secs_f64() / median(ours).as_secs_f64().max(1e-9);
    println!("  {what:<52} {ratio:>8.1}× (target ≥ 3×)");
}

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| dir.join(tool).is_file())
    })
}

/// sway on the headless wlroots backend with pixman, as `nobody`.
struct Sway {
    process: Child,
    _dir: tempfile::TempDir,
    runtime_dir: PathBuf,
    display: String,
}

impl Sway {
    fn start() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("digios-bench-sway")
            .tempdir()
            .expect("a temporary directory");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("opening the directory to nobody");
        let runtime_dir = dir.path().join("runtime");
        std::fs::create_dir(&runtime_dir).expect("the runtime directory");
        let config = dir.path().join("sway.conf");
        std::fs::write(
            &config,
            format!(
                "output HEADLESS-1 resolution {}x{}\ndefault_border none\n",
                SIZE.0, SIZE.1
            ),
        )
        .expect("the sway config");
        let chown = Command::new("chown")
            .args([&format!("{SWAY_UID}:{SWAY_UID}")])
            .arg(&runtime_dir)
            .status()
            .expect("chown");
        assert!(chown.success(), "chown of the runtime directory failed");
        std::fs::set_permissions(&runtime_dir, std::fs::Permissions::from_mode(0o700))
            .expect("runtime directory mode");
        let log = std::fs::File::create(dir.path().join("sway.log")).expect("the sway log");
        let process = Command::new("timeout")
            .args(["-s", "KILL", "600", "setpriv"])
            .args([
                &format!("--reuid={SWAY_UID}"),
                &format!("--regid={SWAY_UID}"),
                "--clear-groups",
                "sway",
                "--config",
            ])
            .arg(&config)
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .env("HOME", dir.path())
            .env("WLR_BACKENDS", "headless")
            .env("WLR_RENDERER", "pixman")
            .env("WLR_LIBINPUT_NO_DEVICES", "1")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting sway");
        let start = Instant::now();
        let display = loop {
            let socket = std::fs::read_dir(&runtime_dir).ok().and_then(|entries| {
                entries
                    .filter_map(|entry| entry.ok())
                    .map(|entry| entry.file_name().to_string_lossy().into_owned())
                    .find(|name| name.starts_with("wayland-") && !name.ends_with(".lock"))
            });
            if let Some(socket) = socket {
                break socket;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "sway did not start: {}",
                std::fs::read_to_string(dir.path().join("sway.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        // The socket exists before sway answers; let it finish starting.
        std::thread::sleep(Duration::from_millis(500));
        Self {
            process,
            _dir: dir,
            runtime_dir,
            display,
        }
    }
}

impl Drop for Sway {
    fn drop(&mut self) {
        // SIGTERM reaches sway through `timeout`; SIGKILL would stop only `timeout`.
        if let Some(pid) = Pid::from_raw(self.process.id() as i32) {
            let _ = kill_process(pid, Signal::TERM);
        }
        let _ = self.process.wait();
    }
}
