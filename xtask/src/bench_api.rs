//! The API benchmark: `/api/status` and `/api/action` throughput and p99
//! latency with wrk, against the seed's Python shape (FastAPI on uvicorn)
//! measured in the same run on the same machine. Both servers stay up while
//! wrk runs alternate between them, so machine load hits both alike. It
//! prints, and asserts nothing; every step is bounded in time and every
//! process it starts is stopped with its children.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The anchor: the seed's API shape in Python. Like the seed's handlers, it
/// answers without acting; digiOS moves a real pointer through its compositor.
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

/// A path neither server routes.
const FLOOR_PATH: &str = "/api/no-such-route";

/// wrk settings shared by both servers.
const CONNECTIONS: u32 = 32;
/// With two cores or more, each server runs on this core alone and wrk on
/// the next, so the load generator does not take the servers' CPU; both
/// servers get the same single core.
const SERVER_CPU: usize = 0;
const WRK_CPU: usize = 1;
const SECONDS: u64 = 5;
/// Alternating wrk runs per route and server.
const ROUNDS: usize = 3;
/// How long a server may take to come up.
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// A child in its own process group, stopped with every process it started
/// (uvicorn's workers, the compositor's clients) when dropped: SIGTERM, then
/// SIGKILL after a grace period. Orphans would keep the caller's output
/// pipes open and make the benchmark look hung after it finished.
struct Group {
    child: Child,
    name: &'static str,
}

impl Group {
    fn spawn(mut command: Command, name: &'static str) -> Result<Self, String> {
        use std::os::unix::process::CommandExt;
        command.process_group(0).stdin(Stdio::null());
        let child = command.spawn().map_err(|e| format!("{name}: {e}"))?;
        Ok(Self { child, name })
    }

    fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!("{} exited ({status})", self.name)),
            _ => None,
        }
    }

    fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // The group's other members may outlive its leader.
        self.signal("-KILL");
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, Copy)]
struct Figures {
    requests_per_second: f64,
    p99_ms: f64,
    /// CPU time the server's processes spent per request, in microseconds.
    cpu_us_per_request: f64,
    /// The same for wrk itself.
    wrk_cpu_us_per_request: f64,
}

