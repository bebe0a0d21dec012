//! The voice service's side of digiOS that others may link without pulling
//! in whisper.cpp or ONNX Runtime: the `[voice]` configuration section and
//! the protocol of the service's local socket, with a blocking client.
//!
//! The agent answers `/api/voice/*` by forwarding to the service over this
//! socket and republishes the service's events on the WebSocket.

mod client;
pub mod config;
pub mod protocol;

use std::path::PathBuf;

pub use client::{ClientError, EventStream, VoiceClient};
pub use config::{Activation, VadConfig, VoiceConfig};
pub use protocol::{
    ErrorKind, Reply, Request, TranscriptReply, TurnReply, VoiceEvent, VoiceState, VoiceStatus,
};

/// Overrides where the voice service's socket is.
pub const SOCKET_ENV: &str = "DIGIOS_VOICE_SOCKET";

/// `$DIGIOS_VOICE_SOCKET`, else `$XDG_RUNTIME_DIR/digios-voice.sock` (`/tmp`
/// without a runtime directory).
pub fn socket_path() -> PathBuf {
    if let Some(path) = std::env::var_os(SOCKET_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join("digios-voice.sock")
}
