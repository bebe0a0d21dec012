//! Kernel uevents: the kernel announces monitor and device changes on a
//! netlink socket itself, so hot-plug is seen without udevd.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, LoopHandle, Mode, PostAction};

use crate::state::State;

/// The kernel's own multicast group (udevd re-broadcasts on group 2).
const KERNEL_GROUP: u32 = 1;

/// Listens for uevents; DRM changes re-read the connectors. A socket that
/// cannot be opened (a sandbox) only costs hot-plug reports.
pub fn watch(event_loop: &LoopHandle<'static, State>) {
    let socket = match open() {
        Ok(socket) => socket,
        Err(err) => {
            tracing::warn!("no hot-plug reports: cannot open the uevent socket: {err}");
            return;
        }
    };
    let source = Generic::new(socket, Interest::READ, Mode::Level);
    let inserted = event_loop.insert_source(source, |_, socket, state| {
        let mut buffer = [0u8; 8192];
        loop {
            // SAFETY: receives into a buffer of the given length.
            let read = unsafe {
                libc::recv(
                    socket.as_raw_fd(),
                    buffer.as_mut_ptr().cast(),
                    buffer.len(),
                    libc::MSG_DONTWAIT,
                )
            };
            if read <= 0 {
                break;
            }
            handle(state, &buffer[..read as usize]);
        }
        Ok(PostAction::Continue)
    });
    if let Err(err) = inserted {
        tracing::warn!("no hot-plug reports: {err}");
    }
}

fn open() -> std::io::Result<OwnedFd> {
    // SAFETY: plain socket calls; the descriptor is owned right away.
    unsafe {
        let fd = libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            libc::NETLINK_KOBJECT_UEVENT,
        );
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let socket = OwnedFd::from_raw_fd(fd);
        let mut address: libc::sockaddr_nl = std::mem::zeroed();
        address.nl_family = libc::AF_NETLINK as u16;
        address.nl_groups = KERNEL_GROUP;
        let bound = libc::bind(
            fd,
            (&address as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        );
        if bound < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(socket)
    }
}

/// A uevent is `ACTION@DEVPATH` then `KEY=VALUE` fields, NUL-separated.
fn handle(state: &mut State, message: &[u8]) {
    let fields: Vec<&str> = message
        .split(|&byte| byte == 0)
        .filter_map(|field| std::str::from_utf8(field).ok())
        .collect();
    let value = |key: &str| {
        fields
            .iter()
            .find_map(|field| field.strip_prefix(key)?.strip_prefix('='))
    };
    let (Some(action), Some(subsystem)) = (value("ACTION"), value("SUBSYSTEM")) else {
        return;
    };
    match subsystem {
        "drm" => {
            tracing::info!(
                action,
                device = value("DEVNAME").unwrap_or("?"),
                hotplug = value("HOTPLUG").is_some(),
                "DRM uevent"
            );
            if let Some(drm) = state.backend.drm() {
                drm.connectors_changed();
            }
        }
        "input" if value("DEVNAME").is_some() => {
            tracing::info!(
                action,
                device = value("DEVNAME").unwrap_or("?"),
                "input uevent"
            );
        }
        _ => {}
    }
}
