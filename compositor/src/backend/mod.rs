//! Backends drive outputs and own the renderer. Only the headless backend
//! exists so far; a nested (winit) and a DRM/KMS backend implement the same
//! trait.

pub mod headless;

use smithay::backend::renderer::pixman::PixmanRenderer;

pub trait Backend {
    /// A short name for logs.
    fn name(&self) -> &'static str;
    /// The renderer used for output frames and captures.
    fn renderer(&mut self) -> &mut PixmanRenderer;
    /// Surfaces changed: a presenting backend schedules a frame. Headless
    /// renders only on capture.
    fn schedule_render(&mut self) {}
}
