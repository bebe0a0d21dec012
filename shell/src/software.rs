//! A software painter for egui: rasterises egui's triangles straight into a
//! premultiplied ARGB8888 buffer (Wayland's `wl_shm` format). A panel and a
//! drawer are small and change rarely, so painting on the CPU beats
//! starting a software GPU stack (lavapipe or llvmpipe) for every frame; see
//! `cargo xtask bench` for the figures.

use std::collections::HashMap;

use egui::epaint::{ClippedPrimitive, Primitive, Vertex};
use egui::{Color32, TextureId, TexturesDelta};

/// A texture as premultiplied RGBA texels.
struct Texture {
    width: usize,
    height: usize,
    texels: Vec<[u8; 4]>,
    linear: bool,
}

/// Every texture egui has handed over, kept across frames.
#[derive(Default)]
pub struct Textures {
    map: HashMap<TextureId, Texture>,
}

impl Textures {
    /// Applies (and takes) a frame's new and changed textures; call before painting.
    pub fn set(&mut self, delta: &mut TexturesDelta) {
        for (id, deltas) in std::mem::take(&mut delta.set) {
            for image_delta in deltas {
                let egui::ImageData::Color(image) = &image_delta.image;
                let [w, h] = image.size;
                let texels = image.pixels.iter().map(|c| c.to_array());
                let linear = image_delta.options.magnification == egui::TextureFilter::Linear;
                match image_delta.pos {
                    None => {
                        self.map.insert(
                            id,
                            Texture {
                                width: w,
                                height: h,
                                texels: texels.collect(),
                                linear,
                            },
                        );
                    }
                    Some([x0, y0]) => {
                        let Some(texture) = self.map.get_mut(&id) else {
                            continue;
                        };
                        for (i, texel) in texels.enumerate() {
                            let (x, y) = (x0 + i % w, y0 + i / w);
                            if x < texture.width && y < texture.height {
                                texture.texels[y * texture.width + x] = texel;
                            }
                        }
                    }
                }
            }
        }
    }

    /// Frees (and takes) the textures a frame let go of; call after painting.
    pub fn free(&mut self, delta: &mut TexturesDelta) {
        for id in std::mem::take(&mut delta.free) {
            self.map.remove(&id);
        }
    }
}

/// A premultiplied ARGB8888 image, `0xAARRGGBB` per pixel.
pub struct Canvas {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u32>,
}

