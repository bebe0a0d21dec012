//! `digios run`: digiOS hosted on another system — the compositor (headless
//! for now) and the agent with its API, supervised until Ctrl-C.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::config::Config;
use crate::supervisor::{self, Service};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Wayland display name the compositor serves.
    #[arg(long, default_value = "wayland-digios")]
    pub display: String,
}

pub fn run(args: RunArgs, config: &Config, origin: Option<&Path>) -> anyhow::Result<()> {
    let runtime_dir = runtime_dir()?;
    let control = digios_ipc_socket(&runtime_dir, &args.display);
    let mut env = vec![("XDG_RUNTIME_DIR".to_string(), runtime_dir.clone())];
    if let Some(path) = origin {
        env.push(("DIGIOS_CONFIG".into(), path.to_path_buf()));
    }
    let mut agent_env = env.clone();
    agent_env.push(("WAYLAND_DISPLAY".into(), PathBuf::from(&args.display)));
    agent_env.push(("DIGIOS_COMPOSITOR_SOCKET".into(), control.clone()));
    let services = vec![
        Service {
            name: "compositor",
            args: vec![
                "compositor".into(),
                "--headless".into(),
                "--socket-name".into(),
                args.display.clone(),
                "--control-socket".into(),
                control.display().to_string(),
            ],
            env,
            ready_socket: Some(control.clone()),
        },
        Service {
            name: "agent",
            args: vec!["agent".into()],
            env: agent_env,
            ready_socket: None,
        },
    ];
    eprintln!(
        "digiOS: compositor on Wayland display {} (headless) in {}; API on http://{}. Ctrl-C stops it.",
        args.display,
        runtime_dir.display(),
        config.api.bind
    );
    supervisor::run(services)
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