/// CPU seconds used so far by every process in the process groups `groups`.
fn groups_cpu_seconds(groups: &[u32]) -> f64 {
    let ticks_per_second = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| {
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(100.0);
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    let mut ticks = 0u64;
    for entry in entries.filter_map(Result::ok) {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // Fields after the command name, which may hold spaces: state, ppid, pgrp, ...
        let Some(rest) = stat.rfind(')').map(|end| &stat[end + 2..]) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let in_group = fields
            .get(2)
            .and_then(|g| g.parse::<u32>().ok())
            .is_some_and(|g| groups.contains(&g));
        if in_group {
            let field = |i: usize| {
                fields
                    .get(i)
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(0)
            };
            // utime and stime are fields 14 and 15 of the whole line.
            ticks += field(11) + field(12);
        }
    }
    ticks as f64 / ticks_per_second
}

/// CPU seconds of this process's children that have been waited for: the
/// servers are reaped only at the end, so across one wrk run it grows by
/// wrk's own time.
fn reaped_children_cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        if libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) != 0 {
            return 0.0;
        }
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Measures `digios` (the release build, what ships) against FastAPI.
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

    eprintln!("xtask: bench api: starting digiOS (compositor + agent) and FastAPI/uvicorn");
    let (ours, compositor, agent) = start_digios(digios, work)?;
    let (theirs, uvicorn) = start_fastapi(venv, work)?;
    let groups = [
        vec![compositor.child.id(), agent.child.id()],
        vec![uvicorn.child.id()],
    ];

    // The unrouted path is each server's floor: the least any route of it
    // can cost, its framework's and the kernel's share of every request.
    let routes: [(&str, &str, Option<&PathBuf>); 3] = [
        ("GET /api/status", "/api/status", None),
        (
            "POST /api/action (move_pointer)",
            "/api/action",
            Some(&script),
        ),
        ("GET an unrouted path (404, floor)", FLOOR_PATH, None),
    ];
    let mut figures: Vec<[Vec<Figures>; 2]> = routes.iter().map(|_| Default::default()).collect();
    for round in 1..=ROUNDS {
        for (index, (label, path, script)) in routes.iter().enumerate() {
            for (side, base) in [&ours, &theirs].into_iter().enumerate() {
                let who = ["digiOS", "FastAPI"][side];
                eprintln!("xtask: bench api: round {round}/{ROUNDS}: {label} on {who}");
                figures[index][side].push(wrk(&format!("{base}{path}"), *script, &groups[side])?);
            }
        }
    }

    println!(
        "API benchmark: release digiOS vs FastAPI/uvicorn ({} worker(s)), wrk -t1 -c{CONNECTIONS} -d{SECONDS}s, \
         {ROUNDS} alternating runs each (median, [min-max]); loopback, same machine and run",
        uvicorn_workers()
    );
    if pinned() {
        println!(
            "  cores: each server (digiOS's compositor and agent; uvicorn) confined to core {SERVER_CPU}, wrk to core {WRK_CPU}"
        );
    }
    println!(
        "  note: the FastAPI anchor does what the seed's Python did: /api/action answers without acting. \
         digiOS checks the kill switch and the safety policy and moves the compositor's pointer on every request \
         (concurrent moves reach the compositor in batches, each carried out)."
    );
    println!(
        "  note: loopback TCP costs both servers several microseconds of kernel time per request, and wrk's own \
         CPU per request caps what one wrk thread can drive; server CPU per request (all its processes) shows each \
         server's cost without that cap."
    );
    println!(
        "  note: the unrouted path answers 404 at once on both servers; its CPU per request is the floor under \
         every route, so a route's ratio can exceed the floors' ratio only where FastAPI's route costs more than \
         its floor."
    );
    for (index, (label, path, _)) in routes.iter().enumerate() {
        let [ours, theirs] = &figures[index];
        let ours_cpu = median(ours.iter().map(|f| f.cpu_us_per_request));
        let theirs_cpu = median(theirs.iter().map(|f| f.cpu_us_per_request));
        let ours_rps = median(ours.iter().map(|f| f.requests_per_second));
        let theirs_rps = median(theirs.iter().map(|f| f.requests_per_second));
        println!(
            "  {label}: digiOS {} req/s, p99 {} ms, {ours_cpu:.1} CPU-us/req (wrk {:.1}) | FastAPI {} req/s, p99 {} ms, \
             {theirs_cpu:.1} CPU-us/req | throughput {:.1}x (target >= 10x): {}; CPU per request {:.1}x less",
            spread(ours.iter().map(|f| f.requests_per_second), 0),
            spread(ours.iter().map(|f| f.p99_ms), 2),
            median(ours.iter().map(|f| f.wrk_cpu_us_per_request)),
            spread(theirs.iter().map(|f| f.requests_per_second), 0),
            spread(theirs.iter().map(|f| f.p99_ms), 2),
            ours_rps / theirs_rps,
            if *path == FLOOR_PATH {
                "no target"
            } else if ours_rps >= 10.0 * theirs_rps {
                "met"
            } else {
                "not met"
            },
            theirs_cpu / ours_cpu,
        );
    }
    Ok(())
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn spread(values: impl Iterator<Item = f64> + Clone, decimals: usize) -> String {
    let min = values.clone().fold(f64::INFINITY, f64::min);
    let max = values.clone().fold(f64::NEG_INFINITY, f64::max);
    format!(
        "{:.decimals$} [{min:.decimals$}-{max:.decimals$}]",
        median(values)
    )
}

