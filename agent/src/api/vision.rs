//! `GET /api/vision/screenshot`: pixels straight from the compositor, with
//! optional reticle, grid and numbered marks, for the screen, a window or a
//! region. `GET /api/vision/analyze`: windows, numbered marks and text with
//! boxes. After actions, `screen_changed` events on the `vision` topic.

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use digios_ipc::{CaptureRequest, CaptureTarget, ImageFormat, Rect};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, ApiQuery, ErrorBody};
use crate::events::Topic;
use crate::vision::{AnalyzeOptions, ChangeToken, Frame};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(screenshot))
        .routes(routes!(analyze))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AnalyzeQuery {
    /// Analyze one window (its id).
    window: Option<u64>,
    /// Analyze a region `x,y,width,height` of the global space.
    region: Option<String>,
}

/// What is on screen: windows, numbered marks (title bars, close buttons,
/// text lines, widgets) and OCR text with boxes and confidence. The marks
/// become the latest: `{"action_type": "click", "params": {"mark": N}}`
/// clicks mark N.
#[utoipa::path(get, path = "/api/vision/analyze", tag = "vision",
    params(AnalyzeQuery),
    responses(
        (status = 200, body = crate::vision::Analysis),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
async fn analyze(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<AnalyzeQuery>,
) -> Result<axum::Json<crate::vision::Analysis>, ApiError> {
    if query.window.is_some() && query.region.is_some() {
        return Err(ApiError::invalid_params(
            "give at most one of window and region",
        ));
    }
    let region = query.region.as_deref().map(parse_region).transpose()?;
    let options = AnalyzeOptions {
        window: query.window,
        region,
    };
    let analysis = state.vision.analyze(options).await?;
    Ok(axum::Json(analysis.as_ref().clone()))
}

/// Publishes what an action changed as a `screen_changed` event on the
/// `vision` topic, once the screen has settled.
pub fn publish_changes(state: AppState, token: ChangeToken, action_type: String) {
    tokio::spawn(async move {
        match state.vision.changes_since(&token, true).await {
            Ok(report) if report.changed() => {
                let mut data = serde_json::to_value(&report).unwrap_or_default();
                if let serde_json::Value::Object(fields) = &mut data {
                    fields.insert("action_type".into(), action_type.into());
                }
                state.events.publish(Topic::Vision, "screen_changed", data);
            }
            Ok(_) => {}
            Err(err) => tracing::debug!("change detection after {action_type}: {err}"),
        }
    });
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ScreenshotQuery {
    /// Draw a crosshair at the pointer with its coordinates.
    reticle: Option<bool>,
    /// Draw a coordinate grid every this many logical pixels (10 to 2000).
    grid: Option<u32>,
    /// Draw the numbered marks of a fresh analysis (the same numbers clicks take).
    marks: Option<bool>,
    /// Capture one window (its id).
    window: Option<u64>,
    /// Capture one output (its name).
    output: Option<String>,
    /// Capture a region `x,y,width,height` of the global space.
    region: Option<String>,
    /// Downscale by this factor (0.05 to 1).
    scale: Option<f64>,
}

/// A PNG of the screen as the compositor rendered it.
#[utoipa::path(get, path = "/api/vision/screenshot", tag = "vision",
    params(ScreenshotQuery),
    responses(
        (status = 200, description = "PNG image; `x-digios-area` gives the logical rectangle shown", content_type = "image/png"),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 503, body = ErrorBody),
    ))]
async fn screenshot(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ScreenshotQuery>,
) -> Result<Response, ApiError> {
    let target = target(&query)?;
    let scale = query.scale.unwrap_or(1.0);
    if !(0.05..=1.0).contains(&scale) {
        return Err(ApiError::invalid_params("scale must be between 0.05 and 1"));
    }
    if let Some(grid) = query.grid
        && !(10..=2000).contains(&grid)
    {
        return Err(ApiError::invalid_params("grid must be between 10 and 2000"));
    }
    let downscale = scale < 1.0;
    let marks = query.marks.unwrap_or(false);
    let analysis = match marks {
        true => Some(state.vision.analyze(AnalyzeOptions::default()).await?),
        false => None,
    };
    let request = CaptureRequest {
        target,
        format: if downscale || marks {
            ImageFormat::Rgba
        } else {
            ImageFormat::Png
        },
        reticle: query.reticle.unwrap_or(false),
        grid: query.grid,
        marks: false,
    };
    let image = match state
        .desktop
        .request(digios_ipc::Request::Capture(request))
        .await?
    {
        digios_ipc::Response::Image(image) => image,
        other => return Err(crate::desktop::unexpected(other).into()),
    };
    let area = image.area;
    let mut image = image;
    if let Some(analysis) = &analysis {
        let mut frame = Frame::new(area, image.scale, image.width, image.height, image.data);
        crate::vision::overlay::draw_marks(&mut frame, &analysis.marks);
        image.data = std::sync::Arc::unwrap_or_clone(frame.rgba);
    }
    let png = if downscale {
        let (width, height, rgba) = downscale_rgba(&image.data, image.width, image.height, scale);
        encode_png(&rgba, width, height)?
    } else if marks {
        encode_png(&image.data, image.width, image.height)?
    } else {
        image.data
    };
    Ok((
        [
            (CONTENT_TYPE, "image/png".to_string()),
            (CACHE_CONTROL, "no-store".to_string()),
            (
                axum::http::HeaderName::from_static("x-digios-area"),
                format!("{},{},{},{}", area.x, area.y, area.width, area.height),
            ),
        ],
        png,
    )
        .into_response())
}

