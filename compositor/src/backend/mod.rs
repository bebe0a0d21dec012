//! Backends drive outputs and own the renderer (pixman everywhere):
//! - `headless`: no display; frames are rendered only for captures.
//! - `winit`: one window per output on another Wayland or X11 session.
//! - `drm`: the display hardware through DRM/KMS, input from evdev (`evdev`).

pub mod drm;
mod evdev;
pub mod headless;
pub mod winit;

use smithay::backend::renderer::pixman::PixmanRenderer;
use smithay::desktop::{Space, Window};
use smithay::input::pointer::CursorImageStatus;
use smithay::output::{Mode, Output, PhysicalProperties, Scale, Subpixel};
use smithay::reexports::calloop::LoopHandle;
use smithay::utils::{Logical, Point};

use self::drm::DrmBackend;
use self::headless::HeadlessBackend;
use self::winit::WinitBackend;
use crate::config::{BackendKind, CompositorConfig, OutputSpec};
use crate::state::State;
use crate::windows::WindowList;

/// The backend driving the outputs. An enum rather than a trait object, so
/// a backend's own event sources reach it by matching, not by downcasting.
/// The presenting backends are boxed: they are large and made once.
pub enum Backend {
    Headless(HeadlessBackend),
    Winit(Box<WinitBackend>),
    Drm(Box<DrmBackend>),
}

impl Backend {
    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Headless(_) => "headless",
            Backend::Winit(_) => "winit",
            Backend::Drm(_) => "drm",
        }
    }

    /// The renderer used for output frames and captures.
    pub fn renderer(&mut self) -> &mut PixmanRenderer {
        match self {
            Backend::Headless(backend) => backend.renderer(),
            Backend::Winit(backend) => backend.renderer(),
            Backend::Drm(backend) => backend.renderer(),
        }
    }

    /// Something on screen changed: a presenting backend draws a new frame
    /// when its outputs can take one. Headless renders only on capture.
    pub fn schedule_render(&mut self) {
        match self {
            Backend::Headless(_) => {}
            Backend::Winit(backend) => backend.schedule_render(),
            Backend::Drm(backend) => backend.schedule_render(),
        }
    }

    /// Draws and shows a frame on every output that needs one and can take
    /// one now (no page flip in flight). Called once per event-loop turn.
    pub fn present(&mut self, scene: Scene<'_>) {
        match self {
            Backend::Headless(_) => {}
            Backend::Winit(backend) => backend.present(scene),
            Backend::Drm(backend) => backend.present(scene),
        }
    }

    pub fn winit(&mut self) -> Option<&mut WinitBackend> {
        match self {
            Backend::Winit(backend) => Some(backend),
            _ => None,
        }
    }

    pub fn drm(&mut self) -> Option<&mut DrmBackend> {
        match self {
            Backend::Drm(backend) => Some(backend),
            _ => None,
        }
    }
}

/// What a presenting backend draws: the windows and layers of the space,
/// and the pointer.
pub struct Scene<'a> {
    pub space: &'a Space<Window>,
    pub windows: &'a WindowList,
    pub pointer: Point<f64, Logical>,
    pub cursor: &'a CursorImageStatus,
}

/// A started backend and the outputs it drives, left to right.
pub struct Started {
    pub backend: Backend,
    pub outputs: Vec<Output>,
}

/// An output the compositor makes up (headless, nested): `PREFIX-N` with
/// the spec's size and scale.
pub fn output_from_spec(prefix: &str, index: usize, spec: &OutputSpec) -> Output {
    let output = Output::new(
        format!("{prefix}-{}", index + 1),
        PhysicalProperties {
            size: (0, 0).into(),
            subpixel: Subpixel::Unknown,
            make: "digiOS".into(),
            model: prefix.to_lowercase(),
        },
    );
    let mode = Mode {
        size: (spec.width, spec.height).into(),
        refresh: 60_000,
    };
    output.change_current_state(Some(mode), None, Some(Scale::Fractional(spec.scale)), None);
    output.set_preferred(mode);
    output
}

/// Starts the configured backend (`auto` resolved from the environment).
pub fn start(
    config: &CompositorConfig,
    event_loop: &LoopHandle<'static, State>,
) -> anyhow::Result<Started> {
    match resolve(config.backend) {
        BackendKind::Headless | BackendKind::Auto => headless::start(config),
        BackendKind::Winit => winit::start(config, event_loop),
        BackendKind::Drm => drm::start(config, event_loop),
    }
}

/// The backend `kind` means here: `Auto` becomes nested inside a graphical
/// session (`WAYLAND_DISPLAY` or `DISPLAY`), DRM where a `/dev/dri/card*`
/// node exists, headless otherwise.
pub fn resolve(kind: BackendKind) -> BackendKind {
    if kind != BackendKind::Auto {
        return kind;
    }
    let session = ["WAYLAND_DISPLAY", "DISPLAY"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()));
    if session {
        BackendKind::Winit
    } else if drm::has_card_node() {
        BackendKind::Drm
    } else {
        BackendKind::Headless
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_named_backend_is_taken_as_named() {
        for kind in [BackendKind::Headless, BackendKind::Winit, BackendKind::Drm] {
            assert_eq!(resolve(kind), kind);
        }
        assert_ne!(resolve(BackendKind::Auto), BackendKind::Auto);
    }
}
