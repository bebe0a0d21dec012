//! The damage log: which parts of the global space changed, numbered in
//! order, so a client (the agent's OCR cache) redoes work only where pixels
//! changed. Sources: surface commits (the client's own damage, mapped to
//! global coordinates) and window changes (map, unmap, move, resize, stacking,
//! focus and title, which redraw frames and title bars).

use std::collections::VecDeque;

use digios_ipc::{DamageReport, Rect, WindowId};
use smithay::backend::renderer::utils::{CommitCounter, with_renderer_surface_state};
use smithay::desktop::{WindowSurfaceType, layer_map_for_output};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Point, Rectangle, Transform};
use smithay::wayland::compositor::{SubsurfaceCachedState, get_parent, with_states};

use crate::control::rect;
use crate::state::State;

/// Rectangles kept; older damage turns a report into `full`.
const MAX_ENTRIES: usize = 4096;
/// Most rectangles one report lists; more are merged into their bounding box.
const MAX_REPORTED_RECTS: usize = 64;

/// What of a window shows on screen, as last seen by the log.
#[derive(Debug, Clone, PartialEq)]
struct WindowLook {
    id: WindowId,
    frame: Rect,
    focused: bool,
    title: Option<String>,
}

#[derive(Debug, Default)]
pub struct DamageLog {
    seq: u64,
    entries: VecDeque<(u64, Rect)>,
    /// Damage numbered at or below this is no longer listed.
    forgotten_through: u64,
    /// Visible windows in stacking order, as last compared.
    last_windows: Vec<WindowLook>,
    /// Output rectangles, as last compared.
    last_outputs: Vec<Rect>,
}

impl DamageLog {
    pub fn add(&mut self, rect: Rect) {
        if rect.is_empty() {
            return;
        }
        self.seq += 1;
        self.entries.push_back((self.seq, rect));
        while self.entries.len() > MAX_ENTRIES {
            if let Some((seq, _)) = self.entries.pop_front() {
                self.forgotten_through = seq;
            }
        }
    }

    /// Everything changed (outputs were added or rearranged).
    pub fn add_everything(&mut self) {
        self.seq += 1;
        self.entries.clear();
        self.forgotten_through = self.seq;
    }

    /// The number of the latest damage.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn report(&self, since: u64) -> DamageReport {
        // 0 means the client has seen nothing; a number from the future
        // comes from an earlier compositor run.
        if since == 0 || since < self.forgotten_through || since > self.seq {
            return DamageReport {
                seq: self.seq,
                full: true,
                rects: Vec::new(),
            };
        }
        let fresh = self
            .entries
            .iter()
            .filter(|(seq, _)| *seq > since)
            .map(|(_, rect)| *rect);
        DamageReport {
            seq: self.seq,
            full: false,
            rects: merge(fresh),
        }
    }
}

/// Merges overlapping or touching rectangles; too many become their
/// bounding box.
fn merge(rects: impl Iterator<Item = Rect>) -> Vec<Rect> {
    let mut merged = digios_ipc::merge_touching(rects);
    if merged.len() > MAX_REPORTED_RECTS
        && let Some(first) = merged.first().copied()
    {
        merged = vec![merged.iter().fold(first, |all, rect| all.union(rect))];
    }
    merged
}

/// What a surface showed before a commit, to find what the commit changed.
#[derive(Debug, Clone, Copy)]
pub struct BeforeCommit {
    counter: Option<CommitCounter>,
    had_buffer: bool,
}

/// The surface's state before a commit is processed.
pub fn before_commit(surface: &WlSurface) -> BeforeCommit {
    let state = with_renderer_surface_state(surface, |state| {
        (state.current_commit(), state.buffer().is_some())
    });
    BeforeCommit {
        counter: state.map(|(counter, _)| counter),
        had_buffer: state.is_some_and(|(_, had)| had),
    }
}

fn has_buffer(surface: &WlSurface) -> bool {
    with_renderer_surface_state(surface, |state| state.buffer().is_some()).unwrap_or(false)
}

/// Where a subsurface sits relative to its root surface.
fn offset_in_root(surface: &WlSurface) -> Point<i32, Logical> {
    let mut offset = Point::default();
    let mut current = surface.clone();
    while let Some(parent) = get_parent(&current) {
        offset += with_states(&current, |states| {
            states
                .cached_state
                .get::<SubsurfaceCachedState>()
                .current()
                .location
        });
        current = parent;
    }
    offset
}

impl State {
    /// Records the damage of a commit just processed; `before` is the
    /// surface's commit counter from before it.
    pub fn record_commit_damage(&mut self, surface: &WlSurface, before: BeforeCommit) {
        let mut root = surface.clone();
        while let Some(parent) = get_parent(&root) {
            root = parent;
        }
        // A subsurface without a buffer before or after shows nothing
        // (clients such as foot keep some unmapped and commit them often).
        if &root != surface && !before.had_buffer && !has_buffer(surface) {
            return;
        }
        if let Some(managed) = self.windows.by_surface(&root) {
            if !managed.visible() {
                return;
            }
            let origin = managed.location - managed.window.geometry().loc;
            let whole = managed.window.bbox_with_popups();
            let whole = Rectangle::new(whole.loc + origin, whole.size);
            let offset = offset_in_root(surface);
            let exact = surface_damage(surface, before.counter).map(|rects| {
                rects
                    .into_iter()
                    .map(|r| Rectangle::new(r.loc + offset, r.size))
                    .collect::<Vec<_>>()
            });
            match exact {
                Some(rects) => {
                    for local in rects {
                        let global = Rectangle::new(local.loc + origin, local.size);
                        if let Some(clipped) = global.intersection(whole) {
                            self.damage.add(rect(clipped));
                        }
                    }
                }
                None => self.damage.add(rect(whole)),
            }
            return;
        }
        // A popup or a layer surface: its whole area.
        if let Some(popup_root) = self.popup_window_area(&root) {
            self.damage.add(rect(popup_root));
            return;
        }
        for output in self.space.outputs() {
            let map = layer_map_for_output(output);
            if let Some(layer) = map.layer_for_surface(&root, WindowSurfaceType::ALL)
                && let (Some(geometry), Some(output_geometry)) = (
                    map.layer_geometry(layer),
                    self.space.output_geometry(output),
                )
            {
                self.damage.add(rect(Rectangle::new(
                    geometry.loc + output_geometry.loc,
                    geometry.size,
                )));
            }
        }
    }

