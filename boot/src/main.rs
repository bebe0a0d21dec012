//! `digios`: the one multi-call binary. Each subcommand is a thin entry into its crate.

mod cli;
mod config;
mod image;
mod init;
mod setup;
mod supervisor;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;

/// The API answers many small requests, each a burst of short-lived
/// allocations spread over worker threads; glibc's allocator spent a
/// quarter of a request's CPU on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    name = "digios",
    version,
    about = "digiOS: an AI-native desktop operating system"
)]
struct Cli {
    /// Configuration file (default: $DIGIOS_CONFIG, ~/.config/digios/digios.toml, /etc/digios/digios.toml).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Model files: list, pull, verify, remove, convert.
    Model(cli::model::ModelArgs),
    /// Run digiOS hosted: the compositor and the agent, supervised.
    Run(cli::run::RunArgs),
    /// Run the agent service and its public API.
    Agent(cli::agent::AgentArgs),
    /// Check the configuration and print it with every default filled in.
    Config,
    /// Run the digiOS Wayland compositor (`compositor msg` talks to a running one).
    Compositor(cli::compositor::CompositorCommand),
    /// Drive digiOS through its public API: status, actions, windows, screenshots, tasks.
    Ctl(cli::ctl::CtlArgs),
    /// First-boot setup: hostname, API token, model, voice; then the model download.
    Setup(setup::SetupArgs),
    /// Build the bootable disk image.
    Image(image::ImageArgs),
}

fn main() -> ExitCode {
    // The kernel runs `/usr/bin/modprobe` (this binary) to load modules on demand.
    let invoked_as = std::env::args_os().next().map(PathBuf::from);
    if invoked_as.as_deref().and_then(|p| p.file_name()) == Some("modprobe".as_ref()) {
        return init::modules::modprobe_main();
    }
    // The kernel starts init with no subcommand (and may pass it stray words).
    if std::process::id() == 1 {
        init::main();
    }
    let cli = Cli::parse();
    let (config, origin) = match Config::load(cli.config.as_deref()) {
        Ok(loaded) => loaded,
        Err(err) => {
            eprintln!("digios: configuration: {err}");
            return ExitCode::from(2);
        }
    };
    config::init_logging(&config);
    let result = match cli.command {
        Command::Model(args) => cli::model::run(args, &config),
        Command::Run(args) => cli::run::run(args, &config, origin.as_deref()),
        Command::Agent(args) => cli::agent::run(args, &config),
        Command::Config => print_config(&config, origin),
        Command::Compositor(args) => cli::compositor::run(args, &config),
        Command::Ctl(args) => cli::ctl::run(args, &config),
        Command::Setup(args) => setup::run(args, &config, origin.as_deref()),
        Command::Image(args) => image::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("digios: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn print_config(config: &Config, origin: Option<PathBuf>) -> anyhow::Result<()> {
    match origin {
        Some(path) => println!("# from {}", path.display()),
        None => println!("# no configuration file: defaults"),
    }
    print!("{}", toml::to_string_pretty(config)?);
    Ok(())
}
