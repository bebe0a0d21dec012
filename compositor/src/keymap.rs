//! Which key (and whether Shift) produces a keysym in the active keymap, so
//! keys named by keysym and Unicode text can be injected as real key presses.

use std::collections::HashMap;

use anyhow::Context;
use digios_ipc::{Error, ErrorCode};
use smithay::input::keyboard::{Keycode, Keysym, xkb};

/// One key press that produces a keysym.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyStroke {
    pub keycode: Keycode,
    /// Shift must be held (the keysym is on the key's second level).
    pub shift: bool,
}

pub struct KeymapIndex {
    strokes: HashMap<Keysym, KeyStroke>,
    /// The keymap as XKB text, to restore after typing through a temporary one.
    pub text: String,
}

/// Most distinct characters one temporary keymap holds.
pub const MAX_TEMPORARY_KEYS: usize = 200;

/// First keycode of a temporary keymap (evdev 1 + 8).
const FIRST_TEMPORARY_KEYCODE: u32 = 9;

/// A keymap with one key per character, for text the active keymap cannot
/// type: XKB text and the keycode of each character.
pub struct TemporaryKeymap {
    pub text: String,
    pub keys: HashMap<char, Keycode>,
}

impl KeymapIndex {
    /// Indexes the keymap XKB compiles for `layout` with default rules.
    pub fn new(layout: &str) -> anyhow::Result<Self> {
        let context = xkb::Context::new(xkb::CONTEXT_NO_FLAGS);
        let keymap = xkb::Keymap::new_from_names(
            &context,
            "",
            "",
            layout,
            "",
            None,
            xkb::KEYMAP_COMPILE_NO_FLAGS,
        )
        .with_context(|| format!("compiling the XKB keymap for layout `{layout}`"))?;
        let mut strokes = HashMap::new();
        let (min, max) = (keymap.min_keycode().raw(), keymap.max_keycode().raw());
        // Unshifted levels first, lowest keycode first, so the plainest key wins.
        for level in 0..2 {
            for raw in min..=max {
                let keycode = Keycode::new(raw);
                for &keysym in keymap.key_get_syms_by_level(keycode, 0, level) {
                    strokes.entry(keysym).or_insert(KeyStroke {
                        keycode,
                        shift: level == 1,
                    });
                }
            }
        }
        let text = keymap.get_as_string(xkb::KEYMAP_FORMAT_TEXT_V1);
        Ok(Self { strokes, text })
    }

    /// The stroke for a keysym name such as `Return`, `a` or `Control_L`.
    pub fn by_name(&self, name: &str) -> Result<KeyStroke, Error> {
        // xkbcommon takes C strings; a NUL inside would not reach it intact.
        if name.contains('\0') {
            return Err(Error::new(
                ErrorCode::UnknownKeysym,
                "a keysym name cannot contain a NUL character",
            ));
        }
        let mut keysym = xkb::keysym_from_name(name, xkb::KEYSYM_NO_FLAGS);
        if keysym.raw() == 0 {
            keysym = xkb::keysym_from_name(name, xkb::KEYSYM_CASE_INSENSITIVE);
        }
        if keysym.raw() == 0 {
            return Err(Error::new(
                ErrorCode::UnknownKeysym,
                format!("`{name}` is not an XKB keysym name"),
            ));
        }
        self.strokes.get(&keysym).copied().ok_or_else(|| {
            Error::new(
                ErrorCode::UnknownKeysym,
                format!("no key in the keymap produces `{name}`"),
            )
        })
    }

    /// The stroke that types a character.
    pub fn by_char(&self, character: char) -> Result<KeyStroke, Error> {
        let keysym = char_keysym(character);
        self.strokes.get(&keysym).copied().ok_or_else(|| {
            Error::new(
                ErrorCode::UnknownKeysym,
                format!("no key in the keymap types {character:?}"),
            )
        })
    }
}

fn char_keysym(character: char) -> Keysym {
    match character {
        '\n' | '\r' => Keysym::Return,
        '\t' => Keysym::Tab,
        '\u{8}' => Keysym::BackSpace,
        '\u{1b}' => Keysym::Escape,
        other => xkb::utf32_to_keysym(other as u32),
    }
}

