//! The one digiOS configuration file: `/etc/digios/digios.toml` on the image,
//! `~/.config/digios/digios.toml` hosted. Every key has a default, so an
//! absent file is a valid configuration; an unknown or mistyped key is an
//! error that names the key.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Set by the image's init so every service reads the system file.
pub const SYSTEM_CONFIG: &str = "/etc/digios/digios.toml";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub paths: Paths,
    pub models: digios_agent::models::StoreConfig,
    pub api: digios_agent::api::ApiConfig,
    pub compositor: digios_compositor::CompositorSection,
    pub actions: digios_agent::actions::ActionsConfig,
    pub policy: digios_agent::policy::PolicyConfig,
    pub llm: digios_agent::llm::LlmConfig,
    pub planner: digios_agent::planner::PlannerConfig,
    pub improve: digios_agent::improve::ImproveConfig,
    pub voice: digios_voice_ipc::VoiceConfig,
    pub log: Log,
    pub system: System,
}

/// The `[system]` section: what first-boot setup decides for the image.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct System {
    /// The machine's hostname (the image's init sets it; hosted it is ignored).
    pub hostname: Option<String>,
    /// Whether the voice service runs.
    pub voice: bool,
}

impl Default for System {
    fn default() -> Self {
        Self {
            hostname: None,
            voice: true,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Paths {
    /// Downloads and models. Default: `$DIGIOS_CACHE_DIR`, else `$XDG_CACHE_HOME/digios`,
    /// else `~/.cache/digios`.
    pub cache_dir: Option<PathBuf>,
    /// Memory, settings and state. Default: `$XDG_DATA_HOME/digios`, else `~/.local/share/digios`.
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// A `tracing` env-filter directive; `DIGIOS_LOG` overrides it.
    pub filter: String,
}

impl Default for Log {
    fn default() -> Self {
        Self {
            filter: "info".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: key `{key}`: {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
}

impl Config {
    /// Parses configuration text; `origin` names the file in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Self, ConfigError> {
        let deserializer = toml::Deserializer::new(text);
        let config: Config = serde_path_to_error::deserialize(deserializer).map_err(|err| {
            let key = err.path().to_string();
            let message = err.into_inner().message().trim().to_string();
            ConfigError::Invalid {
                path: origin.to_path_buf(),
                key: if key == "." {
                    "(top level)".into()
                } else {
                    key
                },
                message,
            }
        })?;
        config.validate(origin)?;
        Ok(config)
    }

    /// Loads `explicit` if given, else `$DIGIOS_CONFIG`, else the first of the
    /// system and user files that exists, else the defaults.
    pub fn load(explicit: Option<&Path>) -> Result<(Self, Option<PathBuf>), ConfigError> {
        let chosen = match explicit {
            Some(path) => Some(path.to_path_buf()),
            None => std::env::var_os("DIGIOS_CONFIG")
                .map(PathBuf::from)
                .or_else(|| Self::default_locations().into_iter().find(|p| p.exists())),
        };
        let Some(path) = chosen else {
            return Ok((Config::default(), None));
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        Ok((Self::parse(&text, &path)?, Some(path)))
    }

    fn default_locations() -> Vec<PathBuf> {
        let mut locations = vec![PathBuf::from(SYSTEM_CONFIG)];
        if let Some(dir) = xdg_dir("XDG_CONFIG_HOME", ".config") {
            locations.insert(0, dir.join("digios/digios.toml"));
        }
        locations
    }

    fn validate(&self, origin: &Path) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            path: origin.to_path_buf(),
            key: key.into(),
            message,
        };
        if let Err(err) = tracing_subscriber::EnvFilter::try_new(&self.log.filter) {
            return Err(invalid("log.filter", err.to_string()));
        }
        self.models
            .validate()
            .map_err(|(key, message)| invalid(&format!("models.{key}"), message))?;
        self.api
            .validate()
            .map_err(|(key, message)| invalid(&format!("api.{key}"), message))?;
        self.compositor
            .validate()
            .map_err(|(key, message)| invalid(&format!("compositor.{key}"), message))?;
        self.actions
            .validate()
            .map_err(|(key, message)| invalid(&format!("actions.{key}"), message))?;
        self.policy
            .validate()
            .map_err(|(key, message)| invalid(&format!("policy.{key}"), message))?;
        self.llm
            .validate()
            .map_err(|(key, message)| invalid(&format!("llm.{key}"), message))?;
        self.planner
            .validate()
            .map_err(|(key, message)| invalid(&format!("planner.{key}"), message))?;
        self.improve
            .validate()
            .map_err(|(key, message)| invalid(&format!("improve.{key}"), message))?;
        self.voice
            .validate()
            .map_err(|(key, message)| invalid(&format!("voice.{key}"), message))
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.paths
            .cache_dir
            .clone()
            .or_else(|| std::env::var_os("DIGIOS_CACHE_DIR").map(PathBuf::from))
            .or_else(|| xdg_dir("XDG_CACHE_HOME", ".cache").map(|d| d.join("digios")))
            .unwrap_or_else(|| PathBuf::from("/var/cache/digios"))
    }

    pub fn data_dir(&self) -> PathBuf {
        self.paths
            .data_dir
            .clone()
            .or_else(|| std::env::var_os("DIGIOS_DATA_DIR").map(PathBuf::from))
            .or_else(|| xdg_dir("XDG_DATA_HOME", ".local/share").map(|d| d.join("digios")))
            .unwrap_or_else(|| PathBuf::from("/var/lib/digios"))
    }

    /// Where verified model files live.
    pub fn models_dir(&self) -> PathBuf {
        self.models
            .dir
            .clone()
            .unwrap_or_else(|| self.cache_dir().join("models"))
    }
}

fn xdg_dir(variable: &str, home_relative: &str) -> Option<PathBuf> {
    std::env::var_os(variable)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(home_relative)))
}

/// Starts `tracing` logs on stderr: `DIGIOS_LOG` wins over the configured filter.
pub fn init_logging(config: &Config) {
    let filter = std::env::var("DIGIOS_LOG")
        .ok()
        .and_then(|f| tracing_subscriber::EnvFilter::try_new(f).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(&config.log.filter));
    // Colours only for a person at a terminal, not for the supervisor's log files.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_defaults() {
        let config = Config::parse("", Path::new("t.toml")).unwrap();
        assert_eq!(config.log.filter, "info");
    }

    #[test]
    fn unknown_key_is_named() {
        let err = Config::parse("[models]\nflavour = 1\n", Path::new("t.toml")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("models.flavour"), "{text}");
    }

    #[test]
    fn mistyped_value_is_named() {
        let err = Config::parse("[log]\nfilter = 3\n", Path::new("t.toml")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("log.filter"), "{text}");
    }

    #[test]
    fn voice_section_is_checked_by_key() {
        let config = Config::parse(
            "[voice]\nactivation = \"wake_phrase\"\n[voice.vad]\nend_silence_ms = 500\n",
            Path::new("t.toml"),
        )
        .unwrap();
        assert_eq!(config.voice.vad.end_silence_ms, 500);
        let err = Config::parse("[voice]\nstt_threads = 0\n", Path::new("t.toml")).unwrap_err();
        assert!(err.to_string().contains("voice.stt_threads"), "{err}");
        let err = Config::parse("[voice.vad]\nthreshold = 3\n", Path::new("t.toml")).unwrap_err();
        assert!(err.to_string().contains("voice.vad"), "{err}");
    }

    #[test]
    fn invalid_filter_is_named() {
        let err = Config::parse("[log]\nfilter = \"=[\"\n", Path::new("t.toml")).unwrap_err();
        assert!(err.to_string().contains("log.filter"), "{err}");
    }
}
