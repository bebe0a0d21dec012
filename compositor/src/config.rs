//! How the compositor starts: backend, outputs and socket names.

use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which backend drives the outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Offscreen rendering only: for tests, CI and hosted agent runs.
    Headless,
    /// A window on another Wayland or X11 session.
    Winit,
    /// The display hardware through DRM/KMS, input from evdev devices.
    Drm,
    /// Winit inside a graphical session, DRM where a GPU exists, else headless.
    #[default]
    Auto,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            Self::Headless => "headless",
            Self::Winit => "winit",
            Self::Drm => "drm",
            Self::Auto => "auto",
        }
    }
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
    /// Outputs, laid out left to right. Headless and nested backends create
    /// them; DRM takes its outputs from the connected monitors and applies
    /// these scales to them in connector order.
    pub outputs: Vec<OutputSpec>,
    /// The Wayland socket name (in `$XDG_RUNTIME_DIR`); the first free
    /// `wayland-N` when `None`.
    pub socket_name: Option<String>,
    /// The control socket path; derived from the Wayland socket name when `None`
    /// (see [`digios_ipc::socket_path_for_display`]).
    pub control_socket: Option<PathBuf>,
    /// XKB layout for the keyboard (`us` when empty).
    pub keyboard_layout: String,
    /// Start XWayland so X11 apps run.
    pub xwayland: bool,
}

impl Default for CompositorConfig {
    fn default() -> Self {
        Self {
            backend: BackendKind::Auto,
            outputs: vec![OutputSpec::default()],
            socket_name: None,
            control_socket: None,
            keyboard_layout: String::new(),
            xwayland: true,
        }
    }
}

/// The `[compositor]` section of `digios.toml`; command-line options override it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CompositorSection {
    /// `headless`, `winit`, `drm` or `auto`.
    pub backend: BackendKind,
    /// Outputs left to right, each `WIDTHxHEIGHT` or `WIDTHxHEIGHT@SCALE`.
    pub outputs: Vec<String>,
    /// XKB keyboard layout.
    pub keyboard_layout: String,
    /// Wayland socket name; the first free `wayland-N` when absent.
    pub socket_name: Option<String>,
    /// Start XWayland with the compositor so X11 apps run.
    pub xwayland: bool,
}

impl Default for CompositorSection {
    fn default() -> Self {
        Self {
            backend: BackendKind::Auto,
            outputs: vec!["1280x800".into()],
            keyboard_layout: "us".into(),
            socket_name: None,
            xwayland: true,
        }
    }
}

impl CompositorSection {
    /// Checks every value; the error names the key and says what is wrong.
    pub fn validate(&self) -> Result<(), (String, String)> {
        self.output_specs()
            .map(|_| ())
            .map_err(|message| ("outputs".to_string(), message))
    }

    pub fn output_specs(&self) -> Result<Vec<OutputSpec>, String> {
        if self.outputs.is_empty() {
            return Err("at least one output is needed".into());
        }
        self.outputs.iter().map(|text| text.parse()).collect()
    }

    pub fn to_config(&self) -> Result<CompositorConfig, String> {
        Ok(CompositorConfig {
            backend: self.backend,
            outputs: self.output_specs()?,
            socket_name: self.socket_name.clone(),
            control_socket: None,
            keyboard_layout: self.keyboard_layout.clone(),
            xwayland: self.xwayland,
        })
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

    #[test]
    fn the_section_rejects_unknown_keys_and_bad_outputs() {
        let section: CompositorSection =
            serde_json::from_str(r#"{"outputs":["800x600","1920x1080@2"]}"#).unwrap();
        let config = section.to_config().unwrap();
        assert_eq!(config.outputs.len(), 2);
        assert_eq!(config.keyboard_layout, "us");
        assert!(serde_json::from_str::<CompositorSection>(r#"{"outputz":[]}"#).is_err());
        let bad = CompositorSection {
            outputs: vec!["huge".into()],
            ..CompositorSection::default()
        };
        assert_eq!(bad.validate().unwrap_err().0, "outputs");
    }

    #[test]
    fn the_backend_is_chosen_by_name_and_defaults_to_auto() {
        let section: CompositorSection =
            serde_json::from_str(r#"{"backend":"drm","xwayland":false}"#).unwrap();
        let config = section.to_config().unwrap();
        assert_eq!(config.backend, BackendKind::Drm);
        assert!(!config.xwayland);
        assert_eq!(CompositorSection::default().backend, BackendKind::Auto);
        assert!(serde_json::from_str::<CompositorSection>(r#"{"backend":"fbdev"}"#).is_err());
    }
}
