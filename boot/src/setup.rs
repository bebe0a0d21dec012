//! First-boot setup: hostname, API token, language model and voice, taken
//! from the kernel command line or the configuration (unattended), or asked
//! on the console (attended); then the model download with progress.
//! Setup runs once: it records its answers in `/data/etc/setup.toml`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use digios_agent::models::{ModelStore, PullEvent};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::init::cmdline::KernelCmdline;

#[derive(Debug, Args)]
pub struct SetupArgs {
    /// Only make sure the configured language model is in the store, downloading it if not.
    #[arg(long)]
    pub fetch_model: bool,
    /// The configuration file setup writes (default: the one in use).
    #[arg(long)]
    pub write_config: Option<PathBuf>,
    /// Where setup records that it ran (default: `/data/etc/setup.toml`).
    #[arg(long)]
    pub record: Option<PathBuf>,
    /// Never ask on the console.
    #[arg(long)]
    pub unattended: bool,
}

/// What setup decided; recorded so later boots skip setup and the model
/// fetch knows where to download from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answers {
    pub hostname: String,
    pub model: String,
    pub voice: bool,
    /// Download the model from here instead of the manifest's mirrors.
    pub model_url: Option<String>,
}

pub fn run(args: SetupArgs, config: &Config, origin: Option<&Path>) -> anyhow::Result<()> {
    let cmdline = KernelCmdline::current();
    let record = args
        .record
        .clone()
        .unwrap_or_else(|| PathBuf::from(crate::init::SETUP_DONE));
    if args.fetch_model {
        let recorded = read_record(&record);
        let url = cmdline
            .get("model_url")
            .map(String::from)
            .or_else(|| recorded.and_then(|a| a.model_url));
        return fetch_model(config, url.as_deref());
    }
    let mut answers = defaults(config, &cmdline);
    let attended = !args.unattended
        && cmdline.flag("unattended") != Some(true)
        && nix::unistd::isatty(std::io::stdin()).unwrap_or(false);
    if attended {
        answers = ask(answers)?;
    }
    let config_path = args
        .write_config
        .clone()
        .or_else(|| origin.map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from(crate::init::DATA_CONFIG));
    write_config(&config_path, &answers)?;
    let token_path = config
        .api
        .token_file
        .clone()
        .unwrap_or_else(|| config.data_dir().join("api-token"));
    write_token(&token_path, cmdline.get("api_token"))?;
    if let Err(err) = nix::unistd::sethostname(&answers.hostname) {
        tracing::debug!("cannot set the hostname now: {err}");
    }
    if let Some(dir) = record.parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_durably(&record, toml::to_string(&answers)?.as_bytes())?;
    println!(
        "digiOS setup done: hostname {}, model {}, voice {}; API token in {}",
        answers.hostname,
        answers.model,
        if answers.voice { "on" } else { "off" },
        token_path.display()
    );
    Ok(())
}

fn defaults(config: &Config, cmdline: &KernelCmdline) -> Answers {
    Answers {
        hostname: cmdline
            .get("hostname")
            .map(String::from)
            .or_else(|| config.system.hostname.clone())
            .unwrap_or_else(|| "digios".into()),
        model: cmdline
            .get("model")
            .map(String::from)
            .or_else(|| config.llm.local.model.clone())
            .unwrap_or_else(|| config.models.default_llm.clone()),
        voice: cmdline.flag("voice").unwrap_or(config.system.voice),
        model_url: cmdline.get("model_url").map(String::from),
    }
}

/// How long the console waits for a first keystroke before taking the defaults.
const ATTENTION_WINDOW: Duration = Duration::from_secs(15);

fn ask(mut answers: Answers) -> anyhow::Result<Answers> {
    println!(
        "\ndigiOS first-boot setup. Press Enter within {} s to change the defaults:",
        ATTENTION_WINDOW.as_secs()
    );
    println!(
        "  hostname {}, model {}, voice {}",
        answers.hostname,
        answers.model,
        if answers.voice { "on" } else { "off" }
    );
    if !stdin_ready(ATTENTION_WINDOW) {
        println!("no answer: taking the defaults");
        return Ok(answers);
    }
    let mut lines = std::io::stdin().lock().lines();
    let _ = lines.next();
    let mut prompt = |question: &str, current: &str| -> anyhow::Result<String> {
        print!("{question} [{current}]: ");
        std::io::stdout().flush()?;
        let line = lines.next().transpose()?.unwrap_or_default();
        let line = line.trim();
        Ok(if line.is_empty() {
            current.to_string()
        } else {
            line.to_string()
        })
    };
    answers.hostname = prompt("hostname", &answers.hostname)?;
    answers.model = prompt("language model id", &answers.model)?;
    let voice = prompt("voice (on/off)", if answers.voice { "on" } else { "off" })?;
    answers.voice = matches!(voice.as_str(), "on" | "yes" | "y" | "1" | "true");
    Ok(answers)
}

