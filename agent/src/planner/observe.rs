//! What the planner sees before each decision: the windows, which one has
//! focus, and what memory holds about the goal. A screen summary and an image
//! join when vision provides them.

use serde::{Deserialize, Serialize};

use crate::desktop::Desktop;
use crate::memory::{HitKind, Memory};
use crate::vision::{AnalyzeOptions, Vision};
use digios_ipc::Window;

/// One window, as the planner describes it to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowSummary {
    pub id: u64,
    pub app_id: Option<String>,
    pub title: Option<String>,
    pub focused: bool,
    pub maximized: bool,
    pub minimized: bool,
    pub fullscreen: bool,
}

impl From<&Window> for WindowSummary {
    fn from(w: &Window) -> Self {
        Self {
            id: w.id,
            app_id: w.app_id.clone(),
            title: w.title.clone(),
            focused: w.focused,
            maximized: w.maximized,
            minimized: w.minimized,
            fullscreen: w.fullscreen,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Observation {
    /// Bottom of the stack first, as the compositor lists them.
    pub windows: Vec<Window>,
    /// Why the window list is unknown, when it is.
    pub desktop_error: Option<String>,
    /// Snippets from memory related to the goal.
    pub memory: Vec<String>,
    /// A description of the screen's content, when vision provides one.
    pub screen_summary: Option<String>,
    /// How many numbered marks the summary lists (clickable by number).
    #[serde(default)]
    pub marks: usize,
    /// A PNG of the screen, for models that take images.
    #[serde(skip)]
    pub image: Option<Vec<u8>>,
}

impl Observation {
    pub fn focused(&self) -> Option<&Window> {
        self.windows.iter().find(|w| w.focused)
    }

    /// The window list as short lines for a prompt or a stored step.
    pub fn describe(&self) -> String {
        let mut text = String::new();
        if let Some(error) = &self.desktop_error {
            text.push_str(&format!("The desktop cannot be read: {error}\n"));
        } else if self.windows.is_empty() {
            text.push_str("No windows are open.\n");
        } else {
            text.push_str("Open windows:\n");
            for window in self.windows.iter().rev() {
                text.push_str(&format!("- {}\n", describe_window(window)));
            }
        }
        if let Some(summary) = &self.screen_summary {
            text.push_str(&format!(
                "Screen (click a [n] mark by its number):\n{summary}"
            ));
        }
        if !self.memory.is_empty() {
            text.push_str("From memory:\n");
            for hit in &self.memory {
                text.push_str(&format!("- {hit}\n"));
            }
        }
        text
    }
}

pub fn describe_window(w: &Window) -> String {
    let mut line = format!(
        "window {} app {} title {:?}",
        w.id,
        w.app_id.as_deref().unwrap_or("unknown"),
        w.title.as_deref().unwrap_or("")
    );
    for (on, word) in [
        (w.focused, "focused"),
        (w.maximized, "maximized"),
        (w.minimized, "minimized"),
        (w.fullscreen, "fullscreen"),
    ] {
        if on {
            line.push_str(", ");
            line.push_str(word);
        }
    }
    line
}

/// Marks listed to the model, so the prompt stays short.
const MAX_MARKS: usize = 40;

/// Once the screen has been analyzed (a client asked for marks), each step
/// refreshes the analysis, which reads again only what changed, so the model
/// sees current numbered marks it can click. Without one no OCR runs.
pub async fn screen(vision: &Vision, observation: &mut Observation) {
    if vision.latest().is_none() {
        return;
    }
    match vision.analyze(AnalyzeOptions::default()).await {
        Ok(analysis) => {
            observation.screen_summary = Some(analysis.summary(MAX_MARKS));
            observation.marks = analysis.marks.len().min(MAX_MARKS);
        }
        Err(err) => tracing::warn!("the screen cannot be analyzed: {err}"),
    }
}

/// Reads the desktop (the event stream's mirror while it is live, so a step
/// costs no round trip); a compositor that cannot be reached is part of what
/// is observed, not a failure of the task.
pub async fn windows(desktop: &Desktop) -> Observation {
    match desktop.windows().await {
        Ok(windows) => Observation {
            windows,
            ..Observation::default()
        },
        Err(err) => Observation {
            desktop_error: Some(err.to_string()),
            ..Observation::default()
        },
    }
}

/// The window list plus memory about `goal` (excluding `task_id` itself).
pub async fn observe(
    desktop: &Desktop,
    memory: &Memory,
    goal: &str,
    task_id: i64,
    hits: u32,
) -> Observation {
    let mut observation = windows(desktop).await;
    if hits > 0 {
        match memory.search(goal, hits + 1).await {
            Ok(found) => {
                observation.memory = found
                    .into_iter()
                    .filter(|hit| !(hit.kind == HitKind::Task && hit.id == task_id))
                    .take(hits as usize)
                    .map(|hit| format!("{} {}: {}", hit.kind, hit.id, hit.snippet))
                    .collect();
            }
            Err(err) => tracing::warn!("memory search for the planner failed: {err}"),
        }
    }
    observation
}
