//! `digios image`: builds the bootable GPT disk image from Debian's kernel,
//! systemd-boot and BusyBox (unpacked by `cargo xtask image`), this
//! `digios` binary, and the programs and data it needs at run time from the
//! build machine. Same inputs, same image: fixed identifiers and timestamps.

mod cpio;
mod disk;
mod rootfs;

use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;

use cpio::{Node, Tree};
use disk::EspFile;

#[derive(Debug, Args)]
pub struct ImageArgs {
    /// Debian packages unpacked into one tree: linux-image, systemd-boot-efi, busybox-static.
    #[arg(long)]
    pub parts: PathBuf,
    /// The disk image to write.
    #[arg(long, default_value = "digios.img")]
    pub out: PathBuf,
    /// Words appended to the kernel command line (e.g. `digios.model_url=...`).
    #[arg(long, default_value = "")]
    pub cmdline: String,
    /// Size of the data partition in MiB.
    #[arg(long, default_value_t = 1024)]
    pub data_mib: u64,
    /// Make the serial port the console (where init logs and setup asks), for
    /// QEMU and machines with a serial line; default: the screen.
    #[arg(long)]
    pub serial_console: bool,
    /// Instead of digiOS, a bare static init (BusyBox) that reports on the
    /// console and powers off: the benchmark's anchor, on the same kernel,
    /// boot loader and disk layout.
    #[arg(long)]
    pub bare: bool,
    /// The digiOS binary to install (default: this one).
    #[arg(long)]
    pub digios: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(
        "{0} is missing (run `cargo xtask image`, which fetches and unpacks what the image needs)"
    )]
    Missing(PathBuf),
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error("{0} failed: {1}")]
    Tool(String, String),
}

/// The image's configuration: data on the data partition, the API on every
/// interface (so it demands the bearer token).
const IMAGE_CONFIG: &str = "\
[paths]
data_dir = \"/data/state\"
cache_dir = \"/data/cache\"

[api]
bind = \"0.0.0.0:8765\"
";

const UDHCPC_SCRIPT: &str = include_str!("udhcpc.script");

/// The benchmark's anchor: a static init that only says it is there.
const BARE_INIT: &str = "#!/usr/bin/busybox sh
/usr/bin/busybox mount -t proc proc /proc
echo \"bare init ready: uptime $(/usr/bin/busybox cut -d' ' -f1 /proc/uptime) s\"
/usr/bin/busybox poweroff -f
";

/// Every entry's timestamp: 2026-01-01 UTC.
const EPOCH: u64 = 1_767_225_600;
/// The last `console=` is where init and setup talk.
const SCREEN_CONSOLE: &str = "console=ttyS0,115200 console=tty0 quiet";
const SERIAL_CONSOLE: &str = "console=tty0 console=ttyS0,115200 quiet";

