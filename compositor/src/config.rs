//! How the compositor starts: backend, outputs and socket names.

use std::path::PathBuf;
use std::str::FromStr;

/// Which backend drives the outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendKind {
    /// Offscreen rendering only: for tests, CI and hosted agent runs.
    #[default]
    Headless,
}

/// One output's mode and scale, written `WIDTHxHEIGHT` or `WIDTHxHEIGHT@SCALE`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutputSpec {
    pub width: i32,
    pub height: i32,
    pub scale: f64,
}

impl Default for OutputSpec {
    fn default() -> Self {
        Self {
            width: 1280,
            height: 800,
            scale: 1.0,
        }
    }
}

impl FromStr for OutputSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (size, scale) = match text.split_once('@') {
            Some((size, scale)) => (size, scale),
            None => (text, "1"),
        };
        let bad = || format!("`{text}` is not WIDTHxHEIGHT or WIDTHxHEIGHT@SCALE");
        let (width, height) = size.split_once(['x', 'X']).ok_or_else(bad)?;
        let width: i32 = width.trim().parse().map_err(|_| bad())?;
        let height: i32 = height.trim().parse().map_err(|_| bad())?;
        let scale: f64 = scale.trim().parse().map_err(|_| bad())?;
        if !(1..=16384).contains(&width) || !(1..=16384).contains(&height) {
            return Err(format!("`{text}`: width and height must be 1..=16384"));
        }
        if !(0.25..=8.0).contains(&scale) {
            return Err(format!("`{text}`: scale must be 0.25..=8"));
        }
        Ok(Self {
            width,
            height,
            scale,
        })
    }
}

/// Everything the compositor needs to start.
#[derive(Debug, Clone)]
pub struct CompositorConfig {
    pub backend: BackendKind,
    /// Outputs, laid out left to right.
    pub outputs: Vec<OutputSpec>,
    /// The Wayland socket name (in `$XDG_RUNTIME_DIR`); the first free
    /// `wayland-N` when `None`.
    pub socket_name: Option<String>,
    /// The control socket path; derived from the Wayland socket name when `None`
    /// (see [`digios_ipc::socket_path_for_display`]).
    pub control_socket: Option<PathBuf>,
    /// XKB layout for the keyboard (`us` when empty).
    pub keyboard_layout: String,
}

impl Default for CompositorConfig {
    fn default() -> Self {
        Self {
            backend: BackendKind::Headless,
            outputs: vec![OutputSpec::default()],
            socket_name: None,
            control_socket: None,
            keyboard_layout: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_specs_parse_with_and_without_scale() {
        let spec: OutputSpec = "1920x1080@2".parse().unwrap();
        assert_eq!((spec.width, spec.height, spec.scale), (1920, 1080, 2.0));
        let spec: OutputSpec = "640x480".parse().unwrap();
        assert_eq!(spec.scale, 1.0);
        assert!("640".parse::<OutputSpec>().is_err());
        assert!("0x480".parse::<OutputSpec>().is_err());
        assert!("640x480@0".parse::<OutputSpec>().is_err());
    }
}
