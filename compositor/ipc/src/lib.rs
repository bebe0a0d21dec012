//! The digiOS compositor's control protocol: typed requests, responses and
//! events, exchanged as JSON lines over a Unix socket, plus a small blocking
//! client.
//!
//! Every exchange is one request line answered by one [`Reply`] line. The
//! [`Request::EventStream`] request turns the connection into an event
//! stream: the reply is followed by [`Event::State`] (the full state) and then
//! by deltas, one [`Event`] per line; [`DesktopState`] applies them into a
//! client-side copy of the desktop.
//!
//! Coordinates are logical pixels in the global compositor space (outputs are
//! laid out left to right from `(0, 0)`). Window ids are stable for the life
//! of a window and never reused while the compositor runs.
//!
//! This crate has no Smithay dependency, so any tool can speak the protocol.
//!
//! ```no_run
//! use digios_ipc::{CaptureRequest, Client, Request, Response};
//!
//! let mut client = Client::connect_default()?;
//! if let Response::Windows { windows } = client.request(&Request::Windows)? {
//!     for window in windows {
//!         println!("{} {:?} at {:?}", window.id, window.title, window.geometry);
//!     }
//! }
//! let capture = Request::Capture(CaptureRequest {
//!     reticle: true,
//!     ..CaptureRequest::default()
//! });
//! if let Response::Image(image) = client.request(&capture)? {
//!     std::fs::write("screen.png", &image.data)?;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod client;
mod error;
mod socket;
pub mod state;

use serde::{Deserialize, Serialize};

pub use client::{Client, ClientError, EventStream, raw_image};
pub use error::{Error, ErrorCode};
pub use socket::{SOCKET_ENV, socket_path, socket_path_for_display};
pub use state::DesktopState;

/// Longest request line (bytes, excluding the newline) the compositor accepts.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// Longest reply or event line (bytes) the client accepts: room for a raw
/// RGBA capture of a 4K screen, base64-encoded.
pub const MAX_REPLY_BYTES: usize = 64 * 1024 * 1024;

/// Version of this protocol; bumped when a type changes incompatibly.
/// 2: requests that change a window answer with [`Response::Window`]
/// (close with [`Response::Closing`]) instead of [`Response::Handled`].
pub const PROTOCOL_VERSION: u32 = 2;

/// A window's stable id.
pub type WindowId = u64;

/// Width of each button at the right end of a server-side title bar: the
/// close button is the rightmost, the maximize button sits left of it when
/// the bar is at least [`TITLE_BUTTONS_MIN_BAR`] wide.
pub const TITLE_BUTTON_WIDTH: i32 = 24;
/// Narrowest title bar that shows a maximize button.
pub const TITLE_BUTTONS_MIN_BAR: i32 = 3 * TITLE_BUTTON_WIDTH;

/// Merges touching or overlapping rectangles until no two touch; empty ones
/// are dropped. The result is sorted top to bottom, left to right.
pub fn merge_touching(rects: impl IntoIterator<Item = Rect>) -> Vec<Rect> {
    let mut merged: Vec<Rect> = Vec::new();
    for rect in rects.into_iter().filter(|r| !r.is_empty()) {
        let mut current = rect;
        loop {
            let grown = Rect::new(
                current.x - 1,
                current.y - 1,
                current.width + 2,
                current.height + 2,
            );
            let Some(index) = merged.iter().position(|other| other.overlaps(&grown)) else {
                break;
            };
            current = current.union(&merged.swap_remove(index));
        }
        merged.push(current);
    }
    merged.sort_by_key(|r| (r.y, r.x));
    merged
}

/// The close and maximize buttons of a title bar `bar` (global coordinates).
pub fn title_buttons(bar: Rect) -> (Rect, Option<Rect>) {
    let width = TITLE_BUTTON_WIDTH.min(bar.width);
    let close = Rect::new(bar.x + bar.width - width, bar.y, width, bar.height);
    let maximize = (bar.width >= TITLE_BUTTONS_MIN_BAR).then(|| {
        Rect::new(
            bar.x + bar.width - 2 * TITLE_BUTTON_WIDTH,
            bar.y,
            TITLE_BUTTON_WIDTH,
            bar.height,
        )
    });
    (close, maximize)
}

/// An axis-aligned rectangle in logical pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
}

