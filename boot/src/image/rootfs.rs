//! What goes into the root file system (the initramfs): digiOS, the
//! programs it starts and every shared library they load, the data files
//! they read, and the kernel modules for PC and QEMU hardware.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::ImageError;
use super::cpio::{Node, Tree};

/// Data the programs read at run time: (path on the build machine, required).
const DATA: &[(&str, bool)] = &[
    ("/usr/share/X11/xkb", true),
    ("/usr/share/fonts/truetype/dejavu", true),
    ("/etc/fonts", true),
    ("/etc/ssl/certs/ca-certificates.crt", false),
    ("/usr/share/terminfo/f/foot", false),
    ("/usr/share/terminfo/f/foot-direct", false),
    ("/lib/terminfo/l/linux", false),
    ("/lib/terminfo/v/vt100", false),
    ("/lib/terminfo/x/xterm", false),
    ("/lib/terminfo/x/xterm-256color", false),
    ("/etc/xdg/foot/foot.ini", false),
    ("/usr/share/libinput", false),
    // A UTF-8 locale: foot refuses to start a shell without one.
    ("/usr/lib/locale/C.utf8", true),
];

/// Drivers a PC or QEMU may need: disks, USB, network cards, displays,
/// input, sound, and the file systems. Their dependencies come along.
pub const MODULES: &[&str] = &[
    // buses and disks
    "virtio_pci",
    "virtio_blk",
    "virtio_scsi",
    "ahci",
    "nvme",
    "sd_mod",
    "sr_mod",
    "xhci_pci",
    "ehci_pci",
    "ohci_pci",
    "uhci_hcd",
    "usb_storage",
    "uas",
    // network
    "virtio_net",
    "e1000",
    "e1000e",
    "igb",
    "igc",
    "r8169",
    "tg3",
    // display
    "virtio_gpu",
    "bochs",
    "qxl",
    "cirrus",
    // input
    "evdev",
    "usbhid",
    "hid_generic",
    "virtio_input",
    "psmouse",
    "atkbd",
    "i8042",
    // sound
    "snd_hda_intel",
    "snd_hda_codec_generic",
    "snd_hda_codec_realtek",
    "snd_hda_codec_hdmi",
    "snd_usb_audio",
    "snd_intel8x0",
    // file systems
    "ext4",
    "vfat",
    "nls_cp437",
    "nls_iso8859_1",
    "efivarfs",
    // checksums file systems and disk drivers ask the crypto API for
    "crc32c_generic",
    "crc32c_intel",
    "crct10dif_generic",
    "crct10dif_pclmul",
    "crc64_rocksoft_generic",
];

/// Adds `binary` at `target` and every library `ldd` says it loads, at the
/// same paths as on the build machine.
pub fn add_program(tree: &mut Tree, binary: &Path, target: &str) -> Result<(), ImageError> {
    if !binary.exists() {
        return Err(ImageError::Missing(binary.to_path_buf()));
    }
    tree.insert(
        target,
        Node::File {
            source: binary.to_path_buf(),
            mode: 0o755,
        },
    );
    for library in shared_libraries(binary)? {
        let source = std::fs::canonicalize(&library).unwrap_or_else(|_| library.clone());
        tree.insert(
            &library.to_string_lossy(),
            Node::File {
                source,
                mode: 0o755,
            },
        );
    }
    Ok(())
}

fn shared_libraries(binary: &Path) -> Result<BTreeSet<PathBuf>, ImageError> {
    let output = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|e| ImageError::Tool("ldd".into(), e.to_string()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if text.contains("not a dynamic executable") || !output.status.success() {
        return Ok(BTreeSet::new());
    }
    let mut libraries = BTreeSet::new();
    for line in text.lines() {
        if line.contains("not found") {
            return Err(ImageError::Tool(
                "ldd".into(),
                format!("{}: {}", binary.display(), line.trim()),
            ));
        }
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.trim().split(' ').next().unwrap_or(""),
            None => line.trim().split(' ').next().unwrap_or(""),
        };
        if path.starts_with('/') {
            libraries.insert(PathBuf::from(path));
        }
    }
    Ok(libraries)
}

