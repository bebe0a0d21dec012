//! Headless backend: no display hardware; frames are rendered offscreen with
//! pixman when a capture asks for them.

use anyhow::Context;
use smithay::backend::renderer::pixman::PixmanRenderer;

use super::{Backend, Started, output_from_spec};
use crate::config::CompositorConfig;

pub struct HeadlessBackend {
    renderer: PixmanRenderer,
}

pub fn start(config: &CompositorConfig) -> anyhow::Result<Started> {
    let renderer = PixmanRenderer::new().context("creating the pixman renderer")?;
    let outputs = config
        .outputs
        .iter()
        .enumerate()
        .map(|(index, spec)| output_from_spec("HEADLESS", index, spec))
        .collect();
    Ok(Started {
        backend: Backend::Headless(HeadlessBackend { renderer }),
        outputs,
    })
}

impl HeadlessBackend {
    pub fn renderer(&mut self) -> &mut PixmanRenderer {
        &mut self.renderer
    }
}
