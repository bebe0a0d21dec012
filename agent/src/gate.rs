//! The one gate every action passes, whoever asks for it: the API (REST,
//! WebSocket, and so the shell, voice, `digios ctl` and the web console), a
//! planner task, a skill, or the evaluator's sandbox.
//!
//! One order for all: the kill switch, then the safety policy on the real
//! paths, then the user's confirmation, then the audit row (the decision,
//! before anything runs), then the action under its time limit, then the
//! outcome in the audit. Callers only map a [`Refusal`] onto their own
//! surface (an HTTP status, a task step, a JavaScript exception).

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use crate::actions::{self, Action, ActionError, ActionOutcome, ActionsConfig, Risk};
use crate::desktop::Desktop;
use crate::memory::{ActionOutcome as AuditResult, Decision, Memory, NewAuditEntry};
use crate::policy::{KillSwitch, Policy, Verdict};

pub use crate::planner::PendingConfirmation;

/// What every action is judged by and carried out with. Cheap to clone.
#[derive(Clone)]
pub struct Tools {
    pub desktop: Desktop,
    pub actions: ActionsConfig,
    pub policy: Arc<Policy>,
    pub kill_switch: KillSwitch,
    pub memory: Memory,
}

/// The gate over one desktop's tools.
#[derive(Clone)]
pub struct Gate {
    pub tools: Tools,
    pub scope: Scope,
}

impl Gate {
    /// The gate over the user's own desktop.
    pub fn live(tools: Tools) -> Self {
        Self {
            tools,
            scope: Scope::Live,
        }
    }

    /// The gate over an evaluation sandbox.
    pub fn eval(tools: Tools) -> Self {
        Self {
            tools,
            scope: Scope::Eval,
        }
    }
}

/// Whose desktop the gate guards: the user's, or an evaluation sandbox's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    #[default]
    Live,
    Eval,
}

/// Who asked for an action; written into its audit row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Origin {
    /// A client of the public API.
    Api,
    /// A step of a planner task.
    Task { task_id: i64, step: i64 },
    /// A skill, called by a task's step or directly.
    Skill {
        skill: String,
        task_id: Option<i64>,
        step: Option<i64>,
    },
}

impl Origin {
    fn task(&self) -> (Option<i64>, Option<i64>) {
        match self {
            Origin::Api => (None, None),
            Origin::Task { task_id, step } => (Some(*task_id), Some(*step)),
            Origin::Skill { task_id, step, .. } => (*task_id, *step),
        }
    }
}

/// Puts a confirm-tier action to the user; `Err` says why it may not run.
pub trait Asker: Send + Sync {
    fn ask(
        &self,
        pending: PendingConfirmation,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>>;
}

/// How a confirm-tier action gets the user's yes.
pub enum Confirm<'a> {
    /// Nobody can be asked: the action is refused as needing confirmation.
    Refuse,
    /// The caller asked the user already (`?confirm=true`).
    PreApproved,
    /// Ask now and wait for the answer.
    Ask(&'a dyn Asker),
}

/// One action a caller wants carried out.
pub struct Call<'a> {
    pub action: Action,
    /// The params as the caller sent them, for the audit.
    pub params: Value,
    pub origin: Origin,
    pub confirm: Confirm<'a>,
    /// How long the action itself may take; `None` leaves it to the action.
    pub timeout: Option<Duration>,
}

/// Why an action did not run, or how it failed.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("the kill switch is engaged; release it to let digiOS act again")]
    KillSwitch,
    #[error("the safety policy denies this: {reason}")]
    Denied { reason: String },
    #[error("the safety policy asks the user first ({reason})")]
    ConfirmationRequired { risk: Risk, reason: String },
    /// The user said no or did not answer; the text says which.
    #[error("{0}")]
    Declined(String),
    /// No audit row could be written, so the action did not run.
    #[error("the audit log cannot be written, so the action did not run: {0}")]
    AuditUnavailable(String),
    #[error("{action_type} did not finish within {} s", .after.as_secs())]
    TimedOut {
        action_type: &'static str,
        after: Duration,
    },
    /// The action ran and failed.
    #[error(transparent)]
    Failed(#[from] ActionError),
}

impl Refusal {
    /// Whether the action never started (as opposed to ran and failed).
    pub fn before_running(&self) -> bool {
        !matches!(self, Refusal::TimedOut { .. } | Refusal::Failed(_))
    }
}

/// Whether the kill switch stops `action`: everything that injects input or
/// changes something; reads and focus go on, so a person can look around.
fn stopped_by_kill_switch(action: &Action) -> bool {
    action.injects_input() || action.risk() != Risk::Low
}

