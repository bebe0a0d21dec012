//! Starts digiOS's services as child processes, in dependency order,
//! restarts any that die (with backoff), and stops them in reverse order.
//! The same supervisor runs hosted (`digios run`) and under `digios init`.
//!
//! Children are tracked by pid and reaped with `waitpid(-1)`: as PID 1 this
//! process also inherits orphans, and one reaper must see every exit.

mod logs;
pub mod status;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

pub use logs::LogSink;
pub use status::{ServiceReport, StatusFile};

/// When a started service counts as ready, so the next one may start.
#[derive(Debug, Clone)]
pub enum Ready {
    /// As soon as it runs.
    Started,
    /// When this Unix socket accepts connections.
    Socket(PathBuf),
    /// When this TCP address accepts connections (the agent's API).
    Tcp(std::net::SocketAddr),
}

/// Whether a service runs for the life of the system or once per boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Restarted whenever it exits.
    Daemon,
    /// Runs to completion before later services start; restarted only on failure,
    /// at most `ONESHOT_ATTEMPTS` times.
    Oneshot,
}

/// One supervised service.
#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    /// The program; `None` runs this same `digios` binary.
    pub program: Option<PathBuf>,
    pub args: Vec<String>,
    pub env: Vec<(String, OsString)>,
    pub ready: Ready,
    pub kind: Kind,
    /// Give it the console (stdin, stdout, stderr) instead of capturing its
    /// output: for interactive first-boot setup.
    pub console: bool,
}

impl Service {
    /// A `digios` subcommand run as a daemon.
    pub fn digios(name: &str, args: &[&str]) -> Self {
        Self {
            name: name.into(),
            program: None,
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
            ready: Ready::Started,
            kind: Kind::Daemon,
            console: false,
        }
    }

    /// A separate program run as a daemon: `binary` beside this `digios`
    /// binary when it is there (a build tree, `/usr/bin`), else from `PATH`.
    pub fn program(name: &str, binary: &str, args: &[&str]) -> Self {
        let beside = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(|dir| dir.join(binary)))
            .filter(|path| path.exists());
        Self {
            program: Some(beside.unwrap_or_else(|| PathBuf::from(binary))),
            ..Self::digios(name, args)
        }
    }

    pub fn env(mut self, key: &str, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Running,
    /// Waiting for `next_start`.
    Backoff,
    /// A oneshot that finished (successfully, or out of attempts).
    Finished {
        success: bool,
    },
}

struct Entry {
    service: Service,
    pid: Option<Pid>,
    phase: Phase,
    restarts: u32,
    next_start: Instant,
    started_at: Instant,
    last_exit: Option<String>,
}

/// A service that stays up this long has its backoff reset.
const STABLE_AFTER: Duration = Duration::from_secs(30);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
const READY_TIMEOUT: Duration = Duration::from_secs(120);
const ONESHOT_ATTEMPTS: u32 = 3;
/// How long a service has between SIGTERM and SIGKILL.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

pub struct Supervisor {
    exe: PathBuf,
    entries: Vec<Entry>,
    /// Set by `stop_all`: an exit is then the end, not a crash to restart.
    stopping: bool,
    logs: LogSink,
    status: Option<StatusFile>,
}

impl Supervisor {
    pub fn new(logs: LogSink, status: Option<StatusFile>) -> anyhow::Result<Self> {
        Ok(Self {
            exe: std::env::current_exe()?,
            entries: Vec::new(),
            stopping: false,
            logs,
            status,
        })
    }

    /// Starts `services` one after another: each is ready (or, for a oneshot,
    /// finished) before the next starts. A service that cannot become ready is
    /// logged and left to its restarts; later services still start.
    pub fn start_all(&mut self, services: Vec<Service>, stop: &AtomicBool) {
        for service in services {
            let index = self.entries.len();
            self.entries.push(Entry {
                service,
                pid: None,
                phase: Phase::Backoff,
                restarts: 0,
                next_start: Instant::now(),
                started_at: Instant::now(),
                last_exit: None,
            });
            self.launch(index);
            if let Err(err) = self.wait_ready(index, stop) {
                tracing::error!(service = self.entries[index].service.name, "{err:#}");
            }
            if stop.load(Ordering::Relaxed) {
                return;
            }
        }
    }

