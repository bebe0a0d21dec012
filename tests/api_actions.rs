//! File, process and shell actions through `/api/action` on a real agent
//! over real HTTP, with the safety policy and the file roots in force.

use std::path::Path;
use std::time::{Duration, Instant};

use digios_tests::digios::{Process, start_agent_with_config};
use serde_json::{Value, json};

struct Agent {
    _process: Process,
    url: String,
    http: reqwest::blocking::Client,
}

impl Agent {
    fn start(root: &Path, extra_rules: &str) -> Self {
        let config = format!(
            r#"
[actions]
file_roots = [{root:?}]
command_output_limit_bytes = 1000

[policy]
rules = [
{extra_rules}
]
"#
        );
        let (process, url) = start_agent_with_config(&config, &["--bind", "127.0.0.1:0"]);
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        Self {
            _process: process,
            url,
            http,
        }
    }

    /// Sends an action; `confirm` answers the policy's question in advance.
    fn act(&self, action_type: &str, params: Value, confirm: bool) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/api/action?confirm={confirm}", self.url))
            .json(&json!({"action_type": action_type, "params": params}))
            .send()
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().unwrap_or(Value::Null))
    }

    fn ok(&self, action_type: &str, params: Value) -> Value {
        let (status, body) = self.act(action_type, params, true);
        assert_eq!(status, 200, "{action_type}: {body}");
        body["result"].clone()
    }

    fn error(&self, action_type: &str, params: Value, confirm: bool) -> (u16, String) {
        let (status, body) = self.act(action_type, params, confirm);
        let code = body["error"]["code"].as_str().unwrap_or("").to_string();
        (status, code)
    }
}

#[test]
fn files_stay_under_their_roots_and_ask_before_changing() {
    let root = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "not yours").unwrap();
    std::os::unix::fs::symlink(outside.path(), root.path().join("escape")).unwrap();
    std::fs::create_dir(root.path().join("private")).unwrap();
    let private_rule = format!(
        "{{ action = \"*\", path = \"{}/private/**\", verdict = \"deny\" }},",
        root.path().display()
    );
    let agent = Agent::start(root.path(), &private_rule);
    let file = root.path().join("notes/today.txt");
    let file_str = file.display().to_string();

    // Writing asks first: without the user's yes nothing happens.
    let (status, code) = agent.error(
        "write_file",
        json!({"path": file_str, "content": "x", "create_dirs": true}),
        false,
    );
    assert_eq!((status, code.as_str()), (403, "confirmation_required"));
    assert!(!file.exists());

    let written = agent.ok(
        "write_file",
        json!({"path": file_str, "content": "héllo\nworld\n", "create_dirs": true}),
    );
    assert_eq!(written["written_bytes"], 13);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "héllo\nworld\n");

    // Reading is free; a character cut by max_bytes is not returned half.
    let read = agent.ok("read_file", json!({"path": file_str, "max_bytes": 2}));
    assert_eq!(read["content"], "h");
    assert_eq!(read["truncated"], true);
    let read = agent.ok("read_file", json!({"path": file_str}));
    assert_eq!(read["content"], "héllo\nworld\n");

    // An existing file is a conflict when the caller said so.
    let (status, code) = agent.error(
        "write_file",
        json!({"path": file_str, "content": "y", "if_exists": "fail"}),
        true,
    );
    assert_eq!((status, code.as_str()), (409, "conflict"));
    agent.ok(
        "write_file",
        json!({"path": file_str, "content": "more\n", "if_exists": "append"}),
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "héllo\nworld\nmore\n"
    );

    let listed = agent.ok("list_files", json!({"path": root.path().join("notes")}));
    assert_eq!(listed["entries"][0]["name"], "today.txt");
    assert_eq!(listed["entries"][0]["kind"], "file");

    // Moving onto an existing file needs overwrite; then it moves.
    let other = root.path().join("other.txt");
    std::fs::write(&other, "old").unwrap();
    let (status, code) = agent.error("move_file", json!({"from": file_str, "to": other}), true);
    assert_eq!((status, code.as_str()), (409, "conflict"));
    agent.ok(
        "move_file",
        json!({"from": file_str, "to": other, "overwrite": true}),
    );
    assert!(!file.exists());
    assert_eq!(
        std::fs::read_to_string(&other).unwrap(),
        "héllo\nworld\nmore\n"
    );

    // A copy leaves the original; an existing copy is replaced only on request.
    let copy = root.path().join("copy.txt");
    let copied = agent.ok("copy_file", json!({"from": other, "to": copy}));
    assert_eq!(copied["bytes"], 18);
    assert_eq!(
        std::fs::read_to_string(&copy).unwrap(),
        std::fs::read_to_string(&other).unwrap()
    );
    std::fs::write(&other, "newer\n").unwrap();
    let (status, code) = agent.error("copy_file", json!({"from": other, "to": copy}), true);
    assert_eq!((status, code.as_str()), (409, "conflict"));
    agent.ok(
        "copy_file",
        json!({"from": other, "to": copy, "overwrite": true}),
    );
    assert_eq!(std::fs::read_to_string(&copy).unwrap(), "newer\n");
    let (status, code) = agent.error(
        "copy_file",
        json!({"from": root.path().join("notes"), "to": root.path().join("notes2")}),
        true,
    );
    assert_eq!((status, code.as_str()), (409, "conflict"));

    // A directory that is not empty is deleted only recursively.
    let notes = root.path().join("notes");
    std::fs::write(notes.join("keep.txt"), "k").unwrap();
    let (status, code) = agent.error("delete_file", json!({"path": notes}), true);
    assert_eq!((status, code.as_str()), (409, "conflict"));
    agent.ok("delete_file", json!({"path": notes, "recursive": true}));
    assert!(!notes.exists());
    let (status, code) = agent.error("delete_file", json!({"path": notes}), true);
    assert_eq!((status, code.as_str()), (404, "not_found"));

    // Outside the roots, directly or through a symlink: refused, untouched.
    let secret = outside.path().join("secret.txt");
    let (status, code) = agent.error("read_file", json!({"path": secret}), true);
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    let through_link = root.path().join("escape/secret.txt");
    let (status, code) = agent.error("delete_file", json!({"path": through_link}), true);
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    assert!(secret.exists());
    let (status, code) = agent.error("delete_file", json!({"path": root.path()}), true);
    assert_eq!((status, code.as_str()), (403, "forbidden"));

    // A path rule of the policy denies even with the user's yes.
    let private = root.path().join("private/plan.txt");
    let (status, code) = agent.error("write_file", json!({"path": private, "content": "x"}), true);
    assert_eq!((status, code.as_str()), (403, "denied"));
    assert!(!private.exists());

    // The audit log holds the refusal and the change, newest first.
    let audit: Value = agent
        .http
        .get(format!("{}/api/memory/audit?limit=50", agent.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let entries = audit.as_array().unwrap();
    let denied = entries
        .iter()
        .find(|e| e["action"] == "write_file" && e["decision"] == "denied")
        .expect("the denied write is audited");
    assert_eq!(denied["outcome"]["outcome"], "not_run");
    let deleted = entries
        .iter()
        .find(|e| e["action"] == "delete_file" && e["decision"] == "confirmed")
        .expect("the confirmed delete is audited");
    assert!(deleted["outcome"].is_object(), "{deleted}");
    assert!(
        !entries.iter().any(|e| e["action"] == "read_file"),
        "reads are not audited"
    );

    // Relative paths and bad params are typed errors.
    let (status, code) = agent.error("read_file", json!({"path": "relative.txt"}), false);
    assert_eq!(status, 403, "{code}");
    let (status, code) = agent.error("read_file", json!({"path": 7}), false);
    assert_eq!((status, code.as_str()), (422, "invalid_params"));
}

#[test]
fn shell_commands_have_a_timeout_and_an_output_cap() {
    let root = tempfile::tempdir().unwrap();
    let agent = Agent::start(root.path(), "");

    let (status, code) = agent.error("run_shell", json!({"command": "true"}), false);
    assert_eq!((status, code.as_str()), (403, "confirmation_required"));

    let done = agent.ok(
        "run_shell",
        json!({"command": "pwd; echo oops >&2; exit 3"}),
    );
    assert_eq!(done["exit_code"], 3);
    assert_eq!(done["timed_out"], false);
    let pwd = done["stdout"].as_str().unwrap().trim().to_string();
    assert_eq!(
        Path::new(&pwd).canonicalize().unwrap(),
        root.path().canonicalize().unwrap()
    );
    assert_eq!(done["stderr"], "oops\n");

    let started = Instant::now();
    let slow = agent.ok(
        "run_shell",
        json!({"command": "sleep 30 & sleep 30", "timeout_seconds": 1}),
    );
    assert_eq!(slow["timed_out"], true);
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "the timeout did not end the command"
    );

    let loud = agent.ok(
        "run_shell",
        json!({"command": "head -c 50000 /dev/zero | tr '\\0' a"}),
    );
    assert_eq!(loud["stdout"].as_str().unwrap().len(), 1000);
    assert_eq!(loud["stdout_bytes"], 50000);
    assert_eq!(loud["stdout_truncated"], true);

    let (status, code) = agent.error(
        "run_shell",
        json!({"command": "true", "timeout_seconds": 100000}),
        true,
    );
    assert_eq!((status, code.as_str()), (422, "invalid_params"));
    let (status, code) = agent.error("run_shell", json!({"command": "true", "cwd": "/"}), true);
    assert_eq!((status, code.as_str()), (403, "forbidden"));
}

