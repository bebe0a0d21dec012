//! The service's local socket: one request per connection (see
//! `digios_voice_ipc::protocol`), each on its own thread.

use std::io::{BufReader, BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::Arc;

use digios_voice_ipc::protocol::{self, FrameError};
use digios_voice_ipc::{ErrorKind, Reply, Request};

use super::{ServiceError, VoiceService};

/// Serves clients until the process ends.
pub fn serve(service: Arc<VoiceService>, listener: UnixListener) {
    for stream in listener.incoming() {
        let stream = match stream {
            Ok(stream) => stream,
            Err(err) => {
                tracing::warn!("voice socket: {err}");
                continue;
            }
        };
        let service = service.clone();
        let spawned = std::thread::Builder::new()
            .name("voice-client".into())
            .spawn(move || {
                if let Err(err) = handle(&service, stream) {
                    tracing::debug!("voice client: {err}");
                }
            });
        if let Err(err) = spawned {
            tracing::warn!("voice socket: cannot serve a client: {err}");
        }
    }
}

/// Binds `socket`, replacing a stale one but never a live service's.
pub fn bind(socket: &Path) -> std::io::Result<UnixListener> {
    if socket.exists() {
        if UnixStream::connect(socket).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("another voice service answers on {}", socket.display()),
            ));
        }
        std::fs::remove_file(socket)?;
    }
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let listener = UnixListener::bind(socket)?;
    // Only this user (the agent) may speak through the machine's speaker.
    std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

fn handle(service: &VoiceService, stream: UnixStream) -> Result<(), FrameError> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = BufWriter::new(stream);
    let request: Request = match protocol::read_message(&mut reader) {
        Ok(request) => request,
        Err(FrameError::Malformed(message)) => {
            let error = ServiceError::new(ErrorKind::Internal, format!("bad request: {message}"));
            return reply_error(&mut writer, error);
        }
        Err(err) => return Err(err),
    };
    match request {
        Request::Status => {
            protocol::write_message(&mut writer, &Reply::Status(service.status()), &[])
        }
        Request::Transcribe { bytes } => {
            let wav = protocol::read_payload(&mut reader, bytes)?;
            match service.transcribe(wav) {
                Ok(transcript) => {
                    protocol::write_message(&mut writer, &Reply::Transcript(transcript), &[])
                }
                Err(err) => reply_error(&mut writer, err),
            }
        }
        Request::Speak { text, speed } => match service.speak_to_wav(&text, speed) {
            Ok((wav, sample_rate, duration_ms)) => {
                let reply = Reply::Audio {
                    bytes: wav.len() as u64,
                    sample_rate,
                    duration_ms,
                };
                protocol::write_message(&mut writer, &reply, &wav)
            }
            Err(err) => reply_error(&mut writer, err),
        },
        Request::Converse { bytes } => {
            let wav = protocol::read_payload(&mut reader, bytes)?;
            match service.converse(wav) {
                Ok(spoken) => {
                    let turn = &spoken.turn;
                    let reply = Reply::Turn(digios_voice_ipc::TurnReply {
                        transcript: turn.transcript.clone(),
                        command: turn.command.clone(),
                        task_id: turn.task.as_ref().map(|t| t.task.id),
                        task_state: turn.task.as_ref().map(|t| t.task.state.to_string()),
                        reply: turn.reply.clone(),
                        awaiting_answer: turn.awaiting_answer,
                        bytes: spoken.wav.len() as u64,
                        sample_rate: spoken.sample_rate,
                        duration_ms: spoken.duration_ms,
                    });
                    protocol::write_message(&mut writer, &reply, &spoken.wav)
                }
                Err(err) => reply_error(&mut writer, err),
            }
        }
        Request::Listen => match service.listen() {
            Ok(()) => protocol::write_message(&mut writer, &Reply::Accepted, &[]),
            Err(err) => reply_error(&mut writer, err),
        },
        Request::Stop => {
            service.stop();
            protocol::write_message(&mut writer, &Reply::Accepted, &[])
        }
        Request::Events => {
            let events = service.hub.subscribe();
            for event in events {
                protocol::write_message(&mut writer, &event, &[])?;
            }
            Ok(())
        }
    }
}

fn reply_error(writer: &mut impl Write, err: ServiceError) -> Result<(), FrameError> {
    let reply = Reply::Error {
        kind: err.kind,
        message: err.message,
    };
    protocol::write_message(writer, &reply, &[])
}
