//! Everything that can go wrong in the model store, each case named plainly.

use std::path::PathBuf;

use super::ct2_whisper::ConvertError;
use super::manifest::ManifestError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("unknown model `{0}` (see `digios model list`)")]
    UnknownModel(String),
    #[error("model `{id}` has no file named `{name}`")]
    UnknownFile { id: String, name: String },
    #[error(
        "model `{id}`: {file} is not in {dir} (run `digios model pull {id}` or `cargo xtask setup`)"
    )]
    NotInstalled {
        id: String,
        file: String,
        dir: PathBuf,
    },
    #[error("model `{0}` has no download sources; use `digios model pull {0} --from <url>`")]
    NoSources(String),
    #[error("not found (HTTP 404): {url}")]
    NotFound { url: String },
    #[error("HTTP {status} from {url}")]
    Http { url: String, status: u16 },
    #[error("cannot reach {url}: {reason} (no network, or the server is down?)")]
    Unreachable { url: String, reason: String },
    #[error("TLS with {url} failed: {reason} (is the issuing CA in the system certificate store?)")]
    Tls { url: String, reason: String },
    #[error("download of {url} interrupted: {reason}")]
    Interrupted { url: String, reason: String },
    #[error("{what}: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },
    #[error("{what}: sha256 is {actual}, expected {expected}")]
    ChecksumMismatch {
        what: String,
        expected: String,
        actual: String,
    },
    #[error("disk full: {needed} bytes needed in {dir}, only {available} available")]
    InsufficientSpace {
        dir: PathBuf,
        needed: u64,
        available: u64,
    },
    #[error("disk full (ENOSPC) while writing {path}")]
    DiskFull { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what}: {reason}")]
    Archive { what: String, reason: String },
    #[error("converting {file}: {source}")]
    Convert { file: String, source: ConvertError },
    #[error("{0}")]
    Unsupported(String),
    #[error("could not download `{id}`: every source failed: {}", list_failures(.failures))]
    AllSourcesFailed {
        id: String,
        failures: Vec<StoreError>,
    },
}

fn list_failures(failures: &[StoreError]) -> String {
    failures
        .iter()
        .enumerate()
        .map(|(i, e)| format!("[mirror {}] {e}", i + 1))
        .collect::<Vec<_>>()
        .join("; ")
}

impl StoreError {
    /// An I/O error on a local path; ENOSPC becomes `DiskFull`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::StorageFull {
            StoreError::DiskFull { path }
        } else {
            StoreError::Io { path, source }
        }
    }

    /// Worth another attempt at the same URL.
    pub(crate) fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Unreachable { .. } | StoreError::Interrupted { .. }
        ) || matches!(self, StoreError::Http { status, .. } if *status >= 500 || *status == 408 || *status == 429)
    }

    /// A local problem no other mirror can fix.
    pub(crate) fn is_local(&self) -> bool {
        matches!(
            self,
            StoreError::InsufficientSpace { .. }
                | StoreError::DiskFull { .. }
                | StoreError::Io { .. }
        )
    }

    /// True if this error, or any mirror's failure within it, is a 404.
    pub fn is_not_found(&self) -> bool {
        match self {
            StoreError::NotFound { .. } => true,
            StoreError::AllSourcesFailed { failures, .. } => {
                failures.iter().any(StoreError::is_not_found)
            }
            _ => false,
        }
    }
}
