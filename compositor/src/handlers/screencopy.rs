//! wlr-screencopy: privileged tools such as `grim` copy an output (or part of
//! one) into their shm buffer. Frames are rendered on request by the same
//! path as the control socket's captures.

use std::time::{SystemTime, UNIX_EPOCH};

use smithay::output::Output;
use smithay::reexports::wayland_protocols_wlr::screencopy::v1::server::{
    zwlr_screencopy_frame_v1::{self, ZwlrScreencopyFrameV1},
    zwlr_screencopy_manager_v1::{self, ZwlrScreencopyManagerV1},
};
use smithay::reexports::wayland_server::backend::GlobalId;
use smithay::reexports::wayland_server::protocol::{wl_buffer::WlBuffer, wl_shm};
use smithay::reexports::wayland_server::{
    Client, DataInit, Dispatch, DisplayHandle, GlobalDispatch, New, Resource,
};
use smithay::utils::{Logical, Physical, Rectangle, Size};
use smithay::wayland::shm::with_buffer_contents_mut;

use crate::canvas::Canvas;
use crate::render::render_region;
use crate::state::{State, is_privileged};

const VERSION: u32 = 3;

pub struct ScreencopyState {
    _global: GlobalId,
}

/// What one frame copies.
pub struct FrameData {
    /// Global logical area.
    region: Rectangle<i32, Logical>,
    scale: f64,
    size: Size<i32, Physical>,
    used: std::sync::atomic::AtomicBool,
}

impl ScreencopyState {
    /// Advertises the global to privileged clients only.
    pub fn new(display: &DisplayHandle) -> Self {
        let global = display.create_global::<State, ZwlrScreencopyManagerV1, _>(VERSION, ());
        Self { _global: global }
    }
}

impl GlobalDispatch<ZwlrScreencopyManagerV1, ()> for State {
    fn bind(
        _state: &mut State,
        _display: &DisplayHandle,
        _client: &Client,
        resource: New<ZwlrScreencopyManagerV1>,
        _global_data: &(),
        data_init: &mut DataInit<'_, State>,
    ) {
        data_init.init(resource, ());
    }

    fn can_view(client: Client, _global_data: &()) -> bool {
        is_privileged(&client)
    }
}

impl Dispatch<ZwlrScreencopyManagerV1, ()> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        _manager: &ZwlrScreencopyManagerV1,
        request: zwlr_screencopy_manager_v1::Request,
        _data: &(),
        _display: &DisplayHandle,
        data_init: &mut DataInit<'_, State>,
    ) {
        let (frame, output, part) = match request {
            zwlr_screencopy_manager_v1::Request::CaptureOutput { frame, output, .. } => {
                (frame, output, None)
            }
            zwlr_screencopy_manager_v1::Request::CaptureOutputRegion {
                frame,
                output,
                x,
                y,
                width,
                height,
                ..
            } => (
                frame,
                output,
                Some(Rectangle::<i32, Logical>::new(
                    (x, y).into(),
                    (width, height).into(),
                )),
            ),
            zwlr_screencopy_manager_v1::Request::Destroy => return,
            _ => return,
        };
        let target = Output::from_resource(&output).and_then(|output| {
            let geometry = state.space.output_geometry(&output)?;
            let region = match part {
                Some(mut part) => {
                    part.loc += geometry.loc;
                    part.intersection(geometry)?
                }
                None => geometry,
            };
            Some((region, output.current_scale().fractional_scale()))
        });
        let (region, scale) = target.unwrap_or_default();
        let size: Size<i32, Physical> = region.size.to_f64().to_physical(scale).to_i32_round();
        let frame = data_init.init(
            frame,
            FrameData {
                region,
                scale,
                size,
                used: Default::default(),
            },
        );
        if target.is_none() || size.w <= 0 || size.h <= 0 {
            frame.failed();
            return;
        }
        frame.buffer(
            wl_shm::Format::Xrgb8888,
            size.w as u32,
            size.h as u32,
            size.w as u32 * 4,
        );
        if frame.version() >= 3 {
            frame.buffer_done();
        }
    }
}

impl Dispatch<ZwlrScreencopyFrameV1, FrameData> for State {
    fn request(
        state: &mut State,
        _client: &Client,
        frame: &ZwlrScreencopyFrameV1,
        request: zwlr_screencopy_frame_v1::Request,
        data: &FrameData,
        _display: &DisplayHandle,
        _data_init: &mut DataInit<'_, State>,
    ) {
        let (buffer, with_damage) = match request {
            zwlr_screencopy_frame_v1::Request::Copy { buffer } => (buffer, false),
            zwlr_screencopy_frame_v1::Request::CopyWithDamage { buffer } => (buffer, true),
            _ => return,
        };
        if data.used.swap(true, std::sync::atomic::Ordering::SeqCst) {
            frame.post_error(
                zwlr_screencopy_frame_v1::Error::AlreadyUsed,
                "this frame was already copied",
            );
            return;
        }
        let canvas = match render_region(state, data.region, data.scale) {
            Ok(canvas) => canvas,
            Err(err) => {
                tracing::warn!("screencopy: {err:#}");
                frame.failed();
                return;
            }
        };
        match copy_into(&buffer, &canvas, data.size) {
            Ok(()) => {}
            Err(CopyError::Invalid(message)) => {
                frame.post_error(zwlr_screencopy_frame_v1::Error::InvalidBuffer, message);
                return;
            }
            Err(CopyError::Failed) => {
                frame.failed();
                return;
            }
        }
        frame.flags(zwlr_screencopy_frame_v1::Flags::empty());
        if with_damage {
            frame.damage(0, 0, data.size.w as u32, data.size.h as u32);
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let seconds = now.as_secs();
        frame.ready((seconds >> 32) as u32, seconds as u32, now.subsec_nanos());
    }
}

enum CopyError {
    Invalid(&'static str),
    Failed,
}

/// Writes RGBA pixels into an XRGB8888/ARGB8888 shm buffer of the agreed size.
fn copy_into(
    buffer: &WlBuffer,
    canvas: &Canvas,
    size: Size<i32, Physical>,
) -> Result<(), CopyError> {
    let result = with_buffer_contents_mut(buffer, |pool, pool_len, info| {
        let format_ok = matches!(
            info.format,
            wl_shm::Format::Xrgb8888 | wl_shm::Format::Argb8888
        );
        if !format_ok || info.width != size.w || info.height != size.h || info.stride < size.w * 4 {
            return Err(CopyError::Invalid("buffer format or size does not match"));
        }
        let start = info.offset as usize;
        let needed = info.stride as usize * (size.h as usize - 1) + size.w as usize * 4;
        if start.checked_add(needed).is_none_or(|end| end > pool_len) {
            return Err(CopyError::Invalid("buffer lies outside its pool"));
        }
        // SAFETY: the range was checked against the pool length above, and the
        // pool stays mapped for the duration of this closure.
        let bytes = unsafe { std::slice::from_raw_parts_mut(pool.add(start), needed) };
        for row in 0..size.h as usize {
            let source = &canvas.pixels[row * size.w as usize * 4..(row + 1) * size.w as usize * 4];
            let target = &mut bytes[row * info.stride as usize..][..size.w as usize * 4];
            for (to, from) in target.chunks_exact_mut(4).zip(source.chunks_exact(4)) {
                // Little-endian XRGB8888 is B, G, R, X in memory.
                to.copy_from_slice(&[from[2], from[1], from[0], 0xff]);
            }
        }
        Ok(())
    });
    result.unwrap_or(Err(CopyError::Failed))
}