fn stdin_ready(timeout: Duration) -> bool {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let stdin = std::io::stdin();
    let mut fds = [PollFd::new(
        std::os::fd::AsFd::as_fd(&stdin),
        PollFlags::POLLIN,
    )];
    let millis = PollTimeout::try_from(timeout.as_millis() as i32).unwrap_or(PollTimeout::MAX);
    matches!(poll(&mut fds, millis), Ok(n) if n > 0)
}

/// Sets setup's keys in the configuration file, keeping everything else in it.
fn write_config(path: &Path, answers: &Answers) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut table: toml::Table =
        toml::from_str(&text).map_err(|err| anyhow::anyhow!("{}: {err}", path.display()))?;
    let section = |table: &mut toml::Table, name: &str| -> toml::Table {
        match table.remove(name) {
            Some(toml::Value::Table(t)) => t,
            _ => toml::Table::new(),
        }
    };
    let mut system = section(&mut table, "system");
    system.insert("hostname".into(), answers.hostname.clone().into());
    system.insert("voice".into(), answers.voice.into());
    table.insert("system".into(), system.into());
    let mut models = section(&mut table, "models");
    models.insert("default_llm".into(), answers.model.clone().into());
    table.insert("models".into(), models.into());
    let text = toml::to_string_pretty(&table)?;
    // Refuse to write what digiOS itself would not read back.
    Config::parse(&text, path)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_durably(path, text.as_bytes())
}

fn write_token(path: &Path, given: Option<&str>) -> anyhow::Result<()> {
    match given {
        Some(token) => {
            use std::os::unix::fs::OpenOptionsExt;
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(path)?;
            file.write_all(token.trim().as_bytes())?;
            file.sync_all()?;
        }
        None => {
            digios_agent::api::auth::load_or_create_token(path)
                .map_err(|err| anyhow::anyhow!("API token {}: {err}", path.display()))?;
        }
    }
    Ok(())
}

/// Writes `bytes` to a staging file, fsyncs it, and renames it over `path`,
/// so a power cut leaves the old file or the new one.
fn write_durably(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut staging = path.as_os_str().to_owned();
    staging.push(".new");
    let mut file = std::fs::File::create(&staging)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&staging, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

fn read_record(path: &Path) -> Option<Answers> {
    toml::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// How long the model fetch waits for a network lease.
const NETWORK_PATIENCE: Duration = Duration::from_secs(90);

/// Makes the configured language model present and verified: from `url`
/// when given, else from the manifest's mirrors. Progress goes to stdout.
fn fetch_model(config: &Config, url: Option<&str>) -> anyhow::Result<()> {
    let id = config
        .llm
        .local
        .model
        .clone()
        .unwrap_or_else(|| config.models.default_llm.clone());
    let store = ModelStore::from_config(&config.models, config.models_dir())?;
    if store.resolve(&id).is_ok() {
        println!("model {id} is in the store");
        return Ok(());
    }
    if std::process::id() != 1 && Path::new("/proc/net/route").exists() {
        let deadline = Instant::now() + NETWORK_PATIENCE;
        while !crate::init::network::has_default_route() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    println!(
        "downloading model {id} from {}",
        url.unwrap_or("its mirrors")
    );
    let last_tenth = AtomicU64::new(u64::MAX);
    let progress = |event: PullEvent| match event {
        PullEvent::DownloadProgress {
            downloaded,
            total: Some(total),
            ..
        } if total > 0 => {
            let tenth = downloaded * 10 / total;
            if last_tenth.swap(tenth, Ordering::Relaxed) != tenth {
                println!(
                    "model {id}: {}% ({} of {} MB)",
                    tenth * 10,
                    downloaded / 1_000_000,
                    total / 1_000_000
                );
            }
        }
        PullEvent::DownloadProgress { .. } => {}
        other => println!(
            "model {id}: {}",
            serde_json::to_string(&other).unwrap_or_default()
        ),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(async {
        match url {
            Some(url) => store.pull_from(&id, url, &progress).await,
            None => store.pull(&id, &progress).await,
        }
    })?;
    println!("model {id}: {outcome:?}");
    Ok(())
}
