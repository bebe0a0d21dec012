//! Text recognition with Tesseract 5 (through `leptess`), tuned for screen
//! text: each region is cut into bands of text separated by blank rows, every
//! band is turned to dark-on-light grey (dark terminals are inverted), scaled
//! up so small screen fonts reach the glyph height Tesseract reads best, and
//! recognised as a uniform block. Work happens on an [`OcrEngine`], which
//! lives on one thread; see [`super::pool`].

use std::ffi::CString;

use serde::Serialize;
use utoipa::ToSchema;

use super::frame::{Frame, PixelRect};
use digios_ipc::Rect;

/// Words below this confidence (0–100) are noise: icons, borders, cursors.
const MIN_WORD_CONFIDENCE: f32 = 40.0;
/// A row or column is blank when its luminance varies less than this.
const INK_THRESHOLD: i32 = 48;
/// Bands lower than this many pixels hold no readable glyph.
const MIN_BAND_HEIGHT: usize = 5;
/// Thinner runs this close to a band belong to it (underscores, dots).
const THIN_RUN_GAP: usize = 3;
/// Blank rows kept around a band, and white border added for Tesseract.
const BAND_MARGIN: usize = 2;
const BORDER: usize = 8;
/// Glyph height Tesseract reads best; bands are scaled towards it.
const TARGET_LINE_HEIGHT: usize = 28;
const MAX_UPSCALE: usize = 4;
/// Tallest band recognised as one piece; taller ones are split.
const MAX_BAND_HEIGHT: usize = 400;

#[derive(Debug, Clone, thiserror::Error)]
pub enum OcrError {
    #[error(
        "OCR is unavailable: Tesseract with English data could not start ({0}); install tesseract-ocr-eng"
    )]
    Unavailable(String),
    #[error("OCR failed: {0}")]
    Failed(String),
}

/// One recognised word, in global logical coordinates.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Word {
    pub text: String,
    #[schema(value_type = crate::vision::RectSchema)]
    pub bbox: Rect,
    /// Tesseract's confidence, 0 to 100.
    pub confidence: f32,
}

/// One line of recognised text, in global logical coordinates.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct TextLine {
    pub text: String,
    #[schema(value_type = crate::vision::RectSchema)]
    pub bbox: Rect,
    /// Mean confidence of its words, 0 to 100.
    pub confidence: f32,
    /// The window the text was read in, if any.
    pub window_id: Option<u64>,
    pub words: Vec<Word>,
}

/// A band of a frame prepared for Tesseract: grey, dark text on white,
/// scaled up, with a white border.
#[derive(Debug, Clone)]
pub struct Band {
    pub grey: Vec<u8>,
    pub width: usize,
    pub height: usize,
    /// Image pixels per frame pixel.
    pub factor: usize,
    /// Where the band's content sits in the frame (frame pixels).
    pub origin: PixelRect,
    /// The frame row each band row (before scaling) shows: blank rows
    /// between a line and its underscores are left out.
    pub rows: Vec<usize>,
    /// Frame rows of the band's ink, margins left out.
    pub ink_rows: (usize, usize),
}

/// A Tesseract instance. Not `Send`: create one per thread.
pub struct OcrEngine {
    api: leptess::tesseract::TessApi,
}

#[link(name = "gomp")]
unsafe extern "C" {
    /// libgomp's per-thread cap; Tesseract links it, and its spinning worker
    /// threads make a loaded machine slower, not faster.
    fn omp_set_num_threads(count: std::ffi::c_int);
}

impl OcrEngine {
    pub fn new() -> Result<Self, OcrError> {
        // SAFETY: sets an OpenMP control variable of the calling thread only.
        unsafe { omp_set_num_threads(1) };
        let mut api = leptess::tesseract::TessApi::new(None, "eng")
            .map_err(|err| OcrError::Unavailable(err.to_string()))?;
        for (name, value) in [
            // Bands are inverted here already; Tesseract's own retry of
            // every low-confidence line inverted doubles the work.
            ("tessedit_do_invert", "0"),
            // Uniform block of text.
            ("tessedit_pageseg_mode", "6"),
            ("debug_file", "/dev/null"),
        ] {
            let (name, value) = (CString::new(name), CString::new(value));
            if let (Ok(name), Ok(value)) = (name, value) {
                let _ = api.raw.set_variable(&name, &value);
            }
        }
        Ok(Self { api })
    }