pub fn run(args: ImageArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let step = |what: &str| eprintln!("[{:>5.1} s] {what}", started.elapsed().as_secs_f64());
    let parts = &args.parts;
    let release = kernel_release(parts)?;
    let vmlinuz = parts.join(format!("boot/vmlinuz-{release}"));
    let systemd_boot = parts.join("usr/lib/systemd/boot/efi/systemd-bootx64.efi");
    let busybox = parts.join("bin/busybox");
    for path in [&vmlinuz, &systemd_boot, &busybox] {
        if !path.exists() {
            return Err(ImageError::Missing(path.clone()).into());
        }
    }
    let work = tempfile_dir(&args.out)?;

    step(&format!("root file system for kernel {release}"));
    let mut tree = Tree::default();
    if args.bare {
        tree.insert(
            "/usr/bin/busybox",
            Node::File {
                source: busybox,
                mode: 0o755,
            },
        );
        tree.insert(
            "/init",
            Node::Bytes {
                data: BARE_INIT.as_bytes().to_vec(),
                mode: 0o755,
            },
        );
        tree.insert("/proc", Node::Dir);
        tree.insert("/dev/console", Node::CharDevice(5, 1));
    } else {
        add_digios(&mut tree, &args, &work, busybox, parts, &release)?;
    }
    eprintln!("         {} MB of files", tree.content_bytes() / 1_000_000);

    step("initramfs");
    let initrd = work.join("initrd.img");
    {
        let file = std::fs::File::create(&initrd).map_err(|e| ImageError::Io(initrd.clone(), e))?;
        let mut out = BufWriter::new(file);
        tree.write_cpio(&mut out, EPOCH as u32)
            .map_err(|e| ImageError::Io(initrd.clone(), e))?;
        std::io::Write::flush(&mut out).map_err(|e| ImageError::Io(initrd.clone(), e))?;
    }

    step("EFI system partition (systemd-boot, slot A; room for slot B)");
    let loader = work.join("loader.conf");
    std::fs::write(
        &loader,
        "default digios-a.conf\ntimeout 0\nconsole-mode keep\neditor yes\n",
    )?;
    let entry = work.join("digios-a.conf");
    let console = if args.serial_console {
        SERIAL_CONSOLE
    } else {
        SCREEN_CONSOLE
    };
    let cmdline = format!("{console} {}", args.cmdline).trim().to_string();
    std::fs::write(
        &entry,
        format!(
            "title digiOS {} (slot A)\nlinux /digios/a/vmlinuz\ninitrd /digios/a/initrd.img\noptions {cmdline}\n",
            env!("CARGO_PKG_VERSION")
        ),
    )?;
    let kernel_copy = work.join("vmlinuz");
    std::fs::copy(&vmlinuz, &kernel_copy)?;
    let efi_copy = work.join("systemd-bootx64.efi");
    std::fs::copy(&systemd_boot, &efi_copy)?;
    let files = [
        EspFile {
            source: efi_copy.clone(),
            target: "/EFI/BOOT/BOOTX64.EFI".into(),
        },
        EspFile {
            source: efi_copy,
            target: "/EFI/systemd/systemd-bootx64.efi".into(),
        },
        EspFile {
            source: loader,
            target: "/loader/loader.conf".into(),
        },
        EspFile {
            source: entry,
            target: "/loader/entries/digios-a.conf".into(),
        },
        EspFile {
            source: kernel_copy.clone(),
            target: "/digios/a/vmlinuz".into(),
        },
        EspFile {
            source: initrd.clone(),
            target: "/digios/a/initrd.img".into(),
        },
    ];
    let slot = std::fs::metadata(&kernel_copy)?.len() + std::fs::metadata(&initrd)?.len();
    // Two slots (A and B, for updates with rollback) and some slack.
    let esp_size = disk::round_up_mib((slot * 2 + 16 * disk::ONE_MIB).max(64 * disk::ONE_MIB));
    let esp = work.join("esp.img");
    disk::make_esp(&esp, esp_size, &files, EPOCH)?;

    step("data partition (ext4)");
    let data = work.join("data.img");
    let data_size = args.data_mib * disk::ONE_MIB;
    disk::make_data(&data, data_size, crate::init::mounts::DATA_LABEL)?;

    step("disk (GPT)");
    let layout = disk::Layout::new(esp_size, data_size);
    disk::assemble(
        &args.out,
        &layout,
        &esp,
        &data,
        crate::init::mounts::DATA_LABEL,
    )?;
    let _ = std::fs::remove_dir_all(&work);
    step(&format!(
        "{}: {} MiB disk (ESP {} MiB with slot A {} MB, data {} MiB)",
        args.out.display(),
        layout.disk_size / disk::ONE_MIB,
        esp_size / disk::ONE_MIB,
        slot / 1_000_000,
        data_size / disk::ONE_MIB
    ));
    Ok(())
}

/// `binary` without its debug information, at `/usr/bin/<name>`.
fn add_stripped(tree: &mut Tree, work: &Path, binary: &Path, name: &str) -> anyhow::Result<()> {
    let stripped = work.join(name);
    let mut strip = std::process::Command::new("strip");
    strip
        .arg("--strip-debug")
        .arg("-o")
        .arg(&stripped)
        .arg(binary);
    disk::run(strip, "strip")?;
    rootfs::add_program(tree, &stripped, &format!("/usr/bin/{name}"))?;
    Ok(())
}

