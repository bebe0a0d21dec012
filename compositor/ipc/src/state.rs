//! A client's copy of the desktop, kept current from the event stream: the
//! [`Event::State`] that opens a stream, then every delta applied in order,
//! gives the same windows (in the same stacking order), focus and outputs a
//! fresh [`Request::Windows`](crate::Request::Windows) and
//! [`Request::Outputs`](crate::Request::Outputs) would.
//!
//! [`window_deltas`] is the other half: the compositor uses it to turn two
//! window lists into events, so what it sends and what [`DesktopState::apply`]
//! does with it are written (and tested) side by side.

use crate::{Event, Output, Window, WindowId};

/// The desktop as the event stream describes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DesktopState {
    /// Bottom of the stack first, minimized windows first of all, as the
    /// compositor lists them.
    pub windows: Vec<Window>,
    /// The window with keyboard focus.
    pub focus: Option<WindowId>,
    pub outputs: Vec<Output>,
    /// The damage log's sequence number as last announced (ask
    /// [`Request::Damage`](crate::Request::Damage) from here).
    pub damage_seq: u64,
    /// The pointer as last announced, once it has been.
    pub pointer: Option<(f64, f64)>,
    /// Whether an [`Event::State`] arrived; until then nothing here is known.
    pub synced: bool,
}

impl DesktopState {
    /// The state a fresh window and output list describe.
    pub fn from_lists(windows: Vec<Window>, outputs: Vec<Output>) -> Self {
        let mut state = Self::default();
        state.apply(&Event::State { outputs, windows });
        state
    }

    pub fn window(&self, id: WindowId) -> Option<&Window> {
        self.windows.iter().find(|w| w.id == id)
    }

    pub fn focused(&self) -> Option<&Window> {
        self.focus.and_then(|id| self.window(id))
    }

    /// Brings the state up to date with one event.
    pub fn apply(&mut self, event: &Event) {
        match event {
            Event::State { outputs, windows } => {
                self.windows = windows.clone();
                self.outputs = outputs.clone();
                self.focus = windows.iter().find(|w| w.focused).map(|w| w.id);
                self.synced = true;
                self.mark_focus();
            }
            Event::WindowOpened { window } => {
                self.windows.retain(|w| w.id != window.id);
                self.windows.push(window.clone());
                self.mark_focus();
            }
            Event::WindowClosed { id } => {
                self.windows.retain(|w| w.id != *id);
                if self.focus == Some(*id) {
                    self.focus = None;
                }
            }
            Event::WindowFocused { id } => {
                self.focus = *id;
                self.mark_focus();
            }
            Event::WindowMoved {
                id,
                geometry,
                title_bar,
                output,
            } => {
                if let Some(window) = self.window_mut(*id) {
                    window.geometry = *geometry;
                    window.title_bar = *title_bar;
                    window.output = output.clone();
                }
            }
            Event::WindowRetitled { id, title, app_id } => {
                if let Some(window) = self.window_mut(*id) {
                    window.title = title.clone();
                    window.app_id = app_id.clone();
                }
            }
            Event::WindowStateChanged { window } => {
                let focus = self.focus;
                if let Some(slot) = self.window_mut(window.id) {
                    *slot = window.clone();
                    slot.focused = focus == Some(window.id);
                }
            }
            Event::WindowsRestacked { ids } => {
                let mut rest = std::mem::take(&mut self.windows);
                for id in ids {
                    if let Some(index) = rest.iter().position(|w| w.id == *id) {
                        self.windows.push(rest.remove(index));
                    }
                }
                // Windows the order does not name keep their place on top.
                self.windows.append(&mut rest);
            }
            Event::OutputsChanged { outputs } => self.outputs = outputs.clone(),
            Event::ScreenChanged { damage_seq, x, y } => {
                self.damage_seq = *damage_seq;
                self.pointer = Some((*x, *y));
            }
        }
    }

    fn window_mut(&mut self, id: WindowId) -> Option<&mut Window> {
        self.windows.iter_mut().find(|w| w.id == id)
    }

    /// Focus is one fact, so every window's flag follows [`Self::focus`].
    fn mark_focus(&mut self) {
        for window in &mut self.windows {
            window.focused = self.focus == Some(window.id);
        }
    }
}

