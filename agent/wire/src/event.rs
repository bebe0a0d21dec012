//! The event envelope `/api/ws` sends for subscribed topics.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    Windows,
    Tasks,
    Tokens,
    Voice,
    Downloads,
    Services,
    /// `screen_changed` after an action, once the screen has been analyzed.
    Vision,
    /// Evaluation runs and improvement cycles: `eval_*` and `cycle_*` progress.
    Improve,
    /// The language model in use: `model_loading`, `model_selected`, `model_load_failed`.
    Models,
}

impl Topic {
    pub const ALL: [Topic; 9] = [
        Topic::Windows,
        Topic::Tasks,
        Topic::Tokens,
        Topic::Voice,
        Topic::Downloads,
        Topic::Services,
        Topic::Vision,
        Topic::Improve,
        Topic::Models,
    ];
}

/// One event; `seq` orders every event of every topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    pub seq: u64,
    pub topic: Topic,
    /// What happened, e.g. `window_opened`, `step_finished`, `progress`.
    pub kind: String,
    pub data: Value,
}
