//! Reading the screen: OCR of windows and regions, numbered marks a model
//! can act on, and change detection between the frames before and after an
//! action.
//!
//! - `frame`: captured RGBA frames and pixel comparisons.
//! - `ocr`: Tesseract tuned for screen text; `pool`: the threads it runs on.
//! - `text_cache`: text per window, redone only where the compositor reports
//!   damage and the pixels really changed.
//! - `marks`: the numbered list and how a number resolves to a click point.
//! - `changes`: what an action changed (regions and text).
//! - `accessibility`: the seam for toolkit widget trees.
//! - `overlay`: marks drawn onto a screenshot.

pub mod accessibility;
pub mod changes;
pub mod frame;
pub mod marks;
pub mod ocr;
pub mod overlay;
pub mod pool;
mod text_cache;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use digios_ipc::{DamageReport, Rect, Request, Response, Window};
use serde::Serialize;
use utoipa::ToSchema;

pub use self::accessibility::{AccessibilitySource, Widget};
pub use self::changes::{ChangeReport, ChangeToken};
pub use self::frame::Frame;
pub use self::marks::{Mark, MarkBoard, MarkError, MarkKind};
pub use self::ocr::{OcrError, TextLine, Word};
use self::pool::OcrPool;
use self::text_cache::TextCache;
use crate::desktop::{Desktop, DesktopError, unexpected};

/// A rectangle in global logical pixels (schema of `digios_ipc::Rect`).
#[derive(ToSchema)]
#[allow(dead_code)] // exists for the OpenAPI document
pub struct RectSchema {
    x: i32,
    y: i32,
    width: i32,
    height: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    #[error(transparent)]
    Desktop(#[from] DesktopError),
    #[error(transparent)]
    Ocr(#[from] OcrError),
    #[error("region {0:?} lies outside every output")]
    OutsideScreen(Rect),
    #[error("region {0:?} is empty")]
    EmptyRegion(Rect),
}

/// What to analyze: the whole screen (default), one window, or a region.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AnalyzeOptions {
    pub window: Option<u64>,
    pub region: Option<Rect>,
}

/// What is on screen: windows, numbered marks and text with boxes, all in
/// global logical coordinates.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Analysis {
    /// Increases with every analysis; a click may name it to refuse stale marks.
    pub id: u64,
    /// The compositor's damage sequence number this analysis is current at.
    pub damage_seq: u64,
    /// Logical rectangles of the outputs.
    #[schema(value_type = Vec<RectSchema>)]
    pub screen: Vec<Rect>,
    /// The region analyzed, when one was asked for.
    #[schema(value_type = Option<RectSchema>)]
    pub region: Option<Rect>,
    /// Windows as the compositor lists them (bottom of the stack first).
    #[schema(value_type = Vec<Object>)]
    pub windows: Vec<Window>,
    pub marks: Vec<Mark>,
    /// Text lines read, each with its words, boxes and confidence.
    pub text: Vec<TextLine>,
    pub stats: AnalysisStats,
}

impl Analysis {
    /// The screen as text for a language model: one line per mark, at most
    /// `max_marks`, e.g. `[3] text "make install" at 12,40 (window 2)`.
    pub fn summary(&self, max_marks: usize) -> String {
        let mut out = String::new();
        for window in self.windows.iter().rev().filter(|w| !w.minimized) {
            out.push_str(&format!(
                "window {} {:?}{} at {},{} {}x{}\n",
                window.id,
                window
                    .title
                    .as_deref()
                    .or(window.app_id.as_deref())
                    .unwrap_or(""),
                if window.focused { " (focused)" } else { "" },
                window.geometry.x,
                window.geometry.y,
                window.geometry.width,
                window.geometry.height,
            ));
        }
        for mark in self.marks.iter().take(max_marks) {
            let kind = serde_json::to_value(mark.kind).unwrap_or_default();
            out.push_str(&format!(
                "[{}] {} {:?} at {},{}",
                mark.number,
                kind.as_str().unwrap_or("mark"),
                mark.label,
                mark.click.x.round(),
                mark.click.y.round(),
            ));
            if let Some(id) = mark.window_id {
                out.push_str(&format!(" (window {id})"));
            }
            out.push('\n');
        }
        if self.marks.len() > max_marks {
            out.push_str(&format!(
                "... {} more marks\n",
                self.marks.len() - max_marks
            ));
        }
        out
    }
}

