//! Skill request bodies: a draft to install or test, and a call's params.
//! The agent's skill library takes these types as they are.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /api/skills` and `/api/skills/{name}/test`: a manifest and code,
/// before it has a version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SkillDraft {
    /// `[a-z][a-z0-9_]*`, at most 48 characters.
    pub name: String,
    /// What the skill does, for the planner's model.
    pub description: String,
    /// JSON Schema (an object schema) the call's params must satisfy.
    #[serde(default = "empty_object_schema")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub params: Value,
    /// JavaScript defining `function run(params)`.
    pub code: String,
    /// The model that wrote it; `None` for a person.
    #[serde(default)]
    pub author_model: Option<String>,
    /// The version this one was derived from: provenance only, not checked,
    /// since a draft may move between libraries (the evaluator's sandbox).
    #[serde(default)]
    pub parent_version: Option<i64>,
    #[serde(default)]
    pub tests: Vec<SkillTest>,
}

fn empty_object_schema() -> Value {
    serde_json::json!({"type": "object", "properties": {}})
}

/// One test case: params in, an expectation on what comes out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SkillTest {
    pub name: String,
    #[serde(default = "empty_object")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub params: Value,
    /// `{"returns": V}`, `{"matches": V}` or `{"throws": "text"}`.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub expect: Expectation,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

/// What a test expects of `run(params)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Expectation {
    /// The return value equals this exactly.
    Returns(Value),
    /// The return value contains this: objects by their listed keys
    /// (recursively), arrays and scalars exactly.
    Matches(Value),
    /// The call fails and its message contains this text.
    Throws(String),
}

/// `POST /api/skills/{name}/call` (`?confirm=true` for confirm-tier actions).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SkillCallRequest {
    /// Checked against the skill's params schema.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub params: Value,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_draft_reads_with_its_defaults_and_writes_every_field() {
        let draft: SkillDraft = serde_json::from_value(json!({
            "name": "greet", "description": "says hi", "code": "function run() {}",
            "tests": [{"name": "t", "expect": {"throws": "no"}}]
        }))
        .unwrap();
        assert_eq!(draft.params, json!({"type": "object", "properties": {}}));
        assert_eq!(draft.tests[0].params, json!({}));
        assert_eq!(draft.tests[0].expect, Expectation::Throws("no".into()));
        assert_eq!(
            serde_json::to_value(&draft).unwrap(),
            json!({
                "name": "greet", "description": "says hi",
                "params": {"type": "object", "properties": {}},
                "code": "function run() {}", "author_model": null, "parent_version": null,
                "tests": [{"name": "t", "params": {}, "expect": {"throws": "no"}}]
            })
        );
        assert!(
            serde_json::from_value::<SkillDraft>(
                json!({"name": "g", "description": "", "code": "", "extra": 1})
            )
            .is_err()
        );
        assert_eq!(
            serde_json::to_value(SkillCallRequest {
                params: json!({"text": "hi"})
            })
            .unwrap(),
            json!({"params": {"text": "hi"}})
        );
    }
}
