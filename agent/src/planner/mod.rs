//! The planner: turns a goal ("open a terminal and list my files") into
//! actions on the desktop, one checked step at a time.
//!
//! Each task runs observe → decide → act → verify until the goal is reached,
//! the step budget or a timeout runs out, the user cancels, or the kill switch
//! stops it. Goals the intent parser understands on its own (`intent`) run as
//! a fixed plan with no model call; anything else asks the language model for
//! one grammar-constrained tool call per step (`tools`). Every action passes
//! the safety policy and lands in the audit log (`act`); success is read off
//! the compositor's state (`verify`), never taken from the model. Steps are
//! stored in memory and published on the `tasks` topic as they finish.

mod act;
mod config;
mod intent;
mod observe;
mod prompt;
mod run;
mod tools;
mod verify;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;

pub use config::PlannerConfig;
pub use digios_api::{PendingConfirmation, TaskView};
pub use intent::{Intent, WindowOp, WindowRef, parse_goal, parse_prefix};
pub use observe::{Observation, WindowSummary};
pub use prompt::{system_prompt, system_prompt_with_skills};
pub use tools::{SKILL, ToolCall, tool_schema, tool_schema_with_skills};

use crate::actions::ActionsConfig;
use crate::desktop::Desktop;
use crate::events::{EventBus, Topic};
use crate::llm::ModelSlot;
use crate::memory::{Memory, MemoryError, TaskState};
use crate::policy::{KillSwitch, Policy};

/// Why a task request was refused.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("{0}")]
    Memory(#[from] MemoryError),
    #[error(
        "no language model is loaded ({0}); this goal needs one. Pull the default model with \
         `digios model pull smollm2-135m-instruct` and restart the agent"
    )]
    NoModel(String),
    #[error(transparent)]
    KillSwitch(#[from] crate::policy::KillSwitchEngaged),
    #[error("task {id} already finished as {state}")]
    Finished { id: i64, state: TaskState },
    #[error("task {0} is not waiting for a confirmation")]
    NothingPending(i64),
    #[error("task {0} is not running in this agent")]
    NotRunning(i64),
}

/// How the agent plans: its model, its safety policy and its limits.
pub struct PlannerSetup {
    pub model: ModelSlot,
    pub policy: Policy,
    pub config: PlannerConfig,
}

impl Default for PlannerSetup {
    /// No model, the built-in policy, default limits.
    fn default() -> Self {
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        let policy = Policy::new(&crate::policy::PolicyConfig::default(), home.as_deref())
            .expect("the built-in policy rules compile");
        Self {
            model: ModelSlot::default(),
            policy,
            config: PlannerConfig::default(),
        }
    }
}

/// What the planner needs from the rest of the agent.
pub struct PlannerParts {
    pub config: PlannerConfig,
    pub memory: Memory,
    pub desktop: Desktop,
    pub actions: ActionsConfig,
    pub events: Arc<EventBus>,
    pub policy: Arc<Policy>,
    pub kill_switch: KillSwitch,
    pub model: ModelSlot,
    /// Reads the screen into numbered marks once a client has asked for them.
    pub vision: crate::vision::Vision,
}

impl PlannerParts {
    fn tools(&self) -> crate::gate::Tools {
        crate::gate::Tools {
            desktop: self.desktop.clone(),
            actions: self.actions.clone(),
            policy: self.policy.clone(),
            kill_switch: self.kill_switch.clone(),
            memory: self.memory.clone(),
        }
    }
}

/// The planner and its running tasks. Cheap to clone.
#[derive(Clone)]
pub struct Planner {
    inner: Arc<Inner>,
}

struct Inner {
    parts: PlannerParts,
    /// Every action a task takes passes here.
    gate: crate::gate::Gate,
    running: Mutex<HashMap<i64, Arc<TaskControl>>>,
    /// Skills the model may call as tools, once the agent has a library.
    skills: std::sync::OnceLock<crate::skills::Skills>,
    /// Tasks act on one desktop, so they take turns: a task stays `pending`
    /// until the one before it finishes.
    turn: tokio::sync::Mutex<()>,
}

/// How the API reaches a running task.
struct TaskControl {
    cancel: CancellationToken,
    pending: Mutex<Option<(PendingConfirmation, oneshot::Sender<bool>)>>,
    finished: Notify,
}

impl Planner {
    /// A planner acting on the user's desktop.
    pub fn new(parts: PlannerParts) -> Self {
        let gate = crate::gate::Gate::live(parts.tools());
        Self::behind(parts, gate)
    }

    /// A planner acting on an evaluation sandbox.
    pub fn sandboxed(parts: PlannerParts) -> Self {
        let gate = crate::gate::Gate::eval(parts.tools());
        Self::behind(parts, gate)
    }

