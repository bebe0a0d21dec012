//! `/api/ws` under hostile input: thousands of malformed, mistyped, random
//! and pipelined messages from a seeded generator against a real agent.
//! Every message gets one typed answer, no command is a 5xx, the per-
//! connection limits answer with their codes, and the agent stays up.

use std::time::Duration;

use digios_tests::digios::start_agent_with_config;
use digios_tests::websocket::{Socket, connect};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tungstenite::Message;

const MESSAGES: usize = 1500;
const LIMIT: usize = 16 * 1024;

fn websocket(url: &str) -> Socket {
    connect(url, Duration::from_secs(60))
}

/// The next answer to a message of ours (events are skipped).
fn next_answer(socket: &mut Socket) -> Value {
    loop {
        match socket.read().expect("the connection stays open") {
            Message::Text(text) => {
                let value: Value = serde_json::from_str(&text).expect("the server sends JSON");
                if value["type"] != "event" && value["type"] != "lagged" {
                    return value;
                }
            }
            Message::Close(frame) => panic!("the server closed the connection: {frame:?}"),
            _ => {}
        }
    }
}

/// Checks one answer's shape; returns its HTTP status for replies.
fn check_answer(answer: &Value, sent: &str) -> Option<u64> {
    match answer["type"].as_str() {
        Some("reply") => {
            let status = answer["status"].as_u64().expect("a reply has a status");
            assert!(status < 500 || status == 503, "a 5xx for {sent}: {answer}");
            // A HEAD reply carries no body, as over HTTP.
            let head = sent.contains("\"method\":\"HEAD\"");
            if status >= 400 && !head {
                assert!(
                    answer["body"]["error"]["code"].is_string(),
                    "an untyped error for {sent}: {answer}"
                );
            }
            Some(status)
        }
        Some("error") => {
            assert!(answer["error"]["code"].is_string(), "{answer}");
            assert!(answer["error"]["message"].is_string(), "{answer}");
            None
        }
        Some("subscribed") => {
            assert!(answer["topics"].is_array(), "{answer}");
            None
        }
        _ => panic!("an unknown answer to {sent}: {answer}"),
    }
}

const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "PATCH", "get", "OPTIONS", "HEAD", "TRACE", "FOO", "", "G ET",
    "\u{0}",
];
const PATHS: &[&str] = &[
    "/api/status",
    "/api/capabilities",
    "/api/actions",
    "/api/action",
    "/api/action?confirm=maybe",
    "/api/windows",
    "/api/windows/999999",
    "/api/windows/abc/focus",
    "/api/tasks",
    "/api/tasks?limit=-1",
    "/api/tasks/00000000-0000-0000-0000-000000000000",
    "/api/tasks/x/confirm",
    "/api/memory/search?q=",
    "/api/memory/facts",
    "/api/memory/facts/fact/%00",
    "/api/memory/audit?limit=99999999999999999999",
    "/api/models",
    "/api/models/nope/select",
    "/api/models/nope/pull",
    "/api/voice",
    "/api/vision/analyze?region=1,2",
    "/api/openapi.json",
    "/api/ws",
    "/api/../etc/passwd",
    "/api/%ZZ",
    "/v1/models",
    "http://example.com/api/status",
    "",
    "api/status",
    "/api/status\n",
    "/api/\u{1F600}",
];

fn random_text(rng: &mut StdRng, max: usize) -> String {
    let len = rng.random_range(0..max);
    (0..len)
        .map(|_| match rng.random_range(0..10) {
            0 => char::from_u32(rng.random_range(0..0xD800)).unwrap_or('?'),
            1 => ['{', '}', '[', ']', '"', ':', ',', '\\'][rng.random_range(0..8)],
            _ => rng.random_range(b' '..=b'~') as char,
        })
        .collect()
}

