//! Asking the model for a skill: the prompt (the failing task, its trace and
//! the skill API reference), the JSON schema its reply is held to, and the
//! conversion of that reply into a [`SkillDraft`].

use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::eval::{EvalTask, TaskResult};
use crate::llm::ChatMessage;
use crate::skills::{Expectation, SkillDraft, SkillTest};

/// Bounds on what the model writes, so generation always ends.
const DESCRIPTION_MAX: u64 = 120;
const CODE_MAX: u64 = 600;
const SHORT_MAX: u64 = 80;

/// A whole reply for an unrelated task, so small models see the shape.
const EXAMPLE: &str = r#"{"name": "type_in_terminal", "description": "open a terminal and type a line into it", "params": [{"name": "text", "type": "string", "description": "the line to type"}], "code": "function run(params) {\n  digios.act('launch_app', { app: 'terminal' });\n  const w = digios.waitForWindow({ app_id: 'foot' }, 10000);\n  if (!w) throw new Error('no terminal window');\n  digios.act('type_text', { text: params.text + '\\n' });\n  return { window_id: w.id };\n}", "tests": [{"name": "text is required", "params": [], "throws": "text"}]}"#;

/// The reply's schema; the sampler's grammar enforces it, parsing proves it.
pub fn reply_schema() -> Value {
    let short = json!({"type": "string", "minLength": 1, "maxLength": SHORT_MAX});
    json!({
        "type": "object",
        "properties": {
            // The manifest's rule for names, so a reply never fails on it.
            "name": {"type": "string", "pattern": "^[a-z][a-z0-9_]{2,39}$"},
            "description": {"type": "string", "minLength": 1, "maxLength": DESCRIPTION_MAX},
            "params": {
                "type": "array",
                "maxItems": 4,
                "items": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,29}$"},
                        "type": {"enum": ["string", "number", "boolean"]},
                        "description": short
                    },
                    "required": ["name", "type", "description"],
                    "additionalProperties": false
                }
            },
            "code": {"type": "string", "minLength": 20, "maxLength": CODE_MAX},
            "tests": {
                "type": "array",
                "maxItems": 2,
                "items": {
                    "type": "object",
                    "properties": {
                        "name": short,
                        // Pairs, not an object: an object's properties have no
                        // bound a grammar can hold, and a small model fills them forever.
                        "params": {
                            "type": "array",
                            "maxItems": 3,
                            "items": {
                                "type": "object",
                                "properties": {
                                    "name": {"type": "string", "minLength": 1, "maxLength": 30},
                                    "value": {"type": "string", "maxLength": 40}
                                },
                                "required": ["name", "value"],
                                "additionalProperties": false
                            }
                        },
                        "throws": short
                    },
                    "required": ["name", "params", "throws"],
                    "additionalProperties": false
                }
            }
        },
        "required": ["name", "description", "params", "code", "tests"],
        "additionalProperties": false
    })
}

#[derive(Debug, Deserialize)]
struct Reply {
    name: String,
    description: String,
    params: Vec<Param>,
    code: String,
    tests: Vec<ReplyTest>,
}

#[derive(Debug, Deserialize)]
struct Param {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    description: String,
}

#[derive(Debug, Deserialize)]
struct ReplyTest {
    name: String,
    params: Vec<TestParam>,
    throws: String,
}

#[derive(Debug, Deserialize)]
struct TestParam {
    name: String,
    value: String,
}

/// The model's reply as a draft; `Err` says what is wrong, for the repair prompt.
pub fn parse_reply(text: &str, model: &str, parent: Option<i64>) -> Result<SkillDraft, String> {
    let reply: Reply = serde_json::from_str(text.trim())
        .map_err(|err| format!("the reply is not the JSON object asked for: {err}"))?;
    // A name given twice keeps its first meaning.
    let mut properties = Map::new();
    for param in &reply.params {
        properties
            .entry(param.name.clone())
            .or_insert_with(|| json!({"type": param.kind, "description": param.description}));
    }
    let required: Vec<&String> = properties.keys().collect();
    Ok(SkillDraft {
        name: reply.name.trim().to_lowercase().replace(['-', ' '], "_"),
        description: reply.description,
        params: json!({"type": "object", "properties": properties, "required": required}),
        code: reply.code,
        author_model: Some(model.to_string()),
        parent_version: parent,
        // A test repeating an earlier one's name is a repetition, not a case.
        tests: reply
            .tests
            .into_iter()
            .filter({
                let mut seen = std::collections::HashSet::new();
                move |t| seen.insert(t.name.clone())
            })
            .map(|t| SkillTest {
                name: t.name,
                params: Value::Object(
                    t.params
                        .into_iter()
                        .map(|p| (p.name, Value::String(p.value)))
                        .collect(),
                ),
                expect: Expectation::Throws(t.throws),
            })
            .collect(),
    })
}