    /// Recognises one band; boxes come back in the band's frame pixels.
    pub fn recognize(&mut self, band: &Band) -> Result<Vec<RawLine>, OcrError> {
        let (width, height) = (band.width as i32, band.height as i32);
        self.api
            .raw
            .set_image(&band.grey, width, height, 1, width)
            .map_err(|err| OcrError::Failed(format!("{err:?}")))?;
        // Screen text at 96 dpi, scaled up by the band's factor.
        self.api
            .raw
            .set_source_resolution((96 * band.factor) as i32);
        self.api
            .raw
            .recognize()
            .map_err(|_| OcrError::Failed("recognition failed".into()))?;
        let tsv = self
            .api
            .raw
            .get_tsv_text(0)
            .map_err(|_| OcrError::Failed("no TSV output".into()))?;
        let tsv = tsv.as_ref().to_string_lossy().into_owned();
        Ok(parse_tsv(&tsv, band))
    }
}

/// A line in frame pixels, before mapping to global coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct RawLine {
    pub words: Vec<RawWord>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RawWord {
    pub text: String,
    pub bbox: PixelRect,
    pub confidence: f32,
}

/// Words of Tesseract's TSV grouped into lines, boxes mapped back to frame
/// pixels of the band.
fn parse_tsv(tsv: &str, band: &Band) -> Vec<RawLine> {
    let mut lines: Vec<((u32, u32, u32), RawLine)> = Vec::new();
    for row in tsv.lines() {
        let fields: Vec<&str> = row.splitn(12, '\t').collect();
        let [
            level,
            _page,
            block,
            par,
            line,
            _word,
            left,
            top,
            width,
            height,
            conf,
            text,
        ] = fields[..]
        else {
            continue;
        };
        if level != "5" {
            continue;
        }
        let text = text.trim();
        let numbers = [left, top, width, height].map(|n| n.parse::<i64>().ok());
        let (Some(left), Some(top), Some(width), Some(height)) =
            (numbers[0], numbers[1], numbers[2], numbers[3])
        else {
            continue;
        };
        let confidence = conf.parse::<f32>().unwrap_or(-1.0);
        if text.is_empty() || confidence < MIN_WORD_CONFIDENCE {
            continue;
        }
        let key = (
            block.parse().unwrap_or(0),
            par.parse().unwrap_or(0),
            line.parse().unwrap_or(0),
        );
        let bbox = band_to_frame(band, left, top, width, height);
        let word = RawWord {
            text: text.to_string(),
            bbox,
            confidence,
        };
        match lines.iter_mut().find(|(k, _)| *k == key) {
            Some((_, line)) => match line.words.last_mut() {
                // Tesseract sometimes splits a word at an underscore into
                // two whose boxes overlap: one word on screen.
                Some(previous) if previous.bbox.x + previous.bbox.width > word.bbox.x => {
                    previous.text.push_str(&word.text);
                    let right =
                        (previous.bbox.x + previous.bbox.width).max(word.bbox.x + word.bbox.width);
                    let top = previous.bbox.y.min(word.bbox.y);
                    let bottom = (previous.bbox.y + previous.bbox.height)
                        .max(word.bbox.y + word.bbox.height);
                    previous.bbox = PixelRect {
                        x: previous.bbox.x,
                        y: top,
                        width: right - previous.bbox.x,
                        height: bottom - top,
                    };
                    previous.confidence = previous.confidence.min(word.confidence);
                }
                _ => line.words.push(word),
            },
            None => lines.push((key, RawLine { words: vec![word] })),
        }
    }
    lines.into_iter().map(|(_, line)| line).collect()
}

