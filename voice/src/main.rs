//! `digios-voice`: the voice service. Loads Whisper and the Piper voice once,
//! runs the microphone loop (push-to-talk or wake phrase) and answers the
//! agent's `/api/voice/*` forwards on a local socket. It is its own binary
//! because whisper.cpp and llama.cpp each carry ggml.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Parser;
use digios_voice::service::{self, Conversation, Engine, TaskClient, VoiceService};
use digios_voice::{NameMatcher, SpeechToText, SttConfig, TextToSpeech, TtsPaths, VoiceConfig};

/// Files of the voice models in the model store (see `assets/models.toml`).
const WHISPER_FILE: &str = "ggml-tiny.en.bin";

#[derive(Debug, Parser)]
#[command(
    name = "digios-voice",
    about = "digiOS voice service: microphone, Whisper, Piper"
)]
struct Args {
    /// Configuration file (default: $DIGIOS_CONFIG, ~/.config/digios/digios.toml, /etc/digios/digios.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Socket to serve the agent on (overrides `voice.socket`).
    #[arg(long)]
    socket: Option<PathBuf>,
    /// The public API's URL (overrides `voice.api_url`).
    #[arg(long)]
    api_url: Option<String>,
}

/// What the voice service reads of `digios.toml`.
struct Settings {
    voice: VoiceConfig,
    models_dir: PathBuf,
    api_url: String,
    log_filter: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let settings = load_settings(args.config.as_deref())?;
    // ONNX Runtime logs every allocation at info.
    let filter =
        std::env::var("DIGIOS_LOG").unwrap_or_else(|_| format!("{},ort=warn", settings.log_filter));
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(filter)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut config = settings.voice;
    if let Some(socket) = args.socket {
        config.socket = Some(socket);
    }
    let api_url = args.api_url.unwrap_or(settings.api_url);
    let socket = config.socket_path();

    let stt = SpeechToText::load(
        &settings.models_dir.join(WHISPER_FILE),
        SttConfig::from_voice(&config),
    )?;
    let tts = TextToSpeech::load(&TtsPaths::in_store(&settings.models_dir))?;
    let engine = Engine {
        stt,
        tts,
        names: NameMatcher::new(&config.names),
    };
    let token = std::env::var("DIGIOS_API_TOKEN")
        .ok()
        .filter(|t| !t.is_empty());
    let conversation = Conversation::new(TaskClient::new(&api_url, token), config.clone());
    let service = VoiceService::new(engine, conversation, config);
    service.start_microphone();
    let listener =
        service::bind(&socket).with_context(|| format!("cannot serve on {}", socket.display()))?;
    // One machine-readable line on stdout tells supervisors and tests it is ready.
    println!("digios-voice listening on {}", socket.display());
    tracing::info!("voice service on {}; agent at {api_url}", socket.display());
    service::serve(service, listener);
    Ok(())
}

fn load_settings(explicit: Option<&Path>) -> anyhow::Result<Settings> {
    let chosen = explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("DIGIOS_CONFIG").map(PathBuf::from))
        .or_else(|| {
            let user = xdg_dir("XDG_CONFIG_HOME", ".config").map(|d| d.join("digios/digios.toml"));
            [user, Some(PathBuf::from("/etc/digios/digios.toml"))]
                .into_iter()
                .flatten()
                .find(|p| p.exists())
        });
    let table: toml::Table = match &chosen {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("{}", path.display()))?
        }
        None => toml::Table::new(),
    };
    let origin = chosen
        .as_deref()
        .map_or("defaults".into(), |p| p.display().to_string());
    let voice: VoiceConfig = match table.get("voice") {
        Some(section) => section.clone().try_into().map_err(|err: toml::de::Error| {
            anyhow::anyhow!("{origin}: [voice]: {}", err.message())
        })?,
        None => VoiceConfig::default(),
    };
    voice
        .validate()
        .map_err(|(key, message)| anyhow::anyhow!("{origin}: key `voice.{key}`: {message}"))?;
    let string_at = |section: &str, key: &str| {
        table
            .get(section)
            .and_then(|s| s.get(key))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let cache_dir = string_at("paths", "cache_dir")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("DIGIOS_CACHE_DIR").map(PathBuf::from))
        .or_else(|| xdg_dir("XDG_CACHE_HOME", ".cache").map(|d| d.join("digios")))
        .unwrap_or_else(|| PathBuf::from("/var/cache/digios"));
    let models_dir = string_at("models", "dir")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir.join("models"));
    let api_url = voice.api_url.clone().unwrap_or_else(|| {
        let bind = string_at("api", "bind").unwrap_or_else(|| "127.0.0.1:8765".into());
        format!("http://{}", bind.replace("0.0.0.0", "127.0.0.1"))
    });
    Ok(Settings {
        voice,
        models_dir,
        api_url,
        log_filter: string_at("log", "filter").unwrap_or_else(|| "info".into()),
    })
}

fn xdg_dir(variable: &str, home_relative: &str) -> Option<PathBuf> {
    std::env::var_os(variable)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(home_relative)))
}
