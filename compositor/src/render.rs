//! Composes the scene (layers, windows, title bars) into pixels with pixman,
//! and tells clients when to draw their next frame.

use std::time::Duration;

use anyhow::Context;
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::element::memory::MemoryRenderBufferRenderElement;
use smithay::backend::renderer::element::surface::WaylandSurfaceRenderElement;
use smithay::backend::renderer::element::{AsRenderElements, Kind};
use smithay::backend::renderer::pixman::PixmanRenderer;
use smithay::backend::renderer::{Bind, ExportMem};
use smithay::backend::renderer::element::surface::render_elements_from_surface_tree;
use smithay::desktop::utils::send_frames_surface_tree;
use smithay::desktop::{Space, Window, layer_map_for_output};
use smithay::reexports::pixman;
use smithay::utils::{Logical, Physical, Rectangle, Size, Transform};
use smithay::wayland::shell::wlr_layer::Layer;

use crate::canvas::Canvas;
use crate::state::State;
use crate::title_bar::TitleBar;
use crate::windows::WindowList;

smithay::backend::renderer::element::render_elements! {
    pub SceneElement<=PixmanRenderer>;
    Surface=WaylandSurfaceRenderElement<PixmanRenderer>,
    Memory=MemoryRenderBufferRenderElement<PixmanRenderer>,
}

/// The desktop colour behind every window, RGBA.
pub const BACKGROUND: [u8; 4] = [28, 33, 41, 255];

fn background() -> [f32; 4] {
    BACKGROUND.map(|channel| f32::from(channel) / 255.0)
}

/// Largest image a render may produce, in pixels per side.
pub const MAX_RENDER_SIDE: i32 = 16384;

/// Renders the global logical `region` at `scale` into an RGBA canvas.
pub fn render_region(
    state: &mut State,
    region: Rectangle<i32, Logical>,
    scale: f64,
) -> anyhow::Result<Canvas> {
    refresh_title_bars(state);
    let size: Size<i32, Physical> = region.size.to_f64().to_physical(scale).to_i32_round();
    anyhow::ensure!(
        (1..=MAX_RENDER_SIDE).contains(&size.w) && (1..=MAX_RENDER_SIDE).contains(&size.h),
        "image size {}x{} is out of range",
        size.w,
        size.h
    );

    let State {
        backend,
        space,
        windows,
        ..
    } = state;
    let renderer = backend.renderer();
    let elements = scene_elements(renderer, space, windows, region, scale)?;

    let mut image = pixman::Image::new(
        pixman::FormatCode::A8R8G8B8,
        size.w as usize,
        size.h as usize,
        true,
    )
    .map_err(|_| anyhow::anyhow!("cannot allocate a {}x{} image", size.w, size.h))?;
    let mut damage_tracker = OutputDamageTracker::new(size, scale, Transform::Normal);
    let mut framebuffer = renderer.bind(&mut image).context("binding the image")?;
    damage_tracker
        .render_output(renderer, &mut framebuffer, 0, &elements, background())
        .map_err(|err| anyhow::anyhow!("rendering: {err:?}"))?;
    let mapping = renderer
        .copy_framebuffer(
            &framebuffer,
            Rectangle::from_size((size.w, size.h).into()),
            Fourcc::Abgr8888,
        )
        .context("reading the frame back")?;
    let pixels = renderer
        .map_texture(&mapping)
        .context("mapping the frame")?;
    Ok(Canvas::from_rgba(
        size.w,
        size.h,
        pixels[..(size.w * size.h * 4) as usize].to_vec(),
    ))
}

/// Draws `elements` into a bound framebuffer whose previous content is
/// `age` frames old (0: unknown), over the desktop background. Returns
/// whether anything was drawn.
pub fn draw_frame(
    renderer: &mut PixmanRenderer,
    framebuffer: &mut <PixmanRenderer as smithay::backend::renderer::RendererSuper>::Framebuffer<'_>,
    damage_tracker: &mut OutputDamageTracker,
    age: usize,
    elements: &[SceneElement],
) -> anyhow::Result<bool> {
    let result = damage_tracker
        .render_output(renderer, framebuffer, age, elements, background())
        .map_err(|err| anyhow::anyhow!("rendering: {err:?}"))?;
    Ok(result.damage.is_some_and(|damage| !damage.is_empty()))
}

