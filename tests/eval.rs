//! The evaluator end to end: the built-in suite run headless with the real
//! planner and the real default model (SmolLM2), every task on a fresh
//! `digios compositor` process and a temporary home, judged on the real
//! window list, pixels and files. Prints the success per task; asserts only
//! what must hold whatever the model does.

use std::sync::Arc;
use std::time::Duration;

use digios_agent::actions::ActionsConfig;
use digios_agent::eval::{Contestant, EvalParts, Evaluator, RunState};
use digios_agent::events::EventBus;
use digios_agent::llm::{LanguageModel, LocalModel, LocalModelSettings, ModelSlot};
use digios_agent::memory::Memory;
use digios_agent::planner::PlannerConfig;
use digios_agent::policy::KillSwitch;
use digios_tests::digios::{binary, model_cache_dir};

fn smollm2() -> Arc<dyn LanguageModel> {
    let path = model_cache_dir().join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    Arc::new(
        LocalModel::load(LocalModelSettings::new(path).with_threads(1)).expect("SmolLM2 loads"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_runs_headless_and_reports_every_task() {
    let data = tempfile::tempdir().unwrap();
    let memory = Memory::open(data.path().join("memory.db")).await.unwrap();
    let evaluator = Evaluator::new(EvalParts {
        binary: binary(),
        actions: ActionsConfig::default(),
        planner: PlannerConfig {
            max_steps: 4,
            ..PlannerConfig::default()
        },
        task_timeout: Duration::from_secs(90),
        memory: memory.clone(),
        events: Arc::new(EventBus::default()),
        kill_switch: KillSwitch::new(),
    });
    let model = tokio::task::spawn_blocking(smollm2).await.unwrap();
    let contestant = Contestant::model_only(ModelSlot::new(model));
    let tasks = Evaluator::select(&[]).unwrap();
    let run = tokio::time::timeout(
        Duration::from_secs(1200),
        evaluator.run("manual", &contestant, &tasks),
    )
    .await
    .expect("the suite finished within 20 minutes")
    .unwrap();

    // Straight to stderr, past the test harness's capture, so every
    // `.ci/run` log shows the suite's score per task.
    let mut table = format!("suite run {} with {}:\n", run.id, run.model);
    for task in &run.tasks {
        table += &format!(
            "  {:<22} {:<4} {:>2} step(s) {:>6} ms  {}\n",
            task.task,
            if task.success { "pass" } else { "FAIL" },
            task.steps,
            task.duration_ms,
            task.error.as_deref().unwrap_or("")
        );
    }
    table += &format!("success rate {:.0} %\n", run.score() * 100.0);
    std::io::Write::write_all(&mut std::io::stderr(), table.as_bytes()).unwrap();

    assert_eq!(run.state, RunState::Finished);
    assert_eq!(run.tasks.len(), tasks.len());
    assert_eq!(run.model, "SmolLM2-135M-Instruct.Q4_1");
    // The fast paths take these without the model; they are the suite's floor.
    for floor in [
        "open-terminal",
        "maximize-terminal",
        "close-terminal",
        "write-note",
        "rename-file",
        "copy-file",
        "delete-file",
    ] {
        assert!(run.passed(floor), "{floor} failed: {:?}", run.tasks);
    }
    // A task the planner cannot finish fails with a reason, never silently.
    for task in run.tasks.iter().filter(|t| !t.success) {
        assert!(task.error.as_deref().is_some_and(|e| !e.is_empty()));
    }
    let stored = digios_agent::eval::list_runs(&memory, 5).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].tasks, run.tasks);
    assert_eq!(stored[0].success_rate, Some(run.score()));
}
