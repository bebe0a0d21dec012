//! `digios run`: the hosted supervisor starts the compositor, the agent, the
//! shell and (with its models) the voice service, restarts a service that
//! dies, and stops everything on SIGTERM.

use std::process::Stdio;
use std::time::{Duration, Instant};

use digios_tests::digios::{binary, command, listening_urls, model_cache_dir};

/// The shell's panel colour (egui's dark panel fill).
const PANEL_FILL: [u8; 3] = [27, 27, 27];

/// The share of the screen's top two rows painted in the panel's colour.
fn panel_share(http: &reqwest::blocking::Client, url: &str) -> f64 {
    let Ok(response) = http.get(format!("{url}/api/vision/screenshot")).send() else {
        return 0.0;
    };
    let Ok(bytes) = response.bytes() else {
        return 0.0;
    };
    let Ok(mut reader) = png::Decoder::new(std::io::Cursor::new(bytes)).read_info() else {
        return 0.0;
    };
    let mut pixels = vec![0; reader.output_buffer_size()];
    let Ok(info) = reader.next_frame(&mut pixels) else {
        return 0.0;
    };
    let channels = info.color_type.samples();
    let row = info.line_size;
    let top = &pixels[..row * 2.min(info.height as usize)];
    let total = top.len() / channels;
    let panel = top
        .chunks(channels)
        .filter(|p| p[..3] == PANEL_FILL)
        .count();
    panel as f64 / total.max(1) as f64
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn service_up(status: &serde_json::Value, name: &str) -> bool {
    status["services"]
        .as_array()
        .is_some_and(|list| list.iter().any(|s| s["name"] == name && s["state"] == "up"))
}

fn voice_models_present() -> bool {
    let models = model_cache_dir().join("models");
    [
        "ggml-tiny.en.bin",
        "en_US-joe-medium.onnx",
        "en_US-joe-medium.onnx.json",
        "libonnxruntime.so",
    ]
    .iter()
    .all(|file| models.join(file).exists())
}

fn children(pid: u32) -> Vec<(u32, String)> {
    let list =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    list.split_whitespace()
        .filter_map(|p| p.parse::<u32>().ok())
        .map(|child| {
            let cmdline = std::fs::read(format!("/proc/{child}/cmdline")).unwrap_or_default();
            (child, String::from_utf8_lossy(&cmdline).replace('\0', " "))
        })
        .collect()
}

#[test]
fn services_are_supervised_and_stopped() {
    let bin_dir = binary().parent().unwrap().to_path_buf();
    for program in ["digios-shell", "digios-voice"] {
        assert!(
            bin_dir.join(program).exists(),
            "{program} is missing beside digios: run `cargo build --workspace`"
        );
    }
    let voice = voice_models_present();
    let home = tempfile::tempdir().unwrap();
    let runtime = tempfile::tempdir().unwrap();
    let config = home.path().join("digios.toml");
    std::fs::write(&config, "[api]\nbind = \"127.0.0.1:0\"\n").unwrap();
    let mut run = command(home.path())
        .env("DIGIOS_CONFIG", &config)
        .env("XDG_RUNTIME_DIR", runtime.path())
        .args(["run", "--display", "wayland-run-test"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let urls = listening_urls(&mut run);
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let status_of = |url: &str| -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let status: serde_json::Value = http
                .get(format!("{url}/api/status"))
                .send()
                .unwrap()
                .json()
                .unwrap();
            if status["status"] == "ok" {
                return status;
            }
            assert!(Instant::now() < deadline, "never healthy: {status}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let first = urls
        .recv_timeout(Duration::from_secs(90))
        .expect("the agent never listened");
    let status = status_of(&first);
    assert!(
        status["services"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "compositor" && s["state"] == "up")
    );

    // The shell maps its panel across the top of the screen and is up.
    wait_for("the shell's panel", Duration::from_secs(120), || {
        panel_share(&http, &first) > 0.95
    });
    let status_now = || -> serde_json::Value {
        http.get(format!("{first}/api/status"))
            .send()
            .and_then(|r| r.json())
            .unwrap_or_default()
    };
    wait_for("the shell up", Duration::from_secs(30), || {
        service_up(&status_now(), "shell")
    });
    // The voice service runs when its models are there (no sound card is a
    // state of the service, not a crash).
    if voice {
        wait_for("the voice service up", Duration::from_secs(240), || {
            service_up(&status_now(), "voice")
        });
    }

    // A killed shell is restarted, and the compositor and agent live on.
    let find = |what: &str| {
        children(run.id())
            .into_iter()
            .find(|(_, cmd)| cmd.contains(what))
    };
    let agent_before = find(" agent").expect("an agent child");
    let compositor_before = find(" compositor").expect("a compositor child");
    let shell = find("digios-shell").expect("a shell child");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(shell.0 as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_for("a new shell", Duration::from_secs(60), || {
        find("digios-shell").is_some_and(|(pid, _)| pid != shell.0)
    });
    wait_for(
        "the restarted shell's panel",
        Duration::from_secs(120),
        || service_up(&status_now(), "shell") && panel_share(&http, &first) > 0.95,
    );
    assert_eq!(find(" agent").map(|c| c.0), Some(agent_before.0));
    assert_eq!(find(" compositor").map(|c| c.0), Some(compositor_before.0));
    let shell = find("digios-shell").expect("the restarted shell");

    let agent = children(run.id())
        .into_iter()
        .find(|(_, cmd)| cmd.contains(" agent"))
        .expect("an agent child");
    let compositor = children(run.id())
        .into_iter()
        .find(|(_, cmd)| cmd.contains(" compositor"))
        .expect("a compositor child");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(agent.0 as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let second = urls
        .recv_timeout(Duration::from_secs(90))
        .expect("the agent was not restarted");
    status_of(&second);
    // The compositor (the graphical session) lived through the agent's death.
    assert!(
        children(run.id())
            .iter()
            .any(|(pid, _)| *pid == compositor.0)
    );

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "digios run did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    assert!(
        !std::path::Path::new(&format!("/proc/{}", compositor.0)).exists() || {
            let stat =
                std::fs::read_to_string(format!("/proc/{}/stat", compositor.0)).unwrap_or_default();
            stat.contains(") Z")
        },
        "the compositor outlived digios run"
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{}", shell.0)).exists() || {
            let stat =
                std::fs::read_to_string(format!("/proc/{}/stat", shell.0)).unwrap_or_default();
            stat.contains(") Z")
        },
        "the shell outlived digios run"
    );
}