    /// The area of the window a popup surface belongs to, popups included.
    fn popup_window_area(&self, surface: &WlSurface) -> Option<Rectangle<i32, Logical>> {
        let popup = self.popups.find_popup(surface)?;
        let parent = smithay::desktop::find_popup_root_surface(&popup).ok()?;
        let managed = self.windows.windows.iter().find(|m| {
            m.window
                .toplevel()
                .is_some_and(|toplevel| toplevel.wl_surface() == &parent)
        })?;
        let origin = managed.location - managed.window.geometry().loc;
        let whole = managed.window.bbox_with_popups();
        Some(Rectangle::new(whole.loc + origin, whole.size))
    }

    /// Damage from window changes since the last call: frames of windows
    /// that appeared, vanished, moved, restacked, or changed focus or title.
    pub fn record_window_damage(&mut self) {
        let outputs: Vec<Rect> = self
            .space
            .outputs()
            .filter_map(|output| self.space.output_geometry(output))
            .map(rect)
            .collect();
        if outputs != self.damage.last_outputs {
            self.damage.add_everything();
            self.damage.last_outputs = outputs;
        }
        let stacked = self.space.elements().filter_map(|window| {
            self.windows
                .windows
                .iter()
                .find(|managed| &managed.window == window && managed.visible())
        });
        let now: Vec<WindowLook> = stacked
            .map(|managed| WindowLook {
                id: managed.id,
                frame: rect(managed.frame()),
                focused: self.windows.focused == Some(managed.id),
                title: managed.title_and_app_id().0,
            })
            .collect();
        if now == self.damage.last_windows {
            return;
        }
        let before = std::mem::take(&mut self.damage.last_windows);
        for (index, look) in now.iter().enumerate() {
            if before.get(index) != Some(look) {
                self.damage.add(look.frame);
                if let Some(old) = before.iter().find(|old| old.id == look.id) {
                    self.damage.add(old.frame);
                }
            }
        }
        for old in &before {
            if !now.iter().any(|look| look.id == old.id) {
                self.damage.add(old.frame);
            }
        }
        self.damage.last_windows = now;
    }
}

/// A commit's damage in surface-local logical coordinates; `None` when it
/// cannot be mapped exactly (transforms, viewports), so the caller damages
/// the whole surface.
fn surface_damage(
    surface: &WlSurface,
    before: Option<CommitCounter>,
) -> Option<Vec<Rectangle<i32, Logical>>> {
    with_renderer_surface_state(surface, |state| {
        if state.buffer_transform() != Transform::Normal {
            return None;
        }
        let size = state.buffer_size()?;
        if state.surface_size().is_some_and(|view| view != size) {
            return None;
        }
        let scale = state.buffer_scale().max(1);
        let damage = state.damage_since(before);
        Some(
            damage
                .iter()
                .map(|r| {
                    // Round outwards so no changed pixel is left out.
                    let x0 = r.loc.x.div_euclid(scale);
                    let y0 = r.loc.y.div_euclid(scale);
                    let x1 = (r.loc.x + r.size.w + scale - 1).div_euclid(scale);
                    let y1 = (r.loc.y + r.size.h + scale - 1).div_euclid(scale);
                    Rectangle::new((x0, y0).into(), (x1 - x0, y1 - y0).into())
                })
                .collect(),
        )
    })
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_list_damage_after_the_given_number_merged() {
        let mut log = DamageLog::default();
        log.add(Rect::new(0, 0, 10, 10));
        let first = log.report(0);
        assert!(first.full);
        log.add(Rect::new(100, 100, 10, 10));
        log.add(Rect::new(105, 105, 10, 10));
        log.add(Rect::new(0, 0, 0, 10));
        let report = log.report(first.seq);
        assert!(!report.full);
        assert_eq!(report.rects, vec![Rect::new(100, 100, 15, 15)]);
        assert!(log.report(report.seq).rects.is_empty());
        assert!(log.report(report.seq + 5).full);
    }

    #[test]
    fn an_overflowing_log_reports_full() {
        let mut log = DamageLog::default();
        log.add(Rect::new(0, 0, 1, 1));
        let seen = log.report(0).seq;
        for i in 0..MAX_ENTRIES as i32 + 1 {
            log.add(Rect::new(i * 3, 0, 1, 1));
        }
        assert!(log.report(seen).full);
        let recent = log.report(log.seq - 100);
        assert!(!recent.full);
        assert!(recent.rects.len() <= MAX_REPORTED_RECTS);
        log.add_everything();
        assert!(log.report(log.seq - 1).full);
    }
}
