//! The action engine: every action digiOS can take, with its parameter
//! schema, a description for the model, a risk tier, and how it is carried
//! out. The API's `/api/action`, the window and input routes, and the planner
//! all act through here.

mod catalogue;
mod desktop;
mod files;
mod processes;
mod roots;
mod shell;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use catalogue::{Action, catalogue, specs};
// The wire types live in `digios-api`, shared with every client.
pub use desktop::*;
pub use digios_api::{ActionOutcome, ActionRequest, ActionSpec, ErrorCode, Risk};
pub use files::{
    CopyFileParams, DeleteFileParams, IfExists, ListFilesParams, MoveFileParams, ReadFileParams,
    WriteFileParams,
};
pub use processes::{ListProcessesParams, SignalProcessParams, SpawnProcessParams};
pub use shell::RunShellParams;

use crate::desktop::{Desktop, DesktopError};

/// The `[actions]` section of `digios.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActionsConfig {
    /// Apps `launch_app` knows by name: name → command line.
    pub apps: BTreeMap<String, Vec<String>>,
    /// Directories the file, process and shell actions may touch (absolute or
    /// `~/...`); every path outside them is refused, symlinks included.
    pub file_roots: Vec<String>,
    /// The most `read_file` returns in one call.
    pub read_limit_bytes: u64,
    /// How long `run_shell` waits when the call names no timeout.
    pub command_timeout_seconds: u64,
    /// The longest timeout a `run_shell` call may ask for.
    pub command_timeout_max_seconds: u64,
    /// Output kept per stream (stdout, stderr) of `run_shell`; the rest is counted, not kept.
    pub command_output_limit_bytes: usize,
}

impl Default for ActionsConfig {
    fn default() -> Self {
        let foot = vec!["foot".to_string()];
        Self {
            apps: BTreeMap::from([("terminal".into(), foot.clone()), ("foot".into(), foot)]),
            file_roots: vec!["~".into()],
            read_limit_bytes: 1 << 20,
            command_timeout_seconds: 30,
            command_timeout_max_seconds: 600,
            command_output_limit_bytes: 64 << 10,
        }
    }
}

