//! Everything the shell shows, as plain data, and how API updates change it.
//! The UI thread owns it; views read it and queue commands.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::api::{StateLabel, Status, Task, TaskState, Window};
use crate::backend::{Command, Event, HISTORY_LIMIT, Update};
use crate::launcher::AppEntry;

/// How long a notification stays up unless dismissed.
pub const NOTIFICATION_TTL: Duration = Duration::from_secs(8);
/// Notifications shown at once; older ones give way.
const NOTIFICATIONS_MAX: usize = 4;
/// Tasks kept in memory; the oldest finished ones give way.
pub const TASKS_KEPT: usize = 200;
/// Streamed model text kept per task: the tail is what matters.
const TOKENS_MAX: usize = 4000;

#[derive(Debug, Clone, PartialEq)]
pub enum Connection {
    Connecting,
    Up,
    Down { reason: String, retry_at: Instant },
}

/// The agent's state as the panel names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentState {
    Offline,
    Idle,
    Thinking,
    Acting,
    WaitingForConfirmation,
}

impl AgentState {
    pub fn label(self) -> &'static str {
        match self {
            Self::Offline => "offline",
            Self::Idle => "idle",
            Self::Thinking => "thinking",
            Self::Acting => "acting",
            Self::WaitingForConfirmation => "waiting for confirmation",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drawer {
    Launcher,
    Chat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Info,
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    pub id: u64,
    pub severity: Severity,
    pub title: String,
    pub body: String,
    pub shown_at: Instant,
}

/// What a task's latest event says it is doing, for the panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Thinking,
    Acting,
}

pub struct Model {
    pub connection: Connection,
    /// Set once the first connection was made, so a later loss reads as a restart.
    pub was_connected: bool,
    pub status: Option<Status>,
    pub model_name: Option<Result<String, String>>,
    pub windows: Vec<Window>,
    /// Newest first. `None` until read; `Some(false)` history when the API has no tasks routes.
    pub tasks: Vec<Task>,
    pub tasks_supported: Option<bool>,
    /// Model text streamed per task.
    pub tokens: HashMap<i64, String>,
    phases: HashMap<i64, Phase>,
    /// The task the chat shows in full.
    pub selected_task: Option<i64>,
    pub goal_input: String,
    pub drawer: Option<Drawer>,
    pub launcher_filter: String,
    pub apps: Vec<AppEntry>,
    pub notifications: VecDeque<Notification>,
    next_notification: u64,
    /// What the clock shows; the host sets it (tests pin it).
    pub clock: String,
    /// Commands the views queued; the host sends them.
    pub outbox: Vec<Command>,
}

impl Model {
    pub fn new(apps: Vec<AppEntry>) -> Self {
        Self {
            connection: Connection::Connecting,
            was_connected: false,
            status: None,
            model_name: None,
            windows: Vec::new(),
            tasks: Vec::new(),
            tasks_supported: None,
            tokens: HashMap::new(),
            phases: HashMap::new(),
            selected_task: None,
            goal_input: String::new(),
            drawer: None,
            launcher_filter: String::new(),
            apps,
            notifications: VecDeque::new(),
            next_notification: 1,
            clock: String::new(),
            outbox: Vec::new(),
        }
    }

    pub fn agent_state(&self) -> AgentState {
        if self.connection != Connection::Up {
            return AgentState::Offline;
        }
        let active = self.tasks.iter().filter(|t| !t.state.is_finished());
        let mut state = AgentState::Idle;
        for task in active {
            match task.state {
                TaskState::AwaitingConfirmation => return AgentState::WaitingForConfirmation,
                _ => {
                    state = match self.phases.get(&task.id) {
                        Some(Phase::Acting) => AgentState::Acting,
                        _ => AgentState::Thinking,
                    }
                }
            }
        }
        state
    }

    pub fn kill_switch(&self) -> Option<bool> {
        self.status.as_ref().and_then(|s| s.kill_switch)
    }

    /// The voice service's state and why, as `/api/status` reports it, if
    /// it lists one.
    pub fn voice_state(&self) -> Option<(&str, Option<&str>)> {
        let service = self
            .status
            .as_ref()?
            .services
            .iter()
            .find(|s| s.name == "voice")?;
        Some((service.state.as_str(), service.detail.as_deref()))
    }

