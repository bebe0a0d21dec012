//! Headless backend: no display hardware; frames are rendered offscreen with
//! pixman when a capture asks for them.

use anyhow::Context;
use smithay::backend::renderer::pixman::PixmanRenderer;

use super::Backend;

pub struct HeadlessBackend {
    renderer: PixmanRenderer,
}

impl HeadlessBackend {
    pub fn new() -> anyhow::Result<Self> {
        let renderer = PixmanRenderer::new().context("creating the pixman renderer")?;
        Ok(Self { renderer })
    }
}

impl Backend for HeadlessBackend {
    fn name(&self) -> &'static str {
        "headless"
    }

    fn renderer(&mut self) -> &mut PixmanRenderer {
        &mut self.renderer
    }
}
