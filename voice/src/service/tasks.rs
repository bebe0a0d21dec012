//! The voice loop's client of the public API's tasks: it asks the agent to
//! do what was said, exactly as the shell or a script would.

use std::time::{Duration, Instant};

pub use digios_api::{PendingConfirmation, TaskView};

/// Why a call to the agent failed.
pub type TaskError = digios_api::ClientError;

/// How often a running task is looked at.
const POLL: Duration = Duration::from_millis(100);

pub struct TaskClient {
    api: digios_api::Client,
}

impl TaskClient {
    /// `base` is the API's URL, e.g. `http://127.0.0.1:8765`.
    pub fn new(base: &str, token: Option<String>) -> Self {
        Self {
            api: digios_api::Client::new(base, token),
        }
    }

    pub fn base(&self) -> &str {
        self.api.base()
    }

    /// `POST /api/tasks`.
    pub fn submit(&self, goal: &str) -> Result<TaskView, TaskError> {
        self.api.submit_task(&digios_api::NewTask::new(goal))
    }

    pub fn get(&self, id: i64) -> Result<TaskView, TaskError> {
        self.api.task(id)
    }

    /// `POST /api/tasks/{id}/confirm`.
    pub fn confirm(&self, id: i64, approve: bool) -> Result<TaskView, TaskError> {
        self.api.confirm_task(id, approve)
    }

    pub fn cancel(&self, id: i64) -> Result<TaskView, TaskError> {
        self.api.cancel_task(id)
    }

    /// Waits until the task finishes or asks for confirmation; `None` after `timeout`.
    pub fn wait(&self, id: i64, timeout: Duration) -> Result<Option<TaskView>, TaskError> {
        let deadline = Instant::now() + timeout;
        loop {
            let task = self.get(id)?;
            if task.is_finished() || task.is_awaiting_confirmation() {
                return Ok(Some(task));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(POLL);
        }
    }
}
