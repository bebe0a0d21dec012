//! Transcript normalisation and word error rate, so "Open the Terminal." and
//! "open the terminal" compare equal and "three" matches "3".

/// Lower-cases, drops non-speech annotations (`[BLANK_AUDIO]`, `(music)`,
/// `*laughs*`), strips punctuation (keeping decimal points), and spells
/// numbers as digits.
pub fn normalize(text: &str) -> String {
    let without_tags = strip_annotations(text);
    let mut cleaned = String::with_capacity(without_tags.len());
    let chars: Vec<char> = without_tags.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let between_digits = |c: char| {
            i > 0
                && chars[i - 1].is_ascii_digit()
                && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit())
                && matches!(c, '.' | ',')
        };
        if c.is_alphanumeric() {
            cleaned.extend(c.to_lowercase());
        } else if c == '.' && between_digits(c) {
            cleaned.push('.');
        } else if (c == ',' && between_digits(c)) || c == '\'' || c == '’' {
            // "1,000" → "1000"; "don't" → "dont".
        } else {
            cleaned.push(' ');
        }
    }
    let words: Vec<&str> = cleaned.split_whitespace().collect();
    numbers_to_digits(&words).join(" ")
}

fn strip_annotations(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut closing: Option<char> = None;
    for c in text.chars() {
        match closing {
            Some(end) if c == end => {
                closing = None;
                out.push(' ');
            }
            Some(_) => {}
            None => match c {
                '[' => closing = Some(']'),
                '(' => closing = Some(')'),
                '*' => closing = Some('*'),
                _ => out.push(c),
            },
        }
    }
    out
}

fn small_number(word: &str) -> Option<u64> {
    const UNITS: [&str; 20] = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
    ];
    const TENS: [&str; 8] = [
        "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
    ];
    if let Some(i) = UNITS.iter().position(|&u| u == word) {
        return Some(i as u64);
    }
    TENS.iter()
        .position(|&t| t == word)
        .map(|i| 20 + 10 * i as u64)
}

fn multiplier(word: &str) -> Option<u64> {
    match word {
        "hundred" => Some(100),
        "thousand" => Some(1_000),
        "million" => Some(1_000_000),
        _ => None,
    }
}

/// Replaces runs of number words ("twenty one", "two hundred and five") by digits.
fn numbers_to_digits(words: &[&str]) -> Vec<String> {
    let mut out = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let (value, used) = parse_number(&words[i..]);
        if used > 0 {
            out.push(value.to_string());
            i += used;
        } else {
            out.push(words[i].to_string());
            i += 1;
        }
    }
    out
}

/// Parses the longest number at the start of `words`: (value, words used).
fn parse_number(words: &[&str]) -> (u64, usize) {
    let (mut total, mut current, mut used, mut last_was_number) = (0u64, 0u64, 0usize, false);
    for (i, &word) in words.iter().enumerate() {
        if let Some(n) = small_number(word) {
            // "twenty one" combines; "one two" is two numbers.
            let combines = !last_was_number || (current % 100 >= 20 && current % 10 == 0 && n < 10);
            if last_was_number && !combines {
                break;
            }
            current += n;
            last_was_number = true;
            used = i + 1;
        } else if let Some(m) = multiplier(word).filter(|_| used > 0) {
            if m == 100 {
                current = current.max(1) * 100;
            } else {
                total += current.max(1) * m;
                current = 0;
            }
            last_was_number = false;
            used = i + 1;
        } else if word == "and" && used > 0 && !last_was_number {
            // "hundred and five"
            continue;
        } else {
            break;
        }
    }
    (total + current, used)
}

/// Word error rate of `hypothesis` against `reference`, both normalised first:
/// (substitutions + insertions + deletions) / reference words.
pub fn word_error_rate(reference: &str, hypothesis: &str) -> f32 {
    let reference = normalize(reference);
    let hypothesis = normalize(hypothesis);
    let r: Vec<&str> = reference.split_whitespace().collect();
    let h: Vec<&str> = hypothesis.split_whitespace().collect();
    if r.is_empty() {
        return if h.is_empty() { 0.0 } else { 1.0 };
    }
    word_edits(&r, &h) as f32 / r.len() as f32
}

/// Levenshtein distance over words.
pub fn word_edits(a: &[&str], b: &[&str]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, wa) in a.iter().enumerate() {
        let mut row = vec![i + 1; b.len() + 1];
        for (j, wb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(wa != wb);
            row[j + 1] = substitution.min(previous[j + 1] + 1).min(row[j] + 1);
        }
        previous = row;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_punctuation_and_tags() {
        assert_eq!(normalize(" Open the Terminal."), "open the terminal");
        assert_eq!(normalize("[BLANK_AUDIO]"), "");
        assert_eq!(normalize("(music) Hello, world! *laughs*"), "hello world");
        assert_eq!(
            normalize("Don't close Firefox's window"),
            "dont close firefoxs window"
        );
        assert_eq!(
            normalize("Set volume to 7.5 - now"),
            "set volume to 7.5 now"
        );
        assert_eq!(
            normalize("It costs 1,000 dollars."),
            "it costs 1000 dollars"
        );
    }

    #[test]
    fn numbers_become_digits() {
        assert_eq!(normalize("Open three files"), "open 3 files");
        assert_eq!(normalize("twenty-one windows"), "21 windows");
        assert_eq!(normalize("two hundred and five"), "205");
        assert_eq!(normalize("one two three"), "1 2 3");
        assert_eq!(normalize("five thousand three hundred"), "5300");
        assert_eq!(normalize("workspace 3"), normalize("workspace three"));
        // A bare "hundred" or "and" is just a word.
        assert_eq!(normalize("a hundred and one"), "a hundred and 1");
    }

    #[test]
    fn word_error_rate_counts_edits() {
        assert_eq!(
            word_error_rate("open the terminal", "Open the terminal."),
            0.0
        );
        assert_eq!(
            word_error_rate("open the terminal", "open terminal"),
            1.0 / 3.0
        );
        assert_eq!(
            word_error_rate("open the terminal", "open a the terminal"),
            1.0 / 3.0
        );
        assert_eq!(word_error_rate("", ""), 0.0);
        assert_eq!(word_error_rate("", "noise"), 1.0);
    }
}
