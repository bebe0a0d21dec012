//! The binary frame of the live screen stream (layout in `agent/web/screen.js`):
//! a 12-byte header, then per rectangle a 12-byte header and a PNG.

use digios_ipc::Rect;

/// First byte of a frame message.
pub const FRAME_KIND: u8 = 1;
/// Flag: the frame covers the whole screen (the first frame, or after the
/// screen's size changed); the canvas takes the frame's size.
pub const FLAG_FULL: u8 = 1;

/// One changed rectangle, in screen pixels, with its straight RGBA pixels.
pub struct Patch {
    pub rect: Rect,
    pub rgba: Vec<u8>,
}

/// Encodes a frame: every patch as a PNG.
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
        let png = encode_png(patch)?;
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
        let length = u32::try_from(png.len()).map_err(|_| "rectangle too large".to_string())?;
        out.extend_from_slice(&length.to_le_bytes());
        out.extend_from_slice(&png);
    }
    Ok(out)
}

fn encode_png(patch: &Patch) -> Result<Vec<u8>, String> {
    let (width, height) = (patch.rect.width as u32, patch.rect.height as u32);
    if patch.rgba.len() != (width * height * 4) as usize {
        return Err(format!(
            "{} bytes of pixels for a {width}x{height} rectangle",
            patch.rgba.len()
        ));
    }
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    // Screen content is mostly flat runs; `Sub` catches them at a fraction
    // of adaptive filtering's cost.
    encoder.set_filter(png::FilterType::Sub);
    encoder.set_adaptive_filter(png::AdaptiveFilterType::NonAdaptive);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer
        .write_image_data(&patch.rgba)
        .map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(bytes)
}

/// One rectangle of a decoded frame.
#[derive(Debug)]
pub struct DecodedPatch<'a> {
    pub rect: Rect,
    pub png: &'a [u8],
}

/// A decoded frame: what a client reads back.
#[derive(Debug)]
pub struct DecodedFrame<'a> {
    pub number: u32,
    pub full: bool,
    pub screen: (u16, u16),
    pub patches: Vec<DecodedPatch<'a>>,
}

/// Parses a frame message; the inverse of [`encode_frame`].
pub fn decode_frame(bytes: &[u8]) -> Result<DecodedFrame<'_>, String> {
    let u16_at = |at: usize| -> Result<u16, String> {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .ok_or_else(|| "frame truncated".to_string())
    };
    let u32_at = |at: usize| -> Result<u32, String> {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| "frame truncated".to_string())
    };
    if bytes.first() != Some(&FRAME_KIND) {
        return Err("not a frame".into());
    }
    let full = bytes.get(1).is_some_and(|flags| flags & FLAG_FULL != 0);
    let count = u16_at(2)?;
    let number = u32_at(4)?;
    let screen = (u16_at(8)?, u16_at(10)?);
    let mut at = 12;
    let mut patches = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let rect = Rect::new(
            i32::from(u16_at(at)?),
            i32::from(u16_at(at + 2)?),
            i32::from(u16_at(at + 4)?),
            i32::from(u16_at(at + 6)?),
        );
        let length = u32_at(at + 8)? as usize;
        at += 12;
        let png = bytes.get(at..at + length).ok_or("frame truncated")?;
        at += length;
        patches.push(DecodedPatch { rect, png });
    }
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
        assert_eq!(frame.patches.len(), 2);
        assert_eq!(frame.patches[1].rect, Rect::new(5, 7, 1, 1));
        assert!(frame.patches[0].png.starts_with(b"\x89PNG"));
        assert!(decode_frame(&bytes[..bytes.len() - 1]).is_err());
        let wrong = Patch {
            rect: Rect::new(0, 0, 2, 2),
            rgba: vec![0; 4],
        };
        assert!(encode_frame(1, false, (4, 4), &[wrong]).is_err());
    }
}
