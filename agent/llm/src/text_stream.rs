//! Turning token bytes into text pieces: whole UTF-8 characters only, and nothing that
//! might be the start of a stop string until it is known not to be.

/// Joins token bytes into UTF-8 text; a character split across tokens waits for its rest.
#[derive(Debug, Default)]
pub(crate) struct Utf8Assembler {
    pending: Vec<u8>,
}

impl Utf8Assembler {
    pub(crate) fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut text = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(valid) => {
                    text.push_str(valid);
                    self.pending.clear();
                    return text;
                }
                Err(error) => {
                    let valid_len = error.valid_up_to();
                    // Valid by construction: from_utf8 vouched for this prefix.
                    text.push_str(&String::from_utf8_lossy(&self.pending[..valid_len]));
                    match error.error_len() {
                        // An incomplete character at the end: wait for the next token.
                        None => {
                            self.pending.drain(..valid_len);
                            return text;
                        }
                        // Bytes that can never become a character.
                        Some(bad_len) => {
                            text.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid_len + bad_len);
                        }
                    }
                }
            }
        }
    }

    /// Whatever is left when generation ends.
    pub(crate) fn finish(&mut self) -> String {
        let rest = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        rest
    }
}

/// Watches generated text for stop strings and releases only text that cannot be part of one.
#[derive(Debug)]
pub(crate) struct StopScanner {
    stops: Vec<String>,
    text: String,
    released: usize,
}

/// What one push produced.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Scanned {
    /// Text safe to hand to the reader now.
    pub(crate) release: String,
    /// A stop string appeared; generation must end.
    pub(crate) stopped: bool,
}

impl StopScanner {
    pub(crate) fn new(stops: &[String]) -> Self {
        Self {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            text: String::new(),
            released: 0,
        }
    }

    pub(crate) fn push(&mut self, piece: &str) -> Scanned {
        self.text.push_str(piece);
        let unreleased = &self.text[self.released..];
        // A stop string can only start in unreleased text: released text never ends in a
        // stop string's prefix.
        let first_stop = self
            .stops
            .iter()
            .filter_map(|stop| unreleased.find(stop.as_str()))
            .min();
        if let Some(at) = first_stop {
            let end = self.released + at;
            let release = self.text[self.released..end].to_string();
            self.text.truncate(end);
            self.released = end;
            return Scanned {
                release,
                stopped: true,
            };
        }
        let held = self.held_back_len(unreleased);
        let end = self.text.len() - held;
        let release = self.text[self.released..end].to_string();
        self.released = end;
        Scanned {
            release,
            stopped: false,
        }
    }

    /// Length of the longest tail of `unreleased` that begins some stop string.
    fn held_back_len(&self, unreleased: &str) -> usize {
        unreleased
            .char_indices()
            .map(|(at, _)| &unreleased[at..])
            .find(|tail| self.stops.iter().any(|stop| stop.starts_with(tail)))
            .map_or(0, str::len)
    }

    /// Releases the held-back tail when generation ended without a stop string.
    pub(crate) fn finish(&mut self) -> String {
        let rest = self.text[self.released..].to_string();
        self.released = self.text.len();
        rest
    }

    /// All text so far, stop string excluded.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_characters_wait_for_their_rest() {
        let mut utf8 = Utf8Assembler::default();
        let bytes = "né".as_bytes();
        assert_eq!(utf8.push(&bytes[..2]), "n");
        assert_eq!(utf8.push(&bytes[2..]), "é");
        assert_eq!(utf8.push(&[0xff, b'a']), "\u{fffd}a");
        assert_eq!(utf8.push(&[0xe2]), "");
        assert_eq!(utf8.finish(), "\u{fffd}");
    }

    #[test]
    fn stop_strings_are_cut_and_never_released() {
        let mut scanner = StopScanner::new(&["</end>".to_string()]);
        let mut released = String::new();
        for piece in ["hello <", "/e", "nd> more"] {
            let scanned = scanner.push(piece);
            released.push_str(&scanned.release);
            if scanned.stopped {
                break;
            }
        }
        assert_eq!(released, "hello ");
        assert_eq!(scanner.text(), "hello ");
    }

    #[test]
    fn false_starts_are_released_later() {
        let mut scanner = StopScanner::new(&["STOP".to_string()]);
        assert_eq!(scanner.push("a ST").release, "a ");
        assert_eq!(scanner.push("AY").release, "STAY");
        assert_eq!(scanner.push("ST").release, "");
        assert_eq!(scanner.finish(), "ST");
    }
}
