//! `digios-compositor`: the compositor alone, for development and the
//! compositor's own tests (the image runs it as `digios compositor`).

use std::process::ExitCode;

use clap::Parser;
use digios_compositor::cli::CompositorArgs;

#[derive(Debug, Parser)]
#[command(
    name = "digios-compositor",
    version,
    about = "digiOS Wayland compositor"
)]
struct Cli {
    #[command(flatten)]
    args: CompositorArgs,
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DIGIOS_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.args.into_config().and_then(digios_compositor::run) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("digios-compositor: {err:#}");
            ExitCode::FAILURE
        }
    }
}