/// The first request: who the model is, the API, and the failure to fix.
pub fn prompt(
    reference: &str,
    task: &EvalTask,
    result: &TaskResult,
    installed: &[String],
) -> Vec<ChatMessage> {
    let system = format!(
        "You write skills for digiOS, an operating system run by an AI planner. A skill is a \
         small JavaScript program the planner can call as one tool. Reply with one JSON \
         object: name (snake_case), description (when the planner should use it), params \
         (what varies between calls), code (defines function run(params)), tests (calls \
         that must throw, with the text of the error). For example:\n{EXAMPLE}\n\n{reference}"
    );
    let mut steps = String::new();
    for (index, step) in result.trace.iter().enumerate() {
        steps.push_str(&format!(
            "{}. {} -> {} ({})\n",
            index + 1,
            step.get("tool_call")
                .map(Value::to_string)
                .unwrap_or_default(),
            step.get("observation")
                .and_then(Value::as_str)
                .unwrap_or("")
                .chars()
                .take(200)
                .collect::<String>(),
            step.get("outcome").and_then(Value::as_str).unwrap_or("")
        ));
    }
    if steps.is_empty() {
        steps.push_str("(no step was taken)\n");
    }
    let installed = if installed.is_empty() {
        "none".to_string()
    } else {
        installed.join(", ")
    };
    let user = format!(
        "The planner failed this desktop task ({{home}} is the user's home directory).\nGoal: {}\nWhat went wrong: {}\nIts steps:\n{steps}\
         Skills already installed: {installed}.\n\nWrite one skill that carries out goals like \
         this one in general, taking what varies (paths, text, app names) as params.",
        task.goal,
        result.error.as_deref().unwrap_or("it was slow"),
    );
    vec![ChatMessage::system(system), ChatMessage::user(user)]
}

/// The reference the model sees: how skills work, then each action on one line.
pub fn compact_reference() -> String {
    let mut text = crate::skills::API_REFERENCE.to_string();
    text.push_str("\n## Actions for digios.act (type: params)\n\n");
    for spec in crate::actions::catalogue() {
        let params: Vec<String> = spec
            .params_schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        text.push_str(&format!(
            "- {}({}): {}\n",
            spec.action_type,
            params.join(", "),
            spec.description
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_becomes_a_draft_with_an_object_schema() {
        let reply = json!({
            "name": "Write-Note",
            "description": "write text into a file",
            "params": [
                {"name": "path", "type": "string", "description": "file"},
                {"name": "path", "type": "number", "description": "again"}
            ],
            "code": "function run(p) { return digios.act('write_file', p); }",
            "tests": [
                {"name": "no path", "params": [{"name": "text", "value": "x"}], "throws": "path"},
                {"name": "no path", "params": [], "throws": "path"}
            ]
        });
        let draft = parse_reply(&reply.to_string(), "m", Some(2)).unwrap();
        assert_eq!(draft.name, "write_note");
        assert_eq!(draft.params["required"], json!(["path"]));
        assert_eq!(draft.parent_version, Some(2));
        assert_eq!(draft.tests[0].expect, Expectation::Throws("path".into()));
        assert_eq!(draft.tests[0].params, json!({"text": "x"}));
        assert_eq!(draft.tests.len(), 1, "the repeated test is dropped");
    }

    #[test]
    fn the_example_in_the_prompt_is_a_valid_reply() {
        let draft = parse_reply(EXAMPLE, "m", None).unwrap();
        assert_eq!(draft.name, "type_in_terminal");
        assert!(draft.code.contains("function run(params)"));
    }

    #[test]
    fn a_broken_reply_says_why() {
        let err = parse_reply("{\"name\": 1}", "m", None).unwrap_err();
        assert!(err.contains("not the JSON object"), "{err}");
    }
}
