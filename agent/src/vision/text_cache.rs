//! Text per window, kept between analyses. A window is read again only when
//! the compositor reported damage over it (or it moved or resized), and then
//! only the bands of text in rows whose pixels really changed.

use std::collections::HashMap;

use digios_ipc::{CaptureTarget, DamageReport, Rect, Window};

use super::frame::{Frame, changed_rows};
use super::ocr::{self, Band, TextLine};
use super::pool::OcrPool;
use super::{AnalysisStats, VisionError};
use crate::desktop::Desktop;

/// Largest capture taken in one piece (RGBA bytes); taller areas are read
/// in strips so a huge output never needs one huge reply.
const MAX_CAPTURE_BYTES: usize = 24 << 20;
/// Widest area read; anything further right is left out.
const MAX_WIDTH: i32 = 8192;

/// Ranges of frame rows, first to last (exclusive).
type RowRanges = Vec<(usize, usize)>;

#[derive(Default)]
pub struct TextCache {
    /// The compositor's damage sequence number the cache is current at.
    pub damage_seq: u64,
    windows: HashMap<u64, CachedWindow>,
}

struct CachedWindow {
    /// The part of the window's content on screen, global coordinates.
    content: Rect,
    strips: Vec<Frame>,
    lines: Vec<TextLine>,
    /// Damage touched the window since it was read.
    dirty: bool,
}

impl TextCache {
    /// Marks windows damage touched, and forgets windows that are gone.
    pub fn note_damage(&mut self, damage: &DamageReport, windows: &[Window]) {
        self.windows
            .retain(|id, _| windows.iter().any(|w| w.id == *id && !w.minimized));
        for cached in self.windows.values_mut() {
            if damage.full || damage.rects.iter().any(|r| r.overlaps(&cached.content)) {
                cached.dirty = true;
            }
        }
        self.damage_seq = damage.seq;
    }

    /// The text of `windows`, from the cache where still valid.
    pub async fn read_windows(
        &mut self,
        desktop: &Desktop,
        pool: &OcrPool,
        windows: &[Window],
        screen: &[Rect],
        stats: &mut AnalysisStats,
    ) -> Result<Vec<TextLine>, VisionError> {
        let mut text = Vec::new();
        for window in windows.iter().filter(|w| !w.minimized) {
            let previous = self.windows.remove(&window.id);
            let Some(content) = visible_content(window, screen) else {
                continue;
            };
            let previous = previous.filter(|p| p.content == content);
            let cached = match previous {
                Some(cached) if !cached.dirty => {
                    stats.reused_lines += cached.lines.len();
                    cached
                }
                previous => read_window(desktop, pool, window.id, content, previous, stats).await?,
            };
            text.extend(cached.lines.iter().cloned());
            self.windows.insert(window.id, cached);
        }
        Ok(text)
    }
}

/// Reads any region of the screen, uncached; text is not tied to a window.
pub async fn read_region(
    desktop: &Desktop,
    pool: &OcrPool,
    region: Rect,
    stats: &mut AnalysisStats,
) -> Result<Vec<TextLine>, VisionError> {
    let strips = capture_strips(desktop, region).await?;
    read_frames(pool, &strips, stats).await
}

/// Reads all text in frames, uncached.
pub async fn read_frames(
    pool: &OcrPool,
    frames: &[Frame],
    stats: &mut AnalysisStats,
) -> Result<Vec<TextLine>, VisionError> {
    let jobs = find_bands(frames.to_vec(), None).await?;
    recognize(pool, frames, jobs, None, stats).await
}

/// The window's content clipped to the outputs, if any of it shows.
fn visible_content(window: &Window, screen: &[Rect]) -> Option<Rect> {
    screen
        .iter()
        .filter_map(|output| output.intersection(&window.geometry))
        .reduce(|a, b| a.union(&b))
}

/// Captures `area` in strips small enough for one reply each.
async fn capture_strips(desktop: &Desktop, area: Rect) -> Result<Vec<Frame>, VisionError> {
    let width = area.width.min(MAX_WIDTH);
    let rows = (MAX_CAPTURE_BYTES / (width.max(1) as usize * 4)).max(16) as i32;
    let mut strips = Vec::new();
    let mut y = area.y;
    while y < area.y + area.height {
        let height = rows.min(area.y + area.height - y);
        let rect = Rect::new(area.x, y, width, height);
        strips.push(Frame::capture(desktop, CaptureTarget::Region { rect }).await?);
        y += height;
    }
    Ok(strips)
}

