//! The task suite as data: `assets/eval/suite.toml`, compiled into the agent
//! so nothing at run time (the improvement cycle least of all) can edit it.

use serde::{Deserialize, Serialize};

/// The suite's source, fixed at build time.
const SUITE_TOML: &str = include_str!("../../../assets/eval/suite.toml");

/// One desktop task: a goal, how to prepare the desktop, and what must hold after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalTask {
    pub name: String,
    /// What the planner is asked; `{home}` is the task's temporary home.
    pub goal: String,
    #[serde(default)]
    pub setup: Vec<SetupStep>,
    pub checks: Vec<Check>,
}

/// Prepares the desktop before the goal is given, without the planner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case", deny_unknown_fields)]
pub enum SetupStep {
    /// Starts a program on the task's compositor and waits for its window.
    Launch {
        command: Vec<String>,
        #[serde(default)]
        wait_app_id: Option<String>,
        #[serde(default)]
        wait_title: Option<String>,
    },
    /// Writes a file under the task's home.
    WriteFile { path: String, text: String },
}

/// A condition on the real state once the task has ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Check {
    /// Some window matches every given field.
    Window {
        #[serde(default)]
        app_id: Option<String>,
        #[serde(default)]
        title_contains: Option<String>,
        #[serde(default)]
        focused: Option<bool>,
        #[serde(default)]
        maximized: Option<bool>,
        #[serde(default)]
        minimized: Option<bool>,
        #[serde(default)]
        fullscreen: Option<bool>,
    },
    /// Exactly `count` windows (of `app_id`, or any) are open.
    WindowCount {
        #[serde(default)]
        app_id: Option<String>,
        count: usize,
    },
    /// A file under the home exists (or not) and holds the given text.
    File {
        path: String,
        #[serde(default = "yes")]
        exists: bool,
        #[serde(default)]
        contains: Option<String>,
        #[serde(default)]
        equals: Option<String>,
    },
    /// The window's pixels show at least `min_colors` distinct colours: it drew something.
    Pixels { app_id: String, min_colors: usize },
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SuiteFile {
    task: Vec<EvalTask>,
}

/// Every task of the built-in suite, in file order.
pub fn suite() -> Vec<EvalTask> {
    parse(SUITE_TOML).expect("the built-in suite parses (checked by a unit test)")
}

fn parse(text: &str) -> Result<Vec<EvalTask>, String> {
    let file: SuiteFile = toml::from_str(text).map_err(|err| err.to_string())?;
    let mut names = std::collections::HashSet::new();
    for task in &file.task {
        if !names.insert(task.name.as_str()) {
            return Err(format!("task {:?} appears twice", task.name));
        }
        if task.checks.is_empty() {
            return Err(format!("task {:?} has no check", task.name));
        }
    }
    Ok(file.task)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_suite_parses() {
        let tasks = parse(SUITE_TOML).unwrap();
        assert!(tasks.len() >= 8, "{} tasks", tasks.len());
    }

    #[test]
    fn a_task_without_checks_is_refused() {
        let err = parse("[[task]]\nname = \"a\"\ngoal = \"b\"\nchecks = []\n").unwrap_err();
        assert!(err.contains("no check"), "{err}");
    }
}
