//! `digios run`: digiOS hosted on another system — the compositor (headless
//! for now), the agent with its API, the desktop shell and the voice service,
//! supervised until Ctrl-C.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
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
    let bind = api_bind(config.api.bind)?;
    let api_url = format!("http://{}", client_address(bind));
    let voice_socket = config
        .voice
        .socket
        .clone()
        .unwrap_or_else(|| runtime_dir.join("digios-voice.sock"));
    let mut agent = Service::digios("agent", &["agent", "--bind", &bind.to_string()])
        .env("XDG_RUNTIME_DIR", &runtime_dir)
        .env("WAYLAND_DISPLAY", &args.display)
        .env("DIGIOS_COMPOSITOR_SOCKET", &control)
        .env("DIGIOS_VOICE_SOCKET", &voice_socket)
        .env(STATUS_ENV, status.path());
    agent.ready = Ready::Tcp(client_address(bind));
    let mut shell = Service::program(
        "shell",
        "digios-shell",
        &["--api", &api_url, "--wayland-display", &args.display],
    )
    .env("XDG_RUNTIME_DIR", &runtime_dir);
    if config.api.needs_token() {
        let token_file = config
            .api
            .token_file
            .clone()
            .unwrap_or_else(|| super::agent::token_path(config));
        shell = shell.env("DIGIOS_API_TOKEN_FILE", token_file);
    }
    let mut voice = match voice_wanted(config) {
        Ok(()) => {
            let socket = voice_socket.display().to_string();
            let mut voice = Service::program(
                "voice",
                "digios-voice",
                &["--socket", &socket, "--api-url", &api_url],
            )
            .env("XDG_RUNTIME_DIR", &runtime_dir);
            voice.ready = Ready::Socket(voice_socket.clone());
            Some(voice)
        }
        Err(reason) => {
            tracing::info!("voice service off: {reason}");
            None
        }
    };
    if let Some(path) = origin {
        compositor = compositor.env("DIGIOS_CONFIG", path);
        agent = agent.env("DIGIOS_CONFIG", path);
        voice = voice.map(|voice| voice.env("DIGIOS_CONFIG", path));
    }
    // The shell before the voice service: the panel should not wait for
    // Whisper and Piper to load.
    let services = [Some(compositor), Some(agent), Some(shell), voice]
        .into_iter()
        .flatten()
        .collect();
    eprintln!(
        "digiOS: compositor on Wayland display {} (headless) in {}; API on {api_url}. Ctrl-C stops it.",
        args.display,
        runtime_dir.display(),
    );
    let logs = LogSink::new(Some(config.data_dir().join("logs")), false);
    supervisor::run(services, logs, Some(status))
}

/// The API's address with a concrete port: port 0 is resolved once here, so
/// the shell and voice know where to connect and a restarted agent keeps it.
fn api_bind(bind: SocketAddr) -> anyhow::Result<SocketAddr> {
    if bind.port() != 0 {
        return Ok(bind);
    }
    let free = TcpListener::bind(bind)
        .and_then(|listener| listener.local_addr())
        .map_err(|err| anyhow::anyhow!("cannot find a free port on {bind}: {err}"))?;
    Ok(free)
}

/// Where a local client reaches an API bound to `bind` (a wildcard bind is
/// reached on loopback).
pub(crate) fn client_address(bind: SocketAddr) -> SocketAddr {
    match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, bind.port()).into(),
        IpAddr::V6(ip) if ip.is_unspecified() => (Ipv4Addr::LOCALHOST, bind.port()).into(),
        _ => bind,
    }
}

/// The voice service's model files (see `assets/models.toml`), found by
/// these fixed names in the model directory.
const VOICE_MODEL_FILES: &[&str] = &[
    "ggml-tiny.en.bin",
    "en_US-joe-medium.onnx",
    "en_US-joe-medium.onnx.json",
    "libonnxruntime.so",
];

/// Whether to start the voice service: `[system] voice` (on by default) and
/// its models present; otherwise why not.
fn voice_wanted(config: &Config) -> Result<(), String> {
    if !config.system.voice {
        return Err("`system.voice` is false".into());
    }
    let dir = config.models_dir();
    let missing: Vec<&str> = VOICE_MODEL_FILES
        .iter()
        .copied()
        .filter(|file| !dir.join(file).exists())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} missing from {} (`cargo xtask setup` fetches them)",
            missing.join(", "),
            dir.display()
        ))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn config_with_models(dir: &Path) -> Config {
        let mut config = Config::default();
        config.models.dir = Some(dir.to_path_buf());
        config
    }

    #[test]
    fn voice_runs_only_with_its_models() {
        let dir = tempfile::tempdir().unwrap();
        let config = config_with_models(dir.path());
        let reason = voice_wanted(&config).unwrap_err();
        assert!(reason.contains("ggml-tiny.en.bin"), "{reason}");
        for file in VOICE_MODEL_FILES {
            std::fs::write(dir.path().join(file), b"").unwrap();
        }
        assert_eq!(voice_wanted(&config), Ok(()));
        let mut off = config;
        off.system.voice = false;
        assert!(voice_wanted(&off).unwrap_err().contains("system.voice"));
    }

    #[test]
    fn a_wildcard_api_is_reached_on_loopback_and_port_0_is_resolved() {
        let bind = api_bind("127.0.0.1:0".parse().unwrap()).unwrap();
        assert_ne!(bind.port(), 0);
        let wildcard: SocketAddr = "0.0.0.0:8765".parse().unwrap();
        assert_eq!(
            client_address(wildcard),
            "127.0.0.1:8765".parse::<SocketAddr>().unwrap()
        );
    }
}