impl Rect {
    pub fn new(x: i32, y: i32, width: i32, height: i32) -> Self {
        Self {
            x,
            y,
            width,
            height,
        }
    }

    /// Whether the point lies inside (right and bottom edges excluded).
    pub fn contains(&self, x: f64, y: f64) -> bool {
        x >= f64::from(self.x)
            && y >= f64::from(self.y)
            && x < f64::from(self.x) + f64::from(self.width)
            && y < f64::from(self.y) + f64::from(self.height)
    }

    /// Whether the two rectangles share at least one pixel.
    pub fn overlaps(&self, other: &Rect) -> bool {
        self.x < other.x + other.width
            && other.x < self.x + self.width
            && self.y < other.y + other.height
            && other.y < self.y + self.height
    }

    /// The shared part, if any.
    pub fn intersection(&self, other: &Rect) -> Option<Rect> {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = (self.x + self.width).min(other.x + other.width);
        let y1 = (self.y + self.height).min(other.y + other.height);
        (x1 > x0 && y1 > y0).then(|| Rect::new(x0, y0, x1 - x0, y1 - y0))
    }

    /// The smallest rectangle holding both.
    pub fn union(&self, other: &Rect) -> Rect {
        let x0 = self.x.min(other.x);
        let y0 = self.y.min(other.y);
        let x1 = (self.x + self.width).max(other.x + other.width);
        let y1 = (self.y + self.height).max(other.y + other.height);
        Rect::new(x0, y0, x1 - x0, y1 - y0)
    }

    pub fn is_empty(&self) -> bool {
        self.width <= 0 || self.height <= 0
    }

    /// The centre point.
    pub fn center(&self) -> (f64, f64) {
        (
            f64::from(self.x) + f64::from(self.width) / 2.0,
            f64::from(self.y) + f64::from(self.height) / 2.0,
        )
    }
}

/// A request from a client to the compositor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// The compositor's version and protocol version.
    Version,
    /// All outputs.
    Outputs,
    /// All windows, bottom of the stack first.
    Windows,
    /// The pointer's position.
    Pointer,
    /// How long since input last arrived (a device's or injected), so a
    /// client can tell whether someone is using the desktop.
    Activity,
    /// How many requests the compositor has served, so a test can count a
    /// client's round trips. Answered with [`Response::Stats`].
    Stats,
    /// Give a window keyboard focus and raise it (restoring it if minimized).
    /// This and the other requests that change a window (up to
    /// [`Request::Fullscreen`]) answer with the window as it is afterwards.
    Focus { id: WindowId },
    /// Move a window so its content's top-left corner is at `(x, y)`.
    Move { id: WindowId, x: i32, y: i32 },
    /// Ask a window to resize its content to `width` × `height`.
    Resize {
        id: WindowId,
        width: i32,
        height: i32,
    },
    /// Maximize (`on: true`) or restore (`on: false`) a window.
    Maximize { id: WindowId, on: bool },
    /// Minimize (hide) or restore a window.
    Minimize { id: WindowId, on: bool },
    /// Make a window fullscreen on its output, or leave fullscreen.
    Fullscreen { id: WindowId, on: bool },
    /// Ask a window to close; answered with [`Response::Closing`] (the
    /// window goes once its client lets it go).
    Close { id: WindowId },
    /// Start a program with `WAYLAND_DISPLAY` pointing at this compositor.
    Spawn {
        /// Program and arguments; the program is looked up in `PATH`.
        command: Vec<String>,
        /// Extra environment variables.
        #[serde(default)]
        env: Vec<(String, String)>,
    },
    /// Move the pointer to an absolute position.
    PointerMove { x: f64, y: f64 },
    /// Press or release a pointer button where the pointer is.
    PointerButton { button: Button, state: KeyState },
    /// Move the pointer (if a position is given), then press and release a
    /// button `count` times (2 for a double click).
    Click {
        #[serde(default)]
        x: Option<f64>,
        #[serde(default)]
        y: Option<f64>,
        #[serde(default)]
        button: Button,
        #[serde(default = "one")]
        count: u32,
    },
    /// Press a button at `from`, move in `steps` steps to `to`, release.
    Drag {
        from: (f64, f64),
        to: (f64, f64),
        #[serde(default)]
        button: Button,
        #[serde(default = "default_drag_steps")]
        steps: u32,
    },
    /// Scroll by `dx`, `dy` logical pixels (positive `dy` scrolls down),
    /// after moving the pointer if a position is given.
    Scroll {
        #[serde(default)]
        x: Option<f64>,
        #[serde(default)]
        y: Option<f64>,
        #[serde(default)]
        dx: f64,
        #[serde(default)]
        dy: f64,
    },
    /// Press or release a key named by its XKB keysym (`Return`, `a`, `Control_L`).
    Key { keysym: String, state: KeyState },
    /// Press and release a key chord such as `ctrl+shift+t` or `Return`:
    /// modifiers down in order, the key, modifiers up in reverse order.
    KeyChord { keys: String },
    /// Type Unicode text as key presses: through the current keymap, or,
    /// for characters it lacks, a temporary keymap with one key per character.
    Type { text: String },
    /// Capture pixels.
    Capture(CaptureRequest),
    /// Wait until no client has drawn for `quiet_ms`, counted from this
    /// request at the earliest (so a capture shows the result of earlier
    /// input), or until `timeout_ms` passes. Answered with [`Response::Idle`].
    WaitIdle {
        #[serde(default = "default_quiet_ms")]
        quiet_ms: u32,
        #[serde(default = "default_idle_timeout_ms")]
        timeout_ms: u32,
    },
    /// Where the screen changed since damage sequence number `since`
    /// (0: since the start). Answered with [`Response::Damage`]. Ask before
    /// capturing: the capture then shows at least everything reported.
    Damage {
        #[serde(default)]
        since: u64,
    },
    /// Several requests in one round trip, carried out in order in one turn
    /// of the event loop; answered with [`Response::Batch`], one reply each
    /// (a failed one does not stop the rest). At most [`MAX_BATCH`];
    /// `wait_idle`, `event_stream` and batches cannot be inside one.
    Batch { requests: Vec<Request> },
    /// Turn this connection into an event stream.
    EventStream,
}

