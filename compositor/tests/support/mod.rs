//! Test fixture: a real compositor process on the headless backend with a
//! private XDG_RUNTIME_DIR, real Wayland clients from Debian, and helpers
//! that wait with deadlines so no test can hang.

#![allow(dead_code)]

pub mod probe;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use smithay::reexports::rustix::process::{Pid, Signal, kill_process};

use digios_ipc::{
    CaptureRequest, CaptureTarget, Client, ImageFormat, Rect, Request, Response, Window,
};

/// Upper bound for anything a test waits on.
pub const DEADLINE: Duration = Duration::from_secs(30);
/// Every process the fixture starts is killed after this long, whatever happens.
const PROCESS_LIFETIME_SECS: &str = "180";

/// The desktop background in captures (render::BACKGROUND as 8-bit).
pub const BACKGROUND: [u8; 4] = [28, 33, 41, 255];
/// Focused title bar colour.
pub const FOCUSED_BAR: [u8; 4] = [0x2b, 0x4f, 0x8a, 0xff];
pub const UNFOCUSED_BAR: [u8; 4] = [0x4a, 0x4a, 0x4a, 0xff];
/// foot's default background colour.
pub const FOOT_BACKGROUND: [u8; 4] = [0x11, 0x11, 0x11, 0xff];
pub const TITLE_BAR_HEIGHT: i32 = 24;

pub struct Compositor {
    process: Child,
    pub runtime_dir: tempfile::TempDir,
    pub display: String,
    pub control: PathBuf,
    clients: Vec<Child>,
}

impl Compositor {
    /// A compositor with one 1280x800 output.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A compositor with extra arguments, without XWayland.
    pub fn start_with(args: &[&str]) -> Self {
        Self::spawn(args, false, None)
    }

    /// A compositor that also starts XWayland.
    pub fn start_with_xwayland(args: &[&str]) -> Self {
        Self::spawn(args, true, None)
    }

    /// A compositor on the nested (winit) backend whose window is a client
    /// of `host`.
    pub fn start_nested(host: &Compositor, args: &[&str]) -> Self {
        let host_socket = host.runtime_dir.path().join(&host.display);
        Self::spawn(args, false, Some(host_socket))
    }

    /// `host`: the Wayland socket a nested compositor opens its window on;
    /// headless when `None`.
    fn spawn(args: &[&str], xwayland: bool, host: Option<PathBuf>) -> Self {
        let runtime_dir = tempfile::Builder::new()
            .prefix("digios-compositor-test")
            .tempdir()
            .expect("creating a runtime dir");
        let display = "wl-digios-test".to_string();
        let control = runtime_dir.path().join("control.sock");
        let log = std::fs::File::create(runtime_dir.path().join("compositor.log"))
            .expect("creating the log");
        let process = Command::new("timeout")
            .args(["-s", "KILL", PROCESS_LIFETIME_SECS])
            .arg(env!("CARGO_BIN_EXE_digios-compositor"))
            .args(match host {
                Some(_) => ["--backend", "winit"],
                None => ["--backend", "headless"],
            })
            .args(["--socket-name", &display])
            .arg("--control-socket")
            .arg(&control)
            .args(args)
            .args((!xwayland).then_some("--no-xwayland"))
            .env("XDG_RUNTIME_DIR", runtime_dir.path())
            .env("DIGIOS_LOG", "warn")
            .env_remove("WAYLAND_DISPLAY")
            .envs(host.map(|socket| ("WAYLAND_DISPLAY", socket)))
            .env_remove("DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting digios-compositor");
        let compositor = Self {
            process,
            runtime_dir,
            display,
            control,
            clients: Vec::new(),
        };
        compositor.wait_until("the control socket answers", || {
            let mut client = Client::connect(&compositor.control).ok()?;
            client.set_timeout(Some(Duration::from_secs(5))).ok()?;
            client.request(&Request::Version).ok()
        });
        compositor
    }

    pub fn client(&self) -> Client {
        let client = Client::connect(&self.control).expect("connecting to the control socket");
        client
            .set_timeout(Some(DEADLINE))
            .expect("setting a timeout");
        client
    }

    pub fn request(&self, request: Request) -> Response {
        self.client()
            .request(&request)
            .unwrap_or_else(|err| panic!("{request:?} failed: {err}"))
    }

    pub fn try_request(&self, request: Request) -> Result<Response, digios_ipc::ClientError> {
        self.client().request(&request)
    }

