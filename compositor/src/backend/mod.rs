//! Backends drive outputs and own the renderer (pixman everywhere):
//! - `headless`: no display; frames are rendered only for captures.
//! - `winit`: one window per output on another Wayland or X11 session.
//! - `drm`: the display hardware through DRM/KMS, input from evdev (`evdev`).

pub mod drm;
mod evdev;
pub mod headless;
pub mod winit;

use std::any::Any;

use smithay::desktop::{Space, Window};
use smithay::input::pointer::CursorImageStatus;
use smithay::output::Output;
use smithay::reexports::calloop::LoopHandle;
use smithay::backend::renderer::pixman::PixmanRenderer;
use smithay::utils::{Logical, Point};

use crate::config::{BackendKind, CompositorConfig};
use crate::state::State;
use crate::windows::WindowList;

pub trait Backend {
    /// A short name for logs.
    fn name(&self) -> &'static str;
    /// The renderer used for output frames and captures.
    fn renderer(&mut self) -> &mut PixmanRenderer;
    /// Something on screen changed: a presenting backend draws a new frame
    /// when its outputs can take one. Headless renders only on capture.
    fn schedule_render(&mut self) {}
    /// Draws and shows a frame on every output that needs one and can take
    /// one now (no page flip in flight). Called once per event-loop turn.
    fn present(&mut self, _scene: Scene<'_>) {}
    /// For backend-specific event sources, which reach their backend through
    /// the state.
    fn as_any_mut(&mut self) -> &mut dyn Any;
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
    pub backend: Box<dyn Backend>,
    pub outputs: Vec<Output>,
}

/// Starts the configured backend (`auto` resolved from the environment).
pub fn start(
    config: &CompositorConfig,
    event_loop: &LoopHandle<'static, State>,
) -> anyhow::Result<Started> {
    match config.backend.resolve() {
        BackendKind::Headless | BackendKind::Auto => headless::start(config),
        BackendKind::Winit => winit::start(config, event_loop),
        BackendKind::Drm => drm::start(config, event_loop),
    }
}
