//! Running the external programs xtask drives.

use std::process::Command;

/// Runs `command` to its end; an error naming `what` unless it succeeded.
pub fn status(mut command: Command, what: &str) -> Result<(), String> {
    match command.status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("{what} failed ({s})")),
        Err(err) => Err(format!("{what} could not start: {err}")),
    }
}
