//! The public API driving a real headless compositor and real Wayland
//! clients, every part a real process.

use std::time::{Duration, Instant};

use digios_tests::api_client::ApiClient;
use digios_tests::digios::start_desktop;
use serde_json::{Value, json};

/// What these tests ask of the API beyond the shared client.
trait DesktopApi {
    fn action(&self, action_type: &str, params: Value) -> Value;
    fn wait_until(&self, what: &str, pred: impl Fn(&ApiClient) -> bool);
}

impl DesktopApi for ApiClient {
    fn action(&self, action_type: &str, params: Value) -> Value {
        let (status, body) = self.post(
            "/api/action",
            json!({"action_type": action_type, "params": params}),
        );
        assert_eq!(status, 200, "{action_type} failed: {body}");
        body
    }

    fn wait_until(&self, what: &str, pred: impl Fn(&ApiClient) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !pred(self) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn rect(window: &Value) -> (i64, i64, i64, i64) {
    let g = &window["geometry"];
    (
        g["x"].as_i64().unwrap(),
        g["y"].as_i64().unwrap(),
        g["width"].as_i64().unwrap(),
        g["height"].as_i64().unwrap(),
    )
}

#[test]
fn a_terminal_is_launched_typed_into_and_closed() {
    let desktop = start_desktop();
    let api = ApiClient::new(&desktop.url);
    let out = desktop.runtime_dir.path().join("typed.txt");
    let script = format!("read line; echo \"$line\" > {}", out.display());
    let launched = api.action(
        "launch_app",
        json!({"command": ["foot", "--app-id", "typing-test", "sh", "-c", script]}),
    );
    assert!(launched["result"]["pid"].as_u64().unwrap() > 0);
    let window = api.wait_window("the foot window", |w| w["app_id"] == "typing-test");
    let (x, y, w, h) = rect(&window);
    api.action("click", json!({"x": x + w / 2, "y": y + h / 2}));
    api.wait_window("focus", |w| {
        w["app_id"] == "typing-test" && w["focused"] == true
    });
    api.action("type_text", json!({"text": "hello from digiOS"}));
    api.action("key", json!({"keys": "Return"}));
    let deadline = Instant::now() + Duration::from_secs(30);
    let typed = || std::fs::read_to_string(&out).unwrap_or_default();
    while typed().trim() != "hello from digiOS" {
        assert!(
            Instant::now() < deadline,
            "typed text never arrived in {}",
            out.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The shell exits after one line, so foot closes its window itself.
    api.wait_until("the window to close", |api| {
        !api.windows().iter().any(|w| w["app_id"] == "typing-test")
    });
}

#[test]
fn window_operations_show_in_the_list_and_the_pixels() {
    let desktop = start_desktop();
    let api = ApiClient::new(&desktop.url);
    api.action(
        "launch_app",
        json!({"command": ["foot", "--app-id", "ops-test"]}),
    );
    let window = api.wait_window("the foot window", |w| w["app_id"] == "ops-test");
    let id = window["id"].as_u64().unwrap();

    let (status, body) = api.post(
        &format!("/api/windows/{id}/move"),
        json!({"x": 300, "y": 200}),
    );
    assert_eq!(status, 200, "{body}");
    let moved = api.wait_window("the move", |w| w["id"] == id && w["geometry"]["x"] == 300);
    assert_eq!(moved["geometry"]["y"], 200);

    // The client's pixels are now at the new place: the window's area is
    // not the empty background any more.
    let (sw, _, full) = api.screenshot("");
    let (x, y, w, h) = rect(&moved);
    let centre = (((y + h / 2) as u32 * sw + (x + w / 2) as u32) * 4) as usize;
    let background = &full[0..4];
    assert_ne!(
        &full[centre..centre + 4],
        background,
        "no client pixels at the window's centre"
    );

    let (status, body) = api.post(
        &format!("/api/windows/{id}/state"),
        json!({"state": "maximized"}),
    );
    assert_eq!(status, 200, "{body}");
    let (_, outputs) = api.get("/api/outputs");
    let screen_width = outputs[0]["logical"]["width"].clone();
    api.wait_window("maximize", |w| {
        w["id"] == id && w["maximized"] == true && w["geometry"]["width"] == screen_width
    });

    let (status, body) = api.post(&format!("/api/windows/{id}/close"), json!({}));
    assert_eq!(status, 200, "{body}");
    api.wait_until("the window to close", |api| {
        !api.windows().iter().any(|w| w["id"] == id)
    });
}

#[test]
fn the_screenshot_reticle_grid_marks_and_scale() {
    let desktop = start_desktop();
    let api = ApiClient::new(&desktop.url);
    api.action("move_pointer", json!({"x": 640, "y": 400}));
    let (w, h, plain) = api.screenshot("");
    assert_eq!((w, h), (1280, 800));
    let (_, _, reticle) = api.screenshot("reticle=true");
    let at = |img: &[u8], x: u32, y: u32| img[((y * w + x) * 4) as usize..][..4].to_vec();
    assert_ne!(
        at(&reticle, 640, 390),
        at(&plain, 640, 390),
        "no reticle at the pointer"
    );
    assert_eq!(
        at(&reticle, 100, 700),
        at(&plain, 100, 700),
        "the reticle spilled far away"
    );
    let (_, _, grid) = api.screenshot("grid=100");
    assert_ne!(grid, plain, "the grid changed nothing");
    let (sw, sh, _) = api.screenshot("scale=0.5");
    assert_eq!((sw, sh), (640, 400));
    let (rw, rh, _) = api.screenshot("region=10,20,300,200");
    assert_eq!((rw, rh), (300, 200));

    let response = api
        .http
        .get(format!("{}/api/vision/screenshot?scale=7", api.url))
        .send()
        .unwrap();
    assert_eq!(response.status(), 422);
    let response = api
        .http
        .get(format!("{}/api/vision/screenshot?window=999999", api.url))
        .send()
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[test]
fn bad_requests_get_typed_errors() {
    let desktop = start_desktop();
    let api = ApiClient::new(&desktop.url);

    let (status, body) = api.post(
        "/api/action",
        json!({"action_type": "teleport", "params": {}}),
    );
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "unknown_action");
    assert!(
        body["error"]["details"]["valid_action_types"]
            .as_array()
            .unwrap()
            .contains(&json!("click"))
    );

    let (status, body) = api.post(
        "/api/action",
        json!({"action_type": "move_pointer", "params": {"x": "left"}}),
    );
    assert_eq!(status, 422);
    assert_eq!(body["error"]["code"], "invalid_params");

    let (status, body) = api.post(
        "/api/action",
        json!({"action_type": "move_pointer", "params": {"x": 99999, "y": 5}}),
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "out_of_bounds");

    let (status, body) = api.post(
        "/api/action",
        json!({"action_type": "key", "params": {"keys": "NoSuchKey"}}),
    );
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "unknown_keysym");

    let (status, body) = api.post("/api/windows/424242/focus", json!({}));
    assert_eq!(status, 404, "{body}");

    let (status, body) = api.post(
        "/api/action",
        json!({"action_type": "launch_app", "params": {"app": "no-such-app"}}),
    );
    assert_eq!(status, 404, "{body}");

    let response = api
        .http
        .post(format!("{}/api/action", api.url))
        .header("content-type", "application/json")
        .body("{\"action_type\": ")
        .send()
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().unwrap();
    assert_eq!(body["error"]["code"], "bad_request");

    let huge = "x".repeat(2 << 20);
    let response = api
        .http
        .post(format!("{}/api/action", api.url))
        .json(&json!({"action_type": "type_text", "params": {"text": huge}}))
        .send()
        .unwrap();
    assert_eq!(response.status(), 413);

    // The compositor going away turns desktop routes into 503s, not crashes.
    drop(desktop.compositor);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = api.get("/api/windows");
        if status == 503 {
            assert_eq!(body["error"]["code"], "unavailable");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {status} after the compositor died"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The event thread marks the compositor down on its own schedule; the
    // status follows once it notices.
    loop {
        let (status, status_body) = api.get("/api/status");
        assert_eq!(status, 200);
        if status_body["status"] == "degraded" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "status still {} after the compositor died",
            status_body["status"]
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn window_events_arrive_in_order_on_the_websocket() {
    let desktop = start_desktop();
    let api = ApiClient::new(&desktop.url);
    let ws_url = format!("{}/api/ws", api.url.replace("http://", "ws://"));
    let (mut socket, _) = tungstenite::connect(ws_url).unwrap();
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_ref() {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
    }
    socket
        .send(tungstenite::Message::Text(
            json!({"type": "subscribe", "topics": ["windows"]})
                .to_string()
                .into(),
        ))
        .unwrap();
    api.action("launch_app", json!({"command": ["weston-simple-shm"]}));
    let window = api.wait_window("weston-simple-shm", |w| {
        w["title"]
            .as_str()
            .is_some_and(|t| t.contains("simple-shm"))
    });
    let id = window["id"].clone();
    let (status, _) = api.post(&format!("/api/windows/{id}/close"), json!({}));
    assert_eq!(status, 200);

    let mut seen: Vec<(u64, String)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen.iter().any(|(_, kind)| kind == "window_closed") {
        assert!(
            Instant::now() < deadline,
            "no window_closed event; saw {seen:?}"
        );
        let message = socket.read().unwrap();
        let tungstenite::Message::Text(text) = message else {
            continue;
        };
        let value: Value = serde_json::from_str(&text).unwrap();
        if value["type"] != "event" {
            continue;
        }
        assert_eq!(value["topic"], "windows");
        seen.push((
            value["seq"].as_u64().unwrap(),
            value["kind"].as_str().unwrap().to_string(),
        ));
    }
    assert!(
        seen.windows(2).all(|pair| pair[0].0 < pair[1].0),
        "sequence numbers out of order: {seen:?}"
    );
    let opened = seen
        .iter()
        .position(|(_, k)| k == "window_opened")
        .expect("window_opened");
    let closed = seen.iter().position(|(_, k)| k == "window_closed").unwrap();
    assert!(opened < closed, "{seen:?}");
}

#[test]
fn concurrent_pointer_moves_are_each_carried_out_or_refused() {
    let desktop = start_desktop();
    let api = std::sync::Arc::new(ApiClient::new(&desktop.url));
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(48));
    let movers: Vec<_> = (0..48)
        .map(|i| {
            let (api, barrier) = (api.clone(), barrier.clone());
            std::thread::spawn(move || {
                // One caller asks for a point off every output.
                let x = if i == 7 {
                    -5000.0
                } else {
                    5.0 + 10.0 * f64::from(i)
                };
                barrier.wait();
                let outcomes: Vec<(u16, Value)> = (0..5)
                    .map(|_| {
                        api.post(
                            "/api/action",
                            json!({"action_type": "move_pointer", "params": {"x": x, "y": 50}}),
                        )
                    })
                    .collect();
                (x, outcomes)
            })
        })
        .collect();
    for mover in movers {
        let (x, outcomes) = mover.join().unwrap();
        for (status, body) in outcomes {
            if x < 0.0 {
                assert_eq!(status, 422, "{body}");
                assert_eq!(body["error"]["code"], "out_of_bounds", "{body}");
            } else {
                assert_eq!(status, 200, "{body}");
                assert_eq!(body["result"]["x"], x, "{body}");
            }
        }
    }
    // One caller's moves land in its order: a click where it left the pointer.
    api.action("move_pointer", json!({"x": 77, "y": 66}));
    let clicked = api.action("click", json!({}));
    assert_eq!(
        (
            clicked["result"]["x"].as_f64(),
            clicked["result"]["y"].as_f64()
        ),
        (Some(77.0), Some(66.0)),
        "{clicked}"
    );
}
