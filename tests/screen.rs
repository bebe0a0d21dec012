//! The live screen stream (`/api/screen/ws`) against a real headless
//! compositor, agent and Wayland clients.

use std::time::{Duration, Instant};

use digios_ipc::Rect;
use digios_tests::api_client::ApiClient;
use digios_tests::browser::Browser;
use digios_tests::digios::{start_desktop, start_desktop_with_config};
use digios_tests::screen::{Frame, Incoming, ScreenClient, rss_kib};
use serde_json::{Value, json};

fn launch_simple_shm(api: &ApiClient) -> Rect {
    let (status, body) = api.post(
        "/api/action",
        json!({"action_type": "launch_app", "params": {"command": ["weston-simple-shm"]}}),
    );
    assert_eq!(status, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let window = api.windows().into_iter().find(|w| {
            w["title"]
                .as_str()
                .is_some_and(|t| t.contains("simple-shm"))
        });
        if let Some(window) = window {
            let g: Rect = serde_json::from_value(window["geometry"].clone()).unwrap();
            return g;
        }
        assert!(Instant::now() < deadline, "weston-simple-shm never mapped");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Reads frames, acknowledging each, until one satisfies `pred`.
fn frame_until(client: &mut ScreenClient, what: &str, pred: impl Fn(&Frame) -> bool) -> Frame {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "no frame with {what}");
        match client.receive() {
            Incoming::Frame(frame) => {
                client.ack(frame.number);
                if pred(&frame) {
                    return frame;
                }
            }
            Incoming::Text(text) => panic!("unexpected message {text}"),
            Incoming::Closed(code) => panic!("closed ({code:?}) while waiting for {what}"),
        }
    }
}

#[test]
fn the_first_frame_is_the_screenshot_and_a_new_window_arrives_as_damage() {
    let desktop = start_desktop();
    let api = ApiClient::new(&desktop.url);
    let mut client = ScreenClient::connect(&desktop.url, "fps=30");
    assert_eq!(client.hello["encoding"], "rgba+zlib");
    assert_eq!(client.hello["in_flight"], 2);

    let first = client.next_frame();
    let (width, height, pixels) = api.screenshot("");
    assert!(first.full, "the first frame is full");
    assert_eq!(first.number, 1);
    assert_eq!(
        (u32::from(first.screen.0), u32::from(first.screen.1)),
        (width, height)
    );
    assert_eq!(first.patches.len(), 1);
    let patch = &first.patches[0];
    assert_eq!(patch.rect, Rect::new(0, 0, width as i32, height as i32));
    assert!(
        patch.rgba == pixels,
        "the first frame's pixels are the screenshot's"
    );
    client.ack(first.number);

    let window = launch_simple_shm(&api);
    let frame = frame_until(&mut client, "damage over the new window", |frame| {
        !frame.full && frame.patches.iter().any(|p| p.rect.overlaps(&window))
    });
    let covered: i64 = frame
        .patches
        .iter()
        .map(|p| i64::from(p.rect.width) * i64::from(p.rect.height))
        .sum();
    assert!(
        covered < i64::from(width) * i64::from(height),
        "a damage frame covers less than the screen: {:?}",
        frame.patches.iter().map(|p| p.rect).collect::<Vec<_>>()
    );
}

#[test]
fn the_reticle_overlay_follows_the_pointer() {
    let desktop = start_desktop();
    let api = ApiClient::new(&desktop.url);
    let mut client = ScreenClient::connect(&desktop.url, "reticle=true&fps=10");
    let first = client.next_frame();
    assert!(first.full);
    client.ack(first.number);
    let (status, body) = api.post("/api/input/pointer", json!({"x": 300, "y": 200}));
    assert_eq!(status, 200, "{body}");
    // The reticle's left arm runs along the pointer's row.
    frame_until(&mut client, "the reticle at 300,200", |frame| {
        frame.patches.iter().any(|p| {
            p.pixel(292, 200)
                .is_some_and(|[r, g, b, _]| r > 200 && g < 80 && b < 80)
        })
    });
}

