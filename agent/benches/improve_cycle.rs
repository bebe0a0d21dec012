//! The evaluator and the improvement cycle, timed: one full suite run (each
//! task on a fresh headless compositor of this build) and one cycle with the
//! default model (SmolLM2), the suite's score per model, and the same suite
//! with a larger model when one is present (`DIGIOS_BENCH_LARGER_MODEL`, a
//! GGUF path, else Gemma 3 270M from the store; a base model, whose chat
//! template is llama.cpp's `gemma`). The anchor, measured in the same run,
//! is the sandbox alone: a fresh compositor started and stopped per task,
//! so the ratio shows what planning adds. Prints figures, asserts none.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use digios_agent::actions::ActionsConfig;
use digios_agent::desktop::Desktop;
use digios_agent::eval::{Contestant, EvalParts, EvalRun, Evaluator};
use digios_agent::events::EventBus;
use digios_agent::improve::{ImproveConfig, ImproveParts, Improver};
use digios_agent::llm::{LanguageModel, LocalModel, LocalModelSettings, ModelSlot};
use digios_agent::memory::Memory;
use digios_agent::planner::PlannerConfig;
use digios_agent::policy::{KillSwitch, Policy, PolicyConfig};
use digios_agent::skills::{SkillHost, SkillLimits, Skills};

/// `digios` from the same build, when `cargo xtask bench` built it.
fn digios_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.parent()?.join("digios");
    path.exists().then_some(path)
}

fn store() -> PathBuf {
    std::env::var_os("DIGIOS_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/digios")))
        .expect("HOME or DIGIOS_CACHE_DIR")
        .join("models")
}

fn threads() -> u32 {
    std::env::var("DIGIOS_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2)
}

async fn load(settings: LocalModelSettings) -> Arc<dyn LanguageModel> {
    let model = tokio::task::spawn_blocking(move || LocalModel::load(settings))
        .await
        .unwrap()
        .expect("the model loads");
    Arc::new(model)
}

fn print_run(label: &str, run: &EvalRun, seconds: f64) {
    println!(
        "{label}: suite of {} tasks in {seconds:.1} s, success {:.0} % ({})",
        run.tasks.len(),
        run.score() * 100.0,
        run.model
    );
    for task in &run.tasks {
        println!(
            "  {:<22} {:<4} {:>2} step(s) {:>7} ms",
            task.task,
            if task.success { "pass" } else { "fail" },
            task.steps,
            task.duration_ms
        );
    }
}

#[tokio::main]
async fn main() {
    let Some(binary) = digios_binary() else {
        println!("no digios binary next to this benchmark: build digios-boot first");
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let memory = Memory::open(data.path().join("memory.db")).await.unwrap();
    let events = Arc::new(EventBus::default());
    let kill_switch = KillSwitch::new();
    let config = ImproveConfig::default();
    let evaluator = Evaluator::new(EvalParts {
        binary: binary.clone(),
        actions: ActionsConfig::default(),
        planner: PlannerConfig {
            max_steps: config.eval_max_steps,
            ..PlannerConfig::default()
        },
        task_timeout: Duration::from_secs(config.eval_task_timeout_secs),
        memory: memory.clone(),
        events: events.clone(),
        kill_switch: kill_switch.clone(),
    });
    let tasks = Evaluator::select(&[]).unwrap();

    // Anchor: the sandbox alone, a fresh compositor per task.
    let started = Instant::now();
    for _ in &tasks {
        let runtime = tempfile::tempdir().unwrap();
        let socket = runtime.path().join("control.sock");
        let mut child = std::process::Command::new(&binary)
            .env("XDG_RUNTIME_DIR", runtime.path())
            .args(["compositor", "--headless", "--socket-name", "wayland-bench"])
            .arg("--control-socket")
            .arg(&socket)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        while std::os::unix::net::UnixStream::connect(&socket).is_err() {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    let anchor = started.elapsed().as_secs_f64();
    println!(
        "anchor: {} fresh compositors started and stopped in {anchor:.1} s",
        tasks.len()
    );

    let smol = load(
        LocalModelSettings::new(store().join("SmolLM2-135M-Instruct.Q4_1.gguf"))
            .with_threads(threads()),
    )
    .await;
    let slot = ModelSlot::new(smol);
    let started = Instant::now();
    let baseline = evaluator
        .run("baseline", &Contestant::model_only(slot.clone()), &tasks)
        .await
        .unwrap();
    let suite_seconds = started.elapsed().as_secs_f64();
    print_run("default model", &baseline, suite_seconds);
    println!(
        "suite time {suite_seconds:.1} s = {:.1}x the sandbox anchor",
        suite_seconds / anchor
    );

    let skills = Skills::new(
        SkillHost {
            desktop: Desktop::new("/nonexistent/digios-control.sock".into()),
            actions: ActionsConfig::default(),
            policy: Arc::new(Policy::new(&PolicyConfig::default(), None).unwrap()),
            kill_switch,
            memory: memory.clone(),
        },
        SkillLimits::default(),
    );
    let improver = Improver::new(ImproveParts {
        evaluator: evaluator.clone(),
        skills,
        model: slot,
        memory: memory.clone(),
        events,
        config,
    });
    // The baseline above is reused: the cycle's time is generation, compile,
    // the skill's tests and (if it compiles) the candidate's suite run.
    let started = Instant::now();
    let cycle = improver.run("bench").await.unwrap();
    let cycle_seconds = started.elapsed().as_secs_f64();
    let generation_ms: u64 = cycle.attempts.iter().map(|a| a.duration_ms).sum();
    println!(
        "cycle with the default model: {cycle_seconds:.1} s ({:.2}x the suite time), {} \
         attempt(s) taking {:.1} s of generation, {}: {}",
        cycle_seconds / suite_seconds,
        cycle.attempts.len(),
        generation_ms as f64 / 1000.0,
        cycle.state.as_str(),
        cycle.reason.as_deref().unwrap_or("")
    );

    let larger = std::env::var_os("DIGIOS_BENCH_LARGER_MODEL")
        .map(|p| (PathBuf::from(p), None))
        .or_else(|| {
            let gemma = store().join("gemma-3-270m-q4_k_m.gguf");
            gemma.exists().then_some((gemma, Some("gemma")))
        });
    match larger {
        Some((path, template)) => {
            let mut settings = LocalModelSettings::new(&path).with_threads(threads());
            if let Some(template) = template {
                settings = settings.with_chat_template(template);
            }
            let model = load(settings).await;
            let started = Instant::now();
            let run = evaluator
                .run(
                    "manual",
                    &Contestant::model_only(ModelSlot::new(model)),
                    &tasks,
                )
                .await
                .unwrap();
            let seconds = started.elapsed().as_secs_f64();
            print_run("larger model", &run, seconds);
            println!(
                "score: default {:.0} %, larger {:.0} %; suite time {:.2}x the default's",
                baseline.score() * 100.0,
                run.score() * 100.0,
                seconds / suite_seconds
            );
        }
        None => println!("no larger model present or configured (DIGIOS_BENCH_LARGER_MODEL)"),
    }
}
