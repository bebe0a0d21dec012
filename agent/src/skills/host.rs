//! The host side of the `digios` object: what a skill may ask of digiOS.
//!
//! Bridging sync JavaScript to the async agent: QuickJS runs on a tokio
//! blocking-pool thread (never on a runtime worker), and each host call
//! blocks that thread on the agent's runtime `Handle` (`Handle::block_on`)
//! until the action engine, the compositor or SQLite answers. Skills thus
//! read as plain sequential code (`digios.act(...)` returns the result), the
//! runtime's workers are never blocked, and no JavaScript runs while a host
//! call is in flight, so the QuickJS runtime needs no locking. Every host
//! call is cut short by the call's wall-time deadline and its cancellation.
//!
//! Actions take the same path as `/api/action`: the kill switch, the safety
//! policy's verdict (deny refused; confirm put to the user when the call
//! runs in a planner task, otherwise refused unless the caller pre-approved
//! it), an audit row before the action and its outcome after.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use super::sandbox::{Meter, thread_cpu};
use super::{ConfirmAsk, Confirmer, SkillHost, SkillLimits};
use crate::actions::{self, ActionRequest};
use crate::gate::{Asker, Call, Confirm, Gate, Origin, PendingConfirmation, Refusal};
use crate::memory::FactKind;

/// Lines of `digios.log` kept per call, and characters per line.
const LOG_LINES: usize = 200;
const LOG_LINE_CHARS: usize = 2_000;
/// How often `waitForWindow` looks at the window list.
const WINDOW_POLL: Duration = Duration::from_millis(100);

/// A host call that failed, as the skill sees it: an `Error` with `code`.
#[derive(Debug)]
pub struct HostError {
    pub code: &'static str,
    pub message: String,
    pub action: Option<String>,
}

impl HostError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            action: None,
        }
    }
}