fn target(query: &ScreenshotQuery) -> Result<CaptureTarget, ApiError> {
    let chosen = [
        query.window.is_some(),
        query.output.is_some(),
        query.region.is_some(),
    ];
    if chosen.iter().filter(|c| **c).count() > 1 {
        return Err(ApiError::invalid_params(
            "give at most one of window, output and region",
        ));
    }
    if let Some(id) = query.window {
        return Ok(CaptureTarget::Window { id });
    }
    if let Some(name) = &query.output {
        return Ok(CaptureTarget::Output { name: name.clone() });
    }
    if let Some(region) = &query.region {
        return Ok(CaptureTarget::Region {
            rect: parse_region(region)?,
        });
    }
    Ok(CaptureTarget::Screen)
}

fn parse_region(region: &str) -> Result<Rect, ApiError> {
    let parts: Vec<i32> = region
        .split(',')
        .map(|p| p.trim().parse::<i32>())
        .collect::<Result<_, _>>()
        .map_err(|_| ApiError::invalid_params("region is x,y,width,height in whole pixels"))?;
    let [x, y, width, height] = parts[..] else {
        return Err(ApiError::invalid_params(
            "region is x,y,width,height in whole pixels",
        ));
    };
    Ok(Rect::new(x, y, width, height))
}

/// Area-averaging downscale: every output pixel is the mean of the source
/// pixels it covers, so thin lines fade instead of vanishing.
fn downscale_rgba(data: &[u8], width: u32, height: u32, scale: f64) -> (u32, u32, Vec<u8>) {
    let out_w = ((f64::from(width) * scale).round() as u32).max(1);
    let out_h = ((f64::from(height) * scale).round() as u32).max(1);
    let mut out = vec![0u8; (out_w * out_h * 4) as usize];
    for oy in 0..out_h {
        let y0 = (oy * height / out_h) as usize;
        let y1 = (((oy + 1) * height / out_h) as usize).max(y0 + 1);
        for ox in 0..out_w {
            let x0 = (ox * width / out_w) as usize;
            let x1 = (((ox + 1) * width / out_w) as usize).max(x0 + 1);
            let mut sum = [0u32; 4];
            for y in y0..y1.min(height as usize) {
                for x in x0..x1.min(width as usize) {
                    let i = (y * width as usize + x) * 4;
                    if let Some(pixel) = data.get(i..i + 4) {
                        for (total, value) in sum.iter_mut().zip(pixel) {
                            *total += u32::from(*value);
                        }
                    }
                }
            }
            let n = ((y1 - y0) * (x1 - x0)).max(1) as u32;
            let o = ((oy * out_w + ox) * 4) as usize;
            for (channel, total) in out[o..o + 4].iter_mut().zip(sum) {
                *channel = (total / n) as u8;
            }
        }
    }
    (out_w, out_h, out)
}

fn encode_png(rgba: &[u8], width: u32, height: u32) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder
        .write_header()
        .map_err(|e| ApiError::internal(format!("PNG encoding failed: {e}")))?;
    writer
        .write_image_data(rgba)
        .map_err(|e| ApiError::internal(format!("PNG encoding failed: {e}")))?;
    writer
        .finish()
        .map_err(|e| ApiError::internal(format!("PNG encoding failed: {e}")))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn downscale_averages_blocks() {
        // 2x2 → 1x1: black and white average to grey.
        let data = [
            0, 0, 0, 255, 255, 255, 255, 255, 0, 0, 0, 255, 255, 255, 255, 255,
        ];
        let (w, h, out) = downscale_rgba(&data, 2, 2, 0.5);
        assert_eq!((w, h), (1, 1));
        assert_eq!(out, vec![127, 127, 127, 255]);
    }
}
