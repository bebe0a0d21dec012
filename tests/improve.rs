//! The improvement cycle with a scripted model, against real headless
//! compositors (one per suite task), real SQLite and the real QuickJS skill
//! runtime. The script writes a known-good skill, then a known-bad one; the
//! suite decides: the good one is integrated (the score rises and is
//! recorded), the bad one is rejected for its regression, and a rollback
//! restores the version before. `improve_real_model` covers the same loop
//! with the real default model.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use digios_agent::actions::ActionsConfig;
use digios_agent::desktop::Desktop;
use digios_agent::eval::{EvalParts, Evaluator};
use digios_agent::events::EventBus;
use digios_agent::improve::{CycleState, ImproveConfig, ImproveParts, Improver};
use digios_agent::llm::{
    CancellationToken, ChatRequest, Completion, LanguageModel, ModelDescription, ModelSlot,
};
use digios_agent::memory::Memory;
use digios_agent::planner::PlannerConfig;
use digios_agent::policy::{KillSwitch, Policy, PolicyConfig};
use digios_agent::skills::{SkillDraft, SkillHost, SkillLimits, SkillTest, Skills};
use digios_tests::digios::binary;
use digios_tests::scripted_model;
use serde_json::{Value, json};

/// Plans like a tiny model that knows one trick: for a goal naming
/// `count.txt` it calls the `count_lines` skill once, then finishes; any
/// other goal it gives up on. Asked for a skill, it answers from a script.
struct Scripted {
    skills: Mutex<VecDeque<String>>,
}

impl LanguageModel for Scripted {
    fn describe(&self) -> ModelDescription {
        scripted_model::description()
    }

    fn complete(&self, request: ChatRequest, _cancel: CancellationToken) -> Completion {
        let system = &request.messages[0].content;
        if system.starts_with("You write skills for digiOS") {
            let reply = self.skills.lock().unwrap().pop_front();
            return Completion::ready(reply.expect("the script has a skill left"));
        }
        let goal = &request.messages[1].content;
        let path = |name: &str| {
            goal.split_whitespace()
                .find(|word| word.ends_with(name))
                .map(|path| {
                    path.trim_matches(|c: char| c == '"' || c == '\'')
                        .to_string()
                })
        };
        let reply = match (
            path("/list.txt"),
            path("/count.txt"),
            request.messages.len(),
        ) {
            (Some(path), Some(into), 2) => json!({"action": "skill",
                "params": {"name": "count_lines", "args": {"path": path, "into": into}}}),
            _ => json!({"action": "finish", "params": {"summary": "done"}}),
        };
        Completion::ready(reply.to_string())
    }
}

/// A `count_lines` skill as the model would reply: its work done by `code`.
fn skill_reply(code: &str) -> String {
    json!({
        "name": "count_lines",
        "description": "count the lines of a file and write the number into another",
        "params": [
            {"name": "path", "type": "string", "description": "absolute path of the file to count"},
            {"name": "into", "type": "string", "description": "absolute path of the file to write the count into"}
        ],
        "code": code,
        "tests": [{"name": "a path is needed", "params": [{"name": "into", "value": "/x"}],
            "throws": "path"}]
    })
    .to_string()
}

const GOOD: &str = "function run(params) {\n  const file = digios.act('read_file', { path: params.path });\n  \
                    const lines = file.content.split('\\n').filter((l) => l.length > 0).length;\n  \
                    digios.act('write_file', { path: params.into, content: lines + '\\n' });\n  \
                    return { lines };\n}";
/// Compiles and passes its own test, but counts the wrong thing.
const BAD: &str = "function run(params) {\n  const file = digios.act('read_file', { path: params.path });\n  \
                   digios.act('write_file', { path: params.into, content: file.content.length + '\\n' });\n  \
                   return {};\n}";
/// The version a person installed before any cycle: it writes nothing useful.
const FIRST: &str = "function run(params) {\n  if (!params.path) throw new Error('a path is needed');\n  \
                     digios.act('write_file', { path: params.into, content: '' });\n  return {};\n}";

/// An improver on real parts whose model answers `replies` when asked for
/// a skill, with version 1 of `count_lines` ([`FIRST`]) installed.
struct Rig {
    improver: Improver,
    memory: Memory,
    skills: Skills,
    events: Arc<EventBus>,
    _data: tempfile::TempDir,
}

