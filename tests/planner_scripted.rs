//! The planner's state machine driven by a scripted model, against a real
//! headless compositor and real SQLite memory: every failure path ends in a
//! clear task state, with steps and audit entries to show for it. The real
//! model covers the same loop in `planner_desktop`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use digios_agent::actions::ActionsConfig;
use digios_agent::desktop::Desktop;
use digios_agent::events::{EventBus, Topic};
use digios_agent::llm::{
    CancellationToken, ChatRequest, Completion, Constraint, LanguageModel, LlmError,
    ModelDescription, ModelSlot,
};
use digios_agent::memory::{ActionOutcome, Decision, Memory, StepOutcome, TaskState};
use digios_agent::planner::{Planner, PlannerConfig, PlannerParts, TaskError, TaskView};
use digios_agent::policy::{KillSwitch, Policy, PolicyConfig, RuleConfig, Verdict};
use digios_agent::vision::{AnalyzeOptions, MarkKind, Vision};
use digios_ipc::Request;
use digios_tests::digios::{Compositor, start_compositor};
use digios_tests::scripted_model;
use serde_json::json;

/// One scripted reply.
#[derive(Clone)]
enum Reply {
    Text(String),
    /// Never answers; ends only when the request is cancelled or dropped.
    Hang,
}

/// A model that answers from a script, the same reply again once the script
/// runs out, and remembers what it was asked.
struct Scripted {
    replies: Mutex<VecDeque<Reply>>,
    last: Mutex<Option<Reply>>,
    requests: Mutex<Vec<ChatRequest>>,
}

impl Scripted {
    fn new(replies: Vec<Reply>) -> Arc<Self> {
        Arc::new(Self {
            replies: Mutex::new(replies.into()),
            last: Mutex::new(None),
            requests: Mutex::new(Vec::new()),
        })
    }
}

impl LanguageModel for Scripted {
    fn describe(&self) -> ModelDescription {
        scripted_model::description()
    }

