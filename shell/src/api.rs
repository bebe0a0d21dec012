//! The public API as the shell sees it: typed views of the JSON it reads and
//! a blocking HTTP client. The shell reaches digiOS only through this door.

use serde::Deserialize;
use serde_json::Value;

pub use digios_api::{PendingConfirmation, Step, TaskState};

/// Why a call to the API failed, in words a person can act on.
pub type ApiError = digios_api::ClientError;

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

/// How the shell names a task's state to a person.
pub trait StateLabel {
    fn label(self) -> &'static str;
}

impl StateLabel for TaskState {
    fn label(self) -> &'static str {
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

/// The shell's record of a task: the API's `TaskView` read flat, with the
/// steps it has seen so far (a task list carries none).
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

/// The public API's client with the calls the shell makes.
#[derive(Clone)]
pub struct Client {
    api: digios_api::Client,
}

impl Client {
    /// `base` is the API's root URL, e.g. `http://127.0.0.1:8765`.
    pub fn new(base: &str, token: Option<String>) -> Self {
        Self {
            api: digios_api::Client::new(base, token),
        }
    }

    pub fn base(&self) -> &str {
        self.api.base()
    }

    pub fn token(&self) -> Option<&str> {
        self.api.token()
    }

    /// The WebSocket URL of `/api/ws`.
    pub fn ws_url(&self) -> String {
        self.api.ws_url()
    }

    pub fn status(&self) -> Result<Status, ApiError> {
        self.api.get("/api/status")
    }

    pub fn windows(&self) -> Result<Vec<Window>, ApiError> {
        self.api.get("/api/windows")
    }

    /// The name of the loaded language model, from the OpenAI-shaped `/v1/models`.
    pub fn model_name(&self) -> Result<String, ApiError> {
        let list: Value = self.api.get("/v1/models")?;
        list.pointer("/data/0/id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ApiError::Malformed {
                path: "/v1/models".into(),
                reason: "no model listed".into(),
            })
    }

    pub fn tasks(&self, limit: usize) -> Result<Vec<Task>, ApiError> {
        self.api.get(&format!("/api/tasks?limit={limit}"))
    }

    pub fn task(&self, id: i64) -> Result<Task, ApiError> {
        self.api.get(&format!("/api/tasks/{id}"))
    }

    pub fn create_task(&self, goal: &str) -> Result<Task, ApiError> {
        self.api.post("/api/tasks", &digios_api::NewTask::new(goal))
    }

    pub fn confirm(&self, task: i64, approve: bool) -> Result<Task, ApiError> {
        self.api.post(
            &format!("/api/tasks/{task}/confirm"),
            &digios_api::ConfirmAnswer { approve },
        )
    }

    pub fn cancel(&self, task: i64) -> Result<Task, ApiError> {
        self.api.post(
            &format!("/api/tasks/{task}/cancel"),
            &serde_json::Map::new(),
        )
    }

    pub fn set_kill_switch(&self, engaged: bool) -> Result<digios_api::KillSwitchState, ApiError> {
        self.api.set_kill_switch(engaged)
    }

    /// Launches an app by its configured name or by command line.
    pub fn launch(&self, launch: &crate::launcher::Launch) -> Result<Value, ApiError> {
        let request = match launch {
            crate::launcher::Launch::App(name) => digios_api::LaunchRequest::app(name.clone()),
            crate::launcher::Launch::Command(argv) => {
                digios_api::LaunchRequest::command(argv.clone())
            }
        };
        self.api.launch(&request)
    }

    pub fn focus_window(&self, id: u64) -> Result<digios_api::ActionOutcome, ApiError> {
        self.api.focus_window(id)
    }
}
