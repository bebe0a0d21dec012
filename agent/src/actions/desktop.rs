//! Actions on the desktop: pointer, keys, text, apps and windows, carried out
//! through the compositor.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{Action, ActionError, ActionsConfig};
use crate::desktop::{Desktop, unexpected};
use digios_ipc::{Request, Response, Window};

/// Longest text one `type_text` may type.
pub const MAX_TEXT_CHARS: usize = 10_000;

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ButtonName {
    #[default]
    Left,
    Right,
    Middle,
}

impl From<ButtonName> for digios_ipc::Button {
    fn from(button: ButtonName) -> Self {
        match button {
            ButtonName::Left => digios_ipc::Button::Left,
            ButtonName::Right => digios_ipc::Button::Right,
            ButtonName::Middle => digios_ipc::Button::Middle,
        }
    }
}

/// Click where the pointer is, at `x`, `y`, or on a numbered mark of the
/// latest screen analysis (`GET /api/vision/analyze`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClickParams {
    pub x: Option<f64>,
    pub y: Option<f64>,
    /// A mark number from the latest screen analysis, instead of x,y.
    pub mark: Option<u32>,
    /// The analysis the mark number comes from; refused unless it is the latest.
    pub analysis_id: Option<u64>,
    #[serde(default)]
    pub button: ButtonName,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PointParams {
    pub x: f64,
    pub y: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DragParams {
    pub from_x: f64,
    pub from_y: f64,
    pub to_x: f64,
    pub to_y: f64,
    #[serde(default)]
    pub button: ButtonName,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScrollParams {
    pub x: Option<f64>,
    pub y: Option<f64>,
    #[serde(default)]
    pub dx: f64,
    /// Positive scrolls down.
    #[serde(default)]
    pub dy: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyParams {
    /// A key or chord by XKB keysym names: `Return`, `ctrl+c`, `alt+F4`.
    pub keys: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextParams {
    pub text: String,
}

/// Launch a known app by name, or a command line.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LaunchParams {
    pub app: Option<String>,
    pub command: Option<Vec<String>>,
}

/// Which window: by id, by app id or title (case-insensitive; the topmost
/// match wins), or the focused window when neither is given.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WindowParams {
    pub window_id: Option<u64>,
    pub window: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveWindowParams {
    pub window_id: Option<u64>,
    pub window: Option<String>,
    pub x: i32,
    pub y: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResizeWindowParams {
    pub window_id: Option<u64>,
    pub window: Option<String>,
    pub width: i32,
    pub height: i32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ToggleWindowParams {
    pub window_id: Option<u64>,
    pub window: Option<String>,
    /// `false` restores.
    #[serde(default = "yes")]
    pub on: bool,
}

fn yes() -> bool {
    true
}

impl Action {
    /// Whether this action sends pointer or keyboard input, which the kill
    /// switch blocks.
    pub fn injects_input(&self) -> bool {
        matches!(
            self,
            Action::Click(_)
                | Action::DoubleClick(_)
                | Action::MovePointer(_)
                | Action::Drag(_)
                | Action::Scroll(_)
                | Action::Key(_)
                | Action::TypeText(_)
        )
    }
}

pub(super) async fn perform(
    desktop: &Desktop,
    config: &ActionsConfig,
    action: Action,
) -> Result<Value, ActionError> {
    let handled = |response: Response| match response {
        Response::Handled => Ok(()),
        other => Err(ActionError::Desktop(unexpected(other))),
    };
    match action {
        Action::Click(p) | Action::DoubleClick(p) if p.x.is_some() != p.y.is_some() => {
            Err(invalid("click", "give both x and y, or neither"))
        }
        Action::Click(p) | Action::DoubleClick(p) if p.mark.is_some() && p.x.is_some() => {
            Err(invalid("click", "give a mark or x and y, not both"))
        }
        Action::Click(p) => click(desktop, p, 1).await,
        Action::DoubleClick(p) => click(desktop, p, 2).await,
        Action::MovePointer(p) => {
            handled(
                desktop
                    .input(Request::PointerMove { x: p.x, y: p.y })
                    .await?,
            )?;
            Ok(json!({"x": p.x, "y": p.y}))
        }
        Action::Drag(p) => {
            let request = Request::Drag {
                from: (p.from_x, p.from_y),
                to: (p.to_x, p.to_y),
                button: p.button.into(),
                steps: 8,
            };
            handled(desktop.request(request).await?)?;
            Ok(json!({"x": p.to_x, "y": p.to_y}))
        }
        Action::Scroll(p) => {
            let request = Request::Scroll {
                x: p.x,
                y: p.y,
                dx: p.dx,
                dy: p.dy,
            };
            handled(desktop.request(request).await?)?;
            Ok(json!({}))
        }
        Action::Key(p) => {
            if p.keys.trim().is_empty() || p.keys.len() > 200 {
                return Err(invalid("key", "keys must be 1 to 200 characters"));
            }
            handled(desktop.request(Request::KeyChord { keys: p.keys }).await?)?;
            Ok(json!({}))
        }
        Action::TypeText(p) => {
            let chars = p.text.chars().count();
            if chars > MAX_TEXT_CHARS {
                return Err(invalid(
                    "type_text",
                    &format!("text has {chars} characters; at most {MAX_TEXT_CHARS}"),
                ));
            }
            handled(desktop.request(Request::Type { text: p.text }).await?)?;
            Ok(json!({"typed_chars": chars}))
        }
        Action::LaunchApp(p) => launch(desktop, config, p).await,
        Action::FocusWindow(p) => {
            let window = resolve_window(desktop, &p).await?;
            changed(desktop, Request::Focus { id: window.id }).await
        }
        Action::MoveWindow(p) => {
            let window = resolve(desktop, p.window_id, p.window).await?;
            let request = Request::Move {
                id: window.id,
                x: p.x,
                y: p.y,
            };
            changed(desktop, request).await
        }
        Action::ResizeWindow(p) => {
            let window = resolve(desktop, p.window_id, p.window).await?;
            let request = Request::Resize {
                id: window.id,
                width: p.width,
                height: p.height,
            };
            changed(desktop, request).await
        }
        Action::MaximizeWindow(p) => {
            toggle(desktop, p, |id, on| Request::Maximize { id, on }).await
        }
        Action::MinimizeWindow(p) => {
            toggle(desktop, p, |id, on| Request::Minimize { id, on }).await
        }
        Action::FullscreenWindow(p) => {
            toggle(desktop, p, |id, on| Request::Fullscreen { id, on }).await
        }
        Action::CloseWindow(p) => {
            let window = resolve_window(desktop, &p).await?;
            match desktop.request(Request::Close { id: window.id }).await? {
                Response::Closing { id } => Ok(json!({"window_id": id})),
                other => Err(unexpected(other).into()),
            }
        }
        other => Err(invalid(
            other.action_type(),
            "not a desktop action; the engine routes it elsewhere",
        )),
    }
}

fn invalid(action_type: &'static str, message: &str) -> ActionError {
    ActionError::InvalidParams {
        action_type,
        message: message.into(),
    }
}

async fn click(desktop: &Desktop, mut p: ClickParams, count: u32) -> Result<Value, ActionError> {
    let mut target = None;
    if let Some(number) = p.mark {
        let mark = crate::vision::marks::resolve(desktop, number, p.analysis_id).await?;
        (p.x, p.y) = (Some(mark.click.x), Some(mark.click.y));
        target = Some(mark);
    }
    let request = Request::Click {
        x: p.x,
        y: p.y,
        button: p.button.into(),
        count,
    };
    match desktop.input(request).await? {
        Response::Handled => {}
        other => return Err(unexpected(other).into()),
    }
    let mut pointer = match desktop.request(Request::Pointer).await? {
        Response::Pointer { x, y } => json!({"x": x, "y": y}),
        _ => json!({}),
    };
    if let (Some(mark), Value::Object(fields)) = (target, &mut pointer) {
        fields.insert(
            "mark".into(),
            serde_json::to_value(mark).unwrap_or_default(),
        );
    }
    Ok(pointer)
}

async fn launch(
    desktop: &Desktop,
    config: &ActionsConfig,
    p: LaunchParams,
) -> Result<Value, ActionError> {
    let command = match (p.app, p.command) {
        (Some(app), None) => {
            let wanted = app.trim().to_lowercase();
            config
                .apps
                .iter()
                .find(|(name, _)| name.to_lowercase() == wanted)
                .map(|(_, command)| command.clone())
                .ok_or_else(|| {
                    let known: Vec<&str> = config.apps.keys().map(String::as_str).collect();
                    ActionError::NotFound(format!(
                        "no app named {app:?}; known apps: {}",
                        known.join(", ")
                    ))
                })?
        }
        (None, Some(command)) if command.first().is_some_and(|p| !p.trim().is_empty()) => command,
        (None, Some(_)) => return Err(invalid("launch_app", "command must name a program")),
        _ => return Err(invalid("launch_app", "give exactly one of app or command")),
    };
    let request = Request::Spawn {
        command: command.clone(),
        env: Vec::new(),
    };
    match desktop.request(request).await? {
        Response::Spawned { pid } => Ok(json!({"pid": pid, "command": command})),
        other => Err(unexpected(other).into()),
    }
}

async fn toggle(
    desktop: &Desktop,
    p: ToggleWindowParams,
    make: impl FnOnce(u64, bool) -> Request,
) -> Result<Value, ActionError> {
    let window = resolve(desktop, p.window_id, p.window).await?;
    changed(desktop, make(window.id, p.on)).await
}

/// Sends a request that changes a window; the compositor answers with the
/// window as it is afterwards, so one round trip carries the result.
async fn changed(desktop: &Desktop, request: Request) -> Result<Value, ActionError> {
    match desktop.request(request).await? {
        Response::Window { window } => {
            Ok(json!({"window_id": window.id, "window": window_json(&window)}))
        }
        other => Err(unexpected(other).into()),
    }
}

pub fn window_json(window: &Window) -> Value {
    serde_json::to_value(window).unwrap_or(Value::Null)
}

async fn resolve_window(desktop: &Desktop, p: &WindowParams) -> Result<Window, ActionError> {
    resolve(desktop, p.window_id, p.window.clone()).await
}

/// Finds the window a selector names; see [`WindowParams`]. Reads the
/// mirror of the desktop; a window it does not hold (yet) is looked for in
/// the compositor's own list.
pub async fn resolve(
    desktop: &Desktop,
    id: Option<u64>,
    name: Option<String>,
) -> Result<Window, ActionError> {
    let mut windows = desktop.windows().await?;
    let mut found = select_window(&windows, id, name.as_deref()).cloned();
    if found.is_none() && desktop.live() {
        windows = desktop.list_windows().await?;
        found = select_window(&windows, id, name.as_deref()).cloned();
    }
    found.ok_or_else(|| {
        let open: Vec<String> = windows
            .iter()
            .map(|w| {
                format!(
                    "{} ({})",
                    w.id,
                    w.title
                        .as_deref()
                        .or(w.app_id.as_deref())
                        .unwrap_or("untitled")
                )
            })
            .collect();
        let open = if open.is_empty() {
            "none".to_string()
        } else {
            open.join(", ")
        };
        let wanted = match (id, name) {
            (Some(id), _) => format!("no window has id {id}"),
            (None, Some(name)) => format!("no window matches {name:?}"),
            (None, None) => "no window has focus".to_string(),
        };
        ActionError::NotFound(format!("{wanted}; open windows: {open}"))
    })
}

/// Windows are listed bottom of the stack first, so the last match is topmost.
fn select_window<'a>(
    windows: &'a [Window],
    id: Option<u64>,
    name: Option<&str>,
) -> Option<&'a Window> {
    if let Some(id) = id {
        return windows.iter().find(|w| w.id == id);
    }
    let Some(name) = name else {
        return windows.iter().find(|w| w.focused);
    };
    let wanted = name.trim().to_lowercase();
    let field = |value: &Option<String>| value.as_deref().unwrap_or("").to_lowercase();
    windows
        .iter()
        .rev()
        .find(|w| field(&w.app_id) == wanted || field(&w.title) == wanted)
        .or_else(|| {
            windows
                .iter()
                .rev()
                .find(|w| field(&w.app_id).contains(&wanted) || field(&w.title).contains(&wanted))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::{ActionRequest, catalogue, parse};
    use digios_ipc::Rect;

    fn window(id: u64, app_id: &str, title: &str, focused: bool) -> Window {
        Window {
            id,
            app_id: Some(app_id.into()),
            title: Some(title.into()),
            geometry: Rect::new(0, 0, 10, 10),
            title_bar: None,
            focused,
            maximized: false,
            minimized: false,
            fullscreen: false,
            pid: None,
            output: None,
        }
    }

    #[test]
    fn windows_are_selected_by_id_name_or_focus() {
        let windows = [
            window(1, "foot", "shell one", false),
            window(2, "foot", "shell two", true),
            window(3, "weston-simple-shm", "simple-shm", false),
        ];
        assert_eq!(select_window(&windows, Some(3), None).unwrap().id, 3);
        assert_eq!(select_window(&windows, None, Some("FOOT")).unwrap().id, 2);
        assert_eq!(
            select_window(&windows, None, Some("shell one")).unwrap().id,
            1
        );
        assert_eq!(select_window(&windows, None, Some("simple")).unwrap().id, 3);
        assert_eq!(select_window(&windows, None, None).unwrap().id, 2);
        assert!(select_window(&windows, Some(9), None).is_none());
    }

    #[test]
    fn unknown_actions_and_bad_params_are_told_apart() {
        let unknown = ActionRequest {
            action_type: "teleport".into(),
            params: json!({}),
        };
        assert!(
            matches!(parse(&unknown), Err(ActionError::UnknownAction { valid, .. }) if valid.contains(&"click"))
        );
        let bad = ActionRequest {
            action_type: "move_pointer".into(),
            params: json!({"x": "left"}),
        };
        assert!(matches!(
            parse(&bad),
            Err(ActionError::InvalidParams { .. })
        ));
        let good = ActionRequest {
            action_type: "click".into(),
            params: json!({"x": 500, "y": 300}),
        };
        assert_eq!(parse(&good).unwrap().action_type(), "click");
    }

    #[test]
    fn every_action_has_a_params_schema() {
        for spec in catalogue() {
            assert!(spec.params_schema.is_object(), "{}", spec.action_type);
        }
    }
}
