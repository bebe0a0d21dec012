//! The one gate: the same confirm-tier action asked for by each origin (the
//! API, a planner task, a skill, the evaluator's sandbox) is judged in the
//! same order and leaves the same audit row, on a real headless compositor
//! and real SQLite. The kill switch refuses before anyone is asked.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use digios_agent::actions::{self, ActionRequest, ActionsConfig};
use digios_agent::desktop::Desktop;
use digios_agent::events::EventBus;
use digios_agent::gate::{Asker, Call, Confirm, Gate, Origin, PendingConfirmation, Refusal, Tools};
use digios_agent::llm::{
    CancellationToken, ChatRequest, Completion, LanguageModel, ModelDescription, ModelSlot,
};
use digios_agent::memory::{ActionOutcome, AuditEntry, Decision, Memory, Risk, TaskState};
use digios_agent::planner::{Planner, PlannerConfig, PlannerParts};
use digios_agent::policy::{KillSwitch, Policy, PolicyConfig, RuleConfig, Verdict};
use digios_agent::skills::{CallOptions, SkillDraft, SkillHost, SkillLimits, Skills};
use digios_agent::vision::Vision;
use digios_tests::digios::{Compositor, start_compositor};
use digios_tests::scripted_model;
use serde_json::{Value, json};

/// The action every origin asks for: a write the policy wants confirmed.
fn write_request(path: &Path, content: &str) -> ActionRequest {
    ActionRequest {
        action_type: "write_file".into(),
        params: json!({"path": path.display().to_string(), "content": content}),
    }
}

/// Everything is allowed but writing a file, which the user confirms.
fn writes_need_confirmation() -> Policy {
    let config = PolicyConfig {
        default: Verdict::Allow,
        builtin_rules: false,
        rules: vec![RuleConfig {
            action: "write_file".into(),
            path: None,
            verdict: Verdict::Confirm,
        }],
    };
    Policy::new(&config, None).unwrap()
}

struct Rig {
    tools: Tools,
    root: tempfile::TempDir,
    _data: tempfile::TempDir,
    _compositor: Compositor,
}

async fn rig() -> Rig {
    let compositor = tokio::task::spawn_blocking(start_compositor).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let memory = Memory::open(data.path().join("memory.db")).await.unwrap();
    let actions = ActionsConfig {
        file_roots: vec![root.path().display().to_string()],
        ..ActionsConfig::default()
    };
    let tools = Tools {
        desktop: Desktop::new(compositor.control_socket.clone()),
        actions,
        policy: Arc::new(writes_need_confirmation()),
        kill_switch: KillSwitch::new(),
        memory,
    };
    Rig {
        tools,
        root,
        _data: data,
        _compositor: compositor,
    }
}

impl Rig {
    fn file(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    /// The newest audit row of `action`.
    async fn last_audit(&self) -> AuditEntry {
        let rows = self.tools.memory.list_audit(None, 1).await.unwrap();
        rows.into_iter().next().expect("an audit row")
    }
}

/// A model that asks for one action, then says it is done.
struct OneCall {
    call: Value,
    turns: AtomicUsize,
}

impl LanguageModel for OneCall {
    fn describe(&self) -> ModelDescription {
        scripted_model::description()
    }