fn band_to_frame(band: &Band, left: i64, top: i64, width: i64, height: i64) -> PixelRect {
    let factor = band.factor as i64;
    let border = BORDER as i64;
    let x0 = ((left - border).max(0) / factor).min(band.origin.width as i64);
    let x1 = ((left + width - border).max(0) + factor - 1) / factor;
    let x1 = x1.clamp(x0, band.origin.width as i64);
    // Band rows map to frame rows through `rows` (gaps were left out).
    let last = band.rows.len().saturating_sub(1) as i64;
    let first_row = ((top - border).max(0) / factor).min(last);
    let last_row =
        (((top + height - border).max(0) + factor - 1) / factor - 1).clamp(first_row, last);
    let frame_row = |index: i64| {
        band.rows
            .get(index as usize)
            .copied()
            .unwrap_or(band.origin.y)
    };
    // Boxes stay within the band's ink, so a box never reaches into the
    // rows of the line below or above.
    let (ink_top, ink_bottom) = band.ink_rows;
    let y0 = frame_row(first_row).clamp(ink_top, ink_bottom.saturating_sub(1));
    let y1 = (frame_row(last_row) + 1).clamp(y0 + 1, ink_bottom.max(y0 + 1));
    PixelRect {
        x: band.origin.x + x0 as usize,
        y: y0,
        width: (x1 - x0) as usize,
        height: y1.saturating_sub(y0),
    }
}

/// Luminance 0–255 of every pixel of `area`, row by row.
fn luminance(frame: &Frame, area: PixelRect) -> Vec<u8> {
    let mut grey = Vec::with_capacity(area.width * area.height);
    let stride = frame.width as usize * 4;
    for y in area.y..area.y + area.height {
        let row = &frame.rgba[y * stride + area.x * 4..y * stride + (area.x + area.width) * 4];
        grey.extend(row.chunks_exact(4).map(|p| {
            ((u32::from(p[0]) * 77 + u32::from(p[1]) * 150 + u32::from(p[2]) * 29) >> 8) as u8
        }));
    }
    grey
}

/// Whether values differ enough to hold a stroke of text.
fn uneven(values: &[u8]) -> bool {
    let (low, high) = values.iter().fold((u8::MAX, u8::MIN), |(low, high), &v| {
        (low.min(v), high.max(v))
    });
    i32::from(high) - i32::from(low) >= INK_THRESHOLD
}

/// The most common luminance: the background of screen text.
fn background(grey: &[u8]) -> u8 {
    let mut histogram = [0usize; 256];
    for &value in grey {
        histogram[value as usize] += 1;
    }
    histogram
        .iter()
        .enumerate()
        .max_by_key(|(_, count)| **count)
        .map(|(value, _)| value as u8)
        .unwrap_or(255)
}

/// Cuts `area` of the frame into bands of text separated by blank rows and
/// prepares each for Tesseract. When `rows` is given, only bands touching
/// one of those ranges of frame rows are wanted; such a band is taken whole.
pub fn bands(frame: &Frame, area: PixelRect, rows: Option<&[(usize, usize)]>) -> Vec<Band> {
    let Some(area) = area.clip(frame.width as usize, frame.height as usize) else {
        return Vec::new();
    };
    if area.width < 2 || area.height < MIN_BAND_HEIGHT {
        return Vec::new();
    }
    let grey = luminance(frame, area);
    // A row of one colour (background, a title bar's edge) holds no text,
    // whatever the colour.
    let inked_rows: Vec<bool> = grey.chunks_exact(area.width).map(uneven).collect();
    let mut runs = Vec::new();
    let mut start = None;
    for (y, &inked) in inked_rows.iter().chain([&false]).enumerate() {
        match (inked, start) {
            (true, None) => start = Some(y),
            (false, Some(s)) => {
                runs.push((s, y));
                start = None;
            }
            _ => {}
        }
    }
    let runs = attach_thin_runs(runs);
    // The typical run is one line of text: its height sets the scale for all.
    let mut heights: Vec<usize> = runs.iter().map(|run| run.bottom - run.top).collect();
    heights.sort_unstable();
    let line_height = heights
        .get(heights.len() / 2)
        .copied()
        .unwrap_or(TARGET_LINE_HEIGHT);
    let factor =
        (TARGET_LINE_HEIGHT / line_height.clamp(1, TARGET_LINE_HEIGHT)).clamp(1, MAX_UPSCALE);
    let mut out = Vec::new();
    for run in runs {
        let top = run.top.saturating_sub(BAND_MARGIN);
        let bottom = (run.bottom + BAND_MARGIN).min(area.height);
        // Margins may reach into a neighbour's rows; only ink counts.
        let ink_rows = (area.y + run.top, area.y + run.bottom);
        if let Some(rows) = rows
            && !rows
                .iter()
                .any(|&(first, last)| ink_rows.1 > first && ink_rows.0 < last)
        {
            continue;
        }
        // Gaps above underscores close to one blank row: screen fonts draw
        // them at the cell's bottom, and Tesseract takes a distant stroke
        // for noise.
        let kept: Vec<usize> = (top..bottom)
            .filter(|&y| !run.gaps.iter().any(|&(first, last)| y > first && y < last))
            .collect();
        for chunk in kept.chunks(MAX_BAND_HEIGHT) {
            if let Some(mut band) = prepare_band(&grey, area, factor, chunk) {
                band.ink_rows = ink_rows;
                out.push(band);
            }
        }
    }
    out
}

