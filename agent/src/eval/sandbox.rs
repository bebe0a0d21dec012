//! A sandbox for one task: a fresh headless compositor process and an empty
//! temporary home, both gone when the sandbox drops.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::desktop::Desktop;

/// How long a fresh compositor may take to open its control socket.
const START_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Sandbox {
    compositor: Child,
    pub desktop: Desktop,
    /// The task's home: the only file root its actions may touch.
    pub home: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sandbox {
    /// Starts `binary compositor --headless` with its own runtime dir and home.
    pub async fn start(binary: &Path) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("digios-eval-")
            .tempdir()
            .map_err(|err| format!("temporary directory: {err}"))?;
        let home = dir.path().join("home");
        let runtime = dir.path().join("run");
        for path in [&home, &runtime] {
            std::fs::create_dir_all(path)
                .map_err(|err| format!("create {}: {err}", path.display()))?;
        }
        let control = runtime.join("control.sock");
        let compositor = Command::new(binary)
            .args(["compositor", "--headless", "--socket-name", "wayland-eval"])
            .arg("--control-socket")
            .arg(&control)
            .env("HOME", &home)
            .env("XDG_RUNTIME_DIR", &runtime)
            .env("XDG_CONFIG_HOME", home.join(".config"))
            .env("XDG_DATA_HOME", home.join(".local/share"))
            .env_remove("DIGIOS_CONFIG")
            .env_remove("DIGIOS_DATA_DIR")
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("DISPLAY")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| format!("start {} compositor: {err}", binary.display()))?;
        let mut sandbox = Self {
            compositor,
            desktop: Desktop::new(control.clone()),
            home,
            _dir: dir,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        while std::os::unix::net::UnixStream::connect(&control).is_err() {
            if let Ok(Some(status)) = sandbox.compositor.try_wait() {
                return Err(format!(
                    "the evaluation compositor exited at start ({status})"
                ));
            }
            if Instant::now() > deadline {
                return Err("the evaluation compositor did not open its control socket".into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(sandbox)
    }

    /// `{home}` in `text` replaced by this sandbox's home.
    pub fn expand(&self, text: &str) -> String {
        text.replace("{home}", &self.home.display().to_string())
    }

    /// A path under the home; `..` and absolute paths stay inside it.
    pub fn path(&self, relative: &str) -> PathBuf {
        let clean: PathBuf = Path::new(relative)
            .components()
            .filter(|c| matches!(c, std::path::Component::Normal(_)))
            .collect();
        self.home.join(clean)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.compositor.kill();
        let _ = self.compositor.wait();
    }
}
