//! The evaluator: runs the desktop task suite (`assets/eval/suite.toml`)
//! with the real planner, each task on a fresh headless compositor with an
//! empty temporary home, and judges success by checks on real state (window
//! list, pixels, files) written in Rust. The suite is compiled in, so the
//! improvement cycle, which only ever calls [`Evaluator::run`], cannot edit
//! what it is judged by. Runs and per-task results are stored in memory.

mod check;
mod sandbox;
mod store;
mod suite;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

pub use store::{get_run, list_runs, mark_interrupted, stop_cycle_runs};
pub use suite::{Check, EvalTask, SetupStep, suite};

use crate::actions::ActionsConfig;
use crate::events::{EventBus, Topic};
use crate::llm::ModelSlot;
use crate::memory::{Memory, MemoryError, Step, TaskState};
use crate::planner::{Planner, PlannerConfig, PlannerParts};
use crate::policy::{KillSwitch, Policy, PolicyConfig, RuleConfig, Verdict};
use crate::skills::{SkillDraft, SkillHost, SkillLimits, SkillTestReport, Skills};
use sandbox::Sandbox;

/// A memory database holding the contestant's skills, copied into every task.
struct Library {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

/// How long a setup window may take to appear.
const SETUP_WINDOW_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the checks may take to come true once the task has ended
/// (a window closing, a client drawing).
const CHECK_GRACE: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    Running,
    Finished,
    /// The run itself broke (not a task: those fail inside a finished run).
    Failed,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Running => "running",
            RunState::Finished => "finished",
            RunState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "running" => RunState::Running,
            "finished" => RunState::Finished,
            _ => RunState::Failed,
        }
    }
}

/// One run of the suite.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EvalRun {
    pub id: i64,
    pub started_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    pub state: RunState,
    /// `manual`, or `baseline`/`candidate` of an improvement cycle.
    pub purpose: String,
    /// The model the planner used (`none` without one).
    pub model: String,
    /// The skills installed for the run, `name@version` comma-separated (`none`).
    pub skills_version: String,
    /// Passed tasks over all tasks, 0–1; absent until the run finishes.
    pub success_rate: Option<f64>,
    pub error: Option<String>,
    pub tasks: Vec<TaskResult>,
}

/// How one task went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TaskResult {
    pub task: String,
    /// Every check held on the real state.
    pub success: bool,
    /// Actions the planner took.
    pub steps: u32,
    pub duration_ms: u64,
    /// Why it failed: the check that did not hold and how the task ended.
    pub error: Option<String>,
    /// The planner's steps, for the improvement cycle's prompt.
    #[schema(value_type = Vec<Object>)]
    pub trace: Vec<serde_json::Value>,
}

impl EvalRun {
    pub fn passed(&self, task: &str) -> bool {
        self.tasks.iter().any(|t| t.task == task && t.success)
    }

    /// Passed tasks over all tasks.
    pub fn score(&self) -> f64 {
        if self.tasks.is_empty() {
            return 0.0;
        }
        self.tasks.iter().filter(|t| t.success).count() as f64 / self.tasks.len() as f64
    }

    /// The summed duration of the passed tasks, for comparing speed.
    pub fn passed_duration_ms(&self) -> u64 {
        self.tasks
            .iter()
            .filter(|t| t.success)
            .map(|t| t.duration_ms)
            .sum()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("an evaluation is already running")]
    Busy,
    #[error("no task named {0:?} in the suite")]
    UnknownTask(String),
    #[error(transparent)]
    Memory(#[from] MemoryError),
}

/// What is being evaluated: a model and the skills the planner gets.
#[derive(Clone)]
pub struct Contestant {
    pub model: ModelSlot,
    /// Installed, in this order, into each task's own skill library.
    pub skills: Vec<SkillDraft>,
    /// How runs name this set of skills, `name@version` comma-separated (`none`).
    pub skills_version: String,
}

impl Contestant {
    pub fn new(model: ModelSlot, skills: Vec<SkillDraft>, skills_version: String) -> Self {
        Self {
            model,
            skills,
            skills_version,
        }
    }

    /// The model alone, no skills.
    pub fn model_only(model: ModelSlot) -> Self {
        Self::new(model, Vec::new(), "none".into())
    }

