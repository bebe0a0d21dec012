//! Headless backend: no display hardware; frames are rendered offscreen with
//! pixman when a capture asks for them.

use std::any::Any;

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
        backend: Box::new(HeadlessBackend { renderer }),
        outputs,
    })
}

impl Backend for HeadlessBackend {
    fn name(&self) -> &'static str {
        "headless"
    }

    fn renderer(&mut self) -> &mut PixmanRenderer {
        &mut self.renderer
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}
