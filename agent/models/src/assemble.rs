//! Turning downloaded artifacts into one model file in a staging path: the
//! artifacts themselves concatenated, zip members concatenated, or members
//! converted.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use zip::ZipArchive;
use zip::result::ZipError;

use super::ct2_whisper;
use super::error::StoreError;
use super::manifest::{Conversion, ModelFile};

/// A downloaded artifact: where it lies and where it came from (for errors).
#[derive(Debug, Clone)]
pub(crate) struct LocalArtifact {
    pub path: PathBuf,
    pub url: String,
}

/// How one file is made.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Recipe {
    /// The artifacts themselves, concatenated in order.
    Artifacts,
    /// Zip members, concatenated in order.
    Members(Vec<String>),
    /// Zip members extracted side by side, then converted.
    Convert(Vec<String>, Conversion),
}

impl Recipe {
    /// What the manifest says.
    pub fn from_manifest(file: &ModelFile) -> Self {
        match (&file.members, file.convert) {
            (Some(members), Some(conversion)) => Recipe::Convert(members.clone(), conversion),
            (Some(members), None) => Recipe::Members(members.clone()),
            (None, _) => Recipe::Artifacts,
        }
    }

    /// For a single artifact of unknown layout: a zip yields the manifest's
    /// members, anything else is the file itself.
    pub fn detect(
        file: &ModelFile,
        artifact: &LocalArtifact,
        files_wanted: usize,
    ) -> Result<Self, StoreError> {
        if is_zip(&artifact.path)? {
            return Ok(Self::from_manifest(file));
        }
        if file.convert.is_some() {
            return Err(StoreError::Unsupported(format!(
                "{} is not a zip archive, but {} is converted from zip members",
                artifact.url, file.name
            )));
        }
        if files_wanted > 1 {
            return Err(StoreError::Unsupported(format!(
                "{} is not a zip archive, so it can only provide a single file, and {files_wanted} are wanted",
                artifact.url
            )));
        }
        Ok(Recipe::Artifacts)
    }
}

fn is_zip(path: &Path) -> Result<bool, StoreError> {
    let mut magic = [0u8; 4];
    let mut file = File::open(path).map_err(|e| StoreError::io(path, e))?;
    match file.read_exact(&mut magic) {
        Ok(()) => Ok(&magic == b"PK\x03\x04"),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(StoreError::io(path, e)),
    }
}

/// Writes `file_name` into `staging` following `recipe`, then fsyncs it.
/// `scratch` is a directory for intermediate files.
pub(crate) fn assemble(
    file_name: &str,
    recipe: &Recipe,
    artifacts: &[LocalArtifact],
    staging: &Path,
    scratch: &Path,
) -> Result<(), StoreError> {
    match recipe {
        Recipe::Artifacts => {
            let mut out = create(staging)?;
            for artifact in artifacts {
                let mut input =
                    File::open(&artifact.path).map_err(|e| StoreError::io(&artifact.path, e))?;
                copy(&mut input, &mut out, &artifact.url, staging)?;
            }
            finish(out, staging)
        }
        Recipe::Members(members) => {
            let mut archives = open_archives(artifacts)?;
            let mut out = create(staging)?;
            for member in members {
                copy_member(&mut archives, member, &mut out, staging)?;
            }
            finish(out, staging)
        }
        Recipe::Convert(members, Conversion::Ct2Whisper) => {
            let mut archives = open_archives(artifacts)?;
            let dir = scratch.join(format!("{file_name}.source"));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
            for member in members {
                let base = member.rsplit('/').next().unwrap_or(member);
                let target = dir.join(base);
                let mut out = create(&target)?;
                copy_member(&mut archives, member, &mut out, &target)?;
                finish(out, &target)?;
            }
            let converted =
                ct2_whisper::convert(&dir, staging).map_err(|source| StoreError::Convert {
                    file: file_name.into(),
                    source,
                });
            let _ = std::fs::remove_dir_all(&dir);
            converted?;
            File::open(staging)
                .and_then(|f| f.sync_all())
                .map_err(|e| StoreError::io(staging, e))
        }
    }
}

fn create(path: &Path) -> Result<BufWriter<File>, StoreError> {
    File::create(path)
        .map(|f| BufWriter::with_capacity(1 << 20, f))
        .map_err(|e| StoreError::io(path, e))
}

fn finish(out: BufWriter<File>, path: &Path) -> Result<(), StoreError> {
    let file = out
        .into_inner()
        .map_err(|e| StoreError::io(path, e.into_error()))?;
    file.sync_all().map_err(|e| StoreError::io(path, e))
}

/// Copies all of `input` into `out`, telling read errors from write errors.
fn copy(
    input: &mut dyn Read,
    out: &mut BufWriter<File>,
    source_name: &str,
    target: &Path,
) -> Result<u64, StoreError> {
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let read = match input.read(&mut buffer) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(StoreError::Archive {
                    what: source_name.into(),
                    reason: format!("cannot read: {e}"),
                });
            }
        };
        out.write_all(&buffer[..read])
            .map_err(|e| StoreError::io(target, e))?;
        total += read as u64;
    }
}

struct OpenArchive {
    url: String,
    archive: ZipArchive<File>,
}

fn open_archives(artifacts: &[LocalArtifact]) -> Result<Vec<OpenArchive>, StoreError> {
    artifacts
        .iter()
        .map(|artifact| {
            let file = File::open(&artifact.path).map_err(|e| StoreError::io(&artifact.path, e))?;
            let archive = ZipArchive::new(file).map_err(|e| StoreError::Archive {
                what: artifact.url.clone(),
                reason: format!("not a readable zip archive: {e}"),
            })?;
            Ok(OpenArchive {
                url: artifact.url.clone(),
                archive,
            })
        })
        .collect()
}

fn copy_member(
    archives: &mut [OpenArchive],
    member: &str,
    out: &mut BufWriter<File>,
    target: &Path,
) -> Result<(), StoreError> {
    for open in archives.iter_mut() {
        let label = format!("{} (member {member})", open.url);
        match open.archive.by_name(member) {
            Ok(mut entry) => {
                copy(&mut entry, out, &label, target)?;
                return Ok(());
            }
            Err(ZipError::FileNotFound) => continue,
            Err(e) => {
                return Err(StoreError::Archive {
                    what: label,
                    reason: e.to_string(),
                });
            }
        }
    }
    let urls: Vec<&str> = archives.iter().map(|a| a.url.as_str()).collect();
    Err(StoreError::Archive {
        what: urls.join(", "),
        reason: format!("no zip member named `{member}`"),
    })
}