/// Most requests in one [`Request::Batch`].
pub const MAX_BATCH: usize = 256;

fn one() -> u32 {
    1
}

fn default_drag_steps() -> u32 {
    8
}

fn default_quiet_ms() -> u32 {
    100
}

fn default_idle_timeout_ms() -> u32 {
    5000
}

/// Longest `quiet_ms` and `timeout_ms` of [`Request::WaitIdle`].
pub const MAX_WAIT_MS: u32 = 30_000;

/// What a capture covers, its format and the overlays drawn on it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptureRequest {
    #[serde(default)]
    pub target: CaptureTarget,
    #[serde(default)]
    pub format: ImageFormat,
    /// A crosshair at the pointer with its coordinates as a label.
    #[serde(default)]
    pub reticle: bool,
    /// Grid lines every this many logical pixels, labelled with coordinates.
    #[serde(default)]
    pub grid: Option<u32>,
    /// A numbered box around every visible window (the number is the window id).
    #[serde(default)]
    pub marks: bool,
}

/// The area a capture covers.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CaptureTarget {
    /// One output (by name; the first output if `None`) at its scale.
    #[default]
    Screen,
    /// One named output at its scale.
    Output { name: String },
    /// One window, its title bar included.
    Window { id: WindowId },
    /// A rectangle of the global space at scale 1.
    Region { rect: Rect },
}

/// Image encoding of a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageFormat {
    #[default]
    Png,
    /// Straight RGBA, 8 bits per channel, rows top to bottom, no padding.
    Rgba,
    /// The same pixels as `rgba`, but sent as raw bytes right after the
    /// reply line (`width * height * 4` of them) rather than as base64
    /// inside it: no encoding on either side, for large or frequent
    /// captures. [`Client`] reads them into [`Image::data`].
    RgbaRaw,
}

/// A pointer button.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Button {
    #[default]
    Left,
    Right,
    Middle,
}

/// Pressed or released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    Pressed,
    Released,
}

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Ok(Response),
    Error(Error),
}

impl From<Result<Response, Error>> for Reply {
    fn from(result: Result<Response, Error>) -> Self {
        match result {
            Ok(response) => Reply::Ok(response),
            Err(error) => Reply::Error(error),
        }
    }
}

