//! `digios compositor`: run digiOS's Wayland compositor.

pub use digios_compositor::cli::CompositorArgs;

use crate::config::Config;

pub fn run(args: CompositorArgs, config: &Config) -> anyhow::Result<()> {
    digios_compositor::run(args.over(&config.compositor)?)
}
