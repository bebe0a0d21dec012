//! One JSON error shape for every route: `{"error": {"code", "message", "details"}}`.
//! Codes are stable strings clients can branch on; messages are for people.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    /// An [`ErrorCode`]'s wire string.
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

// The body's shape and codes are wire types, shared with every client.
pub use digios_api::{ErrorBody, ErrorCode, ErrorDetail};

impl ApiError {
    /// `code` is an [`ErrorCode`]; a `&'static str` names one by its wire string.
    pub fn new(status: StatusCode, code: impl Into<ErrorCode>, message: impl Into<String>) -> Self {
        let code = code.into();
        Self {
            status,
            // Only a code read off the wire owns its text; the agent's are all static.
            code: code.as_static().unwrap_or("internal"),
            message: message.into(),
            details: None,
        }
    }

    pub fn error_code(&self) -> ErrorCode {
        ErrorCode::from(self.code)
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, message)
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::InvalidParams,
            message,
        )
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, ErrorCode::Conflict, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            message,
        )
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            "a bearer token is required: send `Authorization: Bearer <token>`",
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            message,
        )
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.error_code(),
                message: self.message.clone(),
                details: self.details.clone(),
            },
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(code = self.code, "{}", self.message);
        }
        (self.status, Json(self.body())).into_response()
    }
}

/// Turns axum's own rejections (bad JSON, wrong content type, too large) into
/// the one error shape, keeping their status codes.
pub fn from_rejection(rejection: axum::extract::rejection::JsonRejection) -> ApiError {
    let status = rejection.status();
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::InvalidParams,
        _ => ErrorCode::BadRequest,
    };
    // axum reports malformed JSON syntax as 400 and well-formed JSON of the
    // wrong shape as 422; both keep their status.
    ApiError::new(status, code, rejection.body_text())
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        from_rejection(rejection)
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::bad_request(rejection.body_text())
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::PathRejection) -> Self {
        ApiError::bad_request(rejection.body_text())
    }
}

/// `Json` whose rejections use the API's error shape.
pub struct ApiJson<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    /// Decodes a plain `application/json` body directly; only a body that
    /// fails, or another JSON media type, goes through axum's `Json`, whose
    /// rejection names the path of the offending field. Tracking that path
    /// on every request cost more than the decoding itself.
    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let plain_json = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !plain_json {
            let Json(value) = Json::<T>::from_request(request, state).await?;
            return Ok(Self(value));
        }
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                from_rejection(axum::extract::rejection::JsonRejection::from(rejection))
            })?;
        match serde_json::from_slice(&bytes) {
            Ok(value) => Ok(Self(value)),
            Err(_) => Json::<T>::from_bytes(&bytes)
                .map(|Json(value)| Self(value))
                .map_err(from_rejection),
        }
    }
}

/// `Query` whose rejections use the API's error shape.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// `Path` whose rejections use the API's error shape.
#[derive(axum::extract::FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

impl From<crate::actions::ActionError> for ApiError {
    fn from(err: crate::actions::ActionError) -> Self {
        use crate::actions::ActionError;
        use crate::vision::MarkError;
        let code = err.code();
        let error = ApiError::new(status_of(&code), code, err.to_string());
        match err {
            ActionError::UnknownAction { valid, .. } => {
                error.with_details(serde_json::json!({ "valid_action_types": valid }))
            }
            ActionError::Mark(MarkError::Unknown { mark, count }) => {
                error.with_details(serde_json::json!({ "mark": mark, "marks": count }))
            }
            ActionError::Mark(MarkError::Stale { mark, .. }) => {
                error.with_details(serde_json::json!({ "mark": mark }))
            }
            _ => error,
        }
    }
}

impl From<crate::desktop::DesktopError> for ApiError {
    fn from(err: crate::desktop::DesktopError) -> Self {
        ApiError::from(crate::actions::ActionError::Desktop(err))
    }
}

/// The HTTP status an action's failure is answered with.
fn status_of(code: &ErrorCode) -> StatusCode {
    match code {
        ErrorCode::UnknownAction | ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
        ErrorCode::NotFound
        | ErrorCode::UnknownWindow
        | ErrorCode::UnknownOutput
        | ErrorCode::UnknownMark => StatusCode::NOT_FOUND,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::Conflict | ErrorCode::NoAnalysis | ErrorCode::StaleMark => StatusCode::CONFLICT,
        ErrorCode::InvalidParams
        | ErrorCode::SpawnFailed
        | ErrorCode::OutOfBounds
        | ErrorCode::UnknownKeysym => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::StorageFull => StatusCode::INSUFFICIENT_STORAGE,
        ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<crate::vision::VisionError> for ApiError {
    fn from(err: crate::vision::VisionError) -> Self {
        use crate::vision::{OcrError, VisionError};
        let message = err.to_string();
        match err {
            VisionError::Desktop(err) => err.into(),
            VisionError::Ocr(OcrError::Unavailable(_)) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::OcrUnavailable,
                message,
            ),
            VisionError::Ocr(OcrError::Failed(_)) => ApiError::internal(message),
            VisionError::OutsideScreen(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorCode::OutOfBounds,
                message,
            ),
            VisionError::EmptyRegion(_) => ApiError::invalid_params(message),
        }
    }
}
