//! GPT-2's byte-level BPE alphabet: every byte is spelled as one printable
//! character in `vocabulary.txt`; whisper.cpp wants the raw bytes back.

use std::collections::HashMap;

/// Maps each printable stand-in character back to the byte it spells.
pub fn decoder() -> HashMap<char, u8> {
    let printable = |b: u32| {
        (u32::from(b'!')..=u32::from(b'~')).contains(&b)
            || (0xA1..=0xAC).contains(&b)
            || (0xAE..=0xFF).contains(&b)
    };
    let mut map = HashMap::with_capacity(256);
    let mut shifted = 0u32;
    for byte in 0u32..256 {
        let spelled = if printable(byte) {
            byte
        } else {
            shifted += 1;
            255 + shifted
        };
        let ch = char::from_u32(spelled).expect("code points below 512 are valid");
        map.insert(ch, byte as u8);
    }
    map
}

/// The raw bytes of one token, or the first character outside the alphabet.
pub fn token_bytes(token: &str, decoder: &HashMap<char, u8>) -> Result<Vec<u8>, char> {
    token
        .chars()
        .map(|c| decoder.get(&c).copied().ok_or(c))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_gpt2_spellings() {
        let d = decoder();
        assert_eq!(d.len(), 256);
        assert_eq!(token_bytes("Ġhello", &d).unwrap(), b" hello");
        assert_eq!(token_bytes("Ċ", &d).unwrap(), b"\n");
        assert_eq!(token_bytes("!", &d).unwrap(), b"!");
        // "é" as UTF-8 is C3 A9, spelled "Ã©".
        assert_eq!(token_bytes("Ã©", &d).unwrap(), "é".as_bytes());
        assert_eq!(token_bytes("a\u{4e00}", &d), Err('\u{4e00}'));
    }
}