/// How much work an analysis took; cached text costs nothing.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct AnalysisStats {
    /// Bands of text recognised by OCR this time.
    pub ocr_bands: usize,
    /// Text lines reused from earlier analyses.
    pub reused_lines: usize,
    pub elapsed_ms: u64,
}

/// The vision service: one per agent, cheap to clone.
#[derive(Clone)]
pub struct Vision(Arc<VisionInner>);

struct VisionInner {
    desktop: Desktop,
    pool: OcrPool,
    /// One analysis at a time: they share the cache and the damage cursor.
    cache: tokio::sync::Mutex<TextCache>,
    next_id: AtomicU64,
    accessibility: RwLock<Vec<Arc<dyn AccessibilitySource>>>,
}

impl Vision {
    pub fn new(desktop: Desktop) -> Self {
        Self::with_threads(desktop, OcrPool::default_size())
    }

    pub fn with_threads(desktop: Desktop, threads: usize) -> Self {
        Self(Arc::new(VisionInner {
            desktop,
            pool: OcrPool::new(threads),
            cache: tokio::sync::Mutex::new(TextCache::default()),
            next_id: AtomicU64::new(1),
            accessibility: RwLock::new(Vec::new()),
        }))
    }

    pub fn desktop(&self) -> &Desktop {
        &self.0.desktop
    }

    /// Adds a source of widget marks (the shell's accessibility tree).
    pub fn add_accessibility_source(&self, source: Arc<dyn AccessibilitySource>) {
        if let Ok(mut sources) = self.0.accessibility.write() {
            sources.push(source);
        }
    }

    /// The latest analysis, if any.
    pub fn latest(&self) -> Option<Arc<Analysis>> {
        self.0.desktop.marks().latest()
    }

    /// Reads all text in a frame, uncached (lines not tied to windows).
    pub async fn read_frame(&self, frame: &Frame) -> Result<Vec<TextLine>, VisionError> {
        let mut stats = AnalysisStats::default();
        text_cache::read_frames(&self.0.pool, std::slice::from_ref(frame), &mut stats).await
    }

    /// Reads the screen (or one window, or a region) and publishes the
    /// result as the latest analysis, whose mark numbers clicks resolve.
    pub async fn analyze(&self, options: AnalyzeOptions) -> Result<Arc<Analysis>, VisionError> {
        let started = std::time::Instant::now();
        let desktop = &self.0.desktop;
        let mut cache = self.0.cache.lock().await;
        // Damage first: the captures that follow show at least all of it.
        let damage = damage_since(desktop, cache.damage_seq).await?;
        let screen = outputs(desktop).await?;
        let all_windows = desktop.windows().await?;
        cache.note_damage(&damage, &all_windows);
        let mut windows = match options.window {
            Some(id) => {
                let window = all_windows
                    .iter()
                    .find(|w| w.id == id)
                    .cloned()
                    .ok_or_else(|| {
                        VisionError::Desktop(DesktopError::Compositor(
                            digios_ipc::Error::unknown_window(id),
                        ))
                    })?;
                vec![window]
            }
            None => all_windows.clone(),
        };
        let mut stats = AnalysisStats::default();
        let text = match options.region {
            Some(region) => {
                let region = clip_to_screen(region, &screen)?;
                windows.retain(|w| frame_of(w).overlaps(&region));
                text_cache::read_region(desktop, &self.0.pool, region, &mut stats).await?
            }
            None => {
                cache
                    .read_windows(desktop, &self.0.pool, &windows, &screen, &mut stats)
                    .await?
            }
        };
        let text = visible_text(text, &all_windows);
        let widgets: Vec<Widget> = self
            .0
            .accessibility
            .read()
            .map(|sources| sources.iter().flat_map(|s| s.widgets()).collect())
            .unwrap_or_default();
        let marks = marks::build(&windows, &text, &widgets, &screen);
        stats.elapsed_ms = started.elapsed().as_millis() as u64;
        let analysis = Arc::new(Analysis {
            id: self.0.next_id.fetch_add(1, Ordering::Relaxed),
            damage_seq: damage.seq,
            screen,
            region: options.region,
            windows,
            marks,
            text,
            stats,
        });
        desktop.marks().publish(analysis.clone());
        Ok(analysis)
    }
}

