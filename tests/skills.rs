//! Skills against real parts: QuickJS under its limits, real SQLite memory,
//! a real headless compositor, the planner (driven by a scripted model, the
//! one non-deterministic part) calling a freshly installed skill, and the
//! API and `digios ctl` as real processes.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use digios_agent::actions::ActionsConfig;
use digios_agent::desktop::Desktop;
use digios_agent::events::EventBus;
use digios_agent::llm::{
    CancellationToken, ChatRequest, Completion, LanguageModel, ModelDescription, ModelSlot,
};
use digios_agent::memory::{Decision, Memory, StepOutcome, TaskState};
use digios_agent::planner::{Planner, PlannerConfig, PlannerParts};
use digios_agent::policy::{KillSwitch, Policy, PolicyConfig, RuleConfig, Verdict};
use digios_agent::skills::{
    CallOptions, Expectation, SkillDraft, SkillError, SkillHost, SkillLimits, SkillTest, Skills,
    VersionState,
};
use digios_agent::vision::Vision;
use digios_tests::api_client::ApiClient;
use digios_tests::digios::{self, Compositor, start_compositor, start_desktop};
use digios_tests::scripted_model;
use serde_json::{Value, json};

/// A model that answers from a script and records what it was asked.
struct Scripted {
    replies: Mutex<VecDeque<String>>,
    requests: Mutex<Vec<ChatRequest>>,
}

impl LanguageModel for Scripted {
    fn describe(&self) -> ModelDescription {
        scripted_model::description()
    }

    fn complete(&self, request: ChatRequest, _cancel: CancellationToken) -> Completion {
        self.requests.lock().unwrap().push(request);
        let reply = self.replies.lock().unwrap().pop_front();
        Completion::ready(reply.unwrap_or_else(|| {
            json!({"action": "finish", "params": {"summary": "out of script"}}).to_string()
        }))
    }
}

struct Rig {
    skills: Skills,
    memory: Memory,
    desktop: Desktop,
    actions: ActionsConfig,
    policy: Arc<Policy>,
    kill_switch: KillSwitch,
    _compositor: Compositor,
    _data: tempfile::TempDir,
}

fn test_policy() -> PolicyConfig {
    PolicyConfig {
        rules: vec![
            RuleConfig {
                action: "type_text".into(),
                path: None,
                verdict: Verdict::Deny,
            },
            RuleConfig {
                action: "move_pointer".into(),
                path: None,
                verdict: Verdict::Confirm,
            },
        ],
        ..PolicyConfig::default()
    }
}

async fn rig(limits: SkillLimits) -> Rig {
    let compositor = tokio::task::spawn_blocking(start_compositor).await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let memory = Memory::open(data.path().join("memory.db")).await.unwrap();
    let desktop = Desktop::new(compositor.control_socket.clone());
    let mut actions = ActionsConfig::default();
    actions
        .apps
        .insert("demo".into(), vec!["weston-simple-shm".into()]);
    let policy = Arc::new(Policy::new(&test_policy(), None).unwrap());
    let kill_switch = KillSwitch::new();
    let skills = Skills::new(
        SkillHost {
            desktop: desktop.clone(),
            actions: actions.clone(),
            policy: policy.clone(),
            kill_switch: kill_switch.clone(),
            memory: memory.clone(),
        },
        limits,
    );
    Rig {
        skills,
        memory,
        desktop,
        actions,
        policy,
        kill_switch,
        _compositor: compositor,
        _data: data,
    }
}

fn draft(name: &str, code: &str) -> SkillDraft {
    SkillDraft {
        name: name.into(),
        description: format!("{name} for the tests"),
        params: json!({"type": "object", "properties": {}}),
        code: code.into(),
        author_model: Some("test".into()),
        parent_version: None,
        tests: Vec::new(),
    }
}

