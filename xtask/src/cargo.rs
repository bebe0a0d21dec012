//! Where the workspace and its build output live, and running cargo in it.

use std::path::PathBuf;
use std::process::Command;

use crate::process;

/// The workspace's root directory: xtask is one of its members.
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// The workspace's target directory, honouring `CARGO_TARGET_DIR`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The cargo that runs xtask (`CARGO`), so toolchains match, in the
/// workspace root.
pub fn command() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

/// `cargo ARGS...`, failing unless it succeeds.
pub fn run(args: &[&str]) -> Result<(), String> {
    let mut command = command();
    command.args(args);
    process::status(command, &format!("cargo {}", args.join(" ")))
}
