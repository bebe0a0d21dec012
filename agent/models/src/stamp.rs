//! Verification stamps: "this file, at this size and mtime, had this sha256".
//! They let `list` call a file verified without rehashing hundreds of MB.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::manifest::Sha256;

pub(crate) struct Stamps {
    dir: PathBuf,
}

fn fingerprint(meta: &fs::Metadata) -> String {
    format!(
        "{} {} {} {} {}",
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.dev(),
        meta.ino()
    )
}

impl Stamps {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    fn path(&self, file_name: &str) -> PathBuf {
        self.dir.join(format!("{file_name}.sha256"))
    }

    /// True if `file` was verified against `expected` and has not changed since.
    pub fn is_verified(&self, file_name: &str, file: &Path, expected: &Sha256) -> bool {
        let Ok(meta) = fs::metadata(file) else {
            return false;
        };
        let Ok(text) = fs::read_to_string(self.path(file_name)) else {
            return false;
        };
        text.trim_end() == format!("{} {expected}", fingerprint(&meta))
    }

    /// Records that `file` (as it is now) has sha256 `digest`. Best effort: a
    /// missing stamp only costs a rehash later.
    pub fn record(&self, file_name: &str, file: &Path, digest: &Sha256) {
        let Ok(meta) = fs::metadata(file) else {
            return;
        };
        let path = self.path(file_name);
        let temporary = self.dir.join(format!(".{file_name}.sha256.tmp"));
        let written = fs::create_dir_all(&self.dir)
            .and_then(|()| fs::write(&temporary, format!("{} {digest}\n", fingerprint(&meta))))
            .and_then(|()| fs::rename(&temporary, &path));
        if let Err(err) = written {
            tracing::warn!("cannot record verification of {}: {err}", file.display());
        }
    }

    pub fn forget(&self, file_name: &str) {
        let _ = fs::remove_file(self.path(file_name));
    }
}