/// The scene's render elements for the global logical `region` at `scale`,
/// topmost first: overlay and top layers, windows with their title bars,
/// bottom and background layers.
pub fn scene_elements(
    renderer: &mut PixmanRenderer,
    space: &Space<Window>,
    windows: &WindowList,
    region: Rectangle<i32, Logical>,
    scale: f64,
) -> anyhow::Result<Vec<SceneElement>> {
    let mut elements: Vec<SceneElement> = Vec::new();
    let outputs: Vec<_> = space
        .outputs()
        .filter_map(|output| Some((output.clone(), space.output_geometry(output)?)))
        .filter(|(_, geometry)| geometry.overlaps(region))
        .collect();

    let push_layers =
        |elements: &mut Vec<SceneElement>, renderer: &mut PixmanRenderer, layers: &[Layer]| {
            for (output, output_geometry) in &outputs {
                let map = layer_map_for_output(output);
                for layer in layers {
                    for surface in map.layers_on(*layer).rev() {
                        let Some(geometry) = map.layer_geometry(surface) else {
                            continue;
                        };
                        let location = (geometry.loc + output_geometry.loc - region.loc)
                            .to_physical_precise_round(scale);
                        elements.extend(surface.render_elements::<SceneElement>(
                            renderer,
                            location,
                            scale.into(),
                            1.0,
                        ));
                    }
                }
            }
        };

    push_layers(&mut elements, renderer, &[Layer::Overlay, Layer::Top]);
    for window in space.elements().rev() {
        let Some(managed) = windows.windows.iter().find(|m| &m.window == window) else {
            continue;
        };
        if !managed.frame().overlaps(region) {
            continue;
        }
        let origin = (managed.location - window.geometry().loc - region.loc)
            .to_physical_precise_round(scale);
        match &managed.x11_surface {
            Some(surface) => elements.extend(render_elements_from_surface_tree(
                renderer,
                surface,
                origin,
                scale,
                1.0,
                Kind::Unspecified,
            )),
            None => elements.extend(window.render_elements::<SceneElement>(
                renderer,
                origin,
                scale.into(),
                1.0,
            )),
        }
        if let (Some(bar), Some(title_bar)) = (managed.title_bar_rect(), &managed.title_bar) {
            let location = (bar.loc - region.loc).to_f64().to_physical(scale);
            let element = MemoryRenderBufferRenderElement::from_buffer(
                renderer,
                location,
                &title_bar.buffer,
                None,
                None,
                None,
                Kind::Unspecified,
            )
            .context("uploading a title bar")?;
            elements.push(SceneElement::Memory(element));
        }
    }
    push_layers(&mut elements, renderer, &[Layer::Bottom, Layer::Background]);
    Ok(elements)
}

/// Redraws title bars whose title, width or focus changed.
pub fn refresh_title_bars(state: &mut State) {
    let focused = state.windows.focused;
    for managed in &mut state.windows.windows {
        if !managed.visible() || !managed.has_title_bar() {
            continue;
        }
        let (title, app_id) = managed.title_and_app_id();
        let label = title.or(app_id).unwrap_or_default();
        let width = managed.geometry().size.w;
        managed.title_bar = Some(TitleBar::update(
            managed.title_bar.take(),
            &label,
            width,
            focused == Some(managed.id),
        ));
    }
}

/// Tells every visible surface it may draw its next frame.
pub fn send_frame_callbacks(state: &mut State) {
    let time = state.started.elapsed();
    let throttle = Some(Duration::from_millis(1000));
    let Some(first_output) = state.space.outputs().next().cloned() else {
        return;
    };
    for window in state.space.elements() {
        let output = state
            .space
            .outputs_for_element(window)
            .into_iter()
            .next()
            .unwrap_or_else(|| first_output.clone());
        let x11_surface = state
            .windows
            .windows
            .iter()
            .find(|managed| &managed.window == window)
            .and_then(|managed| managed.x11_surface.as_ref());
        match x11_surface {
            Some(surface) => send_frames_surface_tree(surface, &output, time, throttle, |_, _| {
                Some(output.clone())
            }),
            None => window.send_frame(&output, time, throttle, |_, _| Some(output.clone())),
        }
    }
    for output in state.space.outputs() {
        let map = layer_map_for_output(output);
        for layer in map.layers() {
            layer.send_frame(output, time, throttle, |_, _| Some(output.clone()));
        }
    }
}

/// Lets a presenting backend show what changed since its last frame.
pub fn present(state: &mut State) {
    refresh_title_bars(state);
    let pointer = state.pointer_location();
    let State {
        backend,
        space,
        windows,
        cursor_image,
        ..
    } = state;
    backend.present(crate::backend::Scene {
        space,
        windows,
        pointer,
        cursor: cursor_image,
    });
}