    /// Whether the compositor process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.process.try_wait(), Ok(None))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.runtime_dir.path().join("compositor.log")).unwrap_or_default()
    }

    /// Starts a Wayland client process on this compositor; killed on drop.
    pub fn launch(&mut self, program: &str, args: &[&str]) -> u32 {
        let log = std::fs::File::create(
            self.runtime_dir
                .path()
                .join(format!("{program}-{}.log", self.clients.len())),
        )
        .expect("creating a client log");
        let child = Command::new("timeout")
            .args(["-s", "KILL", PROCESS_LIFETIME_SECS])
            .arg(program)
            .args(args)
            .env("XDG_RUNTIME_DIR", self.runtime_dir.path())
            .env("WAYLAND_DISPLAY", &self.display)
            .env_remove("DISPLAY")
            // Terminals read and echo what is typed as UTF-8.
            .env("LC_ALL", "C.UTF-8")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| panic!("starting {program}: {err}"));
        let pid = child.id();
        self.clients.push(child);
        pid
    }

    /// Kills a client started with [`Self::launch`] with SIGKILL, as a crash would.
    pub fn kill_client(&mut self, pid: u32) {
        if let Some(child) = self.clients.iter_mut().find(|child| child.id() == pid) {
            for grandchild in children_of(pid) {
                signal(grandchild, Signal::KILL);
            }
            stop(child);
        }
    }

    pub fn windows(&self) -> Vec<Window> {
        match self.request(Request::Windows) {
            Response::Windows { windows } => windows,
            other => panic!("unexpected {other:?}"),
        }
    }

    pub fn window(&self, id: u64) -> Option<Window> {
        self.windows().into_iter().find(|window| window.id == id)
    }

    /// Waits for a window matching `predicate`.
    pub fn wait_for_window(&self, what: &str, predicate: impl Fn(&Window) -> bool) -> Window {
        self.wait_until(what, || self.windows().into_iter().find(|w| predicate(w)))
    }

    /// Polls `probe` until it returns `Some`, panicking after [`DEADLINE`].
    pub fn wait_until<T>(&self, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            if let Some(value) = probe() {
                return value;
            }
            if start.elapsed() > DEADLINE {
                panic!(
                    "timed out waiting for {what}\ncompositor log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts `weston-simple-shm` and waits for its window.
    pub fn simple_shm(&mut self) -> Window {
        let pid = self.launch("weston-simple-shm", &[]);
        self.wait_for_window("the weston-simple-shm window", |w| {
            w.pid
                .is_some_and(|window_pid| is_child_of(window_pid as u32, pid))
        })
    }

    /// Starts `foot` running a shell command and waits for its window.
    pub fn foot(&mut self, command: &str) -> Window {
        let before: Vec<u64> = self.windows().iter().map(|w| w.id).collect();
        self.launch("foot", &["--config=/dev/null", "-e", "sh", "-c", command]);
        self.wait_for_window("the foot window", |w| {
            w.app_id.as_deref() == Some("foot") && !before.contains(&w.id)
        })
    }

    pub fn capture(&self, target: CaptureTarget, overlays: Overlays) -> Capture {
        let request = CaptureRequest {
            target,
            format: ImageFormat::Rgba,
            reticle: overlays.reticle,
            grid: overlays.grid,
            marks: overlays.marks,
        };
        match self.request(Request::Capture(request)) {
            Response::Image(image) => Capture {
                width: image.width as i32,
                height: image.height as i32,
                area: image.area,
                scale: image.scale,
                pixels: image.data,
            },
            other => panic!("unexpected {other:?}"),
        }
    }

    pub fn screen(&self) -> Capture {
        self.capture(CaptureTarget::Screen, Overlays::default())
    }

    pub fn pointer_move(&self, x: f64, y: f64) {
        self.request(Request::PointerMove { x, y });
    }
}

impl Drop for Compositor {
    fn drop(&mut self) {
        for child in &mut self.clients {
            stop(child);
        }
        stop(&mut self.process);
    }
}

fn signal(pid: u32, signal: Signal) {
    if let Some(pid) = Pid::from_raw(pid as i32) {
        let _ = kill_process(pid, signal);
    }
}

/// Ends a process started under `timeout`: SIGTERM, which `timeout` passes
/// on to its command, then SIGKILL if it lingers.
fn stop(child: &mut Child) {
    signal(child.id(), Signal::TERM);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    for grandchild in children_of(child.id()) {
        signal(grandchild, Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Direct children of a process, from /proc.
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| is_child_of(pid, parent))
        .collect()
}

/// Whether `pid`'s parent is `parent` (clients run under `timeout`).
pub fn is_child_of(pid: u32, parent: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let after_name = stat.rsplit_once(')')?.1;
            after_name.split_whitespace().nth(1)?.parse::<u32>().ok()
        })
        == Some(parent)
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Overlays {
    pub reticle: bool,
    pub grid: Option<u32>,
    pub marks: bool,
}

/// A raw RGBA capture.
pub struct Capture {
    pub width: i32,
    pub height: i32,
    pub area: Rect,
    pub scale: f64,
    pub pixels: Vec<u8>,
}

impl Capture {
    /// The pixel at image coordinates.
    pub fn at(&self, x: i32, y: i32) -> [u8; 4] {
        assert!(
            (0..self.width).contains(&x) && (0..self.height).contains(&y),
            "({x}, {y}) is outside the {}x{} image",
            self.width,
            self.height
        );
        let index = ((y * self.width + x) * 4) as usize;
        self.pixels[index..index + 4].try_into().unwrap()
    }

    /// The pixel at global logical coordinates.
    pub fn at_logical(&self, x: i32, y: i32) -> [u8; 4] {
        let ix = (f64::from(x - self.area.x) * self.scale).round() as i32;
        let iy = (f64::from(y - self.area.y) * self.scale).round() as i32;
        self.at(ix, iy)
    }

    /// Image coordinates where two captures of the same size differ.
    pub fn differences(&self, other: &Capture) -> Vec<(i32, i32)> {
        assert_eq!((self.width, self.height), (other.width, other.height));
        (0..self.height)
            .flat_map(|y| (0..self.width).map(move |x| (x, y)))
            .filter(|&(x, y)| self.at(x, y) != other.at(x, y))
            .collect()
    }

    /// How many pixels inside a logical rectangle have `colour`.
    pub fn count_in(&self, rect: Rect, colour: [u8; 4]) -> usize {
        let mut count = 0;
        for y in rect.y..rect.y + rect.height {
            for x in rect.x..rect.x + rect.width {
                if self.at_logical(x, y) == colour {
                    count += 1;
                }
            }
        }
        count
    }
}

/// Waits for a file to hold a line, for `foot -e sh -c 'read x; echo "$x" > FILE'`.
pub fn wait_for_file(compositor: &Compositor, path: &Path) -> String {
    compositor.wait_until(&format!("{} to be written", path.display()), || {
        let text = std::fs::read_to_string(path).ok()?;
        text.ends_with('\n').then_some(text)
    })
}
