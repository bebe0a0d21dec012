//! The public API as the shell sees it: typed views of the JSON it reads and
//! a blocking HTTP client. The shell reaches digiOS only through this door.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

/// Why a call to the API failed, in words a person can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    #[error("the agent is unreachable at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{message}")]
    Refused {
        status: u16,
        code: String,
        message: String,
    },
    #[error("unexpected reply from {path}: {reason}")]
    Malformed { path: String, reason: String },
}

impl ApiError {
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Self::Unreachable { .. })
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Status {
    pub status: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub services: Vec<Service>,
    /// Absent on agents without a kill switch route.
    #[serde(default, deserialize_with = "engaged")]
    pub kill_switch: Option<bool>,
}

/// The kill switch appears as a bool or as `{"engaged": bool}`.
fn engaged<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(de)? {
        Value::Bool(b) => Some(b),
        Value::Object(map) => map.get("engaged").and_then(Value::as_bool),
        _ => None,
    })
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Service {
    pub name: String,
    pub state: String,
    #[serde(default)]
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Window {
    pub id: u64,
    #[serde(default)]
    pub app_id: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub focused: bool,
    #[serde(default)]
    pub minimized: bool,
}

impl Window {
    /// What the panel calls the window: its title, else its app id.
    pub fn label(&self) -> String {
        self.title
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .or(self.app_id.as_deref())
            .map_or_else(|| format!("window {}", self.id), str::to_string)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Pending,
    Running,
    AwaitingConfirmation,
    Succeeded,
    Failed,
    Cancelled,
    Stopped,
    Interrupted,
    #[serde(other)]
    Unknown,
}

impl TaskState {
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::Cancelled | Self::Stopped | Self::Interrupted
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::AwaitingConfirmation => "waiting for you",
            Self::Succeeded => "done",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Stopped => "stopped by the kill switch",
            Self::Interrupted => "interrupted",
            Self::Unknown => "unknown",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Step {
    #[serde(default)]
    pub id: i64,
    pub task_id: i64,
    #[serde(default)]
    pub index: i64,
    #[serde(default)]
    pub thought: String,
    #[serde(default)]
    pub tool_call: Option<Value>,
    #[serde(default)]
    pub observation: Option<String>,
    #[serde(default)]
    pub outcome: String,
    #[serde(default)]
    pub duration_ms: i64,
}

impl Step {
    /// The action a step took, as one line: `launch_app {"app":"foot"}`.
    pub fn action_line(&self) -> Option<String> {
        let call = self.tool_call.as_ref()?;
        let name = call
            .get("action")
            .or_else(|| call.get("action_type"))
            .and_then(Value::as_str);
        let params = call.get("params");
        Some(match (name, params) {
            (Some(name), Some(params)) => format!("{name} {params}"),
            (Some(name), None) => name.to_string(),
            _ => call.to_string(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PendingConfirmation {
    pub action_type: String,
    #[serde(default)]
    pub params: Value,
    #[serde(default)]
    pub risk: String,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Task {
    pub id: i64,
    pub goal: String,
    pub state: TaskState,
    #[serde(default)]
    pub result: Option<String>,
    #[serde(default)]
    pub created_at_ms: i64,
    #[serde(default)]
    pub steps: Vec<Step>,
    #[serde(default)]
    pub pending_confirmation: Option<PendingConfirmation>,
}

/// A blocking client of the public API.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Client {
    /// `base` is the API's root URL, e.g. `http://127.0.0.1:8765`.
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
        let rest = self
            .base
            .strip_prefix("https://")
            .map(|r| format!("wss://{r}"))
            .or_else(|| {
                self.base
                    .strip_prefix("http://")
                    .map(|r| format!("ws://{r}"))
            })
            .unwrap_or_else(|| self.base.clone());
        format!("{rest}/api/ws")
    }

    pub fn status(&self) -> Result<Status, ApiError> {
        self.get("/api/status")
    }

    pub fn windows(&self) -> Result<Vec<Window>, ApiError> {
        self.get("/api/windows")
    }

    /// The name of the loaded language model, from the OpenAI-shaped `/v1/models`.
    pub fn model_name(&self) -> Result<String, ApiError> {
        let list: Value = self.get("/v1/models")?;
        list.pointer("/data/0/id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ApiError::Malformed {
                path: "/v1/models".into(),
                reason: "no model listed".into(),
            })
    }

    pub fn tasks(&self, limit: usize) -> Result<Vec<Task>, ApiError> {
        self.get(&format!("/api/tasks?limit={limit}"))
    }

    pub fn task(&self, id: i64) -> Result<Task, ApiError> {
        self.get(&format!("/api/tasks/{id}"))
    }

    pub fn create_task(&self, goal: &str) -> Result<Task, ApiError> {
        self.post("/api/tasks", &json!({ "goal": goal }))
    }

    pub fn confirm(&self, task: i64, approve: bool) -> Result<Task, ApiError> {
        self.post(
            &format!("/api/tasks/{task}/confirm"),
            &json!({ "approve": approve }),
        )
    }

    pub fn cancel(&self, task: i64) -> Result<Task, ApiError> {
        self.post(&format!("/api/tasks/{task}/cancel"), &json!({}))
    }

    pub fn set_kill_switch(&self, engaged: bool) -> Result<Value, ApiError> {
        self.post("/api/kill-switch", &json!({ "engaged": engaged }))
    }

    /// Launches an app by its configured name or by command line.
    pub fn launch(&self, launch: &crate::launcher::Launch) -> Result<Value, ApiError> {
        let body = match launch {
            crate::launcher::Launch::App(name) => json!({ "app": name }),
            crate::launcher::Launch::Command(argv) => json!({ "command": argv }),
        };
        self.post("/api/apps/launch", &body)
    }

    pub fn focus_window(&self, id: u64) -> Result<Value, ApiError> {
        self.post(&format!("/api/windows/{id}/focus"), &json!({}))
    }

    fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        self.read(path, request.call())
    }

    fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        body: &Value,
    ) -> Result<T, ApiError> {
        let mut request = self.agent.post(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        self.read(path, request.send_json(body))
    }

    fn read<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, ApiError> {
        let mut response = response.map_err(|err| ApiError::Unreachable {
            url: self.base.clone(),
            reason: err.to_string(),
        })?;
        let status = response.status().as_u16();
        let text = response
            .body_mut()
            .with_config()
            .limit(16 << 20)
            .read_to_string()
            .map_err(|err| ApiError::Unreachable {
                url: self.base.clone(),
                reason: err.to_string(),
            })?;
        if !(200..300).contains(&status) {
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let field = |name: &str| {
                body.pointer(&format!("/error/{name}"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
            };
            return Err(ApiError::Refused {
                status,
                code: field("code").unwrap_or_else(|| format!("http_{status}")),
                message: field("message").unwrap_or_else(|| format!("{path} answered {status}")),
            });
        }
        serde_json::from_str(&text).map_err(|err| ApiError::Malformed {
            path: path.to_string(),
            reason: err.to_string(),
        })
    }
}
