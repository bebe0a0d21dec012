//! Booting the digiOS disk image in QEMU (OVMF, q35, TCG): building the
//! image with `digios image`, the serial console as a stream of lines, the
//! API through a host port forward, and QMP for screendumps.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// `<cache>/image`, filled by `cargo xtask setup` (or `cargo xtask image`).
pub fn image_cache() -> PathBuf {
    let dir = std::env::var_os("DIGIOS_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/digios")))
        .expect("HOME or DIGIOS_CACHE_DIR")
        .join("image");
    for needed in ["parts/.unpacked", "qemu/usr/bin/qemu-system-x86_64"] {
        assert!(
            dir.join(needed).exists(),
            "{} is missing: run `cargo xtask setup`",
            dir.join(needed).display()
        );
    }
    dir
}

pub const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
pub const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";

/// Builds a disk image at `out` with `cmdline` appended to the kernel's.
pub fn build_image(out: &Path, cmdline: &str, extra: &[&str]) {
    let status = Command::new(crate::digios::binary())
        .arg("image")
        .arg("--parts")
        .arg(image_cache().join("parts"))
        .arg("--out")
        .arg(out)
        .arg("--cmdline")
        .arg(cmdline)
        .args(extra)
        .status()
        .expect("run digios image");
    assert!(status.success(), "digios image failed: {status}");
}

/// A free TCP port on 127.0.0.1 (for the API's host forward).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

#[derive(Default)]
struct Serial {
    lines: Vec<String>,
    closed: bool,
}

/// One QEMU process: killed when dropped.
pub struct Vm {
    child: Child,
    serial: Arc<(Mutex<Serial>, Condvar)>,
    pub qmp_path: PathBuf,
    pub api_port: u16,
    pub started: Instant,
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct VmOptions<'a> {
    pub image: &'a Path,
    /// The writable OVMF variable store (boot entries live there).
    pub vars: &'a Path,
    pub dir: &'a Path,
    /// Host port forwarded to the guest's 8765.
    pub api_port: u16,
}

impl Vm {
    pub fn boot(options: VmOptions<'_>) -> Vm {
        if !options.vars.exists() {
            std::fs::copy(OVMF_VARS, options.vars).expect("copy OVMF variables");
        }
        let cache = image_cache();
        let qemu = cache.join("qemu");
        let qmp_path = options.dir.join("qmp.sock");
        let _ = std::fs::remove_file(&qmp_path);
        let mut child = Command::new(qemu.join("usr/bin/qemu-system-x86_64"))
            .env(
                "QEMU_MODULE_DIR",
                qemu.join("usr/lib/x86_64-linux-gnu/qemu"),
            )
            .arg("-L")
            .arg(qemu.join("usr/share/qemu"))
            .args(["-L", "/usr/share/seabios", "-L", "/usr/lib/ipxe/qemu"])
            .args(["-machine", "q35", "-accel", "tcg", "-cpu", "max"])
            .args(["-m", "2048", "-smp", "2", "-vga", "none"])
            .arg("-drive")
            .arg(format!("if=pflash,format=raw,readonly=on,file={OVMF_CODE}"))
            .arg("-drive")
            .arg(format!(
                "if=pflash,format=raw,file={}",
                options.vars.display()
            ))
            .arg("-drive")
            .arg(format!(
                "if=none,id=disk,format=raw,file={}",
                options.image.display()
            ))
            .args(["-device", "ide-hd,drive=disk,bus=ide.0"])
            .args(["-device", "virtio-gpu-pci"])
            .arg("-nic")
            .arg(format!(
                "user,model=e1000e,hostfwd=tcp:127.0.0.1:{}-:8765",
                options.api_port
            ))
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", qmp_path.display()))
            .args(["-display", "none", "-serial", "stdio"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start qemu-system-x86_64");
        let started = Instant::now();
        let serial: Arc<(Mutex<Serial>, Condvar)> = Arc::default();
        let stdout = child.stdout.take().expect("piped stdout");
        let log_path = options.dir.join("serial.log");
        {
            let serial = serial.clone();
            std::thread::spawn(move || {
                let mut log = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log_path)
                    .ok();
                for line in BufReader::new(stdout).split(b'\n').map_while(Result::ok) {
                    let line = String::from_utf8_lossy(&line).trim_end().to_string();
                    if let Some(log) = log.as_mut() {
                        let _ = writeln!(log, "{line}");
                    }
                    if std::env::var_os("DIGIOS_QEMU_ECHO").is_some() {
                        eprintln!("guest: {line}");
                    }
                    let (lock, ready) = &*serial;
                    lock.lock().unwrap().lines.push(line);
                    ready.notify_all();
                }
                let (lock, ready) = &*serial;
                lock.lock().unwrap().closed = true;
                ready.notify_all();
            });
        }
        Vm {
            child,
            serial,
            qmp_path,
            api_port: options.api_port,
            started,
        }
    }

    /// Serial lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.serial.0.lock().unwrap().lines.clone()
    }

