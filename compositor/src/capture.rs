//! Captures: the screen, one window or a region as PNG or raw RGBA, with
//! overlays that help a model point: a reticle at the pointer, a labelled
//! coordinate grid and numbered marks on windows.

use digios_ipc::{CaptureRequest, CaptureTarget, Error, ErrorCode, Image, ImageFormat, Rect};
use smithay::utils::{Logical, Rectangle};

use crate::canvas::{Canvas, GLYPH_SIZE, Rgba};
use crate::render::{MAX_RENDER_SIDE, render_region};
use crate::state::State;

const RETICLE: Rgba = [0xff, 0x20, 0x20, 0xff];
const RETICLE_LABEL_BACKGROUND: Rgba = [0x00, 0x00, 0x00, 0xc0];
const GRID_LINE: Rgba = [0x00, 0xe0, 0xff, 0x80];
const GRID_LABEL: Rgba = [0x00, 0xe0, 0xff, 0xff];
const MARK: Rgba = [0xff, 0xd0, 0x00, 0xff];
const WHITE: Rgba = [0xff, 0xff, 0xff, 0xff];
const BLACK: Rgba = [0x00, 0x00, 0x00, 0xff];
/// Half the length of a reticle arm, in logical pixels.
const RETICLE_ARM: f64 = 12.0;
/// Smallest grid spacing; finer grids hide the screen.
pub const MIN_GRID_SPACING: u32 = 10;

/// Maps global logical coordinates onto image pixels.
struct Projection {
    area: Rectangle<i32, Logical>,
    scale: f64,
}

impl Projection {
    fn x(&self, x: f64) -> i32 {
        ((x - f64::from(self.area.loc.x)) * self.scale).round() as i32
    }

    fn y(&self, y: f64) -> i32 {
        ((y - f64::from(self.area.loc.y)) * self.scale).round() as i32
    }

    /// Overlay size multiplier, so labels stay readable on scaled outputs.
    fn zoom(&self) -> i32 {
        (self.scale.round() as i32).max(1)
    }
}

pub fn capture(state: &mut State, request: &CaptureRequest) -> Result<Image, Error> {
    let (area, scale) = resolve_target(state, &request.target)?;
    if request
        .grid
        .is_some_and(|spacing| spacing < MIN_GRID_SPACING)
    {
        return Err(Error::new(
            ErrorCode::InvalidArgument,
            format!("grid spacing must be at least {MIN_GRID_SPACING}"),
        ));
    }
    let mut canvas = render_region(state, area, scale)
        .map_err(|err| Error::new(ErrorCode::Internal, format!("capture failed: {err:#}")))?;
    let projection = Projection { area, scale };
    if let Some(spacing) = request.grid {
        draw_grid(&mut canvas, &projection, spacing);
    }
    if request.marks {
        draw_marks(state, &mut canvas, &projection);
    }
    if request.reticle {
        let pointer = state.pointer_location();
        draw_reticle(&mut canvas, &projection, pointer.x, pointer.y);
    }
    let data = match request.format {
        ImageFormat::Rgba | ImageFormat::RgbaRaw => canvas.pixels,
        ImageFormat::Png => encode_png(&canvas)
            .map_err(|err| Error::new(ErrorCode::Internal, format!("PNG encoding: {err}")))?,
    };
    Ok(Image {
        width: canvas.width as u32,
        height: canvas.height as u32,
        format: request.format,
        area: Rect::new(area.loc.x, area.loc.y, area.size.w, area.size.h),
        scale,
        data,
    })
}

fn resolve_target(
    state: &State,
    target: &CaptureTarget,
) -> Result<(Rectangle<i32, Logical>, f64), Error> {
    let output_area = |output: &smithay::output::Output| {
        let geometry = state
            .space
            .output_geometry(output)
            .ok_or_else(|| Error::new(ErrorCode::Internal, "output is not mapped"))?;
        Ok((geometry, output.current_scale().fractional_scale()))
    };
    match target {
        CaptureTarget::Screen => {
            let output = state
                .space
                .outputs()
                .next()
                .ok_or_else(|| Error::new(ErrorCode::Internal, "there is no output"))?;
            output_area(output)
        }
        CaptureTarget::Output { name } => {
            let output = state
                .space
                .outputs()
                .find(|output| &output.name() == name)
                .ok_or_else(|| {
                    Error::new(
                        ErrorCode::UnknownOutput,
                        format!("no output is named `{name}`"),
                    )
                })?;
            output_area(output)
        }
        CaptureTarget::Window { id } => {
            let managed = state.windows.get(*id)?;
            if !managed.visible() {
                return Err(Error::new(
                    ErrorCode::InvalidArgument,
                    format!("window {id} is not visible"),
                ));
            }
            let frame = managed.frame();
            let scale = state
                .output_for_rect(frame)
                .map(|output| output.current_scale().fractional_scale())
                .unwrap_or(1.0);
            Ok((frame, scale))
        }
        CaptureTarget::Region { rect } => {
            if rect.width <= 0
                || rect.height <= 0
                || rect.width > MAX_RENDER_SIDE
                || rect.height > MAX_RENDER_SIDE
            {
                return Err(Error::new(
                    ErrorCode::InvalidArgument,
                    format!("region size {}x{} is out of range", rect.width, rect.height),
                ));
            }
            let region = Rectangle::new((rect.x, rect.y).into(), (rect.width, rect.height).into());
            let on_screen = state
                .space
                .outputs()
                .filter_map(|output| state.space.output_geometry(output))
                .any(|geometry| geometry.overlaps(region));
            if !on_screen {
                return Err(Error::new(
                    ErrorCode::OutOfBounds,
                    format!("region {rect:?} overlaps no output"),
                ));
            }
            Ok((region, 1.0))
        }
    }
}