impl ActionsConfig {
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        for (name, command) in &self.apps {
            if command
                .first()
                .is_none_or(|program| program.trim().is_empty())
            {
                return Err(("apps", format!("app {name:?} has an empty command")));
            }
        }
        for root in &self.file_roots {
            if !(root == "~" || root.starts_with("~/") || root.starts_with('/')) {
                return Err((
                    "file_roots",
                    format!("{root:?} must be absolute or start with ~/"),
                ));
            }
        }
        if self.command_timeout_seconds == 0
            || self.command_timeout_seconds > self.command_timeout_max_seconds
        {
            return Err((
                "command_timeout_seconds",
                "must be at least 1 and at most command_timeout_max_seconds".into(),
            ));
        }
        if self.command_output_limit_bytes == 0 {
            return Err(("command_output_limit_bytes", "must be at least 1".into()));
        }
        Ok(())
    }

    /// The file roots as absolute paths, `~` expanded; roots under a home
    /// that is unknown are left out.
    pub fn roots(&self) -> Vec<PathBuf> {
        roots::expand_all(&self.file_roots)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error("unknown action_type {given:?}")]
    UnknownAction {
        given: String,
        valid: Vec<&'static str>,
    },
    #[error("invalid params for {action_type}: {message}")]
    InvalidParams {
        action_type: &'static str,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    /// Outside the configured roots, or a process digiOS must not touch.
    #[error("{0}")]
    Forbidden(String),
    /// The world is not in the state the action needs (the target exists, a
    /// directory is not empty).
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    SpawnFailed(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Desktop(#[from] DesktopError),
    #[error(transparent)]
    Mark(#[from] crate::vision::MarkError),
}

impl ActionError {
    /// The code every surface reports this error by (the API's error body,
    /// a skill's exception).
    pub fn code(&self) -> ErrorCode {
        match self {
            ActionError::UnknownAction { .. } => ErrorCode::UnknownAction,
            ActionError::InvalidParams { .. } => ErrorCode::InvalidParams,
            ActionError::NotFound(_) => ErrorCode::NotFound,
            ActionError::Forbidden(_) => ErrorCode::Forbidden,
            ActionError::Conflict(_) => ErrorCode::Conflict,
            ActionError::SpawnFailed(_) => ErrorCode::SpawnFailed,
            ActionError::Io { source, .. } if source.kind() == std::io::ErrorKind::StorageFull => {
                ErrorCode::StorageFull
            }
            ActionError::Io { .. } => ErrorCode::Internal,
            ActionError::Desktop(err) => desktop_code(err),
            ActionError::Mark(crate::vision::MarkError::NoAnalysis) => ErrorCode::NoAnalysis,
            ActionError::Mark(crate::vision::MarkError::Unknown { .. }) => ErrorCode::UnknownMark,
            ActionError::Mark(crate::vision::MarkError::Stale { .. }) => ErrorCode::StaleMark,
            ActionError::Mark(crate::vision::MarkError::Desktop(err)) => desktop_code(err),
        }
    }
}

/// The code of a desktop failure: the compositor's own, or unavailable.
pub fn desktop_code(err: &DesktopError) -> ErrorCode {
    use digios_ipc::ErrorCode as C;
    match err {
        DesktopError::Unavailable(_) => ErrorCode::Unavailable,
        DesktopError::Compositor(err) => match err.code {
            C::UnknownWindow => ErrorCode::UnknownWindow,
            C::UnknownOutput => ErrorCode::UnknownOutput,
            C::OutOfBounds => ErrorCode::OutOfBounds,
            C::InvalidArgument => ErrorCode::InvalidParams,
            C::UnknownKeysym => ErrorCode::UnknownKeysym,
            C::SpawnFailed => ErrorCode::SpawnFailed,
            C::TooLarge => ErrorCode::PayloadTooLarge,
            C::MalformedRequest => ErrorCode::BadRequest,
            C::Busy => ErrorCode::Unavailable,
            C::Internal => ErrorCode::Internal,
        },
    }
}

impl ActionError {
    /// An I/O failure on `path`, typed by its kind so callers can tell a
    /// missing file from a full disk.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        use std::io::ErrorKind as K;
        let context = path.display().to_string();
        match source.kind() {
            K::NotFound => ActionError::NotFound(format!("{context}: no such file or directory")),
            K::AlreadyExists => ActionError::Conflict(format!("{context} already exists")),
            K::PermissionDenied => ActionError::Forbidden(format!("{context}: permission denied")),
            K::DirectoryNotEmpty => ActionError::Conflict(format!(
                "{context} is a directory that is not empty; pass recursive=true"
            )),
            K::IsADirectory => ActionError::Conflict(format!("{context} is a directory")),
            K::NotADirectory => ActionError::Conflict(format!("{context} is not a directory")),
            _ => ActionError::Io { context, source },
        }
    }
}

/// Parses a request into a typed action: unknown types and invalid params
/// are told apart so callers can answer 400 and 422.
pub fn parse(request: &ActionRequest) -> Result<Action, ActionError> {
    let Some(spec) = specs()
        .iter()
        .find(|spec| spec.action_type == request.action_type)
    else {
        return Err(ActionError::UnknownAction {
            given: request.action_type.clone(),
            valid: specs().iter().map(|s| s.action_type).collect(),
        });
    };
    let params = if request.params.is_null() {
        Value::Object(Default::default())
    } else {
        request.params.clone()
    };
    Action::from_params(spec.action_type, params).map_err(|err| ActionError::InvalidParams {
        action_type: spec.action_type,
        message: err.to_string(),
    })
}

/// Carries out `action`: on the desktop, the file system or processes.
/// The caller has consulted the safety policy (see [`Action::paths`]).
pub async fn perform(
    desktop: &Desktop,
    config: &ActionsConfig,
    action: Action,
) -> Result<ActionOutcome, ActionError> {
    let action_type = action.action_type().to_string();
    let result = match action {
        Action::ListFiles(p) => files::list(config, p).await?,
        Action::ReadFile(p) => files::read(config, p).await?,
        Action::WriteFile(p) => files::write(config, p).await?,
        Action::MoveFile(p) => files::rename(config, p).await?,
        Action::CopyFile(p) => files::copy(config, p).await?,
        Action::DeleteFile(p) => files::delete(config, p).await?,
        Action::ListProcesses(p) => processes::list(p).await?,
        Action::SpawnProcess(p) => processes::spawn(config, p).await?,
        Action::SignalProcess(p) => processes::signal(p)?,
        Action::RunShell(p) => shell::run(config, p).await?,
        desktop_action => desktop::perform(desktop, config, desktop_action).await?,
    };
    Ok(ActionOutcome {
        action_type,
        result,
    })
}

impl Action {
    /// The paths this action touches, as the safety policy should judge them:
    /// `~` expanded and, as far as they exist, symlinks resolved, so a link
    /// cannot carry an action past a path rule. Empty for desktop actions.
    pub fn paths(&self, config: &ActionsConfig) -> Vec<PathBuf> {
        let home = roots::home();
        let real = |raw: &str| roots::real_path(raw, home.as_deref());
        match self {
            Action::ListFiles(p) => vec![real(&p.path)],
            Action::ReadFile(p) => vec![real(&p.path)],
            Action::WriteFile(p) => vec![real(&p.path)],
            Action::MoveFile(p) => vec![real(&p.from), real(&p.to)],
            Action::CopyFile(p) => vec![real(&p.from), real(&p.to)],
            Action::DeleteFile(p) => vec![real(&p.path)],
            Action::SpawnProcess(p) => {
                vec![real(p.cwd.as_deref().unwrap_or(&default_cwd(config)))]
            }
            Action::RunShell(p) => vec![real(p.cwd.as_deref().unwrap_or(&default_cwd(config)))],
            _ => Vec::new(),
        }
    }
}

/// Where commands run when the call names no directory: the first root.
fn default_cwd(config: &ActionsConfig) -> String {
    config
        .file_roots
        .first()
        .cloned()
        .unwrap_or_else(|| "/".into())
}
