//! Marks: one numbered list of things on screen a model can act on by
//! number ("click mark 7") instead of guessing coordinates. Built from the
//! compositor's windows (title bars, close buttons), the text OCR read, and
//! toolkit widgets from accessibility trees ([`super::accessibility`]).

use std::sync::{Arc, RwLock};

use digios_ipc::{Rect, Window};
use serde::Serialize;
use utoipa::ToSchema;

use super::accessibility::Widget;
use super::ocr::TextLine;
use super::{Analysis, VisionError};
use crate::desktop::{Desktop, DesktopError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MarkKind {
    /// A window's title bar: clicking focuses and raises the window.
    Window,
    /// A window's close button.
    CloseButton,
    /// A window's maximize button (maximizes, or restores a maximized window).
    MaximizeButton,
    /// A line of text read by OCR.
    Text,
    /// A toolkit widget from an accessibility tree (button, input, ...).
    Widget,
}

/// A point in global logical coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

/// One actionable target.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Mark {
    /// 1-based; what the model names.
    pub number: u32,
    pub kind: MarkKind,
    /// What the target says or is: a window title, a text line, a widget name.
    pub label: String,
    #[schema(value_type = super::RectSchema)]
    pub bbox: Rect,
    /// Where a click on this mark lands.
    pub click: Point,
    pub window_id: Option<u64>,
    /// The widget's accessibility role, for widget marks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
}

/// Builds the numbered list: for each window from the top of the stack
/// down, its title bar, close button and text lines; then text outside
/// windows; then widgets. Targets whose click point another window covers
/// are left out.
pub fn build(
    windows: &[Window],
    text: &[TextLine],
    widgets: &[Widget],
    screen: &[Rect],
) -> Vec<Mark> {
    let on_screen = |x: f64, y: f64| screen.iter().any(|output| output.contains(x, y));
    // Windows are listed bottom first.
    let visible: Vec<&Window> = windows.iter().filter(|w| !w.minimized).collect();
    let covered_above = |index: usize, x: f64, y: f64| {
        visible[index + 1..]
            .iter()
            .any(|above| frame(above).contains(x, y))
    };
    let mut marks: Vec<Mark> = Vec::new();
    let mut push = |kind, label: String, bbox: Rect, click: (f64, f64), window_id, role| {
        marks.push(Mark {
            number: 0,
            kind,
            label,
            bbox,
            click: Point {
                x: click.0,
                y: click.1,
            },
            window_id,
            role,
        });
    };
    for (index, window) in visible.iter().enumerate().rev() {
        let name = window
            .title
            .clone()
            .filter(|t| !t.trim().is_empty())
            .or_else(|| window.app_id.clone())
            .unwrap_or_else(|| format!("window {}", window.id));
        let visible_point =
            |rect: Rect| visible_point(rect, |x, y| on_screen(x, y) && !covered_above(index, x, y));
        match window.title_bar {
            Some(bar) => {
                let (close, maximize) = digios_ipc::title_buttons(bar);
                let buttons = maximize.map_or(close, |m| m.union(&close));
                let handle = Rect::new(bar.x, bar.y, (buttons.x - bar.x).max(1), bar.height);
                if let Some(point) = visible_point(handle) {
                    push(
                        MarkKind::Window,
                        name.clone(),
                        handle,
                        point,
                        Some(window.id),
                        None,
                    );
                }
                if let Some(maximize) = maximize
                    && let Some(point) = visible_point(maximize)
                {
                    let verb = if window.maximized {
                        "restore"
                    } else {
                        "maximize"
                    };
                    let label = format!("{verb} {name}");
                    push(
                        MarkKind::MaximizeButton,
                        label,
                        maximize,
                        point,
                        Some(window.id),
                        None,
                    );
                }
                if let Some(point) = visible_point(close) {
                    let label = format!("close {name}");
                    push(
                        MarkKind::CloseButton,
                        label,
                        close,
                        point,
                        Some(window.id),
                        None,
                    );
                }
            }
            None => {
                if let Some(point) = visible_point(window.geometry) {
                    push(
                        MarkKind::Window,
                        name.clone(),
                        window.geometry,
                        point,
                        Some(window.id),
                        None,
                    );
                }
            }
        }
        let mut lines: Vec<&TextLine> = text
            .iter()
            .filter(|line| line.window_id == Some(window.id))
            .collect();
        lines.sort_by_key(|line| (line.bbox.y, line.bbox.x));
        for line in lines {
            if let Some(point) = visible_point(line.bbox) {
                push(
                    MarkKind::Text,
                    line.text.clone(),
                    line.bbox,
                    point,
                    Some(window.id),
                    None,
                );
            }
        }
    }
    let top_cover = |x: f64, y: f64| visible.iter().any(|w| frame(w).contains(x, y));
    let mut loose: Vec<&TextLine> = text.iter().filter(|l| l.window_id.is_none()).collect();
    loose.sort_by_key(|line| (line.bbox.y, line.bbox.x));
    for line in loose {
        let (x, y) = line.bbox.center();
        if on_screen(x, y) {
            push(
                MarkKind::Text,
                line.text.clone(),
                line.bbox,
                (x, y),
                None,
                None,
            );
        }
    }
    for widget in widgets {
        let (x, y) = widget.bbox.center();
        // Widgets belong to surfaces outside the window list (the shell's
        // layers) unless a window covers them.
        if on_screen(x, y) && (widget.window_id.is_some() || !top_cover(x, y)) {
            push(
                MarkKind::Widget,
                widget.name.clone(),
                widget.bbox,
                (x, y),
                widget.window_id,
                Some(widget.role.clone()),
            );
        }
    }
    for (index, mark) in marks.iter_mut().enumerate() {
        mark.number = index as u32 + 1;
    }
    marks
}