/// Rows `top..bottom` of inked content; `gaps` are blank row ranges inside
/// it (between a line and a thin run joined to it).
#[derive(Debug, Clone, PartialEq)]
struct Run {
    top: usize,
    bottom: usize,
    gaps: Vec<(usize, usize)>,
}

/// Joins runs too thin to be text (underscores drawn below a line, dots
/// above one) to the nearest run within [`THIN_RUN_GAP`] rows; drops the rest.
fn attach_thin_runs(runs: Vec<(usize, usize)>) -> Vec<Run> {
    let thick = |run: &(usize, usize)| run.1 - run.0 >= MIN_BAND_HEIGHT;
    let mut out: Vec<Run> = Vec::new();
    let mut pending: Option<Run> = None;
    for (index, run) in runs.iter().enumerate() {
        if thick(run) {
            let joined = match pending.take() {
                Some(mut above) => {
                    above.gaps.push((above.bottom, run.0));
                    above.bottom = run.1;
                    above
                }
                None => Run {
                    top: run.0,
                    bottom: run.1,
                    gaps: Vec::new(),
                },
            };
            out.push(joined);
            continue;
        }
        let above = out
            .last_mut()
            .filter(|prev| run.0 - prev.bottom <= THIN_RUN_GAP);
        if let Some(prev) = above {
            prev.gaps.push((prev.bottom, run.0));
            prev.bottom = run.1;
            continue;
        }
        let below = runs[index + 1..]
            .first()
            .filter(|next| thick(next) && next.0 - run.1 <= THIN_RUN_GAP);
        if below.is_some() {
            pending = Some(match pending.take() {
                Some(mut earlier) => {
                    earlier.gaps.push((earlier.bottom, run.0));
                    earlier.bottom = run.1;
                    earlier
                }
                None => Run {
                    top: run.0,
                    bottom: run.1,
                    gaps: Vec::new(),
                },
            });
        }
    }
    out
}

