//! The improvement cycle: pick a failing (or slow) task of the evaluator's
//! suite → show the model the failure trace and the skill API → take a skill
//! (manifest and code, held to a JSON schema) → compile it, feeding errors
//! back a bounded number of times → run its tests and then the whole suite
//! in the sandbox → install it only if the suite improves with no
//! regression, else reject it. Every stage is recorded (prompts, replies,
//! code, compile errors, test report, scores before and after, model,
//! decision) and published on the `improve` topic.
//!
//! The cycle reads the suite only through [`Evaluator`]: the tasks and their
//! checks are compiled in and out of its reach.

mod author;
mod judge;
mod store;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

pub use author::{compact_reference, parse_reply, reply_schema};
pub use judge::{Judgement, judge};
pub use store::{get, list};

use crate::eval::{Contestant, EvalRun, EvalTask, Evaluator, RunState};
use crate::events::{EventBus, Topic};
use crate::llm::{
    CancellationToken, ChatMessage, ChatRequest, Constraint, GenerationOptions, ModelSlot,
};
use crate::memory::{Memory, MemoryError};
use crate::skills::{SkillDraft, SkillVersion, Skills};

/// The `[improve]` section of `digios.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ImproveConfig {
    /// Run cycles on their own while the desktop is idle.
    pub schedule: bool,
    /// Minutes without a task before the desktop counts as idle.
    pub idle_minutes: u64,
    /// Most cycles started in any 24 hours (scheduled and on demand).
    pub max_cycles_per_day: u32,
    /// Compile errors fed back to the model before the cycle gives up.
    pub repairs: u32,
    /// Upper bound on tokens per generated skill.
    pub max_tokens: u32,
    /// A suite run this recent, of the same model and skills, serves as the baseline.
    pub baseline_max_age_minutes: u64,
    /// The planner's step budget inside the suite.
    pub eval_max_steps: u32,
    /// Longest one suite task may run.
    pub eval_task_timeout_secs: u64,
    /// The suite tasks a cycle runs, by name (all when empty): a subset
    /// bounds each cycle's compute.
    pub tasks: Vec<String>,
}

impl Default for ImproveConfig {
    fn default() -> Self {
        Self {
            schedule: false,
            idle_minutes: 30,
            max_cycles_per_day: 4,
            repairs: 2,
            max_tokens: 1600,
            baseline_max_age_minutes: 60,
            eval_max_steps: 6,
            eval_task_timeout_secs: 120,
            tasks: Vec::new(),
        }
    }
}

impl ImproveConfig {
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.max_tokens < 64 {
            return Err(("max_tokens", "must be at least 64".into()));
        }
        if self.eval_max_steps == 0 {
            return Err(("eval_max_steps", "must be at least 1".into()));
        }
        if self.eval_task_timeout_secs == 0 {
            return Err(("eval_task_timeout_secs", "must be at least 1".into()));
        }
        if let Err(err) = Evaluator::select(&self.tasks) {
            return Err(("tasks", err.to_string()));
        }
        if self.idle_minutes == 0 {
            return Err(("idle_minutes", "must be at least 1".into()));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CycleState {
    Running,
    /// The skill was installed.
    Integrated,
    /// The skill did not compile, failed its tests, or did not improve the suite.
    Rejected,
    /// The cycle itself broke (no model, the sandbox would not start).
    Failed,
    /// Stopped before it decided: by the user, or stepping aside for them.
    Cancelled,
}

impl CycleState {
    pub fn as_str(self) -> &'static str {
        match self {
            CycleState::Running => "running",
            CycleState::Integrated => "integrated",
            CycleState::Rejected => "rejected",
            CycleState::Failed => "failed",
            CycleState::Cancelled => "cancelled",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "running" => CycleState::Running,
            "integrated" => CycleState::Integrated,
            "rejected" => CycleState::Rejected,
            "cancelled" => CycleState::Cancelled,
            _ => CycleState::Failed,
        }
    }
}

/// One generation attempt: what was asked, what came back, what was wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Attempt {
    /// The messages this attempt added to the conversation (the first
    /// attempt: system and user; a repair: the error fed back).
    #[schema(value_type = Vec<Object>)]
    pub prompt: Vec<ChatMessage>,
    pub reply: String,
    /// The skill the reply made, if it parsed.
    #[schema(value_type = Option<Object>)]
    pub draft: Option<SkillDraft>,
    /// Why the reply was not usable: a parse or compile error.
    pub error: Option<String>,
    pub duration_ms: u64,
}

