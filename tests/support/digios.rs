//! Starting `digios` subcommands as real processes, with a private home so
//! tests never touch the developer's configuration or data.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The `digios` binary of this build (built by `cargo build --workspace`).
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // A binary of this crate lives beside `digios`.
    if let Some(sibling) = exe.parent().map(|dir| dir.join("digios"))
        && sibling.exists()
    {
        return sibling;
    }
    // target/<profile>/deps/<test> → target/<profile>/digios
    let path = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("digios"))
        .expect("test executable lives in target/<profile>/deps");
    assert!(
        path.exists(),
        "{} is missing: run `cargo build --workspace` (cargo xtask test does)",
        path.display()
    );
    path
}

/// A `digios` child process, killed when dropped.
pub struct Process {
    pub child: Child,
    pub home: tempfile::TempDir,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The model store the set-up filled (`DIGIOS_CACHE_DIR`, else `~/.cache/digios`).
pub fn model_cache_dir() -> PathBuf {
    let dir = std::env::var_os("DIGIOS_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/digios")))
        .expect("HOME or DIGIOS_CACHE_DIR");
    let model = dir.join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        model.exists(),
        "{} is missing: run `cargo xtask setup`",
        model.display()
    );
    dir
}

/// A command for `digios` with HOME, XDG dirs and DIGIOS_CONFIG pointing into
/// `home`, and the model store the set-up filled.
pub fn command(home: &Path) -> Command {
    let mut command = Command::new(binary());
    command
        .env("DIGIOS_CACHE_DIR", model_cache_dir())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env_remove("DIGIOS_CONFIG")
        .env_remove("DIGIOS_DATA_DIR");
    command
}

/// Runs `digios ctl --url <url> <args>` from a fresh home.
pub fn ctl(url: &str, args: &[&str]) -> Output {
    let home = tempfile::tempdir().expect("temp home");
    command(home.path())
        .args(["ctl", "--url", url])
        .args(args)
        .output()
        .expect("run digios ctl")
}

