//! The voice loop's client of the public API's tasks: it asks the agent to
//! do what was said, exactly as the shell or a script would.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

/// How often a running task is looked at.
const POLL: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("the agent is unreachable at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the agent refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("the agent's reply was not understood: {0}")]
    Malformed(String),
}

/// The parts of the API's TaskView the voice loop speaks about.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TaskView {
    pub id: i64,
    pub goal: String,
    pub state: String,
    #[serde(default)]
    pub result: Option<String>,
    #[serde(default)]
    pub pending_confirmation: Option<PendingConfirmation>,
}

impl TaskView {
    pub fn finished(&self) -> bool {
        matches!(
            self.state.as_str(),
            "succeeded" | "failed" | "cancelled" | "stopped" | "interrupted"
        )
    }

    pub fn awaiting_confirmation(&self) -> bool {
        self.state == "awaiting_confirmation"
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PendingConfirmation {
    pub action_type: String,
    #[serde(default)]
    pub params: Value,
    #[serde(default)]
    pub risk: Option<Value>,
    #[serde(default)]
    pub reason: Option<String>,
}

pub struct TaskClient {
    base: String,
    token: Option<String>,
    http: reqwest::blocking::Client,
}

impl TaskClient {
    /// `base` is the API's URL, e.g. `http://127.0.0.1:8765`.
    pub fn new(base: &str, token: Option<String>) -> Self {
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Self {
            base: base.trim_end_matches('/').to_string(),
            token,
            http,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    fn send(&self, request: reqwest::blocking::RequestBuilder) -> Result<TaskView, TaskError> {
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        let response = request.send().map_err(|err| TaskError::Unreachable {
            url: self.base.clone(),
            reason: err.to_string(),
        })?;
        let status = response.status();
        let body: Value = response
            .json()
            .map_err(|err| TaskError::Malformed(err.to_string()))?;
        if !status.is_success() {
            let message = body["error"]["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| body.to_string());
            return Err(TaskError::Refused {
                status: status.as_u16(),
                message,
            });
        }
        serde_json::from_value(body).map_err(|err| TaskError::Malformed(err.to_string()))
    }

    /// `POST /api/tasks`.
    pub fn submit(&self, goal: &str) -> Result<TaskView, TaskError> {
        self.send(
            self.http
                .post(format!("{}/api/tasks", self.base))
                .json(&json!({ "goal": goal })),
        )
    }

    pub fn get(&self, id: i64) -> Result<TaskView, TaskError> {
        self.send(self.http.get(format!("{}/api/tasks/{id}", self.base)))
    }

    /// `POST /api/tasks/{id}/confirm`.
    pub fn confirm(&self, id: i64, approve: bool) -> Result<TaskView, TaskError> {
        self.send(
            self.http
                .post(format!("{}/api/tasks/{id}/confirm", self.base))
                .json(&json!({ "approve": approve })),
        )
    }

    pub fn cancel(&self, id: i64) -> Result<TaskView, TaskError> {
        self.send(
            self.http
                .post(format!("{}/api/tasks/{id}/cancel", self.base)),
        )
    }

    /// Waits until the task finishes or asks for confirmation; `None` after `timeout`.
    pub fn wait(&self, id: i64, timeout: Duration) -> Result<Option<TaskView>, TaskError> {
        let deadline = Instant::now() + timeout;
        loop {
            let task = self.get(id)?;
            if task.finished() || task.awaiting_confirmation() {
                return Ok(Some(task));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(POLL);
        }
    }
}
