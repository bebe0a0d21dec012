//! One task's life: wait for its turn, run a fast-path plan or the model
//! loop, and end in exactly one finished state, whatever stops it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::act::{self, ActResult};
use super::intent::{Intent, WindowOp, WindowRef, WriteMode, parse_prefix};
use super::observe::{self, Observation};
use super::tools::{self, ToolCall};
use super::{PendingConfirmation, Planner, PlannerParts, TaskControl, TaskView, prompt};
use crate::actions::{
    self, Action, ActionOutcome, ActionRequest, CopyFileParams, DeleteFileParams, IfExists,
    KeyParams, LaunchParams, MoveFileParams, TextParams, ToggleWindowParams, WindowParams,
    WriteFileParams,
};
use crate::events::Topic;
use crate::llm::{
    ChatMessage, ChatRequest, CompletionEvent, Constraint, GenerationOptions, LanguageModel,
    LlmError,
};
use crate::memory::{NewStep, StepOutcome, Task, TaskState};
use crate::skills::{CallOptions, SkillError};

/// How a task ends.
#[derive(Debug, Clone, PartialEq)]
enum End {
    Succeeded(String),
    Failed(String),
    Cancelled(String),
    Stopped(String),
}

/// A running task's handle on the planner, its clock and its audit trail.
pub struct TaskCtx {
    planner: Planner,
    pub task_id: i64,
    goal: String,
    control: Arc<TaskControl>,
    started: Instant,
    /// Time spent waiting for the user, which the task's clock does not count.
    paused: Mutex<Duration>,
    awaiting_since: Mutex<Option<Instant>>,
    next_index: Mutex<i64>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl TaskCtx {
    pub fn parts(&self) -> &PlannerParts {
        &self.planner.inner.parts
    }

    pub fn gate(&self) -> &crate::gate::Gate {
        &self.planner.inner.gate
    }

    pub fn publish(&self, kind: &str, data: Value) {
        self.parts().events.publish(Topic::Tasks, kind, data);
    }

    pub async fn set_state(&self, state: TaskState) {
        match self
            .parts()
            .memory
            .set_task_state(self.task_id, state, None)
            .await
        {
            Ok(task) => {
                let pending = self.planner.pending(self.task_id);
                self.publish("task_state", task_state_event(&task, pending));
            }
            Err(err) => tracing::warn!(task = self.task_id, "cannot record task state: {err}"),
        }
    }

    pub fn set_pending(
        &self,
        pending: Option<(PendingConfirmation, tokio::sync::oneshot::Sender<bool>)>,
    ) {
        *lock(&self.awaiting_since) = pending.as_ref().map(|_| Instant::now());
        *lock(&self.control.pending) = pending;
    }

    pub fn pause_clock(&self, waited: Duration) {
        *lock(&self.paused) += waited;
    }

    fn deadline(&self) -> Instant {
        let limit = Duration::from_secs(self.parts().config.task_timeout_secs);
        let waiting = lock(&self.awaiting_since)
            .map(|since| since.elapsed())
            .unwrap_or_default();
        self.started + limit + *lock(&self.paused) + waiting
    }

    /// The per-step limit, cut short by the task's own deadline.
    pub fn step_timeout(&self) -> Duration {
        let step = Duration::from_secs(self.parts().config.step_timeout_secs);
        step.min(self.deadline().saturating_duration_since(Instant::now()))
            .max(Duration::from_millis(1))
    }

    /// Resolves when the task has used up its time.
    async fn out_of_time(&self) {
        loop {
            let deadline = self.deadline();
            let now = Instant::now();
            if now < deadline {
                tokio::time::sleep(deadline - now).await;
            } else if lock(&self.awaiting_since).is_some() {
                tokio::time::sleep(Duration::from_millis(500)).await;
            } else {
                return;
            }
        }
    }

    fn take_index(&self) -> i64 {
        let mut next = lock(&self.next_index);
        let index = *next;
        *next += 1;
        index
    }

    /// Audits a tool call that never became an action.
    pub async fn audit_refusal(&self, action: &str, params: &Value, step_index: i64, why: &str) {
        let origin = crate::gate::Origin::Task {
            task_id: self.task_id,
            step: step_index,
        };
        self.gate()
            .audit_unparsed(action, params, origin, why)
            .await;
    }

    /// Stores a step that performed `call` with what came of it; `done` words
    /// a call that ran, since actions and skills report theirs differently.
    async fn record_step(
        &self,
        thought: String,
        call: Value,
        result: &ActResult,
        started: Instant,
        done: impl FnOnce(&ActionOutcome, &super::verify::Verdict) -> (StepOutcome, String),
    ) {
        let (outcome, observation) = match result {
            ActResult::Done { outcome, verdict } => done(outcome, verdict),
            ActResult::Failed(why) => (StepOutcome::Failed, why.clone()),
            ActResult::Denied(why) | ActResult::Declined(why) => (StepOutcome::Denied, why.clone()),
        };
        self.append_step(NewStep {
            thought,
            tool_call: Some(call),
            observation: Some(observation),
            outcome,
            duration_ms: started.elapsed().as_millis() as u64,
        })
        .await;
    }

    async fn append_step(&self, step: NewStep) {
        match self.parts().memory.append_step(self.task_id, &step).await {
            Ok(stored) => self.publish(
                "step_finished",
                serde_json::to_value(&stored).unwrap_or_default(),
            ),
            Err(err) => tracing::warn!(task = self.task_id, "cannot store a step: {err}"),
        }
    }

    async fn observe(&self) -> Observation {
        let parts = self.parts();
        let mut observation = observe::observe(
            &parts.desktop,
            &parts.memory,
            &self.goal,
            self.task_id,
            parts.config.memory_hits,
        )
        .await;
        observe::screen(&parts.vision, &mut observation).await;
        if let Err(err) = parts
            .memory
            .record_observation(Some(self.task_id), "desktop", &observation.describe())
            .await
        {
            tracing::warn!(task = self.task_id, "cannot store an observation: {err}");
        }
        observation
    }
}

fn task_state_event(task: &Task, pending: Option<PendingConfirmation>) -> Value {
    serde_json::to_value(TaskView {
        task: task.clone(),
        steps: None,
        pending_confirmation: pending,
    })
    .unwrap_or_default()
}

pub(super) async fn run_task(planner: Planner, task: Task, control: Arc<TaskControl>) {
    let kill_switch = planner.kill_switch().clone();
    let turn = tokio::select! {
        guard = planner.inner.turn.lock() => Ok(guard),
        _ = control.cancel.cancelled() => Err(End::Cancelled("cancelled before it started".into())),
        _ = kill_switch.engaged() => Err(End::Stopped("stopped by the kill switch before it started".into())),
    };
    // The clock starts with the task's turn, not while it queues.
    let ctx = TaskCtx {
        planner: planner.clone(),
        task_id: task.id,
        goal: task.goal.clone(),
        control: control.clone(),
        started: Instant::now(),
        paused: Mutex::new(Duration::ZERO),
        awaiting_since: Mutex::new(None),
        next_index: Mutex::new(0),
    };
    let end = match turn {
        Err(end) => end,
        Ok(_guard) => {
            ctx.set_state(TaskState::Running).await;
            let end = tokio::select! {
                end = drive(&ctx) => end,
                _ = control.cancel.cancelled() => End::Cancelled("cancelled by the user".into()),
                _ = kill_switch.engaged() => End::Stopped("stopped by the kill switch".into()),
                _ = ctx.out_of_time() => End::Failed(format!(
                    "the task ran out of time after {} s",
                    ctx.parts().config.task_timeout_secs
                )),
            };
            interrupted(&ctx, &end).await;
            end
        }
    };
    finish(&ctx, end).await;
}

/// Closes what a stop cut short: the step. (The gate closes a running
/// action's audit row when its call is dropped.)
async fn interrupted(ctx: &TaskCtx, end: &End) {
    let reason = match end {
        End::Cancelled(reason) | End::Stopped(reason) | End::Failed(reason) => reason,
        End::Succeeded(_) => return,
    };
    ctx.set_pending(None);
    if matches!(end, End::Cancelled(_) | End::Stopped(_)) {
        ctx.append_step(NewStep {
            thought: reason.clone(),
            tool_call: None,
            observation: None,
            outcome: StepOutcome::Cancelled,
            duration_ms: 0,
        })
        .await;
    }
}

async fn finish(ctx: &TaskCtx, end: End) {
    let (state, result) = match end {
        End::Succeeded(summary) => (TaskState::Succeeded, summary),
        End::Failed(reason) => (TaskState::Failed, reason),
        End::Cancelled(reason) => (TaskState::Cancelled, reason),
        End::Stopped(reason) => (TaskState::Stopped, reason),
    };
    let memory = &ctx.parts().memory;
    // A task's end is the one write that must land: a task left "running"
    // would stay so. A busy or failing database gets a few more tries.
    let mut recorded = memory
        .set_task_state(ctx.task_id, state, Some(result.as_str()))
        .await;
    for pause in [100, 500, 2_000] {
        if !matches!(recorded, Err(crate::memory::MemoryError::Database(_))) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(pause)).await;
        recorded = memory
            .set_task_state(ctx.task_id, state, Some(result.as_str()))
            .await;
    }
    match recorded {
        Ok(task) => {
            ctx.publish("task_state", task_state_event(&task, None));
            let steps = memory.list_steps(ctx.task_id).await.unwrap_or_default();
            let view = TaskView {
                task,
                steps: Some(steps),
                pending_confirmation: None,
            };
            ctx.publish(
                "task_finished",
                serde_json::to_value(&view).unwrap_or_default(),
            );
        }
        Err(err) => tracing::warn!(task = ctx.task_id, "cannot record the end of a task: {err}"),
    }
}

