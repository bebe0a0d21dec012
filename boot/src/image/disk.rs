//! The disk: a GPT with an EFI system partition (systemd-boot, and a kernel
//! and initramfs per root slot) and the ext4 data partition. Each file
//! system is made in a file of its own with mtools and mke2fs, then copied
//! into place, so building needs neither root nor loop devices.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::ImageError;

const MIB: u64 = 1024 * 1024;
const SECTOR: u64 = 512;

/// Fixed identifiers, so the same inputs give the same image.
const DISK_GUID: &str = "6A1D2F3E-0C4B-4E5D-9F60-71829304A5B6";
const ESP_GUID: &str = "0D1E2F30-4152-4637-8899-AABBCCDDEE01";
const DATA_GUID: &str = "0D1E2F30-4152-4637-8899-AABBCCDDEE02";
const ESP_TYPE: &str = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
const LINUX_TYPE: &str = "0FC63DAF-8483-4772-8E79-3D69D8477DE4";
const DATA_FS_UUID: &str = "3c5e9a4b-8d21-4f6a-b7c3-1e0f2d4a6b8c";

/// A file that goes onto the ESP.
pub struct EspFile {
    pub source: PathBuf,
    /// Path on the ESP, e.g. `/EFI/BOOT/BOOTX64.EFI`.
    pub target: String,
}

pub fn run(mut command: Command, what: &str) -> Result<(), ImageError> {
    let output = command
        .output()
        .map_err(|e| ImageError::Tool(what.into(), e.to_string()))?;
    if !output.status.success() {
        return Err(ImageError::Tool(
            what.into(),
            format!(
                "{}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ),
        ));
    }
    Ok(())
}

/// A FAT32 ESP image of `size` bytes holding `files`.
pub fn make_esp(path: &Path, size: u64, files: &[EspFile], epoch: u64) -> Result<(), ImageError> {
    let _ = std::fs::remove_file(path);
    let mut mkfs = Command::new("mkfs.fat");
    mkfs.args([
        "-F",
        "32",
        "-n",
        "DIGIOS",
        "-i",
        "0D16105A",
        "--invariant",
        "-C",
    ])
    .arg(path)
    .arg((size / 1024).to_string());
    run(mkfs, "mkfs.fat")?;
    let mut dirs: Vec<String> = Vec::new();
    for file in files {
        let mut dir = String::new();
        let parts: Vec<&str> = file.target.trim_start_matches('/').split('/').collect();
        for part in &parts[..parts.len() - 1] {
            dir.push('/');
            dir.push_str(part);
            if !dirs.contains(&dir) {
                dirs.push(dir.clone());
            }
        }
    }
    for dir in &dirs {
        let mut mmd = Command::new("mmd");
        mmd.env("SOURCE_DATE_EPOCH", epoch.to_string())
            .arg("-i")
            .arg(path)
            .arg(format!("::{dir}"));
        run(mmd, "mmd")?;
    }
    for file in files {
        set_mtime(&file.source, epoch)?;
        let mut mcopy = Command::new("mcopy");
        mcopy
            .env("SOURCE_DATE_EPOCH", epoch.to_string())
            .args(["-m", "-o", "-i"])
            .arg(path)
            .arg(&file.source)
            .arg(format!("::{}", file.target));
        run(mcopy, "mcopy")?;
    }
    Ok(())
}

fn set_mtime(path: &Path, epoch: u64) -> Result<(), ImageError> {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(epoch);
    File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(time))
        .map_err(|e| ImageError::Io(path.to_path_buf(), e))
}

/// An empty ext4 data file system of `size` bytes labelled `label` (init
/// makes its directories on first boot; copying a seed directory in would
/// stamp the build's change times on it). It keeps its journal: after a
/// hard stop the next mount replays it.
pub fn make_data(path: &Path, size: u64, label: &str) -> Result<(), ImageError> {
    let _ = std::fs::remove_file(path);
    let mut mkfs = Command::new("mkfs.ext4");
    mkfs.env("E2FSPROGS_FAKE_TIME", "1")
        .args(["-q", "-F", "-L", label, "-U", DATA_FS_UUID, "-E"])
        .arg(format!("root_owner=0:0,hash_seed={DATA_FS_UUID}"))
        .arg(path)
        .arg(format!("{}k", size / 1024));
    run(mkfs, "mkfs.ext4")
}

pub struct Layout {
    pub esp_start: u64,
    pub esp_size: u64,
    pub data_start: u64,
    pub data_size: u64,
    pub disk_size: u64,
}

