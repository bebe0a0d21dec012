//! The web console in headless Chromium against a real compositor and agent:
//! the live desktop on the page, input from the page reaching foot, chat,
//! confirmations, bad input, an agent restart, and the token login.

use std::time::{Duration, Instant};

use base64::Engine;
use digios_tests::api_client::ApiClient;
use digios_tests::browser::Browser;
use digios_tests::digios::{
    start_agent, start_agent_with_config, start_desktop, start_desktop_with_config,
};
use digios_tests::model_fixtures::agent_with_held_pull;
use digios_tests::voice::{espeak, socket_in, start_voice};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(90);
const ENTER: &str = "\u{E007}";
const CONTROL: &str = "\u{E009}";

fn rect(window: &Value) -> (i64, i64, i64, i64) {
    let g = &window["geometry"];
    let n = |k: &str| g[k].as_i64().unwrap();
    (n("x"), n("y"), n("width"), n("height"))
}

fn decode_png(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut decoder = png::Decoder::new(bytes);
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buffer).unwrap();
    buffer.truncate(info.buffer_size());
    let channels = info.color_type.samples();
    let rgb = buffer
        .chunks(channels)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, rgb)
}

/// The share of pixels whose channels all lie within `tolerance`, or 0 when
/// the sizes differ.
fn matching_share(a: &(u32, u32, Vec<u8>), b: &(u32, u32, Vec<u8>), tolerance: u8) -> f64 {
    if (a.0, a.1) != (b.0, b.1) {
        return 0.0;
    }
    let same =
        a.2.chunks(3)
            .zip(b.2.chunks(3))
            .filter(|(p, q)| {
                p.iter()
                    .zip(q.iter())
                    .all(|(x, y)| x.abs_diff(*y) <= tolerance)
            })
            .count();
    same as f64 / (a.0 as f64 * a.1 as f64)
}

