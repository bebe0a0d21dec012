//! The binary frame of the live screen stream (layout in `agent/web/screen.js`):
//! a 12-byte header, 8 bytes per rectangle, then one zlib stream holding
//! every rectangle's straight RGBA pixels in order.
//!
//! Raw pixels under zlib rather than a PNG per rectangle: on a typing session
//! into foot, zlib at its fastest level made 2.5× fewer bytes than PNG at
//! its fastest and encoded 5–7× faster (`cargo xtask bench web` prints both);
//! browsers inflate it with the built-in `DecompressionStream("deflate")`.

use std::io::{Read, Write};

use digios_ipc::Rect;
use flate2::Compression;

/// First byte of a frame message.
pub const FRAME_KIND: u8 = 1;
/// Flag: the frame covers the whole screen (the first frame, or after the
/// screen's size changed); the canvas takes the frame's size.
pub const FLAG_FULL: u8 = 1;
const HEADER: usize = 12;
const RECT_HEADER: usize = 8;

/// One changed rectangle, in screen pixels, with its straight RGBA pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Patch {
    pub rect: Rect,
    pub rgba: Vec<u8>,
}

impl Patch {
    fn expected_len(rect: &Rect) -> usize {
        rect.width.max(0) as usize * rect.height.max(0) as usize * 4
    }
}

/// Encodes a frame.
pub fn encode_frame(
    number: u32,
    full: bool,
    screen: (u16, u16),
    patches: &[Patch],
) -> Result<Vec<u8>, String> {
    let count = u16::try_from(patches.len()).map_err(|_| "too many rectangles".to_string())?;
    let mut out = Vec::with_capacity(64 * 1024);
    out.push(FRAME_KIND);
    out.push(if full { FLAG_FULL } else { 0 });
    out.extend_from_slice(&count.to_le_bytes());
    out.extend_from_slice(&number.to_le_bytes());
    out.extend_from_slice(&screen.0.to_le_bytes());
    out.extend_from_slice(&screen.1.to_le_bytes());
    for patch in patches {
        if patch.rgba.len() != Patch::expected_len(&patch.rect) {
            return Err(format!(
                "{} bytes of pixels for {:?}",
                patch.rgba.len(),
                patch.rect
            ));
        }
        for value in [
            patch.rect.x,
            patch.rect.y,
            patch.rect.width,
            patch.rect.height,
        ] {
            let value =
                u16::try_from(value).map_err(|_| format!("{:?} is off the screen", patch.rect))?;
            out.extend_from_slice(&value.to_le_bytes());
        }
    }
    let mut zlib = flate2::write::ZlibEncoder::new(out, Compression::fast());
    for patch in patches {
        zlib.write_all(&patch.rgba).map_err(|e| e.to_string())?;
    }
    zlib.finish().map_err(|e| e.to_string())
}

/// A decoded frame: what a client reads back.
#[derive(Debug)]
pub struct DecodedFrame {
    pub number: u32,
    pub full: bool,
    pub screen: (u16, u16),
    pub patches: Vec<Patch>,
}

/// Parses and inflates a frame message; the inverse of [`encode_frame`].
pub fn decode_frame(bytes: &[u8]) -> Result<DecodedFrame, String> {
    let u16_at = |at: usize| -> Result<u16, String> {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .ok_or_else(|| "frame truncated".to_string())
    };
    if bytes.len() < HEADER || bytes[0] != FRAME_KIND {
        return Err("not a frame".into());
    }
    let full = bytes[1] & FLAG_FULL != 0;
    let count = usize::from(u16_at(2)?);
    let number = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    let screen = (u16_at(8)?, u16_at(10)?);
    let mut rects = Vec::with_capacity(count);
    for index in 0..count {
        let at = HEADER + index * RECT_HEADER;
        rects.push(Rect::new(
            i32::from(u16_at(at)?),
            i32::from(u16_at(at + 2)?),
            i32::from(u16_at(at + 4)?),
            i32::from(u16_at(at + 6)?),
        ));
    }
    let total: usize = rects.iter().map(Patch::expected_len).sum();
    let mut pixels = Vec::with_capacity(total);
    let compressed = &bytes[HEADER + count * RECT_HEADER..];
    flate2::read::ZlibDecoder::new(compressed)
        .take(total as u64 + 1)
        .read_to_end(&mut pixels)
        .map_err(|e| format!("pixels do not inflate: {e}"))?;
    if pixels.len() != total {
        return Err(format!(
            "{} bytes of pixels for rectangles of {total}",
            pixels.len()
        ));
    }
    let mut rest = pixels.as_slice();
    let patches = rects
        .into_iter()
        .map(|rect| {
            let (rgba, tail) = rest.split_at(Patch::expected_len(&rect));
            rest = tail;
            Patch {
                rect,
                rgba: rgba.to_vec(),
            }
        })
        .collect();
    Ok(DecodedFrame {
        number,
        full,
        screen,
        patches,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let patches = vec![
            Patch {
                rect: Rect::new(0, 0, 2, 1),
                rgba: vec![255, 0, 0, 255, 0, 255, 0, 255],
            },
            Patch {
                rect: Rect::new(5, 7, 1, 1),
                rgba: vec![1, 2, 3, 255],
            },
        ];
        let bytes = encode_frame(9, true, (640, 480), &patches).unwrap();
        let frame = decode_frame(&bytes).unwrap();
        assert_eq!(
            (frame.number, frame.full, frame.screen),
            (9, true, (640, 480))
        );
        assert_eq!(frame.patches, patches);
        assert!(decode_frame(&bytes[..bytes.len() - 1]).is_err());
        let wrong = Patch {
            rect: Rect::new(0, 0, 2, 2),
            rgba: vec![0; 4],
        };
        assert!(encode_frame(1, false, (4, 4), &[wrong]).is_err());
    }
}