fn frame(window: &Window) -> Rect {
    match window.title_bar {
        Some(bar) => bar.union(&window.geometry),
        None => window.geometry,
    }
}

/// The centre of `rect` if `visible` there, else the first visible point on
/// a coarse grid over it.
fn visible_point(rect: Rect, visible: impl Fn(f64, f64) -> bool) -> Option<(f64, f64)> {
    if rect.is_empty() {
        return None;
    }
    let centre = rect.center();
    if visible(centre.0, centre.1) {
        return Some(centre);
    }
    const STEPS: i32 = 8;
    for row in 0..STEPS {
        for column in 0..STEPS {
            let x = f64::from(rect.x)
                + (f64::from(column) + 0.5) * f64::from(rect.width) / f64::from(STEPS);
            let y = f64::from(rect.y)
                + (f64::from(row) + 0.5) * f64::from(rect.height) / f64::from(STEPS);
            if visible(x, y) {
                return Some((x, y));
            }
        }
    }
    None
}

/// Why a mark number cannot be acted on.
#[derive(Debug, thiserror::Error)]
pub enum MarkError {
    #[error("there is no screen analysis yet: analyze the screen (GET /api/vision/analyze) first")]
    NoAnalysis,
    #[error("there is no mark {mark}: the latest analysis has marks 1 to {count}")]
    Unknown { mark: u32, count: usize },
    #[error("mark {mark} is stale: {reason}; analyze the screen again")]
    Stale { mark: u32, reason: String },
    #[error(transparent)]
    Desktop(#[from] DesktopError),
}

impl From<VisionError> for MarkError {
    fn from(err: VisionError) -> Self {
        match err {
            VisionError::Desktop(err) => MarkError::Desktop(err),
            other => MarkError::Desktop(DesktopError::Unavailable(other.to_string())),
        }
    }
}

/// The latest analysis, shared by the vision service (which writes it) and
/// the action engine (which resolves mark numbers against it).
#[derive(Debug, Default)]
pub struct MarkBoard {
    latest: RwLock<Option<Arc<Analysis>>>,
}

impl MarkBoard {
    pub fn publish(&self, analysis: Arc<Analysis>) {
        if let Ok(mut latest) = self.latest.write() {
            *latest = Some(analysis);
        }
    }