/// Waits until the page's canvas shows what `/api/vision/screenshot?QUERY`
/// does (within a small tolerance, for frames still in flight).
fn wait_canvas_like_screenshot(browser: &Browser, api: &ApiClient, query: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let shot = api
            .http
            .get(format!("{}/api/vision/screenshot{query}", api.url))
            .send()
            .unwrap()
            .bytes()
            .unwrap();
        let screenshot = decode_png(&shot);
        let data_url = browser.eval(
            "return document.getElementById('screen').toDataURL('image/png')",
            json!([]),
        );
        let encoded = data_url.as_str().unwrap().split_once(',').unwrap().1;
        let canvas = decode_png(
            &base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap(),
        );
        let share = matching_share(&canvas, &screenshot, 2);
        // Every pixel: the stream sends the compositor's own pixels.
        if share > 0.99999 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the canvas ({}×{}) never matched the screenshot{query} ({}×{}): {share:.3} of pixels alike",
            canvas.0,
            canvas.1,
            screenshot.0,
            screenshot.1
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Viewport coordinates of the desktop point `x`, `y` on the page's canvas.
fn on_canvas(browser: &Browser, x: i64, y: i64) -> (i64, i64) {
    let point = browser.eval(
        "const c = document.getElementById('screen');
         const r = c.getBoundingClientRect();
         const [ax, ay, aw, ah] = c.dataset.area.split(',').map(Number);
         return [Math.round(r.left + (arguments[0] - ax) / aw * r.width),
                 Math.round(r.top + (arguments[1] - ay) / ah * r.height)];",
        json!([x, y]),
    );
    (point[0].as_i64().unwrap(), point[1].as_i64().unwrap())
}

/// Submits `goal` through the page's chat box.
fn ask(browser: &Browser, goal: &str) {
    browser.type_into("#goal", &format!("{goal}{ENTER}"));
}

/// The card of the newest task with this goal in `state`, as its text.
fn wait_task(browser: &Browser, goal: &str, state: &str) -> String {
    let script = format!(
        "const cards = [...document.querySelectorAll('#conversation .task')]
            .filter((c) => c.querySelector('.goal')?.textContent === {goal:?});
         const card = cards[cards.length - 1];
         return card && card.dataset.state === {state:?} ? card.innerText : null;"
    );
    browser
        .wait_for(&format!("{goal:?} to be {state}"), &script, WAIT)
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn the_console_shows_and_drives_the_desktop_and_survives_an_agent_restart() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().join("typed.txt");
    let script = format!("read line; echo \"$line\" > {}; read rest", out.display());
    let config = format!(
        "[actions.apps]\nterminal = {}\n\n[policy]\nrules = [{{ action = \"close_window\", verdict = \"confirm\" }}]\n",
        json!(["foot", "sh", "-c", script])
    );
    let mut desktop = start_desktop_with_config(&config);
    let api = ApiClient::new(&desktop.url);
    let browser = Browser::start();
    browser.goto(&format!("{}/", desktop.url));
    browser.wait_for(
        "the console to connect",
        "return document.getElementById('connection').dataset.state === 'online'",
        WAIT,
    );

    // No evaluator run yet: the plot says so rather than drawing nothing.
    browser.wait_for(
        "the evaluator's empty state",
        "const plot = document.getElementById('eval-plot');
         return plot.dataset.points === '0' && document.getElementById('eval-caption').textContent",
        WAIT,
    );

    // A goal typed into the chat runs, and its steps appear on its card.
    ask(&browser, "open a terminal");
    let card = wait_task(&browser, "open a terminal", "succeeded");
    assert!(card.contains("launch_app {\"app\":\"terminal\"}"), "{card}");
    let terminal = api.wait_window("the terminal", |w| w["app_id"] == "foot");

    // A second window takes the focus; both are moved apart so a click on
    // the terminal lands on nothing else.
    let (status, body) = api.post(
        "/api/action",
        json!({"action_type": "launch_app", "params": {"command": ["foot", "--app-id", "web-other"]}}),
    );
    assert_eq!(status, 200, "{body}");
    let other = api.wait_window("the other window", |w| {
        w["app_id"] == "web-other" && w["focused"] == true
    });
    let (status, body) = api.post(
        &format!("/api/windows/{}/move", terminal["id"]),
        json!({"x": 20, "y": 40}),
    );
    assert_eq!(status, 200, "{body}");
    let (_, _, tw, th) = rect(&terminal);
    let (status, body) = api.post(
        &format!("/api/windows/{}/move", other["id"]),
        json!({"x": 20 + tw + 40, "y": 40}),
    );
    assert_eq!(status, 200, "{body}");
    let terminal = api.wait_window("the terminal moved", |w| {
        w["id"] == terminal["id"] && w["geometry"]["x"] == 20
    });

    // The page shows the live desktop: its canvas against the API's screenshot.
    browser.wait_for(
        "the live stream",
        "return document.getElementById('screen-state').textContent === 'live'",
        WAIT,
    );
    wait_canvas_like_screenshot(&browser, &api, "");

    // A drag in the page moves the other window by its title bar.
    let placed = api.wait_window("the other window moved", |w| {
        w["id"] == other["id"] && w["geometry"]["x"] == 20 + tw + 40
    });
    let (ox, oy, _, _) = rect(&placed);
    let bar = &placed["title_bar"];
    let (bx, by) = (
        bar["x"].as_i64().unwrap() + 30,
        bar["y"].as_i64().unwrap() + bar["height"].as_i64().unwrap() / 2,
    );
    let from = on_canvas(&browser, bx, by);
    let to = on_canvas(&browser, bx + 60, by + 80);
    browser.drag(from, to);
    let deadline = Instant::now() + WAIT;
    let moved = loop {
        let window = api.windows().into_iter().find(|w| w["id"] == other["id"]);
        if let Some(window) = window.filter(|w| w["geometry"]["x"].as_i64().unwrap() > ox + 30) {
            break window;
        }
        let shown = browser.eval("return digiosConsole.desktop.input.log", json!([]));
        assert!(
            Instant::now() < deadline,
            "the drag from {from:?} to {to:?} moved nothing: {shown}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let (mx, my, _, _) = rect(&moved);
    assert!(
        (mx - ox - 60).abs() <= 4 && (my - oy - 80).abs() <= 4,
        "{moved}"
    );

    // A click in the page focuses the terminal; typed keys arrive in it,
    // chords included (ctrl+u erases the line typed so far).
    let (tx, ty, _, _) = rect(&terminal);
    let (px, py) = on_canvas(&browser, tx + tw / 2, ty + th / 2);
    browser.click_at(px, py);
    api.wait_window("the terminal focused by the page's click", |w| {
        w["id"] == terminal["id"] && w["focused"] == true
    });
    browser.press_keys("not this");
    browser.press_chord(CONTROL, "u");
    browser.press_keys(&format!("Hello from the Web: 1+1=2!{ENTER}"));
    let deadline = Instant::now() + WAIT;
    while std::fs::read_to_string(&out).unwrap_or_default().trim() != "Hello from the Web: 1+1=2!" {
        assert!(
            Instant::now() < deadline,
            "typed text never reached foot: {:?}",
            std::fs::read_to_string(&out)
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    // The reticle overlay: the stream draws it where the page's pointer is,
    // as the screenshot does.
    browser.click("#show-reticle");
    wait_canvas_like_screenshot(&browser, &api, "?reticle=true");
    browser.click("#show-reticle");

    // The marks overlay numbers what a screen analysis found: the windows'
    // title bars among them.
    browser.click("#show-marks");
    let titles = browser.wait_for(
        "the marks overlay",
        "const titles = [...document.querySelectorAll('#overlay rect title')].map((t) => t.textContent);
         return titles.some((t) => t.includes('window')) && titles",
        WAIT,
    );
    assert!(titles.as_array().unwrap().len() >= 2, "{titles}");
    browser.click("#show-marks");

    // The kill switch in the page stops input from the page, with the
    // API's reason shown, until it is released.
    browser.click("#kill-switch");
    browser.wait_for(
        "the kill switch engaged",
        "return document.getElementById('kill-switch').getAttribute('aria-pressed') === 'true'",
        WAIT,
    );
    let (_, status) = api.get("/api/status");
    assert_eq!(status["kill_switch"]["engaged"], true, "{status}");
    let (px, py) = on_canvas(&browser, tx + tw / 2, ty + th / 2);
    browser.click_at(px, py);
    browser.wait_for(
        "the refused click",
        "return document.getElementById('input-error').dataset.code === 'kill_switch_engaged'",
        WAIT,
    );
    browser.click("#kill-switch");
    browser.wait_for(
        "the kill switch released",
        "return document.getElementById('kill-switch').getAttribute('aria-pressed') === 'false'",
        WAIT,
    );
    let (_, status) = api.get("/api/status");
    assert_eq!(status["kill_switch"]["engaged"], false, "{status}");

    // A confirm-tier action waits for the page's Approve.
    ask(&browser, "close the terminal window");
    wait_task(
        &browser,
        "close the terminal window",
        "awaiting_confirmation",
    );
    browser.click("#conversation .task[data-state=awaiting_confirmation] button.approve");
    wait_task(&browser, "close the terminal window", "succeeded");
    assert!(
        !api.windows().iter().any(|w| w["id"] == terminal["id"]),
        "{:?}",
        api.windows()
    );

    // Bad input gets typed errors: a malformed message, an event for the
    // window just closed, a mark number the analysis never gave.
    browser.eval(
        "digiosConsole.protocolErrors.length = 0;
         digiosConsole.socket.sendRaw('{\"type\": \"subscribe\", ');",
        json!([]),
    );
    let errors = browser.wait_for(
        "a protocol error",
        "return digiosConsole.protocolErrors.length && digiosConsole.protocolErrors",
        WAIT,
    );
    assert_eq!(errors[0]["code"], "bad_message", "{errors}");
    // An oversized message: a typed refusal, the socket closed (1009), and
    // the console connects again by itself.
    browser.eval(
        "digiosConsole.protocolErrors.length = 0;
         window.connectionsBefore = digiosConsole.socket.connections;
         digiosConsole.socket.sendRaw(JSON.stringify({type: 'subscribe', topics: ['x'.repeat(1100000)]}));",
        json!([]),
    );
    let errors = browser.wait_for(
        "the oversized message refused",
        "return digiosConsole.protocolErrors.length && digiosConsole.protocolErrors",
        WAIT,
    );
    assert_eq!(errors[0]["code"], "message_too_large", "{errors}");
    browser.wait_for(
        "the console back after the refusal",
        "return digiosConsole.socket.connections > connectionsBefore
             && document.getElementById('connection').dataset.state === 'online'",
        WAIT,
    );
    let request = "try { await digiosConsole.socket.request('POST', arguments[0], arguments[1]); return 'ok'; }
                   catch (e) { return {status: e.status, code: e.code}; }";
    let stale = browser.eval_async(
        request,
        json!([format!("/api/windows/{}/focus", terminal["id"]), null]),
    );
    assert_eq!(stale["status"], 404, "{stale}");
    let unknown_mark = browser.eval_async(request, json!(["/api/input/click", {"mark": 99}]));
    assert_eq!(unknown_mark["code"], "unknown_mark", "{unknown_mark}");

    // The console survives an agent restart: it shows the drop, reconnects
    // on its own and drives the new agent.
    browser.eval(
        "const el = document.getElementById('connection');
         window.connectionStates = [];
         new MutationObserver(() => connectionStates.push(el.dataset.state))
             .observe(el, {attributes: true, attributeFilter: ['data-state']});",
        json!([]),
    );
    desktop.restart_agent_on_same_port();
    browser.wait_for(
        "the console to reconnect",
        "return connectionStates.includes('reconnecting')
             && document.getElementById('connection').dataset.state === 'online'",
        WAIT,
    );
    browser.wait_for(
        "the live stream after the restart",
        "return document.getElementById('screen-state').textContent === 'live'",
        WAIT,
    );
    ask(&browser, "open a terminal");
    browser.wait_for(
        "a goal after the restart",
        "return [...document.querySelectorAll('#conversation .task')]
             .filter((c) => c.querySelector('.goal').textContent === 'open a terminal'
                 && c.dataset.state === 'succeeded').length >= 2",
        WAIT,
    );
}

#[test]
fn off_loopback_the_page_asks_for_the_token_and_its_socket_carries_it() {
    let (agent, url) = start_agent(&["--bind", "0.0.0.0:0"]);
    let url = url.replace("0.0.0.0", "127.0.0.1");
    let token = std::fs::read_to_string(agent.home.path().join("data/digios/api-token")).unwrap();
    let token = token.trim();
    let http = reqwest::blocking::Client::new();

    // The page and its modules load without the token; the API does not.
    let page = http.get(format!("{url}/")).send().unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let module = http.get(format!("{url}/web/app.js")).send().unwrap();
    assert_eq!(module.status(), 200);
    assert!(
        module.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let etag = module.headers()["etag"].clone();
    let again = http
        .get(format!("{url}/web/app.js"))
        .header("if-none-match", etag)
        .send()
        .unwrap();
    assert_eq!(again.status(), 304);
    let missing = http.get(format!("{url}/web/nothing.js")).send().unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(
        http.get(format!("{url}/api/status"))
            .send()
            .unwrap()
            .status(),
        401
    );

    // A WebSocket with the token as a subprotocol is admitted and answered
    // with `digios`; without it, refused.
    let ws_url = format!("{}/api/ws", url.replace("http://", "ws://"));
    // The handshake's status and answered subprotocol.
    let handshake = |protocols: &str| -> (u16, Option<String>) {
        use tungstenite::client::IntoClientRequest;
        let mut request = ws_url.as_str().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocols.parse().unwrap());
        match tungstenite::connect(request) {
            Ok((mut socket, response)) => {
                let _ = socket.close(None);
                let protocol = response
                    .headers()
                    .get("sec-websocket-protocol")
                    .map(|v| v.to_str().unwrap().to_string());
                (response.status().as_u16(), protocol)
            }
            Err(tungstenite::Error::Http(response)) => (response.status().as_u16(), None),
            Err(err) => panic!("handshake with {protocols:?}: {err}"),
        }
    };
    assert_eq!(
        handshake(&format!("digios, digios.bearer.{token}")),
        (101, Some("digios".to_string()))
    );
    assert_eq!(handshake("digios").0, 401);
    assert_eq!(handshake("digios, digios.bearer.wrong").0, 401);

    // In the browser: the login form, then the console, connected.
    let browser = Browser::start();
    browser.goto(&format!("{url}/"));
    browser.wait_for(
        "the login form",
        "return !document.getElementById('login').hidden",
        WAIT,
    );
    browser.type_into("#token", "wrong");
    browser.click("#login-form button[type=submit]");
    browser.wait_for(
        "the wrong token refused",
        "return document.getElementById('login-error').textContent",
        WAIT,
    );
    browser.eval("document.getElementById('token').value = ''", json!([]));
    browser.type_into("#token", token);
    browser.click("#login-form button[type=submit]");
    browser.wait_for(
        "the console connected with the token",
        "return !document.getElementById('console').hidden
             && document.getElementById('connection').dataset.state === 'online'",
        WAIT,
    );
    let stored = browser.eval("return localStorage.getItem('digios.api-token')", json!([]));
    assert_eq!(stored, token);
    // The services list arrived over the authenticated API.
    browser.wait_for(
        "the services",
        "return document.querySelector('#services li[data-service=api]')",
        WAIT,
    );
}

#[test]
fn push_to_talk_in_the_page_becomes_a_goal_and_the_reply_is_spoken() {
    let desktop = start_desktop();
    let _voice = start_voice(&socket_in(desktop.runtime_dir.path()), &desktop.url);
    let api = ApiClient::new(&desktop.url);
    // Chromium's fake microphone plays this file: the command, then silence
    // (it loops, and the button is let go before the command comes again).
    let dir = tempfile::tempdir().unwrap();
    let speech = espeak(dir.path(), "command", "open a terminal", "en-us", 160);
    let clip = dir.path().join("microphone.wav");
    let status = std::process::Command::new("sox")
        .arg(&speech)
        .arg(&clip)
        .args(["pad", "0.3", "6"])
        .status()
        .expect("sox runs (apt-get install sox)");
    assert!(status.success());
    let browser = Browser::start_with(&[
        "--use-fake-ui-for-media-stream".into(),
        "--use-fake-device-for-media-stream".into(),
        format!("--use-file-for-fake-audio-capture={}", clip.display()),
        "--autoplay-policy=no-user-gesture-required".into(),
    ]);
    browser.goto(&format!("{}/", desktop.url));
    browser.wait_for(
        "the console to connect",
        "return document.getElementById('connection').dataset.state === 'online'",
        WAIT,
    );
    browser.hold("#talk", Duration::from_millis(5000));
    let deadline = Instant::now() + WAIT;
    let heard = loop {
        let shown = browser.eval(
            "return document.getElementById('voice-state').textContent",
            json!([]),
        );
        let text = shown.as_str().unwrap_or_default().to_string();
        if !text.is_empty() && !text.starts_with("listening") && !text.starts_with("transcribing") {
            break text;
        }
        assert!(Instant::now() < deadline, "no transcript: {shown}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(heard.to_lowercase().contains("terminal"), "{heard}");
    browser.wait_for(
        "the spoken goal to succeed",
        "return [...document.querySelectorAll('#conversation .task')]
             .some((c) => /terminal/i.test(c.querySelector('.goal').textContent)
                 && c.dataset.state === 'succeeded')",
        WAIT,
    );
    api.wait_window("the terminal", |w| w["app_id"] == "foot");
    let spoken = browser.wait_for("the reply spoken", "return digiosConsole.talk.spoken", WAIT);
    assert!(spoken["bytes"].as_u64().unwrap() > 1000, "{spoken}");
}

#[test]
fn the_evaluator_plot_follows_suite_runs() {
    let (_agent, url) = start_agent(&["--bind", "127.0.0.1:0"]);
    let api = ApiClient::new(&url);
    let browser = Browser::start();
    browser.goto(&format!("{url}/"));
    browser.wait_for(
        "the empty plot",
        "return document.getElementById('connection').dataset.state === 'online'
             && document.getElementById('eval-plot').dataset.points === '0'
             && document.getElementById('eval-caption').textContent === 'no evaluator runs yet'",
        WAIT,
    );
    // Two real suite runs of one task, each on its own headless compositor;
    // the page hears of them on the `improve` topic and plots both.
    for run in 1..=2 {
        let (status, body) = api.post("/api/eval/runs", json!({"tasks": ["open-terminal"]}));
        assert_eq!(status, 202, "{body}");
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let (_, runs) = api.get("/api/eval/runs?limit=5");
            let finished = runs
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["finished_at_ms"].is_i64())
                .count();
            if finished == run {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "suite run {run} did not finish: {runs}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        browser.wait_for(
            &format!("{run} point(s) on the plot"),
            &format!("return document.getElementById('eval-plot').dataset.points === '{run}'"),
            WAIT,
        );
    }
    let caption = browser.eval(
        "return document.getElementById('eval-caption').textContent",
        json!([]),
    );
    assert!(caption.as_str().unwrap().contains("2 runs"), "{caption}");
}

#[test]
fn a_running_improvement_cycle_is_shown_and_stopped_from_the_page() {
    // One suite task the model must do, so the cycle's baseline takes a while.
    let config = "[improve]\ntasks = [\"count-lines\"]\neval_task_timeout_secs = 120\n";
    let (_agent, url) = start_agent_with_config(config, &["--bind", "127.0.0.1:0"]);
    let api = ApiClient::new(&url);
    let browser = Browser::start();
    browser.goto(&format!("{url}/"));
    browser.wait_for(
        "no cycles yet",
        "return document.getElementById('connection').dataset.state === 'online'
             && document.getElementById('cycle').dataset.state === 'none'
             && document.getElementById('cycle-stop').hidden",
        WAIT,
    );
    let (status, cycle) = api.post("/api/improve/cycles", json!({}));
    assert_eq!(status, 202, "{cycle}");
    let id = cycle["id"].as_i64().unwrap();
    browser.wait_for(
        "the running cycle and its Stop button",
        &format!(
            "const line = document.getElementById('cycle');
             return line.dataset.state === 'running' && line.dataset.cycle === '{id}'
                 && !document.getElementById('cycle-stop').hidden"
        ),
        WAIT,
    );
    browser.click("#cycle-stop");
    browser.wait_for(
        "the cycle stopped",
        "return document.getElementById('cycle').dataset.state === 'cancelled'
             && document.getElementById('cycle-stop').hidden",
        WAIT,
    );
    let text = browser.eval(
        "return document.getElementById('cycle-text').textContent",
        json!([]),
    );
    assert!(
        text.as_str().unwrap().contains(&format!(
            "cycle {id}: cancelled (stopped: cancelled by the user)"
        )),
        "{text}"
    );
    let (_, stored) = api.get(&format!("/api/improve/cycles/{id}"));
    assert_eq!(stored["state"], "cancelled", "{stored}");
}

#[test]
fn a_missing_model_is_downloaded_from_the_page_with_its_progress() {
    // Held a third of the way, so the page shows a download under way.
    let pull = agent_with_held_pull(11);
    let (url, server) = (&pull.url, &pull.server);

    let browser = Browser::start();
    browser.goto(&format!("{url}/"));
    browser.wait_for(
        "the missing model",
        "return document.querySelector('#models li[data-model=tiny-test][data-state=missing]')",
        WAIT,
    );
    browser.click("#models li[data-model=tiny-test] button.pull");
    pull.runtime.block_on(server.wait_until_held());
    let shown = browser.wait_for(
        "the download's progress",
        "const row = document.querySelector('#models li[data-model=tiny-test]');
         const bar = row.querySelector('progress');
         return row.dataset.state === 'pulling' && bar.value > 0 && row.textContent",
        WAIT,
    );
    assert!(shown.as_str().unwrap().contains("of 3.1 MB"), "{shown}");
    server.release();
    let state = browser.wait_for(
        "the model in the store",
        "const row = document.querySelector('#models li[data-model=tiny-test]');
         return ['present', 'verified'].includes(row.dataset.state) && row.dataset.state",
        WAIT,
    );
    let (_, listed) = ApiClient::new(url).get("/api/models");
    let tiny = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "tiny-test")
        .unwrap()
        .clone();
    assert_eq!(tiny["state"], state, "{tiny}");
}