/// The compositor's damage since `since`.
pub async fn damage_since(desktop: &Desktop, since: u64) -> Result<DamageReport, DesktopError> {
    match desktop.request(Request::Damage { since }).await? {
        Response::Damage(report) => Ok(report),
        other => Err(unexpected(other)),
    }
}

/// The outputs' logical rectangles.
pub async fn outputs(desktop: &Desktop) -> Result<Vec<Rect>, DesktopError> {
    match desktop.request(Request::Outputs).await? {
        Response::Outputs { outputs } => Ok(outputs.into_iter().map(|o| o.logical).collect()),
        other => Err(unexpected(other)),
    }
}

fn clip_to_screen(region: Rect, screen: &[Rect]) -> Result<Rect, VisionError> {
    if region.is_empty() {
        return Err(VisionError::EmptyRegion(region));
    }
    screen
        .iter()
        .filter_map(|output| output.intersection(&region))
        .reduce(|a, b| a.union(&b))
        .ok_or(VisionError::OutsideScreen(region))
}

/// A window's content plus its title bar.
pub fn frame_of(window: &Window) -> Rect {
    match window.title_bar {
        Some(bar) => bar.union(&window.geometry),
        None => window.geometry,
    }
}

/// Drops text read through a window that lies under another one (its
/// capture shows the window on top, which reports that text itself), and
/// attributes text outside windows to the topmost window covering it.
fn visible_text(text: Vec<TextLine>, windows: &[Window]) -> Vec<TextLine> {
    let shown: Vec<&Window> = windows.iter().filter(|w| !w.minimized).collect();
    text.into_iter()
        .filter_map(|mut line| {
            let (x, y) = line.bbox.center();
            let topmost = shown.iter().rev().find(|w| frame_of(w).contains(x, y));
            match (line.window_id, topmost) {
                (Some(id), Some(top)) if top.id != id => None,
                (None, Some(top)) => {
                    line.window_id = Some(top.id);
                    Some(line)
                }
                _ => Some(line),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_lists_windows_and_numbered_marks() {
        let window = Window {
            id: 4,
            app_id: Some("foot".into()),
            title: Some("shell".into()),
            geometry: Rect::new(0, 24, 400, 300),
            title_bar: Some(Rect::new(0, 0, 400, 24)),
            focused: true,
            maximized: false,
            minimized: false,
            fullscreen: false,
            pid: None,
            output: None,
        };
        let text = vec![TextLine {
            text: "make install".into(),
            bbox: Rect::new(4, 30, 90, 12),
            confidence: 91.0,
            window_id: Some(4),
            words: Vec::new(),
        }];
        let screen = vec![Rect::new(0, 0, 1280, 800)];
        let marks = marks::build(std::slice::from_ref(&window), &text, &[], &screen);
        let analysis = Analysis {
            id: 1,
            damage_seq: 1,
            screen,
            region: None,
            windows: vec![window],
            marks,
            text,
            stats: AnalysisStats::default(),
        };
        let summary = analysis.summary(3);
        assert!(
            summary.starts_with("window 4 \"shell\" (focused)"),
            "{summary}"
        );
        assert!(summary.contains("[1] window \"shell\""), "{summary}");
        assert!(summary.contains("... 1 more marks"), "{summary}");
        assert!(
            analysis
                .summary(10)
                .contains("[4] text \"make install\" at 49,36 (window 4)")
        );
    }
}