    pub fn model_name(&self) -> String {
        self.model
            .get()
            .map(|m| m.describe().id)
            .unwrap_or_else(|_| "none".into())
    }
}

/// What the evaluator needs from the agent.
pub struct EvalParts {
    /// The `digios` binary, which starts each task's compositor.
    pub binary: PathBuf,
    pub actions: ActionsConfig,
    pub planner: PlannerConfig,
    /// Longest one task may run before it is cancelled.
    pub task_timeout: Duration,
    /// Where runs are stored.
    pub memory: Memory,
    /// Progress goes out on the `improve` topic.
    pub events: Arc<EventBus>,
    /// Engaging it stops the suite's tasks too.
    pub kill_switch: KillSwitch,
}

/// Runs the suite; one run at a time. Cheap to clone.
#[derive(Clone)]
pub struct Evaluator {
    inner: Arc<Inner>,
}

struct Inner {
    parts: EvalParts,
    busy: Arc<tokio::sync::Mutex<()>>,
}

impl Evaluator {
    pub fn new(parts: EvalParts) -> Self {
        Self {
            inner: Arc::new(Inner {
                parts,
                busy: Arc::new(tokio::sync::Mutex::new(())),
            }),
        }
    }

    pub fn memory(&self) -> &Memory {
        &self.inner.parts.memory
    }

    /// The suite's tasks named in `names` (all when empty).
    pub fn select(names: &[String]) -> Result<Vec<EvalTask>, EvalError> {
        let all = suite();
        if names.is_empty() {
            return Ok(all);
        }
        names
            .iter()
            .map(|name| {
                all.iter()
                    .find(|t| &t.name == name)
                    .cloned()
                    .ok_or_else(|| EvalError::UnknownTask(name.clone()))
            })
            .collect()
    }

    /// Starts a run in the background and returns it as recorded (`running`).
    /// Refused with [`EvalError::Busy`] while another run holds the desktop sandbox.
    pub async fn start(
        &self,
        purpose: &str,
        contestant: Contestant,
        tasks: Vec<EvalTask>,
    ) -> Result<EvalRun, EvalError> {
        let guard = self
            .inner
            .busy
            .clone()
            .try_lock_owned()
            .map_err(|_| EvalError::Busy)?;
        let run = self.record_start(purpose, &contestant).await?;
        let evaluator = self.clone();
        let started = run.clone();
        tokio::spawn(async move {
            let _guard = guard;
            if let Err(err) = evaluator.execute(started, &contestant, &tasks).await {
                tracing::warn!("evaluation run failed: {err}");
            }
        });
        Ok(run)
    }

    /// Runs `tasks` to the end (waiting for any run under way) and returns the stored run.
    pub async fn run(
        &self,
        purpose: &str,
        contestant: &Contestant,
        tasks: &[EvalTask],
    ) -> Result<EvalRun, EvalError> {
        let _guard = self.inner.busy.lock().await;
        let run = self.record_start(purpose, contestant).await?;
        self.execute(run, contestant, tasks).await
    }

    async fn record_start(
        &self,
        purpose: &str,
        contestant: &Contestant,
    ) -> Result<EvalRun, EvalError> {
        let run = store::start_run(
            &self.inner.parts.memory,
            purpose,
            &contestant.model_name(),
            &contestant.skills_version,
        )
        .await?;
        self.publish("eval_started", json!(run));
        Ok(run)
    }

    async fn execute(
        &self,
        mut run: EvalRun,
        contestant: &Contestant,
        tasks: &[EvalTask],
    ) -> Result<EvalRun, EvalError> {
        let memory = &self.inner.parts.memory;
        let library = match self.prepare_library(contestant).await {
            Ok(library) => library,
            Err(message) => {
                store::finish_run(memory, run.id, None, Some(&message)).await?;
                let run = store::get_run(memory, run.id).await?.unwrap_or(run);
                self.publish("eval_finished", json!(run));
                return Ok(run);
            }
        };
        for (position, task) in tasks.iter().enumerate() {
            self.publish(
                "eval_task_started",
                json!({"run_id": run.id, "task": task.name, "position": position, "of": tasks.len()}),
            );
            let result = self.run_task(task, contestant, library.as_ref()).await;
            tracing::info!(
                "eval run {} task {}: {} in {} ms, {} step(s){}",
                run.id,
                task.name,
                if result.success { "passed" } else { "failed" },
                result.duration_ms,
                result.steps,
                result
                    .error
                    .as_deref()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default()
            );
            if let Err(err) = store::add_result(memory, run.id, position, &result).await {
                let message = format!("cannot store the result of {}: {err}", task.name);
                store::finish_run(memory, run.id, None, Some(&message)).await?;
                return Err(err.into());
            }
            self.publish(
                "eval_task_finished",
                json!({"run_id": run.id, "result": result}),
            );
            run.tasks.push(result);
        }
        let rate = run.score();
        store::finish_run(memory, run.id, Some(rate), None).await?;
        let run = store::get_run(memory, run.id).await?.unwrap_or(run);
        self.publish("eval_finished", json!(run));
        Ok(run)
    }

    fn publish(&self, kind: &str, data: serde_json::Value) {
        self.inner.parts.events.publish(Topic::Improve, kind, data);
    }

