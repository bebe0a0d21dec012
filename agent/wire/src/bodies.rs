//! Request bodies of the window, app, memory, model and eval routes.

use serde::{Deserialize, Serialize};

/// `POST /api/windows/{id}/move`: the content's new top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Position {
    pub x: i32,
    pub y: i32,
}

/// `POST /api/windows/{id}/resize`: the content's new size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Size {
    pub width: i32,
    pub height: i32,
}

/// `POST /api/windows/{id}/state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WindowStateChange {
    /// `maximized`, `minimized` or `fullscreen`.
    pub state: WindowStateName,
    /// `false` restores.
    #[serde(default = "yes")]
    pub on: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WindowStateName {
    Maximized,
    Minimized,
    Fullscreen,
}

impl std::str::FromStr for WindowStateName {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "maximized" => Ok(Self::Maximized),
            "minimized" => Ok(Self::Minimized),
            "fullscreen" => Ok(Self::Fullscreen),
            other => Err(format!(
                "unknown window state {other:?}: maximized, minimized or fullscreen"
            )),
        }
    }
}

/// `POST /api/apps/launch`: a configured app by name, or a command line.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LaunchRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
}

impl LaunchRequest {
    pub fn app(name: impl Into<String>) -> Self {
        Self {
            app: Some(name.into()),
            command: None,
        }
    }

    pub fn command(argv: Vec<String>) -> Self {
        Self {
            app: None,
            command: Some(argv),
        }
    }
}

/// `PUT /api/memory/facts/{kind}/{key}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FactValue {
    pub value: String,
}

/// `POST /api/models/{id}/select`: options for loading a model; all may be
/// left out.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SelectModel {
    /// A llama.cpp built-in chat template (`chatml`, `gemma`, ...) for a
    /// model file that carries none. Default: the GGUF's own, or
    /// `llm.local.chat_template` when this is the configured model.
    #[serde(default)]
    pub chat_template: Option<String>,
}

/// `POST /api/eval/runs`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewEvalRun {
    /// Suite tasks to run by name; all when absent or empty.
    #[serde(default)]
    pub tasks: Vec<String>,
}