/// One improvement cycle, as stored and served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Cycle {
    pub id: i64,
    pub started_at_ms: i64,
    pub finished_at_ms: Option<i64>,
    pub state: CycleState,
    /// `api`, `cli` or `schedule`.
    pub trigger: String,
    pub model: String,
    /// The suite tasks the cycle set out to fix.
    pub targets: Vec<String>,
    pub skill_name: Option<String>,
    /// The installed version, when integrated.
    pub skill_version: Option<i64>,
    pub baseline_run_id: Option<i64>,
    pub candidate_run_id: Option<i64>,
    pub score_before: Option<f64>,
    pub score_after: Option<f64>,
    /// Why it ended the way it did.
    pub reason: Option<String>,
    pub attempts: Vec<Attempt>,
    /// The skill's own tests, run in the sandbox.
    #[schema(value_type = Option<Object>)]
    pub test_report: Option<serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImproveError {
    #[error("an improvement cycle is already running")]
    Busy,
    #[error("at most {0} cycles may start in 24 hours ([improve] max_cycles_per_day)")]
    DailyLimit(u32),
    #[error(transparent)]
    Memory(#[from] MemoryError),
}

/// What the cycle needs from the agent.
pub struct ImproveParts {
    pub evaluator: Evaluator,
    /// The live skill library candidates are installed into.
    pub skills: Skills,
    /// The model that writes skills and plans in the suite.
    pub model: ModelSlot,
    pub memory: Memory,
    pub events: Arc<EventBus>,
    pub config: ImproveConfig,
}

/// Runs cycles, one at a time. Cheap to clone.
#[derive(Clone)]
pub struct Improver {
    inner: Arc<Inner>,
}

struct Inner {
    parts: ImproveParts,
    busy: Arc<tokio::sync::Mutex<()>>,
    /// The running cycle's id and what stops it, with why.
    current: std::sync::Mutex<Option<(i64, CancellationToken, Option<String>)>>,
}

impl Improver {
    pub fn new(parts: ImproveParts) -> Self {
        Self {
            inner: Arc::new(Inner {
                parts,
                busy: Arc::new(tokio::sync::Mutex::new(())),
                current: std::sync::Mutex::new(None),
            }),
        }
    }

    pub fn evaluator(&self) -> &Evaluator {
        &self.inner.parts.evaluator
    }

    pub fn skills(&self) -> &Skills {
        &self.inner.parts.skills
    }

    pub fn config(&self) -> &ImproveConfig {
        &self.inner.parts.config
    }

    /// What the suite would run with right now: the model and the active skills.
    pub async fn contestant(&self) -> Contestant {
        let versions = self
            .inner
            .parts
            .skills
            .active_versions()
            .await
            .unwrap_or_default();
        contestant(self.inner.parts.model.clone(), &versions)
    }

    /// Records a cycle and runs it in the background; returns it `running`.
    pub async fn start(&self, trigger: &str) -> Result<Cycle, ImproveError> {
        let (guard, cycle, stop) = self.begin(trigger).await?;
        let improver = self.clone();
        let started = cycle.clone();
        tokio::spawn(async move {
            let _guard = guard;
            improver
                .execute_unless(started, stop, std::future::pending())
                .await;
        });
        Ok(cycle)
    }

    /// Runs one cycle to its end (or until [`Improver::cancel`]).
    pub async fn run(&self, trigger: &str) -> Result<Cycle, ImproveError> {
        self.run_unless(trigger, std::future::pending()).await
    }

    /// As [`Improver::run`], but the cycle steps aside when `stop` resolves
    /// (with why): it ends `cancelled`, its sandboxes are torn down and its
    /// unfinished suite runs are closed as failed.
    pub async fn run_unless(
        &self,
        trigger: &str,
        stop: impl std::future::Future<Output = String>,
    ) -> Result<Cycle, ImproveError> {
        let (_guard, cycle, token) = self.begin(trigger).await?;
        Ok(self.execute_unless(cycle, token, stop).await)
    }

    /// Stops the running cycle, if it is `id` (any, for `None`); whether one was.
    pub fn cancel(&self, id: Option<i64>, why: &str) -> bool {
        let mut current = self.inner.current.lock().unwrap_or_else(|e| e.into_inner());
        match current.as_mut() {
            Some((running, token, reason)) if id.is_none_or(|id| id == *running) => {
                reason.get_or_insert_with(|| why.to_string());
                token.cancel();
                true
            }
            _ => false,
        }
    }

    /// The running cycle's id.
    pub fn running(&self) -> Option<i64> {
        let current = self.inner.current.lock().unwrap_or_else(|e| e.into_inner());
        current.as_ref().map(|(id, _, _)| *id)
    }

    /// Runs `cycle` until it ends, `stop` resolves or `token` (from
    /// [`Improver::cancel`]) is cancelled.
    async fn execute_unless(
        &self,
        cycle: Cycle,
        token: CancellationToken,
        stop: impl std::future::Future<Output = String>,
    ) -> Cycle {
        let began = cycle.clone();
        let finished = tokio::select! {
            done = self.execute(cycle) => Ok(done),
            why = stop => Err(Some(why)),
            _ = token.cancelled() => Err(None),
        };
        let cancelled_for = self
            .inner
            .current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .and_then(|(_, _, why)| why);
        match finished {
            Ok(done) => done,
            // Dropping the cycle's future has killed its sandboxes.
            Err(why) => {
                let why = why.or(cancelled_for).unwrap_or_else(|| "cancelled".into());
                self.stepped_aside(began, &why).await
            }
        }
    }

    /// Records a stopped cycle (`started` as it began, should its latest
    /// record be unreadable) and closes the suite runs it left open.
    async fn stepped_aside(&self, started: Cycle, why: &str) -> Cycle {
        let (id, started_at_ms) = (started.id, started.started_at_ms);
        let memory = &self.inner.parts.memory;
        let note = format!("the improvement cycle was stopped: {why}");
        if let Err(err) = crate::eval::stop_cycle_runs(memory, started_at_ms, &note).await {
            tracing::warn!("closing the suite runs of cycle {id}: {err}");
        }
        let mut cycle = match store::get(memory, id).await {
            Ok(Some(cycle)) => cycle,
            other => {
                tracing::warn!("reading stopped cycle {id}: {other:?}");
                started
            }
        };
        self.close(&mut cycle, CycleState::Cancelled, format!("stopped: {why}"))
            .await;
        cycle
    }

    /// Records how a cycle ended and announces it.
    async fn close(&self, cycle: &mut Cycle, state: CycleState, reason: String) {
        cycle.state = state;
        cycle.reason = Some(reason);
        cycle.finished_at_ms = Some(crate::memory::now_ms());
        let took = (cycle.finished_at_ms.unwrap_or_default() - cycle.started_at_ms) as f64 / 1000.0;
        tracing::info!(
            "improvement cycle {} {} in {took:.1} s: {}",
            cycle.id,
            cycle.state.as_str(),
            cycle.reason.as_deref().unwrap_or("")
        );
        self.save(cycle, "finished").await;
        self.publish("cycle_finished", json!(cycle));
    }

    /// Takes the one-cycle-at-a-time lock, checks the daily bound and records
    /// the cycle; the cycle runs while the returned guard lives, and stops
    /// when the token (which [`Improver::cancel`] reaches) is cancelled.
    async fn begin(
        &self,
        trigger: &str,
    ) -> Result<(tokio::sync::OwnedMutexGuard<()>, Cycle, CancellationToken), ImproveError> {
        let guard = self
            .inner
            .busy
            .clone()
            .try_lock_owned()
            .map_err(|_| ImproveError::Busy)?;
        self.check_daily_limit().await?;
        let cycle = self.record_start(trigger).await?;
        // Stoppable from the moment it is known.
        let token = CancellationToken::new();
        *self.inner.current.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((cycle.id, token.clone(), None));
        Ok((guard, cycle, token))
    }

    async fn check_daily_limit(&self) -> Result<(), ImproveError> {
        let max = self.inner.parts.config.max_cycles_per_day;
        let day_ago = crate::memory::now_ms() - 24 * 3600 * 1000;
        if store::count_since(&self.inner.parts.memory, day_ago).await? >= i64::from(max) {
            return Err(ImproveError::DailyLimit(max));
        }
        Ok(())
    }

    async fn record_start(&self, trigger: &str) -> Result<Cycle, ImproveError> {
        let model = self
            .inner
            .parts
            .model
            .get()
            .map(|m| m.describe().id)
            .unwrap_or_else(|_| "none".into());
        let cycle = store::start(&self.inner.parts.memory, trigger, &model).await?;
        self.publish("cycle_started", json!(cycle));
        Ok(cycle)
    }

    fn publish(&self, kind: &str, data: serde_json::Value) {
        self.inner.parts.events.publish(Topic::Improve, kind, data);
    }

    async fn save(&self, cycle: &Cycle, stage: &str) {
        if let Err(err) = store::save(&self.inner.parts.memory, cycle).await {
            tracing::warn!("cannot record improvement cycle {}: {err}", cycle.id);
        }
        self.publish(
            "cycle_stage",
            json!({"id": cycle.id, "stage": stage, "cycle": cycle}),
        );
    }

    async fn execute(&self, mut cycle: Cycle) -> Cycle {
        let (state, reason) = match self.stages(&mut cycle).await {
            Ok(outcome) => outcome,
            Err(reason) => (CycleState::Failed, reason),
        };
        self.close(&mut cycle, state, reason).await;
        cycle
    }

    /// The cycle's stages; `Ok` with the decision, `Err` when the cycle broke.
    async fn stages(&self, cycle: &mut Cycle) -> Result<(CycleState, String), String> {
        let parts = &self.inner.parts;
        let model = parts
            .model
            .get()
            .map_err(|reason| format!("no language model is loaded: {reason}"))?;
        let model_id = model.describe().id;
        let versions = parts
            .skills
            .active_versions()
            .await
            .map_err(|err| format!("the skill library: {err}"))?;
        let current = contestant(parts.model.clone(), &versions);
        let suite = Evaluator::select(&parts.config.tasks).map_err(|err| err.to_string())?;

        let baseline = self.baseline(&current, &suite).await?;
        cycle.baseline_run_id = Some(baseline.id);
        cycle.score_before = Some(baseline.score());
        let Some((task, result)) = pick_target(&suite, &baseline, &self.recent_targets().await)
        else {
            return Ok((
                CycleState::Rejected,
                "the suite has no task to work on".into(),
            ));
        };
        cycle.targets = vec![task.name.clone()];
        self.save(cycle, "baseline").await;

        let installed: Vec<String> = versions
            .iter()
            .map(|v| format!("{} ({})", v.name, v.description))
            .collect();
        let mut messages = author::prompt(&compact_reference(), &task, &result, &installed);
        let mut fresh = messages.clone();
        let mut compiled = None;
        for attempt in 0..=parts.config.repairs {
            let began = Instant::now();
            let request = ChatRequest::new(messages.clone()).with_options(GenerationOptions {
                max_tokens: parts.config.max_tokens,
                constraint: Some(Constraint::JsonSchema(reply_schema())),
                ..GenerationOptions::default()
            });
            let reply = match model
                .complete(request, CancellationToken::new())
                .collect()
                .await
            {
                Ok(outcome) => outcome.text,
                Err(err) => {
                    cycle.attempts.push(Attempt {
                        prompt: std::mem::take(&mut fresh),
                        reply: String::new(),
                        draft: None,
                        error: Some(format!("the model failed: {err}")),
                        duration_ms: began.elapsed().as_millis() as u64,
                    });
                    self.save(cycle, "generate").await;
                    return Err(format!("the model failed: {err}"));
                }
            };
            let mut record = Attempt {
                prompt: std::mem::take(&mut fresh),
                reply: reply.clone(),
                draft: None,
                error: None,
                duration_ms: 0,
            };
            let problem = match parse_reply(&reply, &model_id, None) {
                Err(err) => Some(err),
                Ok(mut draft) => {
                    draft.parent_version = versions
                        .iter()
                        .find(|v| v.name == draft.name)
                        .map(|v| v.version);
                    record.draft = Some(draft.clone());
                    cycle.skill_name = Some(draft.name.clone());
                    match parts.skills.compile(&draft).await {
                        Ok(()) => {
                            compiled = Some(draft);
                            None
                        }
                        Err(err) => Some(err.to_string()),
                    }
                }
            };
            record.error = problem.clone();
            record.duration_ms = began.elapsed().as_millis() as u64;
            cycle.attempts.push(record);
            self.save(cycle, "generate").await;
            let Some(problem) = problem else { break };
            if attempt < parts.config.repairs {
                let repair = ChatMessage::user(format!(
                    "That skill cannot be used: {problem}. Reply with the corrected JSON object."
                ));
                messages.push(ChatMessage::assistant(reply));
                messages.push(repair.clone());
                fresh = vec![repair];
            }
        }
        let Some(draft) = compiled else {
            let last = cycle
                .attempts
                .last()
                .and_then(|a| a.error.clone())
                .unwrap_or_default();
            return Ok((
                CycleState::Rejected,
                format!(
                    "no usable skill after {} attempt(s); the last: {last}",
                    cycle.attempts.len()
                ),
            ));
        };

        let report = parts.evaluator.test_skill(&draft).await?;
        cycle.test_report = serde_json::to_value(&report).ok();
        self.save(cycle, "tests").await;
        if !report.passed {
            return Ok((
                CycleState::Rejected,
                format!("its own tests fail in the sandbox: {}", report.summary()),
            ));
        }

        let candidate = with_candidate(&current, &versions, &draft);
        let after = parts
            .evaluator
            .run("candidate", &candidate, &suite)
            .await
            .map_err(|err| format!("the candidate's suite run: {err}"))?;
        cycle.candidate_run_id = Some(after.id);
        cycle.score_after = Some(after.score());
        self.save(cycle, "candidate").await;

        let judgement = judge(&baseline, &after);
        if !judgement.integrate {
            return Ok((CycleState::Rejected, judgement.reason));
        }
        match parts.skills.install(draft).await {
            Ok(version) => {
                cycle.skill_version = Some(version.version);
                Ok((
                    CycleState::Integrated,
                    format!(
                        "installed {} version {}: {}",
                        version.name, version.version, judgement.reason
                    ),
                ))
            }
            Err(err) => Ok((
                CycleState::Rejected,
                format!("the suite improved but installing it failed: {err}"),
            )),
        }
    }

    /// A recent finished full run of exactly this model and these skills, or a new one.
    async fn baseline(&self, current: &Contestant, suite: &[EvalTask]) -> Result<EvalRun, String> {
        let parts = &self.inner.parts;
        let max_age = parts.config.baseline_max_age_minutes as i64 * 60_000;
        let now = crate::memory::now_ms();
        let recent = crate::eval::list_runs(&parts.memory, 10)
            .await
            .map_err(|err| err.to_string())?;
        let reusable = recent.into_iter().find(|run| {
            run.state == RunState::Finished
                && run.model == current.model_name()
                && run.skills_version == current.skills_version
                && run.tasks.len() == suite.len()
                && run.finished_at_ms.is_some_and(|t| now - t <= max_age)
        });
        if let Some(run) = reusable {
            return Ok(run);
        }
        parts
            .evaluator
            .run("baseline", current, suite)
            .await
            .map_err(|err| format!("the baseline suite run: {err}"))
    }

    /// How often each task was a target in the latest cycles, so failures take turns.
    async fn recent_targets(&self) -> Vec<String> {
        store::list(&self.inner.parts.memory, 20)
            .await
            .unwrap_or_default()
            .into_iter()
            .flat_map(|c| c.targets)
            .collect()
    }

    /// Starts cycles while the desktop is idle (no task and no input on
    /// `desktop` for `idle_minutes`), at most one per idle period and within
    /// the daily bound, for the life of the process. Off unless
    /// `[improve] schedule = true`.
    pub fn spawn_schedule(&self, memory: Memory, desktop: crate::desktop::Desktop) {
        if !self.inner.parts.config.schedule {
            return;
        }
        let improver = self.clone();
        tokio::spawn(async move {
            let idle = Duration::from_secs(improver.inner.parts.config.idle_minutes * 60);
            let mut last_cycle = None::<Instant>;
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                let tasks_quiet = last_task_change(&memory).await.map(|at_ms| {
                    Duration::from_millis((crate::memory::now_ms() - at_ms).max(0) as u64)
                });
                let quiet = Quiet {
                    tasks: tasks_quiet,
                    input: desktop.input_idle().await.ok(),
                    since_cycle: last_cycle.map(|at: Instant| at.elapsed()),
                };
                if !quiet.long_enough(idle) {
                    continue;
                }
                last_cycle = Some(Instant::now());
                let stop = step_aside_when_used(memory.clone(), desktop.clone());
                match improver.run_unless("schedule", stop).await {
                    Ok(cycle) => tracing::info!("scheduled cycle {}: {:?}", cycle.id, cycle.state),
                    Err(ImproveError::Busy) | Err(ImproveError::DailyLimit(_)) => {}
                    Err(err) => tracing::warn!("scheduled improvement cycle: {err}"),
                }
            }
        });
    }
}

