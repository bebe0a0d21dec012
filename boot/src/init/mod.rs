//! `digios init`: digiOS as PID 1. Mounts the kernel's file systems and the
//! data partition, loads drivers for the hardware present, brings up the
//! network, then supervises the services until asked to reboot or power
//! off. It never exits: a fatal error drops to a rescue shell on the console.

pub mod cmdline;
pub mod modules;
pub mod mounts;
pub mod network;
pub mod signals;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::sys::reboot::{RebootMode, reboot, set_cad_enabled};

use crate::config::{Config, SYSTEM_CONFIG};
use crate::supervisor::{LogSink, Ready, Service, StatusFile, Supervisor, status::STATUS_ENV};
use cmdline::KernelCmdline;

/// The configuration first-boot setup writes on the data partition; it wins
/// over the image's `/etc/digios/digios.toml` once it exists.
pub const DATA_CONFIG: &str = "/data/etc/digios.toml";
/// Written when first-boot setup has finished.
pub const SETUP_DONE: &str = "/data/etc/setup.toml";
pub const RUNTIME_DIR: &str = "/run/digios";
pub const STATUS_PATH: &str = "/run/digios/services.json";
const WAYLAND_DISPLAY: &str = "wayland-0";
const CONTROL_SOCKET: &str = "/run/digios/compositor.sock";

/// What the last signal asked for: 0 nothing, 1 reboot, 2 power off.
static REQUEST: AtomicUsize = AtomicUsize::new(0);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Reboot,
    Poweroff,
}

/// Runs as PID 1; never returns.
pub fn main() -> ! {
    let started = Instant::now();
    let result = std::panic::catch_unwind(|| boot(started));
    let stop = match result {
        Ok(Ok(stop)) => stop,
        Ok(Err(err)) => {
            eprintln!("digios init: fatal: {err:#}");
            rescue()
        }
        Err(_) => {
            eprintln!("digios init: fatal: panicked");
            rescue()
        }
    };
    finish(stop)
}

