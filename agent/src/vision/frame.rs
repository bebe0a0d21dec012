//! Captured frames as raw RGBA with the global rectangle they show, and the
//! pixel comparisons change detection and the OCR cache are built on.

use std::sync::Arc;

use digios_ipc::{CaptureRequest, CaptureTarget, ImageFormat, Rect, Request, Response};

use super::VisionError;
use crate::desktop::{Desktop, DesktopError, unexpected};

/// A rectangle in a frame's pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelRect {
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
}

impl PixelRect {
    /// The part inside a `width` × `height` image, if any.
    pub fn clip(self, width: usize, height: usize) -> Option<PixelRect> {
        let x1 = (self.x.saturating_add(self.width)).min(width);
        let y1 = (self.y.saturating_add(self.height)).min(height);
        (x1 > self.x && y1 > self.y).then(|| PixelRect {
            x: self.x,
            y: self.y,
            width: x1 - self.x,
            height: y1 - self.y,
        })
    }
}

/// Straight RGBA pixels showing `area` of the global space at `scale`.
#[derive(Debug, Clone)]
pub struct Frame {
    pub area: Rect,
    /// Image pixels per logical pixel.
    pub scale: f64,
    pub width: u32,
    pub height: u32,
    pub rgba: Arc<Vec<u8>>,
}

impl Frame {
    pub fn new(area: Rect, scale: f64, width: u32, height: u32, rgba: Vec<u8>) -> Self {
        Self {
            area,
            scale,
            width,
            height,
            rgba: Arc::new(rgba),
        }
    }

    /// Captures `target` from the compositor as raw RGBA.
    pub async fn capture(desktop: &Desktop, target: CaptureTarget) -> Result<Frame, VisionError> {
        let request = Request::Capture(CaptureRequest {
            target,
            format: ImageFormat::Rgba,
            ..CaptureRequest::default()
        });
        match desktop.request(request).await? {
            Response::Image(image) => {
                let expected = image.width as usize * image.height as usize * 4;
                if image.data.len() != expected {
                    return Err(VisionError::Desktop(DesktopError::Unavailable(format!(
                        "a {}x{} capture came with {} bytes",
                        image.width,
                        image.height,
                        image.data.len()
                    ))));
                }
                Ok(Frame::new(
                    image.area,
                    image.scale,
                    image.width,
                    image.height,
                    image.data,
                ))
            }
            other => Err(unexpected(other).into()),
        }
    }

    pub fn pixel_rect(&self) -> PixelRect {
        PixelRect {
            x: 0,
            y: 0,
            width: self.width as usize,
            height: self.height as usize,
        }
    }

    /// The frame pixels showing a global rectangle (clipped to the frame).
    pub fn to_pixels(&self, rect: Rect) -> Option<PixelRect> {
        let clipped = rect.intersection(&self.area)?;
        let x0 = (f64::from(clipped.x - self.area.x) * self.scale).floor() as usize;
        let y0 = (f64::from(clipped.y - self.area.y) * self.scale).floor() as usize;
        let x1 = (f64::from(clipped.x + clipped.width - self.area.x) * self.scale).ceil() as usize;
        let y1 = (f64::from(clipped.y + clipped.height - self.area.y) * self.scale).ceil() as usize;
        PixelRect {
            x: x0,
            y: y0,
            width: x1.saturating_sub(x0),
            height: y1.saturating_sub(y0),
        }
        .clip(self.width as usize, self.height as usize)
    }

    /// The global rectangle frame pixels show (rounded outwards).
    pub fn to_global(&self, pixels: PixelRect) -> Rect {
        let scale = if self.scale > 0.0 { self.scale } else { 1.0 };
        let x0 = (pixels.x as f64 / scale).floor() as i32;
        let y0 = (pixels.y as f64 / scale).floor() as i32;
        let x1 = ((pixels.x + pixels.width) as f64 / scale).ceil() as i32;
        let y1 = ((pixels.y + pixels.height) as f64 / scale).ceil() as i32;
        Rect::new(self.area.x + x0, self.area.y + y0, x1 - x0, y1 - y0)
    }

    fn row(&self, y: usize) -> &[u8] {
        let stride = self.width as usize * 4;
        &self.rgba[y * stride..(y + 1) * stride]
    }
}

/// Side of the tiles frames are compared in, in pixels.
const TILE: usize = 16;