#[test]
fn a_stalled_client_costs_neither_compositor_nor_agent_memory() {
    let desktop = start_desktop();
    let api = ApiClient::new(&desktop.url);
    // weston-simple-shm redraws every frame: the screen never stops changing.
    let window = launch_simple_shm(&api);
    let mut client = ScreenClient::connect(&desktop.url, "fps=60&in_flight=2");
    let first = client.next_frame();
    // A second page keeps reading meanwhile: the stalled one blocks no one.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (url, stop) = (desktop.url.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut other = ScreenClient::connect(&url, "fps=20");
            let mut frames = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let frame = other.next_frame();
                other.ack(frame.number);
                frames += 1;
            }
            frames
        })
    };
    // Stall: read nothing more, acknowledge nothing, while the screen changes.
    let agent = desktop.agent.child.id();
    let compositor = desktop.compositor.child.id();
    std::thread::sleep(Duration::from_secs(2));
    let before = (rss_kib(agent), rss_kib(compositor));
    let mut peak = before;
    for _ in 0..16 {
        std::thread::sleep(Duration::from_millis(500));
        peak.0 = peak.0.max(rss_kib(agent));
        peak.1 = peak.1.max(rss_kib(compositor));
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let other_frames = reader.join().unwrap();
    eprintln!(
        "RSS KiB (agent, compositor) over the stall: {before:?} -> peak {peak:?}; the other page drew {other_frames} frames"
    );
    assert!(
        other_frames >= 5,
        "the reading page got {other_frames} frames"
    );
    // Bounded: a few frames' worth at most (a full 1280x800 frame is 4 MiB raw).
    const BOUND_KIB: u64 = 24 * 1024;
    assert!(
        peak.0 < before.0 + BOUND_KIB,
        "agent grew {before:?} -> {peak:?}"
    );
    assert!(
        peak.1 < before.1 + BOUND_KIB,
        "compositor grew {before:?} -> {peak:?}"
    );

    // Only the window's worth of frames went out during the stall.
    client.set_timeout(Some(Duration::from_secs(2)));
    let mut waiting = Vec::new();
    while let Ok(message) = client.try_receive() {
        match message {
            Incoming::Frame(frame) => waiting.push(frame),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        waiting.len() < 2,
        "at most in_flight frames unacknowledged; got {} more",
        waiting.len()
    );
    // Acknowledging resumes the stream with the damage coalesced meanwhile.
    let last = waiting.last().map_or(first.number, |f| f.number);
    client.ack(last);
    client.set_timeout(Some(Duration::from_secs(60)));
    frame_until(&mut client, "a frame after the stall", |frame| {
        frame.number > last && frame.patches.iter().any(|p| p.rect.overlaps(&window))
    });
}

fn expect_error(client: &mut ScreenClient, code: &str) -> Value {
    loop {
        match client.receive() {
            Incoming::Text(text) if text["type"] == "error" => {
                assert_eq!(text["error"]["code"], code, "{text}");
                return text;
            }
            Incoming::Frame(_) => continue,
            other => panic!("expected a {code} error, got {other:?}"),
        }
    }
}

#[test]
fn bad_requests_and_messages_get_typed_errors() {
    let desktop = start_desktop();
    let api = ApiClient::new(&desktop.url);
    // Plain HTTP and bad parameters: the API's error shape.
    let (status, body) = api.get("/api/screen/ws");
    assert_eq!(status, 426, "{body}");
    assert_eq!(body["error"]["code"], "upgrade_required");
    for query in ["fps=0", "fps=1000", "in_flight=0", "in_flight=99"] {
        let (status, body) = api.get(&format!("/api/screen/ws?{query}"));
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["error"]["code"], "invalid_params");
    }
    let (status, body) = api.get("/api/screen/ws?bogus=1");
    assert_eq!(status, 400, "{body}");
    let (_, openapi) = api.get("/api/openapi.json");
    let route = &openapi["paths"]["/api/screen/ws"]["get"];
    assert!(route["responses"]["101"].is_object(), "{route}");
    let params: Vec<&str> = route["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(params, ["fps", "in_flight", "reticle", "marks"]);

    let mut client = ScreenClient::connect(&desktop.url, "");
    let first = client.next_frame();
    client.send_text("{not json");
    expect_error(&mut client, "bad_message");
    client.send_text(r#"{"type":"subscribe"}"#);
    expect_error(&mut client, "bad_message");
    client
        .socket
        .send(tungstenite::Message::Binary(vec![1, 2, 3].into()))
        .unwrap();
    expect_error(&mut client, "bad_message");
    client.ack(first.number + 100);
    expect_error(&mut client, "unknown_frame");
    // The socket survived all of that: a real acknowledgement is taken.
    client.ack(first.number);
    client.ack(first.number);
    expect_error(&mut client, "unknown_frame");

    // An oversized message: a typed error, then close code 1009.
    client.send_text(&format!(
        r#"{{"type":"ack","frame":1,"pad":"{}"}}"#,
        "x".repeat(8192)
    ));
    expect_error(&mut client, "message_too_large");
    loop {
        match client.try_receive() {
            Ok(Incoming::Closed(code)) => {
                assert_eq!(code, Some(1009));
                break;
            }
            Ok(_) => continue,
            Err(err) => panic!("expected close 1009, got {err}"),
        }
    }
}

#[test]
fn a_page_authenticates_with_the_token_as_a_subprotocol() {
    let desktop = start_desktop_with_config("[api]\nrequire_token_on_loopback = true\n");
    let token_file = desktop.agent.home.path().join("data/digios/api-token");
    let token = std::fs::read_to_string(token_file).unwrap();
    let token = token.trim();
    match ScreenClient::try_connect(&desktop.url, "", None).map_err(|e| *e) {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        Ok(_) => panic!("admitted without a token"),
        Err(err) => panic!("refused oddly: {err}"),
    }
    match ScreenClient::try_connect(&desktop.url, "", Some("wrong")).map_err(|e| *e) {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 401),
        Ok(_) => panic!("admitted with a wrong token"),
        Err(err) => panic!("refused oddly: {err}"),
    }
    let mut client = ScreenClient::try_connect(&desktop.url, "", Some(token)).unwrap();
    assert!(client.next_frame().full);
}

/// Canvas pixels at a grid of points, read in the page.
const SAMPLE_CANVAS: &str = "const canvas = window.screenCanvas;
    const context = canvas.getContext('2d');
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    const points = [];
    for (let y = 5; y < canvas.height; y += 37) {
      for (let x = 3; x < canvas.width; x += 41) {
        const at = (y * canvas.width + x) * 4;
        points.push([x, y, data[at], data[at + 1], data[at + 2], data[at + 3]]);
      }
    }
    return {width: canvas.width, height: canvas.height, points};";

/// Points where the canvas differs from the screenshot.
fn canvas_mismatches(browser: &Browser, api: &ApiClient) -> Vec<Value> {
    let sampled = browser.eval(SAMPLE_CANVAS, json!([]));
    let (width, height, pixels) = api.screenshot("");
    assert_eq!(sampled["width"], width);
    assert_eq!(sampled["height"], height);
    sampled["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|point| {
            let p: Vec<u64> = point
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            let at = ((p[1] * u64::from(width) + p[0]) * 4) as usize;
            pixels[at..at + 4]
                .iter()
                .map(|&c| u64::from(c))
                .ne(p[2..6].iter().copied())
        })
        .cloned()
        .collect()
}

