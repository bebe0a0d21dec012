//! The reference for skill authors (people and the model): what a skill
//! looks like and every call of the host API.

use crate::actions;

/// How to write a skill, and the `digios` host API.
pub const API_REFERENCE: &str = r#"# digiOS skills

A skill is JavaScript (ES2023, strict mode) run in an isolated QuickJS. It must
define `function run(params)`, which receives the call's params (already checked
against the skill's params JSON schema) and returns a JSON-serialisable value
(`undefined` becomes null). Throw an Error to fail. Top-level code runs on every
call but may not call the host; keep it to declarations.

There is no file system, network, process, timer or module access: the only way
to affect anything is the `digios` object below. Each call gets a fresh runtime
(nothing persists between calls) with limits: memory (32 MiB by default), CPU time
spent in JavaScript (2 s), wall time including host calls (60 s), and 200 host
calls. Going over a limit stops the skill with a clear error.

## Host API (all calls are synchronous)

- `digios.act(actionType, params)` -> the action's result object.
  Carries out one action of the catalogue below, under the safety policy: an action
  the policy denies throws an Error with `code = "denied"`; one it asks the user
  about waits for the user's answer when the skill runs inside a task (throwing
  `code = "declined"` if they say no), and otherwise throws
  `code = "confirmation_required"` unless the caller pre-approved confirmations. Every action is written to the audit log. Other failures throw
  with the action engine's code (`not_found`, `invalid_params`, `unknown_window`,
  `unavailable`, ...).
- `digios.windows()` -> array of windows: `{id, app_id, title, geometry: {x, y,
  width, height}, title_bar, focused, maximized, minimized, fullscreen, pid,
  output}`.
- `digios.focusedWindow()` -> the focused window, or null.
- `digios.waitForWindow(match, timeoutMs = 5000)` -> the first window whose fields
  match (`{app_id: "foot"}`; strings match as case-insensitive substrings), or null
  once the timeout passes.
- `digios.sleep(ms)` -> waits (counts against the wall-time limit only).
- `digios.memory.search(query, limit = 10)` -> memory hits `{kind, id, snippet,
  score}` (conversations, tasks, observations, facts).
- `digios.memory.facts(kind)` -> `[{kind, key, value}]`; kind is "fact",
  "preference" or omitted for both.
- `digios.log(...values)` (also `console.log`) -> kept with the call's result.

Errors from host calls are `Error`s with `message` and `code`; catch them to try
something else, or let them end the call.

## Manifest

`{"name": "open_and_type", "description": "...", "params": {JSON schema, type
object}, "code": "...", "author_model": "...", "parent_version": N, "tests":
[{"name": "...", "params": {...}, "expect": {"returns": V} | {"matches": V} |
{"throws": "text"}}]}`. `matches` compares objects by the keys it lists. A version
is installed only if it compiles and every test passes; tests run against the
live desktop and policy, so keep them to what is safe to repeat.

## Example

```js
function run(params) {
  digios.act("launch_app", { app: "terminal" });
  const w = digios.waitForWindow({ app_id: "foot" }, 10000);
  if (!w) throw new Error("the terminal did not open");
  digios.act("focus_window", { window_id: w.id });
  digios.act("type_text", { text: params.text });
  return { window_id: w.id };
}
```
"#;

/// [`API_REFERENCE`] followed by the action catalogue: each action's type,
/// risk tier, description and params schema.
pub fn api_reference() -> String {
    let mut text = String::from(API_REFERENCE);
    text.push_str("\n## Actions for digios.act\n\n");
    for spec in actions::catalogue() {
        let risk = serde_json::to_value(spec.risk)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        text.push_str(&format!(
            "- `{}` ({risk} risk): {}\n  params: {}\n",
            spec.action_type, spec.description, spec.params_schema
        ));
    }
    text
}