#[test]
fn processes_are_listed_spawned_and_signalled() {
    let root = tempfile::tempdir().unwrap();
    let agent = Agent::start(root.path(), "");

    let (status, code) = agent.error("spawn_process", json!({"command": ["sleep", "300"]}), false);
    assert_eq!((status, code.as_str()), (403, "confirmation_required"));
    let spawned = agent.ok(
        "spawn_process",
        json!({"command": ["sleep", "300"], "env": {"DIGIOS_TEST_MARK": "1"}}),
    );
    let pid = spawned["pid"].as_i64().unwrap();

    let listed = agent.ok("list_processes", json!({"name": "sleep"}));
    let found = listed["processes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["pid"] == pid && p["command"] == json!(["sleep", "300"]));
    assert!(found, "spawned pid {pid} not listed: {listed}");

    agent.ok("signal_process", json!({"pid": pid, "signal": "TERM"}));
    let deadline = Instant::now() + Duration::from_secs(30);
    while Path::new(&format!("/proc/{pid}")).exists() {
        assert!(Instant::now() < deadline, "process {pid} outlived SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }

    let (status, code) = agent.error("signal_process", json!({"pid": pid}), true);
    assert_eq!((status, code.as_str()), (404, "not_found"));
    let (status, code) = agent.error("signal_process", json!({"pid": 1}), true);
    assert_eq!((status, code.as_str()), (403, "forbidden"));
    let (status, code) = agent.error(
        "signal_process",
        json!({"pid": pid, "signal": "BOGUS"}),
        true,
    );
    assert_eq!((status, code.as_str()), (422, "invalid_params"));
    let (status, code) = agent.error(
        "spawn_process",
        json!({"command": ["/nonexistent/program"]}),
        true,
    );
    assert_eq!((status, code.as_str()), (422, "spawn_failed"));
}