fn random_json(rng: &mut StdRng, depth: u32) -> Value {
    match rng.random_range(0..if depth > 3 { 5 } else { 8 }) {
        0 => Value::Null,
        1 => json!(rng.random::<bool>()),
        2 => json!(rng.random::<i64>()),
        3 => json!(rng.random::<f64>() * 1e300),
        4 => json!(random_text(rng, 40)),
        5 => Value::Array(
            (0..rng.random_range(0..5))
                .map(|_| random_json(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let keys = [
                "type",
                "id",
                "method",
                "path",
                "body",
                "topics",
                "action_type",
                "params",
                "x",
                "y",
            ];
            let mut map = serde_json::Map::new();
            for _ in 0..rng.random_range(0..6) {
                map.insert(
                    (*keys.choose(rng).unwrap()).to_string(),
                    random_json(rng, depth + 1),
                );
            }
            Value::Object(map)
        }
    }
}

fn well_formed_request(rng: &mut StdRng, id: usize) -> Value {
    let mut request = json!({
        "type": "request",
        "id": id,
        "method": METHODS.choose(rng).unwrap(),
        "path": PATHS.choose(rng).unwrap(),
    });
    if rng.random_bool(0.6) {
        request["body"] = random_json(rng, 0);
    }
    request
}

/// One hostile message: text we expect an answer to.
fn hostile_message(rng: &mut StdRng, id: usize) -> String {
    match rng.random_range(0..9) {
        0 => random_text(rng, 300),
        1 => random_json(rng, 0).to_string(),
        2 | 3 => well_formed_request(rng, id).to_string(),
        4 => {
            // A valid message with a few bytes flipped, cut or doubled.
            let mut text: Vec<char> = well_formed_request(rng, id).to_string().chars().collect();
            for _ in 0..rng.random_range(1..4) {
                let at = rng.random_range(0..text.len());
                match rng.random_range(0..3) {
                    0 => text[at] = rng.random_range(b' '..=b'~') as char,
                    1 => {
                        text.truncate(at);
                        if text.is_empty() {
                            text.push('{');
                        }
                    }
                    _ => {
                        let c = text[at];
                        text.insert(at, c);
                    }
                }
            }
            text.into_iter().collect()
        }
        5 => {
            let depth = rng.random_range(100..4000);
            format!("{}{}", "[".repeat(depth), "]".repeat(depth))
        }
        6 => {
            let kind = ["subscribe", "unsubscribe"].choose(rng).unwrap();
            json!({"type": kind, "topics": [random_text(rng, 12), "windows", "nope"]}).to_string()
        }
        7 => json!({"type": "request", "id": random_json(rng, 2), "method": "GET",
                    "path": "/api/status", "extra": 1})
        .to_string(),
        _ => json!({"type": "request", "id": id, "method": "POST", "path": "/api/memory/search",
                    "body": random_text(rng, LIMIT / 2)})
        .to_string(),
    }
}

#[test]
fn hostile_websocket_messages_get_typed_answers_and_the_agent_stays_up() {
    let config = format!(
        "[api]\nws_message_limit_bytes = {LIMIT}\nrate_limit_per_second = 100\nrate_limit_burst = 200\n"
    );
    let (mut agent, url) = start_agent_with_config(&config, &["--bind", "127.0.0.1:0"]);
    let mut rng = StdRng::seed_from_u64(0x5eed_d1a1);
    let mut socket = websocket(&url);

    // One at a time: each message gets exactly one typed answer.
    let mut statuses = std::collections::BTreeMap::<u64, usize>::new();
    for id in 0..MESSAGES {
        let text = hostile_message(&mut rng, id);
        assert!(text.len() < LIMIT);
        if rng.random_bool(0.05) {
            socket
                .send(Message::Binary(text.clone().into_bytes().into()))
                .unwrap();
        } else {
            socket.send(Message::Text(text.clone().into())).unwrap();
        }
        if rng.random_bool(0.02) {
            socket.send(Message::Ping(vec![1, 2, 3].into())).unwrap();
        }
        let answer = next_answer(&mut socket);
        if let Some(status) = check_answer(&answer, &text) {
            *statuses.entry(status).or_default() += 1;
        }
    }
    assert!(statuses.contains_key(&200), "{statuses:?}");

    // Pipelined past the connection's limits: every command is answered,
    // either carried out or refused with the limit's code.
    let burst = 300;
    for id in 0..burst {
        let request = json!({"type": "request", "id": id, "method": "GET", "path": "/api/status"});
        socket
            .send(Message::Text(request.to_string().into()))
            .unwrap();
    }
    let (mut done, mut refused) = (0, 0);
    for _ in 0..burst {
        let answer = next_answer(&mut socket);
        match (answer["type"].as_str(), answer["status"].as_u64()) {
            (Some("reply"), Some(200)) => done += 1,
            (Some("reply"), Some(429)) => {
                assert_eq!(answer["body"]["error"]["code"], "rate_limited", "{answer}");
                refused += 1;
            }
            (Some("error"), _) => {
                assert_eq!(answer["error"]["code"], "too_many_requests", "{answer}");
                refused += 1;
            }
            _ => panic!("unexpected answer in a burst: {answer}"),
        }
    }
    assert_eq!(done + refused, burst);
    assert!(refused > 0, "300 commands at once passed a burst of 200");

    // Past the message limit: a typed error, then close code 1009.
    let oversized = json!({"type": "request", "id": 0, "method": "GET", "path": "/api/status",
        "body": "x".repeat(LIMIT * 2)});
    socket
        .send(Message::Text(oversized.to_string().into()))
        .unwrap();
    let error = next_answer(&mut socket);
    assert_eq!(error["error"]["code"], "message_too_large", "{error}");

    // The agent lives on and serves new connections.
    assert!(
        agent.child.try_wait().unwrap().is_none(),
        "the agent exited"
    );
    let mut fresh = websocket(&url);
    let request = json!({"type": "request", "id": "again", "method": "GET", "path": "/api/status"});
    fresh
        .send(Message::Text(request.to_string().into()))
        .unwrap();
    let reply = next_answer(&mut fresh);
    assert_eq!(
        (reply["id"].as_str(), reply["status"].as_u64()),
        (Some("again"), Some(200)),
        "{reply}"
    );
}

/// Sends `count` pipelined `GET /api/status` on one connection and reads
/// every answer: (status, body) each.
fn pipelined_status(address: &str, count: usize) -> Vec<(u16, String)> {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let request = format!("GET /api/status HTTP/1.1\r\nHost: {address}\r\n\r\n");
    stream.write_all(request.repeat(count).as_bytes()).unwrap();
    let mut reader = BufReader::new(stream);
    (0..count)
        .map(|_| {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
            let mut length = 0;
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            (status, String::from_utf8(body).unwrap())
        })
        .collect()
}

#[test]
fn the_rate_limit_is_per_connection() {
    let config = "[api]\nrate_limit_per_second = 10\nrate_limit_burst = 50\n";
    let (agent, url) = start_agent_with_config(config, &["--bind", "127.0.0.1:0"]);
    let address = url.trim_start_matches("http://").to_string();

    // Past the burst on one connection: the rest are refused with the
    // limit's code, and the connection stays usable.
    let answers = pipelined_status(&address, 120);
    let admitted = answers.iter().filter(|(status, _)| *status == 200).count();
    let refused: Vec<&String> = answers
        .iter()
        .filter(|(status, _)| *status == 429)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(admitted + refused.len(), 120, "{answers:?}");
    assert!((50..70).contains(&admitted), "admitted {admitted} of 120");
    for body in refused {
        let error: Value = serde_json::from_str(body).unwrap();
        assert_eq!(error["error"]["code"], "rate_limited", "{error}");
    }

    // Another connection has its own bucket.
    let fresh = pipelined_status(&address, 10);
    assert!(fresh.iter().all(|(status, _)| *status == 200), "{fresh:?}");
    drop(agent);
}