/// Runs what the intent parser understands without the model; the model
/// takes whatever is left ("open a terminal and write a poem in it").
async fn drive(ctx: &TaskCtx) -> End {
    let parts = ctx.parts();
    if parts.config.fast_paths {
        let windows = observe::windows(&parts.desktop).await.windows;
        let (intents, rest) = parse_prefix(&ctx.goal, &parts.actions, &windows);
        match rest {
            None => return run_plan(ctx, intents).await,
            Some(rest) if !intents.is_empty() && parts.model.get().is_ok() => {
                return match run_plan(ctx, intents).await {
                    End::Succeeded(done) => run_model(ctx, Some((done, rest))).await,
                    other => other,
                };
            }
            Some(_) => {}
        }
    }
    run_model(ctx, None).await
}

/// One step's action from a tool call: parsed, then as [`perform_action`].
/// A call that does not parse is audited and fails the step.
async fn perform_step(
    ctx: &TaskCtx,
    request: ActionRequest,
    thought: String,
    started: Instant,
) -> ActResult {
    match actions::parse(&request) {
        Ok(action) => perform_parsed(ctx, action, request.params, thought, started).await,
        Err(err) => {
            let index = ctx.take_index();
            let call = json!({"action": request.action_type, "params": request.params});
            let why = err.to_string();
            ctx.audit_refusal(&request.action_type, &request.params, index, &why)
                .await;
            let result = ActResult::Failed(why);
            ctx.record_step(thought, call, &result, started, action_step)
                .await;
            result
        }
    }
}

