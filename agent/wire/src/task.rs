//! Tasks: a goal the planner carries out step by step, as `/api/tasks`
//! shows it, and the bodies that submit and answer one.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::UnknownName;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Pending,
    Running,
    /// Paused until the user answers a confirm-tier action.
    AwaitingConfirmation,
    Succeeded,
    Failed,
    /// Stopped by the user.
    Cancelled,
    /// Stopped by the kill switch.
    Stopped,
    /// digiOS went down while the task was unfinished.
    Interrupted,
    /// A state this client does not know (a newer agent's); never sent,
    /// so not in the OpenAPI document either.
    #[serde(other, skip_serializing)]
    Unknown,
}

impl TaskState {
    /// Every state a task can be in (not `Unknown`).
    pub const ALL: &'static [TaskState] = &[
        Self::Pending,
        Self::Running,
        Self::AwaitingConfirmation,
        Self::Succeeded,
        Self::Failed,
        Self::Cancelled,
        Self::Stopped,
        Self::Interrupted,
    ];

    /// A finished task never changes state again.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            Self::Succeeded | Self::Failed | Self::Cancelled | Self::Stopped | Self::Interrupted
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::AwaitingConfirmation => "awaiting_confirmation",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::Stopped => "stopped",
            Self::Interrupted => "interrupted",
            Self::Unknown => "unknown",
        }
    }
}

/// Reads a name as sent; `unknown` is no name, so a stored value no
/// variant has is an error instead of `Unknown`.
impl std::str::FromStr for TaskState {
    type Err = UnknownName;
    fn from_str(text: &str) -> Result<Self, UnknownName> {
        UnknownName::find("task state", Self::ALL, Self::as_str, text)
    }
}

impl std::fmt::Display for TaskState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How one planner step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    Ok,
    /// The action ran and reported an error.
    Failed,
    /// The model's tool call did not parse or named no known action.
    InvalidToolCall,
    /// The policy or the user refused the action.
    Denied,
    TimedOut,
    Cancelled,
    /// An outcome this client does not know (a newer agent's); never sent.
    #[serde(other, skip_serializing)]
    Unknown,
}

impl StepOutcome {
    /// Every outcome a step can have (not `Unknown`).
    pub const ALL: &'static [StepOutcome] = &[
        Self::Ok,
        Self::Failed,
        Self::InvalidToolCall,
        Self::Denied,
        Self::TimedOut,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
            Self::InvalidToolCall => "invalid_tool_call",
            Self::Denied => "denied",
            Self::TimedOut => "timed_out",
            Self::Cancelled => "cancelled",
            Self::Unknown => "unknown",
        }
    }
}

/// Reads a name as sent; `unknown` is no name, so a stored value no
/// variant has is an error instead of `Unknown`.
impl std::str::FromStr for StepOutcome {
    type Err = UnknownName;
    fn from_str(text: &str) -> Result<Self, UnknownName> {
        UnknownName::find("step outcome", Self::ALL, Self::as_str, text)
    }
}

impl std::fmt::Display for StepOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A task as stored: its goal, state and result. The agent sends every
/// field; a reader's defaults are for older agents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Task {
    pub id: i64,
    #[serde(default)]
    pub conversation_id: Option<i64>,
    pub goal: String,
    pub state: TaskState,
    #[serde(default)]
    pub result: Option<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub created_at_ms: i64,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub updated_at_ms: i64,
    #[serde(default)]
    pub finished_at_ms: Option<i64>,
}

/// One step of a task; also the data of a `step_finished` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Step {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub id: i64,
    pub task_id: i64,
    /// 0 for a task's first step, then 1, 2, ...
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub index: i64,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub thought: String,
    /// The call the step made: `{"action", "params"}`.
    #[serde(default)]
    pub tool_call: Option<Value>,
    #[serde(default)]
    pub observation: Option<String>,
    pub outcome: StepOutcome,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub duration_ms: i64,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required))]
    pub created_at_ms: i64,
}

impl Step {
    /// The action the step took, as one line: `launch_app {"app":"foot"}`.
    pub fn action_line(&self) -> Option<String> {
        let call = self.tool_call.as_ref()?;
        let name = call
            .get("action")
            .or_else(|| call.get("action_type"))
            .and_then(Value::as_str);
        Some(match (name, call.get("params")) {
            (Some(name), Some(params)) => format!("{name} {params}"),
            (Some(name), None) => name.to_string(),
            _ => call.to_string(),
        })
    }
}

