//! One lock file per model, so two processes (or tasks) never pull the same
//! model at once: the second waits, then finds the files present.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::error::StoreError;

/// Held while a model's files are being written or removed; released on drop.
pub struct EntryLock {
    _file: File,
}

pub(crate) fn lock_path(locks_dir: &Path, id: &str) -> PathBuf {
    locks_dir.join(format!("{id}.lock"))
}

fn open(path: &Path) -> Result<File, StoreError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
    }
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| StoreError::io(path, e))
}

/// Takes the lock if it is free; `Ok(None)` if someone else holds it.
pub(crate) fn try_lock(path: &Path) -> Result<Option<EntryLock>, StoreError> {
    let file = open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Some(EntryLock { _file: file })),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(StoreError::io(path, e)),
    }
}

/// Waits for the lock (blocking the thread).
pub(crate) fn lock(path: &Path) -> Result<EntryLock, StoreError> {
    let file = open(path)?;
    file.lock().map_err(|e| StoreError::io(path, e))?;
    Ok(EntryLock { _file: file })
}