/// Crops rows `top..bottom` of the area's grey image to their inked columns,
/// inverts dark backgrounds, scales up and adds a white border.
fn prepare_band(grey: &[u8], area: PixelRect, factor: usize, kept: &[usize]) -> Option<Band> {
    let (&top, &last) = (kept.first()?, kept.last()?);
    let row = |y: usize| &grey[y * area.width..(y + 1) * area.width];
    let mut sample_values = Vec::with_capacity(kept.len() * area.width);
    for &y in kept {
        sample_values.extend_from_slice(row(y));
    }
    let rows = &sample_values[..];
    let paper = background(rows);
    let mut column = Vec::with_capacity(kept.len());
    let mut inked_column = |x: usize| {
        column.clear();
        column.extend(rows.chunks_exact(area.width).map(|row| row[x]));
        uneven(&column)
    };
    let left = (0..area.width).find(|&x| inked_column(x))?;
    let right = (left..area.width).rev().find(|&x| inked_column(x))? + 1;
    let left = left.saturating_sub(BAND_MARGIN);
    let right = (right + BAND_MARGIN).min(area.width);
    let (width, height) = (right - left, kept.len());
    let invert = paper < 128;
    let out_width = width * factor + 2 * BORDER;
    let out_height = height * factor + 2 * BORDER;
    let mut out = vec![255u8; out_width * out_height];
    // Stretch contrast from the darkest ink to the paper, with a curve that
    // darkens faint strokes: screen fonts draw underscores and thin stems
    // as one anti-aliased row Tesseract would otherwise drop.
    let oriented = |value: u8| if invert { 255 - value } else { value };
    let (ink, light) = rows.iter().fold((u8::MAX, u8::MIN), |(ink, light), &v| {
        (ink.min(oriented(v)), light.max(oriented(v)))
    });
    let span = f32::from(light.saturating_sub(ink)).max(1.0);
    let curve: Vec<u8> = (0..=255u8)
        .map(|v| {
            let level = (f32::from(v.saturating_sub(ink)) / span).min(1.0);
            (255.0 * level * level).round() as u8
        })
        .collect();
    let sample =
        |x: usize, y: usize| -> u8 { curve[oriented(rows[y * area.width + left + x]) as usize] };
    for oy in 0..height * factor {
        // Bilinear sampling at pixel centres keeps strokes smooth when scaled.
        let fy = ((oy as f32 + 0.5) / factor as f32 - 0.5).max(0.0);
        let y0 = (fy as usize).min(height - 1);
        let y1 = (y0 + 1).min(height - 1);
        let wy = fy - y0 as f32;
        let out_row = &mut out[(oy + BORDER) * out_width + BORDER..][..width * factor];
        for (ox, pixel) in out_row.iter_mut().enumerate() {
            let fx = ((ox as f32 + 0.5) / factor as f32 - 0.5).max(0.0);
            let x0 = (fx as usize).min(width - 1);
            let x1 = (x0 + 1).min(width - 1);
            let wx = fx - x0 as f32;
            let top_value = f32::from(sample(x0, y0)) * (1.0 - wx) + f32::from(sample(x1, y0)) * wx;
            let bottom_value =
                f32::from(sample(x0, y1)) * (1.0 - wx) + f32::from(sample(x1, y1)) * wx;
            *pixel = (top_value * (1.0 - wy) + bottom_value * wy).round() as u8;
        }
    }
    Some(Band {
        grey: out,
        width: out_width,
        height: out_height,
        factor,
        origin: PixelRect {
            x: area.x + left,
            y: area.y + top,
            width,
            height: last + 1 - top,
        },
        rows: kept.iter().map(|y| area.y + y).collect(),
        ink_rows: (area.y + top, area.y + last + 1),
    })
}

