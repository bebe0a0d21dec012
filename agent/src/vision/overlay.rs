//! Marks drawn onto a screenshot: a box around each target and its number
//! on a label, so a vision model (or a person) can name targets by number.

use font8x8::UnicodeFonts;

use super::frame::Frame;
use super::marks::{Mark, MarkKind};

type Rgba = [u8; 4];

const GLYPH: i32 = 8;
const LABEL_TEXT: Rgba = [0, 0, 0, 255];

fn colour(kind: MarkKind) -> Rgba {
    match kind {
        MarkKind::Window => [0xff, 0xd0, 0x00, 0xff],
        MarkKind::CloseButton => [0xff, 0x60, 0x40, 0xff],
        MarkKind::MaximizeButton => [0xff, 0x90, 0x20, 0xff],
        MarkKind::Text => [0x40, 0xe0, 0x70, 0xff],
        MarkKind::Widget => [0x40, 0xc0, 0xff, 0xff],
    }
}

/// Draws every mark that shows in `frame` onto its pixels.
pub fn draw_marks(frame: &mut Frame, marks: &[Mark]) {
    let scale = if frame.scale > 0.0 { frame.scale } else { 1.0 };
    let zoom = (scale.round() as i32).max(1);
    let (width, height) = (frame.width as i32, frame.height as i32);
    let area = frame.area;
    let pixels = std::sync::Arc::make_mut(&mut frame.rgba);
    let mut canvas = Canvas {
        pixels,
        width,
        height,
    };
    let project = |x: i32, y: i32| {
        (
            (f64::from(x - area.x) * scale).round() as i32,
            (f64::from(y - area.y) * scale).round() as i32,
        )
    };
    for mark in marks {
        if !mark.bbox.overlaps(&area) {
            continue;
        }
        let color = colour(mark.kind);
        let (x0, y0) = project(mark.bbox.x, mark.bbox.y);
        let (x1, y1) = project(
            mark.bbox.x + mark.bbox.width,
            mark.bbox.y + mark.bbox.height,
        );
        canvas.outline(x0, y0, x1 - x0, y1 - y0, zoom, color);
        let label = mark.number.to_string();
        let label_width = label.len() as i32 * GLYPH * zoom + 2 * zoom;
        let label_height = GLYPH * zoom + 2 * zoom;
        // Left of the box when there is room, so the target stays readable.
        let (lx, ly) = if x0 >= label_width {
            (x0 - label_width, y0)
        } else {
            (x0, (y0 - label_height).max(0))
        };
        canvas.fill(lx, ly, label_width, label_height, color);
        canvas.text(lx + zoom, ly + zoom, &label, zoom, LABEL_TEXT);
    }
}

struct Canvas<'a> {
    pixels: &'a mut [u8],
    width: i32,
    height: i32,
}

impl Canvas<'_> {
    fn fill(&mut self, x: i32, y: i32, width: i32, height: i32, color: Rgba) {
        let (x0, y0) = (x.max(0), y.max(0));
        let x1 = x.saturating_add(width).min(self.width);
        let y1 = y.saturating_add(height).min(self.height);
        for row in y0..y1 {
            for column in x0..x1 {
                let at = ((row * self.width + column) * 4) as usize;
                self.pixels[at..at + 4].copy_from_slice(&color);
            }
        }
    }

    fn outline(&mut self, x: i32, y: i32, width: i32, height: i32, thickness: i32, color: Rgba) {
        self.fill(x, y, width, thickness, color);
        self.fill(x, y + height - thickness, width, thickness, color);
        self.fill(x, y, thickness, height, color);
        self.fill(x + width - thickness, y, thickness, height, color);
    }

    fn text(&mut self, x: i32, y: i32, text: &str, zoom: i32, color: Rgba) {
        let mut pen = x;
        for character in text.chars() {
            let glyph = font8x8::BASIC_FONTS.get(character).unwrap_or([0; 8]);
            for (row, bits) in glyph.iter().enumerate() {
                for column in 0..GLYPH {
                    if bits & (1 << column) != 0 {
                        self.fill(
                            pen + column * zoom,
                            y + row as i32 * zoom,
                            zoom,
                            zoom,
                            color,
                        );
                    }
                }
            }
            pen += GLYPH * zoom;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vision::marks::Point;
    use digios_ipc::Rect;

    #[test]
    fn marks_are_drawn_inside_the_frame_only() {
        let area = Rect::new(0, 0, 64, 64);
        let mut frame = Frame::new(area, 1.0, 64, 64, [0, 0, 0, 255].repeat(64 * 64));
        let mark = |number, bbox| Mark {
            number,
            kind: MarkKind::Text,
            label: "x".into(),
            bbox,
            click: Point { x: 0.0, y: 0.0 },
            window_id: None,
            role: None,
        };
        draw_marks(
            &mut frame,
            &[
                mark(1, Rect::new(30, 30, 20, 10)),
                mark(2, Rect::new(60, 60, 100, 100)),
                mark(3, Rect::new(500, 500, 5, 5)),
            ],
        );
        let at = |x: usize, y: usize| frame.rgba[(y * 64 + x) * 4..][..4].to_vec();
        assert_eq!(at(30, 35), colour(MarkKind::Text).to_vec());
        assert_eq!(at(40, 35), vec![0, 0, 0, 255]);
    }
}
