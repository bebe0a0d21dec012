//! `digios-shell`: the desktop shell as a Wayland client of the compositor
//! and an HTTP client of the API.
//!
//! ```text
//! digios-shell [--api URL] [--wayland-display NAME] [--token-file PATH]
//! ```
//! Each flag falls back to the environment: `DIGIOS_API_URL` (default
//! `http://127.0.0.1:8765`), `WAYLAND_DISPLAY`, `DIGIOS_API_TOKEN` or
//! `DIGIOS_API_TOKEN_FILE`.

use std::process::ExitCode;

use digios_shell::{api, launcher, wayland};

struct Args {
    api: String,
    wayland_display: Option<String>,
    token: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut api =
        std::env::var("DIGIOS_API_URL").unwrap_or_else(|_| "http://127.0.0.1:8765".into());
    let mut wayland_display = None;
    let mut token_file = std::env::var_os("DIGIOS_API_TOKEN_FILE").map(std::path::PathBuf::from);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_string(), Some(value.to_string())),
            None => (arg.clone(), None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or(format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--api" => api = value()?,
            "--wayland-display" => wayland_display = Some(value()?),
            "--token-file" => token_file = Some(value()?.into()),
            "-h" | "--help" => {
                return Err(
                    "usage: digios-shell [--api URL] [--wayland-display NAME] [--token-file PATH]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument {other:?}; see --help")),
        }
    }
    let token = match (std::env::var("DIGIOS_API_TOKEN").ok(), token_file) {
        (Some(token), _) => Some(token),
        (None, Some(path)) => Some(
            std::fs::read_to_string(&path)
                .map_err(|err| format!("cannot read the API token file {}: {err}", path.display()))?
                .trim()
                .to_string(),
        ),
        (None, None) => None,
    };
    if !api.starts_with("http://") && !api.starts_with("https://") {
        return Err(format!("--api {api:?} is not an http:// or https:// URL"));
    }
    Ok(Args {
        api,
        wayland_display,
        token,
    })
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DIGIOS_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("digios-shell: {message}");
            return ExitCode::from(2);
        }
    };
    if let Some(display) = &args.wayland_display {
        // SAFETY: set before any other thread exists.
        unsafe { std::env::set_var("WAYLAND_DISPLAY", display) };
    }
    let apps = launcher::discover(launcher::configured_apps(), &launcher::application_dirs());
    let options = wayland::Options {
        client: api::Client::new(&args.api, args.token),
        apps,
    };
    match wayland::run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("digios-shell: {err}");
            ExitCode::FAILURE
        }
    }
}