fn boot(started: Instant) -> anyhow::Result<Stop> {
    mounts::mount_kernel_filesystems();
    init_console_logging();
    tracing::info!("digiOS {} starting as init", env!("CARGO_PKG_VERSION"));
    install_signal_handlers()?;
    // Ctrl-Alt-Del becomes SIGINT to init instead of an immediate reboot.
    let _ = set_cad_enabled(false);
    let cmdline = KernelCmdline::current();

    let modules_started = Instant::now();
    match modules::ModuleTree::for_running_kernel() {
        Ok(mut tree) => {
            let opened = modules_started.elapsed();
            for module in EXPLICIT_MODULES {
                let start = Instant::now();
                if let Err(err) = tree.load(module) {
                    tracing::debug!("{err}");
                }
                tracing::debug!("{module}: {:?}", start.elapsed());
            }
            let explicit = modules_started.elapsed();
            let loaded = tree.coldplug();
            tracing::info!(
                "drivers loaded: {} (module index {:.1} s, named modules {:.1} s, coldplug {:.1} s)",
                loaded.join(" "),
                opened.as_secs_f64(),
                (explicit - opened).as_secs_f64(),
                (modules_started.elapsed() - explicit).as_secs_f64()
            );
        }
        Err(err) => tracing::error!("no kernel modules: {err}"),
    }

    match mounts::mount_data(Duration::from_secs(15)) {
        mounts::DataState::Persistent(device) => {
            tracing::info!(
                "data partition {} on {}",
                device.display(),
                mounts::DATA_MOUNT
            )
        }
        mounts::DataState::Volatile(_) => {}
    }
    for dir in [RUNTIME_DIR, "/data/etc", "/data/logs"] {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::set_permissions(
        RUNTIME_DIR,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    );

    // Setup edits the data partition's configuration, starting from the image's.
    if !Path::new(DATA_CONFIG).exists()
        && let Err(err) = std::fs::copy(SYSTEM_CONFIG, DATA_CONFIG)
    {
        tracing::error!("cannot create {DATA_CONFIG}: {err}");
    }
    let config_path = config_path();
    let config = Config::load(Some(config_path.as_path()))
        .map(|(config, _)| config)
        .unwrap_or_else(|err| {
            tracing::error!("configuration: {err}; using the defaults");
            Config::default()
        });
    let hostname = config
        .system
        .hostname
        .clone()
        .or_else(|| cmdline.get("hostname").map(String::from))
        .unwrap_or_else(|| "digios".into());
    if let Err(err) = nix::unistd::sethostname(&hostname) {
        tracing::warn!("cannot set the hostname: {err}");
    }
    if let Err(err) = network::loopback_up() {
        tracing::error!("cannot bring loopback up: {err}");
    }

    let services = services(&config, &hostname, Path::new(SETUP_DONE).exists());
    let logs = LogSink::new(Some(PathBuf::from("/data/logs")), true);
    let mut supervisor = Supervisor::new(logs, Some(StatusFile::new(STATUS_PATH.into())))?;
    let never = std::sync::atomic::AtomicBool::new(false);
    tracing::info!(
        "starting services ({:.1} s after init started)",
        started.elapsed().as_secs_f64()
    );
    supervisor.start_all(services, &never);
    tracing::info!(
        "all services started ({:.1} s after init started)",
        started.elapsed().as_secs_f64()
    );
    let stop = loop {
        match REQUEST.load(Ordering::SeqCst) {
            1 => break Stop::Reboot,
            2 => break Stop::Poweroff,
            _ => {}
        }
        supervisor.tick();
        std::thread::sleep(Duration::from_millis(100));
    };
    tracing::info!("{stop:?} requested: stopping services");
    supervisor.stop_all();
    Ok(stop)
}

/// Modules no device asks for by alias: file systems and the event devices.
const EXPLICIT_MODULES: &[&str] = &[
    // Crypto providers the disk stack asks for by name: loaded up front, the
    // kernel need not run modprobe for them.
    "crc32c_intel",
    "crct10dif_pclmul",
    "crc64_rocksoft_generic",
    "ext4",
    "vfat",
    "nls_cp437",
    "nls_iso8859_1",
    "evdev",
    "virtio_gpu",
];

fn config_path() -> PathBuf {
    if Path::new(DATA_CONFIG).exists() {
        PathBuf::from(DATA_CONFIG)
    } else {
        PathBuf::from(SYSTEM_CONFIG)
    }
}

/// The services in dependency order. First boot adds the setup step, on the console.
/// The voice service is not in the image yet (its models are large).
fn services(config: &Config, hostname: &str, set_up: bool) -> Vec<Service> {
    let mut services = Vec::new();
    match network::first_ethernet() {
        Some(link) => services.extend(network::dhcp_service(&link, hostname)),
        None => tracing::warn!("no Ethernet link: offline"),
    }
    let base = |service: Service| {
        service
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", "/root")
            .env("LANG", "C.UTF-8")
            .env("XDG_RUNTIME_DIR", RUNTIME_DIR)
            .env("DIGIOS_CONFIG", DATA_CONFIG)
            .env(STATUS_ENV, STATUS_PATH)
    };
    if !set_up {
        let mut setup = base(Service::digios("setup", &["setup"]));
        setup.kind = crate::supervisor::Kind::Oneshot;
        setup.console = true;
        services.push(setup);
    }
    let mut compositor = base(Service::digios(
        "compositor",
        &[
            "compositor",
            // The display hardware when the kernel has a DRM device for it, else headless.
            "--backend",
            "auto",
            // Xwayland is not in the image yet.
            "--no-xwayland",
            "--socket-name",
            WAYLAND_DISPLAY,
            "--control-socket",
            CONTROL_SOCKET,
        ],
    ));
    compositor.ready = Ready::Socket(CONTROL_SOCKET.into());
    services.push(compositor);
    let mut models = base(Service::digios("models", &["setup", "--fetch-model"]));
    models.kind = crate::supervisor::Kind::Oneshot;
    services.push(models);
    let api = crate::cli::run::client_address(config.api.bind);
    let mut agent = base(Service::digios("agent", &["agent"]))
        .env("WAYLAND_DISPLAY", WAYLAND_DISPLAY)
        .env("DIGIOS_COMPOSITOR_SOCKET", CONTROL_SOCKET);
    if api.port() != 0 {
        agent.ready = Ready::Tcp(api);
    }
    services.push(agent);
    let mut shell = base(Service::program(
        "shell",
        "digios-shell",
        &[
            "--api",
            &format!("http://{api}"),
            "--wayland-display",
            WAYLAND_DISPLAY,
        ],
    ));
    if config.api.needs_token() {
        // Written by first-boot setup, before the shell starts.
        let token_file = config
            .api
            .token_file
            .clone()
            .unwrap_or_else(|| crate::cli::agent::token_path(config));
        shell = shell.env("DIGIOS_API_TOKEN_FILE", token_file);
    }
    services.push(shell);
    services
}

fn install_signal_handlers() -> anyhow::Result<()> {
    for &signal in signals::REBOOT_SIGNALS {
        unsafe {
            signal_hook::low_level::register(signal, || REQUEST.store(1, Ordering::SeqCst))?;
        }
    }
    for &signal in signals::POWEROFF_SIGNALS {
        unsafe {
            signal_hook::low_level::register(signal, || REQUEST.store(2, Ordering::SeqCst))?;
        }
    }
    Ok(())
}

fn init_console_logging() {
    let filter = KernelCmdline::current()
        .get("log")
        .and_then(|f| tracing_subscriber::EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .try_init();
}

/// A shell on the console for as long as it is wanted; after it exits the
/// system reboots.
fn rescue() -> Stop {
    eprintln!("digios init: starting a rescue shell; exit it to reboot");
    let status = std::process::Command::new(network::BUSYBOX)
        .arg("sh")
        .env("PATH", "/usr/bin:/bin")
        .status();
    if let Err(err) = status {
        eprintln!("digios init: no rescue shell ({err}); rebooting in 30 s");
        std::thread::sleep(Duration::from_secs(30));
    }
    Stop::Reboot
}

/// The last steps, after the services stopped: every other process ends,
/// data reaches the disk, file systems are unmounted, then reboot(2).
fn finish(stop: Stop) -> ! {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    let everyone = Pid::from_raw(-1);
    let _ = kill(everyone, Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline {
        match nix::sys::wait::waitpid(everyone, Some(nix::sys::wait::WaitPidFlag::WNOHANG)) {
            Err(nix::Error::ECHILD) => break,
            Ok(nix::sys::wait::WaitStatus::StillAlive) => {
                std::thread::sleep(Duration::from_millis(50))
            }
            _ => {}
        }
    }
    let _ = kill(everyone, Signal::SIGKILL);
    while nix::sys::wait::waitpid(everyone, None).is_ok() {}
    nix::unistd::sync();
    mounts::unmount_all();
    nix::unistd::sync();
    eprintln!("digios init: {stop:?}");
    let mode = match stop {
        Stop::Reboot => RebootMode::RB_AUTOBOOT,
        Stop::Poweroff => RebootMode::RB_POWER_OFF,
    };
    let err = reboot(mode).unwrap_err();
    eprintln!("digios init: reboot(2) failed: {err}");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