    async fn run_task(
        &self,
        task: &EvalTask,
        contestant: &Contestant,
        library: Option<&Library>,
    ) -> TaskResult {
        let started = Instant::now();
        let (steps, trace, error) = match self.attempt(task, contestant, library).await {
            Ok(outcome) => outcome,
            Err(error) => (0, Vec::new(), Some(error)),
        };
        TaskResult {
            task: task.name.clone(),
            success: error.is_none(),
            steps,
            duration_ms: started.elapsed().as_millis() as u64,
            error,
            trace,
        }
    }

    /// Sets the task up in a fresh sandbox, gives the planner its goal, and
    /// checks the state it leaves. `Err` when the sandbox itself failed.
    async fn attempt(
        &self,
        task: &EvalTask,
        contestant: &Contestant,
        library: Option<&Library>,
    ) -> Result<(u32, Vec<serde_json::Value>, Option<String>), String> {
        let parts = &self.inner.parts;
        let sandbox = Sandbox::start(&parts.binary).await?;
        for step in &task.setup {
            setup(&sandbox, step).await?;
        }
        let path = sandbox.home.with_file_name("memory.db");
        if let Some(library) = library {
            std::fs::copy(&library.path, &path)
                .map_err(|err| format!("copy the skill library: {err}"))?;
        }
        let memory = Memory::open(&path)
            .await
            .map_err(|err| format!("task memory: {err}"))?;
        let tools = self.tools(&sandbox, memory)?;
        let planner = self.planner(&sandbox, &tools, contestant);
        let goal = sandbox.expand(&task.goal);
        let ended = match planner.submit(&goal, None).await {
            Ok(view) => self.follow(&planner, view.task.id).await,
            Err(err) => Err(format!("the planner refused the goal: {err}")),
        };
        let (steps, trace, ended) = match ended {
            Ok((steps, state, result)) => (
                steps.len() as u32,
                steps.iter().map(trace_step).collect(),
                format!(
                    "the task ended {state}{}",
                    result.map(|r| format!(": {r}")).unwrap_or_default()
                ),
            ),
            Err(err) => (0, Vec::new(), err),
        };
        let checked = checks(task, &sandbox).await;
        Ok((steps, trace, checked.err().map(|e| format!("{e}; {ended}"))))
    }

    /// What the planner and skills act through inside a sandbox: its
    /// desktop, its home as the only file root, the sandbox policy.
    fn tools(&self, sandbox: &Sandbox, memory: Memory) -> Result<SkillHost, String> {
        let parts = &self.inner.parts;
        let mut actions = parts.actions.clone();
        actions.file_roots = vec![sandbox.home.display().to_string()];
        Ok(SkillHost {
            desktop: sandbox.desktop.clone(),
            actions,
            policy: Arc::new(sandbox_policy(&sandbox.home)?),
            kill_switch: parts.kill_switch.clone(),
            memory,
        })
    }

    fn planner(&self, sandbox: &Sandbox, tools: &SkillHost, contestant: &Contestant) -> Planner {
        let parts = &self.inner.parts;
        let planner = Planner::sandboxed(PlannerParts {
            config: parts.planner.clone(),
            memory: tools.memory.clone(),
            desktop: tools.desktop.clone(),
            actions: tools.actions.clone(),
            // Tasks of the suite are not the user's: their events stay here.
            events: Arc::new(EventBus::default()),
            policy: tools.policy.clone(),
            kill_switch: parts.kill_switch.clone(),
            model: contestant.model.clone(),
            vision: crate::vision::Vision::new(sandbox.desktop.clone()),
        });
        planner.use_skills(Skills::sandboxed(tools.clone(), SkillLimits::default()));
        planner
    }

    /// Runs a draft's own tests in a fresh sandbox, never on the live desktop.
    pub async fn test_skill(&self, draft: &SkillDraft) -> Result<SkillTestReport, String> {
        let sandbox = Sandbox::start(&self.inner.parts.binary).await?;
        let memory = Memory::open(sandbox.home.with_file_name("memory.db"))
            .await
            .map_err(|err| format!("sandbox memory: {err}"))?;
        let skills = Skills::sandboxed(self.tools(&sandbox, memory)?, SkillLimits::default());
        Ok(skills.test(draft).await)
    }

