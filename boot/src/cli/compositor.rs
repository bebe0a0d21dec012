//! `digios compositor`: run digiOS's Wayland compositor.

pub use digios_compositor::cli::CompositorArgs;

pub fn run(args: CompositorArgs) -> anyhow::Result<()> {
    digios_compositor::run(args.into_config()?)
}