/// When the newest task last changed (ms since the epoch), if there is one.
async fn last_task_change(memory: &Memory) -> Option<i64> {
    let newest = memory.list_tasks(1).await.ok()?;
    newest.first().map(|task| task.updated_at_ms)
}

/// Resolves, with why, once someone uses the desktop after this call: a
/// task changes or input arrives. A scheduled cycle then steps aside.
async fn step_aside_when_used(memory: Memory, desktop: crate::desktop::Desktop) -> String {
    let since = Instant::now();
    let since_ms = crate::memory::now_ms();
    loop {
        tokio::time::sleep(Duration::from_secs(5)).await;
        if last_task_change(&memory)
            .await
            .is_some_and(|at_ms| at_ms > since_ms)
        {
            return "a task was given".into();
        }
        if desktop
            .input_idle()
            .await
            .is_ok_and(|idle| idle < since.elapsed())
        {
            return "someone is using the desktop".into();
        }
    }
}

/// How long the desktop has been left alone, each `None` when never (or
/// unknown: a compositor that does not answer does not hold cycles back).
#[derive(Debug, Clone, Copy, Default)]
struct Quiet {
    /// Since a task last changed.
    tasks: Option<Duration>,
    /// Since input last reached the desktop.
    input: Option<Duration>,
    /// Since the schedule last started a cycle.
    since_cycle: Option<Duration>,
}

