//! The public API as a real `digios agent` process over real HTTP and WebSocket.

use std::time::Duration;

use digios_tests::digios::{Process, command, read_listening_line, start_agent};
use serde_json::{Value, json};

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

fn get_json(http: &reqwest::blocking::Client, url: String) -> Value {
    http.get(url).send().unwrap().json().unwrap()
}

/// The named service's entry in a `/api/status` body.
fn service<'a>(status: &'a Value, name: &str) -> Option<&'a Value> {
    status["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
}

#[test]
fn status_capabilities_and_openapi() {
    let (_agent, url) = start_agent(&["--bind", "127.0.0.1:0"]);
    let http = client();

    let status = get_json(&http, format!("{url}/api/status"));
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    let api = service(&status, "api");
    assert_eq!(api.unwrap()["state"], "up");

    let caps = get_json(&http, format!("{url}/api/capabilities"));
    assert_eq!(caps["token_required"], false);
    assert!(
        caps["event_topics"]
            .as_array()
            .unwrap()
            .contains(&json!("windows"))
    );

    let doc = get_json(&http, format!("{url}/api/openapi.json"));
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert!(doc["paths"]["/api/status"]["get"].is_object());
}

#[test]
fn errors_share_one_shape() {
    let (_agent, url) = start_agent(&["--bind", "127.0.0.1:0"]);
    let http = client();
    let response = http.get(format!("{url}/api/nowhere")).send().unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().unwrap();
    assert_eq!(body["error"]["code"], "not_found");

    let response = http.delete(format!("{url}/api/status")).send().unwrap();
    assert_eq!(response.status(), 405);
    let body: Value = response.json().unwrap();
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

#[test]
fn off_loopback_bind_demands_the_token() {
    let (agent, url) = start_agent(&["--bind", "0.0.0.0:0"]);
    let url = url.replace("0.0.0.0", "127.0.0.1");
    let http = client();

    let response = http.get(format!("{url}/api/status")).send().unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");

    let wrong = http
        .get(format!("{url}/api/status"))
        .bearer_auth("not-the-token")
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);

    let token_file = agent.home.path().join("data/digios/api-token");
    let token = std::fs::read_to_string(&token_file).unwrap();
    let response = http
        .get(format!("{url}/api/status"))
        .bearer_auth(token.trim())
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[test]
fn websocket_commands_share_the_rest_schema() {
    let (_agent, url) = start_agent(&["--bind", "127.0.0.1:0"]);
    let ws_url = format!("{}/api/ws", url.replace("http://", "ws://"));
    let (mut socket, _) = tungstenite::connect(ws_url).unwrap();
    if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_ref() {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
    }
    let mut send = |value: Value| {
        socket
            .send(tungstenite::Message::Text(value.to_string().into()))
            .unwrap();
        loop {
            let message = socket.read().unwrap();
            if let tungstenite::Message::Text(text) = message {
                return serde_json::from_str::<Value>(&text).unwrap();
            }
        }
    };

    let reply = send(json!({"type": "subscribe", "topics": ["windows", "tasks"]}));
    assert_eq!(reply["type"], "subscribed");
    assert_eq!(reply["topics"], json!(["tasks", "windows"]));

    let reply = send(json!({"type": "request", "id": 7, "method": "GET", "path": "/api/status"}));
    assert_eq!(reply["type"], "reply");
    assert_eq!(reply["id"], 7);
    assert_eq!(reply["status"], 200);
    assert_eq!(reply["body"]["version"], env!("CARGO_PKG_VERSION"));

    let reply =
        send(json!({"type": "request", "id": "x", "method": "GET", "path": "/api/nowhere"}));
    assert_eq!(reply["status"], 404);
    assert_eq!(reply["body"]["error"]["code"], "not_found");

    let reply = send(json!({"type": "launch_missiles"}));
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["error"]["code"], "bad_message");

    let reply = send(json!({"type": "request", "id": 8, "method": "GET", "path": "/etc/passwd"}));
    assert_eq!(reply["type"], "error");
    assert_eq!(reply["id"], 8);
}

#[test]
fn v1_serves_the_local_model() {
    let (_agent, url) = start_agent(&["--bind", "127.0.0.1:0"]);
    let http = client();
    let status = get_json(&http, format!("{url}/api/status"));
    let model = service(&status, "model");
    assert_eq!(model.unwrap()["state"], "up", "{status}");

    let models = get_json(&http, format!("{url}/v1/models"));
    assert_eq!(models["object"], "list");
    let response = http
        .post(format!("{url}/v1/chat/completions"))
        .json(&json!({
            "model": models["data"][0]["id"],
            "messages": [{"role": "user", "content": "Say hello."}],
            "max_tokens": 8,
            "seed": 1
        }))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().unwrap();
    let reply = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(!reply.trim().is_empty(), "{body}");
}

#[test]
fn v1_without_a_model_is_unavailable_and_says_why() {
    let home = tempfile::tempdir().unwrap();
    let empty_store = tempfile::tempdir().unwrap();
    let mut child = command(home.path())
        .env("DIGIOS_CACHE_DIR", empty_store.path())
        .args(["agent", "--bind", "127.0.0.1:0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let url = read_listening_line(&mut child);
    let _agent = Process { child, home };
    let http = client();
    let response = http.get(format!("{url}/v1/models")).send().unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().unwrap();
    assert_eq!(body["error"]["code"], "unavailable");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("digios model pull"),
        "{body}"
    );
    let status = get_json(&http, format!("{url}/api/status"));
    assert_eq!(status["status"], "degraded");
}
