//! One improvement cycle end to end with the real default model (SmolLM2),
//! through `digios agent`'s API and `digios ctl`, each a real process: the
//! model writes a skill for a failing suite task under the reply grammar,
//! QuickJS compiles it, the sandboxed suite judges it. The outcome (most
//! likely a rejection: a 135M model rarely writes a working skill) is
//! whatever happened; the test asserts it is recorded completely and honestly.

use std::time::{Duration, Instant};

use digios_tests::api_client::ApiClient;
use digios_tests::digios::{self, Desktop, start_desktop_with_config};
use serde_json::Value;

/// A cycle bounded for CI: three tasks (two the fast paths pass, one the
/// model must do), short task budgets, one repair.
const CONFIG: &str = r#"
[improve]
tasks = ["open-terminal", "close-terminal", "count-lines"]
eval_max_steps = 3
eval_task_timeout_secs = 90
repairs = 1
max_tokens = 1600
"#;

fn ctl(desktop: &Desktop, args: &[&str]) -> String {
    digios::ctl_ok(&desktop.url, args)
}

#[test]
fn a_cycle_with_the_real_model_runs_end_to_end_and_is_recorded() {
    let desktop = start_desktop_with_config(CONFIG);
    let api = ApiClient::new(&desktop.url);

    let (status, started) = api.post("/api/improve/cycles", serde_json::json!({}));
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["state"], "running");
    let id = started["id"].as_i64().unwrap();
    let (status, busy) = api.post("/api/improve/cycles", serde_json::json!({}));
    assert_eq!(status, 409, "one cycle at a time: {busy}");

    let deadline = Instant::now() + Duration::from_secs(900);
    let cycle: Value = loop {
        let (status, cycle) = api.get(&format!("/api/improve/cycles/{id}"));
        assert_eq!(status, 200, "{cycle}");
        if cycle["state"] != "running" {
            break cycle;
        }
        assert!(
            Instant::now() < deadline,
            "the cycle is still running: {cycle:#}"
        );
        std::thread::sleep(Duration::from_secs(2));
    };
    println!("{}", ctl(&desktop, &["improve", "show", &id.to_string()]));

    let state = cycle["state"].as_str().unwrap();
    assert!(
        ["integrated", "rejected"].contains(&state),
        "the cycle decided rather than broke: {cycle:#}"
    );
    assert_eq!(cycle["model"], "SmolLM2-135M-Instruct.Q4_1");
    assert!(cycle["reason"].as_str().is_some_and(|r| !r.is_empty()));
    assert_eq!(cycle["targets"], serde_json::json!(["count-lines"]));
    let attempts = cycle["attempts"].as_array().unwrap();
    assert!(!attempts.is_empty() && attempts.len() <= 2, "{attempts:?}");
    for attempt in attempts {
        assert!(!attempt["reply"].as_str().unwrap().is_empty(), "{attempt}");
        assert!(attempt["error"].is_null() || attempt["error"].is_string());
    }
    let first_prompt = attempts[0]["prompt"].as_array().unwrap();
    assert!(
        first_prompt[1]["content"]
            .as_str()
            .unwrap()
            .contains("count.txt")
    );
    let baseline = cycle["baseline_run_id"].as_i64().unwrap();
    assert!(cycle["score_before"].is_f64());

    // Every run the cycle made is served, newest first, with each task.
    let (status, runs) = api.get("/api/eval/runs?limit=10");
    assert_eq!(status, 200, "{runs}");
    let runs = runs.as_array().unwrap();
    let ids: Vec<i64> = runs.iter().map(|r| r["id"].as_i64().unwrap()).collect();
    assert!(ids.contains(&baseline), "{ids:?}");
    for run in runs {
        assert_eq!(run["tasks"].as_array().unwrap().len(), 3, "{run}");
    }
    if state == "integrated" {
        assert!(cycle["score_after"].as_f64() > cycle["score_before"].as_f64());
        let name = cycle["skill_name"].as_str().unwrap();
        let (status, skill) = api.get(&format!("/api/skills/{name}"));
        assert_eq!(status, 200, "{skill}");
    }

    // A suite run on demand: unknown tasks are a 422, a run is a 202 and
    // finishes with each task's result; the CLI waits for one and prints it.
    let (status, body) = api.post(
        "/api/eval/runs",
        serde_json::json!({"tasks": ["no-such-task"]}),
    );
    assert_eq!(status, 422, "{body}");
    let (status, run) = api.post(
        "/api/eval/runs",
        serde_json::json!({"tasks": ["maximize-terminal"]}),
    );
    assert_eq!(status, 202, "{run}");
    assert_eq!(run["state"], "running");
    assert_eq!(run["purpose"], "manual");
    let deadline = Instant::now() + Duration::from_secs(120);
    let stored = loop {
        let (_, stored) = api.get(&format!("/api/eval/runs/{}", run["id"]));
        if stored["state"] != "running" {
            break stored;
        }
        assert!(
            Instant::now() < deadline,
            "the run is still going: {stored}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(stored["state"], "finished", "{stored}");
    assert_eq!(stored["tasks"][0]["task"], "maximize-terminal");
    assert_eq!(stored["tasks"][0]["success"], true, "a fast path: {stored}");
    let printed = ctl(
        &desktop,
        &["eval", "run", "--task", "open-terminal", "--wait"],
    );
    assert!(printed.contains("open-terminal"), "{printed}");
    assert!(printed.contains("pass"), "{printed}");

    let history = ctl(&desktop, &["improve", "history"]);
    assert!(
        history.contains(&format!("cycle {id} {state}")),
        "{history}"
    );
    let runs = ctl(&desktop, &["eval", "runs", "--limit", "5"]);
    assert!(runs.contains("count-lines"), "{runs}");

    // A cycle stopped on request ends cancelled; an ended one is a 409.
    let (status, started) = api.post("/api/improve/cycles", serde_json::json!({}));
    assert_eq!(status, 202, "{started}");
    let id = started["id"].as_i64().unwrap();
    let (status, stopped) = api.post(
        &format!("/api/improve/cycles/{id}/cancel"),
        serde_json::json!({}),
    );
    assert_eq!(status, 200, "{stopped}");
    assert_eq!(stopped["state"], "cancelled", "{stopped}");
    assert_eq!(stopped["reason"], "stopped: cancelled by the user");
    let (status, again) = api.post(
        &format!("/api/improve/cycles/{id}/cancel"),
        serde_json::json!({}),
    );
    assert_eq!(status, 409, "{again}");
    assert_eq!(again["error"]["code"], "conflict");
    let (status, missing) = api.post("/api/improve/cycles/999999/cancel", serde_json::json!({}));
    assert_eq!(status, 404, "{missing}");
    let history = ctl(&desktop, &["improve", "history"]);
    assert!(
        history.contains(&format!("cycle {id} cancelled")),
        "{history}"
    );
}