    pub fn latest(&self) -> Option<Arc<Analysis>> {
        self.latest.read().ok().and_then(|latest| latest.clone())
    }
}

/// Finds mark `number` of the latest analysis (or of analysis `analysis_id`,
/// which must be the latest) and checks the screen has not changed under it:
/// its window must be where it was, and no damage since may touch its box.
pub async fn resolve(
    desktop: &Desktop,
    number: u32,
    analysis_id: Option<u64>,
) -> Result<Mark, MarkError> {
    let analysis = desktop.marks().latest().ok_or(MarkError::NoAnalysis)?;
    if let Some(wanted) = analysis_id
        && wanted != analysis.id
    {
        return Err(MarkError::Stale {
            mark: number,
            reason: format!("analysis {wanted} is not the latest ({})", analysis.id),
        });
    }
    let mark = number
        .checked_sub(1)
        .and_then(|index| analysis.marks.get(index as usize))
        .cloned()
        .ok_or(MarkError::Unknown {
            mark: number,
            count: analysis.marks.len(),
        })?;
    let stale = |reason: String| MarkError::Stale {
        mark: number,
        reason,
    };
    if let Some(id) = mark.window_id {
        let then = analysis.windows.iter().find(|w| w.id == id);
        let now = desktop.windows().await?.into_iter().find(|w| w.id == id);
        match (then, now) {
            (Some(then), Some(now)) => {
                if now.minimized || then.geometry != now.geometry {
                    return Err(stale(format!(
                        "window {id} moved, resized or was minimized"
                    )));
                }
            }
            _ => return Err(stale(format!("window {id} is gone"))),
        }
    }
    if matches!(mark.kind, MarkKind::Text | MarkKind::Widget) {
        let damage = super::damage_since(desktop, analysis.damage_seq).await?;
        if damage.full || damage.rects.iter().any(|rect| rect.overlaps(&mark.bbox)) {
            return Err(stale("the screen changed under it".into()));
        }
    }
    Ok(mark)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(id: u64, title: &str, geometry: Rect) -> Window {
        Window {
            id,
            app_id: Some("foot".into()),
            title: Some(title.into()),
            geometry,
            title_bar: Some(Rect::new(geometry.x, geometry.y - 24, geometry.width, 24)),
            focused: false,
            maximized: false,
            minimized: false,
            fullscreen: false,
            pid: None,
            output: None,
        }
    }

    fn line(text: &str, bbox: Rect, window_id: Option<u64>) -> TextLine {
        TextLine {
            text: text.into(),
            bbox,
            confidence: 90.0,
            window_id,
            words: Vec::new(),
        }
    }

    #[test]
    fn marks_are_numbered_topmost_window_first_and_skip_covered_targets() {
        let screen = [Rect::new(0, 0, 1280, 800)];
        let bottom = window(1, "below", Rect::new(0, 24, 400, 300));
        let top = window(2, "above", Rect::new(100, 124, 400, 300));
        let text = [
            line("hidden", Rect::new(150, 200, 100, 12), Some(1)),
            line("shown", Rect::new(10, 40, 60, 12), Some(1)),
            line("top text", Rect::new(110, 130, 80, 12), Some(2)),
        ];
        let marks = build(&[bottom, top], &text, &[], &screen);
        let summary: Vec<(u32, MarkKind, &str)> = marks
            .iter()
            .map(|m| (m.number, m.kind, m.label.as_str()))
            .collect();
        assert_eq!(
            summary,
            vec![
                (1, MarkKind::Window, "above"),
                (2, MarkKind::MaximizeButton, "maximize above"),
                (3, MarkKind::CloseButton, "close above"),
                (4, MarkKind::Text, "top text"),
                (5, MarkKind::Window, "below"),
                (6, MarkKind::MaximizeButton, "maximize below"),
                (7, MarkKind::CloseButton, "close below"),
                (8, MarkKind::Text, "shown"),
            ]
        );
        for mark in &marks {
            assert!(mark.bbox.contains(mark.click.x, mark.click.y), "{mark:?}");
        }
    }

    #[test]
    fn offscreen_and_minimized_windows_have_no_marks() {
        let screen = [Rect::new(0, 0, 1280, 800)];
        let mut minimized = window(1, "min", Rect::new(0, 24, 100, 100));
        minimized.minimized = true;
        let away = window(2, "away", Rect::new(5000, 5000, 100, 100));
        assert!(build(&[minimized, away], &[], &[], &screen).is_empty());
    }
}
