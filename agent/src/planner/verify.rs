//! Checking an action's effect on the compositor's own state: a launched app
//! shows a new window, a closed window is gone, a maximized one is maximized.
//! What the compositor cannot show (typed text, a click) is reported as such.

use std::collections::HashSet;
use std::time::Duration;

use digios_ipc::Window;

use crate::actions::Action;
use crate::desktop::Desktop;

/// What the desktop should show after an action.
#[derive(Debug, Clone, PartialEq)]
pub enum Expectation {
    /// A window that was not there before.
    NewWindow {
        before: HashSet<u64>,
    },
    Gone(u64),
    Focused(u64),
    Maximized(u64, bool),
    Minimized(u64, bool),
    Fullscreen(u64, bool),
    /// The compositor holds no trace of this action's effect.
    Unobservable,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Seen on the desktop; for a launch, the new window's id.
    Confirmed {
        detail: String,
        window: Option<u64>,
    },
    NotSeen(String),
    Unobservable,
}

impl Verdict {
    pub fn failed(&self) -> bool {
        matches!(self, Verdict::NotSeen(_))
    }

    pub fn describe(&self) -> String {
        match self {
            Verdict::Confirmed { detail, .. } => format!("verified: {detail}"),
            Verdict::NotSeen(detail) => format!("not verified: {detail}"),
            Verdict::Unobservable => "done (not visible in the window list)".into(),
        }
    }
}

/// What `action` should change, given the windows before it ran and the
/// window it resolved to.
pub fn expectation(action: &Action, before: &[Window], target: Option<u64>) -> Expectation {
    let Some(id) = target else {
        return match action {
            Action::LaunchApp(_) => Expectation::NewWindow {
                before: before.iter().map(|w| w.id).collect(),
            },
            _ => Expectation::Unobservable,
        };
    };
    match action {
        Action::CloseWindow(_) => Expectation::Gone(id),
        Action::FocusWindow(_) => Expectation::Focused(id),
        Action::MaximizeWindow(p) => Expectation::Maximized(id, p.on),
        Action::MinimizeWindow(p) => Expectation::Minimized(id, p.on),
        Action::FullscreenWindow(p) => Expectation::Fullscreen(id, p.on),
        _ => Expectation::Unobservable,
    }
}

/// Waits until `expectation` holds or `timeout` passes: woken by each change
/// of the desktop's mirror while the event stream is live, asking the
/// compositor every 100 ms while it is not.
pub async fn check(desktop: &Desktop, expectation: &Expectation, timeout: Duration) -> Verdict {
    if *expectation == Expectation::Unobservable {
        return Verdict::Unobservable;
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let mut mirror = desktop.watch();
    let mut last_error = None;
    loop {
        let mirrored = {
            let state = mirror.borrow_and_update();
            state.synced.then(|| holds(expectation, &state.windows))
        };
        let live = mirrored.is_some();
        let verdict = match mirrored {
            Some(verdict) => verdict,
            None => match desktop.list_windows().await {
                Ok(windows) => holds(expectation, &windows),
                Err(err) => {
                    last_error = Some(err.to_string());
                    None
                }
            },
        };
        if let Some(verdict) = verdict {
            return verdict;
        }
        let next = async {
            if !live || mirror.changed().await.is_err() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        if tokio::time::timeout_at(deadline, next).await.is_err() {
            break;
        }
    }
    let mut detail = match expectation {
        Expectation::NewWindow { .. } => "no new window appeared".to_string(),
        Expectation::Gone(id) => format!("window {id} is still open"),
        Expectation::Focused(id) => format!("window {id} did not get focus"),
        Expectation::Maximized(id, on) => state_detail(*id, "maximized", *on),
        Expectation::Minimized(id, on) => state_detail(*id, "minimized", *on),
        Expectation::Fullscreen(id, on) => state_detail(*id, "fullscreen", *on),
        Expectation::Unobservable => String::new(),
    };
    detail.push_str(&format!(" within {} s", timeout.as_secs()));
    if let Some(error) = last_error {
        detail.push_str(&format!(" ({error})"));
    }
    Verdict::NotSeen(detail)
}

fn state_detail(id: u64, state: &str, on: bool) -> String {
    if on {
        format!("window {id} is not {state}")
    } else {
        format!("window {id} is still {state}")
    }
}

fn holds(expectation: &Expectation, windows: &[Window]) -> Option<Verdict> {
    let find = |id: u64| windows.iter().find(|w| w.id == id);
    let confirmed =
        |detail: String, window: Option<u64>| Some(Verdict::Confirmed { detail, window });
    match expectation {
        Expectation::NewWindow { before } => windows
            .iter()
            .rev()
            .find(|w| !before.contains(&w.id))
            .and_then(|w| {
                confirmed(
                    format!(
                        "window {} ({}) opened",
                        w.id,
                        w.app_id.as_deref().unwrap_or("?")
                    ),
                    Some(w.id),
                )
            }),
        Expectation::Gone(id) => find(*id)
            .is_none()
            .then(|| confirmed(format!("window {id} closed"), None))
            .flatten(),
        Expectation::Focused(id) => find(*id)
            .filter(|w| w.focused)
            .and_then(|_| confirmed(format!("window {id} has focus"), Some(*id))),
        Expectation::Maximized(id, on) => find(*id)
            .filter(|w| w.maximized == *on)
            .and_then(|_| confirmed(state_word(*id, "maximized", *on), Some(*id))),
        Expectation::Minimized(id, on) => find(*id)
            .filter(|w| w.minimized == *on)
            .and_then(|_| confirmed(state_word(*id, "minimized", *on), Some(*id))),
        Expectation::Fullscreen(id, on) => find(*id)
            .filter(|w| w.fullscreen == *on)
            .and_then(|_| confirmed(state_word(*id, "fullscreen", *on), Some(*id))),
        Expectation::Unobservable => Some(Verdict::Unobservable),
    }
}

fn state_word(id: u64, state: &str, on: bool) -> String {
    if on {
        format!("window {id} is {state}")
    } else {
        format!("window {id} is no longer {state}")
    }
}