/// A task as clients see it: the task, its steps, and what it waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskView {
    #[serde(flatten)]
    pub task: Task,
    /// The steps so far, oldest first; absent in task lists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<Step>>,
    /// The action waiting for the user's yes or no, while the task is
    /// `awaiting_confirmation`.
    #[serde(default)]
    pub pending_confirmation: Option<PendingConfirmation>,
}

impl TaskView {
    pub fn is_finished(&self) -> bool {
        self.task.state.is_finished()
    }

    pub fn is_awaiting_confirmation(&self) -> bool {
        self.task.state == TaskState::AwaitingConfirmation
    }
}

/// A confirm-tier action the task is paused on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PendingConfirmation {
    pub action_type: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub params: Value,
    /// The action's risk tier: `low`, `medium` or `high`.
    #[serde(default)]
    pub risk: String,
    /// Why the policy asks.
    #[serde(default)]
    pub reason: String,
}

/// `POST /api/tasks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    /// What to do, in words: `open a terminal and list my files`.
    pub goal: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<i64>,
}

impl NewTask {
    pub fn new(goal: impl Into<String>) -> Self {
        Self {
            goal: goal.into(),
            conversation_id: None,
        }
    }
}

/// `POST /api/tasks/{id}/confirm`: approve runs the action, deny cancels the task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConfirmAnswer {
    pub approve: bool,
}

/// `POST /api/kill-switch` and its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct KillSwitchState {
    pub engaged: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_task_view_reads_and_writes_the_agents_shape() {
        let wire = json!({
            "id": 7, "conversation_id": null, "goal": "open a terminal",
            "state": "awaiting_confirmation", "result": null,
            "created_at_ms": 1, "updated_at_ms": 2, "finished_at_ms": null,
            "steps": [{"id": 1, "task_id": 7, "index": 0, "thought": "",
                "tool_call": {"action": "launch_app", "params": {"app": "foot"}},
                "observation": null, "outcome": "ok", "duration_ms": 3, "created_at_ms": 4}],
            "pending_confirmation": {"action_type": "launch_app", "params": {"app": "foot"},
                "risk": "high", "reason": "launching asks first"}
        });
        let view: TaskView = serde_json::from_value(wire.clone()).unwrap();
        assert!(view.is_awaiting_confirmation());
        assert_eq!(
            view.steps.as_ref().unwrap()[0].action_line().unwrap(),
            r#"launch_app {"app":"foot"}"#
        );
        assert_eq!(serde_json::to_value(&view).unwrap(), wire);
    }

    #[test]
    fn a_listed_task_has_no_steps_and_an_unknown_state_still_reads() {
        let mut view: TaskView =
            serde_json::from_value(json!({"id": 1, "goal": "g", "state": "dreaming"})).unwrap();
        assert_eq!(view.task.state, TaskState::Unknown);
        assert!(!view.is_finished());
        // Unknown is read, never sent.
        assert!(serde_json::to_value(&view).is_err());
        view.task.state = TaskState::Running;
        assert!(
            !serde_json::to_value(&view)
                .unwrap()
                .as_object()
                .unwrap()
                .contains_key("steps")
        );
    }

    #[test]
    fn names_read_back_as_sent_and_unknown_is_no_name() {
        for state in TaskState::ALL {
            assert_eq!(state.as_str().parse::<TaskState>(), Ok(*state));
            assert_eq!(serde_json::to_value(state).unwrap(), json!(state.as_str()));
        }
        for outcome in StepOutcome::ALL {
            assert_eq!(outcome.as_str().parse::<StepOutcome>(), Ok(*outcome));
            assert_eq!(
                serde_json::to_value(outcome).unwrap(),
                json!(outcome.as_str())
            );
        }
        for risk in crate::Risk::ALL {
            assert_eq!(risk.as_str().parse::<crate::Risk>(), Ok(*risk));
            assert_eq!(serde_json::to_value(risk).unwrap(), json!(risk.as_str()));
        }
        let err = "unknown".parse::<TaskState>().unwrap_err();
        assert_eq!(err.kind, "task state");
        assert!(err.to_string().contains("awaiting_confirmation"), "{err}");
        assert!("unknown".parse::<StepOutcome>().is_err());
        assert!("extreme".parse::<crate::Risk>().is_err());
    }

    #[test]
    fn bodies_are_what_the_routes_take() {
        assert_eq!(
            serde_json::to_value(NewTask::new("open a terminal")).unwrap(),
            json!({"goal": "open a terminal"})
        );
        assert_eq!(
            serde_json::to_value(ConfirmAnswer { approve: false }).unwrap(),
            json!({"approve": false})
        );
        assert!(serde_json::from_value::<NewTask>(json!({"goal": "g", "extra": 1})).is_err());
    }
}
