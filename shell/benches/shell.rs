//! The shell's figures: frame time of the software painter against egui's
//! wgpu renderer on lavapipe (the anchor, same views, same run), and the
//! idle CPU, frames drawn while idle and memory of a running `digios-shell`
//! against foot's on the same headless compositor. Prints; asserts nothing.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use digios_shell::api::Window;
use digios_shell::model::{Drawer, Model, Severity};
use digios_shell::software::{Canvas, Textures};
use digios_shell::{Update, launcher, views};
use serde_json::json;

fn main() {
    println!("== digios-shell benchmarks");
    frame_times();
    match idle_figures() {
        Ok(()) => {}
        Err(err) => println!("idle CPU and memory: skipped ({err})"),
    }
}

/// A busy model: windows, a task with steps and a confirmation, history,
/// notifications. Bench data only.
fn busy_model() -> Model {
    let mut model = Model::new(launcher::configured_apps());
    model.clock = "12:00".into();
    model.apply(Update::Connected);
    model.apply(Update::Model(Ok("smollm2-135m-instruct".into())));
    model.apply(Update::Windows(
        (1..=6)
            .map(|id| Window {
                id,
                app_id: Some("foot".into()),
                title: Some(format!("terminal {id}")),
                focused: id == 3,
                minimized: false,
            })
            .collect(),
    ));
    let history = (1..=50)
        .rev()
        .map(|id| {
            serde_json::from_value(json!({
                "id": id, "goal": format!("open a terminal and list the files, take {id}"),
                "state": "succeeded", "result": "done"
            }))
            .unwrap()
        })
        .collect();
    model.apply(Update::History(Some(history)));
    let steps: Vec<_> = (0..8)
        .map(|i| {
            json!({"id": i, "task_id": 51, "index": i, "thought": "the terminal is open, now type the command",
                   "tool_call": {"action_type": "type_text", "params": {"text": "ls -la"}},
                   "observation": "typed 6 characters", "outcome": "ok", "duration_ms": 120})
        })
        .collect();
    let task = serde_json::from_value(json!({
        "id": 51, "goal": "delete the old downloads", "state": "awaiting_confirmation", "steps": steps,
        "pending_confirmation": {"action_type": "run_command", "params": {"argv": ["rm", "-r", "Downloads/old"]},
                                  "risk": "confirm", "reason": "deletes files"}
    }))
    .unwrap();
    model.apply(Update::Task(task));
    model.notify(Severity::Info, "Started foot", "");
    model.notify(Severity::Error, "Could not launch gimp", "no such app");
    model
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

type View = fn(&mut egui::Ui, &mut Model);

fn panel_view(ui: &mut egui::Ui, model: &mut Model) {
    views::panel(ui, model);
}

fn chat_view(ui: &mut egui::Ui, model: &mut Model) {
    views::drawer_frame(ui, |ui| views::chat(ui, model));
}

/// One full software frame: layout, tessellation, painting.
fn software_frame(
    ctx: &egui::Context,
    textures: &mut Textures,
    canvas: &mut Canvas,
    model: &mut Model,
    view: View,
    size: egui::Vec2,
) {
    let input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, size)),
        ..Default::default()
    };
    let mut output = ctx.run_ui(input, |ui| view(ui, model));
    textures.set(&mut output.textures_delta);
    let primitives = ctx.tessellate(output.shapes, output.pixels_per_point);
    canvas.paint(&primitives, textures, output.pixels_per_point);
    textures.free(&mut output.textures_delta);
}

fn frame_times() {
    for (name, view, size, frames) in [
        (
            "panel 1280x30",
            panel_view as View,
            egui::vec2(1280.0, views::PANEL_HEIGHT),
            200,
        ),
        ("chat 440x560", chat_view as View, views::DRAWER_SIZE, 100),
    ] {
        let mut model = busy_model();
        model.drawer = Some(Drawer::Chat);
        model.selected_task = Some(51);
        let ctx = egui::Context::default();
        views::configure(&ctx);
        let mut textures = Textures::default();
        let mut canvas = Canvas::new(size.x as usize, size.y as usize);
        for _ in 0..3 {
            software_frame(&ctx, &mut textures, &mut canvas, &mut model, view, size);
        }
        let software = median(
            (0..frames)
                .map(|_| {
                    let start = Instant::now();
                    software_frame(&ctx, &mut textures, &mut canvas, &mut model, view, size);
                    start.elapsed()
                })
                .collect(),
        );

        let mut harness = egui_kittest::Harness::builder()
            .with_size(size)
            .wgpu()
            .with_context_setup(views::configure)
            .build_ui_state(move |ui, model: &mut Model| view(ui, model), model);
        let _ = harness.render();
        let wgpu = median(
            (0..frames / 4)
                .map(|_| {
                    let start = Instant::now();
                    harness.step();
                    let _ = harness.render();
                    start.elapsed()
                })
                .collect(),
        );
        println!(
            "frame {name}: software {:.2} ms, wgpu on lavapipe {:.2} ms (anchor), ratio {:.2}",
            software.as_secs_f64() * 1e3,
            wgpu.as_secs_f64() * 1e3,
            software.as_secs_f64() / wgpu.as_secs_f64()
        );
    }
}

