//! One action under the safety policy: judged, asked about if the policy
//! says confirm, audited before it runs and after, carried out by the action
//! engine, and checked against the desktop.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::PendingConfirmation;
use super::run::TaskCtx;
use super::verify::{self, Verdict};
use crate::actions::{self, Action, ActionOutcome, Risk};
use crate::memory::{ActionOutcome as AuditResult, Decision, NewAuditEntry, TaskState};
use crate::policy::Verdict as PolicyVerdict;

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

fn risk_name(risk: Risk) -> String {
    serde_json::to_value(risk)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{risk:?}").to_lowercase())
}

pub async fn act(ctx: &TaskCtx, action: Action, params: Value, step_index: i64) -> ActResult {
    let parts = ctx.parts();
    let action_type = action.action_type();
    let target = match window_selector(&action) {
        Some((id, name)) => match actions::resolve(&parts.desktop, id, name).await {
            Ok(window) => Some(window.id),
            Err(err) => {
                let detail = err.to_string();
                ctx.audit_refusal(action_type, &params, step_index, &detail)
                    .await;
                return ActResult::Failed(detail);
            }
        },
        None => None,
    };
    let risk = actions::catalogue()
        .into_iter()
        .find(|spec| spec.action_type == action_type)
        .map(|spec| risk_name(spec.risk))
        .unwrap_or_else(|| "high".into());
    let mut entry = NewAuditEntry {
        task_id: Some(ctx.task_id),
        step_index: Some(step_index),
        action: action_type.to_string(),
        params: params.clone(),
        risk: risk.clone(),
        decision: Decision::Allowed,
    };
    let paths = action.paths(&parts.actions);
    let paths: Vec<&std::path::Path> = paths.iter().map(|p| p.as_path()).collect();
    let decision = parts.policy.decide(action_type, &paths);
    match decision.verdict {
        PolicyVerdict::Allow => {}
        PolicyVerdict::Deny => {
            entry.decision = Decision::Denied;
            ctx.record_action(&entry, AuditResult::NotRun, &decision.reason)
                .await;
            return ActResult::Denied(decision.reason);
        }
        PolicyVerdict::Confirm => {
            let pending = PendingConfirmation {
                action_type: action_type.to_string(),
                params: params.clone(),
                risk,
                reason: decision.reason.clone(),
            };
            match ask(ctx, pending).await {
                Ok(()) => entry.decision = Decision::Confirmed,
                Err(why) => {
                    entry.decision = Decision::Denied;
                    ctx.record_action(&entry, AuditResult::NotRun, &why).await;
                    return ActResult::Declined(why);
                }
            }
        }
    }

    if action.injects_input()
        && let Err(engaged) = parts.kill_switch.check_input()
    {
        let detail = engaged.to_string();
        ctx.record_action(&entry, AuditResult::NotRun, &detail)
            .await;
        return ActResult::Failed(detail);
    }
    // What was there just before, so a launch can tell its new window.
    let before = super::observe::windows(&parts.desktop).await;
    let audit_id = match ctx.record_decision(&entry).await {
        Ok(id) => id,
        Err(why) => return ActResult::Failed(why),
    };
    let step_timeout = ctx.step_timeout();
    let performed = tokio::time::timeout(
        step_timeout,
        actions::perform(&parts.desktop, &parts.actions, action.clone()),
    )
    .await;
    let outcome = match performed {
        Ok(Ok(outcome)) => outcome,
        Ok(Err(err)) => {
            let detail = err.to_string();
            ctx.record_outcome(audit_id, AuditResult::Failed, Some(&detail))
                .await;
            return ActResult::Failed(detail);
        }
        Err(_) => {
            let detail = format!(
                "{action_type} did not finish within {} s",
                step_timeout.as_secs()
            );
            ctx.record_outcome(audit_id, AuditResult::Failed, Some(&detail))
                .await;
            return ActResult::Failed(detail);
        }
    };
    let result_text = outcome.result.to_string();
    ctx.record_outcome(audit_id, AuditResult::Succeeded, Some(&result_text))
        .await;
    let expectation = verify::expectation(&action, &before.windows, target);
    let verdict = verify::check(
        &parts.desktop,
        &expectation,
        Duration::from_secs(parts.config.verify_timeout_secs),
    )
    .await;
    ActResult::Done { outcome, verdict }
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
