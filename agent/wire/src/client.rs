//! A blocking client of the public API (ureq): typed calls for the routes
//! clients share, and plain `get`/`post` for the rest.

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::{
    ActionOutcome, ActionRequest, ConfirmAnswer, ErrorBody, ErrorCode, KillSwitchState,
    LaunchRequest, NewTask, TaskView,
};

/// The most of a reply body read.
const BODY_LIMIT: u64 = 16 << 20;

/// Why a call failed, in words a person can act on.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientError {
    /// No reply: the agent is down, or the connection broke.
    Unreachable { url: String, reason: String },
    /// The API answered with an error.
    Refused {
        status: u16,
        code: ErrorCode,
        message: String,
    },
    /// A success whose body is not what the route answers.
    Malformed { path: String, reason: String },
}

impl ClientError {
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }

    /// The HTTP status of a refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unreachable { url, reason } => {
                write!(f, "the agent is unreachable at {url}: {reason}")
            }
            Self::Refused { message, .. } => f.write_str(message),
            Self::Malformed { path, reason } => {
                write!(f, "unexpected reply from {path}: {reason}")
            }
        }
    }
}

impl std::error::Error for ClientError {}

/// A blocking client of the API at one base URL. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    /// `base` is the API's root URL, e.g. `http://127.0.0.1:8765`; `token`
    /// the bearer token, when the API demands one.
    pub fn new(base: &str, token: Option<String>) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            // The API is local: a proxy from the environment must not see it.
            .proxy(None)
            .timeout_connect(Some(Duration::from_secs(2)))
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .new_agent();
        Self {
            base: base.trim_end_matches('/').to_string(),
            token,
            agent,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The WebSocket URL of `/api/ws`.
    pub fn ws_url(&self) -> String {
        let rest = if let Some(rest) = self.base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = self.base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            self.base.clone()
        };
        format!("{rest}/api/ws")
    }

    /// `POST /api/tasks`.
    pub fn submit_task(&self, task: &NewTask) -> Result<TaskView, ClientError> {
        self.post("/api/tasks", task)
    }

    /// Recent tasks, newest first, without their steps.
    pub fn tasks(&self, limit: usize) -> Result<Vec<TaskView>, ClientError> {
        self.get(&format!("/api/tasks?limit={limit}"))
    }

    /// One task with its steps.
    pub fn task(&self, id: i64) -> Result<TaskView, ClientError> {
        self.get(&format!("/api/tasks/{id}"))
    }

    pub fn confirm_task(&self, id: i64, approve: bool) -> Result<TaskView, ClientError> {
        self.post(
            &format!("/api/tasks/{id}/confirm"),
            &ConfirmAnswer { approve },
        )
    }

    pub fn cancel_task(&self, id: i64) -> Result<TaskView, ClientError> {
        self.post(&format!("/api/tasks/{id}/cancel"), &serde_json::json!({}))
    }

    pub fn set_kill_switch(&self, engaged: bool) -> Result<KillSwitchState, ClientError> {
        self.post("/api/kill-switch", &KillSwitchState { engaged })
    }

    /// `POST /api/action`; `confirm` is the user's yes to a confirm-tier action.
    pub fn action(
        &self,
        request: &ActionRequest,
        confirm: bool,
    ) -> Result<ActionOutcome, ClientError> {
        self.post(&format!("/api/action?confirm={confirm}"), request)
    }

    pub fn launch(&self, request: &LaunchRequest) -> Result<Value, ClientError> {
        self.post("/api/apps/launch", request)
    }

    pub fn focus_window(&self, id: u64) -> Result<ActionOutcome, ClientError> {
        self.post(&format!("/api/windows/{id}/focus"), &serde_json::json!({}))
    }

    /// `GET path`, its JSON body read as `T`.
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        self.read(path, request.call())
    }

    /// `POST path` with `body` as JSON, the reply read as `T`.
    pub fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ClientError> {
        let mut request = self.agent.post(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        self.read(path, request.send_json(body))
    }

    fn read<T: DeserializeOwned>(
        &self,
        path: &str,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, ClientError> {
        let unreachable = |err: ureq::Error| ClientError::Unreachable {
            url: self.base.clone(),
            reason: err.to_string(),
        };
        let mut response = response.map_err(unreachable)?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(BODY_LIMIT)
            .read_to_string()
            .map_err(unreachable)?;
        if !(200..300).contains(&status) {
            return Err(refusal(path, status, &text));
        }
        serde_json::from_str(&text).map_err(|err| ClientError::Malformed {
            path: path.to_string(),
            reason: err.to_string(),
        })
    }
}

/// The refusal an error reply describes; a body not in the error shape
/// (a proxy's page, say) still gives a code and a message.
fn refusal(path: &str, status: u16, text: &str) -> ClientError {
    match serde_json::from_str::<ErrorBody>(text) {
        Ok(body) => ClientError::Refused {
            status,
            code: body.error.code,
            message: body.error.message,
        },
        Err(_) => ClientError::Refused {
            status,
            code: ErrorCode::parse(&format!("http_{status}")),
            message: format!("{path} answered {status}"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_carry_the_code_and_message_or_say_what_answered() {
        let refused = refusal(
            "/api/tasks",
            423,
            r#"{"error": {"code": "kill_switch_engaged", "message": "the kill switch is engaged"}}"#,
        );
        assert_eq!(
            refused,
            ClientError::Refused {
                status: 423,
                code: ErrorCode::KillSwitchEngaged,
                message: "the kill switch is engaged".into(),
            }
        );
        assert_eq!(refused.to_string(), "the kill switch is engaged");
        let Err(ClientError::Refused { code, message, .. }) =
            Err::<(), _>(refusal("/api/x", 502, "<html>"))
        else {
            unreachable!()
        };
        assert_eq!(code, "http_502");
        assert_eq!(message, "/api/x answered 502");
    }

    #[test]
    fn the_websocket_url_follows_the_scheme() {
        assert_eq!(
            Client::new("http://127.0.0.1:8765/", None).ws_url(),
            "ws://127.0.0.1:8765/api/ws"
        );
        assert_eq!(
            Client::new("https://a.example", None).ws_url(),
            "wss://a.example/api/ws"
        );
    }
}
