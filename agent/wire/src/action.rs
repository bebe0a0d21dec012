//! Actions: the request `/api/action` takes, what it answers, and the
//! catalogue entry `/api/actions` lists.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::UnknownName;

/// How much an action can change or lose; the safety policy decides per tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    /// Moves the pointer or reads state.
    Low,
    /// Changes what is on screen or typed into an application.
    Medium,
    /// Starts programs or closes windows (may lose unsaved work).
    High,
}

impl Risk {
    pub const ALL: &'static [Risk] = &[Risk::Low, Risk::Medium, Risk::High];

    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
        }
    }
}

impl std::str::FromStr for Risk {
    type Err = UnknownName;
    fn from_str(text: &str) -> Result<Self, UnknownName> {
        UnknownName::find("risk", Self::ALL, Self::as_str, text)
    }
}

impl std::fmt::Display for Risk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The seed's request shape: `{"action_type": "click", "params": {"x": 500, "y": 300}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    pub action_type: String,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub params: Value,
}

/// What an action did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionOutcome {
    pub action_type: String,
    /// Action-specific details, e.g. the launched pid or the window's new state.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub result: Value,
}

/// One entry of the action catalogue. The agent's catalogue is a static
/// table, hence the static names; clients read the list as JSON.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ActionSpec {
    pub action_type: &'static str,
    pub description: &'static str,
    pub risk: Risk,
    /// JSON Schema of `params`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub params_schema: Value,
}
