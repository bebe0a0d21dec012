//! Process actions: list (from /proc), spawn in the background, signal.

use std::collections::BTreeMap;

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::roots::confine;
use super::{ActionError, ActionsConfig};

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListProcessesParams {
    /// Only processes whose name or command line contains this (case-insensitive).
    pub name: Option<String>,
    /// At most this many (default 500).
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpawnProcessParams {
    /// Program and arguments, e.g. `["sleep", "60"]`; no shell is involved.
    pub command: Vec<String>,
    /// Working directory (under the file roots; default the first root).
    pub cwd: Option<String>,
    /// Extra environment variables.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalProcessParams {
    pub pid: i64,
    /// `TERM` (default), `KILL`, `INT`, `HUP`, `STOP`, `CONT`, `USR1` or `USR2`.
    pub signal: Option<String>,
}

const SIGNALS: &[(&str, Signal)] = &[
    ("TERM", Signal::SIGTERM),
    ("KILL", Signal::SIGKILL),
    ("INT", Signal::SIGINT),
    ("HUP", Signal::SIGHUP),
    ("STOP", Signal::SIGSTOP),
    ("CONT", Signal::SIGCONT),
    ("USR1", Signal::SIGUSR1),
    ("USR2", Signal::SIGUSR2),
];

fn invalid(action_type: &'static str, message: impl Into<String>) -> ActionError {
    ActionError::InvalidParams {
        action_type,
        message: message.into(),
    }
}

/// One process as /proc shows it; `None` if it vanished while being read.
fn read_process(pid: u32) -> Option<Value> {
    let dir = std::path::Path::new("/proc").join(pid.to_string());
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    // The name sits in parentheses and may itself hold spaces or parentheses.
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_string();
    let mut rest = stat.get(close + 2..)?.split_whitespace();
    let state = rest.next()?.to_string();
    let ppid: i64 = rest.next()?.parse().ok()?;
    let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
    let argv: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect();
    let status = std::fs::read_to_string(dir.join("status")).unwrap_or_default();
    let field = |key: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some(json!({
        "pid": pid,
        "ppid": ppid,
        "name": name,
        "command": argv,
        "state": state,
        "uid": field("Uid:"),
        "rss_bytes": field("VmRSS:").map(|kib| kib * 1024),
    }))
}

pub async fn list(p: ListProcessesParams) -> Result<Value, ActionError> {
    let limit = p.limit.unwrap_or(500).clamp(1, 100_000);
    let wanted = p.name.map(|n| n.to_lowercase());
    tokio::task::spawn_blocking(move || {
        let dir = std::path::Path::new("/proc");
        let entries = std::fs::read_dir(dir).map_err(|err| ActionError::io(dir, err))?;
        let mut pids: Vec<u32> = entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        pids.sort_unstable();
        let mut processes = Vec::new();
        for pid in pids {
            let Some(process) = read_process(pid) else {
                continue;
            };
            if let Some(wanted) = &wanted {
                let name = process["name"].as_str().unwrap_or("").to_lowercase();
                let command = process["command"].to_string().to_lowercase();
                if !name.contains(wanted) && !command.contains(wanted) {
                    continue;
                }
            }
            processes.push(process);
        }
        let total = processes.len();
        processes.truncate(limit);
        Ok(json!({"processes": processes, "total": total, "truncated": total > limit}))
    })
    .await
    .unwrap_or_else(|err| {
        Err(ActionError::SpawnFailed(format!(
            "process listing failed: {err}"
        )))
    })
}

pub async fn spawn(config: &ActionsConfig, p: SpawnProcessParams) -> Result<Value, ActionError> {
    let Some(program) = p.command.first().filter(|p| !p.trim().is_empty()) else {
        return Err(invalid("spawn_process", "command must name a program"));
    };
    let cwd = match &p.cwd {
        Some(cwd) => cwd.clone(),
        None => super::default_cwd(config),
    };
    let cwd = confine(config, "spawn_process", &cwd, true)?;
    let mut command = tokio::process::Command::new(program);
    command
        .args(&p.command[1..])
        .current_dir(&cwd)
        .envs(&p.env)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        // Its own process group: a signal to the agent's group spares it.
        .process_group(0);
    let mut child = command.spawn().map_err(|err| {
        ActionError::SpawnFailed(format!(
            "cannot start {program:?} in {}: {err}",
            cwd.display()
        ))
    })?;
    let pid = child.id();
    // Reap it when it exits, so it never lingers as a zombie.
    tokio::spawn(async move {
        let _ = child.wait().await;
    });
    Ok(json!({"pid": pid, "command": p.command, "cwd": cwd}))
}

pub fn signal(p: SignalProcessParams) -> Result<Value, ActionError> {
    let name = p.signal.as_deref().unwrap_or("TERM").trim().to_uppercase();
    let name = name.strip_prefix("SIG").unwrap_or(&name);
    let Some((name, signal)) = SIGNALS.iter().find(|(n, _)| *n == name) else {
        let known: Vec<&str> = SIGNALS.iter().map(|(n, _)| *n).collect();
        return Err(invalid(
            "signal_process",
            format!("unknown signal; use one of {}", known.join(", ")),
        ));
    };
    let pid = i32::try_from(p.pid)
        .ok()
        .filter(|pid| *pid > 0)
        .ok_or_else(|| invalid("signal_process", "pid must be a positive process id"))?;
    let own = std::process::id() as i32;
    if pid == 1 || pid == own || pid == std::os::unix::process::parent_id() as i32 {
        return Err(ActionError::Forbidden(format!(
            "process {pid} is digiOS itself (init, the agent or its supervisor)"
        )));
    }
    match nix::sys::signal::kill(Pid::from_raw(pid), *signal) {
        Ok(()) => Ok(json!({"pid": pid, "signal": name})),
        Err(nix::errno::Errno::ESRCH) => Err(ActionError::NotFound(format!("no process {pid}"))),
        Err(nix::errno::Errno::EPERM) => Err(ActionError::Forbidden(format!(
            "not permitted to signal process {pid}"
        ))),
        Err(err) => Err(ActionError::SpawnFailed(format!(
            "signal {name} to {pid}: {err}"
        ))),
    }
}