/// One step's typed action: through the gate, verified, stored and published.
async fn perform_action(
    ctx: &TaskCtx,
    action: Action,
    thought: String,
    started: Instant,
) -> ActResult {
    let params = action.params();
    perform_parsed(ctx, action, params, thought, started).await
}

/// `params` are the action's as its caller gave them, for the audit and
/// the step's record. `started` is when the step began (its observation,
/// for model steps).
async fn perform_parsed(
    ctx: &TaskCtx,
    action: Action,
    params: Value,
    thought: String,
    started: Instant,
) -> ActResult {
    let index = ctx.take_index();
    let call = json!({"action": action.action_type(), "params": params});
    let result = act::act(ctx, action, params, index).await;
    ctx.record_step(thought, call, &result, started, action_step)
        .await;
    result
}

/// How an action that ran is recorded: failed if verification says so.
fn action_step(outcome: &ActionOutcome, verdict: &super::verify::Verdict) -> (StepOutcome, String) {
    let step = if verdict.failed() {
        StepOutcome::Failed
    } else {
        StepOutcome::Ok
    };
    (
        step,
        format!("{}; result {}", verdict.describe(), outcome.result),
    )
}

/// The skills the model may call: the active version of each.
async fn active_skills(ctx: &TaskCtx) -> Vec<crate::skills::SkillVersion> {
    let Some(skills) = ctx.planner.skills() else {
        return Vec::new();
    };
    match skills.active_versions().await {
        Ok(active) => active,
        Err(err) => {
            tracing::warn!(task = ctx.task_id, "cannot read the skills: {err}");
            Vec::new()
        }
    }
}

