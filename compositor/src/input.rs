//! The one input path: real devices (evdev, the nested window) and injected input
//! from the control socket both end here, so title-bar drags, click-to-focus
//! and shortcuts behave the same for a human and for the agent.

use std::time::Instant;

use digios_ipc::{Button, Error, ErrorCode, KeyState as IpcKeyState};
use smithay::backend::input::{Axis, AxisSource, ButtonState, KeyState};
use smithay::input::keyboard::{FilterResult, Keycode, Keysym, ModifiersState};
use smithay::input::pointer::{AxisFrame, ButtonEvent, MotionEvent};
use smithay::utils::{Logical, Point, SERIAL_COUNTER};

use crate::keymap::{KeyStroke, TemporaryKeymap, chord_key_name};
use crate::state::State;
use crate::windows::Hit;

/// Linux evdev button codes.
const BTN_LEFT: u32 = 0x110;
const BTN_RIGHT: u32 = 0x111;
const BTN_MIDDLE: u32 = 0x112;

/// Logical pixels one wheel notch scrolls.
pub const SCROLL_NOTCH: f64 = 15.0;

pub fn button_code(button: Button) -> u32 {
    match button {
        Button::Left => BTN_LEFT,
        Button::Right => BTN_RIGHT,
        Button::Middle => BTN_MIDDLE,
    }
}

/// A compositor shortcut for the human at the keyboard.
enum Shortcut {
    CloseWindow,
    NextWindow,
    Terminal,
}

fn shortcut_for(modifiers: &ModifiersState, keysym: Keysym) -> Option<Shortcut> {
    match keysym {
        Keysym::q | Keysym::Q if modifiers.logo => Some(Shortcut::CloseWindow),
        Keysym::Tab if modifiers.alt => Some(Shortcut::NextWindow),
        Keysym::Return if modifiers.logo => Some(Shortcut::Terminal),
        _ => None,
    }
}

impl State {
    pub fn pointer_location(&self) -> Point<f64, Logical> {
        self.seat
            .get_pointer()
            .map(|pointer| pointer.current_location())
            .unwrap_or_default()
    }

    /// Rejects a point that lies on no output.
    pub fn check_on_screen(&self, x: f64, y: f64) -> Result<(), Error> {
        if x.is_finite() && y.is_finite() && self.on_some_output(x, y) {
            Ok(())
        } else {
            Err(Error::new(
                ErrorCode::OutOfBounds,
                format!("({x}, {y}) is on no output"),
            ))
        }
    }

    pub fn pointer_motion(&mut self, location: Point<f64, Logical>) {
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
        self.last_input = Instant::now();
        self.continue_drag(location);
        let focus = match self.hit_test(location) {
            Some(Hit::Surface {
                surface, origin, ..
            }) if self.pointer_drag.is_none() => Some((surface, origin)),
            _ => None,
        };
        let event = MotionEvent {
            location,
            serial: SERIAL_COUNTER.next_serial(),
            time: self.now_ms(),
        };
        pointer.motion(self, focus, &event);
        pointer.frame(self);
        // The cursor moved: backends that draw it need a frame.
        self.backend.schedule_render();
    }

    pub fn pointer_button(&mut self, button: u32, pressed: bool) {
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
        self.last_input = Instant::now();
        let location = pointer.current_location();
        if pressed {
            match self.hit_test(location) {
                Some(Hit::TitleBar {
                    id,
                    close_box,
                    maximize_box,
                }) => {
                    self.focus_window(Some(id));
                    if close_box {
                        let _ = self.close_window(id);
                    } else if maximize_box {
                        let on = self.windows.get(id).is_ok_and(|w| !w.maximized);
                        let _ = self.set_maximized(id, on);
                    } else if button == BTN_LEFT {
                        self.start_move(id, location);
                    }
                }
                Some(Hit::Edge { id, edges }) => {
                    self.focus_window(Some(id));
                    if button == BTN_LEFT {
                        self.start_resize(id, edges, location);
                    }
                }
                Some(Hit::Surface {
                    window: Some(id), ..
                }) if self.windows.focused != Some(id) => self.focus_window(Some(id)),
                Some(Hit::Surface {
                    focusable_layer: Some(layer),
                    ..
                }) => self.focus_layer(layer),
                _ => {}
            }
        } else if self.pointer_drag.is_some() {
            self.pointer_drag = None;
            // Re-enter the surface now under the pointer.
            self.pointer_motion(location);
        }
        let event = ButtonEvent {
            button,
            state: if pressed {
                ButtonState::Pressed
            } else {
                ButtonState::Released
            },
            serial: SERIAL_COUNTER.next_serial(),
            time: self.now_ms(),
        };
        pointer.button(self, &event);
        pointer.frame(self);
    }

    /// Scrolls by logical pixels; positive `dy` scrolls down.
    pub fn pointer_scroll(&mut self, dx: f64, dy: f64) {
        let Some(pointer) = self.seat.get_pointer() else {
            return;
        };
        self.last_input = Instant::now();
        let mut frame = AxisFrame::new(self.now_ms()).source(AxisSource::Wheel);
        for (axis, amount) in [(Axis::Horizontal, dx), (Axis::Vertical, dy)] {
            if amount != 0.0 {
                let notches = (amount / SCROLL_NOTCH * 120.0).round() as i32;
                frame = frame.value(axis, amount).v120(axis, notches);
            }
        }
        pointer.axis(self, frame);
        pointer.frame(self);
    }

