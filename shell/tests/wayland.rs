//! `digios-shell` as a real Wayland client of the headless digiOS compositor,
//! driven only through the public API, as the agent would: pixels from the
//! screenshot route, clicks and keys from the input actions.

mod common;

use std::process::{Child, Command, Stdio};

use common::{Api, apps};
use digios_shell::model::Model;
use digios_shell::views;
use digios_tests::digios::{Desktop, start_desktop};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use serde_json::json;

/// The shell process, killed when dropped.
struct ShellProcess(Child);

impl Drop for ShellProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_shell(desktop: &Desktop, home: &std::path::Path) -> ShellProcess {
    let child = Command::new(env!("CARGO_BIN_EXE_digios-shell"))
        .env("XDG_RUNTIME_DIR", desktop.runtime_dir.path())
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_DATA_DIRS", home.join("system"))
        .args([
            "--api",
            &desktop.url,
            "--wayland-display",
            &desktop.wayland_display,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn digios-shell");
    ShellProcess(child)
}

/// Where a panel widget sits on a screen `width` points wide: the same
/// views laid out in a harness.
fn panel_position(width: f32, label: &str) -> egui::Pos2 {
    let harness = Harness::builder()
        .with_size(egui::vec2(width, views::PANEL_HEIGHT))
        .with_context_setup(views::configure)
        .build_ui_state(
            |ui, model: &mut Model| views::panel(ui, model),
            Model::new(apps()),
        );
    harness.get_by_label(label).rect().center()
}

/// Share of the pixels in `rows` × `cols` equal to `rgb`.
fn share(
    shot: &(u32, u32, Vec<u8>),
    rows: std::ops::Range<u32>,
    cols: std::ops::Range<u32>,
    rgb: [u8; 3],
) -> f64 {
    let (w, _, pixels) = shot;
    let mut hits = 0;
    let mut all = 0;
    for y in rows {
        for x in cols.clone() {
            let i = ((y * w + x) * 4) as usize;
            all += 1;
            if pixels[i..i + 3] == rgb {
                hits += 1;
            }
        }
    }
    hits as f64 / all as f64
}

/// Share of the pixels in `rows` × `cols` that differ between two screenshots.
fn changed(
    a: &(u32, u32, Vec<u8>),
    b: &(u32, u32, Vec<u8>),
    rows: std::ops::Range<u32>,
    cols: std::ops::Range<u32>,
) -> f64 {
    let w = a.0;
    let all = rows.len() * cols.len();
    let differ = rows
        .flat_map(|y| cols.clone().map(move |x| ((y * w + x) * 4) as usize))
        .filter(|&i| a.2[i..i + 3] != b.2[i..i + 3])
        .count();
    differ as f64 / all as f64
}

#[test]
fn the_shell_maps_as_a_panel_and_its_launcher_starts_foot() {
    let desktop = start_desktop();
    let api = Api::new(&desktop.url);
    let home = tempfile::tempdir().unwrap();
    let before = api.screenshot();
    let (width, height) = (before.0, before.1);
    // egui's dark panel fill.
    let fill = [27, 27, 27];
    let panel_rows = 0..views::PANEL_HEIGHT as u32;
    assert!(share(&before, panel_rows.clone(), 0..width, fill) < 0.5);

    let _shell = start_shell(&desktop, home.path());
    api.wait_until("the panel in the screenshot", |api| {
        share(&api.screenshot(), 0..2, 0..width, fill) > 0.95
    });

    // A click where the panel's Apps button is opens the launcher below it.
    let apps_button = panel_position(width as f32, "Apps");
    let drawer = views::DRAWER_SIZE;
    let drawer_rows =
        views::PANEL_HEIGHT as u32 + 40..views::PANEL_HEIGHT as u32 + drawer.y as u32 - 10;
    let drawer_cols = 10..drawer.x as u32 - 10;
    let closed = api.screenshot();
    api.action(
        "click",
        json!({"x": apps_button.x.round(), "y": apps_button.y.round()}),
    );
    api.wait_until("the launcher to open", |api| {
        changed(
            &closed,
            &api.screenshot(),
            drawer_rows.clone(),
            drawer_cols.clone(),
        ) > 0.5
    });

    // The launcher has the keyboard: type to filter, Enter starts the match.
    api.action("type_text", json!({"text": "foot"}));
    api.action("key", json!({"keys": "Return"}));
    api.wait_until("foot in the window list", |api| {
        api.windows().iter().any(|w| w["app_id"] == json!("foot"))
    });
    let foot = api
        .windows()
        .into_iter()
        .find(|w| w["app_id"] == json!("foot"))
        .unwrap();
    let top = foot["title_bar"]["y"]
        .as_i64()
        .or(foot["geometry"]["y"].as_i64())
        .unwrap();
    assert!(
        top >= views::PANEL_HEIGHT as i64,
        "new windows go below the panel's exclusive zone: {foot}"
    );
    assert!(height > views::PANEL_HEIGHT as u32);

    // The chat: a click on its button, a goal typed, Enter; the task runs
    // and its steps are in memory.
    let chat_button = panel_position(width as f32, "Chat");
    let chat_cols = width - drawer.x as u32 + 10..width - 10;
    let closed = api.screenshot();
    api.action(
        "click",
        json!({"x": chat_button.x.round(), "y": chat_button.y.round()}),
    );
    api.wait_until("the chat to open", |api| {
        changed(
            &closed,
            &api.screenshot(),
            drawer_rows.clone(),
            chat_cols.clone(),
        ) > 0.5
    });
    let goal = "close the terminal window";
    api.action("type_text", json!({"text": goal}));
    api.action("key", json!({"keys": "Return"}));
    api.wait_until("the task the chat started", |api| {
        tasks(api).iter().any(|t| t["goal"] == json!(goal))
    });
    let id = tasks(&api)
        .into_iter()
        .find(|t| t["goal"] == json!(goal))
        .and_then(|t| t["id"].as_i64())
        .unwrap();
    api.wait_until("the task to finish with steps", |api| {
        let task = api.get(&format!("/api/tasks/{id}"));
        task["state"] == json!("succeeded")
            && task["steps"].as_array().is_some_and(|s| !s.is_empty())
    });
    api.wait_until("foot to close", |api| {
        !api.windows().iter().any(|w| w["app_id"] == json!("foot"))
    });
}

fn tasks(api: &Api) -> Vec<serde_json::Value> {
    api.get("/api/tasks?limit=20")
        .as_array()
        .cloned()
        .unwrap_or_default()
}