    fn behind(parts: PlannerParts, gate: crate::gate::Gate) -> Self {
        Self {
            inner: Arc::new(Inner {
                parts,
                gate,
                running: Mutex::new(HashMap::new()),
                skills: std::sync::OnceLock::new(),
                turn: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Offers `skills`' active skills to the model as tools (`skill` calls).
    /// Set once; later calls are ignored.
    pub fn use_skills(&self, skills: crate::skills::Skills) {
        let _ = self.inner.skills.set(skills);
    }

    pub fn skills(&self) -> Option<&crate::skills::Skills> {
        self.inner.skills.get()
    }

    pub fn config(&self) -> &PlannerConfig {
        &self.inner.parts.config
    }

    pub fn memory(&self) -> &Memory {
        &self.inner.parts.memory
    }

    pub fn model(&self) -> &ModelSlot {
        &self.inner.parts.model
    }

    pub fn kill_switch(&self) -> &KillSwitch {
        &self.inner.parts.kill_switch
    }

    /// Records `goal` as a new task and starts working on it in the
    /// background. Refused while the kill switch is engaged, and when the goal
    /// needs the model but none is loaded.
    pub async fn submit(
        &self,
        goal: &str,
        conversation_id: Option<i64>,
    ) -> Result<TaskView, TaskError> {
        let parts = &self.inner.parts;
        parts.kill_switch.check_task()?;
        if let Err(reason) = parts.model.get() {
            let windows = parts.desktop.windows().await.unwrap_or_default();
            if !parts.config.fast_paths || parse_goal(goal, &parts.actions, &windows).is_none() {
                return Err(TaskError::NoModel(reason));
            }
        }
        let task = parts.memory.create_task(goal, conversation_id).await?;
        let control = Arc::new(TaskControl {
            cancel: CancellationToken::new(),
            pending: Mutex::new(None),
            finished: Notify::new(),
        });
        self.lock_running().insert(task.id, control.clone());
        let view = TaskView {
            task: task.clone(),
            steps: Some(Vec::new()),
            pending_confirmation: None,
        };
        self.publish(
            "task_created",
            serde_json::to_value(&view).unwrap_or_default(),
        );
        let planner = self.clone();
        tokio::spawn(async move {
            let id = task.id;
            run::run_task(planner.clone(), task, control.clone()).await;
            planner.lock_running().remove(&id);
            control.finished.notify_waiters();
        });
        Ok(view)
    }

    /// The task with its steps and any pending confirmation.
    pub async fn view(&self, id: i64) -> Result<TaskView, TaskError> {
        let memory = &self.inner.parts.memory;
        let task = memory.get_task(id).await?;
        let steps = memory.list_steps(id).await?;
        Ok(TaskView {
            pending_confirmation: self.pending(id),
            task,
            steps: Some(steps),
        })
    }

    /// The newest tasks first, without steps.
    pub async fn list(&self, limit: u32) -> Result<Vec<TaskView>, TaskError> {
        let tasks = self.inner.parts.memory.list_tasks(limit).await?;
        Ok(tasks
            .into_iter()
            .map(|task| TaskView {
                pending_confirmation: self.pending(task.id),
                task,
                steps: None,
            })
            .collect())
    }

    /// Stops a task; returns it once it has stopped (or after a few seconds).
    pub async fn cancel(&self, id: i64) -> Result<TaskView, TaskError> {
        let task = self.inner.parts.memory.get_task(id).await?;
        if task.state.is_finished() {
            return Err(TaskError::Finished {
                id,
                state: task.state,
            });
        }
        let Some(control) = self.control(id) else {
            return Err(TaskError::NotRunning(id));
        };
        let finished = control.finished.notified();
        control.cancel.cancel();
        if self.control(id).is_some() {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), finished).await;
        }
        self.view(id).await
    }

    /// Answers the task's pending confirmation.
    pub async fn confirm(&self, id: i64, approve: bool) -> Result<TaskView, TaskError> {
        self.inner.parts.memory.get_task(id).await?;
        let answer = self.control(id).and_then(|control| {
            control
                .pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
        });
        let Some((_, reply)) = answer else {
            return Err(TaskError::NothingPending(id));
        };
        let _ = reply.send(approve);
        // Let the task record the answer before showing it.
        for _ in 0..50 {
            let task = self.inner.parts.memory.get_task(id).await?;
            if task.state != TaskState::AwaitingConfirmation {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.view(id).await
    }

    /// Engages the kill switch: every running task stops and input
    /// injection is refused until [`Planner::release_kill_switch`].
    pub fn engage_kill_switch(&self) -> bool {
        self.inner.parts.kill_switch.engage()
    }

    pub fn release_kill_switch(&self) -> bool {
        self.inner.parts.kill_switch.release()
    }

    /// Waits until the task has finished (for callers that just submitted it).
    pub async fn wait(&self, id: i64) -> Result<TaskView, TaskError> {
        if let Some(control) = self.control(id) {
            let finished = control.finished.notified();
            if self.control(id).is_some() {
                finished.await;
            }
        }
        self.view(id).await
    }

    fn pending(&self, id: i64) -> Option<PendingConfirmation> {
        let control = self.control(id)?;
        let pending = control.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.as_ref().map(|(p, _)| p.clone())
    }

    fn control(&self, id: i64) -> Option<Arc<TaskControl>> {
        self.lock_running().get(&id).cloned()
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Arc<TaskControl>>> {
        self.inner.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn publish(&self, kind: &str, data: Value) {
        self.inner.parts.events.publish(Topic::Tasks, kind, data);
    }
}
