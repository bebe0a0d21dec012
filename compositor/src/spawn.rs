//! Starting apps whose environment points at this compositor.

use std::process::{Command, Stdio};

use digios_ipc::{Error, ErrorCode};

use crate::state::State;

impl State {
    /// Starts `command` with `WAYLAND_DISPLAY`, `DISPLAY` (once XWayland is
    /// ready) and the control socket set for this compositor; returns the pid. A thread reaps the child.
    pub fn spawn(&self, command: &[String], env: &[(String, String)]) -> Result<u32, Error> {
        let (program, args) = command.split_first().ok_or_else(|| {
            Error::new(ErrorCode::InvalidArgument, "spawn needs a program to run")
        })?;
        let mut child = Command::new(program);
        child
            .args(args)
            .env("WAYLAND_DISPLAY", &self.socket_name)
            .env(digios_ipc::SOCKET_ENV, &self.control.socket_path);
        // X11 apps open on this compositor's XWayland, never on another X server.
        match self.xwayland.display {
            Some(display) => child.env("DISPLAY", format!(":{display}")),
            None => child.env_remove("DISPLAY"),
        };
        child
            .envs(env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null());
        let mut child = child.spawn().map_err(|err| {
            Error::new(
                ErrorCode::SpawnFailed,
                format!("cannot start `{program}`: {err}"),
            )
        })?;
        let pid = child.id();
        let reaper = std::thread::Builder::new()
            .name(format!("reap-{pid}"))
            .spawn(move || {
                let _ = child.wait();
            });
        if let Err(err) = reaper {
            tracing::warn!("cannot watch child {pid}: {err}");
        }
        Ok(pid)
    }
}
