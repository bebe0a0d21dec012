//! The model's tools: every action of the catalogue plus `finish`, as one
//! JSON schema the sampler's grammar enforces. The schema is grounded in the
//! current desktop each step: window ids are the open windows' ids and app
//! names the configured apps, so a tiny model cannot name a window that does
//! not exist. Active skills join as `skill` calls, one variant per skill
//! with its own (grounded) params.

use serde_json::{Map, Value, json};

use crate::actions::{self, ActionRequest, ActionsConfig};
use crate::skills::SkillVersion;
use digios_ipc::Window;

/// The tool that ends a task.
pub const FINISH: &str = "finish";
/// The tool that calls a skill: `{"action": "skill", "params": {"name", "args"}}`.
pub const SKILL: &str = "skill";
/// Bounds on strings the model writes, so generation always ends.
const TEXT_MAX: u64 = 100;
/// Bounds on numbers the model writes: pixels on any real screen.
const COORDINATE: (i64, i64) = (-8192, 16384);
const SHORT_MAX: u64 = 80;
const SUMMARY_MAX: u64 = 120;

/// One decision of the model.
#[derive(Debug, Clone)]
pub enum ToolCall {
    Act(ActionRequest),
    Skill { name: String, args: Value },
    Finish { summary: String },
}

impl ToolCall {
    /// The call as the model wrote it, for steps and repetition checks.
    pub fn to_json(&self) -> Value {
        match self {
            ToolCall::Act(request) => {
                json!({"action": request.action_type, "params": request.params})
            }
            ToolCall::Skill { name, args } => {
                json!({"action": SKILL, "params": {"name": name, "args": args}})
            }
            ToolCall::Finish { summary } => {
                json!({"action": FINISH, "params": {"summary": summary}})
            }
        }
    }
}

/// The schema of one tool call: `{"action": NAME, "params": {...}}`.
/// `marks` is how many numbered marks of the latest screen analysis the
/// model was shown; a click may name one of them (none: no mark at all).
pub fn tool_schema(windows: &[Window], actions: &ActionsConfig, marks: usize) -> Value {
    tool_schema_with_skills(windows, actions, marks, &[])
}

/// [`tool_schema`] plus one `skill` variant per skill whose params the
/// grammar can express.
pub fn tool_schema_with_skills(
    windows: &[Window],
    actions: &ActionsConfig,
    marks: usize,
    skills: &[SkillVersion],
) -> Value {
    let window_ids: Vec<Value> = windows.iter().map(|w| json!(w.id)).collect();
    let apps: Vec<Value> = actions.apps.keys().map(|name| json!(name)).collect();
    let mut variants = Vec::new();
    for spec in actions::catalogue() {
        let Some(params) = ground_params(&spec.params_schema, &window_ids, &apps, marks) else {
            continue;
        };
        variants.push(variant(spec.action_type, params));
    }
    for skill in skills {
        let Some(args) = ground_params(&skill.params, &window_ids, &apps, marks) else {
            continue;
        };
        variants.push(variant(
            SKILL,
            json!({
                "type": "object",
                "properties": {"name": {"const": skill.name}, "args": args},
                "required": ["name", "args"],
                "additionalProperties": false
            }),
        ));
    }
    variants.push(variant(
        FINISH,
        json!({
            "type": "object",
            "properties": {"summary": {"type": "string", "minLength": 1, "maxLength": SUMMARY_MAX}},
            "required": ["summary"],
            "additionalProperties": false
        }),
    ));
    json!({ "anyOf": variants })
}

fn variant(name: &str, params: Value) -> Value {
    json!({
        "type": "object",
        "properties": {"action": {"const": name}, "params": params},
        "required": ["action", "params"],
        "additionalProperties": false
    })
}

/// Rewrites a catalogue params schema for the model: windows by id from the
/// open ones, apps by configured name, bounded strings, no free command
/// lines. `None` when the action cannot apply (it needs a window and none is open).
fn ground_params(
    schema: &Value,
    window_ids: &[Value],
    apps: &[Value],
    marks: usize,
) -> Option<Value> {
    let properties = schema.get("properties").and_then(Value::as_object);
    let required: Vec<String> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut grounded = Map::new();
    let mut keep_required = Vec::new();
    for (name, property) in properties.into_iter().flatten() {
        let grounded_property = match name.as_str() {
            "window_id" => {
                if window_ids.is_empty() {
                    return None;
                }
                json!({"enum": window_ids})
            }
            // Windows are named by id only; names are for people. A launch
            // names a configured app, never a free command line.
            "window" => continue,
            "command" if !required.contains(name) => continue,
            // Marks are numbered from the analysis the model was shown; the
            // click resolves them against that (the latest) analysis.
            "mark" if marks == 0 => continue,
            "mark" => json!({"type": "integer", "minimum": 1, "maximum": marks}),
            "analysis_id" => continue,
            "app" => {
                if apps.is_empty() {
                    return None;
                }
                json!({"enum": apps})
            }
            _ => match simplify(name, property) {
                Some(simple) => simple,
                None if required.contains(name) => return None,
                None => continue,
            },
        };
        if required.contains(name) || name == "window_id" || name == "app" {
            keep_required.push(json!(name));
        }
        grounded.insert(name.clone(), grounded_property);
    }
    Some(json!({
        "type": "object",
        "properties": grounded,
        "required": keep_required,
        "additionalProperties": false
    }))
}

