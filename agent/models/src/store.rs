//! The model store: a directory of verified model files, named as in the
//! manifest. Downloads, locks and verification stamps live in hidden
//! subdirectories beside them, on the same filesystem, so a finished file
//! arrives by an atomic rename and nothing partial ever has a model's name.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::Digest;

use super::assemble::{LocalArtifact, Recipe, assemble};
use super::digest::{sha256_file, sha256_file_async};
use super::download::{Downloader, RetryPolicy};
use super::error::StoreError;
use super::lock::{self, EntryLock};
use super::manifest::{Artifact, Manifest, ModelEntry, ModelFile, Sha256, Source};
use super::progress::{ProgressFn, PullEvent};
use super::space;
use super::stamp::Stamps;

/// A file's state in the store, cheapest check first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum FileState {
    Missing,
    /// There, but not the size the manifest says: never handed out.
    WrongSize {
        actual: u64,
    },
    /// There with the right size; its sha256 has not been checked (or cannot be).
    Present,
    /// Its sha256 matched the manifest, and it has not changed since.
    Verified,
}

impl fmt::Display for FileState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileState::Missing => f.write_str("missing"),
            FileState::WrongSize { actual } => write!(f, "wrong size ({actual} B)"),
            FileState::Present => f.write_str("present"),
            FileState::Verified => f.write_str("verified"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FileStatus {
    pub name: String,
    pub size: Option<u64>,
    pub checksum_known: bool,
    pub state: FileState,
    pub path: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct EntryStatus {
    pub id: String,
    pub kind: super::manifest::ModelKind,
    pub description: String,
    pub files: Vec<FileStatus>,
}

/// What `verify` found for one file.
#[derive(Debug, Clone, PartialEq)]
pub enum VerifyOutcome {
    Verified,
    Missing,
    WrongSize {
        expected: u64,
        actual: u64,
    },
    /// The bytes differ from the manifest; the file was moved out of the model path.
    Corrupt {
        expected: Sha256,
        actual: Sha256,
        moved_to: PathBuf,
    },
    /// The manifest has no checksum for this file, so it cannot be called verified.
    Unverifiable {
        actual: Sha256,
    },
}

impl VerifyOutcome {
    pub fn is_verified(&self) -> bool {
        matches!(self, VerifyOutcome::Verified)
    }
}

impl fmt::Display for VerifyOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyOutcome::Verified => f.write_str("verified"),
            VerifyOutcome::Missing => f.write_str("missing"),
            VerifyOutcome::WrongSize { expected, actual } => {
                write!(f, "wrong size: {actual} B, expected {expected} B")
            }
            VerifyOutcome::Corrupt {
                expected,
                actual,
                moved_to,
            } => write!(
                f,
                "CORRUPT: sha256 {actual}, expected {expected}; moved to {}",
                moved_to.display()
            ),
            VerifyOutcome::Unverifiable { actual } => write!(
                f,
                "cannot be verified: the manifest has no sha256 for it (this file's sha256 is {actual})"
            ),
        }
    }
}

#[derive(Debug, Clone)]
pub struct FileVerification {
    pub id: String,
    pub file: String,
    pub outcome: VerifyOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PullOutcome {
    /// Every file was already there (perhaps pulled by someone else meanwhile).
    AlreadyPresent,
    Downloaded,
}

pub struct ModelStore {
    dir: PathBuf,
    manifest: Manifest,
    policy: RetryPolicy,
    stamps: Stamps,
}

impl ModelStore {
    pub fn new(dir: PathBuf, manifest: Manifest, policy: RetryPolicy) -> Self {
        let stamps = Stamps::new(dir.join(".verified"));
        Self {
            dir,
            manifest,
            policy,
            stamps,
        }
    }