/// Adds a file or a whole directory from the build machine at the same path,
/// following symlinks to files.
pub fn add_data(tree: &mut Tree, path: &Path, required: bool) -> Result<(), ImageError> {
    let metadata = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(_) if !required => return Ok(()),
        Err(_) => return Err(ImageError::Missing(path.to_path_buf())),
    };
    let target = path.to_string_lossy();
    if metadata.file_type().is_symlink() {
        let link = std::fs::read_link(path).map_err(|e| ImageError::Io(path.to_path_buf(), e))?;
        let resolved = path.parent().unwrap_or(Path::new("/")).join(&link);
        if resolved.is_dir() {
            tree.insert(&target, Node::Symlink(link.to_string_lossy().into_owned()));
            return add_data(tree, &resolved, required);
        }
        let source =
            std::fs::canonicalize(path).map_err(|e| ImageError::Io(path.to_path_buf(), e))?;
        tree.insert(
            &target,
            Node::File {
                source,
                mode: 0o644,
            },
        );
    } else if metadata.is_dir() {
        tree.insert(&target, Node::Dir);
        let mut entries: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| ImageError::Io(path.to_path_buf(), e))?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for entry in entries {
            add_data(tree, &entry, false)?;
        }
    } else {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o7777;
        tree.insert(
            &target,
            Node::File {
                source: path.to_path_buf(),
                mode,
            },
        );
    }
    Ok(())
}

pub fn add_standard_data(tree: &mut Tree) -> Result<(), ImageError> {
    for (path, required) in DATA {
        add_data(tree, Path::new(path), *required)?;
    }
    Ok(())
}

/// Adds the modules in `MODULES` and their dependencies from the kernel's
/// module tree `dir` (where `depmod` has run), with a `modules.dep` and a
/// `modules.alias` cut down to them. Returns how many modules went in.
pub fn add_modules(tree: &mut Tree, dir: &Path, release: &str) -> Result<usize, ImageError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).map_err(|e| ImageError::Io(path, e))
    };
    let dep_text = read("modules.dep")?;
    let mut deps = std::collections::HashMap::new();
    for line in dep_text.lines() {
        if let Some((file, rest)) = line.split_once(':') {
            deps.insert(
                module_name(file),
                (
                    file.to_string(),
                    rest.split_whitespace()
                        .map(String::from)
                        .collect::<Vec<_>>(),
                ),
            );
        }
    }
    let builtin: HashSet<String> = read("modules.builtin")?.lines().map(module_name).collect();
    let mut files = BTreeSet::new();
    for wanted in MODULES {
        let name = wanted.replace('-', "_");
        match deps.get(&name) {
            Some((file, dependencies)) => {
                files.insert(file.clone());
                files.extend(dependencies.iter().cloned());
            }
            None if builtin.contains(&name) => {}
            None => tracing::warn!("kernel module {wanted} is not in this kernel; left out"),
        }
    }
    let names: HashSet<String> = files.iter().map(|f| module_name(f)).collect();
    let base = format!("/lib/modules/{release}");
    for file in &files {
        tree.insert(
            &format!("{base}/{file}"),
            Node::File {
                source: dir.join(file),
                mode: 0o644,
            },
        );
    }
    let dep: String = dep_text
        .lines()
        .filter(|line| line.split_once(':').is_some_and(|(f, _)| files.contains(f)))
        .map(|line| format!("{line}\n"))
        .collect();
    let alias: String = read("modules.alias")?
        .lines()
        .filter(|line| {
            line.split_whitespace()
                .nth(2)
                .is_some_and(|m| names.contains(&m.replace('-', "_")))
        })
        .map(|line| format!("{line}\n"))
        .collect();
    tree.insert(
        &format!("{base}/modules.dep"),
        Node::Bytes {
            data: dep.into_bytes(),
            mode: 0o644,
        },
    );
    tree.insert(
        &format!("{base}/modules.alias"),
        Node::Bytes {
            data: alias.into_bytes(),
            mode: 0o644,
        },
    );
    for name in [
        "modules.builtin",
        "modules.order",
        "modules.builtin.modinfo",
        "modules.softdep",
    ] {
        if dir.join(name).exists() {
            tree.insert(
                &format!("{base}/{name}"),
                Node::File {
                    source: dir.join(name),
                    mode: 0o644,
                },
            );
        }
    }
    Ok(files.len())
}

fn module_name(file: &str) -> String {
    let base = file.rsplit('/').next().unwrap_or(file);
    base.split(".ko").next().unwrap_or(base).replace('-', "_")
}