/// One step that calls a skill: its actions pass the policy and the audit
/// log under this task and step, and a confirm-tier one pauses the task for
/// the user's answer as the planner's own actions do (the wait does not count
/// against the step); the step is stored and published like an action's.
async fn perform_skill_step(
    ctx: &TaskCtx,
    name: String,
    args: Value,
    thought: String,
    started: Instant,
) -> ActResult {
    let index = ctx.take_index();
    let call = json!({"action": tools::SKILL, "params": {"name": name, "args": args}});
    let result = match ctx.planner.skills() {
        None => ActResult::Failed("this agent has no skill library".into()),
        Some(skills) => {
            let (confirm, mut asked) = tokio::sync::mpsc::channel(1);
            let options = CallOptions {
                approve_confirm: false,
                task: Some((ctx.task_id, index)),
                confirm: Some(confirm),
                cancel: Some(ctx.control.cancel.child_token()),
                live: true,
            };
            let limit = ctx.step_timeout();
            let call = skills.call_with(&name, args, options);
            tokio::pin!(call);
            let mut deadline = tokio::time::Instant::now() + limit;
            let finished = loop {
                tokio::select! {
                    finished = &mut call => break Ok(finished),
                    Some(ask) = asked.recv() => {
                        let waited = Instant::now();
                        let answer = super::act::ask(ctx, ask.pending).await;
                        deadline += waited.elapsed();
                        let _ = ask.answer.send(answer);
                    }
                    _ = tokio::time::sleep_until(deadline) => break Err(()),
                }
            };
            match finished {
                // The skill ran to its end without throwing: its own checks
                // (a window it waited for) held. Nothing more to verify here.
                Ok(Ok(done)) => ActResult::Done {
                    verdict: super::verify::Verdict::Confirmed {
                        detail: format!(
                            "skill {} finished; if that reaches the goal, finish",
                            done.name
                        ),
                        window: None,
                    },
                    outcome: ActionOutcome {
                        action_type: tools::SKILL.to_string(),
                        result: json!({
                            "skill": done.name,
                            "version": done.version,
                            "result": done.result,
                            "actions": done.actions,
                        }),
                    },
                },
                Ok(Err(SkillError::Refused {
                    code: "declined",
                    reason,
                    ..
                })) => ActResult::Declined(reason),
                Ok(Err(err @ SkillError::Refused { .. })) => ActResult::Denied(err.to_string()),
                Ok(Err(err)) => ActResult::Failed(err.to_string()),
                Err(_) => ActResult::Failed(format!(
                    "skill {name} did not finish within {} s",
                    limit.as_secs()
                )),
            }
        }
    };
    // The skill's own checks held; its verdict adds nothing to the observation.
    ctx.record_step(thought, call, &result, started, |outcome, _| {
        (StepOutcome::Ok, format!("result {}", outcome.result))
    })
    .await;
    result
}

