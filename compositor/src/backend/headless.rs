//! Headless backend: no display hardware; frames are rendered offscreen with
//! pixman when a capture asks for them.

use std::any::Any;

use anyhow::Context;
use smithay::backend::renderer::pixman::PixmanRenderer;
use smithay::output::{Mode, Output, PhysicalProperties, Subpixel};

use super::{Backend, Started};
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
        .map(|(index, spec)| {
            let output = Output::new(
                format!("HEADLESS-{}", index + 1),
                PhysicalProperties {
                    size: (0, 0).into(),
                    subpixel: Subpixel::Unknown,
                    make: "digiOS".into(),
                    model: "headless".into(),
                },
            );
            let mode = Mode {
                size: (spec.width, spec.height).into(),
                refresh: 60_000,
            };
            output.change_current_state(
                Some(mode),
                None,
                Some(smithay::output::Scale::Fractional(spec.scale)),
                None,
            );
            output.set_preferred(mode);
            output
        })
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