    pub fn task(&self, id: i64) -> Option<&Task> {
        self.tasks.iter().find(|t| t.id == id)
    }

    /// The app entries the launcher's filter lets through.
    pub fn filtered_apps(&self) -> impl Iterator<Item = &AppEntry> {
        self.apps
            .iter()
            .filter(|a| a.matches(&self.launcher_filter))
    }

    pub fn toggle_drawer(&mut self, drawer: Drawer) {
        self.drawer = if self.drawer == Some(drawer) {
            None
        } else {
            Some(drawer)
        };
        if self.drawer == Some(Drawer::Launcher) {
            self.launcher_filter.clear();
        }
    }

    pub fn notify(
        &mut self,
        severity: Severity,
        title: impl Into<String>,
        body: impl Into<String>,
    ) {
        while self.notifications.len() >= NOTIFICATIONS_MAX {
            self.notifications.pop_front();
        }
        self.notifications.push_back(Notification {
            id: self.next_notification,
            severity,
            title: title.into(),
            body: body.into(),
            shown_at: Instant::now(),
        });
        self.next_notification += 1;
    }

    pub fn dismiss(&mut self, id: u64) {
        self.notifications.retain(|n| n.id != id);
    }

    /// Drops expired notifications; returns when the next one expires.
    pub fn expire_notifications(&mut self, now: Instant) -> Option<Instant> {
        self.notifications
            .retain(|n| now.duration_since(n.shown_at) < NOTIFICATION_TTL);
        self.notifications
            .iter()
            .map(|n| n.shown_at + NOTIFICATION_TTL)
            .min()
    }

    /// Queues a goal from the chat's input; an empty goal is refused in place.
    pub fn submit_goal(&mut self) -> bool {
        let goal = self.goal_input.trim().to_string();
        if goal.is_empty() {
            return false;
        }
        self.goal_input.clear();
        self.outbox.push(Command::SubmitGoal(goal));
        true
    }

    /// Applies what the network threads reported; returns whether anything
    /// shown may have changed (a status poll that reads the same is not a
    /// reason to draw).
    pub fn apply(&mut self, update: Update) -> bool {
        match &update {
            Update::Status(status) if self.status.as_ref() == Some(status) => return false,
            Update::Windows(windows) if &self.windows == windows => return false,
            Update::Model(model) if self.model_name.as_ref() == Some(model) => return false,
            _ => {}
        }
        match update {
            Update::Connected => {
                if self.was_connected && self.connection != Connection::Up {
                    self.notify(Severity::Info, "Agent reconnected", "");
                }
                self.connection = Connection::Up;
                self.was_connected = true;
            }
            Update::Disconnected { reason, retry_in } => {
                self.connection = Connection::Down {
                    reason,
                    retry_at: Instant::now() + retry_in,
                };
            }
            Update::Status(status) => self.status = Some(status),
            Update::Model(model) => self.model_name = Some(model),
            Update::Windows(windows) => self.windows = windows,
            Update::History(None) => self.tasks_supported = Some(false),
            Update::History(Some(history)) => {
                self.tasks_supported = Some(true);
                // Keep the steps already loaded for tasks the history repeats.
                let mut merged: Vec<Task> = history
                    .into_iter()
                    .map(|mut task| {
                        if let Some(known) = self.task(task.id) {
                            if task.steps.is_empty() {
                                task.steps = known.steps.clone();
                            }
                            if task.pending_confirmation.is_none() && !task.state.is_finished() {
                                task.pending_confirmation = known.pending_confirmation.clone();
                            }
                        }
                        task
                    })
                    .collect();
                merged.truncate(HISTORY_LIMIT);
                self.tasks = merged;
            }
            Update::Task(task) => {
                let id = task.id;
                let is_new = self.task(id).is_none();
                self.upsert_task(task);
                if is_new {
                    self.selected_task = Some(id);
                }
            }
            Update::Event(event) => self.apply_event(event),
            Update::Launched { name } => {
                self.notify(Severity::Info, format!("Started {name}"), "");
            }
            Update::Failed { what, error } => {
                self.notify(
                    Severity::Error,
                    format!("Could not {what}"),
                    error.to_string(),
                );
            }
        }
        true
    }

