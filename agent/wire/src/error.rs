//! The one error shape of every route: `{"error": {"code", "message", "details"}}`.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Declares the codes once: variant, wire string.
macro_rules! error_codes {
    ($($(#[$meta:meta])* $variant:ident = $text:literal,)*) => {
        /// A stable, machine-readable error code; clients branch on it,
        /// messages are for people. On the wire a snake_case string.
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$meta])* $variant,)*
            /// A code this side does not know (a newer agent's), kept as sent.
            Other(Cow<'static, str>),
        }

        impl ErrorCode {
            /// Every known code.
            pub const KNOWN: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            pub fn as_str(&self) -> &str {
                match self {
                    $(ErrorCode::$variant => $text,)*
                    ErrorCode::Other(text) => text,
                }
            }

            /// The wire string, `'static` unless it was read off the wire.
            pub fn as_static(&self) -> Option<&'static str> {
                match self {
                    $(ErrorCode::$variant => Some($text),)*
                    ErrorCode::Other(Cow::Borrowed(text)) => Some(text),
                    ErrorCode::Other(Cow::Owned(_)) => None,
                }
            }

            fn known(text: &str) -> Option<ErrorCode> {
                match text {
                    $($text => Some(ErrorCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    /// Malformed JSON, query or path.
    BadRequest = "bad_request",
    /// `action_type` names no action; the details list the valid ones.
    UnknownAction = "unknown_action",
    InvalidParams = "invalid_params",
    NotFound = "not_found",
    /// The target's state conflicts (a file exists, a task already finished).
    Conflict = "conflict",
    /// Outside the file roots, or a process digiOS must not touch.
    Forbidden = "forbidden",
    /// The safety policy denies the action.
    Denied = "denied",
    /// The action needs `?confirm=true` (or the task's confirmation).
    ConfirmationRequired = "confirmation_required",
    /// The user answered no to a confirmation.
    Declined = "declined",
    PayloadTooLarge = "payload_too_large",
    UnsupportedMediaType = "unsupported_media_type",
    MethodNotAllowed = "method_not_allowed",
    Unauthorized = "unauthorized",
    /// A browser request from a page digiOS does not serve or trust.
    ForbiddenOrigin = "forbidden_origin",
    /// A `Host` that is not this server's (DNS rebinding).
    ForbiddenHost = "forbidden_host",
    /// Past the connection's rate limit.
    RateLimited = "rate_limited",
    /// Past the commands one WebSocket may have in flight.
    TooManyRequests = "too_many_requests",
    /// A WebSocket message past its limit.
    MessageTooLarge = "message_too_large",
    /// A WebSocket message that is not a request.
    BadMessage = "bad_message",
    UpgradeRequired = "upgrade_required",
    UnknownFrame = "unknown_frame",
    /// The compositor (or another service) is unreachable or busy, or no model is loaded.
    Unavailable = "unavailable",
    TimedOut = "timed_out",
    Internal = "internal",
    /// The kill switch refuses input injection and new tasks.
    KillSwitchEngaged = "kill_switch_engaged",
    SpawnFailed = "spawn_failed",
    StorageFull = "storage_full",
    UnknownWindow = "unknown_window",
    UnknownOutput = "unknown_output",
    OutOfBounds = "out_of_bounds",
    UnknownKeysym = "unknown_keysym",
    /// A mark was named before any screen analysis.
    NoAnalysis = "no_analysis",
    UnknownMark = "unknown_mark",
    /// The screen changed under a mark since it was numbered.
    StaleMark = "stale_mark",
    OcrUnavailable = "ocr_unavailable",
    BadAudio = "bad_audio",
    AudioTooLong = "audio_too_long",
    ModelNotPresent = "model_not_present",
    ModelUnusable = "model_unusable",
    NotALanguageModel = "not_a_language_model",
    InvalidSkill = "invalid_skill",
    CompileError = "compile_error",
    TestsFailed = "tests_failed",
    SkillFailed = "skill_failed",
    CpuLimit = "cpu_limit",
    TimeLimit = "time_limit",
    MemoryLimit = "memory_limit",
    HostCallLimit = "host_call_limit",
}

impl ErrorCode {
    /// The code for `text`: a known variant, else `Other`.
    pub fn parse(text: &str) -> ErrorCode {
        ErrorCode::known(text).unwrap_or_else(|| ErrorCode::Other(Cow::Owned(text.to_string())))
    }
}

impl From<&'static str> for ErrorCode {
    fn from(text: &'static str) -> Self {
        ErrorCode::known(text).unwrap_or(ErrorCode::Other(Cow::Borrowed(text)))
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for ErrorCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for ErrorCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<'de, str>::deserialize(deserializer)?;
        Ok(ErrorCode::parse(&text))
    }
}

// A plain string in the schema: an enum there would make every code a
// newer agent adds a schema violation for older clients.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let known: Vec<&str> = ErrorCode::KNOWN.iter().map(ErrorCode::as_str).collect();
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(format!(
                "Stable, machine-readable: {}.",
                known.join(", ")
            )))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for ErrorCode {}

/// `{"error": {...}}`: the body of every error reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_their_snake_case_strings_both_ways() {
        for code in ErrorCode::KNOWN {
            let wire = serde_json::to_value(code).unwrap();
            assert_eq!(wire, Value::String(code.as_str().to_string()));
            let back: ErrorCode = serde_json::from_value(wire).unwrap();
            assert_eq!(&back, code);
            assert!(
                code.as_str()
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_')
            );
        }
        assert_eq!(ErrorCode::ConfirmationRequired, "confirmation_required");
    }

    #[test]
    fn an_unknown_code_is_kept_as_sent() {
        let body: ErrorBody = serde_json::from_str(
            r#"{"error": {"code": "brand_new", "message": "from a newer agent"}}"#,
        )
        .unwrap();
        assert_eq!(body.error.code, ErrorCode::parse("brand_new"));
        assert_eq!(body.error.code.as_static(), None);
        assert_eq!(
            serde_json::to_value(&body).unwrap()["error"]["code"],
            "brand_new"
        );
        assert_eq!(ErrorCode::from("not_found"), ErrorCode::NotFound);
        assert_eq!(ErrorCode::from("later").as_static(), Some("later"));
    }

    #[test]
    fn details_are_left_out_when_absent() {
        let body = ErrorBody {
            error: ErrorDetail {
                code: ErrorCode::NotFound,
                message: "no task 9".into(),
                details: None,
            },
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            r#"{"error":{"code":"not_found","message":"no task 9"}}"#
        );
    }
}