#[test]
fn screen_js_draws_the_live_desktop_in_chromium_and_reconnects() {
    let desktop = start_desktop();
    let api = ApiClient::new(&desktop.url);
    let browser = Browser::start();
    // Any page of the agent's origin can import the module.
    browser.goto(&format!("{}/web/screen.js", desktop.url));
    let started = browser.eval_async(
        "const { ScreenStream } = await import('/web/screen.js');
         const canvas = document.createElement('canvas');
         document.body.append(canvas);
         window.screenCanvas = canvas;
         window.frames = [];
         window.errors = [];
         const stream = new ScreenStream(canvas, { fps: 30 });
         stream.addEventListener('frame', (e) => frames.push(e.detail));
         stream.addEventListener('error', (e) => errors.push(e.detail));
         window.stream = stream;
         stream.start();
         return true;",
        json!([]),
    );
    assert_eq!(started, true, "{started}");
    let wait = Duration::from_secs(60);
    browser.wait_for("the first frame", "return frames.length >= 1", wait);
    let mismatches = canvas_mismatches(&browser, &api);
    assert!(
        mismatches.is_empty(),
        "canvas differs from the screenshot at {mismatches:?}"
    );

    // A window opens; damage frames bring the canvas up to date. Its whole
    // change may come in one partial frame (foot can draw before its window
    // is first shown), so one partial frame is enough to go on; the settle
    // loop below checks the canvas against the screen.
    let (status, body) = api.post(
        "/api/action",
        json!({"action_type": "launch_app", "params": {"command": ["foot", "--app-id", "screen-js"]}}),
    );
    assert_eq!(status, 200, "{body}");
    browser.wait_for_or_explain(
        "damage frames",
        "return frames.some((f) => !f.full)",
        || {
            let page = browser.eval(
                "return {frames: frames.map((f) => [f.number, f.full, f.rects.length, f.bytes]), \
                 errors, state: stream.state, drawn: stream.framesDrawn, \
                 socket: stream.socket && stream.socket.readyState}",
                json!([]),
            );
            let (_, windows) = api.get("/api/windows");
            let (_, status) = api.get("/api/status");
            format!("page: {page}; windows: {windows}; status: {status}")
        },
        wait,
    );
    // foot settles; then the canvas matches the screenshot again.
    let deadline = Instant::now() + wait;
    loop {
        let before = browser.eval("return frames.length", json!([]));
        std::thread::sleep(Duration::from_millis(1500));
        if browser.eval("return frames.length", json!([])) == before {
            let mismatches = canvas_mismatches(&browser, &api);
            if mismatches.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "canvas differs: {mismatches:?}");
        }
        assert!(Instant::now() < deadline, "the screen never settled");
    }
    let errors = browser.eval("return errors", json!([]));
    assert_eq!(errors, json!([]));

    // The server drops the socket over an oversized message; the module
    // reconnects and starts again from a full frame.
    browser.eval(
        "window.frames = []; stream.socket.send('x'.repeat(8192)); return true",
        json!([]),
    );
    browser.wait_for(
        "a full frame after reconnecting",
        "return frames.some((f) => f.full && f.number === 1)",
        wait,
    );
}