/// The events that turn the window list `before` into `after` for a client
/// applying them with [`DesktopState::apply`].
pub fn window_deltas(before: &[Window], after: &[Window]) -> Vec<Event> {
    let mut events = Vec::new();
    let mut order: Vec<WindowId> = Vec::new();
    for old in before {
        if after.iter().any(|new| new.id == old.id) {
            order.push(old.id);
        } else {
            events.push(Event::WindowClosed { id: old.id });
        }
    }
    for new in after {
        let Some(old) = before.iter().find(|old| old.id == new.id) else {
            events.push(Event::WindowOpened {
                window: new.clone(),
            });
            order.push(new.id);
            continue;
        };
        // What a client holds once the narrow events below are applied.
        let mut seen = old.clone();
        if (&old.title, &old.app_id) != (&new.title, &new.app_id) {
            events.push(Event::WindowRetitled {
                id: new.id,
                title: new.title.clone(),
                app_id: new.app_id.clone(),
            });
            (seen.title, seen.app_id) = (new.title.clone(), new.app_id.clone());
        }
        if (old.geometry, old.title_bar, &old.output) != (new.geometry, new.title_bar, &new.output)
        {
            events.push(Event::WindowMoved {
                id: new.id,
                geometry: new.geometry,
                title_bar: new.title_bar,
                output: new.output.clone(),
            });
            (seen.geometry, seen.title_bar, seen.output) =
                (new.geometry, new.title_bar, new.output.clone());
        }
        seen.focused = new.focused;
        if seen != *new {
            events.push(Event::WindowStateChanged {
                window: new.clone(),
            });
        }
    }
    let stacked: Vec<WindowId> = after.iter().map(|w| w.id).collect();
    if order != stacked {
        events.push(Event::WindowsRestacked { ids: stacked });
    }
    let focused = |windows: &[Window]| windows.iter().find(|w| w.focused).map(|w| w.id);
    if focused(before) != focused(after) {
        events.push(Event::WindowFocused { id: focused(after) });
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rect;

    fn window(id: WindowId) -> Window {
        Window {
            id,
            app_id: Some(format!("app{id}")),
            title: Some(format!("title {id}")),
            geometry: Rect::new(10 * id as i32, 20, 300, 200),
            title_bar: Some(Rect::new(10 * id as i32, -4, 300, 24)),
            focused: false,
            maximized: false,
            minimized: false,
            fullscreen: false,
            pid: Some(100 + id as i32),
            output: Some("HEADLESS-1".into()),
        }
    }

    fn output(name: &str, x: i32) -> Output {
        Output {
            name: name.into(),
            logical: Rect::new(x, 0, 1280, 800),
            width: 1280,
            height: 800,
            refresh_mhz: 60_000,
            scale: 1.0,
        }
    }

    /// A small deterministic generator, so a failure repeats.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self, below: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % below
        }
    }

    /// One random change the compositor could make to a window list.
    fn mutate(rng: &mut Rng, windows: &mut Vec<Window>, next_id: &mut WindowId) {
        let focus = |windows: &mut Vec<Window>, id: Option<WindowId>| {
            for w in windows.iter_mut() {
                w.focused = Some(w.id) == id;
            }
        };
        match rng.next(9) {
            0 => {
                *next_id += 1;
                let mut new = window(*next_id);
                new.focused = true;
                focus(windows, None);
                windows.push(new);
            }
            1 if !windows.is_empty() => {
                let index = rng.next(windows.len() as u64) as usize;
                windows.remove(index);
            }
            2 if !windows.is_empty() => {
                let index = rng.next(windows.len() as u64) as usize;
                let raised = windows.remove(index);
                let id = raised.id;
                windows.push(raised);
                focus(windows, Some(id));
            }
            3 if !windows.is_empty() => {
                let index = rng.next(windows.len() as u64) as usize;
                let w = &mut windows[index];
                w.geometry.x += 7;
                w.title_bar = w.title_bar.map(|bar| Rect::new(bar.x + 7, bar.y, 5, 5));
                w.output = Some(format!("OUT-{}", rng.next(3)));
            }
            4 if !windows.is_empty() => {
                let index = rng.next(windows.len() as u64) as usize;
                let w = &mut windows[index];
                w.maximized = !w.maximized;
                w.geometry = Rect::new(0, 24, 1280, 776);
            }
            5 if !windows.is_empty() => {
                let index = rng.next(windows.len() as u64) as usize;
                let mut minimized = windows.remove(index);
                minimized.minimized = true;
                minimized.focused = false;
                windows.insert(0, minimized);
            }
            6 if !windows.is_empty() => {
                let index = rng.next(windows.len() as u64) as usize;
                windows[index].title = Some(format!("retitled {}", rng.next(1000)));
            }
            7 if !windows.is_empty() => {
                let index = rng.next(windows.len() as u64) as usize;
                let w = &mut windows[index];
                w.fullscreen = !w.fullscreen;
                w.title_bar = None;
                w.pid = None;
            }
            _ => focus(windows, None),
        }
    }

    #[test]
    fn the_full_state_then_deltas_equal_a_fresh_list() {
        let outputs = vec![output("HEADLESS-1", 0)];
        for seed in 1..200u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let mut next_id = 0;
            let mut windows = Vec::new();
            for _ in 0..rng.next(4) {
                mutate(&mut rng, &mut windows, &mut next_id);
            }
            let mut mirror = DesktopState::from_lists(windows.clone(), outputs.clone());
            for _ in 0..30 {
                let before = windows.clone();
                // Several changes may land between two snapshots.
                for _ in 0..=rng.next(3) {
                    mutate(&mut rng, &mut windows, &mut next_id);
                }
                for event in window_deltas(&before, &windows) {
                    mirror.apply(&event);
                }
                let fresh = DesktopState::from_lists(windows.clone(), outputs.clone());
                assert_eq!(mirror, fresh, "seed {seed}");
            }
        }
    }

    #[test]
    fn outputs_and_screen_changes_are_followed() {
        let mut mirror = DesktopState::default();
        assert!(!mirror.synced);
        mirror.apply(&Event::State {
            outputs: vec![output("A", 0)],
            windows: vec![window(1)],
        });
        assert!(mirror.synced);
        mirror.apply(&Event::OutputsChanged {
            outputs: vec![output("A", 0), output("B", 1280)],
        });
        mirror.apply(&Event::ScreenChanged {
            damage_seq: 42,
            x: 3.0,
            y: 4.0,
        });
        assert_eq!(mirror.outputs.len(), 2);
        assert_eq!((mirror.damage_seq, mirror.pointer), (42, Some((3.0, 4.0))));
        assert_eq!(mirror.window(1).map(|w| w.id), Some(1));
        assert!(mirror.focused().is_none());
        mirror.apply(&Event::WindowFocused { id: Some(1) });
        assert_eq!(mirror.focused().map(|w| w.id), Some(1));
        assert!(mirror.windows[0].focused);
        mirror.apply(&Event::WindowClosed { id: 1 });
        assert!(mirror.windows.is_empty() && mirror.focus.is_none());
    }

    #[test]
    fn a_quiet_desktop_sends_no_deltas() {
        let windows = vec![window(1), window(2)];
        assert!(window_deltas(&windows, &windows).is_empty());
    }
}
