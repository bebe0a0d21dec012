//! `wait_idle`: answered once no surface has committed for the quiet period
//! (counted from the request at the earliest), or when the wait times out.
//! Checked on the frame timer.

use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use digios_ipc::{Error, ErrorCode, MAX_WAIT_MS, Reply, Response};

use crate::state::State;

pub struct IdleWait {
    reply: Sender<Reply>,
    quiet: Duration,
    /// Quiet time counts from here at the earliest, so clients get to
    /// answer input sent just before the wait.
    since: Instant,
    deadline: Instant,
}

/// Queues a wait, or answers at once if the arguments are out of range.
pub fn wait_idle(state: &mut State, quiet_ms: u32, timeout_ms: u32, reply: Sender<Reply>) {
    if quiet_ms > MAX_WAIT_MS || timeout_ms > MAX_WAIT_MS {
        let error = Error::new(
            ErrorCode::InvalidArgument,
            format!("quiet_ms and timeout_ms must be at most {MAX_WAIT_MS}"),
        );
        let _ = reply.send(Reply::Error(error));
        return;
    }
    let now = Instant::now();
    state.control.idle_waits.push(IdleWait {
        reply,
        quiet: Duration::from_millis(u64::from(quiet_ms)),
        since: now,
        deadline: now + Duration::from_millis(u64::from(timeout_ms)),
    });
    answer_idle_waits(state);
}

/// Answers every wait whose quiet period has passed or whose time is up.
pub fn answer_idle_waits(state: &mut State) {
    if state.control.idle_waits.is_empty() {
        return;
    }
    let last_commit = state.last_commit;
    let now = Instant::now();
    state.control.idle_waits.retain(|wait| {
        let quiet_for = now.duration_since(last_commit.max(wait.since));
        let answer = if quiet_for >= wait.quiet {
            Some(true)
        } else if now >= wait.deadline {
            Some(false)
        } else {
            None
        };
        match answer {
            Some(idle) => {
                let _ = wait.reply.send(Reply::Ok(Response::Idle { idle }));
                false
            }
            None => true,
        }
    });
}
