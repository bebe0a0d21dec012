//! A blocking client of `/api/ws` for end-to-end tests.

use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;

pub type Socket = tungstenite::WebSocket<MaybeTlsStream<TcpStream>>;

/// Opens `/api/ws` of the agent at `url`; reads wait at most `timeout`.
pub fn connect(url: &str, timeout: Duration) -> Socket {
    let ws_url = format!("{}/api/ws", url.replace("http://", "ws://"));
    let (socket, _) = tungstenite::connect(ws_url).expect("the WebSocket opens");
    if let MaybeTlsStream::Plain(stream) = socket.get_ref() {
        stream
            .set_read_timeout(Some(timeout))
            .expect("a read timeout");
    }
    socket
}

/// The next text message, as JSON.
pub fn next_json(socket: &mut Socket) -> Value {
    loop {
        if let tungstenite::Message::Text(text) = socket.read().expect("a message") {
            return serde_json::from_str(&text).expect("the server sends JSON");
        }
    }
}

/// Subscribes to `topics` and waits for the server to confirm.
pub fn subscribe(socket: &mut Socket, topics: &[&str]) {
    socket
        .send(tungstenite::Message::Text(
            json!({"type": "subscribe", "topics": topics})
                .to_string()
                .into(),
        ))
        .expect("the subscription is sent");
    assert_eq!(next_json(socket)["type"], "subscribed");
}