impl Quiet {
    /// Whether everything has been quiet for `idle`.
    fn long_enough(&self, idle: Duration) -> bool {
        [self.tasks, self.input, self.since_cycle]
            .into_iter()
            .all(|quiet| quiet.is_none_or(|quiet| quiet >= idle))
    }
}

/// The suite contestant for a model and a set of active skill versions.
pub fn contestant(model: ModelSlot, versions: &[SkillVersion]) -> Contestant {
    let drafts: Vec<SkillDraft> = versions.iter().map(draft_of).collect();
    Contestant::new(model, drafts, skills_version(versions))
}

fn skills_version(versions: &[SkillVersion]) -> String {
    if versions.is_empty() {
        return "none".into();
    }
    let mut names: Vec<String> = versions
        .iter()
        .map(|v| format!("{}@{}", v.name, v.version))
        .collect();
    names.sort();
    names.join(",")
}

fn draft_of(version: &SkillVersion) -> SkillDraft {
    SkillDraft {
        name: version.name.clone(),
        description: version.description.clone(),
        params: version.params.clone(),
        code: version.code.clone(),
        author_model: version.author_model.clone(),
        parent_version: version.parent_version,
        tests: version.tests.clone(),
    }
}

/// The current skills with `draft` added, or replacing its namesake.
fn with_candidate(
    current: &Contestant,
    versions: &[SkillVersion],
    draft: &SkillDraft,
) -> Contestant {
    let mut drafts: Vec<SkillDraft> = current
        .skills
        .iter()
        .filter(|d| d.name != draft.name)
        .cloned()
        .collect();
    drafts.push(draft.clone());
    let mut label: Vec<String> = versions
        .iter()
        .filter(|v| v.name != draft.name)
        .map(|v| format!("{}@{}", v.name, v.version))
        .collect();
    label.push(format!("{}@candidate", draft.name));
    label.sort();
    Contestant::new(current.model.clone(), drafts, label.join(","))
}