impl Layout {
    pub fn new(esp_size: u64, data_size: u64) -> Self {
        let esp_start = MIB;
        let data_start = esp_start + esp_size;
        // One MiB at the end for the backup GPT.
        let disk_size = data_start + data_size + MIB;
        Self {
            esp_start,
            esp_size,
            data_start,
            data_size,
            disk_size,
        }
    }
}

/// Writes the GPT and copies the partition images into `disk`.
pub fn assemble(
    disk: &Path,
    layout: &Layout,
    esp: &Path,
    data: &Path,
    data_label: &str,
) -> Result<(), ImageError> {
    let _ = std::fs::remove_file(disk);
    let file = File::create(disk).map_err(|e| ImageError::Io(disk.to_path_buf(), e))?;
    file.set_len(layout.disk_size)
        .map_err(|e| ImageError::Io(disk.to_path_buf(), e))?;
    drop(file);
    let script = format!(
        "label: gpt\nlabel-id: {DISK_GUID}\nunit: sectors\nfirst-lba: 2048\n\
         start={}, size={}, type={ESP_TYPE}, uuid={ESP_GUID}, name=\"EFI system partition\"\n\
         start={}, size={}, type={LINUX_TYPE}, uuid={DATA_GUID}, name=\"{data_label}\"\n",
        layout.esp_start / SECTOR,
        layout.esp_size / SECTOR,
        layout.data_start / SECTOR,
        layout.data_size / SECTOR,
    );
    let mut sfdisk = Command::new("sfdisk");
    sfdisk
        .args([
            "--quiet",
            "--no-reread",
            "--no-tell-kernel",
            "--wipe",
            "always",
        ])
        .arg(disk)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = sfdisk
        .spawn()
        .map_err(|e| ImageError::Tool("sfdisk".into(), e.to_string()))?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(script.as_bytes())
        .map_err(|e| ImageError::Tool("sfdisk".into(), e.to_string()))?;
    let output = child
        .wait_with_output()
        .map_err(|e| ImageError::Tool("sfdisk".into(), e.to_string()))?;
    if !output.status.success() {
        return Err(ImageError::Tool(
            "sfdisk".into(),
            String::from_utf8_lossy(&output.stderr).trim().to_string(),
        ));
    }
    copy_sparse(esp, disk, layout.esp_start)?;
    copy_sparse(data, disk, layout.data_start)?;
    Ok(())
}

/// Copies `from` into `to` at `offset`, only the extents `from` has data in
/// (SEEK_DATA / SEEK_HOLE), and within them only blocks that are not all
/// zero, so the disk image stays sparse and the copy quick.
fn copy_sparse(from: &Path, to: &Path, offset: u64) -> Result<(), ImageError> {
    use std::os::fd::AsRawFd;
    let io_from = |e| ImageError::Io(from.to_path_buf(), e);
    let io_to = |e| ImageError::Io(to.to_path_buf(), e);
    let mut input = File::open(from).map_err(io_from)?;
    let length = input.metadata().map_err(io_from)?.len();
    let mut output = File::options().write(true).open(to).map_err(io_to)?;
    let mut buffer = vec![0u8; MIB as usize];
    let mut position = 0u64;
    while position < length {
        let fd = input.as_raw_fd();
        let data = unsafe { libc::lseek(fd, position as libc::off_t, libc::SEEK_DATA) };
        if data < 0 {
            break; // ENXIO: only a hole remains
        }
        let hole = unsafe { libc::lseek(fd, data, libc::SEEK_HOLE) }.max(data) as u64;
        let mut at = data as u64;
        input.seek(SeekFrom::Start(at)).map_err(io_from)?;
        while at < hole {
            let want = ((hole - at) as usize).min(buffer.len());
            let read = read_full(&mut input, &mut buffer[..want]).map_err(io_from)?;
            if read == 0 {
                break;
            }
            for (index, block) in buffer[..read].chunks(4096).enumerate() {
                if block.iter().any(|&b| b != 0) {
                    output
                        .seek(SeekFrom::Start(offset + at + (index * 4096) as u64))
                        .and_then(|_| output.write_all(block))
                        .map_err(io_to)?;
                }
            }
            at += read as u64;
        }
        position = hole;
    }
    output.sync_all().map_err(io_to)
}

fn read_full(input: &mut File, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match input.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

pub fn round_up_mib(bytes: u64) -> u64 {
    bytes.div_ceil(MIB) * MIB
}

pub const ONE_MIB: u64 = MIB;