/// The `digios` binary next to this benchmark's profile, else the debug one
/// the test build makes.
fn digios_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let target = exe
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .ok_or("no target directory")?;
    ["release", "debug"]
        .iter()
        .map(|profile| target.join(profile).join("digios"))
        .find(|p| p.exists())
        .ok_or_else(|| "no digios binary: run `cargo build -p digios-boot`".into())
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// CPU seconds (user + system) a process has used.
fn cpu_seconds(pid: u32) -> Result<f64, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| e.to_string())?;
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .ok_or("bad stat")?
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().map_err(|e| e.to_string())?
        + fields[12].parse::<f64>().map_err(|e| e.to_string())?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok(ticks / hz)
}

fn memory_kib(pid: u32, field: &str) -> Result<u64, String> {
    let status =
        std::fs::read_to_string(format!("/proc/{pid}/status")).map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| format!("no {field} for {pid}"))
}

fn idle_figures() -> Result<(), String> {
    let digios = digios_binary()?;
    let runtime = tempfile::tempdir().map_err(|e| e.to_string())?;
    let home = tempfile::tempdir().map_err(|e| e.to_string())?;
    let display = "wayland-digios-bench";
    let control = runtime.path().join("control.sock");
    let env = |command: &mut Command| {
        command
            .env("XDG_RUNTIME_DIR", runtime.path())
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("DIGIOS_CACHE_DIR", home.path().join("cache"))
            .env_remove("DIGIOS_CONFIG");
    };
    let mut compositor = Command::new(&digios);
    env(&mut compositor);
    let _compositor = Killed(
        compositor
            .args([
                "compositor",
                "--headless",
                "--socket-name",
                display,
                "--control-socket",
            ])
            .arg(&control)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::os::unix::net::UnixStream::connect(&control).is_err() {
        if Instant::now() > deadline {
            return Err("the compositor did not start".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut agent = Command::new(&digios);
    env(&mut agent);
    let mut agent = Killed(
        agent
            .env("WAYLAND_DISPLAY", display)
            .env("DIGIOS_COMPOSITOR_SOCKET", &control)
            .args(["agent", "--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?,
    );
    let stdout = agent.0.stdout.take().ok_or("agent stdout")?;
    let url = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.strip_prefix("digios-agent listening on ")
                .map(str::to_string)
        })
        .ok_or("the agent did not start")?;

    let frames = Arc::new(AtomicU64::new(0));
    let mut shell = Command::new(env!("CARGO_BIN_EXE_digios-shell"));
    env(&mut shell);
    let mut shell = Killed(
        shell
            .env("WAYLAND_DISPLAY", display)
            .env("DIGIOS_LOG", "digios_shell::frame=trace,warn")
            .args(["--api", &url])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?,
    );
    let stderr = shell.0.stderr.take().ok_or("shell stderr")?;
    {
        let frames = frames.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("frame drawn") {
                    frames.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    let shell_pid = shell.0.id();
    // Connected, panel drawn, status read: then nothing changes.
    std::thread::sleep(Duration::from_secs(4));

    let agent_api = ureq::Agent::new_with_defaults();
    agent_api
        .post(format!("{url}/api/apps/launch"))
        .send_json(json!({"command": ["foot", "--app-id", "bench-foot"]}))
        .map_err(|e| e.to_string())?;
    let foot_pid = (0..100)
        .find_map(|_| {
            std::thread::sleep(Duration::from_millis(100));
            let windows: serde_json::Value = agent_api
                .get(format!("{url}/api/windows"))
                .call()
                .ok()?
                .body_mut()
                .read_json()
                .ok()?;
            windows
                .as_array()?
                .iter()
                .find(|w| w["app_id"] == json!("bench-foot"))
                .and_then(|w| w["pid"].as_u64())
        })
        .ok_or("foot did not start")? as u32;
    std::thread::sleep(Duration::from_secs(2));

    let window = Duration::from_secs(10);
    let (shell_cpu, foot_cpu) = (cpu_seconds(shell_pid)?, cpu_seconds(foot_pid)?);
    let frames_before = frames.load(Ordering::Relaxed);
    std::thread::sleep(window);
    let shell_cpu = cpu_seconds(shell_pid)? - shell_cpu;
    let foot_cpu = cpu_seconds(foot_pid)? - foot_cpu;
    let idle_frames = frames.load(Ordering::Relaxed) - frames_before;
    let percent = |cpu: f64| cpu / window.as_secs_f64() * 100.0;
    println!(
        "idle {} s: digios-shell {:.2} % CPU, {} frames drawn; foot {:.2} % CPU (anchor)",
        window.as_secs(),
        percent(shell_cpu),
        idle_frames,
        percent(foot_cpu)
    );
    let (shell_rss, foot_rss) = (
        memory_kib(shell_pid, "VmRSS:")?,
        memory_kib(foot_pid, "VmRSS:")?,
    );
    println!(
        "memory: digios-shell RSS {:.1} MiB (peak {:.1} MiB); foot RSS {:.1} MiB (anchor), ratio {:.2}",
        shell_rss as f64 / 1024.0,
        memory_kib(shell_pid, "VmHWM:")? as f64 / 1024.0,
        foot_rss as f64 / 1024.0,
        shell_rss as f64 / foot_rss as f64
    );
    let _ = nix_kill(foot_pid);
    Ok(())
}

fn nix_kill(pid: u32) -> std::io::Result<()> {
    // SAFETY: kill(2) with a pid we read from the API for a window we launched.
    if unsafe { libc::kill(pid as i32, libc::SIGTERM) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