    /// The store at `dir` with the built-in manifest plus the configured extra one.
    pub fn from_config(config: &super::StoreConfig, dir: PathBuf) -> Result<Self, StoreError> {
        let manifest = Manifest::load(config.manifest.as_deref())?;
        Ok(Self::new(dir, manifest, config.retry_policy()))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn entry(&self, id: &str) -> Result<&ModelEntry, StoreError> {
        self.manifest
            .get(id)
            .ok_or_else(|| StoreError::UnknownModel(id.into()))
    }

    fn downloads_dir(&self, id: &str) -> PathBuf {
        self.dir.join(".downloads").join(id)
    }

    fn locks_dir(&self) -> PathBuf {
        self.dir.join(".locks")
    }

    pub fn file_path(&self, file: &ModelFile) -> PathBuf {
        self.dir.join(&file.name)
    }

    pub fn file_state(&self, file: &ModelFile) -> FileState {
        let path = self.file_path(file);
        let Ok(meta) = fs::metadata(&path) else {
            return FileState::Missing;
        };
        if !meta.is_file() {
            return FileState::Missing;
        }
        let right_size = match file.size {
            Some(size) => meta.len() == size,
            None => meta.len() > 0,
        };
        if !right_size {
            return FileState::WrongSize { actual: meta.len() };
        }
        match &file.sha256 {
            Some(expected) if self.stamps.is_verified(&file.name, &path, expected) => {
                FileState::Verified
            }
            _ => FileState::Present,
        }
    }

    pub fn status(&self, id: &str) -> Result<EntryStatus, StoreError> {
        Ok(self.entry_status(self.entry(id)?))
    }

    fn entry_status(&self, entry: &ModelEntry) -> EntryStatus {
        EntryStatus {
            id: entry.id.clone(),
            kind: entry.kind,
            description: entry.description.clone(),
            files: entry
                .files
                .iter()
                .map(|file| FileStatus {
                    name: file.name.clone(),
                    size: file.size,
                    checksum_known: file.sha256.is_some(),
                    state: self.file_state(file),
                    path: self.file_path(file),
                })
                .collect(),
        }
    }

    /// Every manifest entry and the state of each of its files. Never hashes.
    pub fn list(&self) -> Vec<EntryStatus> {
        self.manifest
            .entries
            .iter()
            .map(|e| self.entry_status(e))
            .collect()
    }

    /// The path of the model's first file, once every file of the model is in
    /// the store at the right size. Never a partial or mis-sized file.
    pub fn resolve(&self, id: &str) -> Result<PathBuf, StoreError> {
        let entry = self.entry(id)?;
        for file in &entry.files {
            self.checked_path(entry, file)?;
        }
        self.checked_path(entry, &entry.files[0])
    }

    /// The path of one named file of a model, if it is in the store at the right size.
    pub fn resolve_file(&self, id: &str, name: &str) -> Result<PathBuf, StoreError> {
        let entry = self.entry(id)?;
        let file = entry.file(name).ok_or_else(|| StoreError::UnknownFile {
            id: id.into(),
            name: name.into(),
        })?;
        self.checked_path(entry, file)
    }

    fn checked_path(&self, entry: &ModelEntry, file: &ModelFile) -> Result<PathBuf, StoreError> {
        let path = self.file_path(file);
        match self.file_state(file) {
            FileState::Present | FileState::Verified => Ok(path),
            FileState::Missing => Err(StoreError::NotInstalled {
                id: entry.id.clone(),
                file: file.name.clone(),
                dir: self.dir.clone(),
            }),
            FileState::WrongSize { actual } => Err(StoreError::SizeMismatch {
                what: format!(
                    "{} (run `digios model pull {}` to replace it)",
                    path.display(),
                    entry.id
                ),
                expected: file.size.unwrap_or(0),
                actual,
            }),
        }
    }

    /// Rehashes every file of the model. A file whose bytes differ from the
    /// manifest is moved out of the model path, so nothing loads it.
    pub fn verify(&self, id: &str) -> Result<Vec<FileVerification>, StoreError> {
        let entry = self.entry(id)?;
        fs::create_dir_all(&self.dir).map_err(|e| StoreError::io(&self.dir, e))?;
        let _lock = lock::lock(&lock::lock_path(&self.locks_dir(), id))?;
        let mut results = Vec::new();
        for file in &entry.files {
            let outcome = self.verify_file(file)?;
            results.push(FileVerification {
                id: id.into(),
                file: file.name.clone(),
                outcome,
            });
        }
        Ok(results)
    }

    fn verify_file(&self, file: &ModelFile) -> Result<VerifyOutcome, StoreError> {
        let path = self.file_path(file);
        match self.file_state(file) {
            FileState::Missing => return Ok(VerifyOutcome::Missing),
            FileState::WrongSize { actual } => {
                return Ok(VerifyOutcome::WrongSize {
                    expected: file.size.unwrap_or(0),
                    actual,
                });
            }
            FileState::Present | FileState::Verified => {}
        }
        self.stamps.forget(&file.name);
        let (actual, _) = sha256_file(&path)?;
        let Some(expected) = file.sha256 else {
            return Ok(VerifyOutcome::Unverifiable { actual });
        };
        if actual == expected {
            self.stamps.record(&file.name, &path, &expected);
            return Ok(VerifyOutcome::Verified);
        }
        let quarantine = self.dir.join(".corrupt");
        fs::create_dir_all(&quarantine).map_err(|e| StoreError::io(&quarantine, e))?;
        let moved_to = quarantine.join(&file.name);
        fs::rename(&path, &moved_to).map_err(|e| StoreError::io(&path, e))?;
        Ok(VerifyOutcome::Corrupt {
            expected,
            actual,
            moved_to,
        })
    }

    /// Deletes the model's files, stamps and unfinished downloads. Returns the
    /// files that were there.
    pub fn remove(&self, id: &str) -> Result<Vec<PathBuf>, StoreError> {
        let entry = self.entry(id)?;
        if !self.dir.exists() {
            return Ok(Vec::new());
        }
        let _lock = lock::lock(&lock::lock_path(&self.locks_dir(), id))?;
        let mut removed = Vec::new();
        for file in &entry.files {
            let path = self.file_path(file);
            self.stamps.forget(&file.name);
            match fs::remove_file(&path) {
                Ok(()) => removed.push(path),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(&path, e)),
            }
        }
        let downloads = self.downloads_dir(id);
        match fs::remove_dir_all(&downloads) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(&downloads, e)),
        }
        Ok(removed)
    }

    /// Makes every file of the model present and verified, downloading from the
    /// manifest's mirrors in order. Waits if another pull of it is under way.
    pub async fn pull(
        &self,
        id: &str,
        progress: ProgressFn<'_>,
    ) -> Result<PullOutcome, StoreError> {
        self.pull_with(id, None, progress).await
    }

    /// Like `pull`, from one artifact at `url`: a zip yields the manifest's
    /// members; anything else is the model's single file itself.
    pub async fn pull_from(
        &self,
        id: &str,
        url: &str,
        progress: ProgressFn<'_>,
    ) -> Result<PullOutcome, StoreError> {
        self.pull_with(id, Some(url), progress).await
    }

    async fn pull_with(
        &self,
        id: &str,
        from: Option<&str>,
        progress: ProgressFn<'_>,
    ) -> Result<PullOutcome, StoreError> {
        let entry = self.entry(id)?.clone();
        let _lock = self.lock_entry(id, progress).await?;
        let wanted = self.files_to_fetch(&entry, progress).await?;
        if wanted.is_empty() {
            progress(PullEvent::AlreadyPresent { id: id.into() });
            return Ok(PullOutcome::AlreadyPresent);
        }
        let sources = match from {
            Some(url) => vec![Source {
                artifacts: vec![Artifact {
                    url: url.into(),
                    size: None,
                    sha256: None,
                }],
            }],
            None => entry.sources.clone(),
        };
        if sources.is_empty() {
            return Err(StoreError::NoSources(id.into()));
        }
        let downloader = Downloader::new(self.policy.clone())?;
        let mut failures = Vec::new();
        for (index, source) in sources.iter().enumerate() {
            progress(PullEvent::SourceStarted {
                id: id.into(),
                index,
                count: sources.len(),
            });
            let result = self
                .pull_source(
                    &entry,
                    &wanted,
                    source,
                    from.is_some(),
                    &downloader,
                    progress,
                )
                .await;
            match result {
                Ok(()) => {
                    let _ = fs::remove_dir_all(self.downloads_dir(id));
                    progress(PullEvent::Done { id: id.into() });
                    return Ok(PullOutcome::Downloaded);
                }
                Err(err) if err.is_local() => return Err(err),
                Err(err) => {
                    tracing::warn!("model {id}: mirror {} failed: {err}", index + 1);
                    progress(PullEvent::SourceFailed {
                        id: id.into(),
                        index,
                        error: err.to_string(),
                    });
                    failures.push(err);
                }
            }
        }
        Err(StoreError::AllSourcesFailed {
            id: id.into(),
            failures,
        })
    }

    async fn lock_entry(
        &self,
        id: &str,
        progress: ProgressFn<'_>,
    ) -> Result<EntryLock, StoreError> {
        let path = lock::lock_path(&self.locks_dir(), id);
        if let Some(held) = lock::try_lock(&path)? {
            return Ok(held);
        }
        progress(PullEvent::WaitingForLock { id: id.into() });
        let owned = path.clone();
        tokio::task::spawn_blocking(move || lock::lock(&owned))
            .await
            .map_err(|e| StoreError::io(&path, std::io::Error::other(e)))?
    }

    /// The files that are not yet verified; a present file with a known
    /// checksum is hashed once and stamped if it matches.
    async fn files_to_fetch(
        &self,
        entry: &ModelEntry,
        progress: ProgressFn<'_>,
    ) -> Result<Vec<ModelFile>, StoreError> {
        let mut wanted = Vec::new();
        for file in &entry.files {
            match (self.file_state(file), file.sha256) {
                (FileState::Verified, _) | (FileState::Present, None) => {}
                (FileState::Present, Some(expected)) => {
                    progress(PullEvent::Checking {
                        file: file.name.clone(),
                    });
                    let path = self.file_path(file);
                    let (actual, _) = sha256_file_async(&path).await?;
                    if actual == expected {
                        self.stamps.record(&file.name, &path, &expected);
                    } else {
                        wanted.push(file.clone());
                    }
                }
                (FileState::Missing | FileState::WrongSize { .. }, _) => wanted.push(file.clone()),
            }
        }
        Ok(wanted)
    }

    async fn pull_source(
        &self,
        entry: &ModelEntry,
        wanted: &[ModelFile],
        source: &Source,
        detect_layout: bool,
        downloader: &Downloader,
        progress: ProgressFn<'_>,
    ) -> Result<(), StoreError> {
        let work = self.downloads_dir(&entry.id);
        fs::create_dir_all(&work).map_err(|e| StoreError::io(&work, e))?;
        space::ensure_space(&work, self.bytes_needed(&work, wanted, source))?;

        let mut local = Vec::new();
        for artifact in &source.artifacts {
            local.push(
                self.fetch_artifact(&work, artifact, downloader, progress)
                    .await?,
            );
        }

        for file in wanted {
            let recipe = if detect_layout {
                Recipe::detect(file, &local[0], wanted.len())?
            } else {
                Recipe::from_manifest(file)
            };
            self.install(file, &recipe, &local, &work, progress).await?;
        }
        Ok(())
    }

    /// Bytes still to download plus the staged files, before anything starts.
    fn bytes_needed(&self, work: &Path, wanted: &[ModelFile], source: &Source) -> u64 {
        let mut needed = 0u64;
        let mut artifacts_total = 0u64;
        for artifact in &source.artifacts {
            let Some(size) = artifact.size else { continue };
            artifacts_total += size;
            let (done, part) = artifact_paths(work, &artifact.url);
            let have = fs::metadata(&done)
                .or_else(|_| fs::metadata(&part))
                .map(|m| m.len())
                .unwrap_or(0);
            needed += size.saturating_sub(have);
        }
        for file in wanted {
            needed += file.size.unwrap_or(artifacts_total);
        }
        needed
    }

    async fn fetch_artifact(
        &self,
        work: &Path,
        artifact: &Artifact,
        downloader: &Downloader,
        progress: ProgressFn<'_>,
    ) -> Result<LocalArtifact, StoreError> {
        let (done, part) = artifact_paths(work, &artifact.url);
        let local = LocalArtifact {
            path: done.clone(),
            url: artifact.url.clone(),
        };
        if let Ok(meta) = fs::metadata(&done) {
            // Only a checked artifact is ever renamed to its final name.
            if artifact.size.is_none_or(|size| size == meta.len()) {
                return Ok(local);
            }
            let _ = fs::remove_file(&done);
        }
        let length = downloader
            .fetch(&artifact.url, artifact.size, &part, progress)
            .await?;
        if let Some(expected) = artifact.size
            && expected != length
        {
            let _ = fs::remove_file(&part);
            return Err(StoreError::SizeMismatch {
                what: artifact.url.clone(),
                expected,
                actual: length,
            });
        }
        if let Some(expected) = artifact.sha256 {
            let (actual, _) = sha256_file_async(&part).await?;
            if actual != expected {
                let _ = fs::remove_file(&part);
                return Err(StoreError::ChecksumMismatch {
                    what: artifact.url.clone(),
                    expected: expected.to_string(),
                    actual: actual.to_string(),
                });
            }
        }
        fs::rename(&part, &done).map_err(|e| StoreError::io(&part, e))?;
        Ok(local)
    }

    /// Builds the file in staging, checks size and sha256, then renames it into place.
    async fn install(
        &self,
        file: &ModelFile,
        recipe: &Recipe,
        artifacts: &[LocalArtifact],
        work: &Path,
        progress: ProgressFn<'_>,
    ) -> Result<(), StoreError> {
        progress(PullEvent::Assembling {
            file: file.name.clone(),
        });
        let staging = work.join(format!("{}.staging", file.name));
        let assembled = {
            let (name, recipe, artifacts) = (file.name.clone(), recipe.clone(), artifacts.to_vec());
            let (target, scratch) = (staging.clone(), work.to_path_buf());
            tokio::task::spawn_blocking(move || {
                assemble(&name, &recipe, &artifacts, &target, &scratch)
            })
            .await
            .map_err(|e| StoreError::io(&staging, std::io::Error::other(e)))?
        };
        let checked = match assembled {
            Ok(()) => self.check_staged(file, &staging).await,
            Err(err) => Err(err),
        };
        if let Err(err) = checked {
            let _ = fs::remove_file(&staging);
            return Err(err);
        }
        let target = self.file_path(file);
        fs::rename(&staging, &target).map_err(|e| StoreError::io(&target, e))?;
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::io(&self.dir, e))?;
        if let Some(digest) = &file.sha256 {
            self.stamps.record(&file.name, &target, digest);
        }
        progress(PullEvent::Installed {
            file: file.name.clone(),
            path: target,
        });
        Ok(())
    }

    async fn check_staged(&self, file: &ModelFile, staging: &Path) -> Result<(), StoreError> {
        let (actual, length) = sha256_file_async(staging).await?;
        if let Some(expected) = file.size
            && expected != length
        {
            return Err(StoreError::SizeMismatch {
                what: file.name.clone(),
                expected,
                actual: length,
            });
        }
        if length == 0 {
            return Err(StoreError::SizeMismatch {
                what: file.name.clone(),
                expected: file.size.unwrap_or(1),
                actual: 0,
            });
        }
        match file.sha256 {
            Some(expected) if expected != actual => Err(StoreError::ChecksumMismatch {
                what: file.name.clone(),
                expected: expected.to_string(),
                actual: actual.to_string(),
            }),
            Some(_) => Ok(()),
            None => {
                tracing::warn!(
                    "{}: the manifest has no sha256; installed unverified (sha256 {actual})",
                    file.name
                );
                Ok(())
            }
        }
    }
}

/// Where an artifact lies while downloading (`.part`) and once checked.
/// Named by a hash of the URL so mirrors never share a partial file.
fn artifact_paths(work: &Path, url: &str) -> (PathBuf, PathBuf) {
    let key = hex::encode(&sha2::Sha256::digest(url.as_bytes())[..8]);
    let base: String = url
        .rsplit('/')
        .next()
        .unwrap_or("artifact")
        .split(['?', '#'])
        .next()
        .unwrap_or("artifact")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "._-".contains(*c))
        .take(80)
        .collect();
    let done = work.join(format!("{key}-{base}"));
    let part = work.join(format!("{key}-{base}.part"));
    (done, part)
}
