//! Which signal asks init for what. Ctrl-Alt-Del reaches init as SIGINT once
//! `reboot(RB_DISABLE_CAD)` is set.

use nix::sys::signal::Signal;

/// Orderly stop, then reboot: SIGINT (Ctrl-Alt-Del) and SIGTERM.
pub const REBOOT: Signal = Signal::SIGINT;
/// Orderly stop, then power off: SIGUSR2 and SIGPWR.
pub const POWEROFF: Signal = Signal::SIGUSR2;

pub const REBOOT_SIGNALS: &[i32] = &[libc::SIGINT, libc::SIGTERM];
pub const POWEROFF_SIGNALS: &[i32] = &[libc::SIGUSR2, libc::SIGPWR, libc::SIGUSR1];