/// digiOS and what it needs at run time.
fn add_digios(
    tree: &mut Tree,
    args: &ImageArgs,
    work: &Path,
    busybox: PathBuf,
    parts: &Path,
    release: &str,
) -> anyhow::Result<()> {
    let digios = match &args.digios {
        Some(path) => path.clone(),
        None => std::env::current_exe()?,
    };
    add_stripped(tree, work, &digios, "digios")?;
    // The desktop shell is built beside `digios`.
    let shell = digios.with_file_name("digios-shell");
    anyhow::ensure!(
        shell.exists(),
        "{} is missing: build it (`cargo build -p digios-shell`)",
        shell.display()
    );
    add_stripped(tree, work, &shell, "digios-shell")?;
    rootfs::add_program(tree, Path::new("/usr/bin/foot"), "/usr/bin/foot")?;
    tree.insert(
        "/usr/bin/busybox",
        Node::File {
            source: busybox,
            mode: 0o755,
        },
    );
    tree.insert("/init", Node::Symlink("/usr/bin/digios".into()));
    // The kernel's request_module runs /sbin/modprobe.
    tree.insert("/usr/bin/modprobe", Node::Symlink("digios".into()));
    tree.insert("/bin", Node::Symlink("usr/bin".into()));
    tree.insert("/usr/bin/sh", Node::Symlink("busybox".into()));
    tree.insert("/sbin", Node::Symlink("usr/bin".into()));
    rootfs::add_standard_data(tree)?;
    let modules =
        rootfs::add_modules(tree, &parts.join(format!("lib/modules/{release}")), release)?;
    let text = |s: &str| Node::Bytes {
        data: s.as_bytes().to_vec(),
        mode: 0o644,
    };
    tree.insert("/etc/digios/digios.toml", text(IMAGE_CONFIG));
    tree.insert("/etc/passwd", text("root:x:0:0:root:/root:/bin/sh\n"));
    tree.insert("/etc/group", text("root:x:0:\ntty:x:5:\n"));
    tree.insert("/etc/hosts", text("127.0.0.1 localhost\n::1 localhost\n"));
    tree.insert("/etc/resolv.conf", Node::Symlink("/run/resolv.conf".into()));
    tree.insert(
        "/etc/os-release",
        text(&format!(
            "NAME=digiOS\nID=digios\nVERSION_ID={}\nPRETTY_NAME=\"digiOS {}\"\n",
            env!("CARGO_PKG_VERSION"),
            env!("CARGO_PKG_VERSION")
        )),
    );
    tree.insert(
        "/usr/share/digios/udhcpc.script",
        Node::Bytes {
            data: UDHCPC_SCRIPT.as_bytes().to_vec(),
            mode: 0o755,
        },
    );
    for dir in ["/root", "/data", "/proc", "/sys", "/run", "/tmp", "/var"] {
        tree.insert(dir, Node::Dir);
    }
    tree.insert("/dev/console", Node::CharDevice(5, 1));
    eprintln!("         {modules} kernel modules");
    Ok(())
}

/// The one kernel release under `parts/lib/modules`.
fn kernel_release(parts: &Path) -> Result<String, ImageError> {
    let dir = parts.join("lib/modules");
    let mut releases: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|_| ImageError::Missing(dir.clone()))?
        .flatten()
        .filter(|e| e.path().join("modules.dep").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    releases.sort();
    releases
        .pop()
        .ok_or(ImageError::Missing(dir.join("<release>/modules.dep")))
}

/// A scratch directory next to the output (same file system: no large copies across).
fn tempfile_dir(out: &Path) -> Result<PathBuf, ImageError> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let dir = parent.join(format!(
        ".{}.build",
        out.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| ImageError::Io(dir.clone(), e))?;
    Ok(dir)
}
