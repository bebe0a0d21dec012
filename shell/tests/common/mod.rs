//! What the shell's tests share: a kittest harness over the whole shell,
//! waiting on the real API, and a small client for driving the desktop.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use digios_shell::launcher::{self, AppEntry};
use digios_shell::{Shell, api, views};
use egui_kittest::Harness;
use serde_json::{Value, json};

pub const SCREEN: egui::Vec2 = egui::vec2(1280.0, 720.0);
const WAIT: Duration = Duration::from_secs(90);

/// The configured apps plus a fixed desktop entry, so what the launcher
/// lists does not depend on the machine.
pub fn apps() -> Vec<AppEntry> {
    let mut apps = launcher::configured_apps();
    apps.push(
        launcher::parse_desktop_entry(
            "[Desktop Entry]\nType=Application\nName=Simple SHM\nComment=Weston's shared-memory demo\nExec=weston-simple-shm\n",
        )
        .expect("a valid entry"),
    );
    apps
}

/// A shell connected to the API at `url`, with its clock pinned.
pub fn shell(url: &str) -> Shell {
    let mut shell = Shell::connect(api::Client::new(url, None), apps(), Arc::new(|| {}));
    shell.model.clock = "12:00".into();
    shell
}

/// The whole shell (panel, drawer, notifications) in a harness rendered by
/// wgpu, as on a 1280×720 screen.
pub fn harness(shell: Shell) -> Harness<'static, Shell> {
    Harness::builder()
        .with_size(SCREEN)
        .wgpu()
        .with_context_setup(views::configure)
        .build_ui_state(
            |ui, shell: &mut Shell| {
                views::desktop(ui, &mut shell.model);
                shell.flush();
            },
            shell,
        )
}

/// Feeds API updates into the harness until `done` holds; panics naming `what`.
pub fn wait_for(
    harness: &mut Harness<'_, Shell>,
    what: &str,
    done: impl Fn(&Harness<'_, Shell>) -> bool,
) {
    let deadline = Instant::now() + WAIT;
    loop {
        harness.state_mut().poll();
        harness.run_ok();
        if done(harness) {
            return;
        }
        if Instant::now() > deadline {
            let model = &harness.state().model;
            panic!(
                "timed out waiting for {what}; connection {:?}, tasks {:#?}, notifications {:#?}",
                model.connection, model.tasks, model.notifications
            );
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Whether any node's accessible name contains `text`.
pub fn shows(harness: &Harness<'_, Shell>, text: &str) -> bool {
    use egui_kittest::kittest::Queryable;
    harness.query_all_by_label_contains(text).next().is_some()
}

/// A plain HTTP client for what the test itself asks of the API.
pub struct Api {
    pub url: String,
    agent: ureq::Agent,
}

impl Api {
    pub fn new(url: &str) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .build()
            .new_agent();
        Self {
            url: url.to_string(),
            agent,
        }
    }

    pub fn get(&self, path: &str) -> Value {
        let mut response = self
            .agent
            .get(format!("{}{path}", self.url))
            .call()
            .expect("GET");
        response.body_mut().read_json().unwrap_or(Value::Null)
    }

    pub fn action(&self, action_type: &str, params: Value) -> Value {
        let mut response = self
            .agent
            .post(format!("{}/api/action", self.url))
            .send_json(json!({"action_type": action_type, "params": params}))
            .expect("POST /api/action");
        let status = response.status().as_u16();
        let body: Value = response.body_mut().read_json().unwrap_or(Value::Null);
        assert!(status < 300, "{action_type} answered {status}: {body}");
        body
    }

    pub fn windows(&self) -> Vec<Value> {
        self.get("/api/windows")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The screen as RGBA rows.
    pub fn screenshot(&self) -> (u32, u32, Vec<u8>) {
        let mut response = self
            .agent
            .get(format!("{}/api/vision/screenshot", self.url))
            .call()
            .expect("GET screenshot");
        let bytes = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_vec()
            .expect("screenshot body");
        let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().expect("PNG header");
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels).expect("PNG frame");
        pixels.truncate(info.buffer_size());
        let rgba = match info.color_type {
            png::ColorType::Rgba => pixels,
            png::ColorType::Rgb => pixels
                .chunks(3)
                .flat_map(|p| [p[0], p[1], p[2], 255])
                .collect(),
            other => panic!("unexpected PNG colour type {other:?}"),
        };
        (info.width, info.height, rgba)
    }

    pub fn wait_until(&self, what: &str, done: impl Fn(&Api) -> bool) {
        let deadline = Instant::now() + WAIT;
        while !done(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