/// The failing task targeted least often lately; with none failing, the slowest.
fn pick_target(
    suite: &[EvalTask],
    baseline: &EvalRun,
    recent: &[String],
) -> Option<(EvalTask, crate::eval::TaskResult)> {
    let times = |name: &str| recent.iter().filter(|t| t.as_str() == name).count();
    let failing = baseline
        .tasks
        .iter()
        .filter(|t| !t.success)
        .min_by_key(|t| times(&t.task));
    let chosen = failing.or_else(|| baseline.tasks.iter().max_by_key(|t| t.duration_ms))?;
    let task = suite.iter().find(|t| t.name == chosen.task)?;
    Some((task.clone(), chosen.clone()))
}

/// Marks suite runs and cycles the last agent left unfinished as failed.
pub async fn recover(memory: &Memory) -> Result<(), MemoryError> {
    let runs = crate::eval::mark_interrupted(memory).await?;
    let cycles = store::mark_interrupted(memory).await?;
    if runs + cycles > 0 {
        tracing::warn!(
            "{runs} suite run(s) and {cycles} improvement cycle(s) were cut short by a stop"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Quiet;
    use std::time::Duration;

    #[test]
    fn a_cycle_waits_until_tasks_input_and_the_last_cycle_are_all_long_past() {
        let idle = Duration::from_secs(30 * 60);
        let long = Some(Duration::from_secs(31 * 60));
        let short = Some(Duration::from_secs(5 * 60));
        // A fresh desktop: no task yet, no input, no cycle.
        assert!(Quiet::default().long_enough(idle));
        assert!(
            Quiet {
                tasks: long,
                input: long,
                since_cycle: long
            }
            .long_enough(idle)
        );
        // Someone typing in a terminal without the agent is not idle.
        assert!(
            !Quiet {
                tasks: long,
                input: short,
                since_cycle: None
            }
            .long_enough(idle)
        );
        assert!(
            !Quiet {
                tasks: short,
                input: long,
                since_cycle: None
            }
            .long_enough(idle)
        );
        // One cycle per idle period.
        assert!(
            !Quiet {
                tasks: long,
                input: long,
                since_cycle: short
            }
            .long_enough(idle)
        );
        // A compositor that does not answer does not hold cycles back.
        assert!(
            Quiet {
                tasks: long,
                input: None,
                since_cycle: None
            }
            .long_enough(idle)
        );
    }
}
