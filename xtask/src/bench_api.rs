//! The API benchmark: `/api/status` and `/api/action` throughput and p99
//! latency with wrk, against the seed's Python shape (FastAPI on uvicorn)
//! measured in the same run on the same machine. It prints, and asserts nothing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The anchor: the seed's API shape in Python. It answers without acting
/// (as the seed did); digiOS moves a real pointer through its compositor.
const FASTAPI_APP: &str = r#"
import time
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()
started = time.monotonic()


class ActionRequest(BaseModel):
    action_type: str
    params: dict[str, Any] = {}


@app.get("/api/status")
async def status():
    return {
        "status": "ok",
        "version": "0.1.0",
        "uptime_seconds": time.monotonic() - started,
        "services": [{"name": "api", "state": "up"}, {"name": "compositor", "state": "up"}],
    }


@app.post("/api/action")
async def action(request: ActionRequest):
    return {"action_type": request.action_type,
            "result": {"x": request.params.get("x"), "y": request.params.get("y")}}
"#;

const ACTION_SCRIPT: &str = r#"
wrk.method = "POST"
wrk.body = '{"action_type": "move_pointer", "params": {"x": 100, "y": 100}}'
wrk.headers["Content-Type"] = "application/json"
"#;

/// wrk settings shared by both servers.
const CONNECTIONS: &str = "32";
const SECONDS: &str = "10s";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(Debug, Clone, Copy)]
struct Figures {
    requests_per_second: f64,
    p99_ms: f64,
}

pub fn run(digios: &Path, venv: &Path) -> Result<(), String> {
    let work = std::env::temp_dir().join(format!("digios-bench-api-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;
    let result = measure(digios, venv, &work);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn measure(digios: &Path, venv: &Path, work: &Path) -> Result<(), String> {
    let script = work.join("action.lua");
    std::fs::write(&script, ACTION_SCRIPT).map_err(|e| e.to_string())?;

    let (ours, _compositor, _agent) = start_digios(digios, work)?;
    let status = wrk(&format!("{ours}/api/status"), None)?;
    let action = wrk(&format!("{ours}/api/action"), Some(&script))?;
    drop((_compositor, _agent));

    let (theirs, _uvicorn) = start_fastapi(venv, work)?;
    let status_py = wrk(&format!("{theirs}/api/status"), None)?;
    let action_py = wrk(&format!("{theirs}/api/action"), Some(&script))?;

    println!("API benchmark: wrk -t1 -c{CONNECTIONS} -d{SECONDS}, loopback, same machine and run");
    for (route, ours, theirs) in [
        ("GET /api/status", status, status_py),
        ("POST /api/action (move_pointer)", action, action_py),
    ] {
        println!(
            "  {route}: digiOS {:.0} req/s, p99 {:.2} ms | FastAPI/uvicorn {:.0} req/s, p99 {:.2} ms | \
             throughput {:.1}x, p99 {:.1}x lower (target >= 10x throughput)",
            ours.requests_per_second,
            ours.p99_ms,
            theirs.requests_per_second,
            theirs.p99_ms,
            ours.requests_per_second / theirs.requests_per_second,
            theirs.p99_ms / ours.p99_ms,
        );
    }
    Ok(())
}

fn start_digios(digios: &Path, work: &Path) -> Result<(String, Killed, Killed), String> {
    let runtime = work.join("runtime");
    std::fs::create_dir_all(&runtime).map_err(|e| e.to_string())?;
    let control = runtime.join("control.sock");
    let config = work.join("digios.toml");
    // The per-connection rate limit would measure itself, not the server.
    std::fs::write(
        &config,
        format!(
            "[paths]\ndata_dir = {:?}\n\n[api]\nrate_limit_per_second = 10000000\nrate_limit_burst = 10000000\n\n[log]\nfilter = \"warn\"\n",
            work.join("data")
        ),
    )
    .map_err(|e| e.to_string())?;
    let compositor = Killed(
        Command::new(digios)
            .arg("--config")
            .arg(&config)
            .args([
                "compositor",
                "--headless",
                "--socket-name",
                "wayland-digios-bench",
            ])
            .arg("--control-socket")
            .arg(&control)
            .env("XDG_RUNTIME_DIR", &runtime)
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("digios compositor: {e}"))?,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::os::unix::net::UnixStream::connect(&control).is_err() {
        if Instant::now() > deadline {
            return Err("the compositor's control socket did not appear".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut agent = Command::new(digios)
        .arg("--config")
        .arg(&config)
        .args(["agent", "--bind", "127.0.0.1:0"])
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("WAYLAND_DISPLAY", "wayland-digios-bench")
        .env("DIGIOS_COMPOSITOR_SOCKET", &control)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("digios agent: {e}"))?;
    let stdout = agent.stdout.take().ok_or("agent stdout")?;
    let agent = Killed(agent);
    let url = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|line| {
            line.strip_prefix("digios-agent listening on ")
                .map(str::to_string)
        })
        .ok_or("the agent never reported its address")?;
    wait_ready(&format!("{url}/api/status"))?;
    Ok((url, compositor, agent))
}

fn start_fastapi(venv: &Path, work: &Path) -> Result<(String, Killed), String> {
    std::fs::write(work.join("seed_api.py"), FASTAPI_APP).map_err(|e| e.to_string())?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let child = Command::new(venv.join("bin/uvicorn"))
        .args([
            "seed_api:app",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        // As many processes as the machine has cores, as one would deploy it.
        .args([
            "--workers",
            &cores().to_string(),
            "--no-access-log",
            "--log-level",
            "warning",
        ])
        .current_dir(work)
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("uvicorn: {e}"))?;
    let url = format!("http://127.0.0.1:{port}");
    let child = Killed(child);
    wait_ready(&format!("{url}/api/status"))?;
    Ok((url, child))
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn wait_ready(url: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ok = Command::new("wrk")
            .args(["-t1", "-c1", "-d1s", url])
            .output()
            .is_ok_and(|out| {
                let text = String::from_utf8_lossy(&out.stdout);
                out.status.success() && !text.contains("Non-2xx") && !text.contains("Socket errors")
            });
        if ok {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{url} did not answer within 60 s"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn wrk(url: &str, script: Option<&PathBuf>) -> Result<Figures, String> {
    let mut command = Command::new("wrk");
    command.args([
        "-t1",
        &format!("-c{CONNECTIONS}"),
        &format!("-d{SECONDS}"),
        "--latency",
    ]);
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    let output = command
        .arg(url)
        .output()
        .map_err(|e| format!("wrk (Debian package wrk): {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if text.contains("Non-2xx") {
        return Err(format!("{url} answered errors under load:\n{text}"));
    }
    let requests_per_second = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no Requests/sec in wrk's output:\n{text}"))?;
    let p99_ms = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .and_then(|v| parse_duration_ms(v.trim()))
        .ok_or_else(|| format!("no 99% latency in wrk's output:\n{text}"))?;
    Ok(Figures {
        requests_per_second,
        p99_ms,
    })
}

/// wrk prints `812.00us`, `3.25ms` or `1.02s`.
fn parse_duration_ms(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    match unit {
        "us" => Some(value / 1000.0),
        "ms" => Some(value),
        "s" => Some(value * 1000.0),
        "m" => Some(value * 60_000.0),
        _ => None,
    }
}
