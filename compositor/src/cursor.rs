//! The pointer's image for backends that draw it into their frames (DRM):
//! the client's cursor surface, or digiOS's arrow for named cursors.
//! Captures never include it; they draw the reticle instead.

use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::element::Kind;
use smithay::backend::renderer::element::memory::{
    MemoryRenderBuffer, MemoryRenderBufferRenderElement,
};
use smithay::backend::renderer::element::surface::render_elements_from_surface_tree;
use smithay::backend::renderer::pixman::PixmanRenderer;
use smithay::input::pointer::{CursorImageStatus, CursorImageSurfaceData};
use smithay::utils::{Logical, Point, Rectangle, Transform};
use smithay::wayland::compositor::with_states;

use crate::render::SceneElement;

/// The arrow, hotspot at its tip: `#` outline, `.` fill, space clear.
const ARROW: [&str; 19] = [
    "#           ",
    "##          ",
    "#.#         ",
    "#..#        ",
    "#...#       ",
    "#....#      ",
    "#.....#     ",
    "#......#    ",
    "#.......#   ",
    "#........#  ",
    "#.........# ",
    "#......#####",
    "#...#..#    ",
    "#..# #..#   ",
    "#.#  #..#   ",
    "##    #..#  ",
    "#     #..#  ",
    "       #..# ",
    "        ##  ",
];

pub struct Cursor {
    arrow: MemoryRenderBuffer,
}

impl Default for Cursor {
    fn default() -> Self {
        let (width, height) = (ARROW[0].len(), ARROW.len());
        let mut pixels = Vec::with_capacity(width * height * 4);
        for row in ARROW {
            for cell in row.bytes() {
                pixels.extend_from_slice(match cell {
                    b'#' => &[0, 0, 0, 255],
                    b'.' => &[255, 255, 255, 255],
                    _ => &[0, 0, 0, 0],
                });
            }
        }
        let arrow = MemoryRenderBuffer::from_slice(
            &pixels,
            Fourcc::Abgr8888,
            (width as i32, height as i32),
            1,
            Transform::Normal,
            None,
        );
        Self { arrow }
    }
}

impl Cursor {
    /// The cursor's elements for a frame of the global logical `region` at `scale`.
    pub fn elements(
        &self,
        renderer: &mut PixmanRenderer,
        status: &CursorImageStatus,
        pointer: Point<f64, Logical>,
        region: Rectangle<i32, Logical>,
        scale: f64,
    ) -> Vec<SceneElement> {
        let at = pointer - region.loc.to_f64();
        match status {
            CursorImageStatus::Hidden => Vec::new(),
            CursorImageStatus::Surface(surface) => {
                let hotspot = with_states(surface, |states| {
                    states
                        .data_map
                        .get::<CursorImageSurfaceData>()
                        .map(|data| data.lock().unwrap().hotspot)
                        .unwrap_or_default()
                });
                let location = (at - hotspot.to_f64()).to_physical(scale).to_i32_round();
                render_elements_from_surface_tree(
                    renderer,
                    surface,
                    location,
                    scale,
                    1.0,
                    Kind::Cursor,
                )
            }
            CursorImageStatus::Named(_) => MemoryRenderBufferRenderElement::from_buffer(
                renderer,
                at.to_physical(scale),
                &self.arrow,
                None,
                None,
                None,
                Kind::Cursor,
            )
            .map(|element| vec![SceneElement::Memory(element)])
            .unwrap_or_default(),
        }
    }
}
