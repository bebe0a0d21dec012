//! `digios compositor`: run digiOS's Wayland compositor, or (`msg`) talk to
//! a running one over its control socket.

use clap::{Args, Subcommand};
pub use digios_compositor::cli::CompositorArgs;

use crate::config::Config;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct CompositorCommand {
    #[command(subcommand)]
    pub sub: Option<CompositorSub>,
    #[command(flatten)]
    pub run: CompositorArgs,
}

#[derive(Debug, Subcommand)]
pub enum CompositorSub {
    /// Send requests to a running compositor's control socket (debugging; like `niri msg`).
    Msg(super::compositor_msg::MsgArgs),
}

pub fn run(command: CompositorCommand, config: &Config) -> anyhow::Result<()> {
    match command.sub {
        Some(CompositorSub::Msg(args)) => super::compositor_msg::run(args),
        None => digios_compositor::run(command.run.over(&config.compositor)?),
    }
}
