//! Typed progress events of a pull, for the CLI's progress bar and the API.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PullEvent {
    /// Another process or task is pulling this model; this one waits for it.
    WaitingForLock {
        id: String,
    },
    /// Every file is already in the store; nothing was downloaded.
    AlreadyPresent {
        id: String,
    },
    /// Checking the sha256 of a file already in the store.
    Checking {
        file: String,
    },
    /// Trying mirror `index` (from 0) of `count`.
    SourceStarted {
        id: String,
        index: usize,
        count: usize,
    },
    /// A download starts (or resumes at `offset`).
    DownloadStarted {
        url: String,
        offset: u64,
        total: Option<u64>,
    },
    /// Bytes of the artifact now on disk.
    DownloadProgress {
        url: String,
        downloaded: u64,
        total: Option<u64>,
    },
    DownloadFinished {
        url: String,
        bytes: u64,
    },
    Retrying {
        url: String,
        attempt: u32,
        #[serde(with = "millis")]
        delay: Duration,
        error: String,
    },
    SourceFailed {
        id: String,
        index: usize,
        error: String,
    },
    /// Extracting, concatenating or converting into a staging file.
    Assembling {
        file: String,
    },
    Installed {
        file: String,
        path: PathBuf,
    },
    Done {
        id: String,
    },
}

/// Receives the events of a pull; it runs on the pulling task, so keep it quick.
pub type ProgressFn<'a> = &'a (dyn Fn(PullEvent) + Send + Sync);

/// A sink that drops every event.
pub fn ignore_progress(_: PullEvent) {}

mod millis {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }
}
