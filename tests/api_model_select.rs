//! Choosing the language model through the public API: a real SmolLM2 GGUF
//! loaded into the slot the planner and `/v1` share, with its events, its
//! typed refusals, and `digios ctl model select`.

use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use digios_tests::api_client::http_client;
use digios_tests::digios::{ctl, ctl_ok, model_cache_dir, start_agent_with_config};
use digios_tests::model_fixtures::{EntrySpec, FileSpec, manifest_toml, random_bytes};
use digios_tests::websocket::{Socket, connect, next_json, subscribe};
use serde_json::{Value, json};

const SMOLLM2_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";

fn websocket(url: &str) -> Socket {
    connect(url, Duration::from_secs(120))
}

/// A manifest whose only usable language model is the real SmolLM2 file
/// (linked into `models`), beside a missing one, a corrupt one and a
/// speech model; its default model is absent, so the agent starts empty.
fn store(dir: &Path) -> String {
    let models = dir.join("models");
    std::fs::create_dir_all(&models).unwrap();
    let real = model_cache_dir().join("models").join(SMOLLM2_FILE);
    std::os::unix::fs::symlink(&real, models.join(SMOLLM2_FILE)).unwrap();
    let size = std::fs::metadata(&real).unwrap().len();
    let corrupt = random_bytes(4096, 3);
    std::fs::write(models.join("corrupt.gguf"), &corrupt).unwrap();
    let mut manifest = manifest_toml(&[
        EntrySpec::new(
            "corrupt-llm",
            vec![FileSpec::of("corrupt.gguf", &corrupt)],
            vec![],
        ),
        EntrySpec::new(
            "absent-llm",
            vec![FileSpec::of("absent.gguf", &random_bytes(1024, 4))],
            vec![],
        ),
    ]);
    manifest.push_str(&format!(
        "[[model]]\nid = \"smollm2-local\"\nkind = \"llm\"\ndescription = \"SmolLM2\"\nlicense = \"Apache-2.0\"\n\n\
         [[model.files]]\nname = {SMOLLM2_FILE:?}\nsize = {size}\nsha256 = \"TO-BE-MEASURED\"\n\n\
         [[model]]\nid = \"speech\"\nkind = \"stt\"\ndescription = \"not a chat model\"\nlicense = \"MIT\"\n\n\
         [[model.files]]\nname = \"corrupt.gguf\"\nsize = 4096\nsha256 = \"TO-BE-MEASURED\"\n\n"
    ));
    let path = dir.join("models.toml");
    std::fs::write(&path, manifest).unwrap();
    format!("[models]\nmanifest = {path:?}\ndir = {models:?}\ndefault_llm = \"absent-llm\"\n")
}

fn select(http: &reqwest::blocking::Client, url: &str, id: &str) -> (u16, Value) {
    let response = http
        .post(format!("{url}/api/models/{id}/select"))
        .send()
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().unwrap_or(Value::Null))
}

#[test]
fn a_selected_model_is_served_by_v1_and_refusals_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let config = store(dir.path());
    let (_agent, url) = start_agent_with_config(&config, &["--bind", "127.0.0.1:0"]);
    let http = http_client(Duration::from_secs(120));

    // No model yet: /v1 says so.
    let response = http.get(format!("{url}/v1/models")).send().unwrap();
    assert_eq!(response.status(), 503);

    let mut socket = websocket(&url);
    subscribe(&mut socket, &["models"]);

    // Typed refusals, none of which touches the slot.
    let (status, body) = select(&http, &url, "no-such-model");
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (status, body) = select(&http, &url, "speech");
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "not_a_language_model");
    let (status, body) = select(&http, &url, "absent-llm");
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "model_not_present");
    let (status, body) = select(&http, &url, "corrupt-llm");
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "model_unusable");
    let response = http
        .post(format!("{url}/api/models/smollm2-local/select"))
        .header("content-type", "application/json")
        .body("{\"chat_template\": ")
        .send()
        .unwrap();
    assert_eq!(response.status(), 400);

    // Several selections at once: one loads, the others are told a load runs.
    let barrier = Arc::new(Barrier::new(4));
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let (barrier, url, http) = (barrier.clone(), url.clone(), http.clone());
            std::thread::spawn(move || {
                barrier.wait();
                select(&http, &url, "smollm2-local")
            })
        })
        .collect();
    let results: Vec<(u16, Value)> = racers.into_iter().map(|r| r.join().unwrap()).collect();
    let loaded: Vec<_> = results.iter().filter(|(s, _)| *s == 200).collect();
    assert!(!loaded.is_empty(), "{results:?}");
    // Loading a GGUF takes far longer than four requests take to arrive.
    assert!(
        loaded.len() < results.len(),
        "no selection was refused: {results:?}"
    );
    for (status, body) in &results {
        if *status != 200 {
            assert_eq!(*status, 409, "{body}");
            assert_eq!(body["error"]["code"], "conflict");
        }
    }
    assert_eq!(loaded[0].1["model"], "smollm2-local");
    assert_eq!(loaded[0].1["state"], "loaded");

    // The events, in order: the corrupt model's failure, then the load.
    let mut kinds = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !kinds.contains(&"model_selected".to_string()) {
        assert!(
            Instant::now() < deadline,
            "no model_selected; saw {kinds:?}"
        );
        let event = next_json(&mut socket);
        assert_eq!(event["topic"], "models", "{event}");
        kinds.push(event["kind"].as_str().unwrap().to_string());
    }
    assert_eq!(
        &kinds[..4],
        [
            "model_loading",
            "model_load_failed",
            "model_loading",
            "model_selected"
        ],
        "{kinds:?}"
    );

    // `/v1` and the list now show the selected model.
    let models: Value = http
        .get(format!("{url}/v1/models"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(models["data"][0]["id"], "smollm2-local", "{models}");
    let reply: Value = http
        .post(format!("{url}/v1/chat/completions"))
        .json(&json!({"messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 4}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(
        reply["choices"][0]["message"]["content"].is_string(),
        "{reply}"
    );
    let list: Value = http
        .get(format!("{url}/api/models"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let active: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["active"] == true)
        .collect();
    assert_eq!(active.len(), 1, "{list}");
    assert_eq!(active[0]["id"], "smollm2-local");

    // The same through the CLI.
    let printed = ctl_ok(&url, &["model", "select", "smollm2-local"]);
    assert!(printed.contains("smollm2-local loaded"), "{printed}");
    let output = ctl(&url, &["model", "select", "speech"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not_a_language_model"));
}