    fn upsert_task(&mut self, mut task: Task) {
        match self.tasks.iter_mut().find(|t| t.id == task.id) {
            Some(known) => {
                if task.steps.len() < known.steps.len() {
                    task.steps = std::mem::take(&mut known.steps);
                }
                *known = task;
            }
            None => {
                let at = self
                    .tasks
                    .iter()
                    .position(|t| t.id < task.id)
                    .unwrap_or(self.tasks.len());
                self.tasks.insert(at, task);
                while self.tasks.len() > TASKS_KEPT {
                    let oldest_finished = self.tasks.iter().rposition(|t| t.state.is_finished());
                    match oldest_finished {
                        Some(i) => self.tasks.remove(i),
                        None => break,
                    };
                }
            }
        }
    }

    fn apply_event(&mut self, event: Event) {
        match (event.topic.as_str(), event.kind.as_str()) {
            ("windows", _) => self.outbox.push(Command::RefreshWindows),
            ("services", _) | ("voice", _) => {}
            ("tokens", "token") => {
                let (Some(id), Some(text)) = (
                    event.data.get("task_id").and_then(|v| v.as_i64()),
                    event.data.get("text").and_then(|v| v.as_str()),
                ) else {
                    return;
                };
                self.phases.insert(id, Phase::Thinking);
                let buffer = self.tokens.entry(id).or_default();
                buffer.push_str(text);
                if buffer.len() > TOKENS_MAX {
                    let cut = buffer.len() - TOKENS_MAX;
                    let cut = (cut..buffer.len())
                        .find(|i| buffer.is_char_boundary(*i))
                        .unwrap_or(buffer.len());
                    buffer.drain(..cut);
                }
            }
            ("tasks", "step_finished") => {
                let Ok(step) = serde_json::from_value::<crate::api::Step>(event.data) else {
                    return;
                };
                self.phases.insert(step.task_id, Phase::Acting);
                self.tokens.remove(&step.task_id);
                if let Some(task) = self.tasks.iter_mut().find(|t| t.id == step.task_id) {
                    match task.steps.iter_mut().find(|s| s.index == step.index) {
                        Some(known) => *known = step,
                        None => task.steps.push(step),
                    }
                } else {
                    self.outbox.push(Command::LoadTask(step.task_id));
                }
            }
            ("tasks", "confirmation_requested") => {
                let id = event.data.get("task_id").and_then(|v| v.as_i64());
                let pending = event
                    .data
                    .get("pending_confirmation")
                    .cloned()
                    .and_then(|p| serde_json::from_value(p).ok());
                let Some(id) = id else {
                    return;
                };
                self.selected_task = Some(id);
                match self.tasks.iter_mut().find(|t| t.id == id) {
                    Some(task) if pending.is_some() => {
                        task.state = TaskState::AwaitingConfirmation;
                        task.pending_confirmation = pending;
                    }
                    _ => self.outbox.push(Command::LoadTask(id)),
                }
                if let Some(task) = self.task(id) {
                    let goal = task.goal.clone();
                    self.notify(Severity::Info, "Confirmation needed", goal);
                }
            }
            ("tasks", kind) => {
                let task = event
                    .data
                    .get("task")
                    .cloned()
                    .unwrap_or(event.data.clone());
                match serde_json::from_value::<Task>(task) {
                    Ok(task) => {
                        let finished = kind == "task_finished" || task.state.is_finished();
                        if kind == "confirmation_requested" || task.pending_confirmation.is_some() {
                            self.selected_task = Some(task.id);
                        }
                        if finished {
                            self.phases.remove(&task.id);
                            self.tokens.remove(&task.id);
                            self.announce(&task);
                        }
                        self.upsert_task(task);
                    }
                    // An event with only an id: fetch the whole task.
                    Err(_) => {
                        if let Some(id) = event
                            .data
                            .get("task_id")
                            .or_else(|| event.data.get("id"))
                            .and_then(|v| v.as_i64())
                        {
                            self.outbox.push(Command::LoadTask(id));
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn announce(&mut self, task: &Task) {
        let already = self.task(task.id).is_some_and(|t| t.state.is_finished());
        if already {
            return;
        }
        let severity = match task.state {
            TaskState::Succeeded => Severity::Info,
            _ => Severity::Error,
        };
        let body = task.result.clone().unwrap_or_default();
        self.notify(
            severity,
            format!("{}: {}", capitalised(task.state.label()), task.goal),
            body,
        );
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}