    /// Waits for a serial line containing `text` after line `from`; returns
    /// its index. Panics with the console's tail on timeout or exit.
    pub fn wait_for_line(&self, text: &str, from: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        let (lock, ready) = &*self.serial;
        let mut serial = lock.lock().unwrap();
        loop {
            if let Some(index) = serial.lines[from.min(serial.lines.len())..]
                .iter()
                .position(|l| l.contains(text))
            {
                return from + index;
            }
            let now = Instant::now();
            if serial.closed || now >= deadline {
                let tail: Vec<&String> = serial.lines.iter().rev().take(60).rev().collect();
                panic!(
                    "no serial line with {text:?} ({}); console tail:\n{}",
                    if serial.closed {
                        "QEMU exited"
                    } else {
                        "timed out"
                    },
                    tail.iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join("\n")
                );
            }
            serial = ready.wait_timeout(serial, deadline - now).unwrap().0;
        }
    }

    /// The API's base URL on the host.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// SIGKILL: a power cut.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for QEMU to exit by itself (the guest powered off).
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "QEMU did not exit within {timeout:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn qmp(&self) -> Qmp {
        Qmp::connect(&self.qmp_path)
    }
}

/// A QMP client: JSON commands on QEMU's monitor socket.
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    pub fn connect(path: &Path) -> Qmp {
        let deadline = Instant::now() + Duration::from_secs(30);
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(err) => {
                    assert!(Instant::now() < deadline, "QMP {}: {err}", path.display());
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        };
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let writer = stream.try_clone().unwrap();
        let mut qmp = Qmp {
            reader: BufReader::new(stream),
            writer,
        };
        let greeting = qmp.read_message();
        assert!(greeting.get("QMP").is_some(), "{greeting}");
        qmp.execute("qmp_capabilities", serde_json::json!({}));
        qmp
    }

    fn read_message(&mut self) -> serde_json::Value {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("read QMP");
        serde_json::from_str(&line).expect("QMP JSON")
    }

    /// Runs a command; returns its `return` value (events in between are skipped).
    pub fn execute(&mut self, command: &str, arguments: serde_json::Value) -> serde_json::Value {
        let request = serde_json::json!({"execute": command, "arguments": arguments});
        writeln!(self.writer, "{request}").expect("write QMP");
        loop {
            let message = self.read_message();
            if let Some(value) = message.get("return") {
                return value.clone();
            }
            if let Some(error) = message.get("error") {
                panic!("QMP {command}: {error}");
            }
        }
    }

    /// The guest's display as (width, height, RGB bytes).
    pub fn screendump(&mut self, path: &Path) -> (usize, usize, Vec<u8>) {
        let _ = std::fs::remove_file(path);
        self.execute(
            "screendump",
            serde_json::json!({"filename": path.display().to_string()}),
        );
        read_ppm(path)
    }
}

/// Reads a binary PPM (P6, maxval 255), which QMP's screendump writes.
pub fn read_ppm(path: &Path) -> (usize, usize, Vec<u8>) {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .expect("read screendump");
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(String::from_utf8_lossy(&bytes[start..at]).to_string());
    }
    assert_eq!(fields[0], "P6", "not a binary PPM");
    let width: usize = fields[1].parse().unwrap();
    let height: usize = fields[2].parse().unwrap();
    let pixels = bytes[at + 1..].to_vec();
    assert_eq!(pixels.len(), width * height * 3, "truncated PPM");
    (width, height, pixels)
}
