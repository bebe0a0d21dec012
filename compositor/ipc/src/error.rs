//! The compositor's typed error: a stable machine-readable code plus a
//! human-readable message.

use serde::{Deserialize, Serialize};

/// Stable error codes; clients match on these, never on messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request line is not valid JSON or not a known request.
    MalformedRequest,
    /// The request line is longer than [`crate::MAX_REQUEST_BYTES`].
    TooLarge,
    /// No window has the given id.
    UnknownWindow,
    /// No output has the given name.
    UnknownOutput,
    /// A coordinate or rectangle lies outside every output.
    OutOfBounds,
    /// A size or count is zero, negative or unreasonably large.
    InvalidArgument,
    /// The keysym name is unknown, or the keymap cannot produce it.
    UnknownKeysym,
    /// The program could not be started.
    SpawnFailed,
    /// The compositor has too many control connections open.
    Busy,
    /// Something failed inside the compositor; the request had no effect.
    Internal,
}

impl ErrorCode {
    /// The code as it appears on the wire, e.g. `unknown_window`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MalformedRequest => "malformed_request",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::UnknownWindow => "unknown_window",
            ErrorCode::UnknownOutput => "unknown_output",
            ErrorCode::OutOfBounds => "out_of_bounds",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::UnknownKeysym => "unknown_keysym",
            ErrorCode::SpawnFailed => "spawn_failed",
            ErrorCode::Busy => "busy",
            ErrorCode::Internal => "internal",
        }
    }
}

/// An error answered by the compositor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn unknown_window(id: crate::WindowId) -> Self {
        Self::new(ErrorCode::UnknownWindow, format!("no window has id {id}"))
    }
}