    /// Installs the contestant's skills once per run, in a sandbox of its
    /// own (their tests act there, never on a task's desktop), and keeps the
    /// database as the starting memory of every task.
    async fn prepare_library(&self, contestant: &Contestant) -> Result<Option<Library>, String> {
        if contestant.skills.is_empty() {
            return Ok(None);
        }
        let sandbox = Sandbox::start(&self.inner.parts.binary).await?;
        let memory = Memory::open(sandbox.home.with_file_name("memory.db"))
            .await
            .map_err(|err| format!("sandbox memory: {err}"))?;
        let skills = Skills::sandboxed(
            self.tools(&sandbox, memory.clone())?,
            SkillLimits::default(),
        );
        for draft in &contestant.skills {
            skills
                .install(draft.clone())
                .await
                .map_err(|err| format!("skill {} does not install: {err}", draft.name))?;
        }
        let dir = tempfile::Builder::new()
            .prefix("digios-eval-skills-")
            .tempdir()
            .map_err(|err| format!("temporary directory: {err}"))?;
        let path = dir.path().join("skills.db");
        sqlx::query("VACUUM INTO ?")
            .bind(path.display().to_string())
            .execute(memory.pool())
            .await
            .map_err(|err| format!("copy the skill library: {err}"))?;
        memory.pool().close().await;
        Ok(Some(Library { path, _dir: dir }))
    }

    /// Waits for the task to end, declining every confirmation (nobody is
    /// there to answer) and cancelling it at the time limit.
    async fn follow(
        &self,
        planner: &Planner,
        id: i64,
    ) -> Result<(Vec<Step>, TaskState, Option<String>), String> {
        let deadline = Instant::now() + self.inner.parts.task_timeout;
        loop {
            let view = planner.view(id).await.map_err(|e| e.to_string())?;
            if view.task.state.is_finished() {
                let steps = view.steps.unwrap_or_default();
                return Ok((steps, view.task.state, view.task.result));
            }
            if view.pending_confirmation.is_some() {
                let _ = planner.confirm(id, false).await;
            }
            if Instant::now() > deadline {
                let view = planner.cancel(id).await.map_err(|e| e.to_string())?;
                let steps = view.steps.unwrap_or_default();
                return Ok((
                    steps,
                    view.task.state,
                    Some(format!(
                        "cancelled at the {} s limit",
                        self.inner.parts.task_timeout.as_secs()
                    )),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The policy inside a sandbox: anything under the temporary home is
/// allowed except shell commands and process control, which stay behind a
/// confirmation the evaluator always declines; elsewhere the built-in rules hold.
fn sandbox_policy(home: &std::path::Path) -> Result<Policy, String> {
    let under_home = format!("{}/**", home.display());
    let mut rules = Vec::new();
    for risky in ["*shell*", "run_*", "spawn_*", "signal_*", "kill_*"] {
        rules.push(RuleConfig {
            action: risky.into(),
            path: None,
            verdict: Verdict::Confirm,
        });
    }
    rules.push(RuleConfig {
        action: "*".into(),
        path: Some(under_home),
        verdict: Verdict::Allow,
    });
    let config = PolicyConfig {
        rules,
        ..PolicyConfig::default()
    };
    Policy::new(&config, Some(home)).map_err(|err| format!("sandbox policy: {err}"))
}

async fn setup(sandbox: &Sandbox, step: &SetupStep) -> Result<(), String> {
    match step {
        SetupStep::WriteFile { path, text } => {
            let full = sandbox.path(path);
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent).map_err(|e| format!("setup {path}: {e}"))?;
            }
            std::fs::write(&full, text).map_err(|e| format!("setup {path}: {e}"))
        }
        SetupStep::Launch {
            command,
            wait_app_id,
            wait_title,
        } => {
            let request = digios_ipc::Request::Spawn {
                command: command.clone(),
                env: Vec::new(),
            };
            sandbox
                .desktop
                .request(request)
                .await
                .map_err(|e| format!("setup launch {command:?}: {e}"))?;
            if wait_app_id.is_none() && wait_title.is_none() {
                return Ok(());
            }
            let deadline = Instant::now() + SETUP_WINDOW_TIMEOUT;
            loop {
                let windows = sandbox.desktop.windows().await.unwrap_or_default();
                let found = windows.iter().any(|w| {
                    wait_app_id
                        .as_deref()
                        .is_none_or(|id| w.app_id.as_deref() == Some(id))
                        && wait_title
                            .as_deref()
                            .is_none_or(|t| w.title.as_deref().is_some_and(|x| x.contains(t)))
                });
                if found {
                    return Ok(());
                }
                if Instant::now() > deadline {
                    return Err(format!("setup: {command:?} opened no window in time"));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Every check of the task, retried for a short grace period.
async fn checks(task: &EvalTask, sandbox: &Sandbox) -> Result<(), String> {
    let deadline = Instant::now() + CHECK_GRACE;
    loop {
        let mut failure = None;
        for check in &task.checks {
            if let Err(err) = check::verify(check, sandbox).await {
                failure = Some(err);
                break;
            }
        }
        match failure {
            None => return Ok(()),
            Some(err) if Instant::now() > deadline => return Err(format!("check failed: {err}")),
            Some(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

fn trace_step(step: &Step) -> serde_json::Value {
    json!({
        "thought": step.thought,
        "tool_call": step.tool_call,
        "observation": step.observation,
        "outcome": step.outcome,
    })
}