/// Runs a plan from the intent parser: each action must be verified on the
/// desktop before the next.
async fn run_plan(ctx: &TaskCtx, intents: Vec<Intent>) -> End {
    let mut launched: Option<u64> = None;
    let mut done: Vec<String> = Vec::new();
    for intent in intents {
        let windows = observe::windows(&ctx.parts().desktop).await.windows;
        let resolve = |target: &WindowRef| match target {
            WindowRef::Window(id) => Some(*id),
            WindowRef::Launched => launched,
        };
        let mut calls: Vec<(Action, String)> = Vec::new();
        let window = |id: u64| WindowParams {
            window_id: Some(id),
            window: None,
        };
        let toggle = |id: u64, on: bool| ToggleWindowParams {
            window_id: Some(id),
            window: None,
            on,
        };
        let focus_first = |target: &Option<WindowRef>, calls: &mut Vec<(Action, String)>| {
            let Some(target) = target else {
                return Ok(());
            };
            let Some(id) = resolve(target) else {
                return Err("the app it launched opened no window".to_string());
            };
            if !windows.iter().any(|w| w.id == id && w.focused) {
                calls.push((
                    Action::FocusWindow(window(id)),
                    format!("focus window {id} first"),
                ));
            }
            Ok(())
        };
        match &intent {
            Intent::Launch { app } => calls.push((
                Action::LaunchApp(LaunchParams {
                    app: Some(app.clone()),
                    command: None,
                }),
                format!("open {app}"),
            )),
            Intent::Window { op, target } => {
                let Some(id) = resolve(target) else {
                    return End::Failed("the app it launched opened no window".into());
                };
                let (action, words) = match *op {
                    WindowOp::Close => (Action::CloseWindow(window(id)), "close"),
                    WindowOp::Focus => (Action::FocusWindow(window(id)), "focus"),
                    WindowOp::Maximize(on) => (
                        Action::MaximizeWindow(toggle(id, on)),
                        if on { "maximize" } else { "restore" },
                    ),
                    WindowOp::Minimize(on) => (
                        Action::MinimizeWindow(toggle(id, on)),
                        if on { "minimize" } else { "unminimize" },
                    ),
                    WindowOp::Fullscreen(on) => (
                        Action::FullscreenWindow(toggle(id, on)),
                        if on {
                            "make fullscreen"
                        } else {
                            "leave fullscreen"
                        },
                    ),
                };
                calls.push((action, format!("{words} window {id}")));
            }
            Intent::Type {
                text,
                target,
                submit,
            } => {
                if let Err(why) = focus_first(target, &mut calls) {
                    return End::Failed(why);
                }
                calls.push((
                    Action::TypeText(TextParams { text: text.clone() }),
                    format!("type {text:?}"),
                ));
                if *submit {
                    calls.push((
                        Action::Key(KeyParams {
                            keys: "Return".into(),
                        }),
                        "press Return".into(),
                    ));
                }
            }
            Intent::Key { keys, target } => {
                if let Err(why) = focus_first(target, &mut calls) {
                    return End::Failed(why);
                }
                calls.push((
                    Action::Key(KeyParams { keys: keys.clone() }),
                    format!("press {keys}"),
                ));
            }
            Intent::WriteFile { path, text, mode } => {
                // A text file's lines end in a newline, the last one too.
                let content = if text.is_empty() || text.ends_with('\n') {
                    text.clone()
                } else {
                    format!("{text}\n")
                };
                let (if_exists, what) = match mode {
                    WriteMode::Replace => {
                        (IfExists::Overwrite, format!("write {text:?} into {path}"))
                    }
                    WriteMode::Append => (IfExists::Append, format!("add {text:?} to {path}")),
                    WriteMode::Create => (IfExists::Fail, format!("create {path}")),
                };
                calls.push((
                    Action::WriteFile(WriteFileParams {
                        path: path.clone(),
                        content,
                        if_exists,
                        create_dirs: false,
                    }),
                    what,
                ));
            }
            Intent::MoveFile { from, to } => calls.push((
                Action::MoveFile(MoveFileParams {
                    from: from.clone(),
                    to: to.clone(),
                    overwrite: false,
                }),
                format!("move {from} to {to}"),
            )),
            Intent::CopyFile { from, to } => calls.push((
                Action::CopyFile(CopyFileParams {
                    from: from.clone(),
                    to: to.clone(),
                    overwrite: false,
                }),
                format!("copy {from} to {to}"),
            )),
            Intent::DeleteFile { path } => calls.push((
                Action::DeleteFile(DeleteFileParams {
                    path: path.clone(),
                    recursive: false,
                }),
                format!("delete {path}"),
            )),
        }
        for (action, what) in calls {
            if let Err(engaged) = ctx.parts().kill_switch.check_task() {
                return End::Stopped(engaged.to_string());
            }
            let thought = format!("fast path: {what}");
            match perform_action(ctx, action, thought, Instant::now()).await {
                ActResult::Done { verdict, .. } if verdict.failed() => {
                    return End::Failed(format!("{what}: {}", verdict.describe()));
                }
                ActResult::Done { verdict, .. } => {
                    if let super::verify::Verdict::Confirmed {
                        window: Some(id), ..
                    } = verdict
                        && matches!(intent, Intent::Launch { .. })
                    {
                        launched = Some(id);
                    }
                    done.push(what);
                }
                ActResult::Failed(why) => return End::Failed(format!("{what}: {why}")),
                ActResult::Denied(why) => {
                    return End::Failed(format!("{what}: the policy refused: {why}"));
                }
                ActResult::Declined(why) => return End::Cancelled(why),
            }
        }
    }
    End::Succeeded(format!("done: {}", done.join(", ")))
}