impl Canvas {
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            width,
            height,
            pixels: vec![0; width * height],
        }
    }

    pub fn resize(&mut self, width: usize, height: usize) {
        self.width = width;
        self.height = height;
        self.pixels.clear();
        self.pixels.resize(width * height, 0);
    }

    /// Clears to transparent and paints `primitives` at `pixels_per_point`.
    pub fn paint(
        &mut self,
        primitives: &[ClippedPrimitive],
        textures: &Textures,
        pixels_per_point: f32,
    ) {
        self.pixels.fill(0);
        for primitive in primitives {
            let Primitive::Mesh(mesh) = &primitive.primitive else {
                continue;
            };
            let Some(texture) = textures.map.get(&mesh.texture_id) else {
                continue;
            };
            let clip = primitive.clip_rect;
            let clip = [
                (clip.min.x * pixels_per_point).round().max(0.0) as i32,
                (clip.min.y * pixels_per_point).round().max(0.0) as i32,
                ((clip.max.x * pixels_per_point).round() as i32).min(self.width as i32),
                ((clip.max.y * pixels_per_point).round() as i32).min(self.height as i32),
            ];
            if clip[0] >= clip[2] || clip[1] >= clip[3] {
                continue;
            }
            for triangle in mesh.indices.chunks_exact(3) {
                let vertex = |i: u32| mesh.vertices.get(i as usize);
                let (Some(a), Some(b), Some(c)) = (
                    vertex(triangle[0]),
                    vertex(triangle[1]),
                    vertex(triangle[2]),
                ) else {
                    continue;
                };
                self.triangle([a, b, c], texture, pixels_per_point, clip);
            }
        }
    }

    /// The pixels as bytes in `wl_shm` ARGB8888 (little-endian) order.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: u32 has no padding and any byte pattern is valid; the slice
        // covers exactly the vector's initialised elements.
        unsafe { std::slice::from_raw_parts(self.pixels.as_ptr().cast(), self.pixels.len() * 4) }
    }

    fn triangle(&mut self, v: [&Vertex; 3], texture: &Texture, ppp: f32, clip: [i32; 4]) {
        let p = v.map(|v| (v.pos.x * ppp, v.pos.y * ppp));
        let edge = |a: (f32, f32), b: (f32, f32), x: f32, y: f32| {
            (b.0 - a.0) * (y - a.1) - (b.1 - a.1) * (x - a.0)
        };
        let mut area = edge(p[0], p[1], p[2].0, p[2].1);
        let (mut i1, mut i2) = (1, 2);
        if area < 0.0 {
            (i1, i2) = (2, 1);
            area = -area;
        }
        if area <= f32::EPSILON {
            return;
        }
        let (a, b, c) = (p[0], p[i1], p[i2]);
        let (va, vb, vc) = (v[0], v[i1], v[i2]);
        let x0 = (a.0.min(b.0).min(c.0).floor() as i32).max(clip[0]);
        let x1 = (a.0.max(b.0).max(c.0).ceil() as i32).min(clip[2]);
        let y0 = (a.1.min(b.1).min(c.1).floor() as i32).max(clip[1]);
        let y1 = (a.1.max(b.1).max(c.1).ceil() as i32).min(clip[3]);
        if x0 >= x1 || y0 >= y1 {
            return;
        }
        // Top-left rule: a pixel centre exactly on a shared edge belongs to
        // one triangle only, so translucent quads do not double-blend.
        let top_left = |from: (f32, f32), to: (f32, f32)| {
            let (dx, dy) = (to.0 - from.0, to.1 - from.1);
            (dy == 0.0 && dx > 0.0) || dy < 0.0
        };
        let bias = [top_left(b, c), top_left(c, a), top_left(a, b)]
            .map(|tl| if tl { 0.0 } else { f32::MIN_POSITIVE });

        let same_uv = va.uv == vb.uv && va.uv == vc.uv;
        let same_color = va.color == vb.color && va.color == vc.color;
        let flat =
            same_uv.then(|| modulate(va.color.to_array(), sample(texture, va.uv.x, va.uv.y)));
        if flat.is_some_and(|c| c[3] == 0 && c[0] == 0 && c[1] == 0 && c[2] == 0) && same_color {
            return;
        }
        let colors = [va, vb, vc].map(|v| v.color.to_array().map(f32::from));
        let inv_area = 1.0 / area;

        // Edge functions step linearly: d/dx and d/dy of each.
        let steps = [(b, c), (c, a), (a, b)].map(|(from, to)| (-(to.1 - from.1), to.0 - from.0));
        let (fx, fy) = (x0 as f32 + 0.5, y0 as f32 + 0.5);
        let mut row = [edge(b, c, fx, fy), edge(c, a, fx, fy), edge(a, b, fx, fy)];
        for y in y0..y1 {
            let mut w = row;
            let line = y as usize * self.width;
            for x in x0..x1 {
                if w[0] >= bias[0] && w[1] >= bias[1] && w[2] >= bias[2] {
                    let src = match (flat, same_color) {
                        (Some(color), true) => color,
                        _ => {
                            let l = [w[0] * inv_area, w[1] * inv_area, w[2] * inv_area];
                            let texel = match flat {
                                Some(_) => sample(texture, va.uv.x, va.uv.y),
                                None => {
                                    let u = l[0] * va.uv.x + l[1] * vb.uv.x + l[2] * vc.uv.x;
                                    let v = l[0] * va.uv.y + l[1] * vb.uv.y + l[2] * vc.uv.y;
                                    sample(texture, u, v)
                                }
                            };
                            let color = std::array::from_fn(|k| {
                                (l[0] * colors[0][k] + l[1] * colors[1][k] + l[2] * colors[2][k])
                                    .round()
                                    .clamp(0.0, 255.0) as u8
                            });
                            modulate(color, texel)
                        }
                    };
                    let dst = &mut self.pixels[line + x as usize];
                    *dst = blend(src, *dst);
                }
                for k in 0..3 {
                    w[k] += steps[k].0;
                }
            }
            for k in 0..3 {
                row[k] += steps[k].1;
            }
        }
    }
}