/// The global rectangles where two frames of the same area differ, as
/// merged tiles; everything when their areas or sizes differ.
pub fn changed_regions(before: &Frame, after: &Frame) -> Vec<Rect> {
    if before.area != after.area || before.width != after.width || before.height != after.height {
        return vec![after.area];
    }
    let (width, height) = (after.width as usize, after.height as usize);
    let columns = width.div_ceil(TILE);
    let mut changed_tiles: Vec<PixelRect> = Vec::new();
    for tile_row in 0..height.div_ceil(TILE) {
        let y0 = tile_row * TILE;
        let y1 = (y0 + TILE).min(height);
        let mut dirty = vec![false; columns];
        for y in y0..y1 {
            let (old, new) = (before.row(y), after.row(y));
            if old == new {
                continue;
            }
            for (column, flag) in dirty.iter_mut().enumerate() {
                let x0 = column * TILE * 4;
                let x1 = ((column + 1) * TILE).min(width) * 4;
                if !*flag && old[x0..x1] != new[x0..x1] {
                    *flag = true;
                }
            }
        }
        // Runs of dirty tiles in this row become one rectangle.
        let mut column = 0;
        while column < columns {
            if !dirty[column] {
                column += 1;
                continue;
            }
            let start = column;
            while column < columns && dirty[column] {
                column += 1;
            }
            let x0 = start * TILE;
            let run = PixelRect {
                x: x0,
                y: y0,
                width: (column * TILE).min(width) - x0,
                height: y1 - y0,
            };
            // Join with the run directly above when it spans the same columns.
            match changed_tiles
                .iter_mut()
                .find(|r| r.x == run.x && r.width == run.width && r.y + r.height == run.y)
            {
                Some(above) => above.height += run.height,
                None => changed_tiles.push(run),
            }
        }
    }
    merge_rects(
        changed_tiles
            .into_iter()
            .map(|pixels| after.to_global(pixels))
            .collect(),
    )
}

/// Merges touching or overlapping rectangles until none touch.
pub fn merge_rects(rects: Vec<Rect>) -> Vec<Rect> {
    digios_ipc::merge_touching(rects)
}

/// Rows (frame pixels) where two same-sized frames differ, as a range, or
/// `None` when they are identical.
pub fn changed_rows(before: &Frame, after: &Frame) -> Option<Vec<(usize, usize)>> {
    if before.width != after.width || before.height != after.height {
        return Some(vec![(0, after.height as usize)]);
    }
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    for y in 0..after.height as usize {
        if before.row(y) == after.row(y) {
            continue;
        }
        match ranges.last_mut() {
            Some((_, end)) if *end == y => *end = y + 1,
            _ => ranges.push((y, y + 1)),
        }
    }
    (!ranges.is_empty()).then_some(ranges)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solid(area: Rect, color: [u8; 4]) -> Frame {
        let (w, h) = (area.width as u32, area.height as u32);
        Frame::new(area, 1.0, w, h, color.repeat((w * h) as usize))
    }

    #[test]
    fn identical_frames_have_no_changes_and_a_changed_block_is_found() {
        let area = Rect::new(100, 50, 64, 64);
        let before = solid(area, [0, 0, 0, 255]);
        assert!(changed_regions(&before, &before.clone()).is_empty());
        assert!(changed_rows(&before, &before).is_none());
        let mut after = before.clone();
        let rgba = Arc::make_mut(&mut after.rgba);
        for y in 20..24 {
            for x in 40..44 {
                rgba[(y * 64 + x) * 4] = 255;
            }
        }
        let regions = changed_regions(&before, &after);
        assert_eq!(regions, vec![Rect::new(132, 66, 16, 16)]);
        assert!(regions[0].contains(142.0, 72.0));
        assert_eq!(changed_rows(&before, &after), Some(vec![(20, 24)]));
    }

    #[test]
    fn pixel_and_global_rectangles_map_both_ways() {
        let frame = solid(Rect::new(10, 20, 100, 100), [0; 4]);
        let pixels = frame.to_pixels(Rect::new(0, 0, 30, 30)).unwrap();
        assert_eq!(
            pixels,
            PixelRect {
                x: 0,
                y: 0,
                width: 20,
                height: 10
            }
        );
        assert_eq!(frame.to_global(pixels), Rect::new(10, 20, 20, 10));
        assert!(frame.to_pixels(Rect::new(500, 500, 10, 10)).is_none());
    }
}
