//! Networking at boot: loopback up, and the first Ethernet link handed to
//! a DHCP client that runs as a supervised service.

use std::path::Path;

use crate::supervisor::Service;

/// Debian's BusyBox, for its DHCP client and the rescue shell.
pub const BUSYBOX: &str = "/usr/bin/busybox";
/// Applies a lease: address, default route, resolvers.
pub const DHCP_SCRIPT: &str = "/usr/share/digios/udhcpc.script";

/// Sets `lo` up: what every local socket (the API, the compositor) assumes.
pub fn loopback_up() -> std::io::Result<()> {
    set_link_up("lo")
}

fn set_link_up(name: &str) -> std::io::Result<()> {
    let socket = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if socket < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let result = (|| {
        let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
        for (slot, byte) in request.ifr_name.iter_mut().zip(name.bytes()) {
            *slot = byte as libc::c_char;
        }
        if unsafe { libc::ioctl(socket, libc::SIOCGIFFLAGS, &mut request) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        unsafe {
            request.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        }
        if unsafe { libc::ioctl(socket, libc::SIOCSIFFLAGS, &request) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    })();
    unsafe { libc::close(socket) };
    result
}

/// The first physical Ethernet link by name (`eth0`, `enp0s2`, ...), if any.
pub fn first_ethernet() -> Option<String> {
    let mut links: Vec<String> = std::fs::read_dir("/sys/class/net")
        .ok()?
        .flatten()
        .filter(|entry| {
            let path = entry.path();
            let ether = std::fs::read_to_string(path.join("type"))
                .map(|t| t.trim() == "1")
                .unwrap_or(false);
            ether && path.join("device").exists()
        })
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    links.sort();
    links.into_iter().next()
}

/// A DHCP client in the foreground on `link`, renewing its lease for the
/// life of the system.
pub fn dhcp_service(link: &str, hostname: &str) -> Option<Service> {
    if !Path::new(BUSYBOX).exists() {
        tracing::error!("{BUSYBOX} is missing: no DHCP client");
        return None;
    }
    let mut service = Service::digios(
        "network",
        &[
            "udhcpc",
            "-f",
            "-i",
            link,
            "-s",
            DHCP_SCRIPT,
            "-t",
            "10",
            "-T",
            "2",
            "-A",
            "5",
            "-x",
        ],
    );
    service.args.push(format!("hostname:{hostname}"));
    service.program = Some(BUSYBOX.into());
    Some(service)
}

/// Whether a default route exists (a lease was applied).
pub fn has_default_route() -> bool {
    std::fs::read_to_string("/proc/net/route")
        .map(|table| {
            table
                .lines()
                .skip(1)
                .any(|line| line.split_whitespace().nth(1) == Some("00000000"))
        })
        .unwrap_or(false)
}
