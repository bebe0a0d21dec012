//! `cargo xtask image` and `cargo xtask qemu`: fetch and unpack the Debian
//! packages the disk image is made of (kernel, systemd-boot, BusyBox) and
//! QEMU itself, build the image with `digios image`, and boot it.
//!
//! qemu-system-x86 is unpacked rather than installed: on Debian 12 with
//! qemu-utils from backports it cannot be installed. `apt-get download` +
//! `dpkg -x` need no root and touch nothing outside the cache.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cargo;
use crate::process;

/// Packages unpacked into `<cache>/image/parts`, the image's ingredients.
const IMAGE_PACKAGES: &[&str] = &["systemd-boot-efi", "busybox-static"];
/// Packages unpacked into `<cache>/image/qemu`.
const QEMU_PACKAGES: &[&str] = &[
    "qemu-system-x86",
    "qemu-system-common",
    "qemu-system-data",
    "qemu-system-gui",
];

/// `$DIGIOS_CACHE_DIR/image`, else `~/.cache/digios/image`.
pub fn cache_dir() -> PathBuf {
    let base = std::env::var_os("DIGIOS_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/digios")))
        .unwrap_or_else(|| PathBuf::from("/var/cache/digios"));
    base.join("image")
}

/// Fetches and unpacks what is missing; a second run checks and returns.
pub fn prepare() -> Result<(), String> {
    let cache = cache_dir();
    let kernel = kernel_package()?;
    let mut image = vec![kernel.as_str()];
    image.extend(IMAGE_PACKAGES);
    unpack(&cache.join("parts"), &image)?;
    let release = kernel.trim_start_matches("linux-image-");
    let parts = cache.join("parts");
    if !parts
        .join(format!("lib/modules/{release}/modules.dep"))
        .exists()
    {
        eprintln!("xtask: depmod for {release}");
        let mut depmod = Command::new("depmod");
        depmod.arg("-b").arg(&parts).arg(release);
        process::status(depmod, "depmod")?;
    }
    unpack(&cache.join("qemu"), QEMU_PACKAGES)
}

/// The versioned kernel package `linux-image-amd64` points at today.
fn kernel_package() -> Result<String, String> {
    let output = Command::new("apt-cache")
        .args(["depends", "linux-image-amd64"])
        .output()
        .map_err(|e| format!("apt-cache: {e}"))?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Depends: "))
        .find(|p| p.starts_with("linux-image-"))
        .map(String::from)
        .ok_or_else(|| "apt-cache knows no linux-image-amd64 (run apt-get update)".into())
}

/// `apt-get download` + `dpkg -x` each package into `root`, once: a stamp
/// names what was unpacked there.
fn unpack(root: &Path, packages: &[&str]) -> Result<(), String> {
    let stamp = root.join(".unpacked");
    let wanted = packages.join("\n");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s == wanted) {
        return Ok(());
    }
    let debs = root.with_extension("debs");
    std::fs::create_dir_all(&debs).map_err(|e| format!("{}: {e}", debs.display()))?;
    eprintln!("xtask: downloading {}", packages.join(" "));
    let mut download = Command::new("apt-get");
    download.arg("download").args(packages).current_dir(&debs);
    process::status(download, "apt-get download")?;
    let _ = std::fs::remove_dir_all(root);
    std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
    for package in packages {
        let deb = std::fs::read_dir(&debs)
            .map_err(|e| e.to_string())?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&format!("{package}_")))
            })
            .max()
            .ok_or_else(|| format!("apt-get download left no {package}_*.deb"))?;
        eprintln!("xtask: unpacking {}", deb.display());
        let mut dpkg = Command::new("dpkg");
        dpkg.arg("-x").arg(&deb).arg(root);
        process::status(dpkg, "dpkg -x")?;
    }
    std::fs::write(&stamp, wanted).map_err(|e| e.to_string())
}

/// `cargo xtask image [--out PATH] [ARGS]`: builds `digios` and the image.
pub fn image(args: &[String]) -> Result<(), String> {
    prepare()?;
    let mut command = Command::new(cargo::target_dir().join("debug/digios"));
    command
        .arg("image")
        .arg("--parts")
        .arg(cache_dir().join("parts"));
    if !args.iter().any(|a| a == "--out") {
        command
            .arg("--out")
            .arg(cargo::target_dir().join("digios.img"));
    }
    command.args(args);
    process::status(command, "digios image")
}