/// Why a model decision produced no reply.
enum DecideError {
    TimedOut(Duration),
    Model(LlmError),
}

/// Asks the model for one tool call, streaming its tokens on `tokens`.
async fn decide(
    ctx: &TaskCtx,
    model: &Arc<dyn LanguageModel>,
    request: ChatRequest,
) -> Result<String, DecideError> {
    let limit = ctx.step_timeout();
    let mut completion = model.complete(request, ctx.control.cancel.child_token());
    let events = &ctx.parts().events;
    let task_id = ctx.task_id;
    let stream = async {
        while let Some(event) = completion.next_event().await {
            match event {
                CompletionEvent::Piece(text) => {
                    events.publish(
                        Topic::Tokens,
                        "token",
                        json!({"task_id": task_id, "text": text}),
                    );
                }
                CompletionEvent::Finished(result) => return result,
            }
        }
        Err(LlmError::BackendGone)
    };
    match tokio::time::timeout(limit, stream).await {
        Ok(Ok(outcome)) => Ok(outcome.text),
        Ok(Err(err)) => Err(DecideError::Model(err)),
        Err(_) => Err(DecideError::TimedOut(limit)),
    }
}

/// The model loop: observe, ask for one tool call, act, observe again.
/// `handed_over` is what a fast path already did and what is left of the goal.
async fn run_model(ctx: &TaskCtx, handed_over: Option<(String, String)>) -> End {
    let parts = ctx.parts();
    let model = match parts.model.get() {
        Ok(model) => model,
        Err(reason) => {
            return End::Failed(format!(
                "this goal needs the language model, and none is loaded: {reason}"
            ));
        }
    };
    let mut started = Instant::now();
    let mut observation = ctx.observe().await;
    let mut messages = vec![
        ChatMessage::system(prompt::system_prompt_with_skills(&active_skills(ctx).await)),
        prompt::first_turn(
            &ctx.goal,
            handed_over.as_ref(),
            &observation,
            &parts.actions,
        ),
    ];
    let mut invalid_in_row = 0;
    let mut last_failure: Option<String> = None;
    // The same call again with nothing changed: tiny models loop.
    let mut previous_call: Option<Value> = None;
    let mut repeats = 0;
    // Whether anything was done: a finish with nothing done is only words.
    let mut acted = handed_over.is_some();
    for _ in 0..parts.config.max_steps {
        if let Err(engaged) = parts.kill_switch.check_task() {
            return End::Stopped(engaged.to_string());
        }
        // Read each step, so a skill installed mid-task is offered at once.
        let skills = active_skills(ctx).await;
        let schema = tools::tool_schema_with_skills(
            &observation.windows,
            &parts.actions,
            observation.marks,
            &skills,
        );
        let request = ChatRequest::new(messages.clone()).with_options(GenerationOptions {
            max_tokens: parts.config.max_tokens,
            constraint: Some(Constraint::JsonSchema(schema)),
            ..GenerationOptions::default()
        });
        let reply = match decide(ctx, &model, request).await {
            Ok(reply) => reply,
            Err(error) => {
                let (outcome, why) = match error {
                    DecideError::TimedOut(limit) => (
                        StepOutcome::TimedOut,
                        format!("the model did not answer within {} s", limit.as_secs()),
                    ),
                    DecideError::Model(err) => {
                        (StepOutcome::Failed, format!("the model failed: {err}"))
                    }
                };
                ctx.append_step(NewStep {
                    thought: "asking the model for the next step".into(),
                    tool_call: None,
                    observation: Some(why.clone()),
                    outcome,
                    duration_ms: started.elapsed().as_millis() as u64,
                })
                .await;
                return End::Failed(why);
            }
        };
        let call = tools::parse_tool_call(&reply).and_then(|call| match call {
            ToolCall::Act(request) => actions::parse(&request)
                .map(|_| ToolCall::Act(request))
                .map_err(|err| err.to_string()),
            finish => Ok(finish),
        });
        match call {
            Err(why) => {
                invalid_in_row += 1;
                let index = ctx.take_index();
                let action = tools::named_action(&reply)
                    .filter(|name| !name.trim().is_empty())
                    .unwrap_or_else(|| "(invalid tool call)".into());
                let params = serde_json::from_str::<Value>(reply.trim())
                    .ok()
                    .and_then(|v| v.get("params").cloned())
                    .unwrap_or(Value::Null);
                ctx.audit_refusal(
                    &action,
                    &params,
                    index,
                    &format!("invalid tool call: {why}"),
                )
                .await;
                ctx.append_step(NewStep {
                    thought: format!("the model's reply is not a valid tool call: {reply}"),
                    tool_call: serde_json::from_str(reply.trim()).ok(),
                    observation: Some(why.clone()),
                    outcome: StepOutcome::InvalidToolCall,
                    duration_ms: started.elapsed().as_millis() as u64,
                })
                .await;
                if invalid_in_row >= parts.config.max_invalid_tool_calls {
                    return End::Failed(format!(
                        "the model gave {invalid_in_row} invalid tool calls in a row; the last: {why}"
                    ));
                }
                messages.push(ChatMessage::assistant(reply));
                messages.push(ChatMessage::user(format!(
                    "That tool call is invalid: {why}. Answer with one valid JSON tool call."
                )));
                started = Instant::now();
            }
            Ok(ToolCall::Finish { summary }) => {
                ctx.take_index();
                ctx.append_step(NewStep {
                    thought: "the model ended the task".into(),
                    tool_call: Some(
                        json!({"action": tools::FINISH, "params": {"summary": summary}}),
                    ),
                    observation: last_failure.clone(),
                    outcome: StepOutcome::Ok,
                    duration_ms: started.elapsed().as_millis() as u64,
                })
                .await;
                return match last_failure {
                    Some(failure) => End::Failed(format!(
                        "the model ended the task, but its last action did not work: {failure}"
                    )),
                    None if !acted => End::Failed(format!(
                        "the model ended the task without doing anything (it said: {summary:?})"
                    )),
                    None if summary.is_empty() => End::Succeeded("done".into()),
                    None => End::Succeeded(summary),
                };
            }
            Ok(step @ (ToolCall::Act(_) | ToolCall::Skill { .. })) => {
                invalid_in_row = 0;
                let call = step.to_json();
                repeats = if previous_call.as_ref() == Some(&call) {
                    repeats + 1
                } else {
                    0
                };
                previous_call = Some(call);
                let windows_before = observation.windows.clone();
                let (action_type, result) = match step {
                    ToolCall::Skill { name, args } => {
                        let thought = format!("the model chose skill {name}");
                        let what = format!("skill {name}");
                        (
                            what,
                            perform_skill_step(ctx, name, args, thought, started).await,
                        )
                    }
                    ToolCall::Act(request) => {
                        let action_type = request.action_type.clone();
                        let thought = format!("the model chose {action_type}");
                        (
                            action_type,
                            perform_step(ctx, request, thought, started).await,
                        )
                    }
                    ToolCall::Finish { .. } => unreachable!("matched above"),
                };
                let mut result_text = match &result {
                    ActResult::Done { verdict, outcome } => {
                        acted = true;
                        last_failure = verdict.failed().then(|| verdict.describe());
                        format!("{}; {}", verdict.describe(), outcome.result)
                    }
                    ActResult::Failed(why) => {
                        last_failure = Some(why.clone());
                        format!("error: {why}")
                    }
                    ActResult::Denied(why) => {
                        last_failure = Some(why.clone());
                        format!("refused by the safety policy: {why}")
                    }
                    ActResult::Declined(why) => return End::Cancelled(why.clone()),
                };
                started = Instant::now();
                observation = ctx.observe().await;
                if repeats > 0 && observation.windows == windows_before {
                    if repeats >= 2 {
                        return End::Failed(format!(
                            "the model repeated {action_type} three times without changing \
                             anything"
                        ));
                    }
                    result_text.push_str(
                        ". That was the same call as before and nothing changed: do something \
                         else, or finish if the goal is reached",
                    );
                }
                messages.push(ChatMessage::assistant(reply));
                messages.push(prompt::next_turn(
                    &ctx.goal,
                    &result_text,
                    &observation,
                    &parts.actions,
                ));
            }
        }
    }
    End::Failed(format!(
        "the step budget of {} steps ran out before the goal was reached",
        parts.config.max_steps
    ))
}
