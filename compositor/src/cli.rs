//! Command-line options of the compositor, shared by `digios compositor` and
//! the standalone `digios-compositor` binary.

use std::path::PathBuf;

use clap::Args;

use crate::config::{BackendKind, CompositorConfig, OutputSpec};

#[derive(Debug, Args)]
pub struct CompositorArgs {
    /// Render offscreen, without display hardware (the only backend so far).
    #[arg(long)]
    pub headless: bool,
    /// Size of the first output, WIDTHxHEIGHT (default 1280x800).
    #[arg(long, value_name = "WxH")]
    pub size: Option<OutputSpec>,
    /// Scale of the first output.
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
    /// XKB keyboard layout.
    #[arg(long, default_value = "us")]
    pub layout: String,
}

impl CompositorArgs {
    pub fn into_config(self) -> anyhow::Result<CompositorConfig> {
        let mut first = self.size.unwrap_or_default();
        if let Some(scale) = self.scale {
            first = format!("{}x{}@{scale}", first.width, first.height)
                .parse()
                .map_err(anyhow::Error::msg)?;
        }
        let mut outputs = vec![first];
        outputs.extend(self.extra_outputs);
        // Headless is the only backend so far; `--headless` keeps scripts explicit.
        let _ = self.headless;
        Ok(CompositorConfig {
            backend: BackendKind::Headless,
            outputs,
            socket_name: self.socket_name,
            control_socket: self.control_socket,
            keyboard_layout: self.layout,
        })
    }
}
