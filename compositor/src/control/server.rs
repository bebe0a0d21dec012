//! Socket listener and per-connection threads.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::Context;
use digios_ipc::{Error, ErrorCode, MAX_REQUEST_BYTES, Reply, Request, Response};
use smithay::reexports::calloop::LoopHandle;
use smithay::reexports::calloop::channel::{self, Channel};

use super::ControlMessage;
use super::dispatch::dispatch;
use super::events::{EVENT_QUEUE, subscribe};
use crate::state::State;

/// Most control connections open at once.
pub const MAX_CONNECTIONS: usize = 64;
/// How long a connection thread waits for the event loop to answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long writing one reply may block on a client that does not read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Binds the control socket and serves it; requests run on `loop_handle`.
pub fn start(path: &Path, loop_handle: &LoopHandle<'static, State>) -> anyhow::Result<()> {
    if UnixStream::connect(path).is_ok() {
        anyhow::bail!("another compositor already serves {}", path.display());
    }
    // A socket file nobody listens on is left from a compositor that died.
    let _ = std::fs::remove_file(path);
    let listener =
        UnixListener::bind(path).with_context(|| format!("binding {}", path.display()))?;
    let (sender, receiver): (channel::Sender<ControlMessage>, Channel<ControlMessage>) =
        channel::channel();
    loop_handle
        .insert_source(receiver, |event, _, state| {
            if let channel::Event::Msg(message) = event {
                handle_message(state, message);
            }
        })
        .map_err(|err| anyhow::anyhow!("adding the control channel: {err}"))?;
    std::thread::Builder::new()
        .name("control-accept".into())
        .spawn(move || accept_loop(listener, sender))
        .context("starting the control socket thread")?;
    Ok(())
}

fn handle_message(state: &mut State, message: ControlMessage) {
    if let ControlMessage::Request { request, .. } = &message
        && *request != Request::Stats
    {
        state.control.requests_served += 1;
    }
    match message {
        ControlMessage::Request {
            request:
                Request::WaitIdle {
                    quiet_ms,
                    timeout_ms,
                },
            reply,
        } => super::idle::wait_idle(state, quiet_ms, timeout_ms, reply),
        ControlMessage::Request { request, reply } => {
            let result = dispatch(state, request);
            let _ = reply.send(Reply::from(result));
        }
        ControlMessage::Subscribe { events } => subscribe(state, events),
    }
}

fn accept_loop(listener: UnixListener, sender: channel::Sender<ControlMessage>) {
    let open = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else {
            continue;
        };
        if open.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            let busy = Error::new(ErrorCode::Busy, "too many control connections");
            let _ = write_json(&mut stream, &Reply::Error(busy));
            continue;
        }
        open.fetch_add(1, Ordering::SeqCst);
        let (sender, open) = (sender.clone(), open.clone());
        let spawned = std::thread::Builder::new()
            .name("control-client".into())
            .spawn(move || {
                if let Err(err) = serve_connection(stream, &sender) {
                    tracing::debug!("control connection ended: {err}");
                }
                open.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            tracing::warn!("cannot start a control connection thread");
        }
    }
}

/// Outcome of reading one request line.
enum Line {
    Request(Vec<u8>),
    TooLarge,
    End,
}

fn read_request_line(reader: &mut BufReader<UnixStream>) -> std::io::Result<Line> {
    let mut line = Vec::new();
    let limit = MAX_REQUEST_BYTES as u64 + 1;
    let read = reader.by_ref().take(limit).read_until(b'\n', &mut line)?;
    if read == 0 {
        return Ok(Line::End);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
        return Ok(Line::Request(line));
    }
    if line.len() as u64 >= limit {
        // Skip the rest of the oversized line so the next request parses.
        reader.skip_until(b'\n')?;
        return Ok(Line::TooLarge);
    }
    // The last line without a newline still counts.
    Ok(Line::Request(line))
}

fn serve_connection(
    stream: UnixStream,
    sender: &channel::Sender<ControlMessage>,
) -> anyhow::Result<()> {
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let line = match read_request_line(&mut reader)? {
            Line::End => return Ok(()),
            Line::TooLarge => {
                let error = Error::new(
                    ErrorCode::TooLarge,
                    format!("request longer than {MAX_REQUEST_BYTES} bytes"),
                );
                write_json(&mut writer, &Reply::Error(error))?;
                continue;
            }
            Line::Request(line) => line,
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let request = match serde_json::from_slice::<Request>(&line) {
            Ok(request) => request,
            Err(err) => {
                let error = Error::new(ErrorCode::MalformedRequest, err.to_string());
                write_json(&mut writer, &Reply::Error(error))?;
                continue;
            }
        };
        if request == Request::EventStream {
            return stream_events(writer, sender);
        }
        let (reply_sender, reply_receiver) = mpsc::channel();
        sender
            .send(ControlMessage::Request {
                request,
                reply: reply_sender,
            })
            .map_err(|_| anyhow::anyhow!("the compositor is shutting down"))?;
        let reply = reply_receiver
            .recv_timeout(REPLY_TIMEOUT)
            .unwrap_or_else(|_| {
                Reply::Error(Error::new(
                    ErrorCode::Internal,
                    "the compositor did not answer",
                ))
            });
        write_reply(&mut writer, reply)?;
    }
}

/// Writes a reply line, then a raw image's bytes after it.
fn write_reply(writer: &mut UnixStream, mut reply: Reply) -> anyhow::Result<()> {
    let trailing = match &mut reply {
        Reply::Ok(Response::Image(image)) if image.trailing_len().is_some() => {
            Some(std::mem::take(&mut image.data))
        }
        _ => None,
    };
    write_json(writer, &reply)?;
    if let Some(bytes) = trailing {
        writer.write_all(&bytes)?;
        writer.flush()?;
    }
    Ok(())
}

fn stream_events(
    mut writer: UnixStream,
    sender: &channel::Sender<ControlMessage>,
) -> anyhow::Result<()> {
    let (events_sender, events) = mpsc::sync_channel(EVENT_QUEUE);
    sender
        .send(ControlMessage::Subscribe {
            events: events_sender,
        })
        .map_err(|_| anyhow::anyhow!("the compositor is shutting down"))?;
    write_json(&mut writer, &Reply::Ok(Response::EventStream))?;
    for event in events {
        write_json(&mut writer, &event)?;
    }
    Ok(())
}

fn write_json<T: serde::Serialize>(writer: &mut UnixStream, value: &T) -> anyhow::Result<()> {
    let mut bytes = serde_json::to_vec(value)?;
    bytes.push(b'\n');
    writer.write_all(&bytes)?;
    writer.flush()?;
    Ok(())
}
