//! The shell's views driven with egui_kittest against a real API: a headless
//! digiOS compositor and `digios agent`, each a real process. Snapshots
//! (rendered by wgpu on lavapipe) live in `tests/snapshots`;
//! `UPDATE_SNAPSHOTS=1` accepts new ones.

mod common;

use std::time::Duration;

use common::{Api, harness, shell, shows, wait_for};
use digios_shell::api::TaskState;
use digios_shell::model::{Connection, Drawer};
use digios_tests::digios::{start_desktop, start_desktop_with_config};
use egui_kittest::kittest::Queryable;
use serde_json::json;

#[test]
fn the_panel_shows_the_agent_and_the_launcher_starts_foot() {
    let desktop = start_desktop();
    let api = Api::new(&desktop.url);
    let mut h = harness(shell(&desktop.url));
    wait_for(&mut h, "the panel to connect and name the model", |h| {
        let model = &h.state().model;
        model.connection == Connection::Up && model.model_name.is_some() && model.status.is_some()
    });
    assert!(shows(&h, "agent: idle"));
    assert!(shows(&h, "voice: unavailable"));
    assert!(shows(&h, "no windows"));
    let model_label = match &h.state().model.model_name {
        Some(Ok(name)) => format!("model: {name}"),
        other => panic!("the agent serves a model, the panel says {other:?}"),
    };
    assert!(shows(&h, &model_label));
    h.snapshot("panel_idle");

    h.get_by_label("Apps").click();
    h.run_ok();
    assert_eq!(h.state().model.drawer, Some(Drawer::Launcher));
    assert!(shows(&h, "Simple SHM"));
    h.get_by_label("Filter apps").type_text("term");
    h.run_ok();
    assert!(
        !shows(&h, "Simple SHM"),
        "the filter hides what does not match"
    );
    h.snapshot("launcher_filtered");
    h.get_by_label_contains("foot").click();
    h.run_ok();
    assert_eq!(
        h.state().model.drawer,
        None,
        "choosing an app closes the launcher"
    );

    api.wait_until("foot to open a window", |api| {
        api.windows().iter().any(|w| w["app_id"] == json!("foot"))
    });
    wait_for(&mut h, "foot in the panel's window list", |h| {
        h.state()
            .model
            .windows
            .iter()
            .any(|w| w.app_id.as_deref() == Some("foot"))
    });
    assert!(
        shows(&h, "Started foot"),
        "a notification says the app started"
    );

    // Clicking a window's button focuses it through the API.
    let foot = h.state().model.windows[0].clone();
    api.action("launch_app", json!({"command": ["weston-simple-shm"]}));
    wait_for(&mut h, "a second window that takes focus", |h| {
        let windows = &h.state().model.windows;
        windows.len() == 2 && !windows.iter().any(|w| w.id == foot.id && w.focused)
    });
    h.get_by_label(&foot.label()).click();
    h.run_ok();
    wait_for(&mut h, "foot focused again", |h| {
        h.state()
            .model
            .windows
            .iter()
            .any(|w| w.id == foot.id && w.focused)
    });
}

#[test]
fn an_unreachable_agent_is_shown_and_retried_until_it_answers() {
    // A port nothing listens on yet, below the ephemeral range, so the
    // agents other tests start on port 0 cannot take it meanwhile.
    let port = (0..2000)
        .map(|i| 20_000 + (std::process::id() as u16 % 5000 + i * 7) % 10_000)
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free port");
    let url = format!("http://127.0.0.1:{port}");
    let mut h = harness(shell(&url));
    wait_for(&mut h, "the panel to say the agent is unreachable", |h| {
        shows(h, "agent unreachable: retrying in")
    });
    assert!(shows(&h, "agent: offline"));
    // Several attempts fail, then the agent comes up on that port.
    std::thread::sleep(Duration::from_millis(1500));
    let bind = format!("127.0.0.1:{port}");
    let (agent, agent_url) = digios_tests::digios::start_agent(&["--bind", &bind]);
    assert_eq!(agent_url, url);
    wait_for(&mut h, "the shell to connect", |h| {
        h.state().model.connection == Connection::Up && shows(h, "agent: idle")
    });
    assert!(!shows(&h, "unreachable"));

    // The agent dies and comes back: the panel says so, then reconnects.
    drop(agent);
    wait_for(&mut h, "the panel to notice the restart", |h| {
        shows(h, "agent restarting: reconnecting")
    });
    let (_agent, _) = digios_tests::digios::start_agent(&["--bind", &bind]);
    wait_for(&mut h, "the shell to reconnect", |h| {
        h.state().model.connection == Connection::Up && shows(h, "Agent reconnected")
    });
}