/// Samples a texture at normalised `u`, `v` (clamped to the edge).
fn sample(texture: &Texture, u: f32, v: f32) -> [u8; 4] {
    let (w, h) = (texture.width, texture.height);
    if w == 0 || h == 0 {
        return [255; 4];
    }
    let x = u * w as f32 - 0.5;
    let y = v * h as f32 - 0.5;
    let at = |x: i64, y: i64| {
        let x = x.clamp(0, w as i64 - 1) as usize;
        let y = y.clamp(0, h as i64 - 1) as usize;
        texture.texels[y * w + x]
    };
    if !texture.linear {
        return at(x.round() as i64, y.round() as i64);
    }
    let (xf, yf) = (x.floor(), y.floor());
    let (tx, ty) = (x - xf, y - yf);
    let (xi, yi) = (xf as i64, yf as i64);
    // Text sits on the texel grid; skip the four-tap filter when it does.
    if tx < 1e-3 && ty < 1e-3 {
        return at(xi, yi);
    }
    let [p00, p10, p01, p11] = [
        at(xi, yi),
        at(xi + 1, yi),
        at(xi, yi + 1),
        at(xi + 1, yi + 1),
    ];
    std::array::from_fn(|k| {
        let top = f32::from(p00[k]) * (1.0 - tx) + f32::from(p10[k]) * tx;
        let bottom = f32::from(p01[k]) * (1.0 - tx) + f32::from(p11[k]) * tx;
        (top * (1.0 - ty) + bottom * ty).round() as u8
    })
}

/// Vertex colour times texel, both premultiplied RGBA.
fn modulate(color: [u8; 4], texel: [u8; 4]) -> [u8; 4] {
    std::array::from_fn(|k| mul8(color[k], texel[k]))
}

fn mul8(a: u8, b: u8) -> u8 {
    let t = u32::from(a) * u32::from(b) + 128;
    ((t + (t >> 8)) >> 8) as u8
}

/// Premultiplied "source over" of RGBA onto ARGB8888.
fn blend(src: [u8; 4], dst: u32) -> u32 {
    let [r, g, b, a] = src;
    if a == 255 {
        return u32::from_be_bytes([255, r, g, b]);
    }
    if a == 0 && r == 0 && g == 0 && b == 0 {
        return dst;
    }
    let [da, dr, dg, db] = dst.to_be_bytes();
    let keep = 255 - a;
    let mix = |s: u8, d: u8| s.saturating_add(mul8(d, keep));
    u32::from_be_bytes([mix(a, da), mix(r, dr), mix(g, dg), mix(b, db)])
}

/// Converts a canvas pixel back to egui's colour, for tests.
pub fn to_color32(pixel: u32) -> Color32 {
    let [a, r, g, b] = pixel.to_be_bytes();
    Color32::from_rgba_premultiplied(r, g, b, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filled_rect_covers_exactly_its_pixels() {
        let ctx = egui::Context::default();
        ctx.tessellation_options_mut(|o| o.feathering = false);
        let mut output = ctx.run_ui(
            egui::RawInput {
                screen_rect: Some(egui::Rect::from_min_size(
                    egui::Pos2::ZERO,
                    egui::vec2(20.0, 10.0),
                )),
                ..Default::default()
            },
            |ui| {
                ui.painter().rect_filled(
                    egui::Rect::from_min_max(egui::pos2(2.0, 2.0), egui::pos2(6.0, 5.0)),
                    0.0,
                    Color32::from_rgb(10, 200, 30),
                );
                ui.painter().rect_filled(
                    egui::Rect::from_min_max(egui::pos2(2.0, 2.0), egui::pos2(4.0, 3.0)),
                    0.0,
                    Color32::from_black_alpha(128),
                );
            },
        );
        let mut textures = Textures::default();
        textures.set(&mut output.textures_delta);
        let primitives = ctx.tessellate(output.shapes, 1.0);
        let mut canvas = Canvas::new(20, 10);
        canvas.paint(&primitives, &textures, 1.0);
        textures.free(&mut output.textures_delta);
        let at = |x: usize, y: usize| to_color32(canvas.pixels[y * 20 + x]);
        assert_eq!(at(5, 4), Color32::from_rgb(10, 200, 30));
        assert_eq!(at(6, 4), Color32::TRANSPARENT);
        assert_eq!(at(1, 2), Color32::TRANSPARENT);
        // Half black over the green, blended once even on the quad's diagonal.
        assert_eq!(at(2, 2), Color32::from_rgb(5, 100, 15));
        assert_eq!(at(3, 2), Color32::from_rgb(5, 100, 15));
    }
}
