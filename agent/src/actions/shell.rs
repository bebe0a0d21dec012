//! `run_shell`: a command line through `/bin/sh -c`, with a timeout and a cap
//! on the output kept. The command runs in its own process group, and the
//! whole group is ended when the call returns, so nothing it started
//! outlives it (background programs belong to `spawn_process`).

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt};
use utoipa::ToSchema;

use super::roots::confine;
use super::{ActionError, ActionsConfig};

/// Longest command line accepted.
const MAX_COMMAND_BYTES: usize = 64 << 10;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RunShellParams {
    /// A command line for `/bin/sh -c`, e.g. `ls -l ~ | head`.
    pub command: String,
    /// Working directory (under the file roots; default the first root).
    pub cwd: Option<String>,
    /// Seconds before the command is killed (default and ceiling from `[actions]`).
    pub timeout_seconds: Option<f64>,
}

fn invalid(message: impl Into<String>) -> ActionError {
    ActionError::InvalidParams {
        action_type: "run_shell",
        message: message.into(),
    }
}

/// Reads a stream to its end, keeping the first `limit` bytes and counting the rest.
async fn read_capped(stream: Option<impl AsyncRead + Unpin>, limit: usize) -> (Vec<u8>, u64) {
    let Some(mut stream) = stream else {
        return (Vec::new(), 0);
    };
    let mut kept = Vec::new();
    let mut total = 0u64;
    let mut buffer = vec![0u8; 16 << 10];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                total += n as u64;
                let room = limit.saturating_sub(kept.len());
                kept.extend_from_slice(&buffer[..n.min(room)]);
            }
        }
    }
    (kept, total)
}

pub async fn run(config: &ActionsConfig, p: RunShellParams) -> Result<Value, ActionError> {
    if p.command.trim().is_empty() {
        return Err(invalid("command is empty"));
    }
    if p.command.len() > MAX_COMMAND_BYTES {
        return Err(invalid(format!(
            "command has {} bytes; at most {MAX_COMMAND_BYTES}",
            p.command.len()
        )));
    }
    if p.command.contains('\0') {
        return Err(invalid("command holds a NUL byte"));
    }
    let max = config.command_timeout_max_seconds as f64;
    let timeout = match p.timeout_seconds {
        None => config.command_timeout_seconds as f64,
        Some(t) if t.is_finite() && t > 0.0 && t <= max => t,
        Some(_) => {
            return Err(invalid(format!(
                "timeout_seconds must be above 0 and at most {max}"
            )));
        }
    };
    let cwd = match &p.cwd {
        Some(cwd) => cwd.clone(),
        None => super::default_cwd(config),
    };
    let cwd = confine(config, "run_shell", &cwd, true)?;
    let limit = config.command_output_limit_bytes;

    let started = Instant::now();
    let mut child = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(&p.command)
        .current_dir(&cwd)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| ActionError::SpawnFailed(format!("cannot start /bin/sh: {err}")))?;
    let group = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    let stdout = tokio::spawn(read_capped(child.stdout.take(), limit));
    let stderr = tokio::spawn(read_capped(child.stderr.take(), limit));

    let waited = tokio::time::timeout(Duration::from_secs_f64(timeout), child.wait()).await;
    if let Some(group) = group {
        let _ = killpg(group, Signal::SIGKILL);
    }
    let (timed_out, status) = match waited {
        Ok(Ok(status)) => (false, Some(status)),
        Ok(Err(err)) => {
            return Err(ActionError::SpawnFailed(format!(
                "waiting for the command: {err}"
            )));
        }
        Err(_) => (true, child.wait().await.ok()),
    };
    let collect = |handle: tokio::task::JoinHandle<(Vec<u8>, u64)>| async move {
        match tokio::time::timeout(Duration::from_secs(5), handle).await {
            Ok(Ok(read)) => read,
            _ => (Vec::new(), 0),
        }
    };
    let (out, out_total) = collect(stdout).await;
    let (err, err_total) = collect(stderr).await;
    Ok(json!({
        "command": p.command,
        "cwd": cwd,
        "exit_code": status.and_then(|s| s.code()),
        "signal": status.and_then(|s| s.signal()),
        "timed_out": timed_out,
        "duration_ms": started.elapsed().as_millis() as u64,
        "stdout": String::from_utf8_lossy(&out),
        "stderr": String::from_utf8_lossy(&err),
        "stdout_bytes": out_total,
        "stderr_bytes": err_total,
        "stdout_truncated": out_total > out.len() as u64,
        "stderr_truncated": err_total > err.len() as u64,
    }))
}
