//! Command-line options of the compositor, shared by `digios compositor` and
//! the standalone `digios-compositor` binary.

use std::path::PathBuf;

use clap::Args;

use crate::config::{BackendKind, CompositorConfig, CompositorSection, OutputSpec};

#[derive(Debug, Args)]
pub struct CompositorArgs {
    /// What drives the outputs: `headless` (offscreen), `winit` (a window on
    /// another session), `drm` (the display hardware) or `auto` (winit inside
    /// a graphical session, DRM where /dev/dri/card* exists, else headless).
    #[arg(long, value_enum)]
    pub backend: Option<BackendKind>,
    /// Short for `--backend headless`.
    #[arg(long, conflicts_with = "backend")]
    pub headless: bool,
    /// Size of the first output, WIDTHxHEIGHT (default 1280x800).
    #[arg(long, value_name = "WxH")]
    pub size: Option<OutputSpec>,
    /// Scale of the first output (0.25..=8).
    #[arg(long)]
    pub scale: Option<f64>,
    /// More outputs to the right of the first, WIDTHxHEIGHT[@SCALE]; repeatable.
    #[arg(long = "extra-output", value_name = "WxH[@S]")]
    pub extra_outputs: Vec<OutputSpec>,
    /// Wayland socket name in $XDG_RUNTIME_DIR (default: the first free wayland-N).
    #[arg(long)]
    pub socket_name: Option<String>,
    /// Control socket path (default: $XDG_RUNTIME_DIR/digios-compositor-<socket name>.sock).
    #[arg(long, env = "DIGIOS_COMPOSITOR_SOCKET")]
    pub control_socket: Option<PathBuf>,
    /// XKB keyboard layout (default `us`).
    #[arg(long)]
    pub layout: Option<String>,
    /// Do not start XWayland (X11 apps will not run).
    #[arg(long)]
    pub no_xwayland: bool,
}

impl CompositorArgs {
    /// The configuration from these options alone.
    pub fn into_config(self) -> anyhow::Result<CompositorConfig> {
        self.over(&CompositorSection::default())
    }

    /// The `[compositor]` section with these options laid over it.
    pub fn over(self, section: &CompositorSection) -> anyhow::Result<CompositorConfig> {
        let mut config = section.to_config().map_err(anyhow::Error::msg)?;
        if let Some(size) = self.size {
            config.outputs[0] = size;
        }
        if let Some(scale) = self.scale {
            anyhow::ensure!((0.25..=8.0).contains(&scale), "--scale must be 0.25..=8");
            config.outputs[0].scale = scale;
        }
        if !self.extra_outputs.is_empty() {
            config.outputs.truncate(1);
            config.outputs.extend(self.extra_outputs);
        }
        if self.socket_name.is_some() {
            config.socket_name = self.socket_name;
        }
        config.control_socket = self.control_socket;
        if let Some(layout) = self.layout {
            config.keyboard_layout = layout;
        }
        if self.no_xwayland {
            config.xwayland = false;
        }
        if self.headless {
            config.backend = BackendKind::Headless;
        } else if let Some(backend) = self.backend {
            config.backend = backend;
        }
        Ok(config)
    }
}
