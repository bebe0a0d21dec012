//! Free space on the store's filesystem, checked before a download starts.

use std::path::Path;

use super::error::StoreError;

/// Bytes an unprivileged writer may still use on the filesystem holding `dir`.
pub(crate) fn available_bytes(dir: &Path) -> Result<u64, StoreError> {
    let stat = rustix::fs::statvfs(dir).map_err(|e| StoreError::io(dir, e.into()))?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Fails with `InsufficientSpace` unless `needed` bytes fit in `dir`.
pub(crate) fn ensure_space(dir: &Path, needed: u64) -> Result<(), StoreError> {
    let available = available_bytes(dir)?;
    if needed > available {
        return Err(StoreError::InsufficientSpace {
            dir: dir.to_path_buf(),
            needed,
            available,
        });
    }
    Ok(())
}