impl From<Reply> for Result<Response, Error> {
    fn from(reply: Reply) -> Self {
        match reply {
            Reply::Ok(response) => Ok(response),
            Reply::Error(error) => Err(error),
        }
    }
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "response", rename_all = "snake_case")]
pub enum Response {
    /// The request was carried out.
    Handled,
    Version {
        compositor: String,
        protocol: u32,
    },
    Outputs {
        outputs: Vec<Output>,
    },
    Windows {
        windows: Vec<Window>,
    },
    Pointer {
        x: f64,
        y: f64,
    },
    Activity {
        input_idle_ms: u64,
    },
    /// Requests served since the compositor started: every request line
    /// answered (a batch counts once), `stats` itself not counted.
    Stats {
        requests: u64,
    },
    /// The window a request changed, as it is after the change. A new size
    /// shows once the client has drawn at it (the event stream follows).
    Window {
        window: Window,
    },
    /// The window was asked to close.
    Closing {
        id: WindowId,
    },
    Spawned {
        pid: u32,
    },
    Image(Image),
    /// `idle` is false when the wait timed out with clients still drawing.
    Idle {
        idle: bool,
    },
    Damage(DamageReport),
    /// The replies to a [`Request::Batch`], in its order.
    Batch {
        replies: Vec<Reply>,
    },
    /// Events follow on this connection.
    EventStream,
}

/// Screen areas that changed since a damage sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DamageReport {
    /// The sequence number to ask with next time.
    pub seq: u64,
    /// The log no longer reaches back to `since`: treat everything as changed.
    pub full: bool,
    /// Changed rectangles in global logical coordinates, merged where they
    /// overlap; empty when nothing changed (or when `full`).
    pub rects: Vec<Rect>,
}

impl Image {
    /// How many raw bytes follow the reply line carrying this image.
    pub fn trailing_len(&self) -> Option<usize> {
        (self.format == ImageFormat::RgbaRaw)
            .then(|| self.width as usize * self.height as usize * 4)
    }
}

/// A captured image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    pub format: ImageFormat,
    /// The global logical rectangle the image shows.
    pub area: Rect,
    /// Image pixels per logical pixel.
    pub scale: f64,
    /// The encoded bytes (PNG file or raw RGBA), base64 in JSON.
    #[serde(with = "base64_bytes")]
    pub data: Vec<u8>,
}

mod base64_bytes {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// An output (monitor).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub name: String,
    /// Position and size in the global logical space.
    pub logical: Rect,
    /// Mode size in physical pixels.
    pub width: i32,
    pub height: i32,
    pub refresh_mhz: i32,
    pub scale: f64,
}

/// A toplevel window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub id: WindowId,
    pub app_id: Option<String>,
    pub title: Option<String>,
    /// The client's content area in global logical coordinates.
    pub geometry: Rect,
    /// The server-side title bar above the content (`None` when fullscreen).
    pub title_bar: Option<Rect>,
    pub focused: bool,
    pub maximized: bool,
    pub minimized: bool,
    pub fullscreen: bool,
    /// The client process, when the compositor can tell.
    pub pid: Option<i32>,
    /// The output the window is mostly on.
    pub output: Option<String>,
}

