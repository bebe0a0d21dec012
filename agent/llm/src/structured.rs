//! Structured output: a constraint shapes the tokens, but only parsing proves the result.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{LlmError, StopReason};

/// Parses a reply as one JSON value of type `T`. A reply cut off by `max_tokens` or
/// cancellation, or one that does not fit `T`, is an [`LlmError::OutputMismatch`].
pub fn parse_json_output<T: DeserializeOwned>(
    text: &str,
    stop_reason: StopReason,
) -> Result<T, LlmError> {
    let mismatch = |reason: String| LlmError::OutputMismatch {
        output: text.to_string(),
        reason,
    };
    match stop_reason {
        StopReason::MaxTokens => {
            return Err(mismatch(
                "generation reached max_tokens before the value was complete".into(),
            ));
        }
        StopReason::Cancelled => return Err(mismatch("generation was cancelled".into())),
        StopReason::EndOfText | StopReason::StopString => {}
    }
    serde_json::from_str(text.trim()).map_err(|error| mismatch(error.to_string()))
}

/// JSON pointers of string schemas that put no bound on their length (no `maxLength`,
/// `enum`, `const` or `pattern`). A grammar from such a schema lets the model write one
/// string until `max_tokens` runs out, so the reply never parses.
pub fn unbounded_strings(schema: &Value) -> Vec<String> {
    let mut found = Vec::new();
    walk(schema, String::new(), &mut found);
    found
}

fn walk(schema: &Value, pointer: String, found: &mut Vec<String>) {
    let Value::Object(map) = schema else {
        return;
    };
    let is_string = match map.get("type") {
        Some(Value::String(kind)) => kind == "string",
        Some(Value::Array(kinds)) => kinds.iter().any(|kind| kind == "string"),
        _ => false,
    };
    let bounded = ["maxLength", "enum", "const", "pattern"]
        .iter()
        .any(|key| map.contains_key(*key));
    if is_string && !bounded {
        found.push(if pointer.is_empty() {
            "/".into()
        } else {
            pointer.clone()
        });
    }
    for (key, child) in map {
        match key.as_str() {
            "properties" | "$defs" | "definitions" | "patternProperties" => {
                if let Value::Object(children) = child {
                    for (name, child) in children {
                        walk(child, format!("{pointer}/{key}/{name}"), found);
                    }
                }
            }
            "anyOf" | "oneOf" | "allOf" | "prefixItems" => {
                if let Value::Array(children) = child {
                    for (index, child) in children.iter().enumerate() {
                        walk(child, format!("{pointer}/{key}/{index}"), found);
                    }
                }
            }
            "items" | "additionalProperties" | "not" => {
                walk(child, format!("{pointer}/{key}"), found)
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_strings_without_a_bound() {
        let schema = json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 10},
                "note": {"type": "string"},
                "kind": {"type": "string", "enum": ["a", "b"]},
                "tags": {"type": "array", "items": {"type": "string"}}
            }
        });
        assert_eq!(
            unbounded_strings(&schema),
            vec!["/properties/note", "/properties/tags/items"]
        );
    }

    #[test]
    fn cut_off_output_is_a_typed_error() {
        let error = parse_json_output::<Value>("{\"a\": ", StopReason::MaxTokens).unwrap_err();
        assert!(matches!(error, LlmError::OutputMismatch { .. }));
        let error = parse_json_output::<Value>("{\"a\": ", StopReason::EndOfText).unwrap_err();
        assert!(matches!(error, LlmError::OutputMismatch { .. }));
        let value: Value = parse_json_output(" {\"a\": 1}\n", StopReason::EndOfText).unwrap();
        assert_eq!(value, json!({"a": 1}));
    }
}