#[test]
fn empty_goals_long_text_and_large_histories_stay_responsive() {
    let desktop = start_desktop();
    let mut h = harness(shell(&desktop.url));
    wait_for(&mut h, "the connection", |h| {
        h.state().model.connection == Connection::Up
    });
    h.get_by_label("Chat").click();
    h.run_ok();
    assert_eq!(h.state().model.drawer, Some(Drawer::Chat));

    // An empty or blank goal is not sent.
    let goal = h.get_by_label("Goal");
    goal.focus();
    goal.type_text("   ");
    h.run_ok();
    h.key_press(egui::Key::Enter);
    h.run_ok();
    assert!(h.state().model.outbox.is_empty());
    assert!(h.state().model.tasks.is_empty());

    // Long text: the goal field caps input, a long result wraps and is cut.
    let long = "lorem ipsum dolor sit amet ".repeat(2000);
    h.get_by_label("Goal").type_text(&long);
    h.run_ok();
    assert!(h.state().model.goal_input.chars().count() <= 4000);
    h.state_mut().model.goal_input.clear();

    // A large history: ten thousand tasks, one with a long result, selected.
    let tasks: Vec<_> = (1..=10_000)
        .rev()
        .map(|id| {
            serde_json::from_value(json!({
                "id": id,
                "goal": format!("goal number {id} {}", "with many words ".repeat(id % 7)),
                "state": if id % 3 == 0 { "failed" } else { "succeeded" },
                "result": if id == 10_000 { long.clone() } else { format!("result {id}") },
                "created_at_ms": id,
            }))
            .unwrap()
        })
        .collect();
    h.state_mut()
        .model
        .apply(digios_shell::Update::History(Some(tasks)));
    h.state_mut().model.selected_task = Some(10_000);
    h.run_ok();
    assert!(shows(&h, "goal number 10000"));
    assert_eq!(
        h.state().model.task(10_000).unwrap().state,
        TaskState::Succeeded
    );
    assert!(h.state().model.tasks.len() <= digios_shell::backend::HISTORY_LIMIT);
    // Tasks streaming in one by one stay bounded too.
    for id in 10_001..12_001 {
        let task = serde_json::from_value(json!({"id": id, "goal": "again", "state": "succeeded"}))
            .unwrap();
        h.state_mut().model.apply(digios_shell::Update::Task(task));
    }
    h.run_ok();
    assert!(h.state().model.tasks.len() <= digios_shell::model::TASKS_KEPT);
    // Scrolling the history keeps working.
    for _ in 0..5 {
        h.query_all_by_label_contains("#")
            .next()
            .expect("a history row")
            .scroll_down();
        h.run_ok();
    }
}

#[test]
fn a_goal_typed_into_the_chat_runs_and_confirmations_are_answered_there() {
    // launch_app asks first, so the fast path for "open a terminal" waits for a yes.
    let desktop = start_desktop_with_config(
        "[[policy.rules]]\naction = \"launch_app\"\nverdict = \"confirm\"\n",
    );
    let api = Api::new(&desktop.url);
    let mut h = harness(shell(&desktop.url));
    wait_for(&mut h, "the tasks API", |h| {
        let model = &h.state().model;
        model.connection == Connection::Up && model.tasks_supported == Some(true)
    });
    h.get_by_label("Chat").click();
    h.run_ok();
    assert!(shows(&h, "no tasks yet"));

    let submit = |h: &mut egui_kittest::Harness<'_, digios_shell::Shell>, goal: &str| {
        let input = h.get_by_label("Goal");
        input.focus();
        input.type_text(goal);
        h.run_ok();
        h.key_press(egui::Key::Enter);
        h.run_ok();
    };
    submit(&mut h, "open a terminal");
    wait_for(&mut h, "the confirmation in the chat", |h| {
        shows(h, "Confirmation needed") && h.query_all_by_label("Approve").count() == 1
    });
    assert!(shows(&h, "agent: waiting for confirmation"));
    assert!(shows(&h, "launch_app"));
    assert!(api.windows().is_empty(), "nothing runs before the yes");
    h.snapshot("chat_confirmation");

    h.get_by_label("Approve").click();
    h.run_ok();
    wait_for(&mut h, "the task to succeed with its steps shown", |h| {
        let model = &h.state().model;
        let done = model.tasks.iter().any(|t| {
            t.goal == "open a terminal" && t.state == TaskState::Succeeded && !t.steps.is_empty()
        });
        done && shows(h, "Step 1") && shows(h, "Result:")
    });
    assert!(api.windows().iter().any(|w| w["app_id"] == json!("foot")));
    assert!(
        shows(&h, "Done: open a terminal"),
        "a notification tells the result"
    );

    // The same goal again, denied this time: nothing starts.
    submit(&mut h, "open a terminal");
    wait_for(&mut h, "the second confirmation", |h| {
        h.query_all_by_label("Deny").count() == 1
    });
    h.get_by_label("Deny").click();
    h.run_ok();
    wait_for(&mut h, "the denied task to end", |h| {
        let tasks = &h.state().model.tasks;
        tasks.len() == 2 && tasks[0].state.is_finished()
    });
    let denied = &h.state().model.tasks[0];
    assert_ne!(denied.state, TaskState::Succeeded, "{denied:?}");
    assert_eq!(api.windows().len(), 1, "the denied launch opened nothing");
    assert!(shows(&h, "History"));
}

#[test]
fn the_kill_switch_button_engages_and_releases() {
    let desktop = start_desktop();
    let api = Api::new(&desktop.url);
    let mut h = harness(shell(&desktop.url));
    wait_for(&mut h, "the kill switch state", |h| {
        h.state().model.kill_switch() == Some(false)
    });
    h.get_by_label("Kill switch").click();
    h.run_ok();
    wait_for(&mut h, "the switch to engage", |h| {
        h.state().model.kill_switch() == Some(true)
    });
    assert_eq!(
        api.get("/api/status")["kill_switch"]["engaged"],
        json!(true)
    );
    h.get_by_label("Release kill switch").click();
    h.run_ok();
    wait_for(&mut h, "the switch to release", |h| {
        h.state().model.kill_switch() == Some(false)
    });
}