/// One call's host: shared by the `digios` functions and the interrupt handler.
#[derive(Clone)]
pub struct HostCalls {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` while compiling: the top level may not reach digiOS.
    gate: Option<Gate>,
    handle: Option<Handle>,
    approve_confirm: bool,
    task: Option<(i64, i64)>,
    confirm: Option<Confirmer>,
    cancel: CancellationToken,
    skill: String,
    limits: SkillLimits,
    meter: Arc<Meter>,
    calls: AtomicU32,
    actions: Mutex<Vec<String>>,
    log: Mutex<Vec<String>>,
    /// What stopped the call from the host side (the host-call limit).
    stopped: OnceLock<super::SkillError>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl HostCalls {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        gate: Gate,
        handle: Handle,
        approve_confirm: bool,
        task: Option<(i64, i64)>,
        confirm: Option<Confirmer>,
        cancel: CancellationToken,
        skill: String,
        limits: SkillLimits,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                gate: Some(gate),
                handle: Some(handle),
                approve_confirm,
                task,
                confirm,
                meter: Arc::new(Meter::new(limits, cancel.clone())),
                cancel,
                skill,
                limits,
                calls: AtomicU32::new(0),
                actions: Mutex::new(Vec::new()),
                log: Mutex::new(Vec::new()),
                stopped: OnceLock::new(),
            }),
        }
    }

    /// A host that refuses every call, for compiling.
    pub fn unavailable(limits: SkillLimits) -> Self {
        let cancel = CancellationToken::new();
        Self {
            inner: Arc::new(Inner {
                gate: None,
                handle: None,
                approve_confirm: false,
                task: None,
                confirm: None,
                meter: Arc::new(Meter::new(limits, cancel.clone())),
                cancel,
                skill: String::new(),
                limits,
                calls: AtomicU32::new(0),
                actions: Mutex::new(Vec::new()),
                log: Mutex::new(Vec::new()),
                stopped: OnceLock::new(),
            }),
        }
    }

    pub fn meter(&self) -> Arc<Meter> {
        self.inner.meter.clone()
    }

    /// Why the host stopped the call, if it did.
    pub fn stopped(&self) -> Option<super::SkillError> {
        self.inner.stopped.get().cloned()
    }

    pub fn take_outputs(&self) -> (Vec<String>, Vec<String>) {
        (
            std::mem::take(&mut *lock(&self.inner.actions)),
            std::mem::take(&mut *lock(&self.inner.log)),
        )
    }

    /// Answers one call from the `digios` object: `op` with JSON `args`;
    /// the reply is `{"ok": value}` or `{"error": {"code", "message"}}`.
    pub fn dispatch(&self, op: &str, args: &str) -> String {
        let reply = match self.dispatch_inner(op, args) {
            Ok(value) => json!({ "ok": value }),
            Err(err) => json!({
                "error": {"code": err.code, "message": err.message, "action": err.action}
            }),
        };
        reply.to_string()
    }

    fn dispatch_inner(&self, op: &str, args: &str) -> Result<Value, HostError> {
        let inner = &self.inner;
        let (Some(gate), Some(handle)) = (&inner.gate, &inner.handle) else {
            return Err(HostError::new(
                "not_available",
                "digios host calls are only available inside run(params), not at the top level",
            ));
        };
        let host = &gate.tools;
        let args: Vec<Value> = serde_json::from_str(args)
            .map_err(|err| HostError::new("invalid_params", format!("bad arguments: {err}")))?;
        let arg = |i: usize| args.get(i).cloned().unwrap_or(Value::Null);
        if op == "log" {
            let mut log = lock(&inner.log);
            if log.len() < LOG_LINES {
                let line: String = arg(0)
                    .as_str()
                    .unwrap_or_default()
                    .chars()
                    .take(LOG_LINE_CHARS)
                    .collect();
                log.push(line);
            }
            return Ok(Value::Null);
        }
        let calls = inner.calls.fetch_add(1, Ordering::Relaxed) + 1;
        if calls > inner.limits.host_calls {
            let _ = inner.stopped.set(super::SkillError::HostCallLimit {
                limit: inner.limits.host_calls,
            });
            inner.meter.stop_now();
            return Err(HostError::new(
                "host_call_limit",
                format!("more than {} host calls", inner.limits.host_calls),
            ));
        }
        if host.kill_switch.check_task().is_err() {
            return Err(HostError::new(
                "kill_switch",
                "the kill switch is engaged; skills that act on the desktop are stopped",
            ));
        }
        // Host work is not the skill's CPU time.
        let cpu_before = thread_cpu();
        let meter = inner.meter.clone();
        let cancel = inner.cancel.clone();
        let work = async {
            match op {
                "act" => {
                    let action_type = arg(0).as_str().unwrap_or_default().to_string();
                    self.act(gate, action_type, arg(1)).await
                }
                "windows" => windows(host).await,
                "focused_window" => {
                    let windows = windows(host).await?;
                    Ok(windows
                        .as_array()
                        .and_then(|all| {
                            all.iter()
                                .find(|w| w.get("focused") == Some(&Value::Bool(true)))
                        })
                        .cloned()
                        .unwrap_or(Value::Null))
                }
                "wait_for_window" => {
                    let timeout = Duration::from_millis(arg(1).as_u64().unwrap_or(5_000));
                    wait_for_window(host, &arg(0), timeout).await
                }
                "sleep" => {
                    let ms = arg(0).as_u64().unwrap_or(0);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Ok(Value::Null)
                }
                "search" => {
                    let query = arg(0).as_str().unwrap_or_default().to_string();
                    let limit = arg(1).as_u64().unwrap_or(10).clamp(1, 50) as u32;
                    let hits = host
                        .memory
                        .search(&query, limit)
                        .await
                        .map_err(|err| HostError::new("unavailable", err.to_string()))?;
                    Ok(serde_json::to_value(hits).unwrap_or_default())
                }
                "facts" => facts(host, arg(0).as_str()).await,
                other => Err(HostError::new(
                    "unknown_call",
                    format!("digios has no call {other:?}"),
                )),
            }
        };
        let result = handle.block_on(async {
            tokio::select! {
                result = work => result,
                _ = meter.wall_expired() => {
                    Err(HostError::new("time_limit", "the skill's wall-time limit ran out during a host call"))
                }
                _ = cancel.cancelled() => Err(HostError::new("cancelled", "the call was cancelled")),
            }
        });
        inner
            .meter
            .add_host_cpu(thread_cpu().saturating_sub(cpu_before));
        result
    }

    /// One action through the gate, as `/api/action` takes it; a confirm-tier
    /// one is put to the user when a task runs this skill.
    async fn act(
        &self,
        gate: &Gate,
        action_type: String,
        params: Value,
    ) -> Result<Value, HostError> {
        let request = ActionRequest {
            action_type: action_type.clone(),
            params: params.clone(),
        };
        let action = actions::parse(&request).map_err(|err| {
            let code = match err {
                actions::ActionError::UnknownAction { .. } => "unknown_action",
                _ => "invalid_params",
            };
            HostError::new(code, err.to_string())
        })?;
        let action_type = action.action_type();
        let inner = &self.inner;
        let asker = inner.confirm.as_ref().map(|confirm| SkillAsker {
            confirm,
            meter: &inner.meter,
            skill: &inner.skill,
        });
        let confirm = match (&asker, inner.approve_confirm) {
            (_, true) => Confirm::PreApproved,
            (Some(asker), false) => Confirm::Ask(asker),
            (None, false) => Confirm::Refuse,
        };
        let (task_id, step) = match inner.task {
            Some((task, step)) => (Some(task), Some(step)),
            None => (None, None),
        };
        let ran = gate
            .run(Call {
                action,
                params,
                origin: Origin::Skill {
                    skill: inner.skill.clone(),
                    task_id,
                    step,
                },
                confirm,
                timeout: None,
            })
            .await;
        // What the skill did, refusals aside.
        let refusal = match ran {
            Ok(outcome) => {
                lock(&inner.actions).push(action_type.to_string());
                return Ok(outcome.result);
            }
            Err(refusal) => refusal,
        };
        if !refusal.before_running() {
            lock(&inner.actions).push(action_type.to_string());
        }
        let message = refusal.to_string();
        let code = match refusal {
            Refusal::KillSwitch => "kill_switch",
            Refusal::Denied { .. } => "denied",
            Refusal::ConfirmationRequired { .. } => {
                return Err(HostError {
                    code: "confirmation_required",
                    message: format!(
                        "{message}; a skill may take this action only when its caller \
                         pre-approved confirmations (?confirm=true)"
                    ),
                    action: Some(action_type.to_string()),
                });
            }
            Refusal::Declined(_) => "declined",
            Refusal::AuditUnavailable(_) => "unavailable",
            Refusal::TimedOut { .. } => "time_limit",
            Refusal::Failed(err) => err.code().as_static().unwrap_or("internal"),
        };
        Err(HostError {
            code,
            message,
            action: Some(action_type.to_string()),
        })
    }
}

/// Puts a skill's confirm-tier action to the user through the task that runs
/// it, waiting off the skill's wall-time clock.
struct SkillAsker<'a> {
    confirm: &'a Confirmer,
    meter: &'a Meter,
    skill: &'a str,
}

impl Asker for SkillAsker<'_> {
    fn ask(
        &self,
        mut pending: PendingConfirmation,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            pending.reason = format!("{} (asked by skill {})", pending.reason, self.skill);
            let (answer, answered) = tokio::sync::oneshot::channel();
            let ended = || "the task that ran this skill has ended".to_string();
            self.confirm
                .send(ConfirmAsk { pending, answer })
                .await
                .map_err(|_| ended())?;
            self.meter
                .off_the_clock(answered)
                .await
                .map_err(|_| ended())?
        })
    }
}

async fn windows(host: &SkillHost) -> Result<Value, HostError> {
    let windows = host
        .desktop
        .windows()
        .await
        .map_err(|err| HostError::new("unavailable", err.to_string()))?;
    Ok(serde_json::to_value(windows).unwrap_or_default())
}

/// Whether `window` has every field `filter` names (strings match as
/// case-insensitive substrings).
fn window_matches(window: &Value, filter: &Value) -> bool {
    let Some(filter) = filter.as_object() else {
        return true;
    };
    filter
        .iter()
        .all(|(key, want)| match (window.get(key), want) {
            (Some(Value::String(have)), Value::String(want)) => {
                have.to_lowercase().contains(&want.to_lowercase())
            }
            (Some(have), want) => have == want,
            (None, _) => false,
        })
}

async fn wait_for_window(
    host: &SkillHost,
    filter: &Value,
    timeout: Duration,
) -> Result<Value, HostError> {
    let deadline = Instant::now() + timeout;
    loop {
        let all = windows(host).await?;
        if let Some(found) = all
            .as_array()
            .and_then(|all| all.iter().find(|w| window_matches(w, filter)))
        {
            return Ok(found.clone());
        }
        if Instant::now() >= deadline {
            return Ok(Value::Null);
        }
        tokio::time::sleep(WINDOW_POLL).await;
    }
}

async fn facts(host: &SkillHost, kind: Option<&str>) -> Result<Value, HostError> {
    let kinds = match kind {
        None => vec![FactKind::Fact, FactKind::Preference],
        Some("fact") => vec![FactKind::Fact],
        Some("preference") => vec![FactKind::Preference],
        Some(other) => {
            return Err(HostError::new(
                "invalid_params",
                format!("fact kind {other:?} is neither \"fact\" nor \"preference\""),
            ));
        }
    };
    let mut out = Vec::new();
    for kind in kinds {
        let facts = host
            .memory
            .list_facts(kind)
            .await
            .map_err(|err| HostError::new("unavailable", err.to_string()))?;
        out.extend(
            facts.into_iter().map(
                |fact| json!({"kind": fact.kind.as_str(), "key": fact.key, "value": fact.value}),
            ),
        );
    }
    Ok(Value::Array(out))
}
