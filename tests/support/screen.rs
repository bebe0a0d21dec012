//! A client of the live screen stream (`/api/screen/ws`) for tests and the
//! web benchmark: frames decoded to RGBA, acknowledgements on demand.

use std::net::TcpStream;
use std::time::Duration;

use digios_agent::api::screen::decode_frame;
use digios_ipc::Rect;
use serde_json::Value;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// One changed rectangle, decoded.
#[derive(Debug, Clone)]
pub struct Patch {
    /// Relative to the screen's top-left corner.
    pub rect: Rect,
    pub rgba: Vec<u8>,
}

impl Patch {
    /// The pixel at screen coordinates `(x, y)`, if this patch covers it.
    pub fn pixel(&self, x: i32, y: i32) -> Option<[u8; 4]> {
        let r = self.rect;
        if !r.contains(f64::from(x), f64::from(y)) {
            return None;
        }
        let at = (((y - r.y) * r.width + (x - r.x)) * 4) as usize;
        self.rgba.get(at..at + 4).map(|p| [p[0], p[1], p[2], p[3]])
    }
}

#[derive(Debug, Clone)]
pub struct Frame {
    pub number: u32,
    pub full: bool,
    pub screen: (u16, u16),
    pub patches: Vec<Patch>,
    /// Size of the message on the wire.
    pub bytes: usize,
}

/// What the server sent next.
#[derive(Debug)]
pub enum Incoming {
    Frame(Frame),
    Text(Value),
    Closed(Option<u16>),
}

pub struct ScreenClient {
    pub socket: WebSocket<MaybeTlsStream<TcpStream>>,
    /// The server's `hello` message.
    pub hello: Value,
}

impl ScreenClient {
    /// Connects to `/api/screen/ws?QUERY` of the API at `url` and reads the hello.
    pub fn connect(url: &str, query: &str) -> Self {
        Self::try_connect(url, query, None).expect("the screen stream connects")
    }

    /// Like [`Self::connect`]; a token rides as the subprotocol
    /// `digios.bearer.<token>` beside `digios`, as a browser sends it.
    pub fn try_connect(
        url: &str,
        query: &str,
        token: Option<&str>,
    ) -> Result<Self, Box<tungstenite::Error>> {
        use tungstenite::client::IntoClientRequest;
        let ws_url = format!("{}/api/screen/ws?{query}", url.replace("http://", "ws://"));
        let mut request = ws_url.into_client_request().map_err(Box::new)?;
        let protocols = match token {
            Some(token) => format!("digios, digios.bearer.{token}"),
            None => "digios".to_string(),
        };
        request.headers_mut().insert(
            "sec-websocket-protocol",
            protocols.parse().expect("a header value"),
        );
        let (socket, response) = tungstenite::connect(request).map_err(Box::new)?;
        assert_eq!(
            response.headers()["sec-websocket-protocol"],
            "digios",
            "the server answers the subprotocol"
        );
        let mut client = Self {
            socket,
            hello: Value::Null,
        };
        client.set_timeout(Some(Duration::from_secs(60)));
        match client.receive() {
            Incoming::Text(hello) if hello["type"] == "hello" => client.hello = hello,
            other => panic!("expected a hello, got {other:?}"),
        }
        Ok(client)
    }

    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        if let MaybeTlsStream::Plain(stream) = self.socket.get_ref() {
            stream.set_read_timeout(timeout).expect("read timeout");
        }
    }

    /// The next message; panics on a read error (a timeout included).
    pub fn receive(&mut self) -> Incoming {
        self.try_receive()
            .expect("a message from the screen stream")
    }

    /// The next message, or the read error (e.g. a timeout).
    pub fn try_receive(&mut self) -> Result<Incoming, String> {
        loop {
            return Ok(match self.socket.read().map_err(|e| e.to_string())? {
                Message::Binary(bytes) => Incoming::Frame(decode(&bytes)),
                Message::Text(text) => {
                    Incoming::Text(serde_json::from_str(&text).expect("JSON text messages"))
                }
                Message::Close(frame) => Incoming::Closed(frame.map(|f| u16::from(f.code))),
                _ => continue,
            });
        }
    }

    /// The next frame; panics on a text message or a close.
    pub fn next_frame(&mut self) -> Frame {
        match self.receive() {
            Incoming::Frame(frame) => frame,
            other => panic!("expected a frame, got {other:?}"),
        }
    }

    pub fn ack(&mut self, frame: u32) {
        self.send_text(&serde_json::json!({"type": "ack", "frame": frame}).to_string());
    }

    pub fn send_text(&mut self, text: &str) {
        self.socket
            .send(Message::Text(text.to_string().into()))
            .expect("send to the screen stream");
    }
}

fn decode(bytes: &[u8]) -> Frame {
    let frame = decode_frame(bytes).expect("a well-formed frame");
    let patches = frame
        .patches
        .into_iter()
        .map(|patch| Patch {
            rect: patch.rect,
            rgba: patch.rgba,
        })
        .collect();
    Frame {
        number: frame.number,
        full: frame.full,
        screen: frame.screen,
        patches,
        bytes: bytes.len(),
    }
}

/// Decodes a PNG to straight RGBA.
pub fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buffer = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buffer).expect("PNG pixels");
    buffer.truncate(info.buffer_size());
    assert_eq!(info.color_type, png::ColorType::Rgba);
    (info.width, info.height, buffer)
}

/// Resident memory of a process, in KiB.
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
