//! `/api/ws`: events out, commands in. A command is any REST call
//! (`method`, `path`, `body`) dispatched through the same router, so REST
//! and WebSocket share one message schema and one set of handlers.

use std::collections::HashSet;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{Extension, State, WebSocketUpgrade};
use axum::http::{Method, Request};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, broadcast, mpsc};
use tower::ServiceExt;

use super::AppState;
use super::auth::WS_PROTOCOL;
use super::door::Connection;
use crate::events::Topic;

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum ClientMessage {
    Subscribe {
        #[serde(default)]
        topics: Vec<Topic>,
    },
    Unsubscribe {
        #[serde(default)]
        topics: Vec<Topic>,
    },
    Request {
        id: Value,
        method: String,
        path: String,
        #[serde(default)]
        body: Option<Value>,
    },
}

pub async fn upgrade(
    State(state): State<AppState>,
    connection: Option<Extension<Arc<Connection>>>,
    ws: WebSocketUpgrade,
) -> Response {
    let limit = state.config.ws_message_limit_bytes;
    let connection = connection.map(|Extension(connection)| connection);
    ws.protocols([WS_PROTOCOL])
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| session(socket, state, connection))
}

/// Commands of one connection carried out at once; past this, a command is
/// refused with a typed error rather than queued without bound.
const IN_FLIGHT: usize = 32;
/// Replies waiting to be written; one per command in flight at most.
const OUTBOX: usize = IN_FLIGHT;