fn fast_limits() -> SkillLimits {
    SkillLimits {
        cpu_ms: 300,
        wall_ms: 20_000,
        memory_bytes: 8 << 20,
        ..SkillLimits::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skill_compiles_and_runs_within_its_limits_on_the_desktop() {
    let rig = rig(fast_limits()).await;
    let mut skill = draft(
        "window_report",
        r#"
        function run(params) {
          const windows = digios.windows();
          digios.log("windows:", windows.length);
          const moved = digios.act("move_pointer", { x: params.x, y: 20 });
          return { count: windows.length, greeting: "hi " + params.who, x: moved.x };
        }
        "#,
    );
    skill.params = json!({
        "type": "object",
        "properties": {"who": {"type": "string"}, "x": {"type": "integer"}},
        "required": ["who", "x"]
    });
    skill.tests = vec![SkillTest {
        name: "greets".into(),
        params: json!({"who": "ada", "x": 5}),
        expect: Expectation::Matches(json!({"greeting": "hi ada", "count": 0})),
    }];
    // move_pointer asks first under this policy: without approval it is refused.
    let version = rig.skills.install(skill.clone()).await;
    assert!(
        matches!(&version, Err(SkillError::TestsFailed(report)) if report.summary().contains("confirm")),
        "{version:?}"
    );
    // Pre-approved by the caller, it runs; and the rest of the policy stays.
    let permissive = Skills::new(
        SkillHost {
            policy: Arc::new(Policy::new(&PolicyConfig::default(), None).unwrap()),
            ..rig.skills.host().clone()
        },
        fast_limits(),
    );
    let version = permissive.install(skill).await.unwrap();
    assert_eq!(version.version, 1);
    assert_eq!(version.state, VersionState::Active);

    let call = permissive
        .call_with(
            "window_report",
            json!({"who": "bob", "x": 33}),
            CallOptions {
                live: true,
                ..CallOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(call.result["greeting"], "hi bob");
    assert_eq!(call.result["x"], 33.0);
    assert_eq!(call.actions, vec!["move_pointer"]);
    assert_eq!(call.log, vec!["windows: 0"]);
    let pointer = rig.desktop.request(digios_ipc::Request::Pointer).await;
    assert!(
        matches!(pointer, Ok(digios_ipc::Response::Pointer { x, .. }) if x == 33.0),
        "{pointer:?}"
    );

    // Params are checked against the schema before any code runs.
    let err = permissive
        .call("window_report", json!({"who": 7}))
        .await
        .unwrap_err();
    assert!(matches!(err, SkillError::InvalidParams { .. }), "{err}");
    let history = permissive.history("window_report").await.unwrap();
    assert_eq!(
        history.versions[0].live_calls, 1,
        "bad params are not counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_is_stopped_by_the_cpu_limit() {
    let rig = rig(fast_limits()).await;
    rig.skills
        .install(draft(
            "spin",
            "function run() { let i = 0; while (true) { i++; } }",
        ))
        .await
        .unwrap();
    let started = Instant::now();
    let err = rig.skills.call("spin", json!({})).await.unwrap_err();
    assert!(
        matches!(err, SkillError::CpuLimit { limit_ms: 300 }),
        "{err:?}"
    );
    assert!(err.to_string().contains("CPU time"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "stopped before the wall limit"
    );

    // A loop that catches the interrupt cannot outlive it either.
    rig.skills
        .install(draft(
            "stubborn",
            "function run() { for (;;) { try { while (true) {} } catch (e) {} } }",
        ))
        .await
        .unwrap();
    let err = rig.skills.call("stubborn", json!({})).await.unwrap_err();
    assert!(matches!(err, SkillError::CpuLimit { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_bomb_and_a_sleeper_are_stopped() {
    let rig = rig(SkillLimits {
        wall_ms: 1_500,
        ..fast_limits()
    })
    .await;
    rig.skills
        .install(draft(
            "bomb",
            "function run() { const a = []; while (true) { a.push('x'.repeat(1 << 16) + a.length); } }",
        ))
        .await
        .unwrap();
    let err = rig.skills.call("bomb", json!({})).await.unwrap_err();
    assert!(matches!(err, SkillError::MemoryLimit { .. }), "{err:?}");

    // Waiting in host calls costs no CPU, so the wall-time limit ends it.
    rig.skills
        .install(draft(
            "sleeper",
            "function run() { while (true) { digios.sleep(200); } }",
        ))
        .await
        .unwrap();
    let err = rig.skills.call("sleeper", json!({})).await.unwrap_err();
    assert!(matches!(err, SkillError::WallLimit { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_to_a_denied_action_is_refused_and_audited() {
    let rig = rig(fast_limits()).await;
    rig.skills
        .install(draft(
            "typist",
            r#"function run() { digios.act("type_text", { text: "rm -rf ~" }); return "typed"; }"#,
        ))
        .await
        .unwrap();
    let err = rig.skills.call("typist", json!({})).await.unwrap_err();
    match &err {
        SkillError::Refused { action, code, .. } => {
            assert_eq!(action, "type_text");
            assert_eq!(*code, "denied");
        }
        other => panic!("{other:?}"),
    }
    // Even pre-approval does not lift a deny.
    let options = CallOptions {
        approve_confirm: true,
        live: true,
        ..CallOptions::default()
    };
    let err = rig
        .skills
        .call_with("typist", json!({}), options.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(err, SkillError::Refused { code: "denied", .. }),
        "{err:?}"
    );
    let audit = rig.memory.list_audit(None, 10).await.unwrap();
    let refused: Vec<_> = audit
        .iter()
        .filter(|a| a.action == "type_text" && a.decision == Decision::Denied)
        .collect();
    assert_eq!(refused.len(), 2, "{audit:?}");
    assert_eq!(refused[0].params["origin"]["skill"], "typist");

    // A confirm-tier action runs only when the caller pre-approved it.
    rig.skills
        .install(draft(
            "pointer",
            r#"function run() { return digios.act("move_pointer", { x: 3, y: 4 }); }"#,
        ))
        .await
        .unwrap();
    let err = rig.skills.call("pointer", json!({})).await.unwrap_err();
    assert!(
        matches!(
            err,
            SkillError::Refused {
                code: "confirmation_required",
                ..
            }
        ),
        "{err:?}"
    );
    let moved = rig
        .skills
        .call_with("pointer", json!({}), options)
        .await
        .unwrap();
    assert_eq!(moved.result["x"], 3.0);

    // A skill may catch a refusal and go on; the refusal is still audited.
    rig.skills
        .install(draft(
            "careful",
            r#"function run() {
                 try { digios.act("type_text", { text: "x" }); }
                 catch (e) { return { refused: e.code }; }
               }"#,
        ))
        .await
        .unwrap();
    let careful = rig.skills.call("careful", json!({})).await.unwrap();
    assert_eq!(careful, json!({"refused": "denied"}));

    // The kill switch stops skills that act.
    rig.kill_switch.engage();
    let err = rig.skills.call("pointer", json!({})).await.unwrap_err();
    assert!(matches!(err, SkillError::KillSwitch), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_skill_is_rejected_and_its_compile_error_recorded() {
    let rig = rig(fast_limits()).await;
    rig.skills
        .install(draft("greet", "function run() { return 'hello'; }"))
        .await
        .unwrap();
    let broken = draft("greet", "function run() {\n  return 'hello' +;\n}\n");
    let err = rig.skills.compile(&broken).await.unwrap_err();
    let SkillError::Compile(compile) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(compile.line, Some(2), "{compile:?}");

    let err = rig.skills.install(broken).await.unwrap_err();
    assert!(matches!(err, SkillError::Compile(_)), "{err:?}");
    // A draft whose own tests fail is rejected too, with the report.
    let mut wrong = draft("greet", "function run() { return 'bye'; }");
    wrong.tests = vec![SkillTest {
        name: "says hello".into(),
        params: json!({}),
        expect: Expectation::Returns(json!("hello")),
    }];
    let err = rig.skills.install(wrong).await.unwrap_err();
    assert!(matches!(err, SkillError::TestsFailed(_)), "{err:?}");

    let history = rig.skills.history("greet").await.unwrap();
    assert_eq!(history.active_version, Some(1), "the working version stays");
    assert_eq!(history.versions.len(), 1);
    assert_eq!(history.rejections.len(), 2);
    let tests_failed = &history.rejections[0];
    assert_eq!(tests_failed.reason, "tests_failed");
    assert!(tests_failed.report.as_ref().is_some_and(|r| !r.passed));
    let compile_error = &history.rejections[1];
    assert_eq!(compile_error.reason, "compile_error");
    assert_eq!(compile_error.line, Some(2));
    assert!(
        compile_error.message.contains("SyntaxError"),
        "{compile_error:?}"
    );
    assert_eq!(rig.skills.call("greet", json!({})).await.unwrap(), "hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_restores_the_previous_version() {
    let rig = rig(fast_limits()).await;
    let err = rig.skills.rollback("answer").await.unwrap_err();
    assert!(matches!(err, SkillError::NotFound(_)), "{err:?}");
    rig.skills
        .install(draft("answer", "function run() { return 1; }"))
        .await
        .unwrap();
    let err = rig.skills.rollback("answer").await.unwrap_err();
    assert!(matches!(err, SkillError::NothingToRollBack(_)), "{err:?}");
    let mut second = draft("answer", "function run() { return 2; }");
    second.parent_version = Some(1);
    let v2 = rig.skills.install(second).await.unwrap();
    assert_eq!((v2.version, v2.replaced_version), (2, Some(1)));
    assert_eq!(rig.skills.call("answer", json!({})).await.unwrap(), 2);

    let restored = rig.skills.rollback("answer").await.unwrap();
    assert_eq!(restored.version, 1);
    assert_eq!(rig.skills.call("answer", json!({})).await.unwrap(), 1);
    let history = rig.skills.history("answer").await.unwrap();
    assert_eq!(history.active_version, Some(1));
    assert_eq!(history.versions[0].state, VersionState::RolledBack);
    let listed = rig.skills.list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].version, listed[0].versions), (1, 2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rising_live_failure_rate_rolls_a_version_back() {
    let rig = rig(fast_limits()).await;
    let mut flaky = draft(
        "flaky",
        "function run(p) { if (p.n % 2 === 0) throw new Error('even'); return p.n; }",
    );
    flaky.params = json!({"type": "object", "properties": {"n": {"type": "integer"}}});
    rig.skills
        .install(draft("flaky", "function run(p) { return p.n; }"))
        .await
        .unwrap();
    // Version 1 fails 0 of 5 live calls.
    for n in 0..5 {
        rig.skills.call("flaky", json!({"n": n})).await.unwrap();
    }
    rig.skills.install(flaky).await.unwrap();
    // Version 2 fails even numbers: 2 failures in 4 calls is not yet judged.
    for n in 1..5 {
        let _ = rig.skills.call("flaky", json!({"n": n})).await;
    }
    assert_eq!(rig.skills.active("flaky").await.unwrap().version, 2);
    // The fifth live call (3 of 5 failed, 60 % > 0 %) rolls it back.
    let err = rig.skills.call("flaky", json!({"n": 6})).await.unwrap_err();
    assert!(matches!(err, SkillError::Failed { .. }), "{err:?}");
    let active = rig.skills.active("flaky").await.unwrap();
    assert_eq!(active.version, 1);
    let history = rig.skills.history("flaky").await.unwrap();
    let v2 = &history.versions[0];
    assert_eq!(v2.state, VersionState::RolledBack);
    assert_eq!((v2.live_calls, v2.live_failures), (5, 3));
    assert!(
        v2.state_reason
            .as_deref()
            .unwrap_or("")
            .contains("rose above"),
        "{v2:?}"
    );
}

/// A planner on the rig's parts with its skills, deciding by `model` alone.
fn planner(rig: &Rig, model: Arc<Scripted>, config: PlannerConfig) -> Planner {
    let planner = Planner::new(PlannerParts {
        config: PlannerConfig {
            fast_paths: false,
            ..config
        },
        memory: rig.memory.clone(),
        desktop: rig.desktop.clone(),
        actions: rig.actions.clone(),
        events: Arc::new(EventBus::default()),
        policy: rig.policy.clone(),
        kill_switch: rig.kill_switch.clone(),
        model: ModelSlot::new(model),
        vision: Vision::new(rig.desktop.clone()),
    });
    planner.use_skills(rig.skills.clone());
    planner
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirm_tier_action_inside_a_skill_pauses_the_task_for_the_user() {
    // Short limits, so a wait for the user that counted against them would show.
    let rig = rig(SkillLimits {
        wall_ms: 1_500,
        ..fast_limits()
    })
    .await;
    rig.skills
        .install(draft(
            "nudge",
            r#"function run() { return digios.act("move_pointer", { x: 30, y: 40 }); }"#,
        ))
        .await
        .unwrap();
    let skill_call = json!({"action": "skill", "params": {"name": "nudge", "args": {}}});
    let finish = json!({"action": "finish", "params": {"summary": "nudged"}});
    let model = Arc::new(Scripted {
        replies: Mutex::new(
            vec![
                skill_call.to_string(),
                finish.to_string(),
                skill_call.to_string(),
                finish.to_string(),
            ]
            .into(),
        ),
        requests: Mutex::new(Vec::new()),
    });
    let planner = planner(
        &rig,
        model,
        PlannerConfig {
            step_timeout_secs: 1,
            ..PlannerConfig::default()
        },
    );
    let awaiting = |id: i64| {
        let planner = planner.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let view = planner.view(id).await.unwrap();
                if view.task.state == TaskState::AwaitingConfirmation {
                    return view;
                }
                assert!(
                    !view.task.state.is_finished() && Instant::now() < deadline,
                    "never asked: {view:?}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };

    // Approved after longer than the skill's wall time and the step's limit.
    let id = planner
        .submit("nudge the pointer", None)
        .await
        .unwrap()
        .task
        .id;
    let pending = awaiting(id).await.pending_confirmation.expect("pending");
    assert_eq!(pending.action_type, "move_pointer");
    assert_eq!(pending.params, json!({"x": 30, "y": 40}));
    assert!(
        pending.reason.contains("asked by skill nudge"),
        "{pending:?}"
    );
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    planner.confirm(id, true).await.unwrap();
    let view = tokio::time::timeout(Duration::from_secs(60), planner.wait(id))
        .await
        .expect("the task finishes")
        .unwrap();
    assert_eq!(view.task.state, TaskState::Succeeded, "{view:?}");
    let step = &view.steps.unwrap()[0];
    assert_eq!(step.outcome, StepOutcome::Ok, "{step:?}");
    let audit = rig.memory.list_audit(Some(id), 10).await.unwrap();
    let moved = audit
        .iter()
        .find(|a| a.action == "move_pointer")
        .expect("audited");
    assert_eq!(moved.decision, Decision::Confirmed);
    assert_eq!(moved.params["origin"]["skill"], "nudge");
    assert_eq!(
        moved.outcome.as_ref().unwrap().outcome,
        digios_agent::memory::ActionOutcome::Succeeded
    );

    // Declined: the action never runs and the task ends cancelled.
    let id = planner
        .submit("nudge the pointer", None)
        .await
        .unwrap()
        .task
        .id;
    awaiting(id).await;
    planner.confirm(id, false).await.unwrap();
    let view = tokio::time::timeout(Duration::from_secs(60), planner.wait(id))
        .await
        .expect("the task finishes")
        .unwrap();
    assert_eq!(view.task.state, TaskState::Cancelled, "{view:?}");
    assert!(
        view.task.result.as_deref().unwrap().contains("declined"),
        "{view:?}"
    );
    let audit = rig.memory.list_audit(Some(id), 10).await.unwrap();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].decision, Decision::Denied);
    assert_eq!(
        audit[0].outcome.as_ref().unwrap().outcome,
        digios_agent::memory::ActionOutcome::NotRun
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skill_hot_loads_and_the_planner_calls_it_on_the_desktop() {
    let rig = rig(SkillLimits::default()).await;
    let skill_call =
        json!({"action": "skill", "params": {"name": "open_demo", "args": {"wait_ms": 15000}}});
    let model = Arc::new(Scripted {
        replies: Mutex::new(
            vec![
                skill_call.to_string(),
                json!({"action": "finish", "params": {"summary": "the demo is open"}}).to_string(),
            ]
            .into(),
        ),
        requests: Mutex::new(Vec::new()),
    });
    let planner = planner(&rig, model.clone(), PlannerConfig::default());

    // Installed after the planner started: no restart.
    let mut open_demo = draft(
        "open_demo",
        r#"
        function run(params) {
          digios.act("launch_app", { app: "demo" });
          const w = digios.waitForWindow({ app_id: "simple" }, params.wait_ms);
          if (!w) throw new Error("the demo opened no window");
          return { window_id: w.id, title: w.title };
        }
        "#,
    );
    open_demo.description = "Open the demo app and wait for its window".into();
    open_demo.params = json!({
        "type": "object",
        "properties": {"wait_ms": {"type": "integer", "minimum": 100, "maximum": 60000}},
        "required": ["wait_ms"]
    });
    rig.skills.install(open_demo).await.unwrap();

    let task = planner.submit("open the demo", None).await.unwrap();
    let task = tokio::time::timeout(Duration::from_secs(120), planner.wait(task.task.id))
        .await
        .expect("the task finishes")
        .unwrap();
    assert_eq!(task.task.state, TaskState::Succeeded, "{task:?}");

    // The model was offered the skill in its tools and prompt.
    let first = format!("{:?}", model.requests.lock().unwrap()[0]);
    assert!(first.contains("open_demo"), "{first}");
    assert!(first.contains("Open the demo app"), "{first}");

    // The step is recorded like an action's, and the window is real.
    let steps = task.steps.unwrap();
    let step = &steps[0];
    assert_eq!(step.tool_call.as_ref().unwrap(), &skill_call);
    assert_eq!(step.outcome, StepOutcome::Ok, "{step:?}");
    let windows = rig.desktop.windows().await.unwrap();
    let demo = windows
        .iter()
        .find(|w| w.app_id.as_deref().unwrap_or("").contains("simple"))
        .expect("the demo window is on the compositor");
    assert!(
        step.observation
            .as_deref()
            .unwrap_or("")
            .contains(&demo.id.to_string()),
        "{step:?}"
    );
    // Its action is audited under the task and step.
    let audit = rig.memory.list_audit(Some(task.task.id), 10).await.unwrap();
    let launch = audit
        .iter()
        .find(|a| a.action == "launch_app")
        .expect("audited");
    assert_eq!(launch.step_index, Some(step.index));
    assert_eq!(launch.params["origin"]["skill"], "open_demo");
    assert_eq!(rig.skills.active("open_demo").await.unwrap().live_calls, 1);
}

#[test]
fn the_api_and_ctl_manage_skills() {
    let desktop = start_desktop();
    let api = ApiClient::new(&desktop.url);

    let draft = json!({
        "name": "double",
        "description": "Doubles n",
        "params": {"type": "object", "properties": {"n": {"type": "number"}}, "required": ["n"]},
        "code": "function run(p) { return p.n * 2; }",
        "tests": [{"name": "two", "params": {"n": 2}, "expect": {"returns": 4}}]
    });
    let (status, created) = api.post("/api/skills", draft.clone());
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["version"], 1);

    let mut broken = draft.clone();
    broken["code"] = json!("function run(p) {\n return p.n * ;\n}");
    let (status, error) = api.post("/api/skills", broken);
    assert_eq!(status, 422, "{error}");
    assert_eq!(error["error"]["code"], "compile_error");
    assert_eq!(error["error"]["details"]["line"], 2);

    let (status, called) = api.post("/api/skills/double/call", json!({"params": {"n": 21}}));
    assert_eq!(status, 200, "{called}");
    assert_eq!(called["result"], 42.0);
    let (status, error) = api.post("/api/skills/double/call", json!({"params": {"n": "x"}}));
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (422, Some("invalid_params"))
    );
    let (status, error) = api.post("/api/skills/nope/call", json!({}));
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (404, Some("not_found"))
    );

    let mut second = draft.clone();
    second["code"] = json!("function run(p) { return p.n + p.n; }");
    second["parent_version"] = json!(1);
    assert_eq!(api.post("/api/skills", second).0, 201);
    let (status, history) = api.get("/api/skills/double");
    assert_eq!(status, 200);
    assert_eq!(history["active_version"], 2);
    assert_eq!(history["versions"].as_array().unwrap().len(), 2);
    assert_eq!(history["rejections"][0]["line"], 2);

    let (_, openapi) = api.get("/api/openapi.json");
    for path in [
        "/api/skills",
        "/api/skills/{name}",
        "/api/skills/{name}/call",
        "/api/skills/{name}/rollback",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} is documented");
    }

    let ctl = |args: &[&str]| digios::ctl_ok(&desktop.url, args);
    assert!(ctl(&["skills", "list"]).contains("double v2"));
    assert!(ctl(&["skills", "call", "double", r#"{"n": 5}"#]).contains("-> 10"));
    let rolled: Value =
        serde_json::from_str(&ctl(&["--json", "skills", "rollback", "double"])).unwrap();
    assert_eq!(rolled["version"], 1);
    let shown = ctl(&["skills", "show", "double"]);
    assert!(shown.contains("active version 1"), "{shown}");
    assert!(shown.contains("v2 rolled_back"), "{shown}");
    assert!(shown.contains("rejected (compile_error)"), "{shown}");
    let (_, error) = api.post("/api/skills/double/rollback", json!({}));
    assert_eq!(error["error"]["code"], "conflict");
}

/// The real default model, offered an installed skill: the grammar with
/// skill variants compiles in llama.cpp and keeps every reply a valid call.
/// Whether the tiny model picks the skill is printed, not asserted.
#[test]
fn the_real_model_is_offered_a_skill_and_every_call_stays_valid() {
    let desktop = digios_tests::digios::start_desktop_with_config("[planner]\nmax_steps = 3\n");
    let api = ApiClient::new(&desktop.url);
    let (status, body) = api.get("/api/status");
    assert_eq!(status, 200, "{body}");
    let (status, created) = api.post(
        "/api/skills",
        json!({
            "name": "greet_user",
            "description": "Greet the user by name and report how many windows are open",
            "params": {"type": "object", "properties": {"who": {"type": "string"}}, "required": ["who"]},
            "code": "function run(p) { return 'hello ' + p.who + ', ' + digios.windows().length + ' windows'; }",
            "author_model": "test",
            "tests": [{"name": "greets", "params": {"who": "ada"}, "expect": {"matches": "hello ada, 0 windows"}}]
        }),
    );
    assert_eq!(status, 201, "{created}");

    let goal = "use the greet_user skill to greet Ada";
    let (status, task) = api.post("/api/tasks", json!({"goal": goal}));
    assert_eq!(status, 202, "{task}");
    let id = task["id"].as_i64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    let view = loop {
        let (_, view) = api.get(&format!("/api/tasks/{id}"));
        if view["finished_at_ms"].is_i64() {
            break view;
        }
        assert!(Instant::now() < deadline, "not finished: {view}");
        std::thread::sleep(Duration::from_millis(200));
    };
    println!("{goal:?} with the real model: {view:#}");
    let steps = view["steps"].as_array().unwrap();
    assert!(!steps.is_empty(), "{view:#}");
    for step in steps {
        assert_ne!(step["outcome"], "invalid_tool_call", "{step:#}");
        if step["tool_call"]["action"] == "skill" {
            assert_eq!(
                step["tool_call"]["params"]["name"], "greet_user",
                "{step:#}"
            );
            assert_eq!(step["outcome"], "ok", "{step:#}");
        }
    }
    let chose_skill = steps.iter().any(|s| s["tool_call"]["action"] == "skill");
    let (_, history) = api.get("/api/skills/greet_user");
    println!(
        "the model {} the skill; live calls: {}",
        if chose_skill {
            "called"
        } else {
            "did not call"
        },
        history["versions"][0]["live_calls"]
    );
    assert_eq!(
        history["versions"][0]["live_calls"],
        steps
            .iter()
            .filter(|s| s["tool_call"]["action"] == "skill")
            .count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_results_are_typed_and_async_run_settles() {
    let rig = rig(fast_limits()).await;
    let cases = [
        ("nothing", "function run() {}", Ok(json!(null))),
        (
            "later",
            "async function run() { const w = digios.windows(); return { n: w.length }; }",
            Ok(json!({"n": 0})),
        ),
        (
            "never",
            "function run() { return new Promise(() => {}); }",
            Err("never settles"),
        ),
        (
            "circular",
            "function run() { const a = {}; a.a = a; return a; }",
            Err("circular"),
        ),
        (
            "thrower",
            "function run() {\n  throw new TypeError('bad thing');\n}",
            Err("TypeError: bad thing (line 2)"),
        ),
        (
            "escape",
            "function run() { return [typeof require, typeof process, typeof fetch, typeof setTimeout, typeof std, typeof os]; }",
            Ok(json!([
                "undefined",
                "undefined",
                "undefined",
                "undefined",
                "undefined",
                "undefined"
            ])),
        ),
        (
            "tamper",
            "function run() { try { digios.act = null; } catch (e) { return e.name; } return 'tampered'; }",
            Ok(json!("TypeError")),
        ),
    ];
    for (name, code, want) in cases {
        rig.skills.install(draft(name, code)).await.unwrap();
        let got = rig.skills.call(name, json!({})).await;
        match (want, &got) {
            (Ok(value), Ok(result)) => assert_eq!(result, &value, "{name}"),
            (Err(text), Err(err)) => {
                assert!(
                    err.to_string()
                        .to_lowercase()
                        .contains(&text.to_lowercase()),
                    "{name}: {err}"
                )
            }
            (want, got) => panic!("{name}: wanted {want:?}, got {got:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_failures_roll_back_only_one_version() {
    let rig = rig(fast_limits()).await;
    for code in [
        "function run() { return 1; }",
        "function run() { return 2; }",
    ] {
        rig.skills.install(draft("steady", code)).await.unwrap();
    }
    rig.skills
        .install(draft(
            "steady",
            "function run() { throw new Error('broken'); }",
        ))
        .await
        .unwrap();
    for _ in 0..3 {
        rig.skills.call("steady", json!({})).await.unwrap_err();
    }
    // Several calls cross the threshold together; one rollback results.
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let skills = rig.skills.clone();
            tokio::spawn(async move { skills.call("steady", json!({})).await })
        })
        .collect();
    for call in calls {
        let _ = call.await.unwrap();
    }
    let history = rig.skills.history("steady").await.unwrap();
    assert_eq!(history.active_version, Some(2), "{history:#?}");
    assert_eq!(history.versions[0].state, VersionState::RolledBack);
    assert_eq!(history.versions[2].state, VersionState::Archived);
}
