//! Planner step latency with the default model: one step is observe (window
//! list, memory search) → decide (SmolLM2 under the tool grammar) → act →
//! verify, as the planner times its own steps. The anchor, measured in the
//! same run, is the bare grammar-constrained decision for a first-step
//! prompt, so the ratio shows what the planner adds around the model. Fast
//! path steps (no model) are timed too. Prints figures, asserts none.

#[path = "../llm/tests/llm_support.rs"]
mod llm_support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use digios_agent::actions::ActionsConfig;
use digios_agent::desktop::Desktop;
use digios_agent::events::EventBus;
use digios_agent::llm::{
    CancellationToken, ChatMessage, ChatRequest, Constraint, GenerationOptions, LanguageModel,
    LocalModel, ModelSlot,
};
use digios_agent::memory::{Memory, StepOutcome};
use digios_agent::planner::{Planner, PlannerConfig, PlannerParts, system_prompt, tool_schema};
use digios_agent::policy::{KillSwitch, Policy, PolicyConfig};
use llm_support::{smollm2_settings, within};

const MODEL_STEPS: u32 = 6;

/// `digios` from the same build, when `cargo xtask bench` built it.
fn digios_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.parent()?.join("digios");
    path.exists().then_some(path)
}

struct Compositor {
    child: Child,
    socket: PathBuf,
    _runtime: tempfile::TempDir,
}

impl Drop for Compositor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_compositor() -> Option<Compositor> {
    let binary = digios_binary()?;
    let runtime = tempfile::tempdir().ok()?;
    let socket = runtime.path().join("control.sock");
    let child = Command::new(binary)
        .env("XDG_RUNTIME_DIR", runtime.path())
        .env("DIGIOS_LOG", "warn")
        .args([
            "compositor",
            "--headless",
            "--socket-name",
            "wayland-digios-bench",
        ])
        .arg("--control-socket")
        .arg(&socket)
        .stdout(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(Compositor {
        child,
        socket,
        _runtime: runtime,
    })
}

fn summary(label: &str, mut ms: Vec<f64>) -> Option<f64> {
    if ms.is_empty() {
        println!("{label}: no steps");
        return None;
    }
    ms.sort_by(f64::total_cmp);
    let median = ms[ms.len() / 2];
    println!(
        "{label}: median {median:.0} ms, min {:.0} ms, max {:.0} ms over {} steps",
        ms[0],
        ms[ms.len() - 1],
        ms.len()
    );
    Some(median)
}

#[tokio::main]
async fn main() {
    let compositor = start_compositor();
    let socket = match &compositor {
        Some(c) => c.socket.clone(),
        None => {
            println!(
                "no digios binary next to this benchmark: the desktop is unreachable, so steps \
                 observe and act against a missing compositor"
            );
            PathBuf::from("/nonexistent/digios-control.sock")
        }
    };
    let model = tokio::task::spawn_blocking(|| LocalModel::load(smollm2_settings()))
        .await
        .unwrap()
        .expect("SmolLM2 loads");
    let model: Arc<dyn LanguageModel> = Arc::new(model);
    let data = tempfile::tempdir().unwrap();
    let memory = Memory::open(data.path().join("memory.db")).await.unwrap();
    let desktop = Desktop::new(socket);
    let planner = Planner::new(PlannerParts {
        config: PlannerConfig {
            max_steps: MODEL_STEPS,
            max_invalid_tool_calls: MODEL_STEPS,
            verify_timeout_secs: 5,
            // A confirm-tier call the model picks is declined after this.
            confirmation_timeout_secs: 5,
            ..PlannerConfig::default()
        },
        memory: memory.clone(),
        desktop: desktop.clone(),
        actions: ActionsConfig::default(),
        events: Arc::new(EventBus::default()),
        policy: Arc::new(Policy::new(&PolicyConfig::default(), None).unwrap()),
        kill_switch: KillSwitch::new(),
        model: ModelSlot::new(model.clone()),
        vision: digios_agent::vision::Vision::new(desktop),
    });

    // The anchor: one bare decision for a first-step prompt.
    let mut anchor = Vec::new();
    for _ in 0..3 {
        let request = ChatRequest::new(vec![
            ChatMessage::system(system_prompt()),
            ChatMessage::user(
                "Goal: tidy up my desktop\nNo windows are open.\nApps: foot, terminal\n",
            ),
        ])
        .with_options(GenerationOptions {
            max_tokens: 160,
            constraint: Some(Constraint::JsonSchema(tool_schema(
                &[],
                &ActionsConfig::default(),
                0,
            ))),
            ..GenerationOptions::default()
        });
        let started = Instant::now();
        within(
            300,
            "a decision",
            model.complete(request, CancellationToken::new()).collect(),
        )
        .await
        .expect("a decision");
        anchor.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let anchor = summary("anchor: bare grammar-constrained decision", anchor);

    let task = planner
        .submit("tidy up my desktop so I can concentrate", None)
        .await
        .unwrap();
    let view = within(1800, "the model task", planner.wait(task.task.id))
        .await
        .unwrap();
    let steps: Vec<f64> = view
        .steps
        .unwrap_or_default()
        .iter()
        .filter(|s| s.outcome != StepOutcome::Cancelled)
        .map(|s| s.duration_ms as f64)
        .collect();
    let step = summary(
        "planner model step (observe → decide → act → verify)",
        steps,
    );
    println!(
        "model task ended {}: {:?}",
        view.task.state, view.task.result
    );
    if let (Some(step), Some(anchor)) = (step, anchor) {
        println!("ratio step / bare decision: {:.2}", step / anchor);
    }

    if compositor.is_some() {
        let mut fast = Vec::new();
        for goal in [
            "open a terminal",
            "maximize it",
            "close the terminal window",
        ] {
            let task = planner.submit(goal, None).await.unwrap();
            let view = within(120, goal, planner.wait(task.task.id)).await.unwrap();
            println!("fast path {goal:?}: {}", view.task.state);
            fast.extend(
                view.steps
                    .unwrap_or_default()
                    .iter()
                    .map(|s| s.duration_ms as f64),
            );
        }
        summary("fast-path step (no model; act → verify)", fast);
    }
}
