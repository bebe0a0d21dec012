//! Shared by the `llm_*` tests: the real model from the store, time bounds, a tool schema.
#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use digios_llm::{LocalModel, LocalModelSettings};

pub const SMOLLM2_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

/// The model store: `$DIGIOS_CACHE_DIR/models`, else `~/.cache/digios/models`.
pub fn model_store_dir() -> PathBuf {
    if let Some(cache) = std::env::var_os("DIGIOS_CACHE_DIR") {
        return PathBuf::from(cache).join("models");
    }
    let home = std::env::var_os("HOME").expect("HOME is not set");
    PathBuf::from(home).join(".cache/digios/models")
}

/// The default model's file; a missing file fails the test and says how to get it.
pub fn smollm2_path() -> PathBuf {
    let path = model_store_dir().join(SMOLLM2_FILE);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo xtask setup` to fetch the default models",
        path.display()
    );
    path
}

/// Inference threads for tests; llama.cpp threads spin, so one is kindest to a busy machine.
pub fn test_threads() -> u32 {
    std::env::var("DIGIOS_TEST_LLM_THREADS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(1)
}

pub fn smollm2_settings() -> LocalModelSettings {
    let mut settings = LocalModelSettings::new(smollm2_path()).with_threads(test_threads());
    if let Some(batch) = std::env::var("DIGIOS_TEST_LLM_BATCH")
        .ok()
        .and_then(|value| value.parse().ok())
    {
        settings.batch_size = batch;
    }
    settings
}

/// One SmolLM2 per test binary; requests queue on its thread.
pub fn shared_smollm2() -> Arc<LocalModel> {
    static MODEL: OnceLock<Arc<LocalModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| Arc::new(LocalModel::load(smollm2_settings()).expect("SmolLM2 loads")))
        .clone()
}

/// Fails the test instead of hanging it.
pub async fn within<T>(seconds: u64, what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(seconds), future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {seconds} s"))
}

/// A desktop agent's tool call: one action with its parameters, every string bounded.
pub fn tool_call_schema() -> serde_json::Value {
    let window = serde_json::json!({
        "type": "object",
        "properties": {"window": {"type": "integer", "minimum": 1, "maximum": 999}},
        "required": ["window"],
        "additionalProperties": false
    });
    let variant = |action: &str, params: serde_json::Value| {
        serde_json::json!({
            "type": "object",
            "properties": {"action": {"const": action}, "params": params},
            "required": ["action", "params"],
            "additionalProperties": false
        })
    };
    serde_json::json!({
        "anyOf": [
            variant("launch_app", serde_json::json!({
                "type": "object",
                "properties": {"app": {"type": "string", "enum": [
                    "terminal", "firefox", "files", "editor", "calculator", "settings"
                ]}},
                "required": ["app"],
                "additionalProperties": false
            })),
            variant("type_text", serde_json::json!({
                "type": "object",
                "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 48}},
                "required": ["text"],
                "additionalProperties": false
            })),
            variant("press_key", serde_json::json!({
                "type": "object",
                "properties": {"key": {"type": "string", "enum": [
                    "Return", "Escape", "Tab", "BackSpace", "Delete", "Up", "Down", "Left",
                    "Right", "ctrl+c", "ctrl+v", "ctrl+s", "ctrl+z", "alt+F4", "super"
                ]}},
                "required": ["key"],
                "additionalProperties": false
            })),
            variant("click", serde_json::json!({
                "type": "object",
                "properties": {
                    "x": {"type": "integer", "minimum": 0, "maximum": 3840},
                    "y": {"type": "integer", "minimum": 0, "maximum": 2160}
                },
                "required": ["x", "y"],
                "additionalProperties": false
            })),
            variant("focus_window", window.clone()),
            variant("maximize_window", window.clone()),
            variant("close_window", window),
            variant("done", serde_json::json!({
                "type": "object",
                "properties": {"summary": {"type": "string", "maxLength": 64}},
                "required": ["summary"],
                "additionalProperties": false
            })),
        ]
    })
}

/// The same tool call as a Rust type, as the planner would hold it.
#[derive(Debug, serde::Deserialize, PartialEq)]
#[serde(tag = "action", content = "params", rename_all = "snake_case")]
pub enum ToolCall {
    LaunchApp { app: String },
    TypeText { text: String },
    PressKey { key: String },
    Click { x: u32, y: u32 },
    FocusWindow { window: u32 },
    MaximizeWindow { window: u32 },
    CloseWindow { window: u32 },
    Done { summary: String },
}

pub const AGENT_SYSTEM_PROMPT: &str = "You control a Linux desktop. Answer with exactly one JSON \
tool call: {\"action\": NAME, \"params\": {...}}.
Actions:
- launch_app {\"app\": one of terminal, firefox, files, editor, calculator, settings}
- type_text {\"text\": the text to type}
- press_key {\"key\": e.g. Return, Escape, Tab, ctrl+c, alt+F4}
- click {\"x\": pixels, \"y\": pixels}
- focus_window {\"window\": window id}
- maximize_window {\"window\": window id}
- close_window {\"window\": window id}
- done {\"summary\": what was achieved}
Open windows: [12] Terminal (focused), [27] Firefox - Start Page, [31] Files - Home.";
