//! Starts digiOS's services as child processes of this `digios`, in
//! dependency order, restarts any that die (with backoff), and stops them
//! all on SIGTERM or SIGINT. The same supervisor runs hosted (`digios run`)
//! and, later, under init.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// One supervised service: a `digios` subcommand and what must hold before it starts.
pub struct Service {
    pub name: &'static str,
    pub args: Vec<String>,
    pub env: Vec<(String, PathBuf)>,
    /// A Unix socket that must accept connections before the service counts as started.
    pub ready_socket: Option<PathBuf>,
}

struct Running {
    service: Service,
    child: Option<Child>,
    restarts: u32,
    next_start: Instant,
    started_at: Instant,
}

/// A service that stays up this long has its backoff reset.
const STABLE_AFTER: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const READY_TIMEOUT: Duration = Duration::from_secs(60);

pub fn run(services: Vec<Service>) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    let exe = std::env::current_exe()?;
    let mut running: Vec<Running> = Vec::new();
    for service in services {
        // Dependency order: each service is ready before the next starts.
        let child = start(&exe, &service)?;
        if let Some(socket) = &service.ready_socket {
            wait_ready(socket, &stop)?;
        }
        tracing::info!(service = service.name, "started");
        running.push(Running {
            service,
            child: Some(child),
            restarts: 0,
            next_start: Instant::now(),
            started_at: Instant::now(),
        });
    }
    while !stop.load(Ordering::Relaxed) {
        for entry in &mut running {
            supervise(&exe, entry);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    tracing::info!("stopping services");
    for entry in running.iter_mut().rev() {
        if let Some(child) = entry.child.as_mut() {
            terminate(child, Duration::from_secs(5));
        }
    }
    Ok(())
}

fn supervise(exe: &Path, entry: &mut Running) {
    if let Some(child) = entry.child.as_mut() {
        match child.try_wait() {
            Ok(None) => {
                if entry.started_at.elapsed() > STABLE_AFTER {
                    entry.restarts = 0;
                }
                return;
            }
            Ok(Some(status)) => {
                let backoff = backoff(entry.restarts);
                tracing::warn!(service = entry.service.name, %status, ?backoff, "exited; restarting");
                entry.child = None;
                entry.next_start = Instant::now() + backoff;
                entry.restarts += 1;
            }
            Err(err) => {
                tracing::error!(service = entry.service.name, "cannot wait for it: {err}");
                return;
            }
        }
    }
    if entry.child.is_none() && Instant::now() >= entry.next_start {
        match start(exe, &entry.service) {
            Ok(child) => {
                entry.child = Some(child);
                entry.started_at = Instant::now();
            }
            Err(err) => {
                tracing::error!(service = entry.service.name, "cannot start: {err}");
                entry.next_start = Instant::now() + backoff(entry.restarts);
                entry.restarts += 1;
            }
        }
    }
}

fn backoff(restarts: u32) -> Duration {
    (Duration::from_millis(250) * 2u32.saturating_pow(restarts.min(8))).min(MAX_BACKOFF)
}

fn start(exe: &Path, service: &Service) -> std::io::Result<Child> {
    let mut command = Command::new(exe);
    command.args(&service.args);
    for (key, value) in &service.env {
        command.env(key, value);
    }
    command.spawn()
}

fn wait_ready(socket: &Path, stop: &AtomicBool) -> anyhow::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    while std::os::unix::net::UnixStream::connect(socket).is_err() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "{} did not accept connections within {READY_TIMEOUT:?}",
            socket.display()
        );
        anyhow::ensure!(!stop.load(Ordering::Relaxed), "stopped while starting");
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// SIGTERM, then SIGKILL if the child has not exited within `grace`.
fn terminate(child: &mut Child, grace: Duration) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}
