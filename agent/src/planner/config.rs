//! The `[planner]` section of `digios.toml`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PlannerConfig {
    /// Most actions one task may take before it gives up.
    pub max_steps: u32,
    /// Longest one model decision or one action may take.
    pub step_timeout_secs: u64,
    /// Longest a task may work, not counting time spent waiting for the user.
    pub task_timeout_secs: u64,
    /// How long a confirm-tier action waits for an answer before it counts as declined.
    pub confirmation_timeout_secs: u64,
    /// How long to wait for the desktop to show an action's effect.
    pub verify_timeout_secs: u64,
    /// Invalid tool calls in a row after which the task fails.
    pub max_invalid_tool_calls: u32,
    /// Run goals the intent parser understands without asking the model.
    pub fast_paths: bool,
    /// Upper bound on tokens per tool call.
    pub max_tokens: u32,
    /// Memory search hits shown to the model.
    pub memory_hits: u32,
}

impl Default for PlannerConfig {
    fn default() -> Self {
        Self {
            max_steps: 12,
            step_timeout_secs: 120,
            task_timeout_secs: 600,
            confirmation_timeout_secs: 600,
            verify_timeout_secs: 15,
            max_invalid_tool_calls: 3,
            fast_paths: true,
            max_tokens: 160,
            memory_hits: 3,
        }
    }
}

impl PlannerConfig {
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let positive = [
            ("max_steps", self.max_steps as u64),
            ("step_timeout_secs", self.step_timeout_secs),
            ("task_timeout_secs", self.task_timeout_secs),
            ("confirmation_timeout_secs", self.confirmation_timeout_secs),
            ("verify_timeout_secs", self.verify_timeout_secs),
            ("max_invalid_tool_calls", self.max_invalid_tool_calls as u64),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err((key, "must be at least 1".into()));
            }
        }
        if self.max_tokens < 32 {
            return Err(("max_tokens", "must be at least 32".into()));
        }
        Ok(())
    }
}
