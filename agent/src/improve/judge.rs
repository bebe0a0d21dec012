//! The integration rule: a candidate goes in only if the suite improves (a
//! task newly passes, or the same tasks pass clearly faster) and nothing
//! that passed before fails now.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::eval::{EvalRun, RunState};

/// The passed tasks must take at most this share of their former time to
/// count as an improvement on speed alone.
const FASTER: f64 = 0.8;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Judgement {
    pub integrate: bool,
    pub reason: String,
    /// Tasks that passed before and fail with the candidate.
    pub regressions: Vec<String>,
    /// Tasks that failed before and pass with the candidate.
    pub newly_passing: Vec<String>,
}

pub fn judge(baseline: &EvalRun, candidate: &EvalRun) -> Judgement {
    let mut judgement = Judgement {
        integrate: false,
        reason: String::new(),
        regressions: Vec::new(),
        newly_passing: Vec::new(),
    };
    if candidate.state != RunState::Finished {
        judgement.reason = format!(
            "the candidate's suite run did not finish: {}",
            candidate.error.as_deref().unwrap_or("no reason given")
        );
        return judgement;
    }
    for before in &baseline.tasks {
        let after = candidate.passed(&before.task);
        match (before.success, after) {
            (true, false) => judgement.regressions.push(before.task.clone()),
            (false, true) => judgement.newly_passing.push(before.task.clone()),
            _ => {}
        }
    }
    let (before, after) = (baseline.score(), candidate.score());
    let scores = format!("{:.0} % → {:.0} %", before * 100.0, after * 100.0);
    if !judgement.regressions.is_empty() {
        judgement.reason = format!(
            "regression: {} passed before and fail{} now ({scores})",
            judgement.regressions.join(", "),
            if judgement.regressions.len() == 1 {
                "s"
            } else {
                ""
            }
        );
    } else if !judgement.newly_passing.is_empty() {
        judgement.integrate = true;
        judgement.reason = format!(
            "{} now pass{}, nothing regressed ({scores})",
            judgement.newly_passing.join(", "),
            if judgement.newly_passing.len() == 1 {
                "es"
            } else {
                ""
            }
        );
    } else {
        let (was, is) = (
            baseline.passed_duration_ms(),
            candidate.passed_duration_ms(),
        );
        if after > 0.0 && was > 0 && (is as f64) <= was as f64 * FASTER {
            judgement.integrate = true;
            judgement.reason = format!(
                "the same tasks pass in {is} ms instead of {was} ms, nothing regressed ({scores})"
            );
        } else {
            judgement.reason =
                format!("no task newly passes and none is clearly faster ({scores})");
        }
    }
    judgement
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::TaskResult;

    fn run(results: &[(&str, bool, u64)]) -> EvalRun {
        EvalRun {
            id: 1,
            started_at_ms: 0,
            finished_at_ms: Some(1),
            state: RunState::Finished,
            purpose: "test".into(),
            model: "m".into(),
            skills_version: "none".into(),
            success_rate: None,
            error: None,
            tasks: results
                .iter()
                .map(|(task, success, ms)| TaskResult {
                    task: task.to_string(),
                    success: *success,
                    steps: 1,
                    duration_ms: *ms,
                    error: None,
                    trace: Vec::new(),
                })
                .collect(),
        }
    }

    #[test]
    fn a_new_pass_without_regression_integrates() {
        let j = judge(
            &run(&[("a", true, 10), ("b", false, 10)]),
            &run(&[("a", true, 10), ("b", true, 10)]),
        );
        assert!(j.integrate, "{j:?}");
        assert_eq!(j.newly_passing, ["b"]);
    }

    #[test]
    fn a_regression_rejects_even_with_a_new_pass() {
        let j = judge(
            &run(&[("a", true, 10), ("b", false, 10)]),
            &run(&[("a", false, 10), ("b", true, 10)]),
        );
        assert!(!j.integrate);
        assert_eq!(j.regressions, ["a"]);
        assert!(j.reason.starts_with("regression"), "{}", j.reason);
    }

    #[test]
    fn only_clearly_faster_counts_without_a_new_pass() {
        let base = run(&[("a", true, 1000), ("b", false, 10)]);
        assert!(!judge(&base, &run(&[("a", true, 900), ("b", false, 10)])).integrate);
        assert!(judge(&base, &run(&[("a", true, 500), ("b", false, 10)])).integrate);
    }

    #[test]
    fn an_unfinished_candidate_is_rejected() {
        let mut candidate = run(&[("a", true, 10)]);
        candidate.state = RunState::Failed;
        assert!(!judge(&run(&[("a", false, 10)]), &candidate).integrate);
    }
}
