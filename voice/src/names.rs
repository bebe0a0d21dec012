//! Fuzzy matching of names Whisper does not know: it hears "digiOS" as
//! "Diggy OS", "Digi O.S." or "digi-os". Runs of up to three words that sound
//! like a known name are replaced by the name's canonical spelling.

/// Words joined when looking for a name ("diggy o s" is three words).
const MAX_WINDOW: usize = 3;
/// Share of a name's sound-alike key that must match.
const MIN_SIMILARITY: f32 = 0.8;

pub struct NameMatcher {
    names: Vec<(String, String)>,
}

impl NameMatcher {
    /// `names` in their canonical spelling, e.g. `["digiOS", "Firefox"]`.
    pub fn new<S: AsRef<str>>(names: &[S]) -> Self {
        Self {
            names: names
                .iter()
                .map(|n| (n.as_ref().to_string(), sound_key(n.as_ref())))
                .filter(|(_, key)| !key.is_empty())
                .collect(),
        }
    }

    /// Rewrites a normalised transcript (see [`crate::normalize`]), replacing
    /// sound-alikes of known names by the names.
    pub fn correct(&self, normalized: &str) -> String {
        let words: Vec<&str> = normalized.split_whitespace().collect();
        let mut out: Vec<String> = Vec::with_capacity(words.len());
        let mut i = 0;
        'words: while i < words.len() {
            // Longest window first, so "diggy o s" wins over "diggy".
            for len in (1..=MAX_WINDOW.min(words.len() - i)).rev() {
                let joined = words[i..i + len].concat();
                if let Some(name) = self.best_match(&joined) {
                    out.push(name.to_string());
                    i += len;
                    continue 'words;
                }
            }
            out.push(words[i].to_string());
            i += 1;
        }
        out.join(" ")
    }

    fn best_match(&self, spoken: &str) -> Option<&str> {
        let key = sound_key(spoken);
        self.names
            .iter()
            .filter(|(_, name_key)| name_key.chars().next() == key.chars().next())
            .map(|(name, name_key)| (name, similarity(&key, name_key)))
            .filter(|(_, score)| *score >= MIN_SIMILARITY)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(name, _)| name.as_str())
    }
}

/// A crude sound-alike key: letters only, common spellings of one sound
/// folded together, doubled letters collapsed.
fn sound_key(word: &str) -> String {
    let lower: String = word
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    let folded = lower
        .replace("ph", "f")
        .replace("ck", "k")
        .replace("ee", "i")
        .replace("ea", "i")
        .replace('y', "i")
        .replace('z', "s")
        .replace('q', "k");
    let mut key = String::with_capacity(folded.len());
    for c in folded.chars() {
        if !key.ends_with(c) {
            key.push(c);
        }
    }
    key
}

fn similarity(a: &str, b: &str) -> f32 {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let longest = a.len().max(b.len());
    if longest == 0 {
        return 1.0;
    }
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut row = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            row[j + 1] = (previous[j] + usize::from(ca != cb))
                .min(previous[j + 1] + 1)
                .min(row[j] + 1);
        }
        previous = row;
    }
    1.0 - previous[b.len()] as f32 / longest as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize;

    fn fix(text: &str) -> String {
        NameMatcher::new(&["digiOS", "Firefox"]).correct(&normalize(text))
    }

    #[test]
    fn hears_digios_in_its_misspellings() {
        assert_eq!(
            fix("Diggy OS, open the terminal."),
            "digiOS open the terminal"
        );
        assert_eq!(fix("Hey Digi O.S."), "hey digiOS");
        assert_eq!(fix("digi-os"), "digiOS");
        assert_eq!(fix("DigiOS"), "digiOS");
        assert_eq!(fix("open fire fox"), "open Firefox");
    }

    #[test]
    fn leaves_ordinary_words_alone() {
        for text in [
            "dig a hole",
            "videos of dogs",
            "the digit is 5",
            "diggy",
            "does it work",
        ] {
            assert_eq!(fix(text), normalize(text), "{text}");
        }
    }
}