async fn session(socket: WebSocket, state: AppState, connection: Option<Arc<Connection>>) {
    let (mut sink, mut stream) = socket.split();
    let (outbox, mut outbox_rx) = mpsc::channel::<Value>(OUTBOX);
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut events = state.events.subscribe();
    let mut topics: Option<HashSet<Topic>> = None;

    loop {
        tokio::select! {
            incoming = stream.next() => {
                let message = match incoming {
                    Some(Ok(message)) => message,
                    Some(Err(err)) => {
                        if is_too_large(err) {
                            refuse_oversized(&mut sink, state.config.ws_message_limit_bytes).await;
                        }
                        break;
                    }
                    None => break,
                };
                let text = match message {
                    Message::Text(text) => text.to_string(),
                    Message::Binary(_) => {
                        let error = protocol_error(None, "binary messages are not understood; send JSON text");
                        if send(&mut sink, &error).await.is_err() { break; }
                        continue;
                    }
                    Message::Close(_) => break,
                    _ => continue,
                };
                // Answers that need no handler are written at once: a client
                // that does not read stalls only itself (TCP backpressure).
                let immediate = match serde_json::from_str::<ClientMessage>(&text) {
                    Ok(ClientMessage::Subscribe { topics: wanted }) => {
                        let set = topics.get_or_insert_with(HashSet::new);
                        if wanted.is_empty() { *set = all_topics(); } else { set.extend(wanted); }
                        json!({"type": "subscribed", "topics": sorted(set)})
                    }
                    Ok(ClientMessage::Unsubscribe { topics: unwanted }) => {
                        let set = topics.get_or_insert_with(HashSet::new);
                        if unwanted.is_empty() { set.clear(); } else { for t in unwanted { set.remove(&t); } }
                        json!({"type": "subscribed", "topics": sorted(set)})
                    }
                    Ok(ClientMessage::Request { id, method, path, body }) => {
                        match in_flight.clone().try_acquire_owned() {
                            Ok(permit) => {
                                let state = state.clone();
                                let outbox = outbox.clone();
                                let connection = connection.clone();
                                tokio::spawn(async move {
                                    let reply = dispatch(&state, connection.as_deref(), id, &method, &path, body).await;
                                    let _ = outbox.send(reply).await;
                                    drop(permit);
                                });
                                continue;
                            }
                            Err(_) => json!({"type": "error", "id": id, "error": {
                                "code": "too_many_requests",
                                "message": format!("at most {IN_FLIGHT} commands may run at once on one connection; wait for replies"),
                                "details": {"limit": IN_FLIGHT},
                            }}),
                        }
                    }
                    Err(err) => protocol_error(None, &format!("malformed message: {err}")),
                };
                if send(&mut sink, &immediate).await.is_err() { break; }
            }
            event = events.recv() => {
                let value = match event {
                    Ok(event) => {
                        let wanted = topics.as_ref().is_some_and(|t| t.contains(&event.topic));
                        if !wanted { continue; }
                        let mut value = serde_json::to_value(&event).unwrap_or(Value::Null);
                        value["type"] = json!("event");
                        value
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => json!({"type": "lagged", "missed": missed}),
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                if send(&mut sink, &value).await.is_err() { break; }
            }
            Some(reply) = outbox_rx.recv() => {
                if send(&mut sink, &reply).await.is_err() { break; }
            }
        }
    }
}

async fn send(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    value: &Value,
) -> Result<(), axum::Error> {
    sink.send(Message::Text(value.to_string().into())).await
}

/// Runs one command through the router as the connection's own request,
/// drawing on the connection's rate limit.
async fn dispatch(
    state: &AppState,
    connection: Option<&Connection>,
    id: Value,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> Value {
    let Ok(method) = method.to_ascii_uppercase().parse::<Method>() else {
        return protocol_error(Some(id), "unknown HTTP method");
    };
    if !path.starts_with("/api/") || path.starts_with("/api/ws") {
        return protocol_error(Some(id), "path must be an /api/ route other than /api/ws");
    }
    let Some(router) = state.router.get().cloned() else {
        return protocol_error(Some(id), "the server is still starting");
    };
    let mut builder = Request::builder().method(method).uri(path);
    let body = match body {
        Some(value) => {
            builder = builder.header("content-type", "application/json");
            Body::from(value.to_string())
        }
        None => Body::empty(),
    };
    let Ok(request) = builder.body(body) else {
        return protocol_error(Some(id), "malformed path");
    };
    let response = if connection.is_some_and(|c| !c.bucket.admit()) {
        super::door::rate_limited().into_response()
    } else {
        match router.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        }
    };
    let status = response.status();
    let is_json = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let limit = state.config.ws_message_limit_bytes;
    let body = match axum::body::to_bytes(response.into_body(), limit).await {
        Ok(bytes) if is_json => serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        Ok(bytes) if bytes.is_empty() => Value::Null,
        Ok(bytes) => json!({"binary_bytes": bytes.len(), "hint": "fetch this route over HTTP"}),
        Err(_) => {
            json!({"error": {"code": "payload_too_large", "message": "reply larger than the WebSocket message limit; fetch it over HTTP"}})
        }
    };
    json!({"type": "reply", "id": id, "status": status.as_u16(), "ok": status.is_success(), "body": body})
}

/// Whether a read failed because the client's message passed the size limit.
pub(super) fn is_too_large(err: axum::Error) -> bool {
    err.into_inner()
        .downcast_ref::<tungstenite::Error>()
        .is_some_and(|err| matches!(err, tungstenite::Error::Capacity(_)))
}

/// Tells the client why it is being disconnected, as a typed error and then
/// the WebSocket close code for "message too big" (1009).
pub(super) async fn refuse_oversized(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    limit: usize,
) {
    let error = json!({"type": "error", "id": null, "error": {
        "code": "message_too_large",
        "message": format!("a WebSocket message may be at most {limit} bytes; send large bodies over HTTP"),
        "details": {"limit_bytes": limit},
    }});
    let _ = sink.send(Message::Text(error.to_string().into())).await;
    let close = CloseFrame {
        code: 1009,
        reason: "message too large".into(),
    };
    let _ = sink.send(Message::Close(Some(close))).await;
}

fn protocol_error(id: Option<Value>, message: &str) -> Value {
    json!({"type": "error", "id": id, "error": {"code": "bad_message", "message": message}})
}

fn all_topics() -> HashSet<Topic> {
    Topic::ALL.into()
}

fn sorted(set: &HashSet<Topic>) -> Vec<Topic> {
    let mut topics: Vec<Topic> = set.iter().copied().collect();
    topics.sort_by_key(|t| serde_json::to_string(t).unwrap_or_default());
    topics
}
