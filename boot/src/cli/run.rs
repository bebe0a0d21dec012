//! `digios run`: digiOS hosted on another system — the compositor (headless
//! for now) and the agent with its API, supervised until Ctrl-C.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::config::Config;
use crate::supervisor::{self, LogSink, Ready, Service, StatusFile, status::STATUS_ENV};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Wayland display name the compositor serves.
    #[arg(long, default_value = "wayland-digios")]
    pub display: String,
}

pub fn run(args: RunArgs, config: &Config, origin: Option<&Path>) -> anyhow::Result<()> {
    let runtime_dir = runtime_dir()?;
    let control = digios_ipc_socket(&runtime_dir, &args.display);
    let status = StatusFile::new(runtime_dir.join("digios/services.json"));
    let mut compositor = Service::digios(
        "compositor",
        &[
            "compositor",
            "--headless",
            "--socket-name",
            &args.display,
            "--control-socket",
            &control.display().to_string(),
        ],
    )
    .env("XDG_RUNTIME_DIR", &runtime_dir);
    compositor.ready = Ready::Socket(control.clone());
    let mut agent = Service::digios("agent", &["agent"])
        .env("XDG_RUNTIME_DIR", &runtime_dir)
        .env("WAYLAND_DISPLAY", &args.display)
        .env("DIGIOS_COMPOSITOR_SOCKET", &control)
        .env(STATUS_ENV, status.path());
    if let Some(path) = origin {
        compositor = compositor.env("DIGIOS_CONFIG", path);
        agent = agent.env("DIGIOS_CONFIG", path);
    }
    let services = vec![compositor, agent];
    eprintln!(
        "digiOS: compositor on Wayland display {} (headless) in {}; API on http://{}. Ctrl-C stops it.",
        args.display,
        runtime_dir.display(),
        config.api.bind
    );
    let logs = LogSink::new(Some(config.data_dir().join("logs")), false);
    supervisor::run(services, logs, Some(status))
}

fn digios_ipc_socket(runtime_dir: &Path, display: &str) -> PathBuf {
    runtime_dir.join(format!("digios-compositor-{display}.sock"))
}

/// `$XDG_RUNTIME_DIR`, else a private directory under /tmp.
fn runtime_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    let dir = std::env::temp_dir().join(format!("digios-runtime-{}", nix::unistd::getuid()));
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(err) => anyhow::bail!("cannot create {}: {err}", dir.display()),
    }
    Ok(dir)
}
