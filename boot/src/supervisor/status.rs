//! The supervisor's view of its services, written atomically to a JSON file
//! that the agent follows to report them in `/api/status`.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceReport {
    pub name: String,
    /// `running`, `restarting`, `finished` (a oneshot that succeeded) or `failed`.
    pub state: String,
    pub pid: Option<i32>,
    /// Restarts since it last ran stably.
    pub restarts: u32,
    pub last_exit: Option<String>,
    pub oneshot: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct StatusDocument {
    pub supervisor_pid: u32,
    pub services: Vec<ServiceReport>,
}

/// Where the supervisor publishes its status; the agent learns it from
/// `DIGIOS_SERVICES_STATUS`.
#[derive(Debug, Clone)]
pub struct StatusFile {
    path: PathBuf,
}

pub const STATUS_ENV: &str = "DIGIOS_SERVICES_STATUS";

impl StatusFile {
    pub fn new(path: PathBuf) -> Self {
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write(&self, services: &[ServiceReport]) -> std::io::Result<()> {
        let document = StatusDocument {
            supervisor_pid: std::process::id(),
            services: services.to_vec(),
        };
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut staging = self.path.clone().into_os_string();
        staging.push(".new");
        let mut file = std::fs::File::create(&staging)?;
        file.write_all(&serde_json::to_vec_pretty(&document).map_err(std::io::Error::other)?)?;
        drop(file);
        std::fs::rename(&staging, &self.path)
    }

    pub fn read(path: &Path) -> std::io::Result<StatusDocument> {
        let bytes = std::fs::read(path)?;
        serde_json::from_slice(&bytes).map_err(std::io::Error::other)
    }
}
