//! One step's action: through the gate (kill switch, policy, the user's
//! confirmation, audit), then checked against the desktop.

use std::time::{Duration, Instant};

use std::future::Future;
use std::pin::Pin;

use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::PendingConfirmation;
use super::run::TaskCtx;
use super::verify::{self, Verdict};
use crate::actions::{self, Action, ActionOutcome};
use crate::gate::{Asker, Call, Confirm, Origin, Refusal};
use crate::memory::TaskState;

/// How one action ended.
#[derive(Debug)]
pub enum ActResult {
    Done {
        outcome: ActionOutcome,
        verdict: Verdict,
    },
    /// The action engine (or the desktop) reported an error.
    Failed(String),
    /// The policy refused it.
    Denied(String),
    /// The user said no, or did not answer in time.
    Declined(String),
}

/// The window an action names: by id, by name, or the focused one.
fn window_selector(action: &Action) -> Option<(Option<u64>, Option<String>)> {
    match action {
        Action::FocusWindow(p) | Action::CloseWindow(p) => Some((p.window_id, p.window.clone())),
        Action::MoveWindow(p) => Some((p.window_id, p.window.clone())),
        Action::ResizeWindow(p) => Some((p.window_id, p.window.clone())),
        Action::MaximizeWindow(p) | Action::MinimizeWindow(p) | Action::FullscreenWindow(p) => {
            Some((p.window_id, p.window.clone()))
        }
        _ => None,
    }
}

pub async fn act(ctx: &TaskCtx, action: Action, params: Value, step_index: i64) -> ActResult {
    let parts = ctx.parts();
    // The window it names, to tell afterwards whether it changed as asked;
    // an unknown one is left for the action itself to report.
    let target = match window_selector(&action) {
        Some((id, name)) => actions::resolve(&parts.desktop, id, name)
            .await
            .ok()
            .map(|window| window.id),
        None => None,
    };
    // What was there just before, so a launch can tell its new window.
    let before = super::observe::windows(&parts.desktop).await;
    let expectation = verify::expectation(&action, &before.windows, target);
    let ran = ctx
        .gate()
        .run(Call {
            action,
            params,
            origin: Origin::Task {
                task_id: ctx.task_id,
                step: step_index,
            },
            confirm: Confirm::Ask(ctx),
            timeout: Some(ctx.step_timeout()),
        })
        .await;
    let outcome = match ran {
        Ok(outcome) => outcome,
        Err(refusal @ (Refusal::Denied { .. } | Refusal::ConfirmationRequired { .. })) => {
            return ActResult::Denied(refusal.to_string());
        }
        Err(Refusal::Declined(why)) => return ActResult::Declined(why),
        Err(other) => return ActResult::Failed(other.to_string()),
    };
    let verdict = verify::check(
        &parts.desktop,
        &expectation,
        Duration::from_secs(parts.config.verify_timeout_secs),
    )
    .await;
    ActResult::Done { outcome, verdict }
}

impl Asker for TaskCtx {
    fn ask(
        &self,
        pending: PendingConfirmation,
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(ask(self, pending))
    }
}

/// Pauses the task until the user answers; `Err` says why it may not go on.
pub(super) async fn ask(ctx: &TaskCtx, pending: PendingConfirmation) -> Result<(), String> {
    let (reply, answer) = oneshot::channel();
    let description = format!("{} {}", pending.action_type, pending.params);
    ctx.set_pending(Some((pending.clone(), reply)));
    ctx.set_state(TaskState::AwaitingConfirmation).await;
    ctx.publish(
        "confirmation_requested",
        json!({"task_id": ctx.task_id, "pending_confirmation": pending}),
    );
    let waited = Instant::now();
    let limit = Duration::from_secs(ctx.parts().config.confirmation_timeout_secs);
    let answer = tokio::time::timeout(limit, answer).await;
    ctx.set_pending(None);
    ctx.pause_clock(waited.elapsed());
    ctx.set_state(TaskState::Running).await;
    match answer {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err(format!("the user declined {description}")),
        Ok(Err(_)) => Err(format!("the confirmation for {description} was withdrawn")),
        Err(_) => Err(format!(
            "nobody confirmed {description} within {} s",
            limit.as_secs()
        )),
    }
}