    pub fn key(&mut self, keycode: Keycode, pressed: bool) {
        let Some(keyboard) = self.seat.get_keyboard() else {
            return;
        };
        self.last_input = Instant::now();
        let state = if pressed {
            KeyState::Pressed
        } else {
            KeyState::Released
        };
        let serial = SERIAL_COUNTER.next_serial();
        let time = self.now_ms();
        let shortcut = keyboard.input(
            self,
            keycode,
            state,
            serial,
            time,
            |_, modifiers, handle| match (pressed, shortcut_for(modifiers, handle.modified_sym())) {
                (true, Some(shortcut)) => FilterResult::Intercept(shortcut),
                _ => FilterResult::Forward,
            },
        );
        if let Some(shortcut) = shortcut {
            self.run_shortcut(shortcut);
        }
    }

    fn run_shortcut(&mut self, shortcut: Shortcut) {
        match shortcut {
            Shortcut::CloseWindow => {
                if let Some(id) = self.windows.focused {
                    let _ = self.close_window(id);
                }
            }
            Shortcut::NextWindow => {
                let bottom = self
                    .space
                    .elements()
                    .next()
                    .and_then(|window| self.windows.windows.iter().find(|m| &m.window == window))
                    .map(|managed| managed.id);
                if bottom.is_some() {
                    self.focus_window(bottom);
                }
            }
            Shortcut::Terminal => {
                if let Err(err) = self.spawn(&["foot".to_string()], &[]) {
                    tracing::warn!("cannot start a terminal: {err}");
                }
            }
        }
    }

    fn stroke(&mut self, stroke: KeyStroke, shift: Option<Keycode>) {
        let shift = shift.filter(|_| stroke.shift);
        if let Some(shift) = shift {
            self.key(shift, true);
        }
        self.key(stroke.keycode, true);
        self.key(stroke.keycode, false);
        if let Some(shift) = shift {
            self.key(shift, false);
        }
    }

    /// Types text through the keymap. Text the keymap cannot type goes
    /// through a temporary keymap with one key per character, then the
    /// keymap is restored. Nothing is typed if any character has no keysym.
    pub fn type_text(&mut self, text: &str) -> Result<(), Error> {
        let Ok(strokes) = text
            .chars()
            .map(|character| self.keymap.by_char(character))
            .collect::<Result<Vec<_>, _>>()
        else {
            return self.type_through_temporary_keymap(text);
        };
        let shift = self
            .keymap
            .by_name("Shift_L")
            .ok()
            .map(|stroke| stroke.keycode);
        for stroke in strokes {
            self.stroke(stroke, shift);
        }
        Ok(())
    }

    fn type_through_temporary_keymap(&mut self, text: &str) -> Result<(), Error> {
        let temporary = TemporaryKeymap::for_text(text)?;
        let Some(keyboard) = self.seat.get_keyboard() else {
            return Ok(());
        };
        keyboard
            .set_keymap_from_string(self, temporary.text.clone())
            .map_err(|err| Error::new(ErrorCode::Internal, format!("temporary keymap: {err:?}")))?;
        for character in text.chars() {
            let keycode = temporary.keys[&character];
            self.key(keycode, true);
            self.key(keycode, false);
        }
        let original = self.keymap.text.clone();
        keyboard
            .set_keymap_from_string(self, original)
            .map_err(|err| {
                Error::new(
                    ErrorCode::Internal,
                    format!("restoring the keymap: {err:?}"),
                )
            })
    }

    pub fn key_by_name(&mut self, keysym: &str, state: IpcKeyState) -> Result<(), Error> {
        let stroke = self.keymap.by_name(keysym)?;
        self.key(stroke.keycode, state == IpcKeyState::Pressed);
        Ok(())
    }

    /// Presses a chord such as `ctrl+shift+t`: keys down in order, up in reverse.
    pub fn key_chord(&mut self, keys: &str) -> Result<(), Error> {
        let parts: Vec<&str> = keys.split('+').map(str::trim).collect();
        if parts.iter().any(|part| part.is_empty()) {
            return Err(Error::new(
                ErrorCode::InvalidArgument,
                format!("`{keys}` is not a chord like ctrl+shift+t"),
            ));
        }
        let strokes = parts
            .iter()
            .map(|part| self.keymap.by_name(chord_key_name(part)))
            .collect::<Result<Vec<_>, _>>()?;
        let shift = self
            .keymap
            .by_name("Shift_L")
            .ok()
            .map(|stroke| stroke.keycode);
        let needs_shift = strokes.last().is_some_and(|stroke| stroke.shift)
            && !strokes.iter().any(|stroke| Some(stroke.keycode) == shift);
        let mut down: Vec<Keycode> = Vec::new();
        if let (true, Some(shift)) = (needs_shift, shift) {
            down.push(shift);
        }
        down.extend(strokes.iter().map(|stroke| stroke.keycode));
        for &keycode in &down {
            self.key(keycode, true);
        }
        for &keycode in down.iter().rev() {
            self.key(keycode, false);
        }
        Ok(())
    }
}