/// Bands of every strip (index, band), optionally only those touching the
/// given changed rows of each strip. Pixel work, so off the runtime.
async fn find_bands(
    strips: Vec<Frame>,
    changed: Option<Vec<Option<RowRanges>>>,
) -> Result<Vec<(usize, Band)>, VisionError> {
    tokio::task::spawn_blocking(move || {
        let mut jobs = Vec::new();
        for (index, strip) in strips.iter().enumerate() {
            let rows = match &changed {
                Some(changed) => match changed.get(index).cloned().flatten() {
                    Some(rows) => Some(rows),
                    None => continue,
                },
                None => None,
            };
            let found = ocr::bands(strip, strip.pixel_rect(), rows.as_deref());
            jobs.extend(found.into_iter().map(|band| (index, band)));
        }
        jobs
    })
    .await
    .map_err(|err| VisionError::Ocr(ocr::OcrError::Failed(format!("band search failed: {err}"))))
}

async fn recognize(
    pool: &OcrPool,
    strips: &[Frame],
    jobs: Vec<(usize, Band)>,
    window_id: Option<u64>,
    stats: &mut AnalysisStats,
) -> Result<Vec<TextLine>, VisionError> {
    stats.ocr_bands += jobs.len();
    let (indices, bands): (Vec<usize>, Vec<Band>) = jobs.into_iter().unzip();
    let results = pool.recognize(bands).await?;
    let mut text = Vec::new();
    for (index, lines) in indices.into_iter().zip(results) {
        text.extend(ocr::to_global(&strips[index], lines, window_id));
    }
    Ok(text)
}

/// Reads a window's content, redoing only the changed rows when the
/// previous reading covered the same area.
async fn read_window(
    desktop: &Desktop,
    pool: &OcrPool,
    window_id: u64,
    content: Rect,
    previous: Option<CachedWindow>,
    stats: &mut AnalysisStats,
) -> Result<CachedWindow, VisionError> {
    let strips = capture_strips(desktop, content).await?;
    let previous = previous.filter(|p| p.strips.len() == strips.len());
    let (mut lines, jobs) = match previous {
        Some(previous) => {
            let changed: Vec<Option<RowRanges>> = previous
                .strips
                .iter()
                .zip(&strips)
                .map(|(old, new)| changed_rows(old, new))
                .collect();
            // Lines on changed rows are read again; the rest stay.
            let changed_spans: Vec<Rect> = changed
                .iter()
                .zip(&strips)
                .flat_map(|(rows, strip)| {
                    rows.iter().flatten().map(|&(first, last)| {
                        strip.to_global(super::frame::PixelRect {
                            x: 0,
                            y: first,
                            width: strip.width as usize,
                            height: last - first,
                        })
                    })
                })
                .collect();
            let jobs = find_bands(strips.clone(), Some(changed)).await?;
            let band_spans: Vec<Rect> = jobs
                .iter()
                .map(|(index, band)| {
                    let (first, last) = band.ink_rows;
                    strips[*index].to_global(super::frame::PixelRect {
                        x: 0,
                        y: first,
                        width: strips[*index].width as usize,
                        height: last - first,
                    })
                })
                .collect();
            let kept: Vec<TextLine> = previous
                .lines
                .into_iter()
                .filter(|line| {
                    let rows = Rect::new(content.x, line.bbox.y, content.width, line.bbox.height);
                    !changed_spans
                        .iter()
                        .chain(&band_spans)
                        .any(|span| span.overlaps(&rows))
                })
                .collect();
            stats.reused_lines += kept.len();
            (kept, jobs)
        }
        None => (Vec::new(), find_bands(strips.clone(), None).await?),
    };
    lines.extend(recognize(pool, &strips, jobs, Some(window_id), stats).await?);
    lines.sort_by_key(|line| (line.bbox.y, line.bbox.x));
    Ok(CachedWindow {
        content,
        strips,
        lines,
        dirty: false,
    })
}