impl Gate {
    /// Judges, confirms, audits and carries out one action.
    pub async fn run(&self, call: Call<'_>) -> Result<ActionOutcome, Refusal> {
        let Call {
            action,
            params,
            origin,
            confirm,
            timeout,
        } = call;
        let action_type = action.action_type();
        let risk = action.risk();
        let paths = action.paths(&self.tools.actions);
        let audit = AuditShape {
            action_type,
            risk,
            params: &params,
            paths: &paths,
            origin: &origin,
            scope: self.scope,
        };

        if stopped_by_kill_switch(&action) && self.tools.kill_switch.is_engaged() {
            let refusal = Refusal::KillSwitch;
            self.audit_refusal(&audit, &refusal).await;
            return Err(refusal);
        }
        let path_refs: Vec<&std::path::Path> = paths.iter().map(PathBuf::as_path).collect();
        let decision = self.tools.policy.decide(action_type, &path_refs);
        let decided = match decision.verdict {
            Verdict::Allow => Decision::Allowed,
            Verdict::Deny => {
                let refusal = Refusal::Denied {
                    reason: decision.reason,
                };
                self.audit_refusal(&audit, &refusal).await;
                return Err(refusal);
            }
            Verdict::Confirm => {
                let asked = match confirm {
                    Confirm::PreApproved => Ok(()),
                    Confirm::Refuse => Err(Refusal::ConfirmationRequired {
                        risk,
                        reason: decision.reason.clone(),
                    }),
                    Confirm::Ask(asker) => {
                        let pending = PendingConfirmation {
                            action_type: action_type.to_string(),
                            params: params.clone(),
                            risk: risk.to_string(),
                            reason: decision.reason.clone(),
                        };
                        asker.ask(pending).await.map_err(Refusal::Declined)
                    }
                };
                if let Err(refusal) = asked {
                    self.audit_refusal(&audit, &refusal).await;
                    return Err(refusal);
                }
                // The switch may have been thrown while the user thought.
                if self.tools.kill_switch.is_engaged() {
                    let refusal = Refusal::KillSwitch;
                    self.audit_refusal(&audit, &refusal).await;
                    return Err(refusal);
                }
                Decision::Confirmed
            }
        };

        // Low-risk actions change nothing lasting (reads, pointer moves,
        // focus); auditing them would bury the changes that matter. A
        // confirmation the user gave is always recorded.
        let row = if risk == Risk::Low && decided == Decision::Allowed {
            None
        } else {
            let entry = audit.entry(decided);
            // No audit row, no action: an unrecorded change is worse than none.
            let recorded = self
                .tools
                .memory
                .record_decision(&entry)
                .await
                .map_err(|err| Refusal::AuditUnavailable(err.to_string()))?;
            Some(OpenRow::new(self.tools.memory.clone(), recorded.id))
        };

        let performed = actions::perform(&self.tools.desktop, &self.tools.actions, action);
        let result = match timeout {
            None => performed.await.map_err(Refusal::Failed),
            Some(after) => match tokio::time::timeout(after, performed).await {
                Ok(result) => result.map_err(Refusal::Failed),
                Err(_) => Err(Refusal::TimedOut { action_type, after }),
            },
        };
        if let Some(row) = row {
            match &result {
                Ok(outcome) => {
                    row.close(AuditResult::Succeeded, Some(outcome.result.to_string()))
                        .await
                }
                Err(err) => row.close(AuditResult::Failed, Some(err.to_string())).await,
            }
        }
        result
    }

    /// Audits a call that never became an action (an unknown action type,
    /// params that do not parse), in the same shape as every other row. Its
    /// risk is unknown, so it is recorded as high.
    pub async fn audit_unparsed(
        &self,
        action_type: &str,
        params: &Value,
        origin: Origin,
        why: &str,
    ) {
        let (task_id, step_index) = origin.task();
        let entry = NewAuditEntry {
            task_id,
            step_index,
            action: action_type.to_string(),
            params: audit_params(params, &[], &origin, self.scope),
            risk: Risk::High,
            decision: Decision::Denied,
        };
        if let Err(err) = self
            .tools
            .memory
            .record_action(&entry, AuditResult::NotRun, Some(why))
            .await
        {
            tracing::warn!("audit of an unparsed {action_type}: {err}");
        }
    }

    async fn audit_refusal(&self, audit: &AuditShape<'_>, refusal: &Refusal) {
        let entry = audit.entry(Decision::Denied);
        if let Err(err) = self
            .tools
            .memory
            .record_action(&entry, AuditResult::NotRun, Some(&refusal.to_string()))
            .await
        {
            tracing::warn!("audit of a refused {}: {err}", audit.action_type);
        }
    }
}

/// Everything an audit row says about an action, in one shape for every
/// origin.
struct AuditShape<'a> {
    action_type: &'static str,
    risk: Risk,
    params: &'a Value,
    paths: &'a [PathBuf],
    origin: &'a Origin,
    scope: Scope,
}

impl AuditShape<'_> {
    fn entry(&self, decision: Decision) -> NewAuditEntry {
        let (task_id, step_index) = self.origin.task();
        NewAuditEntry {
            task_id,
            step_index,
            action: self.action_type.to_string(),
            params: audit_params(self.params, self.paths, self.origin, self.scope),
            risk: self.risk,
            decision,
        }
    }
}

/// The one shape of an audit row's params.
fn audit_params(params: &Value, paths: &[PathBuf], origin: &Origin, scope: Scope) -> Value {
    json!({"params": params, "paths": paths, "origin": origin, "scope": scope})
}

/// An audit row whose action is running. Should the call be dropped
/// mid-action (a cancelled task, a client gone), the row is closed anyway,
/// saying the action may have taken effect.
struct OpenRow {
    memory: Memory,
    id: i64,
    open: bool,
}

impl OpenRow {
    fn new(memory: Memory, id: i64) -> Self {
        Self {
            memory,
            id,
            open: true,
        }
    }

    async fn close(mut self, outcome: AuditResult, detail: Option<String>) {
        self.open = false;
        if let Err(err) = self
            .memory
            .record_outcome(self.id, outcome, detail.as_deref())
            .await
        {
            tracing::warn!(audit = self.id, "cannot record an action's outcome: {err}");
        }
    }
}

impl Drop for OpenRow {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let memory = self.memory.clone();
        let id = self.id;
        runtime.spawn(async move {
            let detail = "stopped while the action ran; it may have taken effect";
            if let Err(err) = memory
                .record_outcome(id, AuditResult::Failed, Some(detail))
                .await
            {
                tracing::warn!(
                    audit = id,
                    "cannot close an interrupted action's row: {err}"
                );
            }
        });
    }
}
