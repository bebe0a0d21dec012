//! schemathesis fuzzes the API from its own OpenAPI document against a real
//! headless compositor and agent: no request may get a 5xx, and both
//! processes must stay up. The policy denies every action that could start
//! programs or touch files, so generated requests cannot run arbitrary
//! commands on this machine. `/api/windows` links its ids to the window
//! routes, so the stateful phase acts on a real window.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use digios_tests::digios::{python_tool, start_desktop_with_config};
use digios_tests::voice::{socket_in, start_voice};

/// Fewer than this many generated requests would not be a real fuzz.
const MIN_REQUESTS: u64 = 1_000;
/// The whole run is bounded; schemathesis stops itself at `--max-time`
/// (about 100 requests a second here, so well past `MIN_REQUESTS`).
const MAX_SECONDS: u64 = 45;

const CONFIG: &str = r#"
[api]
rate_limit_per_second = 100000
rate_limit_burst = 100000

[actions]
file_roots = ["~/sandbox"]

[policy]
rules = [
    { action = "launch_app", verdict = "deny" },
    { action = "spawn_*", verdict = "deny" },
    { action = "run_*", verdict = "deny" },
    { action = "*shell*", verdict = "deny" },
    { action = "signal_*", verdict = "deny" },
    { action = "*_file", verdict = "deny" },
]
"#;

#[test]
fn generated_requests_get_no_server_error() {
    let mut desktop = start_desktop_with_config(CONFIG);
    // A real window, so the links from /api/windows hand out real ids.
    let mut client = Command::new("weston-simple-shm")
        .env("XDG_RUNTIME_DIR", desktop.runtime_dir.path())
        .env("WAYLAND_DISPLAY", &desktop.wayland_display)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("weston-simple-shm (Debian package weston)");
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let windows: serde_json::Value = http
            .get(format!("{}/api/windows", desktop.url))
            .send()
            .unwrap()
            .json()
            .unwrap();
        if windows.as_array().is_some_and(|w| !w.is_empty()) {
            break;
        }
        assert!(Instant::now() < deadline, "no window appeared");
        std::thread::sleep(Duration::from_millis(100));
    }

    // The voice routes answer from the real voice service.
    let _voice = start_voice(&socket_in(desktop.runtime_dir.path()), &desktop.url);

    let report = tempfile::tempdir().unwrap();
    let seed = std::env::var("DIGIOS_FUZZ_SEED").unwrap_or_else(|_| "20261128".into());
    let mut fuzz = Command::new(python_tool("schemathesis"))
        .arg("run")
        .arg(format!("{}/api/openapi.json", desktop.url))
        .args(["--checks", "not_a_server_error"])
        .args(["--phases", "examples,coverage,fuzzing,stateful"])
        .args(["--max-examples", "30"])
        // A pull downloads from the internet; the loopback test
        // `api_memory_models` covers that route.
        .args(["--exclude-operation-id", "pull_model"])
        // WAV bodies schemathesis cannot generate, a microphone CI lacks, and
        // speech synthesis of arbitrary text, which would eat the time bound;
        // tests/voice.rs covers their bad input.
        .args(["--exclude-path", "/api/voice/transcribe"])
        .args(["--exclude-path", "/api/voice/converse"])
        .args(["--exclude-path", "/api/voice/listen"])
        .args(["--exclude-path", "/api/voice/speak"])
        // Suite runs and improvement cycles start compositors and the model
        // for minutes; tests/eval.rs and tests/improve*.rs cover them.
        .args(["--exclude-operation-id", "start_eval_run"])
        .args(["--exclude-operation-id", "start_cycle"])
        .args(["--workers", "1"])
        .args(["--seed", &seed])
        .args(["--max-time", &MAX_SECONDS.to_string()])
        .args(["--request-timeout", "30"])
        .args(["--suppress-health-check", "all"])
        .args(["--report", "ndjson"])
        .arg("--report-ndjson-path")
        .arg(report.path().join("events.ndjson"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .env("SCHEMATHESIS_TELEMETRY", "false")
        // Its cache directory goes beside the report, not into the source tree.
        .current_dir(report.path())
        .spawn()
        .expect("start schemathesis");
    let mut output = String::new();
    let reader = std::thread::spawn({
        let mut stdout = fuzz.stdout.take().unwrap();
        move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        }
    });
    let hard_deadline = Instant::now() + Duration::from_secs(MAX_SECONDS + 120);
    let status = loop {
        if let Some(status) = fuzz.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > hard_deadline {
            let _ = fuzz.kill();
            panic!("schemathesis ran past {MAX_SECONDS} s plus grace");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    output.push_str(&reader.join().unwrap());
    println!("{output}");

    let events = std::fs::read_to_string(report.path().join("events.ndjson")).unwrap_or_default();
    let requests = count_requests(&events);
    println!("schemathesis sent {requests} requests (seed {seed})");

    assert!(
        desktop.compositor.child.try_wait().unwrap().is_none(),
        "the compositor died under the fuzz"
    );
    assert!(
        desktop.agent.child.try_wait().unwrap().is_none(),
        "the agent died under the fuzz"
    );
    let status_after = http
        .get(format!("{}/api/status", desktop.url))
        .send()
        .unwrap();
    assert_eq!(status_after.status(), 200);
    assert!(
        status.success(),
        "schemathesis found failures ({status}); see its report above"
    );
    assert!(
        requests >= MIN_REQUESTS,
        "only {requests} requests were generated; at least {MIN_REQUESTS} expected"
    );
    let _ = client.kill();
    let _ = client.wait();
    let _ = desktop.agent.child.kill();
}

/// Requests recorded in schemathesis's NDJSON event stream: every HTTP
/// interaction appears as a `"response"` with its status.
fn count_requests(ndjson: &str) -> u64 {
    ndjson
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|event| count_in(&event))
        .sum()
}

fn count_in(value: &serde_json::Value) -> u64 {
    match value {
        serde_json::Value::Object(map) => {
            let here = u64::from(
                map.contains_key("request")
                    && map.contains_key("response")
                    && map.get("response").is_some_and(|r| r.is_object()),
            );
            here + map.values().map(count_in).sum::<u64>()
        }
        serde_json::Value::Array(items) => items.iter().map(count_in).sum(),
        _ => 0,
    }
}
