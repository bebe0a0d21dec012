//! Tasks end to end: a headless compositor and `digios agent` with the real
//! SmolLM2 model, each a real process, driven through `POST /api/tasks`.
//! Success is read off the compositor's window list and the terminal's
//! output, never the agent's own word.

use std::path::Path;
use std::time::{Duration, Instant};

use digios_tests::api_client::ApiClient;
use digios_tests::digios::{Desktop, start_desktop_with_config};
use serde_json::{Value, json};

/// The API client plus what these tests ask of tasks.
struct Api(ApiClient);

impl std::ops::Deref for Api {
    type Target = ApiClient;
    fn deref(&self) -> &ApiClient {
        &self.0
    }
}

impl Api {
    fn new(desktop: &Desktop) -> Self {
        Self(ApiClient::new(&desktop.url))
    }

    fn terminals(&self) -> Vec<Value> {
        self.windows()
            .into_iter()
            .filter(|w| w["app_id"] == "foot")
            .collect()
    }

    /// Submits a goal and waits until its task has finished.
    fn run_task(&self, goal: &str) -> Value {
        let (status, task) = self.post("/api/tasks", json!({"goal": goal}));
        assert_eq!(status, 202, "{goal}: {task}");
        assert_eq!(task["goal"], goal);
        let id = task["id"].as_i64().unwrap();
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let (status, view) = self.get(&format!("/api/tasks/{id}"));
            assert_eq!(status, 200, "{view}");
            if view["finished_at_ms"].is_i64() {
                return view;
            }
            // A confirm-tier step the model chose (a shell command): say no.
            if view["state"] == "awaiting_confirmation" {
                let (status, body) = self.post(
                    &format!("/api/tasks/{id}/confirm"),
                    json!({"approve": false}),
                );
                assert_eq!(status, 200, "{body}");
            }
            assert!(Instant::now() < deadline, "{goal}: not finished: {view}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn wait_for(&self, what: &str, pred: impl Fn(&Api) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !pred(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn succeeded(goal: &str, view: &Value) {
    assert_eq!(view["state"], "succeeded", "{goal}: {view:#}");
    assert!(
        !view["steps"].as_array().unwrap().is_empty(),
        "{goal}: no steps stored"
    );
}

/// The terminal app: foot running a shell that writes the first line it
/// reads to `out`, then waits.
fn config(out: &Path) -> String {
    let script = format!("read line; echo \"$line\" > {}; read rest", out.display());
    format!(
        "[actions.apps]\nterminal = {}\n\n[planner]\nmax_steps = 3\n",
        json!(["foot", "sh", "-c", script])
    )
}

#[test]
fn simple_commands_act_on_the_desktop_and_a_free_goal_ends_clearly() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("typed.txt");
    let mut desktop = start_desktop_with_config(&config(&out));
    let api = Api::new(&desktop);

    let view = api.run_task("open a terminal");
    succeeded("open a terminal", &view);
    let terminals = api.terminals();
    assert_eq!(terminals.len(), 1, "{terminals:?}");
    let id = terminals[0]["id"].clone();

    let view = api.run_task("maximize the window");
    succeeded("maximize the window", &view);
    let window = api.windows().into_iter().find(|w| w["id"] == id).unwrap();
    assert_eq!(window["maximized"], true, "{window}");

    let view = api.run_task("type hello into the terminal");
    succeeded("type hello into the terminal", &view);
    // Return sends the line to the shell, which writes it down.
    let (status, body) = api.post("/api/input/key", json!({"keys": "Return"}));
    assert_eq!(status, 200, "{body}");
    api.wait_for("the typed line", |_| {
        std::fs::read_to_string(&out).unwrap_or_default().trim() == "hello"
    });

    let view = api.run_task("close the terminal window");
    succeeded("close the terminal window", &view);
    assert!(api.terminals().is_empty(), "{:?}", api.windows());

    // Once the screen has been analyzed the model sees numbered marks and
    // may click one by number; the grammar keeps it among them.
    let view = api.run_task("open a terminal");
    succeeded("open a terminal", &view);
    let (status, analysis) = api.get("/api/vision/analyze");
    assert_eq!(status, 200, "{analysis}");
    assert!(
        !analysis["marks"].as_array().unwrap().is_empty(),
        "{analysis:#}"
    );
    let goal = "press the mark that shows the terminal title";
    let view = api.run_task(goal);
    println!("{goal:?} with the model: {view:#}");
    let state = view["state"].as_str().unwrap();
    assert!(
        ["succeeded", "failed", "cancelled"].contains(&state),
        "{goal}: {view:#}"
    );
    for step in view["steps"].as_array().unwrap() {
        assert_ne!(step["outcome"], "invalid_tool_call", "{step:#}");
        if let Some(mark) = step["tool_call"]["params"].get("mark") {
            assert!(mark.as_u64().is_some_and(|n| n >= 1), "{step:#}");
        }
    }
    for terminal in api.terminals() {
        api.post(&format!("/api/windows/{}/close", terminal["id"]), json!({}));
    }
    api.wait_for("the terminal to close", |api| api.terminals().is_empty());

    // Not a fast path: the model decides, under the grammar, until it ends.
    let goal = "make my desktop feel cosy for writing poems";
    let view = api.run_task(goal);
    println!("{goal:?} with the model: {view:#}");
    let state = view["state"].as_str().unwrap();
    assert!(
        ["succeeded", "failed", "cancelled"].contains(&state),
        "{goal}: {view:#}"
    );
    assert!(view["result"].is_string(), "{view:#}");
    let steps = view["steps"].as_array().unwrap();
    assert!(!steps.is_empty(), "{view:#}");
    for step in steps {
        assert_ne!(step["outcome"], "invalid_tool_call", "{step:#}");
        assert!(step["tool_call"]["action"].is_string(), "{step:#}");
    }

    // Memory survives the agent, even killed mid-task: the tasks are still
    // listed after a restart, and the one it was working on is interrupted.
    let (status, running) = api.post("/api/tasks", json!({"goal": goal}));
    assert_eq!(status, 202, "{running}");
    let running_id = running["id"].as_i64().unwrap();
    api.wait_for("the task to start", |api| {
        api.get(&format!("/api/tasks/{running_id}")).1["state"] == "running"
    });
    desktop.restart_agent();
    let api = Api::new(&desktop);
    let (status, tasks) = api.get("/api/tasks?limit=10");
    assert_eq!(status, 200, "{tasks}");
    let goals: Vec<&str> = tasks
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["goal"].as_str().unwrap())
        .collect();
    assert_eq!(tasks[0]["state"], "interrupted", "{tasks:#}");
    assert_eq!(
        goals,
        [
            goal,
            goal,
            "press the mark that shows the terminal title",
            "open a terminal",
            "close the terminal window",
            "type hello into the terminal",
            "maximize the window",
            "open a terminal"
        ]
    );
    assert!(tasks[0].get("steps").is_none(), "lists carry no steps");
}