fn start_digios(digios: &Path, work: &Path) -> Result<(String, Group, Group), String> {
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
    let mut command = server_command(digios);
    command
        .arg("--config")
        .arg(&config)
        .args([
            "compositor",
            "--headless",
            "--no-xwayland",
            "--socket-name",
            "wayland-digios-bench",
        ])
        .arg("--control-socket")
        .arg(&control)
        .env("XDG_RUNTIME_DIR", &runtime)
        .stdout(Stdio::null());
    let mut compositor = Group::spawn(command, "digios compositor")?;
    let deadline = Instant::now() + START_TIMEOUT;
    while std::os::unix::net::UnixStream::connect(&control).is_err() {
        if let Some(exit) = compositor.exited() {
            return Err(exit);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the compositor's control socket did not appear within {START_TIMEOUT:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut command = server_command(digios);
    command
        .arg("--config")
        .arg(&config)
        .args(["agent", "--bind", "127.0.0.1:0"])
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("WAYLAND_DISPLAY", "wayland-digios-bench")
        .env("DIGIOS_COMPOSITOR_SOCKET", &control)
        .stdout(Stdio::piped());
    let mut agent = Group::spawn(command, "digios agent")?;
    let stdout = agent.child.stdout.take().ok_or("agent stdout")?;
    // Read on a thread so a silent agent cannot block the benchmark; the
    // thread keeps draining stdout so the agent never writes into a full pipe.
    let (found, address) = mpsc::channel();
    std::thread::spawn(move || {
        let mut found = Some(found);
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("digios-agent listening on ")
                && let Some(found) = found.take()
            {
                let _ = found.send(url.to_string());
            }
        }
    });
    let url = address.recv_timeout(START_TIMEOUT).map_err(|_| {
        agent.exited().unwrap_or_else(|| {
            format!("the agent did not report its address within {START_TIMEOUT:?}")
        })
    })?;
    wait_ready(&format!("{url}/api/status"))?;
    Ok((url, compositor, agent))
}

fn start_fastapi(venv: &Path, work: &Path) -> Result<(String, Group), String> {
    std::fs::write(work.join("seed_api.py"), FASTAPI_APP).map_err(|e| e.to_string())?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let mut command = server_command(&venv.join("bin/uvicorn"));
    command
        .args([
            "seed_api:app",
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
        ])
        // One process per core it may use, as one would deploy it.
        .args([
            "--workers",
            &uvicorn_workers().to_string(),
            "--no-access-log",
            "--log-level",
            "warning",
        ])
        .current_dir(work)
        .stdout(Stdio::null());
    let child = Group::spawn(command, "uvicorn")?;
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(&format!("{url}/api/status"))?;
    Ok((url, child))
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The servers' core is the lower one.
fn pinned() -> bool {
    cores() > WRK_CPU
}

fn uvicorn_workers() -> usize {
    if pinned() { 1 } else { cores() }
}

/// `program`, confined to the servers' core when there are cores to spare
/// (taskset, util-linux). A confined tokio runtime sizes itself to that core.
fn server_command(program: &Path) -> Command {
    pinned_command(program.as_os_str(), SERVER_CPU)
}

fn pinned_command(program: &std::ffi::OsStr, cpu: usize) -> Command {
    if !pinned() {
        return Command::new(program);
    }
    let mut command = Command::new("taskset");
    command.arg("--cpu-list").arg(cpu.to_string()).arg(program);
    command
}

fn wait_ready(url: &str) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let ok = run_wrk(&["-t1", "-c1", "-d1s", url], Duration::from_secs(15))
            .is_ok_and(|text| !text.contains("Non-2xx") && !text.contains("Socket errors"));
        if ok {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{url} did not answer within {START_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Runs wrk, killed if it outlives `limit`; its stdout.
fn run_wrk(args: &[&str], limit: Duration) -> Result<String, String> {
    let mut command = pinned_command("wrk".as_ref(), WRK_CPU);
    command
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut wrk = Group::spawn(command, "wrk (Debian package wrk)")?;
    let stdout = wrk.child.stdout.take().ok_or("wrk stdout")?;
    let (done, output) = mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut BufReader::new(stdout), &mut text);
        let _ = done.send(text);
    });
    let text = output
        .recv_timeout(limit)
        .map_err(|_| format!("wrk {} did not finish within {limit:?}", args.join(" ")))?;
    match wrk.child.wait() {
        Ok(status) if status.success() => Ok(text),
        Ok(status) => Err(format!("wrk {} failed ({status}):\n{text}", args.join(" "))),
        Err(err) => Err(format!("wrk: {err}")),
    }
}

fn wrk(url: &str, script: Option<&PathBuf>, server: &[u32]) -> Result<Figures, String> {
    let connections = format!("-c{CONNECTIONS}");
    let duration = format!("-d{SECONDS}s");
    let mut args = vec![
        "-t1",
        &connections,
        &duration,
        "--timeout",
        "5s",
        "--latency",
    ];
    let script_arg;
    if let Some(script) = script {
        script_arg = script.display().to_string();
        args.extend(["-s", &script_arg]);
    }
    args.push(url);
    let cpu_before = groups_cpu_seconds(server);
    let wrk_before = reaped_children_cpu_seconds();
    let text = run_wrk(&args, Duration::from_secs(SECONDS + 30))?;
    let cpu = groups_cpu_seconds(server) - cpu_before;
    let wrk_cpu = reaped_children_cpu_seconds() - wrk_before;
    if text.contains("Non-2xx") && !url.ends_with(FLOOR_PATH) {
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
    let requests: f64 = text
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.trim().parse().ok())
        .ok_or_else(|| format!("no request count in wrk's output:\n{text}"))?;
    Ok(Figures {
        requests_per_second,
        p99_ms,
        cpu_us_per_request: cpu * 1e6 / requests.max(1.0),
        wrk_cpu_us_per_request: wrk_cpu * 1e6 / requests.max(1.0),
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