/// Lines every `spacing` logical pixels, each labelled with its coordinate.
fn draw_grid(canvas: &mut Canvas, projection: &Projection, spacing: u32) {
    let spacing = spacing as i32;
    let area = projection.area;
    let zoom = projection.zoom();
    let first_x = area.loc.x.div_euclid(spacing) * spacing;
    let first_y = area.loc.y.div_euclid(spacing) * spacing;
    let mut x = first_x;
    while x <= area.loc.x + area.size.w {
        let column = projection.x(f64::from(x));
        canvas.fill_rect(column, 0, 1, canvas.height, GRID_LINE);
        canvas.draw_label(column + 1, 1, &x.to_string(), zoom, GRID_LABEL, BLACK);
        x += spacing;
    }
    let mut y = first_y;
    while y <= area.loc.y + area.size.h {
        let row = projection.y(f64::from(y));
        canvas.fill_rect(0, row, canvas.width, 1, GRID_LINE);
        if y != first_y || first_y != area.loc.y {
            canvas.draw_label(1, row + 1, &y.to_string(), zoom, GRID_LABEL, BLACK);
        }
        y += spacing;
    }
}

/// A box around every visible window with its id in the top-left corner.
fn draw_marks(state: &State, canvas: &mut Canvas, projection: &Projection) {
    let zoom = projection.zoom();
    for managed in state.windows.windows.iter().filter(|m| m.visible()) {
        let frame = managed.frame();
        let (x0, y0) = (
            projection.x(f64::from(frame.loc.x)),
            projection.y(f64::from(frame.loc.y)),
        );
        let (x1, y1) = (
            projection.x(f64::from(frame.loc.x + frame.size.w)),
            projection.y(f64::from(frame.loc.y + frame.size.h)),
        );
        canvas.outline_rect(x0, y0, x1 - x0, y1 - y0, 2 * zoom, MARK);
        // The number sits just outside the top-left corner so the title stays readable.
        let label_height = GLYPH_SIZE * 2 * zoom + 4 * zoom;
        let label_width = Canvas::text_width(&managed.id.to_string(), 2 * zoom) + 4 * zoom;
        let (lx, ly) = if y0 >= label_height {
            (x0, y0 - label_height)
        } else if x0 >= label_width {
            (x0 - label_width, y0)
        } else {
            (x0, y0)
        };
        canvas.draw_label(lx, ly, &managed.id.to_string(), 2 * zoom, BLACK, MARK);
    }
}

/// A crosshair centred on the pointer with an `x,y` label beside it.
fn draw_reticle(canvas: &mut Canvas, projection: &Projection, x: f64, y: f64) {
    let zoom = projection.zoom();
    let (px, py) = (projection.x(x), projection.y(y));
    let arm = (RETICLE_ARM * projection.scale).round() as i32;
    let gap = 3 * zoom;
    let thickness = zoom;
    // Arms leave the hotspot itself uncovered so the target stays visible.
    canvas.fill_rect(px - arm, py, arm - gap, thickness, RETICLE);
    canvas.fill_rect(px + gap + 1, py, arm - gap, thickness, RETICLE);
    canvas.fill_rect(px, py - arm, thickness, arm - gap, RETICLE);
    canvas.fill_rect(px, py + gap + 1, thickness, arm - gap, RETICLE);
    canvas.outline_rect(
        px - arm,
        py - arm,
        2 * arm + 1,
        2 * arm + 1,
        thickness,
        RETICLE,
    );
    let label = format!("{},{}", x.round() as i64, y.round() as i64);
    let label_width = Canvas::text_width(&label, zoom) + 4 * zoom;
    let label_height = GLYPH_SIZE * zoom + 4 * zoom;
    // Keep the label on the image: to the right and below unless that leaves it.
    let mut lx = px + arm + 2 * zoom;
    let mut ly = py + arm + 2 * zoom;
    if lx + label_width > canvas.width {
        lx = px - arm - 2 * zoom - label_width;
    }
    if ly + label_height > canvas.height {
        ly = py - arm - 2 * zoom - label_height;
    }
    canvas.draw_label(lx, ly, &label, zoom, WHITE, RETICLE_LABEL_BACKGROUND);
}

fn encode_png(canvas: &Canvas) -> Result<Vec<u8>, png::EncodingError> {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, canvas.width as u32, canvas.height as u32);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        encoder.set_compression(png::Compression::Fast);
        // One cheap filter for every row: adaptive filtering tries all five
        // per row and costs more than the compression it saves here.
        encoder.set_filter(png::FilterType::Sub);
        encoder.set_adaptive_filter(png::AdaptiveFilterType::NonAdaptive);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(&canvas.pixels)?;
    }
    Ok(bytes)
}
