//! The action engine: every action digiOS can take, with its parameter
//! schema, a description for the model, a risk tier, and how it is carried
//! out. The API's `/api/action`, the window and input routes, and the planner
//! all act through here.

mod desktop;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

pub use desktop::*;

use crate::desktop::{Desktop, DesktopError};

/// How much an action can change or lose; the safety policy decides per tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Risk {
    /// Moves the pointer or reads state.
    Low,
    /// Changes what is on screen or typed into an application.
    Medium,
    /// Starts programs or closes windows (may lose unsaved work).
    High,
}

/// One entry of the action catalogue.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActionSpec {
    pub action_type: &'static str,
    pub description: &'static str,
    pub risk: Risk,
    /// JSON Schema of `params`.
    #[schema(value_type = Object)]
    pub params_schema: Value,
}

/// The `[actions]` section of `digios.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionsConfig {
    /// Apps `launch_app` knows by name: name → command line.
    pub apps: BTreeMap<String, Vec<String>>,
}

impl Default for ActionsConfig {
    fn default() -> Self {
        let foot = vec!["foot".to_string()];
        Self {
            apps: BTreeMap::from([("terminal".into(), foot.clone()), ("foot".into(), foot)]),
        }
    }
}

impl ActionsConfig {
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        for (name, command) in &self.apps {
            if command
                .first()
                .is_none_or(|program| program.trim().is_empty())
            {
                return Err(("apps", format!("app {name:?} has an empty command")));
            }
        }
        Ok(())
    }
}

/// The seed's request shape: `{"action_type": "click", "params": {"x": 500, "y": 300}}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionRequest {
    pub action_type: String,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: Value,
}

/// What an action did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActionOutcome {
    pub action_type: String,
    /// Action-specific details, e.g. the launched pid or the window's new state.
    #[schema(value_type = Object)]
    pub result: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("unknown action_type {given:?}")]
    UnknownAction {
        given: String,
        valid: Vec<&'static str>,
    },
    #[error("invalid params for {action_type}: {message}")]
    InvalidParams {
        action_type: &'static str,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Desktop(#[from] DesktopError),
    #[error(transparent)]
    Mark(#[from] crate::vision::MarkError),
}

/// Parses a request into a typed action: unknown types and invalid params
/// are told apart so callers can answer 400 and 422.
pub fn parse(request: &ActionRequest) -> Result<Action, ActionError> {
    let Some(spec) = catalogue()
        .into_iter()
        .find(|spec| spec.action_type == request.action_type)
    else {
        return Err(ActionError::UnknownAction {
            given: request.action_type.clone(),
            valid: catalogue().iter().map(|s| s.action_type).collect(),
        });
    };
    let params = if request.params.is_null() {
        Value::Object(Default::default())
    } else {
        request.params.clone()
    };
    Action::from_params(spec.action_type, params).map_err(|err| ActionError::InvalidParams {
        action_type: spec.action_type,
        message: err.to_string(),
    })
}

/// Carries out `action` on the desktop.
pub async fn perform(
    desktop: &Desktop,
    config: &ActionsConfig,
    action: Action,
) -> Result<ActionOutcome, ActionError> {
    let action_type = action.action_type().to_string();
    let result = desktop::perform(desktop, config, action).await?;
    Ok(ActionOutcome {
        action_type,
        result,
    })
}
