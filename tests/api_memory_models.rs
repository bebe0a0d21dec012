//! Memory, model store and WebSocket limits through the public API of a
//! real agent: facts and search on real SQLite, a model pulled from a
//! loopback file server with progress on the `downloads` topic.

use std::time::{Duration, Instant};

use digios_tests::api_client::http_client;
use digios_tests::digios::{start_agent, start_agent_with_config};
use digios_tests::model_fixtures::agent_with_held_pull;
use digios_tests::websocket::{Socket, connect, next_json, subscribe};
use serde_json::{Value, json};

fn websocket(url: &str) -> Socket {
    connect(url, Duration::from_secs(60))
}

#[test]
fn facts_are_stored_searched_and_forgotten() {
    let (_agent, url) = start_agent(&["--bind", "127.0.0.1:0"]);
    let http = http_client(Duration::from_secs(30));
    let fact = format!("{url}/api/memory/facts/preference/terminal");

    let response = http.get(&fact).send().unwrap();
    assert_eq!(response.status(), 404);

    let put: Value = http
        .put(&fact)
        .json(&json!({"value": "foot with the solarized theme"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(put["key"], "terminal");
    assert_eq!(put["kind"], "preference");
    assert_eq!(put["provenance"]["source"], "user");

    let got: Value = http.get(&fact).send().unwrap().json().unwrap();
    assert_eq!(got["value"], "foot with the solarized theme");

    let listed: Value = http
        .get(format!("{url}/api/memory/facts?kind=preference"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let hits: Value = http
        .get(format!(
            "{url}/api/memory/search?q=which%20theme%3F&limit=5"
        ))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(hits[0]["kind"], "fact", "{hits}");
    assert_eq!(hits[0]["id"], put["id"]);

    let response = http.delete(&fact).send().unwrap();
    assert_eq!(response.status(), 204);
    let response = http.delete(&fact).send().unwrap();
    assert_eq!(response.status(), 404);
    let response = http
        .get(format!("{url}/api/memory/facts/opinion/x"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 400);
    let response = http
        .get(format!("{url}/api/memory/search?q=x&limit=0"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 422);
}

#[test]
fn a_pull_reports_progress_on_the_downloads_topic() {
    let pull = agent_with_held_pull(7);
    let (url, server) = (&pull.url, &pull.server);
    let http = http_client(Duration::from_secs(30));

    let tiny = |http: &reqwest::blocking::Client| -> Value {
        let list: Value = http
            .get(format!("{url}/api/models"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == "tiny-test")
            .cloned()
            .expect("tiny-test listed")
    };
    assert_eq!(tiny(&http)["state"], "missing");

    let mut socket = websocket(url);
    subscribe(&mut socket, &["downloads"]);

    let response = http
        .post(format!("{url}/api/models/tiny-test/pull"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 202);
    pull.runtime.block_on(server.wait_until_held());
    // While the first pull is under way, a second is a conflict.
    let response = http
        .post(format!("{url}/api/models/tiny-test/pull"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 409);
    let body: Value = response.json().unwrap();
    assert_eq!(body["error"]["code"], "conflict");
    assert_eq!(tiny(&http)["pulling"], true);
    server.release();

    let mut kinds = Vec::new();
    let mut last_seq = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "no pull_finished; saw {kinds:?}");
        let event = next_json(&mut socket);
        assert_eq!(event["topic"], "downloads");
        let seq = event["seq"].as_u64().unwrap();
        assert!(seq > last_seq, "events out of order");
        last_seq = seq;
        let kind = event["kind"].as_str().unwrap().to_string();
        assert_ne!(kind, "pull_failed", "{event}");
        kinds.push(kind.clone());
        if kind == "pull_finished" {
            assert_eq!(event["data"]["downloaded"], true);
            break;
        }
    }
    assert!(
        kinds.contains(&"download_progress".to_string()),
        "{kinds:?}"
    );
    assert!(kinds.contains(&"installed".to_string()), "{kinds:?}");
    assert_eq!(
        std::fs::read(pull.models.join("tiny.gguf")).unwrap(),
        pull.bytes
    );
    let state = tiny(&http)["state"].clone();
    assert!(state == "verified" || state == "present", "{state}");

    let response = http
        .post(format!("{url}/api/models/no-such-model/pull"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[test]
fn an_oversized_websocket_message_gets_a_typed_error() {
    let config = "[api]\nws_message_limit_bytes = 4096\n";
    let (_agent, url) = start_agent_with_config(config, &["--bind", "127.0.0.1:0"]);
    let mut socket = websocket(&url);
    let big = json!({"type": "request", "id": 1, "method": "POST", "path": "/api/action",
        "body": {"action_type": "type_text", "params": {"text": "x".repeat(8192)}}});
    socket
        .send(tungstenite::Message::Text(big.to_string().into()))
        .unwrap();
    let error = next_json(&mut socket);
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["code"], "message_too_large");
    assert_eq!(error["error"]["details"]["limit_bytes"], 4096);
    let close = loop {
        match socket.read() {
            Ok(tungstenite::Message::Close(frame)) => break frame,
            Ok(_) => continue,
            Err(err) => panic!("expected a close frame, got {err}"),
        }
    };
    let frame = close.expect("a close frame with a code");
    assert_eq!(u16::from(frame.code), 1009);
}
