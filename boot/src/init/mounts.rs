//! The file systems init mounts: the kernel's (proc, sys, dev, run, tmp) and
//! the persistent data partition, found by its GPT partition label.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::mount::{MntFlags, MsFlags, mount, umount2};

/// The GPT partition label of the writable data partition.
pub const DATA_LABEL: &str = "digios-data";
/// Where the data partition is mounted.
pub const DATA_MOUNT: &str = "/data";

struct Early {
    source: &'static str,
    target: &'static str,
    fstype: &'static str,
    flags: MsFlags,
    data: Option<&'static str>,
}

/// proc, sysfs, devtmpfs, devpts, and tmpfs on /run, /tmp and /dev/shm.
/// A failure is logged and the rest still mounted.
pub fn mount_kernel_filesystems() {
    let nosuid_nodev = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
    let early = [
        Early {
            source: "proc",
            target: "/proc",
            fstype: "proc",
            flags: nosuid_nodev | MsFlags::MS_NOEXEC,
            data: None,
        },
        Early {
            source: "sysfs",
            target: "/sys",
            fstype: "sysfs",
            flags: nosuid_nodev | MsFlags::MS_NOEXEC,
            data: None,
        },
        Early {
            source: "devtmpfs",
            target: "/dev",
            fstype: "devtmpfs",
            flags: MsFlags::MS_NOSUID,
            data: Some("mode=0755"),
        },
        Early {
            source: "devpts",
            target: "/dev/pts",
            fstype: "devpts",
            flags: MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            data: Some("gid=5,mode=0620,ptmxmode=0666"),
        },
        Early {
            source: "tmpfs",
            target: "/dev/shm",
            fstype: "tmpfs",
            flags: nosuid_nodev,
            data: Some("mode=1777"),
        },
        Early {
            source: "tmpfs",
            target: "/run",
            fstype: "tmpfs",
            flags: nosuid_nodev,
            data: Some("mode=0755"),
        },
        Early {
            source: "tmpfs",
            target: "/tmp",
            fstype: "tmpfs",
            flags: nosuid_nodev,
            data: Some("mode=1777"),
        },
    ];
    for fs in early {
        let _ = std::fs::create_dir_all(fs.target);
        match mount(
            Some(fs.source),
            fs.target,
            Some(fs.fstype),
            fs.flags,
            fs.data,
        ) {
            Ok(()) | Err(nix::Error::EBUSY) => {}
            Err(err) => tracing::error!("cannot mount {} on {}: {err}", fs.fstype, fs.target),
        }
    }
}

/// The block device whose GPT partition label is `label`, waiting up to
/// `patience` for it to appear (disk drivers probe asynchronously).
pub fn find_partition(label: &str, patience: Duration) -> Option<PathBuf> {
    let deadline = Instant::now() + patience;
    loop {
        if let Some(device) = partition_by_label(label) {
            return Some(device);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn partition_by_label(label: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir("/sys/class/block").ok()?.flatten() {
        let uevent = std::fs::read_to_string(entry.path().join("uevent")).unwrap_or_default();
        let mut name = None;
        let mut partname = None;
        for line in uevent.lines() {
            if let Some(v) = line.strip_prefix("DEVNAME=") {
                name = Some(v.to_string());
            }
            if let Some(v) = line.strip_prefix("PARTNAME=") {
                partname = Some(v.to_string());
            }
        }
        if partname.as_deref() == Some(label)
            && let Some(name) = name
        {
            return Some(Path::new("/dev").join(name));
        }
    }
    None
}

/// Where persistent data lives this boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataState {
    /// The data partition, mounted read-write.
    Persistent(PathBuf),
    /// No usable data partition: a tmpfs, lost at power-off.
    Volatile(String),
}

/// Mounts the data partition on `DATA_MOUNT` (ext4; the journal replays
/// after a hard stop), else a tmpfs, so digiOS still runs.
pub fn mount_data(patience: Duration) -> DataState {
    let _ = std::fs::create_dir_all(DATA_MOUNT);
    let state = match find_partition(DATA_LABEL, patience) {
        None => DataState::Volatile(format!("no partition labelled {DATA_LABEL}")),
        Some(device) => match mount(
            Some(&device),
            DATA_MOUNT,
            Some("ext4"),
            MsFlags::MS_NOATIME | MsFlags::MS_NODEV | MsFlags::MS_NOSUID,
            None::<&str>,
        ) {
            Ok(()) => DataState::Persistent(device),
            Err(err) => DataState::Volatile(format!("cannot mount {}: {err}", device.display())),
        },
    };
    if let DataState::Volatile(reason) = &state {
        tracing::error!("{reason}; data will not survive a reboot");
        let _ = mount(
            Some("tmpfs"),
            DATA_MOUNT,
            Some("tmpfs"),
            MsFlags::MS_NODEV | MsFlags::MS_NOSUID,
            Some("mode=0755"),
        );
    }
    state
}

/// Unmounts everything below `/` that is not the kernel's own, deepest
/// first; a busy file system is remounted read-only instead.
pub fn unmount_all() {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let kernel = ["/proc", "/sys", "/dev", "/dev/pts", "/dev/shm", "/run", "/"];
    let mut targets: Vec<String> = mounts
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .map(|t| t.replace("\\040", " "))
        .filter(|t| !kernel.contains(&t.as_str()))
        .collect();
    targets.sort_by_key(|t| std::cmp::Reverse(t.len()));
    for target in targets {
        match umount2(target.as_str(), MntFlags::empty()) {
            Ok(()) => tracing::info!("unmounted {target}"),
            Err(err) => {
                tracing::warn!("cannot unmount {target} ({err}); remounting read-only");
                let _ = mount(
                    None::<&str>,
                    target.as_str(),
                    None::<&str>,
                    MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY,
                    None::<&str>,
                );
            }
        }
    }
}