/// Maps lines in frame pixels to global coordinates, joining words with spaces.
pub fn to_global(frame: &Frame, lines: Vec<RawLine>, window_id: Option<u64>) -> Vec<TextLine> {
    lines
        .into_iter()
        .filter(|line| !line.words.is_empty())
        .map(|line| {
            let words: Vec<Word> = line
                .words
                .into_iter()
                .map(|word| Word {
                    bbox: frame.to_global(word.bbox),
                    text: word.text,
                    confidence: word.confidence,
                })
                .collect();
            let bbox = words
                .iter()
                .skip(1)
                .fold(words[0].bbox, |all, word| all.union(&word.bbox));
            let confidence = words.iter().map(|w| w.confidence).sum::<f32>() / words.len() as f32;
            let text = words
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(" ");
            TextLine {
                text,
                bbox,
                confidence,
                window_id,
                words,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(width: u32, height: u32, fill: [u8; 4]) -> Frame {
        let rgba = fill.repeat((width * height) as usize);
        Frame::new(
            Rect::new(0, 0, width as i32, height as i32),
            1.0,
            width,
            height,
            rgba,
        )
    }

    fn paint(frame: &mut Frame, x: usize, y: usize, w: usize, h: usize, color: [u8; 4]) {
        let stride = frame.width as usize * 4;
        let rgba = std::sync::Arc::make_mut(&mut frame.rgba);
        for row in y..y + h {
            for column in x..x + w {
                rgba[row * stride + column * 4..][..4].copy_from_slice(&color);
            }
        }
    }

    #[test]
    fn bands_split_on_blank_rows_and_invert_dark_backgrounds() {
        let mut frame = frame(100, 60, [17, 17, 17, 255]);
        paint(&mut frame, 10, 5, 30, 10, [220, 220, 220, 255]);
        paint(&mut frame, 20, 30, 40, 12, [220, 220, 220, 255]);
        let all = frame.pixel_rect();
        let found = bands(&frame, all, None);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].origin.y, 3);
        assert_eq!(found[0].origin.x, 8);
        // Inverted: the painted block is dark, the border white.
        let band = &found[0];
        assert_eq!(band.grey[0], 255);
        let centre = band.grey[(band.height / 2) * band.width + band.width / 2];
        assert!(centre < 60, "{centre}");
        // Only bands touching the wanted rows.
        assert_eq!(bands(&frame, all, Some(&[(31, 33)])).len(), 1);
    }

    #[test]
    fn underscores_below_a_line_stay_with_it() {
        let runs = vec![(0, 11), (13, 14), (20, 31), (40, 41)];
        let run = |top, bottom, gaps: &[(usize, usize)]| Run {
            top,
            bottom,
            gaps: gaps.to_vec(),
        };
        assert_eq!(
            attach_thin_runs(runs),
            vec![run(0, 14, &[(11, 13)]), run(20, 31, &[])]
        );
        let dotted = vec![(0, 1), (3, 12)];
        assert_eq!(attach_thin_runs(dotted), vec![run(0, 12, &[(1, 3)])]);
    }

    #[test]
    fn blank_tiny_and_outside_areas_give_no_bands() {
        let blank = frame(50, 50, [255, 255, 255, 255]);
        assert!(bands(&blank, blank.pixel_rect(), None).is_empty());
        let mut tiny = frame(3, 3, [0, 0, 0, 255]);
        paint(&mut tiny, 1, 1, 1, 1, [255, 255, 255, 255]);
        assert!(bands(&tiny, tiny.pixel_rect(), None).is_empty());
        let outside = PixelRect {
            x: 500,
            y: 500,
            width: 10,
            height: 10,
        };
        assert!(bands(&blank, outside, None).is_empty());
    }

    #[test]
    fn tsv_words_group_into_lines_in_frame_pixels() {
        let band = Band {
            grey: Vec::new(),
            width: 0,
            height: 0,
            factor: 2,
            origin: PixelRect {
                x: 100,
                y: 50,
                width: 200,
                height: 40,
            },
            rows: (50..90).collect(),
            ink_rows: (52, 88),
        };
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
                   5\t1\t1\t1\t1\t1\t8\t8\t40\t20\t96.5\thello\n\
                   5\t1\t1\t1\t1\t2\t58\t8\t40\t20\t91\tworld\n\
                   5\t1\t1\t1\t2\t1\t8\t40\t40\t20\t12\t~\n\
                   5\t1\t1\t1\t3\t1\t8\t70\t20\t20\t88\tok\n\
                   5\t1\t1\t1\t4\t1\t8\t100\t60\t20\t80\ttyped_via_\n\
                   5\t1\t1\t1\t4\t2\t60\t100\t30\t20\t95\tapi\n";
        let lines = parse_tsv(tsv, &band);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[2].words.len(), 1);
        assert_eq!(lines[2].words[0].text, "typed_via_api");
        assert_eq!(lines[2].words[0].confidence, 80.0);
        assert_eq!(lines[0].words.len(), 2);
        assert_eq!(
            lines[0].words[0].bbox,
            PixelRect {
                x: 100,
                y: 52,
                width: 20,
                height: 8
            }
        );
        assert_eq!(lines[1].words[0].text, "ok");
    }
}