    /// Reaps exited children, restarts what is due, and rewrites the status
    /// file when something changed. Call it a few times a second.
    pub fn tick(&mut self) {
        let mut changed = self.reap();
        for index in 0..self.entries.len() {
            let entry = &mut self.entries[index];
            if entry.phase == Phase::Running && entry.started_at.elapsed() > STABLE_AFTER {
                entry.restarts = 0;
            }
            if entry.phase == Phase::Backoff && Instant::now() >= entry.next_start {
                self.launch(index);
                changed = true;
            }
        }
        if changed {
            self.write_status();
        }
    }

    /// Collects every exited child; returns whether a service's state changed.
    fn reap(&mut self) -> bool {
        let mut changed = false;
        loop {
            let (pid, outcome) = match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => (pid, Exit::Code(code)),
                Ok(WaitStatus::Signaled(pid, signal, _)) => (pid, Exit::Signal(signal)),
                Ok(WaitStatus::StillAlive) | Err(_) => return changed,
                Ok(_) => continue,
            };
            if let Some(index) = self.entries.iter().position(|e| e.pid == Some(pid)) {
                self.exited(index, outcome);
                changed = true;
            } else {
                tracing::debug!(%pid, "reaped an orphan");
            }
        }
    }

    fn exited(&mut self, index: usize, outcome: Exit) {
        let entry = &mut self.entries[index];
        entry.pid = None;
        entry.last_exit = Some(outcome.to_string());
        let name = &entry.service.name;
        if self.stopping {
            tracing::info!(service = name, %outcome, "stopped");
            entry.phase = Phase::Finished { success: true };
            return;
        }
        if entry.service.kind == Kind::Oneshot
            && (outcome.success() || entry.restarts + 1 >= ONESHOT_ATTEMPTS)
        {
            if outcome.success() {
                tracing::info!(service = name, "finished");
            } else {
                tracing::error!(service = name, %outcome, "failed; giving up");
            }
            entry.phase = Phase::Finished {
                success: outcome.success(),
            };
            return;
        }
        let backoff = backoff(entry.restarts);
        tracing::warn!(service = name, %outcome, ?backoff, "exited; restarting");
        entry.phase = Phase::Backoff;
        entry.next_start = Instant::now() + backoff;
        entry.restarts += 1;
    }

    fn launch(&mut self, index: usize) {
        let entry = &mut self.entries[index];
        match spawn(&self.exe, &entry.service, &self.logs) {
            Ok(pid) => {
                tracing::debug!(service = entry.service.name, %pid, "started");
                entry.pid = Some(pid);
                entry.phase = Phase::Running;
                entry.started_at = Instant::now();
            }
            Err(err) => {
                tracing::error!(service = entry.service.name, "cannot start: {err}");
                entry.last_exit = Some(format!("cannot start: {err}"));
                entry.phase = Phase::Backoff;
                entry.next_start = Instant::now() + backoff(entry.restarts);
                entry.restarts += 1;
            }
        }
        self.write_status();
    }

    fn wait_ready(&mut self, index: usize, stop: &AtomicBool) -> anyhow::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let entry = &self.entries[index];
            let ready = match (&entry.service.kind, &entry.service.ready) {
                (Kind::Oneshot, _) => matches!(entry.phase, Phase::Finished { .. }),
                (Kind::Daemon, Ready::Started) => entry.phase == Phase::Running,
                (Kind::Daemon, Ready::Socket(path)) => {
                    entry.phase == Phase::Running
                        && std::os::unix::net::UnixStream::connect(path).is_ok()
                }
                (Kind::Daemon, Ready::Tcp(addr)) => {
                    entry.phase == Phase::Running
                        && std::net::TcpStream::connect_timeout(addr, Duration::from_millis(200))
                            .is_ok()
                }
            };
            if ready {
                tracing::info!(service = entry.service.name, "ready");
                self.write_status();
                return Ok(());
            }
            // A oneshot (setup, downloads) may take as long as it needs.
            anyhow::ensure!(
                entry.service.kind == Kind::Oneshot || Instant::now() < deadline,
                "not ready within {READY_TIMEOUT:?}"
            );
            anyhow::ensure!(!stop.load(Ordering::Relaxed), "stopped while starting");
            std::thread::sleep(Duration::from_millis(50));
            self.tick();
        }
    }

    /// Stops every service in reverse order: SIGTERM, then SIGKILL after `STOP_GRACE`.
    pub fn stop_all(&mut self) {
        self.stopping = true;
        for index in (0..self.entries.len()).rev() {
            let Some(pid) = self.entries[index].pid else {
                self.entries[index].phase = Phase::Finished { success: true };
                continue;
            };
            tracing::info!(service = self.entries[index].service.name, "stopping");
            let _ = kill(pid, Signal::SIGTERM);
            let deadline = Instant::now() + STOP_GRACE;
            while self.entries[index].pid.is_some() && Instant::now() < deadline {
                self.reap();
                std::thread::sleep(Duration::from_millis(20));
            }
            if self.entries[index].pid.is_some() {
                tracing::warn!(
                    service = self.entries[index].service.name,
                    "did not stop; killing"
                );
                let _ = kill(pid, Signal::SIGKILL);
                let _ = waitpid(pid, None);
                self.entries[index].pid = None;
            }
            self.entries[index].phase = Phase::Finished { success: true };
        }
        self.write_status();
    }

    pub fn reports(&self) -> Vec<ServiceReport> {
        self.entries
            .iter()
            .map(|entry| ServiceReport {
                name: entry.service.name.clone(),
                state: match entry.phase {
                    Phase::Running => "running",
                    Phase::Backoff => "restarting",
                    Phase::Finished { success: true } => "finished",
                    Phase::Finished { success: false } => "failed",
                }
                .into(),
                pid: entry.pid.map(|p| p.as_raw()),
                restarts: entry.restarts,
                last_exit: entry.last_exit.clone(),
                oneshot: entry.service.kind == Kind::Oneshot,
            })
            .collect()
    }

    fn write_status(&self) {
        if let Some(status) = &self.status
            && let Err(err) = status.write(&self.reports())
        {
            tracing::warn!("cannot write the service status: {err}");
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Exit {
    Code(i32),
    Signal(Signal),
}

impl Exit {
    fn success(self) -> bool {
        matches!(self, Exit::Code(0))
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "exit status {code}"),
            Exit::Signal(signal) => write!(f, "killed by {signal:?}"),
        }
    }
}

