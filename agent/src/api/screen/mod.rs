//! `GET /api/screen/ws`: the live screen as a WebSocket of damage frames.
//! The protocol (messages, binary layout, flow control) is documented at the
//! top of `agent/web/screen.js`, the browser module that reads it.
//!
//! Flow control: at most `in_flight` frames are unacknowledged at once.
//! While that window is full nothing is captured: damage keeps collecting in
//! the compositor's bounded damage log (which degrades to "everything" when
//! it overflows), and the next frame asks for all of it at once. So a client
//! that stops reading costs the agent one session's state and the compositor
//! nothing.

mod wire;

use std::collections::VecDeque;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, rejection::WebSocketUpgradeRejection};
use axum::extract::{State, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use digios_ipc::{
    CaptureRequest, CaptureTarget, ImageFormat, Rect, Request as Ipc, Response as Reply,
};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::watch;
use tokio::time::Instant;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use wire::{DecodedFrame, FLAG_FULL, FRAME_KIND, Patch, decode_frame};

use super::AppState;
use super::error::{ApiError, ApiQuery, ErrorBody};
use crate::desktop::{DesktopError, unexpected};

/// Largest message a client may send; acknowledgements are tiny.
pub const MAX_CLIENT_MESSAGE: usize = 4096;
/// Most rectangles in one frame; more are sent as their bounding box.
const MAX_PATCHES: usize = 16;
/// How long one frame may take to write before the client counts as gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// Wait before capturing again after the compositor failed.
const RETRY: Duration = Duration::from_secs(1);
/// Half the width and the height of the area the reticle and its
/// coordinate label may cover around the pointer (see the compositor's
/// `draw_reticle`).
const RETICLE_REACH: (i32, i32) = (120, 40);
/// How far a window's numbered mark may reach above and left of its frame.
const MARK_REACH: i32 = 48;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(screen_ws))
}

/// The latest screen change the compositor announced.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ScreenTick {
    pub damage_seq: u64,
    pub pointer: (f64, f64),
}

/// Screen changes from the compositor's event stream, fanned out to every
/// stream. A watch holds only the latest value, so a slow stream never
/// queues notifications.
#[derive(Debug)]
pub struct ScreenFeed {
    latest: watch::Sender<ScreenTick>,
}

impl Default for ScreenFeed {
    fn default() -> Self {
        Self {
            latest: watch::Sender::new(ScreenTick::default()),
        }
    }
}

impl ScreenFeed {
    pub fn publish(&self, tick: ScreenTick) {
        self.latest.send_replace(tick);
    }

    fn subscribe(&self) -> watch::Receiver<ScreenTick> {
        self.latest.subscribe()
    }
}

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ScreenQuery {
    /// Most frames per second, 1 to 60 (default 30).
    fps: Option<u32>,
    /// Frames sent but not yet acknowledged at once, 1 to 8 (default 2).
    in_flight: Option<u32>,
    /// Draw the pointer's reticle with its coordinates.
    #[serde(default)]
    reticle: bool,
    /// Draw a numbered box around every window.
    #[serde(default)]
    marks: bool,
}

#[derive(Debug, Clone, Copy)]
struct Options {
    interval: Duration,
    fps: u32,
    in_flight: usize,
    reticle: bool,
    marks: bool,
}

impl ScreenQuery {
    fn options(&self) -> Result<Options, ApiError> {
        let fps = self.fps.unwrap_or(30);
        if !(1..=60).contains(&fps) {
            return Err(ApiError::invalid_params("fps must be between 1 and 60"));
        }
        let in_flight = self.in_flight.unwrap_or(2);
        if !(1..=8).contains(&in_flight) {
            return Err(ApiError::invalid_params(
                "in_flight must be between 1 and 8",
            ));
        }
        Ok(Options {
            interval: Duration::from_secs(1) / fps,
            fps,
            in_flight: in_flight as usize,
            reticle: self.reticle,
            marks: self.marks,
        })
    }
}

