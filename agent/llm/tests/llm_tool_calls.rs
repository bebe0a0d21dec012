//! The Done-when bar: under the schema-derived grammar, SmolLM2's reply is a valid tool call
//! for every one of 100 varied desktop goals.

mod llm_support;

use digios_llm::{
    CancellationToken, ChatMessage, ChatRequest, Constraint, GenerationOptions, LanguageModel,
    unbounded_strings,
};
use llm_support::{AGENT_SYSTEM_PROMPT, ToolCall, shared_smollm2, tool_call_schema, within};

/// 100 goals: apps to open, text to type, keys to press, windows to handle, finished tasks.
fn goals() -> Vec<(String, &'static str)> {
    let mut goals = Vec::new();
    let apps = [
        ("a terminal", "launch_app"),
        ("the web browser", "launch_app"),
        ("firefox", "launch_app"),
        ("the file manager", "launch_app"),
        ("a text editor", "launch_app"),
        ("the calculator", "launch_app"),
        ("the settings", "launch_app"),
    ];
    for (app, action) in apps {
        goals.push((format!("Open {app}."), action));
        goals.push((format!("Please start {app} for me"), action));
        goals.push((format!("launch {app}"), action));
    }
    for text in [
        "hello",
        "ls -la",
        "cargo build --release",
        "Dear Sam, thanks for the notes.",
        "git status",
        "https://example.org",
        "2+2",
        "shopping list: milk, eggs",
        "echo done",
        "The quick brown fox",
        "sudo apt update",
        "meeting at 3pm",
        "cd ~/projects",
        "hello world",
        "print(42)",
    ] {
        goals.push((
            format!("Type \"{text}\" into the focused window."),
            "type_text",
        ));
    }
    for (phrase, _key) in [
        ("Press enter.", "Return"),
        ("Hit the escape key", "Escape"),
        ("press tab", "Tab"),
        ("Delete the last character with backspace", "BackSpace"),
        ("Press the delete key", "Delete"),
        ("Move up with the arrow key", "Up"),
        ("press the down arrow", "Down"),
        ("Copy the selection with ctrl+c", "ctrl+c"),
        ("Paste with ctrl+v", "ctrl+v"),
        ("Save the file (ctrl+s)", "ctrl+s"),
        ("Undo that", "ctrl+z"),
        ("Press alt+F4", "alt+F4"),
        ("Open the launcher with the super key", "super"),
        ("press Return to run the command", "Return"),
        ("Stop the running command with control c", "ctrl+c"),
    ] {
        goals.push((phrase.to_string(), "press_key"));
    }
    let windows = [
        ("the terminal", 12),
        ("Firefox", 27),
        ("the file manager", 31),
        ("the browser window", 27),
        ("window 12", 12),
    ];
    for (window, _id) in windows {
        goals.push((format!("Maximize {window}."), "maximize_window"));
        goals.push((format!("Close {window}"), "close_window"));
        goals.push((format!("Switch to {window}"), "focus_window"));
        goals.push((
            format!("Bring {window} to the front and make it full screen"),
            "maximize_window",
        ));
    }
    for (x, y) in [(100, 200), (640, 400), (1200, 30), (20, 780), (960, 540)] {
        goals.push((format!("Click at x={x}, y={y}."), "click"));
    }
    for summary in [
        "The terminal is open.",
        "Everything you asked is done",
        "The text has been typed; the task is complete.",
        "Firefox is maximized, nothing left to do",
        "All windows are closed. Finish.",
        "Task finished",
        "You already did it: report success.",
        "The goal is reached; stop.",
        "Nothing more to do here.",
        "The file manager shows the home folder. That was the goal.",
        "We are done with the calculator.",
        "Report that the settings are open",
        "The command ran successfully. Wrap up.",
        "Done!",
        "Finish the task now.",
    ] {
        goals.push((summary.to_string(), "done"));
    }
    for (goal, action) in [
        ("Open a terminal and list my files", "launch_app"),
        ("I want to browse the web", "launch_app"),
        ("Write good morning in the editor", "type_text"),
        ("Confirm the dialog", "press_key"),
        ("Get rid of the Firefox window", "close_window"),
        ("Make the terminal bigger", "maximize_window"),
        ("Go back to the terminal", "focus_window"),
        ("Click the button in the middle of the screen", "click"),
        ("Close this window", "close_window"),
    ] {
        goals.push((goal.to_string(), action));
    }
    goals.truncate(100);
    goals
}

#[tokio::test]
async fn hundred_of_hundred_goals_give_a_valid_tool_call() {
    let schema = tool_call_schema();
    assert!(
        unbounded_strings(&schema).is_empty(),
        "every string needs a bound"
    );
    let validator = jsonschema::validator_for(&schema).expect("the schema is valid JSON Schema");
    let goals = goals();
    assert_eq!(goals.len(), 100);

    let model = shared_smollm2();
    let mut valid = 0;
    let mut expected_action = 0;
    let mut generated_tokens = 0;
    let mut generation_ms = 0.0;
    let started = std::time::Instant::now();
    for (index, (goal, expected)) in goals.iter().enumerate() {
        let request = ChatRequest::new(vec![
            ChatMessage::system(AGENT_SYSTEM_PROMPT),
            ChatMessage::user(goal.clone()),
        ])
        .with_options(GenerationOptions {
            // Bounded strings keep the longest valid call well under this.
            max_tokens: 200,
            constraint: Some(Constraint::JsonSchema(schema.clone())),
            ..GenerationOptions::default()
        });
        let outcome = within(
            120,
            &format!("goal {index}"),
            model.complete(request, CancellationToken::new()).collect(),
        )
        .await
        .unwrap_or_else(|error| panic!("goal {index} {goal:?}: {error}"));
        generated_tokens += outcome.usage.completion_tokens;
        generation_ms += outcome.usage.generation_ms;

        let value: serde_json::Value = outcome
            .parse_json()
            .unwrap_or_else(|error| panic!("goal {index} {goal:?}: {error}"));
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|error| error.to_string())
            .collect();
        assert!(
            errors.is_empty(),
            "goal {index} {goal:?}: {value} violates the schema: {errors:?}"
        );
        let call: ToolCall = serde_json::from_value(value.clone())
            .unwrap_or_else(|error| panic!("goal {index} {goal:?}: {value}: {error}"));
        valid += 1;
        if value["action"] == *expected {
            expected_action += 1;
        }
        println!("{index:3} {goal:?} -> {call:?}");
    }
    println!(
        "{valid}/100 valid tool calls, {expected_action}/100 with the expected action; \
         {generated_tokens} tokens at {:.1} tok/s under the grammar; {:.1} s in all",
        f64::from(generated_tokens) * 1000.0 / generation_ms,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(valid, 100);
}
