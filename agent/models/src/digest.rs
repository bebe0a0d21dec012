//! Hashing files on disk.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256 as Hasher};

use super::error::StoreError;
use super::manifest::Sha256;

/// The sha256 and length of the file at `path`.
pub fn sha256_file(path: &Path) -> Result<(Sha256, u64), StoreError> {
    let mut file = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let mut hasher = Hasher::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut length = 0u64;
    loop {
        let read = match file.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(StoreError::io(path, e)),
        };
        hasher.update(&buffer[..read]);
        length += read as u64;
    }
    Ok((Sha256::from_bytes(hasher.finalize().into()), length))
}

/// `sha256_file` off the async executor.
pub(crate) async fn sha256_file_async(path: &Path) -> Result<(Sha256, u64), StoreError> {
    let owned = path.to_path_buf();
    tokio::task::spawn_blocking(move || sha256_file(&owned))
        .await
        .map_err(|e| StoreError::io(path, std::io::Error::other(e)))?
}