/// The tests here take turns: one counts the sandboxes under this process.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn rig(replies: Vec<String>) -> Rig {
    let data = tempfile::tempdir().unwrap();
    let memory = Memory::open(data.path().join("memory.db")).await.unwrap();
    let model = Arc::new(Scripted {
        skills: Mutex::new(VecDeque::from(replies)),
    });
    let events = Arc::new(EventBus::default());
    let kill_switch = KillSwitch::new();
    // The live library: its skills' tests never act on a desktop here.
    let skills = Skills::new(
        SkillHost {
            desktop: Desktop::new("/nonexistent/digios-control.sock".into()),
            actions: ActionsConfig::default(),
            policy: Arc::new(Policy::new(&PolicyConfig::default(), None).unwrap()),
            kill_switch: kill_switch.clone(),
            memory: memory.clone(),
        },
        SkillLimits::default(),
    );
    let first = skills
        .install(SkillDraft {
            name: "count_lines".into(),
            description: "count the lines of a file".into(),
            params: json!({"type": "object", "properties": {
                "path": {"type": "string"}, "into": {"type": "string"}}, "required": ["into"]}),
            code: FIRST.into(),
            author_model: None,
            parent_version: None,
            tests: vec![SkillTest {
                name: "a path is needed".into(),
                params: json!({"into": "/x"}),
                expect: digios_agent::skills::Expectation::Throws("path".into()),
            }],
        })
        .await
        .unwrap();
    assert_eq!(first.version, 1);
    let evaluator = Evaluator::new(EvalParts {
        binary: binary(),
        actions: ActionsConfig::default(),
        planner: PlannerConfig {
            max_steps: 3,
            ..PlannerConfig::default()
        },
        task_timeout: Duration::from_secs(60),
        memory: memory.clone(),
        events: events.clone(),
        kill_switch,
    });
    let improver = Improver::new(ImproveParts {
        evaluator,
        skills: skills.clone(),
        model: ModelSlot::new(model),
        memory: memory.clone(),
        events: events.clone(),
        config: ImproveConfig::default(),
    });
    Rig {
        improver,
        memory,
        skills,
        events,
        _data: data,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_skill_is_integrated_a_bad_one_rejected_and_rollback_restores() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let Rig {
        improver,
        memory,
        skills,
        events,
        _data,
    } = rig(vec![skill_reply(GOOD), skill_reply(BAD)]).await;
    let mut topics = events.subscribe();

    let good = tokio::time::timeout(Duration::from_secs(600), improver.run("test"))
        .await
        .expect("the first cycle ended within 10 minutes")
        .unwrap();
    report(&improver, good.id).await;
    assert_eq!(good.state, CycleState::Integrated, "{good:#?}");
    assert_eq!(good.targets.len(), 1, "{:?}", good.targets);
    let reason = good.reason.clone().unwrap_or_default();
    assert!(reason.contains("count-lines now passes"), "{reason}");
    assert_eq!(good.skill_name.as_deref(), Some("count_lines"));
    assert_eq!(good.skill_version, Some(2));
    let (before, after) = (good.score_before.unwrap(), good.score_after.unwrap());
    assert!(after > before, "the score rose: {before} → {after}");
    let active = skills.active("count_lines").await.unwrap();
    assert_eq!((active.version, active.code.as_str()), (2, GOOD));
    assert_eq!(active.author_model.as_deref(), Some("scripted"));
    assert_eq!(active.parent_version, Some(1));
    let candidate = digios_agent::eval::get_run(&memory, good.candidate_run_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(candidate.passed("count-lines"), "{:?}", candidate.tasks);
    assert_eq!(candidate.skills_version, "count_lines@candidate");
    assert_eq!(candidate.success_rate, Some(after));
    assert!(
        good.test_report
            .as_ref()
            .is_some_and(|r| r["passed"] == true)
    );
    let target = Evaluator::select(&good.targets).unwrap().remove(0);
    let prompt = &good.attempts[0].prompt;
    assert!(
        prompt[0].content.contains("digios.act("),
        "the API reference"
    );
    assert!(prompt[1].content.contains(&target.goal), "the failing task");
    assert!(prompt[1].content.contains("check failed"), "why it failed");

    let bad = tokio::time::timeout(Duration::from_secs(600), improver.run("test"))
        .await
        .expect("the second cycle ended within 10 minutes")
        .unwrap();
    report(&improver, bad.id).await;
    assert_eq!(bad.state, CycleState::Rejected, "{bad:#?}");
    let reason = bad.reason.clone().unwrap_or_default();
    assert!(reason.starts_with("regression: count-lines"), "{reason}");
    assert!(bad.score_after.unwrap() < bad.score_before.unwrap());
    let baseline = digios_agent::eval::get_run(&memory, bad.baseline_run_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(baseline.skills_version, "count_lines@2");
    assert_eq!(skills.active("count_lines").await.unwrap().version, 2);
    assert!(
        bad.attempts[0].prompt[1].content.contains("count_lines"),
        "the prompt names the installed skills"
    );
    // With nothing failing after the first cycle, the slowest task is the target.
    let failing: Vec<&str> = baseline
        .tasks
        .iter()
        .filter(|t| !t.success)
        .map(|t| t.task.as_str())
        .collect();
    let slowest = baseline.tasks.iter().max_by_key(|t| t.duration_ms).unwrap();
    if failing.is_empty() {
        assert_eq!(bad.targets, std::slice::from_ref(&slowest.task));
    } else {
        assert!(failing.contains(&bad.targets[0].as_str()), "{failing:?}");
    }

    // The history is complete and in order, newest first.
    let history = digios_agent::improve::list(&memory, 10).await.unwrap();
    let states: Vec<CycleState> = history.iter().map(|c| c.state).collect();
    assert_eq!(states, [CycleState::Rejected, CycleState::Integrated]);
    assert_eq!(history[1].attempts[0].reply, skill_reply(GOOD));
    assert_eq!(history[0].attempts[0].draft.as_ref().unwrap().code, BAD);

    let restored = skills.rollback("count_lines").await.unwrap();
    assert_eq!((restored.version, restored.code.as_str()), (1, FIRST));
    let again = evaluator_run(&improver).await;
    assert!(
        !again.passed("count-lines"),
        "version 1 is back: {:?}",
        again.tasks
    );
    assert_eq!(again.skills_version, "count_lines@1");
    assert_eq!(again.score(), before, "the score before the cycles");

    let mut kinds = Vec::new();
    while let Ok(event) = topics.try_recv() {
        kinds.push(event.kind);
    }
    for kind in [
        "cycle_started",
        "eval_task_finished",
        "cycle_stage",
        "cycle_finished",
    ] {
        assert!(
            kinds.iter().any(|k| k == kind),
            "no {kind} on the improve topic"
        );
    }
}

async fn evaluator_run(improver: &Improver) -> digios_agent::eval::EvalRun {
    let contestant = improver.contestant().await;
    let tasks = Evaluator::select(&[]).unwrap();
    improver
        .evaluator()
        .run("manual", &contestant, &tasks)
        .await
        .unwrap()
}

async fn report(improver: &Improver, id: i64) {
    let cycle = digios_agent::improve::get(improver.evaluator().memory(), id)
        .await
        .unwrap()
        .unwrap();
    let line: Value = json!({
        "id": cycle.id, "state": cycle.state, "before": cycle.score_before,
        "after": cycle.score_after, "reason": cycle.reason,
    });
    println!("cycle {line}");
}

/// The evaluator's sandbox compositors still running under this process.
fn sandbox_compositors() -> usize {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| {
            let dir = entry.ok()?.path();
            let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
            let parent = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .to_string();
            let cmdline = std::fs::read(dir.join("cmdline")).ok()?;
            let compositor = String::from_utf8_lossy(&cmdline).contains("compositor");
            (parent == me && compositor).then_some(())
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_steps_aside_or_is_cancelled_and_leaves_nothing_behind() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let rig = rig(vec![skill_reply(GOOD), skill_reply(GOOD)]).await;
    assert!(!rig.improver.cancel(None, "nothing runs"));

    // A scheduled cycle steps aside once a suite task's sandbox is up.
    let mut topics = rig.events.subscribe();
    let stop = async move {
        while let Ok(event) = topics.recv().await {
            if event.kind == "eval_task_started" {
                break;
            }
        }
        while sandbox_compositors() == 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        "someone is using the desktop".to_string()
    };
    let cycle = tokio::time::timeout(
        Duration::from_secs(300),
        rig.improver.run_unless("schedule", stop),
    )
    .await
    .expect("the cycle stopped")
    .unwrap();
    assert_eq!(cycle.state, CycleState::Cancelled, "{cycle:#?}");
    assert_eq!(
        cycle.reason.as_deref(),
        Some("stopped: someone is using the desktop")
    );
    assert!(cycle.finished_at_ms.is_some());
    assert_eq!(sandbox_compositors(), 0, "the sandboxes are gone");
    let runs = digios_agent::eval::list_runs(&rig.memory, 10)
        .await
        .unwrap();
    let baseline = runs.first().expect("the baseline run");
    assert_eq!(
        baseline.state,
        digios_agent::eval::RunState::Failed,
        "{baseline:?}"
    );
    assert!(
        baseline
            .error
            .as_deref()
            .is_some_and(|e| e.contains("someone is using the desktop")),
        "{baseline:?}"
    );
    let stored = digios_agent::improve::get(&rig.memory, cycle.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.state, CycleState::Cancelled);
    assert_eq!(rig.improver.running(), None);

    // One started in the background is cancelled by id; the next may start.
    let started = rig.improver.start("api").await.unwrap();
    assert_eq!(rig.improver.running(), Some(started.id));
    assert!(!rig.improver.cancel(Some(started.id + 1), "not this one"));
    assert!(
        rig.improver
            .cancel(Some(started.id), "cancelled by the user")
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let cancelled = loop {
        let cycle = digios_agent::improve::get(&rig.memory, started.id)
            .await
            .unwrap()
            .unwrap();
        if cycle.state != CycleState::Running {
            break cycle;
        }
        assert!(std::time::Instant::now() < deadline, "{cycle:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(cancelled.state, CycleState::Cancelled);
    assert_eq!(
        cancelled.reason.as_deref(),
        Some("stopped: cancelled by the user")
    );
    // Nothing was installed: version 1 is still the active one.
    assert_eq!(rig.skills.active("count_lines").await.unwrap().version, 1);
    let again = rig.improver.start("api").await.unwrap();
    assert!(rig.improver.cancel(Some(again.id), "cancelled by the user"));
}