fn backoff(restarts: u32) -> Duration {
    (Duration::from_millis(250) * 2u32.saturating_pow(restarts.min(8))).min(MAX_BACKOFF)
}

fn spawn(exe: &Path, service: &Service, logs: &LogSink) -> std::io::Result<Pid> {
    let mut command = Command::new(service.program.as_deref().unwrap_or(exe));
    command.args(&service.args);
    for (key, value) in &service.env {
        command.env(key, value);
    }
    if service.console {
        command
            .stdin(Stdio::inherit())
            .stdout(Stdio::inherit())
            .stderr(Stdio::inherit());
    } else {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    }
    let mut child = command.spawn()?;
    if let Some(stdout) = child.stdout.take() {
        logs.follow(&service.name, stdout, logs::Stream::Stdout);
    }
    if let Some(stderr) = child.stderr.take() {
        logs.follow(&service.name, stderr, logs::Stream::Stderr);
    }
    // The child is reaped by `Supervisor::reap`, never through `Child`.
    Ok(Pid::from_raw(child.id() as i32))
}

/// Hosted supervision: start `services`, supervise until SIGTERM or SIGINT,
/// then stop them.
pub fn run(
    services: Vec<Service>,
    logs: LogSink,
    status: Option<StatusFile>,
) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone())?;
    }
    let mut supervisor = Supervisor::new(logs, status)?;
    supervisor.start_all(services, &stop);
    while !stop.load(Ordering::Relaxed) {
        supervisor.tick();
        std::thread::sleep(Duration::from_millis(200));
    }
    tracing::info!("stopping services");
    supervisor.stop_all();
    Ok(())
}