/// The live screen. Upgrade to a WebSocket (offer the subprotocol `digios`;
/// a browser may carry its token as `digios.bearer.<TOKEN>`). Binary messages
/// are frames of changed rectangles (RGBA under zlib), the first covering the whole
/// screen; the client acknowledges each with `{"type": "ack", "frame": N}`.
/// Protocol: `agent/web/screen.js`.
#[utoipa::path(get, path = "/api/screen/ws", tag = "screen",
    params(ScreenQuery),
    responses(
        (status = 101, description = "Switching to the WebSocket screen stream"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 426, body = ErrorBody),
    ))]
async fn screen_ws(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ScreenQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let options = query.options()?;
    let upgrade = upgrade.map_err(|rejection| {
        ApiError::new(
            axum::http::StatusCode::UPGRADE_REQUIRED,
            "upgrade_required",
            format!("this route is a WebSocket: {rejection}"),
        )
    })?;
    Ok(upgrade
        .protocols(["digios"])
        .max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| session(socket, state, options))
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ClientMessage {
    /// Acknowledges every frame up to and including `frame`.
    Ack { frame: u32 },
}

type Sink = SplitSink<WebSocket, Message>;

async fn session(socket: WebSocket, state: AppState, options: Options) {
    let (mut sink, mut stream) = socket.split();
    let mut ticks = state.screen.subscribe();
    let mut screen = ScreenState::new(state, options);
    let hello = json!({
        "type": "hello", "protocol": 1, "encoding": "rgba+zlib",
        "fps": options.fps, "in_flight": options.in_flight,
        "reticle": options.reticle, "marks": options.marks,
    });
    if send_text(&mut sink, hello).await.is_err() {
        return;
    }
    let mut unacked: VecDeque<u32> = VecDeque::new();
    let mut dirty = true;
    let mut next_capture = Instant::now();
    let mut failing = false;
    let mut last_tick = *ticks.borrow_and_update();
    loop {
        let may_capture = dirty && unacked.len() < options.in_flight;
        tokio::select! {
            incoming = stream.next() => {
                let message = match incoming {
                    Some(Ok(message)) => message,
                    Some(Err(err)) => {
                        if super::ws::is_too_large(err) {
                            super::ws::refuse_oversized(&mut sink, MAX_CLIENT_MESSAGE).await;
                        }
                        break;
                    }
                    None => break,
                };
                let reply = match message {
                    Message::Text(text) => match serde_json::from_str::<ClientMessage>(&text) {
                        Ok(ClientMessage::Ack { frame }) => acknowledge(&mut unacked, frame),
                        Err(err) => Some(error("bad_message", format!("malformed message: {err}"))),
                    },
                    Message::Binary(_) => Some(error(
                        "bad_message",
                        "binary messages are not understood; send JSON text".into(),
                    )),
                    Message::Close(_) => break,
                    _ => None,
                };
                if let Some(reply) = reply
                    && send_text(&mut sink, reply).await.is_err()
                {
                    break;
                }
            }
            changed = ticks.changed() => {
                if changed.is_err() {
                    break;
                }
                // A pointer move shows only through the reticle.
                let tick = *ticks.borrow_and_update();
                dirty |= options.reticle || tick.damage_seq != last_tick.damage_seq;
                last_tick = tick;
            }
            _ = tokio::time::sleep_until(next_capture), if may_capture => {
                dirty = false;
                next_capture = Instant::now() + options.interval;
                match screen.next_frame().await {
                    Ok(Some((number, bytes))) => {
                        failing = false;
                        let sent = tokio::time::timeout(
                            SEND_TIMEOUT,
                            sink.send(Message::Binary(bytes.into())),
                        ).await;
                        if !matches!(sent, Ok(Ok(()))) {
                            break;
                        }
                        unacked.push_back(number);
                    }
                    Ok(None) => {}
                    Err(err) => {
                        // Everything is sent again once the compositor answers.
                        screen.forget();
                        dirty = true;
                        next_capture = Instant::now() + RETRY;
                        if !std::mem::replace(&mut failing, true)
                            && send_text(&mut sink, error("unavailable", err.to_string())).await.is_err()
                        {
                            break;
                        }
                    }
                }
            }
        }
    }
    let _ = sink
        .send(Message::Close(Some(CloseFrame {
            code: 1000,
            reason: "".into(),
        })))
        .await;
}

/// Removes acknowledged frames; an error for a frame that is not in flight.
fn acknowledge(unacked: &mut VecDeque<u32>, frame: u32) -> Option<serde_json::Value> {
    if !unacked.contains(&frame) {
        return Some(error(
            "unknown_frame",
            format!("frame {frame} is not awaiting acknowledgement"),
        ));
    }
    while unacked.front().is_some_and(|&oldest| oldest <= frame) {
        unacked.pop_front();
    }
    None
}

fn error(code: &str, message: String) -> serde_json::Value {
    json!({"type": "error", "error": {"code": code, "message": message}})
}

async fn send_text(sink: &mut Sink, value: serde_json::Value) -> Result<(), ()> {
    match tokio::time::timeout(
        SEND_TIMEOUT,
        sink.send(Message::Text(value.to_string().into())),
    )
    .await
    {
        Ok(Ok(())) => Ok(()),
        _ => Err(()),
    }
}

/// What one stream knows of the screen it has sent.
struct ScreenState {
    state: AppState,
    options: Options,
    /// Damage already sent; 0 makes the next frame full.
    seen_seq: u64,
    /// The first output's logical rectangle, as last sent.
    screen: Option<Rect>,
    /// Where the last reticle sent was drawn.
    reticle: Option<Rect>,
    /// Window frames as last drawn with marks.
    mark_frames: Vec<(u64, Rect)>,
    next_number: u32,
}

impl ScreenState {
    fn new(state: AppState, options: Options) -> Self {
        Self {
            state,
            options,
            seen_seq: 0,
            screen: None,
            reticle: None,
            mark_frames: Vec::new(),
            next_number: 1,
        }
    }

    fn forget(&mut self) {
        self.seen_seq = 0;
        self.screen = None;
    }

    async fn ask(&self, request: Ipc) -> Result<Reply, DesktopError> {
        self.state.desktop.request(request).await
    }

    /// The next frame's number and bytes; `None` when nothing visible changed.
    async fn next_frame(&mut self) -> Result<Option<(u32, Vec<u8>)>, DesktopError> {
        let report = match self
            .ask(Ipc::Damage {
                since: self.seen_seq,
            })
            .await?
        {
            Reply::Damage(report) => report,
            other => return Err(unexpected(other)),
        };
        let mut full = report.full;
        if full || self.screen.is_none() {
            let screen = self.first_output().await?;
            full = full || self.screen != Some(screen);
            self.screen = Some(screen);
        }
        let screen = self.screen.unwrap_or(Rect::new(0, 0, 0, 0));
        let mut rects = if full { vec![screen] } else { report.rects };
        if self.options.reticle {
            let (x, y) = match self.ask(Ipc::Pointer).await? {
                Reply::Pointer { x, y } => (x, y),
                other => return Err(unexpected(other)),
            };
            let (reach_x, reach_y) = RETICLE_REACH;
            let area = Rect::new(
                x.round() as i32 - reach_x,
                y.round() as i32 - reach_y,
                2 * reach_x,
                2 * reach_y,
            );
            if self.reticle != Some(area) {
                rects.extend(self.reticle.replace(area));
                rects.push(area);
            }
        }
        if self.options.marks {
            let windows = self.state.desktop.windows().await?;
            let frames: Vec<(u64, Rect)> = windows
                .iter()
                .filter(|w| !w.minimized)
                .map(|w| {
                    let frame = w.title_bar.map_or(w.geometry, |bar| bar.union(&w.geometry));
                    let reach = Rect::new(
                        frame.x - MARK_REACH,
                        frame.y - MARK_REACH,
                        frame.width + MARK_REACH,
                        frame.height + MARK_REACH,
                    );
                    (w.id, reach)
                })
                .collect();
            for (id, area) in frames.iter().chain(&self.mark_frames) {
                let same = |list: &[(u64, Rect)]| list.iter().any(|(i, a)| i == id && a == area);
                if !same(&frames) || !same(&self.mark_frames) {
                    rects.push(*area);
                }
            }
            self.mark_frames = frames;
        }
        self.seen_seq = report.seq;
        let rects = patch_rects(rects, screen);
        if rects.is_empty() {
            return Ok(None);
        }
        let mut patches = Vec::with_capacity(rects.len());
        for rect in rects {
            let capture = CaptureRequest {
                target: CaptureTarget::Region { rect },
                format: ImageFormat::RgbaRaw,
                reticle: self.options.reticle,
                grid: None,
                marks: self.options.marks,
            };
            let image = match self.ask(Ipc::Capture(capture)).await? {
                Reply::Image(image) => image,
                other => return Err(unexpected(other)),
            };
            patches.push(wire::Patch {
                rect: Rect::new(
                    rect.x - screen.x,
                    rect.y - screen.y,
                    rect.width,
                    rect.height,
                ),
                rgba: image.data,
            });
        }
        let number = self.next_number;
        self.next_number = self.next_number.wrapping_add(1).max(1);
        let size = (screen.width as u16, screen.height as u16);
        let encoded =
            tokio::task::spawn_blocking(move || wire::encode_frame(number, full, size, &patches))
                .await
                .map_err(|err| DesktopError::Unavailable(format!("encoding task failed: {err}")))?
                .map_err(DesktopError::Unavailable)?;
        Ok(Some((number, encoded)))
    }

    async fn first_output(&self) -> Result<Rect, DesktopError> {
        match self.ask(Ipc::Outputs).await? {
            Reply::Outputs { outputs } => outputs
                .first()
                .map(|output| output.logical)
                .ok_or_else(|| DesktopError::Unavailable("the compositor has no output".into())),
            other => Err(unexpected(other)),
        }
    }
}

/// Damage clipped to the screen and merged; past [`MAX_PATCHES`], one
/// bounding box.
fn patch_rects(rects: Vec<Rect>, screen: Rect) -> Vec<Rect> {
    let clipped = rects.iter().filter_map(|rect| rect.intersection(&screen));
    let mut merged = digios_ipc::merge_touching(clipped);
    if merged.len() > MAX_PATCHES
        && let Some(first) = merged.first().copied()
    {
        merged = vec![merged.iter().fold(first, |all, rect| all.union(rect))];
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledgements_are_cumulative_and_checked() {
        let mut unacked: VecDeque<u32> = [3, 4, 5].into();
        assert!(acknowledge(&mut unacked, 4).is_none());
        assert_eq!(unacked, [5]);
        let reply = acknowledge(&mut unacked, 4).unwrap();
        assert_eq!(reply["error"]["code"], "unknown_frame");
        assert_eq!(unacked, [5]);
    }

    #[test]
    fn damage_is_clipped_merged_and_bounded() {
        let screen = Rect::new(0, 0, 100, 100);
        let rects = patch_rects(
            vec![Rect::new(-10, -10, 20, 20), Rect::new(200, 0, 5, 5)],
            screen,
        );
        assert_eq!(rects, vec![Rect::new(0, 0, 10, 10)]);
        let many = (0..40).map(|i| Rect::new(i * 2, i * 2, 1, 1)).collect();
        let rects = patch_rects(many, screen);
        assert_eq!(rects, vec![Rect::new(0, 0, 79, 79)]);
    }
}