    fn complete(&self, _request: ChatRequest, _cancel: CancellationToken) -> Completion {
        let reply = match self.turns.fetch_add(1, Ordering::SeqCst) {
            0 => self.call.clone(),
            _ => json!({"action": "finish", "params": {"summary": "written"}}),
        };
        Completion::ready(reply.to_string())
    }
}

fn planner(tools: &Tools, request: &ActionRequest, sandboxed: bool) -> Planner {
    let model = Arc::new(OneCall {
        call: json!({"action": request.action_type, "params": request.params}),
        turns: AtomicUsize::new(0),
    });
    let parts = PlannerParts {
        config: PlannerConfig {
            // A goal the intent parser could map must still reach the model.
            fast_paths: false,
            ..PlannerConfig::default()
        },
        memory: tools.memory.clone(),
        desktop: tools.desktop.clone(),
        actions: tools.actions.clone(),
        events: Arc::new(EventBus::default()),
        policy: tools.policy.clone(),
        kill_switch: tools.kill_switch.clone(),
        model: ModelSlot::new(model),
        vision: Vision::new(tools.desktop.clone()),
    };
    if sandboxed {
        Planner::sandboxed(parts)
    } else {
        Planner::new(parts)
    }
}

/// Runs the write as a planner task and approves its confirmation.
async fn through_a_task(planner: &Planner) -> i64 {
    let id = planner
        .submit("put the words in the file", None)
        .await
        .unwrap()
        .task
        .id;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let view = planner.view(id).await.unwrap();
        if view.task.state == TaskState::AwaitingConfirmation {
            let pending = view.pending_confirmation.expect("what it waits for");
            assert_eq!(pending.action_type, "write_file");
            planner.confirm(id, true).await.unwrap();
            break;
        }
        assert!(!view.task.state.is_finished(), "{view:?}");
        assert!(tokio::time::Instant::now() < deadline, "{view:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let view = tokio::time::timeout(Duration::from_secs(60), planner.wait(id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.task.state, TaskState::Succeeded, "{view:?}");
    id
}

fn writer_skill() -> SkillDraft {
    SkillDraft {
        name: "writer".into(),
        description: "writes a file".into(),
        params: json!({"type": "object", "properties": {"path": {"type": "string"}}}),
        code: "function run(p) { return digios.act('write_file', {path: p.path, content: 'from skill'}); }"
            .into(),
        author_model: None,
        parent_version: None,
        tests: Vec::new(),
    }
}

/// Calls the writer skill and answers its confirmation with `answer`;
/// returns the skill's result and how many confirmations it asked for.
async fn through_a_skill(
    skills: &Skills,
    path: &Path,
    answer: Result<(), String>,
) -> (Result<Value, String>, usize) {
    let (confirm, mut asked) = tokio::sync::mpsc::channel(1);
    let options = CallOptions {
        confirm: Some(confirm),
        live: true,
        ..CallOptions::default()
    };
    let call = skills.call_with(
        "writer",
        json!({"path": path.display().to_string()}),
        options,
    );
    tokio::pin!(call);
    let mut asks = 0;
    loop {
        tokio::select! {
            done = &mut call => {
                return (done.map(|c| c.result).map_err(|e| e.to_string()), asks);
            }
            Some(ask) = asked.recv() => {
                asks += 1;
                let _ = ask.answer.send(answer.clone());
            }
        }
    }
}

/// The audit row's shape: what every origin must agree on.
fn assert_row(row: &AuditEntry, origin_kind: &str, scope: &str, path: &Path) {
    assert_eq!(row.action, "write_file", "{row:?}");
    assert_eq!(row.risk, Risk::High, "{row:?}");
    assert_eq!(row.decision, Decision::Confirmed, "{row:?}");
    assert_eq!(
        row.outcome.as_ref().map(|o| o.outcome),
        Some(ActionOutcome::Succeeded),
        "{row:?}"
    );
    let mut keys: Vec<&str> = row
        .params
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["origin", "params", "paths", "scope"], "{row:?}");
    assert_eq!(row.params["origin"]["kind"], origin_kind, "{row:?}");
    assert_eq!(row.params["scope"], scope, "{row:?}");
    assert_eq!(
        row.params["params"]["path"],
        path.display().to_string(),
        "{row:?}"
    );
    assert_eq!(row.params["paths"].as_array().map(Vec::len), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_origin_leaves_the_same_audit_row_for_the_same_action() {
    let rig = rig().await;

    // API.
    let api_file = rig.file("api.txt");
    let request = write_request(&api_file, "from the api");
    let state = digios_agent::api::AppState::new(
        Default::default(),
        rig.tools.desktop.clone(),
        rig.tools.actions.clone(),
        rig.tools.memory.clone(),
        digios_agent::planner::PlannerSetup {
            model: ModelSlot::default(),
            policy: writes_need_confirmation(),
            config: PlannerConfig::default(),
        },
    );
    let unconfirmed = state
        .perform_checked(
            actions::parse(&request).unwrap(),
            request.params.clone(),
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(unconfirmed.code, "confirmation_required", "{unconfirmed:?}");
    state
        .perform_checked(
            actions::parse(&request).unwrap(),
            request.params.clone(),
            true,
        )
        .await
        .unwrap();
    assert_eq!(std::fs::read_to_string(&api_file).unwrap(), "from the api");
    let api_row = rig.last_audit().await;
    assert_row(&api_row, "api", "live", &api_file);
    assert_eq!(api_row.task_id, None);

    // A planner task.
    let task_file = rig.file("task.txt");
    let task_planner = planner(&rig.tools, &write_request(&task_file, "from a task"), false);
    let task_id = through_a_task(&task_planner).await;
    assert_eq!(std::fs::read_to_string(&task_file).unwrap(), "from a task");
    let task_row = rig.last_audit().await;
    assert_row(&task_row, "task", "live", &task_file);
    assert_eq!(task_row.task_id, Some(task_id));
    assert_eq!(task_row.params["origin"]["task_id"], task_id);

    // A skill, confirmed through its caller.
    let skills = Skills::new(rig.tools.clone(), SkillLimits::default());
    skills.install(writer_skill()).await.unwrap();
    let skill_file = rig.file("skill.txt");
    let (result, asks) = through_a_skill(&skills, &skill_file, Ok(())).await;
    result.unwrap();
    assert_eq!(asks, 1);
    assert_eq!(std::fs::read_to_string(&skill_file).unwrap(), "from skill");
    let skill_row = rig.last_audit().await;
    assert_row(&skill_row, "skill", "live", &skill_file);
    assert_eq!(skill_row.params["origin"]["skill"], "writer");

    // The evaluator's sandbox: the same gate, marked as such.
    let eval_file = rig.file("eval.txt");
    let eval_planner = planner(&rig.tools, &write_request(&eval_file, "from eval"), true);
    through_a_task(&eval_planner).await;
    assert_eq!(std::fs::read_to_string(&eval_file).unwrap(), "from eval");
    let eval_row = rig.last_audit().await;
    assert_row(&eval_row, "task", "eval", &eval_file);
}

/// Records whether it was asked, and says yes.
#[derive(Default)]
struct RecordingAsker {
    asked: Mutex<Vec<PendingConfirmation>>,
}

impl Asker for RecordingAsker {
    fn ask(
        &self,
        pending: PendingConfirmation,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + '_>> {
        self.asked.lock().unwrap().push(pending);
        Box::pin(async { Ok(()) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_switch_refuses_before_anyone_is_asked_on_every_origin() {
    let rig = rig().await;
    let gate = Gate::live(rig.tools.clone());
    let file = rig.file("never.txt");
    let request = write_request(&file, "must not land");
    rig.tools.kill_switch.engage();

    let origins = [
        Origin::Api,
        Origin::Task {
            task_id: 1,
            step: 0,
        },
        Origin::Skill {
            skill: "writer".into(),
            task_id: None,
            step: None,
        },
    ];
    for origin in origins {
        let asker = RecordingAsker::default();
        let refused = gate
            .run(Call {
                action: actions::parse(&request).unwrap(),
                params: request.params.clone(),
                origin: origin.clone(),
                confirm: Confirm::Ask(&asker),
                timeout: Some(Duration::from_secs(10)),
            })
            .await
            .unwrap_err();
        assert!(
            matches!(refused, Refusal::KillSwitch),
            "{origin:?}: {refused:?}"
        );
        assert!(asker.asked.lock().unwrap().is_empty(), "{origin:?} asked");
        let row = rig.last_audit().await;
        assert_eq!(row.decision, Decision::Denied);
        assert_eq!(
            row.outcome.as_ref().map(|o| o.outcome),
            Some(ActionOutcome::NotRun)
        );
        assert!(
            row.outcome.unwrap().detail.unwrap().contains("kill switch"),
            "{origin:?}"
        );
    }
    // The evaluator's gate too.
    let asker = RecordingAsker::default();
    let refused = Gate::eval(rig.tools.clone())
        .run(Call {
            action: actions::parse(&request).unwrap(),
            params: request.params.clone(),
            origin: Origin::Api,
            confirm: Confirm::Ask(&asker),
            timeout: None,
        })
        .await
        .unwrap_err();
    assert!(matches!(refused, Refusal::KillSwitch), "{refused:?}");
    assert!(asker.asked.lock().unwrap().is_empty());

    // Through the callers themselves: a skill is stopped with no question,
    // and a task cannot start.
    let skills = Skills::new(SkillHost::clone(&rig.tools), SkillLimits::default());
    skills.install(writer_skill()).await.unwrap();
    let (result, asks) = through_a_skill(&skills, &file, Ok(())).await;
    assert!(result.unwrap_err().contains("kill switch"));
    assert_eq!(asks, 0);
    let planner = planner(&rig.tools, &request, false);
    assert!(planner.submit("write it", None).await.is_err());
    assert!(
        !file.exists(),
        "nothing was written while the switch was engaged"
    );

    // Reads go on, so a person can look around.
    let listed = gate
        .run(Call {
            action: actions::parse(&ActionRequest {
                action_type: "list_files".into(),
                params: json!({"path": rig.root.path().display().to_string()}),
            })
            .unwrap(),
            params: Value::Null,
            origin: Origin::Api,
            confirm: Confirm::Refuse,
            timeout: None,
        })
        .await;
    assert!(listed.is_ok(), "{listed:?}");
}

/// The policy → audit → perform sequence exists once: every caller goes
/// through the gate.
#[test]
fn no_second_copy_of_the_safety_sequence() {
    let agent = Path::new(env!("CARGO_MANIFEST_DIR")).join("../agent/src");
    let mut offenders = Vec::new();
    let mut stack = vec![agent.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || path.ends_with("gate.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for needle in [
                ".decide(",
                "record_decision(",
                "record_outcome(",
                "record_action(",
                "actions::perform(",
            ] {
                if text.contains(needle) {
                    offenders.push(format!("{} calls {needle}", path.display()));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "only agent/src/gate.rs may judge, audit and perform actions: {offenders:#?}"
    );
}
