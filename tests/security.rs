//! Web pages must not drive digiOS: a real agent refuses a foreign `Origin`
//! on every state-changing route and on every WebSocket handshake, a
//! foreign `Host` (DNS rebinding), and non-JSON bodies that a page could
//! send without a CORS preflight; the console's own origin and clients
//! that send no `Origin` keep working. Last, headless Chromium tries it
//! from a page of another origin.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use digios_tests::browser::Browser;
use digios_tests::digios::{start_agent, start_agent_with_config, start_desktop};
use serde_json::{Value, json};
use tungstenite::client::IntoClientRequest;

const EVIL: &str = "https://evil.example";

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .no_proxy()
        .build()
        .unwrap()
}

/// Sends `request` (method, path, headers and body, one HTTP/1.1 message)
/// over a fresh connection, so the `Host` line is exactly ours.
fn raw(url: &str, head: &str, body: &str) -> (u16, Value) {
    let address = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let message = format!(
        "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(message.as_bytes()).unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    let reply = String::from_utf8_lossy(&reply);
    let status = reply.split(' ').nth(1).unwrap().parse().unwrap();
    let body = reply.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// A WebSocket handshake on `path` with extra headers: the status, and the
/// error body of a refusal.
fn handshake(url: &str, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let ws_url = format!("{}{path}", url.replace("http://", "ws://"));
    let mut request = ws_url.into_client_request().unwrap();
    for (name, value) in headers {
        let name: tungstenite::http::HeaderName = name.parse().unwrap();
        request.headers_mut().insert(name, value.parse().unwrap());
    }
    match tungstenite::connect(request) {
        Ok((mut socket, response)) => {
            let _ = socket.close(None);
            (response.status().as_u16(), Value::Null)
        }
        Err(tungstenite::Error::Http(response)) => {
            let body = response
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null);
            (response.status().as_u16(), body)
        }
        Err(err) => panic!("handshake on {path}: {err}"),
    }
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

/// Every state-changing route of the OpenAPI document, path parameters
/// filled with dummies, and `/v1/chat/completions`.
fn state_changing_routes(url: &str) -> Vec<(String, String)> {
    let doc: Value = http()
        .get(format!("{url}/api/openapi.json"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let mut routes = vec![("POST".to_string(), "/v1/chat/completions".to_string())];
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for method in operations.as_object().unwrap().keys() {
            if ["post", "put", "delete", "patch"].contains(&method.as_str()) {
                let path = path
                    .replace("{kind}", "fact")
                    .replace("{key}", "k")
                    .replace("{name}", "x")
                    .replace("{id}", "1");
                assert!(!path.contains('{'), "an unfilled parameter in {path}");
                routes.push((method.to_ascii_uppercase(), path));
            }
        }
    }
    assert!(routes.len() > 30, "too few routes: {routes:?}");
    routes
}

/// What a route that acted would have left behind.
fn snapshot(url: &str) -> Value {
    let http = http();
    let mut all = json!({});
    for path in [
        "/api/improve/cycles",
        "/api/eval/runs",
        "/api/tasks",
        "/api/skills",
        "/api/memory/facts",
        "/api/memory/audit",
        "/api/windows",
    ] {
        let body: Value = http
            .get(format!("{url}{path}"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        all[path] = body;
    }
    let status: Value = http
        .get(format!("{url}/api/status"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    all["kill_switch"] = status["kill_switch"].clone();
    all
}

fn run_shell(marker: &Path) -> Value {
    json!({"action_type": "run_shell", "params": {"command": format!("touch {}", marker.display())}})
}

#[test]
fn a_foreign_origin_changes_nothing_and_opens_no_socket() {
    let desktop = start_desktop();
    let url = &desktop.url;
    let port = url.rsplit(':').next().unwrap();
    let http = http();
    let before = snapshot(url);
    let marker = desktop.agent.home.path().join("evil-was-here");

    let routes = state_changing_routes(url);
    for (method, path) in &routes {
        for origin in [EVIL, "null"] {
            // As JSON (after a preflight a page cannot pass), as a simple
            // text/plain form, and with no body at all.
            let attempts = [
                Some(("application/json", run_shell(&marker).to_string())),
                Some(("text/plain", run_shell(&marker).to_string())),
                None,
            ];
            for attempt in attempts {
                let mut request = http
                    .request(method.parse().unwrap(), format!("{url}{path}?confirm=true"))
                    .header("origin", origin);
                if let Some((content_type, body)) = &attempt {
                    request = request
                        .header("content-type", *content_type)
                        .body(body.clone());
                }
                let response = request.send().unwrap();
                let status = response.status().as_u16();
                let body: Value = response.json().unwrap_or(Value::Null);
                assert_eq!(
                    (status, code(&body)),
                    (403, "forbidden_origin"),
                    "{method} {path} from {origin} with {attempt:?}: {body}"
                );
            }
        }
    }
    // The measured attack: a run_shell command through the WebSocket.
    for path in ["/api/ws", "/api/screen/ws"] {
        for origin in [EVIL, "null", "http://127.0.0.1:1", "file://"] {
            let (status, body) = handshake(url, path, &[("origin", origin)]);
            assert_eq!(
                (status, code(&body)),
                (403, "forbidden_origin"),
                "{path} {origin}"
            );
        }
    }
    assert_eq!(snapshot(url), before, "a refused request acted");
    assert!(!marker.exists(), "a refused request ran a command");

    // The console's own origin, in each spelling, and no Origin work.
    for origin in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        format!("http://[::1]:{port}"),
    ] {
        let status = http
            .get(format!("{url}/api/status"))
            .header("origin", &origin)
            .send()
            .unwrap()
            .status();
        assert_eq!(status, 200, "{origin}");
        for path in ["/api/ws", "/api/screen/ws"] {
            assert_eq!(
                handshake(url, path, &[("origin", &origin)]).0,
                101,
                "{path} {origin}"
            );
        }
    }
    let own = format!("http://127.0.0.1:{port}");
    let moved = http
        .post(format!("{url}/api/action"))
        .header("origin", &own)
        .json(&json!({"action_type": "move_pointer", "params": {"x": 10, "y": 10}}))
        .send()
        .unwrap();
    assert_eq!(moved.status(), 200);
    assert_eq!(
        http.get(format!("{url}/api/status"))
            .send()
            .unwrap()
            .status(),
        200
    );

    // The same command from the console's own origin runs: the refusals
    // above were the door's, not the policy's.
    let ws_url = format!("{}/api/ws", url.replace("http://", "ws://"));
    let mut request = ws_url.into_client_request().unwrap();
    request.headers_mut().insert("origin", own.parse().unwrap());
    let (mut socket, _) = tungstenite::connect(request).unwrap();
    let allowed = desktop.agent.home.path().join("console-was-here");
    let command = json!({"type": "request", "id": 1, "method": "POST",
        "path": "/api/action?confirm=true", "body": run_shell(&allowed)});
    socket
        .send(tungstenite::Message::Text(command.to_string().into()))
        .unwrap();
    let reply = loop {
        if let tungstenite::Message::Text(text) = socket.read().unwrap() {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] == "reply" {
                break value;
            }
        }
    };
    assert_eq!(reply["status"], 200, "{reply}");
    assert!(allowed.exists());
}

#[test]
fn a_foreign_host_is_refused() {
    let (_agent, url) = start_agent(&["--bind", "127.0.0.1:0"]);
    let port = url.rsplit(':').next().unwrap();
    for host in [
        "evil.example",
        &format!("evil.example:{port}"),
        "127.0.0.1.evil.example",
    ] {
        let (status, body) = raw(
            &url,
            &format!("GET /api/status HTTP/1.1\r\nHost: {host}"),
            "",
        );
        assert_eq!((status, code(&body)), (403, "forbidden_host"), "{host}");
        let (status, _) = raw(&url, &format!("GET / HTTP/1.1\r\nHost: {host}"), "");
        assert_eq!(status, 403, "the console page for {host}");
        let (status, body) = handshake(&url, "/api/ws", &[("host", host)]);
        assert_eq!((status, code(&body)), (403, "forbidden_host"), "{host}");
    }
    for host in [
        "localhost".to_string(),
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ] {
        let (status, _) = raw(
            &url,
            &format!("GET /api/status HTTP/1.1\r\nHost: {host}"),
            "",
        );
        assert_eq!(status, 200, "{host}");
    }
}

#[test]
fn state_changing_bodies_must_be_json() {
    let (_agent, url) = start_agent(&["--bind", "127.0.0.1:0"]);
    let http = http();
    let marker = tempfile::tempdir().unwrap();
    let marker = marker.path().join("plain-was-here");
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = http
            .post(format!("{url}/api/action?confirm=true"))
            .body(run_shell(&marker).to_string());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().unwrap();
        assert_eq!(response.status(), 415, "{content_type:?}");
        let body: Value = response.json().unwrap();
        assert_eq!(code(&body), "unsupported_media_type");
        let cycle = http
            .post(format!("{url}/api/improve/cycles"))
            .header("content-type", content_type.unwrap_or("text/plain"))
            .body("{}")
            .send()
            .unwrap();
        assert_eq!(cycle.status(), 415);
    }
    assert!(!marker.exists());
    let cycles: Value = http
        .get(format!("{url}/api/improve/cycles"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(cycles, json!([]));
    // A WAV upload is a WAV upload: past the door (no voice service here).
    let wav = http
        .post(format!("{url}/api/voice/transcribe"))
        .header("content-type", "audio/wav")
        .body(b"RIFF".to_vec())
        .send()
        .unwrap();
    assert_ne!(wav.status(), 415);
    assert_ne!(wav.status(), 403);
    // JSON with parameters, and a +json type, pass.
    let stored = http
        .put(format!("{url}/api/memory/facts/fact/colour"))
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"value": "blue"}"#)
        .send()
        .unwrap();
    assert_eq!(stored.status(), 200);
}

#[test]
fn configured_origins_and_hosts_are_trusted() {
    let config = r#"
[api]
allowed_origins = ["https://console.example"]
allowed_hosts = ["digios.lan"]
"#;
    let (_agent, url) = start_agent_with_config(config, &["--bind", "127.0.0.1:0"]);
    let port = url.rsplit(':').next().unwrap();
    let status = |headers: &str| raw(&url, &format!("GET /api/status HTTP/1.1\r\n{headers}"), "");
    assert_eq!(
        status("Host: localhost\r\nOrigin: https://console.example").0,
        200
    );
    assert_eq!(status(&format!("Host: digios.lan:{port}")).0, 200);
    // The console loaded by that name is its own origin.
    let own = format!("Host: digios.lan:{port}\r\nOrigin: http://digios.lan:{port}");
    assert_eq!(status(&own).0, 200);
    let (code_, body) = status(&format!("Host: digios.lan:{port}\r\nOrigin: {EVIL}"));
    assert_eq!((code_, code(&body)), (403, "forbidden_origin"));
    assert_eq!(status("Host: other.lan").0, 403);
    let (status, _) = handshake(&url, "/api/ws", &[("origin", "https://console.example")]);
    assert_eq!(status, 101);
}

/// Serves one small HTML page on every path, from its own origin.
fn serve_page() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let page = "<!doctype html><title>elsewhere</title><p>another site</p>";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    url
}

/// From the page: opens `/api/ws` (and sends the measured attack if it
/// opens), then no-cors POSTs that need no preflight.
const ATTACK: &str = r#"
const [api, command] = arguments;
const socket = await new Promise((resolve) => {
  const ws = new WebSocket(api.replace('http://', 'ws://') + '/api/ws');
  ws.onopen = () => {
    ws.send(JSON.stringify({type: 'request', id: 1, method: 'POST',
      path: '/api/action?confirm=true', body: command}));
    ws.send(JSON.stringify({type: 'request', id: 2, method: 'POST', path: '/api/improve/cycles'}));
    setTimeout(() => resolve('open'), 1000);
  };
  ws.onerror = () => resolve('error');
});
const post = (path, body) => fetch(api + path, {method: 'POST', mode: 'no-cors', body})
  .then((r) => r.type, (e) => 'failed: ' + e);
const cycle = await post('/api/improve/cycles');
const action = await post('/api/action?confirm=true', JSON.stringify(command));
return {socket, cycle, action};
"#;

#[test]
fn a_page_from_another_origin_cannot_drive_digios_in_a_browser() {
    let (agent, url) = start_agent(&["--bind", "127.0.0.1:0"]);
    let marker = agent.home.path().join("page-was-here");
    let elsewhere = serve_page();
    let browser = Browser::start();
    browser.goto(&format!("{elsewhere}/"));
    let result = browser.eval_async(ATTACK, json!([url, run_shell(&marker)]));
    assert_eq!(result["socket"], "error", "{result}");
    std::thread::sleep(Duration::from_millis(500));
    assert!(!marker.exists(), "the page ran a command: {result}");
    let cycles: Value = http()
        .get(format!("{url}/api/improve/cycles"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(cycles, json!([]), "the page started a cycle: {result}");

    // From the console's own page the same socket opens: the refusal above
    // was the door's, not the browser's.
    browser.goto(&format!("{url}/"));
    let opened = browser.eval_async(
        "const [api] = arguments;
         return await new Promise((resolve) => {
           const ws = new WebSocket(api.replace('http://', 'ws://') + '/api/ws');
           ws.onopen = () => { ws.close(); resolve('open'); };
           ws.onerror = () => resolve('error');
         });",
        json!([url]),
    );
    assert_eq!(opened, "open");
}