/// A property schema the grammar can take: one plain type, strings bounded.
/// `None` for what the model should not fill in (references, nested objects).
fn simplify(name: &str, property: &Value) -> Option<Value> {
    let kind = match property.get("type")? {
        Value::String(kind) => kind.clone(),
        Value::Array(kinds) => kinds
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null")?
            .to_string(),
        _ => return None,
    };
    match kind.as_str() {
        "string" => {
            let max = match name {
                "text" | "content" | "command" => TEXT_MAX,
                _ => SHORT_MAX,
            };
            Some(json!({"type": "string", "minLength": 1, "maxLength": max}))
        }
        "integer" | "number" => {
            let minimum = if matches!(name, "width" | "height") {
                1
            } else {
                COORDINATE.0
            };
            Some(json!({"type": "integer", "minimum": minimum, "maximum": COORDINATE.1}))
        }
        "boolean" => Some(json!({"type": "boolean"})),
        _ => None,
    }
}

/// Parses the model's reply into a tool call; the error says what is wrong
/// in words the model can act on.
pub fn parse_tool_call(text: &str) -> Result<ToolCall, String> {
    let value: Value = serde_json::from_str(text.trim())
        .map_err(|err| format!("the reply is not one JSON object: {err}"))?;
    let Some(object) = value.as_object() else {
        return Err("the reply must be a JSON object".into());
    };
    let Some(action) = object.get("action").and_then(Value::as_str) else {
        return Err("the reply has no \"action\" name".into());
    };
    let params = object.get("params").cloned().unwrap_or(json!({}));
    if action == FINISH {
        let summary = params
            .get("summary")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_string();
        return Ok(ToolCall::Finish { summary });
    }
    if action == SKILL {
        let Some(name) = params.get("name").and_then(Value::as_str) else {
            return Err("a skill call needs params.name, the skill's name".into());
        };
        let args = params.get("args").cloned().unwrap_or(json!({}));
        return Ok(ToolCall::Skill {
            name: name.to_string(),
            args,
        });
    }
    Ok(ToolCall::Act(ActionRequest {
        action_type: action.to_string(),
        params,
    }))
}

/// The action's name for an invalid reply, when one can be read from it.
pub fn named_action(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text.trim()).ok()?;
    value
        .get("action")
        .and_then(Value::as_str)
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use digios_ipc::Rect;

    fn window(id: u64) -> Window {
        Window {
            id,
            app_id: Some("foot".into()),
            title: Some("shell".into()),
            geometry: Rect::new(0, 0, 10, 10),
            title_bar: None,
            focused: true,
            maximized: false,
            minimized: false,
            fullscreen: false,
            pid: None,
            output: None,
        }
    }

    #[test]
    fn the_schema_is_grounded_and_bounded() {
        let schema = tool_schema(&[window(7)], &ActionsConfig::default(), 0);
        assert!(
            crate::llm::unbounded_strings(&schema).is_empty(),
            "{schema}"
        );
        let text = schema.to_string();
        assert!(text.contains("\"enum\":[7]"), "{text}");
        assert!(text.contains("\"terminal\""), "{text}");
        assert!(text.contains("\"finish\""));
        assert!(!text.contains("$ref"), "{text}");
    }

    #[test]
    fn skills_join_the_schema_as_skill_calls() {
        let skill = crate::skills::SkillVersion {
            name: "open_and_type".into(),
            version: 1,
            description: "d".into(),
            params: json!({"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}),
            code: String::new(),
            author_model: None,
            parent_version: None,
            tests: Vec::new(),
            replaced_version: None,
            state: crate::skills::VersionState::Active,
            state_reason: None,
            live_calls: 0,
            live_failures: 0,
            created_at_ms: 0,
        };
        let schema = tool_schema_with_skills(&[], &ActionsConfig::default(), 0, &[skill]);
        assert!(
            crate::llm::unbounded_strings(&schema).is_empty(),
            "{schema}"
        );
        let text = schema.to_string();
        assert!(text.contains(r#""const":"open_and_type""#), "{text}");
        let call = parse_tool_call(
            r#"{"action":"skill","params":{"name":"open_and_type","args":{"text":"hi"}}}"#,
        );
        assert!(
            matches!(&call, Ok(ToolCall::Skill { name, args }) if name == "open_and_type" && args["text"] == "hi"),
            "{call:?}"
        );
        assert!(parse_tool_call(r#"{"action":"skill","params":{}}"#).is_err());
    }

    #[test]
    fn window_actions_need_a_window() {
        let schema = tool_schema(&[], &ActionsConfig::default(), 0).to_string();
        assert!(!schema.contains("close_window"), "{schema}");
        assert!(schema.contains("launch_app"));
    }

    #[test]
    fn replies_parse_into_calls_or_say_why_not() {
        assert!(matches!(
            parse_tool_call(r#"{"action":"finish","params":{"summary":"done"}}"#),
            Ok(ToolCall::Finish { summary }) if summary == "done"
        ));
        assert!(matches!(
            parse_tool_call(r#"{"action":"click","params":{"x":1,"y":2}}"#),
            Ok(ToolCall::Act(_))
        ));
        assert!(parse_tool_call("click the thing").is_err());
        assert!(parse_tool_call("[1]").is_err());
        assert!(parse_tool_call(r#"{"params":{}}"#).is_err());
    }
}
