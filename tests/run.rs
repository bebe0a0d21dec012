//! `digios run`: the hosted supervisor starts the compositor and the agent,
//! restarts a service that dies, and stops everything on SIGTERM.

use std::process::Stdio;
use std::time::{Duration, Instant};

use digios_tests::digios::{command, listening_urls};

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
}
