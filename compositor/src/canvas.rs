//! A small RGBA canvas with rectangles, lines and 8×8 bitmap text: title bars
//! and capture overlays are drawn with it.

use font8x8::UnicodeFonts;

/// Straight RGBA.
pub type Rgba = [u8; 4];

/// Side of one glyph cell in font pixels.
pub const GLYPH_SIZE: i32 = 8;

/// RGBA pixels, rows top to bottom, no padding.
pub struct Canvas {
    pub width: i32,
    pub height: i32,
    pub pixels: Vec<u8>,
}

impl Canvas {
    pub fn new(width: i32, height: i32, fill: Rgba) -> Self {
        let count = (width.max(0) as usize) * (height.max(0) as usize);
        let mut pixels = Vec::with_capacity(count * 4);
        for _ in 0..count {
            pixels.extend_from_slice(&fill);
        }
        Self {
            width,
            height,
            pixels,
        }
    }

    pub fn from_rgba(width: i32, height: i32, pixels: Vec<u8>) -> Self {
        debug_assert_eq!(pixels.len(), (width * height * 4) as usize);
        Self {
            width,
            height,
            pixels,
        }
    }

    #[cfg(test)]
    pub fn pixel(&self, x: i32, y: i32) -> Option<Rgba> {
        if x < 0 || y < 0 || x >= self.width || y >= self.height {
            return None;
        }
        let at = ((y * self.width + x) * 4) as usize;
        Some([
            self.pixels[at],
            self.pixels[at + 1],
            self.pixels[at + 2],
            self.pixels[at + 3],
        ])
    }

    /// Blends `color` over one pixel by its alpha; outside pixels are ignored.
    pub fn blend(&mut self, x: i32, y: i32, color: Rgba) {
        if x < 0 || y < 0 || x >= self.width || y >= self.height {
            return;
        }
        let at = ((y * self.width + x) * 4) as usize;
        let alpha = u32::from(color[3]);
        for (under, &over) in self.pixels[at..at + 3].iter_mut().zip(&color[..3]) {
            let (under_value, over) = (u32::from(*under), u32::from(over));
            *under = ((over * alpha + under_value * (255 - alpha)) / 255) as u8;
        }
        let under_alpha = u32::from(self.pixels[at + 3]);
        self.pixels[at + 3] = (alpha + under_alpha * (255 - alpha) / 255) as u8;
    }

    pub fn fill_rect(&mut self, x: i32, y: i32, width: i32, height: i32, color: Rgba) {
        let (x0, y0) = (x.max(0), y.max(0));
        let x1 = x.saturating_add(width).min(self.width);
        let y1 = y.saturating_add(height).min(self.height);
        for row in y0..y1 {
            for column in x0..x1 {
                self.blend(column, row, color);
            }
        }
    }

    /// A rectangle outline `thickness` pixels wide, inside the rectangle.
    pub fn outline_rect(
        &mut self,
        x: i32,
        y: i32,
        width: i32,
        height: i32,
        thickness: i32,
        color: Rgba,
    ) {
        self.fill_rect(x, y, width, thickness, color);
        self.fill_rect(x, y + height - thickness, width, thickness, color);
        self.fill_rect(x, y + thickness, thickness, height - 2 * thickness, color);
        self.fill_rect(
            x + width - thickness,
            y + thickness,
            thickness,
            height - 2 * thickness,
            color,
        );
    }

    /// Width in pixels of `text` drawn at `zoom` pixels per font pixel.
    pub fn text_width(text: &str, zoom: i32) -> i32 {
        text.chars().count() as i32 * GLYPH_SIZE * zoom
    }

    /// Draws text with its top-left corner at `(x, y)`; characters the font
    /// lacks are drawn as `?`. Returns the width drawn.
    pub fn draw_text(&mut self, x: i32, y: i32, text: &str, zoom: i32, color: Rgba) -> i32 {
        let mut pen = x;
        for character in text.chars() {
            let glyph = font8x8::BASIC_FONTS
                .get(character)
                .or_else(|| font8x8::LATIN_FONTS.get(character))
                .or_else(|| font8x8::BASIC_FONTS.get('?'))
                .unwrap_or([0; 8]);
            for (row, bits) in glyph.iter().enumerate() {
                for column in 0..GLYPH_SIZE {
                    if bits & (1 << column) != 0 {
                        self.fill_rect(
                            pen + column * zoom,
                            y + row as i32 * zoom,
                            zoom,
                            zoom,
                            color,
                        );
                    }
                }
            }
            pen += GLYPH_SIZE * zoom;
        }
        pen - x
    }

    /// Text on a filled label box with a `pad`-pixel margin.
    pub fn draw_label(
        &mut self,
        x: i32,
        y: i32,
        text: &str,
        zoom: i32,
        foreground: Rgba,
        background: Rgba,
    ) {
        let pad = 2 * zoom;
        let width = Self::text_width(text, zoom) + 2 * pad;
        let height = GLYPH_SIZE * zoom + 2 * pad;
        self.fill_rect(x, y, width, height, background);
        self.draw_text(x + pad, y + pad, text, zoom, foreground);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_sets_pixels_inside_its_box_only() {
        let mut canvas = Canvas::new(40, 10, [0, 0, 0, 255]);
        let width = canvas.draw_text(1, 1, "Hi", 1, [255, 255, 255, 255]);
        assert_eq!(width, 16);
        let lit = (0..40)
            .flat_map(|x| (0..10).map(move |y| (x, y)))
            .filter(|&(x, y)| canvas.pixel(x, y) == Some([255, 255, 255, 255]))
            .collect::<Vec<_>>();
        assert!(!lit.is_empty());
        assert!(
            lit.iter()
                .all(|&(x, y)| (1..17).contains(&x) && (1..9).contains(&y))
        );
    }

    #[test]
    fn drawing_outside_the_canvas_is_clipped() {
        let mut canvas = Canvas::new(4, 4, [0, 0, 0, 255]);
        canvas.fill_rect(-10, -10, 100, 100, [10, 20, 30, 255]);
        canvas.draw_text(-50, 200, "clipped", 3, [1, 1, 1, 255]);
        assert_eq!(canvas.pixel(3, 3), Some([10, 20, 30, 255]));
    }
}