    fn complete(&self, request: ChatRequest, cancel: CancellationToken) -> Completion {
        self.requests.lock().unwrap().push(request);
        let next = self.replies.lock().unwrap().pop_front();
        let reply = match next {
            Some(reply) => {
                *self.last.lock().unwrap() = Some(reply.clone());
                reply
            }
            None => self
                .last
                .lock()
                .unwrap()
                .clone()
                .expect("the script is empty"),
        };
        match reply {
            Reply::Text(text) => Completion::ready(text),
            Reply::Hang => {
                let (sender, completion) = Completion::channel();
                tokio::spawn(async move {
                    while !cancel.is_cancelled() && !sender.is_closed() {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    sender.finish(Err(LlmError::BackendGone)).await;
                });
                completion
            }
        }
    }
}

fn call(action: &str, params: serde_json::Value) -> Reply {
    Reply::Text(json!({"action": action, "params": params}).to_string())
}

struct Rig {
    planner: Planner,
    events: Arc<EventBus>,
    memory: Memory,
    model: Arc<Scripted>,
    kill_switch: KillSwitch,
    desktop: Desktop,
    vision: Vision,
    _compositor: Compositor,
    _data: tempfile::TempDir,
}

async fn rig(replies: Vec<Reply>, config: PlannerConfig, policy: PolicyConfig) -> Rig {
    let compositor = tokio::task::spawn_blocking(start_compositor).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let memory = Memory::open(data.path().join("memory.db")).await.unwrap();
    let model = Scripted::new(replies);
    let kill_switch = KillSwitch::new();
    let desktop = Desktop::new(compositor.control_socket.clone());
    let mut actions = ActionsConfig::default();
    actions
        .apps
        .insert("demo".into(), vec!["weston-simple-shm".into()]);
    let events = Arc::new(EventBus::default());
    let vision = Vision::new(desktop.clone());
    let planner = Planner::new(PlannerParts {
        config,
        memory: memory.clone(),
        desktop: desktop.clone(),
        actions,
        events: events.clone(),
        policy: Arc::new(Policy::new(&policy, None).unwrap()),
        kill_switch: kill_switch.clone(),
        model: ModelSlot::new(model.clone()),
        vision: vision.clone(),
    });
    Rig {
        planner,
        events,
        memory,
        model,
        kill_switch,
        desktop,
        vision,
        _compositor: compositor,
        _data: data,
    }
}

fn config() -> PlannerConfig {
    PlannerConfig {
        verify_timeout_secs: 30,
        ..PlannerConfig::default()
    }
}

/// A goal no fast path takes, so the model decides every step.
const GOAL: &str = "organise my desktop the way I like it";

async fn finished(rig: &Rig, id: i64) -> TaskView {
    tokio::time::timeout(Duration::from_secs(120), rig.planner.wait(id))
        .await
        .expect("the task finished within 120 s")
        .unwrap()
}

/// Polls the task until `pred` holds.
async fn until(rig: &Rig, id: i64, what: &str, pred: impl Fn(&TaskView) -> bool) -> TaskView {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let view = rig.planner.view(id).await.unwrap();
        if pred(&view) {
            return view;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {view:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn outcomes(view: &TaskView) -> Vec<StepOutcome> {
    view.steps
        .as_ref()
        .unwrap()
        .iter()
        .map(|s| s.outcome)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_tool_calls_fail_the_task() {
    let rig = rig(
        vec![
            Reply::Text("I will click on the terminal".into()),
            call("teleport", json!({})),
            call("click", json!({"x": "left"})),
        ],
        config(),
        PolicyConfig::default(),
    )
    .await;
    let task = rig.planner.submit(GOAL, None).await.unwrap();
    let view = finished(&rig, task.task.id).await;
    assert_eq!(view.task.state, TaskState::Failed, "{view:?}");
    assert!(
        view.task
            .result
            .as_deref()
            .unwrap()
            .contains("3 invalid tool calls")
    );
    assert_eq!(outcomes(&view), vec![StepOutcome::InvalidToolCall; 3]);

    let audit = rig.memory.list_audit(Some(task.task.id), 10).await.unwrap();
    let mut actions: Vec<&str> = audit.iter().map(|a| a.action.as_str()).collect();
    actions.reverse();
    assert_eq!(actions, ["(invalid tool call)", "teleport", "click"]);
    for entry in &audit {
        assert_eq!(entry.decision, Decision::Denied);
        assert_eq!(
            entry.outcome.as_ref().unwrap().outcome,
            ActionOutcome::NotRun
        );
    }
    // Every request carried the grammar built from the catalogue, grounded in
    // the (empty) desktop.
    let requests = rig.model.requests.lock().unwrap();
    assert_eq!(requests.len(), 3);
    let Some(Constraint::JsonSchema(schema)) = &requests[0].options.constraint else {
        panic!("no JSON schema constraint");
    };
    let schema = schema.to_string();
    assert!(
        schema.contains("launch_app") && schema.contains("finish"),
        "{schema}"
    );
    assert!(
        requests[0].messages[1]
            .content
            .contains("No windows are open")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_error_is_recorded_and_the_task_fails() {
    let rig = rig(
        vec![
            call("key", json!({"keys": "NoSuchKeyAnywhere"})),
            call("finish", json!({"summary": "all done"})),
        ],
        config(),
        PolicyConfig::default(),
    )
    .await;
    let task = rig.planner.submit(GOAL, None).await.unwrap();
    let view = finished(&rig, task.task.id).await;
    assert_eq!(view.task.state, TaskState::Failed, "{view:?}");
    assert_eq!(outcomes(&view), vec![StepOutcome::Failed, StepOutcome::Ok]);
    let audit = rig.memory.list_audit(Some(task.task.id), 10).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "key");
    assert_eq!(audit[0].decision, Decision::Allowed);
    assert_eq!(
        audit[0].outcome.as_ref().unwrap().outcome,
        ActionOutcome::Failed
    );
    // The model heard about the error before it answered again.
    let requests = rig.model.requests.lock().unwrap();
    let last = &requests[1].messages.last().unwrap().content;
    assert!(last.contains("error"), "{last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_step_budget_runs_out() {
    let rig = rig(
        vec![
            // Audited: keys change things, pointer moves do not.
            call("key", json!({"keys": "shift"})),
            call("key", json!({"keys": "ctrl"})),
            call("key", json!({"keys": "alt"})),
        ],
        PlannerConfig {
            max_steps: 3,
            ..config()
        },
        PolicyConfig::default(),
    )
    .await;
    let mut events = rig.events.subscribe();
    let task = rig.planner.submit(GOAL, None).await.unwrap();
    let view = finished(&rig, task.task.id).await;
    assert_eq!(view.task.state, TaskState::Failed);
    assert!(
        view.task
            .result
            .as_deref()
            .unwrap()
            .contains("step budget of 3")
    );
    // Every step was published on `tasks`, the tokens on `tokens`.
    let mut kinds = Vec::new();
    while let Ok(event) = events.try_recv() {
        if event.topic == Topic::Tasks {
            kinds.push(event.kind);
        } else {
            assert_eq!(event.topic, Topic::Tokens);
            assert_eq!(event.data["task_id"], task.task.id);
        }
    }
    assert_eq!(kinds.first().map(String::as_str), Some("task_created"));
    assert_eq!(kinds.last().map(String::as_str), Some("task_finished"));
    assert_eq!(kinds.iter().filter(|k| *k == "step_finished").count(), 3);
    assert_eq!(outcomes(&view), vec![StepOutcome::Ok; 3]);
    let audit = rig.memory.list_audit(Some(task.task.id), 10).await.unwrap();
    assert_eq!(audit.len(), 3);
    assert!(audit.iter().all(|a| a.decision == Decision::Allowed
        && a.outcome.as_ref().unwrap().outcome == ActionOutcome::Succeeded));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_stops_the_task_mid_decision() {
    let rig = rig(
        vec![call("key", json!({"keys": "shift"})), Reply::Hang],
        config(),
        PolicyConfig::default(),
    )
    .await;
    let id = rig.planner.submit(GOAL, None).await.unwrap().task.id;
    until(&rig, id, "the first step", |v| {
        v.steps.as_ref().unwrap().len() == 1
    })
    .await;
    let view = rig.planner.cancel(id).await.unwrap();
    assert_eq!(view.task.state, TaskState::Cancelled, "{view:?}");
    assert_eq!(
        outcomes(&view),
        vec![StepOutcome::Ok, StepOutcome::Cancelled]
    );
    assert_eq!(rig.memory.list_audit(Some(id), 10).await.unwrap().len(), 1);
    // A finished task cannot be cancelled again.
    assert!(matches!(
        rig.planner.cancel(id).await,
        Err(TaskError::Finished { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirm_tier_action_waits_for_the_user() {
    let policy = PolicyConfig {
        rules: vec![RuleConfig {
            action: "launch_app".into(),
            path: None,
            verdict: Verdict::Confirm,
        }],
        ..PolicyConfig::default()
    };
    let rig = rig(
        vec![
            call("launch_app", json!({"app": "demo"})),
            call("launch_app", json!({"app": "demo"})),
            call("finish", json!({"summary": "the demo runs"})),
        ],
        config(),
        policy,
    )
    .await;

    // Declined: the app never starts and the task ends cancelled.
    let id = rig.planner.submit(GOAL, None).await.unwrap().task.id;
    let waiting = until(&rig, id, "the confirmation", |v| {
        v.task.state == TaskState::AwaitingConfirmation
    })
    .await;
    let pending = waiting
        .pending_confirmation
        .expect("a pending confirmation");
    assert_eq!(pending.action_type, "launch_app");
    assert_eq!(pending.params, json!({"app": "demo"}));
    assert_eq!(pending.risk, "high");
    let view = rig.planner.confirm(id, false).await.unwrap();
    let view = if view.task.state.is_finished() {
        view
    } else {
        finished(&rig, id).await
    };
    assert_eq!(view.task.state, TaskState::Cancelled, "{view:?}");
    assert!(view.task.result.as_deref().unwrap().contains("declined"));
    let audit = rig.memory.list_audit(Some(id), 10).await.unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].decision, Decision::Denied);
    assert_eq!(
        audit[0].outcome.as_ref().unwrap().outcome,
        ActionOutcome::NotRun
    );
    assert!(rig.desktop.windows().await.unwrap().is_empty());
    assert!(matches!(
        rig.planner.confirm(id, true).await,
        Err(TaskError::NothingPending(_))
    ));

    // Approved: the app starts, its window is verified, the task succeeds.
    let id = rig.planner.submit(GOAL, None).await.unwrap().task.id;
    until(&rig, id, "the confirmation", |v| {
        v.task.state == TaskState::AwaitingConfirmation
    })
    .await;
    rig.planner.confirm(id, true).await.unwrap();
    let view = finished(&rig, id).await;
    assert_eq!(view.task.state, TaskState::Succeeded, "{view:?}");
    let audit = rig.memory.list_audit(Some(id), 10).await.unwrap();
    assert_eq!(audit[0].decision, Decision::Confirmed);
    assert_eq!(
        audit[0].outcome.as_ref().unwrap().outcome,
        ActionOutcome::Succeeded
    );
    assert_eq!(rig.desktop.windows().await.unwrap().len(), 1);
    // The second task was shown what memory holds about the same goal.
    let requests = rig.model.requests.lock().unwrap();
    let first_turn = &requests[1].messages[1].content;
    assert!(first_turn.contains("From memory:"), "{first_turn}");
    assert!(first_turn.contains(GOAL), "{first_turn}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_switch_stops_tasks_and_refuses_new_ones() {
    let rig = rig(
        vec![call("key", json!({"keys": "shift"})), Reply::Hang],
        config(),
        PolicyConfig::default(),
    )
    .await;
    let id = rig.planner.submit(GOAL, None).await.unwrap().task.id;
    until(&rig, id, "the first step", |v| {
        v.steps.as_ref().unwrap().len() == 1
    })
    .await;
    assert!(rig.planner.engage_kill_switch());
    let view = finished(&rig, id).await;
    assert_eq!(view.task.state, TaskState::Stopped, "{view:?}");
    assert_eq!(
        outcomes(&view),
        vec![StepOutcome::Ok, StepOutcome::Cancelled]
    );
    assert_eq!(rig.memory.list_audit(Some(id), 10).await.unwrap().len(), 1);

    assert!(matches!(
        rig.planner.submit("open a terminal", None).await,
        Err(TaskError::KillSwitch(_))
    ));
    assert!(rig.kill_switch.check_input().is_err());
    rig.planner.release_kill_switch();
    assert!(rig.kill_switch.check_input().is_ok());
    // Released: tasks run again, and the stopped one stays stopped.
    let again = rig.planner.submit(GOAL, None).await.unwrap().task.id;
    until(&rig, again, "the task to run after release", |v| {
        v.task.state == TaskState::Running
    })
    .await;
    let view = rig.planner.cancel(again).await.unwrap();
    assert_eq!(view.task.state, TaskState::Cancelled);
    assert_eq!(
        rig.planner.view(id).await.unwrap().task.state,
        TaskState::Stopped
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_repeating_itself_is_stopped() {
    let rig = rig(
        vec![call("move_pointer", json!({"x": 5, "y": 5}))],
        config(),
        PolicyConfig::default(),
    )
    .await;
    let id = rig.planner.submit(GOAL, None).await.unwrap().task.id;
    let view = finished(&rig, id).await;
    assert_eq!(view.task.state, TaskState::Failed);
    assert!(
        view.task
            .result
            .as_deref()
            .unwrap()
            .contains("repeated move_pointer")
    );
    assert_eq!(outcomes(&view), vec![StepOutcome::Ok; 3]);
    // The model was told before it repeated itself the last time.
    let requests = rig.model.requests.lock().unwrap();
    assert!(
        requests[2]
            .messages
            .last()
            .unwrap()
            .content
            .contains("same call as before")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_end_the_task_clearly() {
    // A decision that never comes runs into the per-step limit.
    let silent = rig(
        vec![Reply::Hang],
        PlannerConfig {
            step_timeout_secs: 1,
            ..config()
        },
        PolicyConfig::default(),
    )
    .await;
    let id = silent.planner.submit(GOAL, None).await.unwrap().task.id;
    let view = finished(&silent, id).await;
    assert_eq!(view.task.state, TaskState::Failed);
    assert!(
        view.task.result.as_deref().unwrap().contains("within 1 s"),
        "{view:?}"
    );
    assert_eq!(outcomes(&view), vec![StepOutcome::TimedOut]);

    // The whole task has its own limit.
    let slow = rig(
        vec![call("move_pointer", json!({"x": 2, "y": 2})), Reply::Hang],
        PlannerConfig {
            task_timeout_secs: 2,
            ..config()
        },
        PolicyConfig::default(),
    )
    .await;
    let id = slow.planner.submit(GOAL, None).await.unwrap().task.id;
    let view = finished(&slow, id).await;
    assert_eq!(view.task.state, TaskState::Failed);
    assert!(
        view.task
            .result
            .as_deref()
            .unwrap()
            .contains("ran out of time"),
        "{view:?}"
    );

    // An unanswered confirmation counts as declined, and its wait does not
    // count against the task's own limit.
    let policy = PolicyConfig {
        rules: vec![RuleConfig {
            action: "move_pointer".into(),
            path: None,
            verdict: Verdict::Confirm,
        }],
        ..PolicyConfig::default()
    };
    let unanswered = rig(
        vec![call("move_pointer", json!({"x": 1, "y": 1}))],
        PlannerConfig {
            confirmation_timeout_secs: 2,
            task_timeout_secs: 1,
            ..config()
        },
        policy,
    )
    .await;
    let id = unanswered.planner.submit(GOAL, None).await.unwrap().task.id;
    let view = finished(&unanswered, id).await;
    assert_eq!(view.task.state, TaskState::Cancelled, "{view:?}");
    assert!(
        view.task
            .result
            .as_deref()
            .unwrap()
            .contains("nobody confirmed")
    );
    let audit = unanswered.memory.list_audit(Some(id), 10).await.unwrap();
    assert_eq!(audit[0].decision, Decision::Denied);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fast_path_hands_the_rest_of_the_goal_to_the_model() {
    let rig = rig(
        vec![call("finish", json!({"summary": "the demo is open"}))],
        config(),
        PolicyConfig::default(),
    )
    .await;
    let goal = "open the demo and then make it feel like home";
    let id = rig.planner.submit(goal, None).await.unwrap().task.id;
    let view = finished(&rig, id).await;
    assert_eq!(view.task.state, TaskState::Succeeded, "{view:?}");
    let steps = view.steps.unwrap();
    assert_eq!(steps[0].tool_call.as_ref().unwrap()["action"], "launch_app");
    assert!(steps[0].thought.starts_with("fast path"));
    assert_eq!(steps[1].tool_call.as_ref().unwrap()["action"], "finish");
    assert_eq!(rig.desktop.windows().await.unwrap().len(), 1);
    let requests = rig.model.requests.lock().unwrap();
    assert_eq!(requests.len(), 1);
    let first_turn = &requests[0].messages[1].content;
    assert!(
        first_turn.contains("Still to do: make it feel like home"),
        "{first_turn}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_models_word_alone_does_not_make_a_success() {
    let rig = rig(
        vec![call("finish", json!({"summary": "everything is perfect"}))],
        config(),
        PolicyConfig::default(),
    )
    .await;
    let id = rig.planner.submit(GOAL, None).await.unwrap().task.id;
    let view = finished(&rig, id).await;
    assert_eq!(view.task.state, TaskState::Failed, "{view:?}");
    assert!(
        view.task
            .result
            .as_deref()
            .unwrap()
            .contains("without doing anything")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_clicks_a_numbered_mark_of_the_analyzed_screen() {
    let rig = rig(Vec::new(), config(), PolicyConfig::default()).await;
    rig.desktop
        .request(Request::Spawn {
            command: vec!["weston-simple-shm".into()],
            env: Vec::new(),
        })
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let window = loop {
        if let Some(window) = rig.desktop.windows().await.unwrap().pop() {
            break window;
        }
        assert!(Instant::now() < deadline, "the demo never mapped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // A client asked for marks once; from then on every step shows them.
    let analysis = rig.vision.analyze(AnalyzeOptions::default()).await.unwrap();
    let close = analysis
        .marks
        .iter()
        .find(|m| m.kind == MarkKind::CloseButton && m.window_id == Some(window.id))
        .unwrap()
        .number;
    rig.model.replies.lock().unwrap().extend([
        call("click", json!({"mark": close})),
        call("finish", json!({"summary": "the demo is closed"})),
    ]);
    let id = rig
        .planner
        .submit("get rid of the demo with its button", None)
        .await
        .unwrap()
        .task
        .id;
    let view = finished(&rig, id).await;
    assert_eq!(view.task.state, TaskState::Succeeded, "{view:?}");
    assert_eq!(outcomes(&view), vec![StepOutcome::Ok, StepOutcome::Ok]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while rig
        .desktop
        .windows()
        .await
        .unwrap()
        .iter()
        .any(|w| w.id == window.id)
    {
        assert!(
            Instant::now() < deadline,
            "the clicked close button did not close the demo"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The model was shown the numbered marks and could name only those.
    let requests = rig.model.requests.lock().unwrap();
    let prompt: String = requests[0]
        .messages
        .iter()
        .map(|m| m.content.as_str())
        .collect();
    assert!(
        prompt.contains(&format!("[{close}] close_button")),
        "{prompt}"
    );
    let Some(Constraint::JsonSchema(schema)) = &requests[0].options.constraint else {
        panic!("the decision is not constrained");
    };
    let click = schema["anyOf"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["properties"]["action"]["const"] == "click")
        .unwrap();
    let mark = &click["properties"]["params"]["properties"]["mark"];
    assert_eq!(mark["minimum"], 1);
    assert!(mark["maximum"].as_u64().unwrap() >= close as u64, "{mark}");
    assert!(click["properties"]["params"]["properties"]["analysis_id"].is_null());
}