impl TemporaryKeymap {
    /// One unshifted key per distinct character of `text`.
    pub fn for_text(text: &str) -> Result<Self, Error> {
        let mut keys: HashMap<char, Keycode> = HashMap::new();
        let mut symbols = String::new();
        let mut keycodes = String::new();
        for character in text.chars() {
            if keys.contains_key(&character) {
                continue;
            }
            if keys.len() == MAX_TEMPORARY_KEYS {
                return Err(Error::new(
                    ErrorCode::InvalidArgument,
                    format!("text has more than {MAX_TEMPORARY_KEYS} distinct characters"),
                ));
            }
            let keysym = char_keysym(character);
            if keysym.raw() == 0 {
                return Err(Error::new(
                    ErrorCode::UnknownKeysym,
                    format!("{character:?} has no keysym"),
                ));
            }
            let name = xkb::keysym_get_name(keysym);
            let raw = FIRST_TEMPORARY_KEYCODE + keys.len() as u32;
            keycodes.push_str(&format!("<K{raw}> = {raw}; "));
            symbols.push_str(&format!("key <K{raw}> {{ [ {name} ] }}; "));
            keys.insert(character, Keycode::new(raw));
        }
        let last = FIRST_TEMPORARY_KEYCODE + keys.len() as u32;
        let text = format!(
            "xkb_keymap {{\n\
             xkb_keycodes \"digios\" {{ minimum = 8; maximum = {last}; {keycodes}}};\n\
             xkb_types \"digios\" {{ include \"complete\" }};\n\
             xkb_compatibility \"digios\" {{ include \"complete\" }};\n\
             xkb_symbols \"digios\" {{ {symbols}}};\n\
             }};\n"
        );
        Ok(Self { text, keys })
    }
}

/// The keysym name a chord shorthand stands for (`ctrl` → `Control_L`).
pub fn chord_key_name(part: &str) -> &str {
    match part.to_ascii_lowercase().as_str() {
        "ctrl" | "control" => "Control_L",
        "shift" => "Shift_L",
        "alt" => "Alt_L",
        "super" | "logo" | "meta" | "win" => "Super_L",
        "enter" | "return" => "Return",
        "esc" | "escape" => "Escape",
        "space" => "space",
        "tab" => "Tab",
        "backspace" => "BackSpace",
        "del" | "delete" => "Delete",
        _ => part,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_keymap_types_ascii_with_shift_where_needed() {
        let index = KeymapIndex::new("us").unwrap();
        let a = index.by_char('a').unwrap();
        let upper = index.by_char('A').unwrap();
        assert_eq!(a.keycode, upper.keycode);
        assert!(!a.shift && upper.shift);
        assert!(index.by_char('!').unwrap().shift);
        assert_eq!(
            index.by_char('\n').unwrap(),
            index.by_name("Return").unwrap()
        );
        assert!(index.by_name("Control_L").is_ok());
    }

    #[test]
    fn temporary_keymaps_compile_and_hold_every_character() {
        let temporary = TemporaryKeymap::for_text("snow ☃ ü ☃\n").unwrap();
        assert_eq!(temporary.keys.len(), 8);
        let context = xkb::Context::new(xkb::CONTEXT_NO_FLAGS);
        let keymap = xkb::Keymap::new_from_string(
            &context,
            temporary.text.clone(),
            xkb::KEYMAP_FORMAT_TEXT_V1,
            xkb::KEYMAP_COMPILE_NO_FLAGS,
        )
        .expect("the temporary keymap compiles");
        let snowman = temporary.keys[&'☃'];
        assert_eq!(
            keymap.key_get_syms_by_level(snowman, 0, 0),
            &[xkb::utf32_to_keysym('☃' as u32)]
        );
    }

    #[test]
    fn unknown_names_and_untypable_characters_are_typed_errors() {
        let index = KeymapIndex::new("us").unwrap();
        assert_eq!(
            index.by_name("NotAKey").unwrap_err().code,
            ErrorCode::UnknownKeysym
        );
        assert_eq!(
            index.by_char('ж').unwrap_err().code,
            ErrorCode::UnknownKeysym
        );
    }
}