/// Like [`ctl`], asserting it succeeded; what it printed.
pub fn ctl_ok(url: &str, args: &[&str]) -> String {
    let output = ctl(url, args);
    assert!(
        output.status.success(),
        "digios ctl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Starts `digios agent` with `args` and waits for its "listening" line;
/// returns the process and the base URL.
pub fn start_agent(args: &[&str]) -> (Process, String) {
    start_agent_with_config("", args)
}

/// Like [`start_agent`], the agent reading `config` as its `digios.toml`.
pub fn start_agent_with_config(config: &str, args: &[&str]) -> (Process, String) {
    let home = tempfile::tempdir().expect("temp home");
    write_config(home.path(), config);
    let mut child = command(home.path())
        .arg("agent")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn digios agent");
    let url = read_listening_line(&mut child);
    (Process { child, home }, url)
}

/// A headless compositor and an agent wired to it, each a real process.
pub struct Desktop {
    pub agent: Process,
    pub compositor: Process,
    /// The API's base URL.
    pub url: String,
    pub runtime_dir: tempfile::TempDir,
    pub wayland_display: String,
    pub control_socket: PathBuf,
}

/// A headless `digios compositor` process and where to reach it.
pub struct Compositor {
    pub process: Process,
    pub runtime_dir: tempfile::TempDir,
    pub wayland_display: String,
    pub control_socket: PathBuf,
}

/// Starts `digios compositor --headless` and waits for its control socket.
pub fn start_compositor() -> Compositor {
    let runtime_dir = tempfile::tempdir().expect("runtime dir");
    let wayland_display = "wayland-digios-test".to_string();
    let control_socket = runtime_dir.path().join("control.sock");
    let compositor_home = tempfile::tempdir().expect("compositor home");
    let child = command(compositor_home.path())
        .env("XDG_RUNTIME_DIR", runtime_dir.path())
        .args([
            "compositor",
            "--headless",
            "--socket-name",
            &wayland_display,
        ])
        .arg("--control-socket")
        .arg(&control_socket)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn digios compositor");
    let process = Process {
        child,
        home: compositor_home,
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::os::unix::net::UnixStream::connect(&control_socket).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the compositor's control socket did not appear within 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Compositor {
        process,
        runtime_dir,
        wayland_display,
        control_socket,
    }
}

/// Starts `digios compositor --headless` and `digios agent` on a free port.
pub fn start_desktop() -> Desktop {
    start_desktop_with_config("")
}

/// Like [`start_desktop`], the agent reading `config` as its `digios.toml`.
pub fn start_desktop_with_config(config: &str) -> Desktop {
    let Compositor {
        process: compositor,
        runtime_dir,
        wayland_display,
        control_socket,
    } = start_compositor();
    let home = tempfile::tempdir().expect("agent home");
    write_config(home.path(), config);
    let (child, url) = spawn_agent(
        home.path(),
        runtime_dir.path(),
        &wayland_display,
        &control_socket,
    );
    Desktop {
        agent: Process { child, home },
        compositor,
        url,
        runtime_dir,
        wayland_display,
        control_socket,
    }
}

/// Starts `digios agent` on a free port, wired to a compositor.
fn spawn_agent(home: &Path, runtime_dir: &Path, display: &str, control: &Path) -> (Child, String) {
    spawn_agent_on(home, runtime_dir, display, control, "127.0.0.1:0")
}

fn spawn_agent_on(
    home: &Path,
    runtime_dir: &Path,
    display: &str,
    control: &Path,
    bind: &str,
) -> (Child, String) {
    let mut child = command(home)
        .env("XDG_RUNTIME_DIR", runtime_dir)
        .env("WAYLAND_DISPLAY", display)
        .env("DIGIOS_COMPOSITOR_SOCKET", control)
        .args(["agent", "--bind", bind])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn digios agent");
    let url = read_listening_line(&mut child);
    (child, url)
}

impl Desktop {
    /// Kills the agent (SIGKILL) and starts it again with the same home,
    /// configuration and data; `url` follows the new process.
    pub fn restart_agent(&mut self) {
        let _ = self.agent.child.kill();
        let _ = self.agent.child.wait();
        let (child, url) = spawn_agent(
            self.agent.home.path(),
            self.runtime_dir.path(),
            &self.wayland_display,
            &self.control_socket,
        );
        self.agent.child = child;
        self.url = url;
    }

    /// Like [`Desktop::restart_agent`], the new agent on the same address,
    /// as a supervisor restarts it; clients reconnect to the URL they had.
    pub fn restart_agent_on_same_port(&mut self) {
        let _ = self.agent.child.kill();
        let _ = self.agent.child.wait();
        let bind = self.url.trim_start_matches("http://").to_string();
        let (child, url) = spawn_agent_on(
            self.agent.home.path(),
            self.runtime_dir.path(),
            &self.wayland_display,
            &self.control_socket,
            &bind,
        );
        assert_eq!(url, self.url, "the agent came back elsewhere");
        self.agent.child = child;
    }
}

/// Writes `config` where `digios` run by [`command`] with this home reads it.
pub fn write_config(home: &Path, config: &str) {
    let dir = home.join("config/digios");
    std::fs::create_dir_all(&dir).expect("config dir");
    std::fs::write(dir.join("digios.toml"), config).expect("write digios.toml");
}

/// The Python tools the set-up installed (`cargo xtask setup`): `<cache>/venv/bin/NAME`.
pub fn python_tool(name: &str) -> PathBuf {
    let cache = std::env::var_os("DIGIOS_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/digios")))
        .expect("HOME or DIGIOS_CACHE_DIR");
    let path = cache.join("venv/bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo xtask setup`",
        path.display()
    );
    path
}

/// Every URL the agent (and each restart of it) reports on `child`'s piped stdout.
pub fn listening_urls(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("digios-agent listening on ") {
                let _ = sender.send(url.to_string());
            }
        }
    });
    receiver
}

/// Waits for the agent's listening line on its piped stdout; returns the URL.
pub fn read_listening_line(child: &mut Child) -> String {
    listening_urls(child)
        .recv_timeout(Duration::from_secs(60))
        .expect("digios agent did not report its address within 60 s")
}