/// `cargo xtask qemu [--image PATH]`: boots the image under OVMF (TCG;
/// `DIGIOS_QEMU_KVM=1` for KVM), the API forwarded to 127.0.0.1:8765, in a window when
/// a display exists, else headless with a QMP socket.
pub fn qemu(args: &[String]) -> Result<(), String> {
    let image = match args {
        [flag, path] if flag == "--image" => PathBuf::from(path),
        [] => {
            // Init and setup talk on the terminal QEMU was started from.
            image(&["--serial-console".to_string()])?;
            cargo::target_dir().join("digios.img")
        }
        _ => return Err("usage: cargo xtask qemu [--image PATH]".into()),
    };
    prepare()?;
    let qemu_root = cache_dir().join("qemu");
    let vars = cargo::target_dir().join("digios-ovmf-vars.fd");
    if !vars.exists() {
        std::fs::copy("/usr/share/OVMF/OVMF_VARS_4M.fd", &vars)
            .map_err(|e| format!("OVMF variables (apt-get install ovmf): {e}"))?;
    }
    let qmp = cargo::target_dir().join("digios-qmp.sock");
    let module_dir = qemu_root.join("usr/lib/x86_64-linux-gnu/qemu");
    let has_display =
        std::env::var_os("DISPLAY").is_some() || std::env::var_os("WAYLAND_DISPLAY").is_some();
    let windowed = has_display && loadable(&module_dir.join("ui-gtk.so"));
    if has_display && !windowed {
        eprintln!(
            "xtask: QEMU's GTK display needs libraries this machine lacks \
             (apt-get install libgtk-3-0 libvte-2.91-0); headless instead"
        );
    }
    let mut command = Command::new(qemu_root.join("usr/bin/qemu-system-x86_64"));
    command
        .env("QEMU_MODULE_DIR", &module_dir)
        .arg("-L")
        .arg(qemu_root.join("usr/share/qemu"))
        // Firmware for option ROMs: Debian's seabios and ipxe-qemu.
        .args(["-L", "/usr/share/seabios", "-L", "/usr/lib/ipxe/qemu"])
        .args(["-machine", "q35", "-m", "2048", "-smp", "2", "-vga", "none"])
        .args(accelerator())
        .arg("-drive")
        .arg("if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd")
        .arg("-drive")
        .arg(format!("if=pflash,format=raw,file={}", vars.display()))
        .arg("-drive")
        .arg(format!(
            "if=none,id=disk,format=raw,file={}",
            image.display()
        ))
        .args(["-device", "ide-hd,drive=disk,bus=ide.0"])
        .args(["-device", "virtio-gpu-pci"])
        .args(["-nic", "user,model=e1000e,hostfwd=tcp:127.0.0.1:8765-:8765"])
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", qmp.display()))
        .args(["-serial", "stdio"]);
    if windowed {
        command.args(["-display", "gtk"]);
    } else {
        command.args(["-display", "none"]);
        eprintln!("xtask: no display: headless; QMP on {}", qmp.display());
    }
    eprintln!(
        "xtask: the API will be on http://127.0.0.1:8765 (token: digios.api_token or the data partition's state/api-token)"
    );
    process::status(command, "qemu-system-x86_64")
}

/// Whether a QEMU module's shared libraries are all present.
fn loadable(module: &Path) -> bool {
    module.exists()
        && Command::new("ldd").arg(module).output().is_ok_and(|o| {
            o.status.success() && !String::from_utf8_lossy(&o.stdout).contains("not found")
        })
}

/// TCG with every CPU feature it emulates (llama.cpp wants AVX2), unless
/// `DIGIOS_QEMU_KVM=1` asks for KVM: on some hosts `/dev/kvm` opens but
/// QEMU aborts setting MSRs, so KVM is opt-in.
fn accelerator() -> Vec<&'static str> {
    if std::env::var_os("DIGIOS_QEMU_KVM").is_some_and(|v| v == "1") {
        vec!["-accel", "kvm", "-cpu", "host"]
    } else {
        vec!["-accel", "tcg", "-cpu", "max"]
    }
}