/// One message of the event stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The full state; always the first event.
    State {
        outputs: Vec<Output>,
        windows: Vec<Window>,
    },
    WindowOpened {
        window: Window,
    },
    WindowClosed {
        id: WindowId,
    },
    /// Keyboard focus moved to a window, or to none.
    WindowFocused {
        id: Option<WindowId>,
    },
    /// The window's geometry, title bar or output changed.
    WindowMoved {
        id: WindowId,
        geometry: Rect,
        #[serde(default)]
        title_bar: Option<Rect>,
        #[serde(default)]
        output: Option<String>,
    },
    /// The window's title or app id changed.
    WindowRetitled {
        id: WindowId,
        title: Option<String>,
        app_id: Option<String>,
    },
    /// Maximized, minimized or fullscreen (or anything else no narrower
    /// event covers) changed.
    WindowStateChanged {
        window: Window,
    },
    /// The stacking order changed other than by windows opening on top or
    /// closing: every window's id, bottom of the stack first.
    WindowsRestacked {
        ids: Vec<WindowId>,
    },
    OutputsChanged {
        outputs: Vec<Output>,
    },
    /// The screen may look different: the damage log reached `damage_seq`
    /// (ask [`Request::Damage`] for where) or the pointer moved to `x`, `y`.
    /// Sent at most once per turn of the compositor's event loop, so a
    /// client can follow the screen without polling.
    ScreenChanged {
        damage_seq: u64,
        x: f64,
        y: f64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_have_a_flat_readable_json_shape() {
        let request = Request::Move {
            id: 3,
            x: 10,
            y: 20,
        };
        let json = serde_json::to_string(&request).unwrap();
        assert_eq!(json, r#"{"request":"move","id":3,"x":10,"y":20}"#);
        assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), request);
    }

    #[test]
    fn capture_defaults_to_a_png_of_the_screen() {
        let request: Request = serde_json::from_str(r#"{"request":"capture"}"#).unwrap();
        assert_eq!(request, Request::Capture(CaptureRequest::default()));
        let request: Request = serde_json::from_str(
            r#"{"request":"capture","target":{"kind":"window","id":4},"reticle":true}"#,
        )
        .unwrap();
        let Request::Capture(capture) = request else {
            panic!("not a capture")
        };
        assert_eq!(capture.target, CaptureTarget::Window { id: 4 });
        assert!(capture.reticle);
    }

    #[test]
    fn damage_requests_default_to_everything_and_rects_combine() {
        let request: Request = serde_json::from_str(r#"{"request":"damage"}"#).unwrap();
        assert_eq!(request, Request::Damage { since: 0 });
        let reply = Reply::Ok(Response::Damage(DamageReport {
            seq: 9,
            full: false,
            rects: vec![Rect::new(1, 2, 3, 4)],
        }));
        let json = serde_json::to_string(&reply).unwrap();
        assert_eq!(serde_json::from_str::<Reply>(&json).unwrap(), reply);
        let event = Event::ScreenChanged {
            damage_seq: 3,
            x: 1.5,
            y: 2.0,
        };
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(
            json,
            r#"{"event":"screen_changed","damage_seq":3,"x":1.5,"y":2.0}"#
        );
        assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
        let a = Rect::new(0, 0, 10, 10);
        let b = Rect::new(5, 5, 10, 10);
        assert!(a.overlaps(&b));
        assert_eq!(a.intersection(&b), Some(Rect::new(5, 5, 5, 5)));
        assert_eq!(a.union(&b), Rect::new(0, 0, 15, 15));
        assert_eq!(a.intersection(&Rect::new(10, 0, 5, 5)), None);
        assert!(Rect::new(0, 0, 0, 5).is_empty());
    }

    #[test]
    fn a_window_moved_event_without_its_newer_fields_still_parses() {
        let event: Event = serde_json::from_str(
            r#"{"event":"window_moved","id":2,"geometry":{"x":1,"y":2,"width":3,"height":4}}"#,
        )
        .unwrap();
        let Event::WindowMoved {
            title_bar, output, ..
        } = event
        else {
            panic!("not a move: {event:?}")
        };
        assert_eq!((title_bar, output), (None, None));
        let closing = serde_json::to_string(&Reply::Ok(Response::Closing { id: 5 })).unwrap();
        assert_eq!(closing, r#"{"ok":{"response":"closing","id":5}}"#);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = serde_json::from_str::<Request>(r#"{"request":"focus","id":1,"bogus":2}"#);
        assert!(err.is_err());
        let err = serde_json::from_str::<Request>(r#"{"request":"explode"}"#);
        assert!(err.is_err());
    }

    #[test]
    fn replies_round_trip_with_binary_image_data() {
        let reply = Reply::Ok(Response::Image(Image {
            width: 1,
            height: 1,
            format: ImageFormat::Rgba,
            area: Rect::new(0, 0, 1, 1),
            scale: 1.0,
            data: vec![1, 2, 3, 255],
        }));
        let json = serde_json::to_string(&reply).unwrap();
        assert_eq!(serde_json::from_str::<Reply>(&json).unwrap(), reply);
        let error = Reply::Error(Error::new(ErrorCode::UnknownWindow, "no window 7"));
        let json = serde_json::to_string(&error).unwrap();
        assert!(json.contains(r#""code":"unknown_window""#), "{json}");
        let Reply::Error(error) = error else {
            unreachable!()
        };
        assert_eq!(error.to_string(), "unknown_window: no window 7");
        // Every code's text is its wire name.
        for code in [
            ErrorCode::TooLarge,
            ErrorCode::OutOfBounds,
            ErrorCode::UnknownKeysym,
        ] {
            let wire = serde_json::to_string(&code).unwrap();
            assert_eq!(wire, format!("\"{}\"", code.as_str()));
        }
    }
}
