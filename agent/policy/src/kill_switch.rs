//! The global kill switch: while engaged, no task may take another step and
//! no input may be injected into the desktop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::watch;

/// Returned by every gate while the switch is engaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the kill switch is engaged; release it to let digiOS act again")]
pub struct KillSwitchEngaged;

/// Cheap to clone; every clone is the same switch.
#[derive(Debug, Clone)]
pub struct KillSwitch {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Read on every injected input event, so a lock-free load.
    engaged: AtomicBool,
    /// Wakes tasks waiting in [`KillSwitch::engaged`].
    changes: watch::Sender<bool>,
}

impl Default for KillSwitch {
    fn default() -> Self {
        Self::new()
    }
}

impl KillSwitch {
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                engaged: AtomicBool::new(false),
                changes: watch::Sender::new(false),
            }),
        }
    }

    /// Stops everything. Returns `false` if it was already engaged.
    pub fn engage(&self) -> bool {
        let was = self.inner.engaged.swap(true, Ordering::SeqCst);
        self.inner.changes.send_replace(true);
        if !was {
            tracing::warn!("kill switch engaged");
        }
        !was
    }

    /// Lets digiOS act again. Stopped tasks stay stopped. Returns `false` if
    /// it was not engaged.
    pub fn release(&self) -> bool {
        let was = self.inner.engaged.swap(false, Ordering::SeqCst);
        self.inner.changes.send_replace(false);
        if was {
            tracing::info!("kill switch released");
        }
        was
    }

    pub fn is_engaged(&self) -> bool {
        self.inner.engaged.load(Ordering::SeqCst)
    }

    /// The gate for input injection (pointer, keys, text).
    pub fn check_input(&self) -> Result<(), KillSwitchEngaged> {
        self.gate()
    }

    /// The gate before every task step and before starting a task.
    pub fn check_task(&self) -> Result<(), KillSwitchEngaged> {
        self.gate()
    }

    fn gate(&self) -> Result<(), KillSwitchEngaged> {
        if self.is_engaged() {
            Err(KillSwitchEngaged)
        } else {
            Ok(())
        }
    }

    /// Resolves once the switch is engaged (at once if it already is); a
    /// running task selects on this to stop mid-step.
    pub async fn engaged(&self) {
        let mut changes = self.inner.changes.subscribe();
        // The sender lives in `inner`, which `self` keeps alive, so this
        // cannot fail with a closed channel.
        let _ = changes.wait_for(|engaged| *engaged).await;
    }
}