#[test]
fn the_kill_switch_blocks_input_and_tasks_until_released() {
    let out_dir = tempfile::tempdir().unwrap();
    let desktop = start_desktop_with_config(&config(&out_dir.path().join("unused")));
    let api = Api::new(&desktop);

    let (status, body) = api.post("/api/kill-switch", json!({"engaged": true}));
    assert_eq!((status, body), (200, json!({"engaged": true})));
    let (_, status_body) = api.get("/api/status");
    assert_eq!(status_body["kill_switch"]["engaged"], true);

    let (status, body) = api.post("/api/input/click", json!({"x": 10, "y": 10}));
    assert_eq!(status, 423, "{body}");
    assert_eq!(body["error"]["code"], "kill_switch_engaged");
    let (status, body) = api.post("/api/tasks", json!({"goal": "open a terminal"}));
    assert_eq!(status, 423, "{body}");

    let (status, body) = api.post("/api/kill-switch", json!({"engaged": false}));
    assert_eq!((status, body), (200, json!({"engaged": false})));
    let (status, body) = api.post("/api/input/click", json!({"x": 10, "y": 10}));
    assert_eq!(status, 200, "{body}");

    // Bad requests get typed errors.
    let (status, body) = api.post("/api/tasks", json!({"goal": "  "}));
    assert_eq!(status, 422, "{body}");
    let (status, body) = api.post("/api/tasks", json!({"goal": 5}));
    assert_eq!(status, 422, "{body}");
    let (status, body) = api.get("/api/tasks/999999");
    assert_eq!(status, 404, "{body}");
    let (status, body) = api.post("/api/tasks/999999/confirm", json!({"approve": true}));
    assert_eq!(status, 404, "{body}");

    // A finished task has nothing to confirm or cancel.
    let view = api.run_task("open a terminal");
    succeeded("open a terminal", &view);
    let id = view["id"].as_i64().unwrap();
    let (status, body) = api.post(
        &format!("/api/tasks/{id}/confirm"),
        json!({"approve": true}),
    );
    assert_eq!(status, 409, "{body}");
    let (status, body) = api.post(&format!("/api/tasks/{id}/cancel"), json!({}));
    assert_eq!(status, 409, "{body}");

    // Over the WebSocket: a command starts a task and its events follow.
    let ws_url = format!("{}/api/ws", api.url.replace("http://", "ws://"));
    let (mut socket, _) = tungstenite::connect(ws_url).unwrap();
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_ref() {
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
    }
    let send = |socket: &mut tungstenite::WebSocket<_>, value: Value| {
        socket
            .send(tungstenite::Message::Text(value.to_string().into()))
            .unwrap()
    };
    send(
        &mut socket,
        json!({"type": "subscribe", "topics": ["tasks"]}),
    );
    send(
        &mut socket,
        json!({"type": "request", "id": 1, "method": "POST", "path": "/api/tasks",
               "body": {"goal": "close the terminal window"}}),
    );
    let mut kinds = Vec::new();
    let mut replied = false;
    let finished = loop {
        let tungstenite::Message::Text(text) = socket.read().unwrap() else {
            continue;
        };
        let message: Value = serde_json::from_str(&text).unwrap();
        match message["type"].as_str() {
            Some("reply") => {
                assert_eq!(message["status"], 202, "{message}");
                replied = true;
            }
            Some("event") => {
                assert_eq!(message["topic"], "tasks");
                let kind = message["kind"].as_str().unwrap().to_string();
                if kind == "task_finished" {
                    break message["data"].clone();
                }
                kinds.push(kind);
            }
            _ => {}
        }
    };
    assert!(replied);
    assert_eq!(finished["state"], "succeeded", "{finished:#}");
    assert_eq!(kinds.first().map(String::as_str), Some("task_created"));
    assert!(kinds.iter().any(|k| k == "step_finished"), "{kinds:?}");
    assert!(api.terminals().is_empty());

    // The routes are in the OpenAPI document.
    let (_, doc) = api.get("/api/openapi.json");
    for path in [
        "/api/tasks",
        "/api/tasks/{id}",
        "/api/tasks/{id}/cancel",
        "/api/tasks/{id}/confirm",
        "/api/kill-switch",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing");
    }
}

#[test]
fn without_a_model_fast_paths_run_and_other_goals_get_a_clear_503() {
    let out_dir = tempfile::tempdir().unwrap();
    let mut config = config(&out_dir.path().join("unused"));
    config.push_str("\n[llm.local]\npath = \"/nonexistent/model.gguf\"\n");
    let desktop = start_desktop_with_config(&config);
    let api = Api::new(&desktop);

    let (status, body) = api.post("/api/tasks", json!({"goal": "write a haiku about rain"}));
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("digios model pull"), "{message}");

    let view = api.run_task("please open a terminal");
    succeeded("please open a terminal", &view);
    assert_eq!(api.terminals().len(), 1);
}
