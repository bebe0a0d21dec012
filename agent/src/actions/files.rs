//! File actions: list, read, write, move and delete, only under the
//! configured roots (see `roots`). Writes go through a temporary file and a
//! rename, so a reader never sees half a file.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::roots::{confine, is_root};
use super::{ActionError, ActionsConfig};

/// Most entries one `list_files` returns.
const MAX_LIST: usize = 10_000;
/// Most bytes one `write_file` may write.
pub const MAX_WRITE_BYTES: usize = 8 << 20;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListFilesParams {
    /// A directory: absolute, or `~/...`.
    pub path: String,
    /// Include names starting with a dot.
    #[serde(default)]
    pub hidden: bool,
    /// At most this many entries (default 1000).
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadFileParams {
    pub path: String,
    /// Byte offset to start at.
    #[serde(default)]
    pub offset: u64,
    /// At most this many bytes (default and ceiling: `[actions] read_limit_bytes`).
    pub max_bytes: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum IfExists {
    /// Refuse (409) when the file exists.
    Fail,
    /// Replace the file atomically.
    #[default]
    Overwrite,
    /// Add to the end of the file.
    Append,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteFileParams {
    pub path: String,
    /// Text to write (UTF-8).
    pub content: String,
    #[serde(default)]
    pub if_exists: IfExists,
    /// Create missing parent directories.
    #[serde(default)]
    pub create_dirs: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveFileParams {
    pub from: String,
    pub to: String,
    /// Replace an existing file at `to`.
    #[serde(default)]
    pub overwrite: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CopyFileParams {
    pub from: String,
    pub to: String,
    /// Replace an existing file at `to`.
    #[serde(default)]
    pub overwrite: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteFileParams {
    pub path: String,
    /// Delete a directory and everything in it.
    #[serde(default)]
    pub recursive: bool,
}

fn invalid(action_type: &'static str, message: impl Into<String>) -> ActionError {
    ActionError::InvalidParams {
        action_type,
        message: message.into(),
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ActionError> + Send + 'static,
) -> Result<T, ActionError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|err| {
            Err(ActionError::SpawnFailed(format!(
                "file worker failed: {err}"
            )))
        })
}

fn kind_of(file_type: std::fs::FileType) -> &'static str {
    if file_type.is_symlink() {
        "symlink"
    } else if file_type.is_dir() {
        "directory"
    } else if file_type.is_file() {
        "file"
    } else {
        "other"
    }
}

fn modified_ms(meta: &std::fs::Metadata) -> Option<u64> {
    let since = meta.modified().ok()?.duration_since(UNIX_EPOCH).ok()?;
    u64::try_from(since.as_millis()).ok()
}

pub async fn list(config: &ActionsConfig, p: ListFilesParams) -> Result<Value, ActionError> {
    let dir = confine(config, "list_files", &p.path, true)?;
    let limit = p.limit.unwrap_or(1000).clamp(1, MAX_LIST);
    blocking(move || {
        let reader = std::fs::read_dir(&dir).map_err(|err| ActionError::io(&dir, err))?;
        let mut entries = Vec::new();
        for entry in reader {
            let entry = entry.map_err(|err| ActionError::io(&dir, err))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !p.hidden && name.starts_with('.') {
                continue;
            }
            let meta = entry.metadata().ok();
            entries.push(json!({
                "name": name,
                "path": entry.path(),
                "kind": entry.file_type().map(kind_of).unwrap_or("other"),
                "size": meta.as_ref().map(|m| m.len()),
                "modified_ms": meta.as_ref().and_then(modified_ms),
            }));
        }
        entries.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
        let total = entries.len();
        entries.truncate(limit);
        Ok(json!({"path": dir, "entries": entries, "total": total, "truncated": total > limit}))
    })
    .await
}

pub async fn read(config: &ActionsConfig, p: ReadFileParams) -> Result<Value, ActionError> {
    let path = confine(config, "read_file", &p.path, true)?;
    let ceiling = config.read_limit_bytes;
    let max = p.max_bytes.unwrap_or(ceiling).min(ceiling);
    blocking(move || {
        let mut file = std::fs::File::open(&path).map_err(|err| ActionError::io(&path, err))?;
        let meta = file.metadata().map_err(|err| ActionError::io(&path, err))?;
        if meta.is_dir() {
            return Err(ActionError::Conflict(format!(
                "{} is a directory; use list_files",
                path.display()
            )));
        }
        file.seek(SeekFrom::Start(p.offset))
            .map_err(|err| ActionError::io(&path, err))?;
        let mut bytes = Vec::new();
        file.take(max)
            .read_to_end(&mut bytes)
            .map_err(|err| ActionError::io(&path, err))?;
        let size = meta.len();
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(err) => {
                let utf8 = err.utf8_error();
                // A character cut by max_bytes is not binary; drop its start.
                let cut_at_end = utf8.error_len().is_none();
                if !cut_at_end {
                    return Err(invalid(
                        "read_file",
                        format!(
                            "{} is not UTF-8 text (byte {} of the range read)",
                            path.display(),
                            p.offset + utf8.valid_up_to() as u64
                        ),
                    ));
                }
                let mut bytes = err.into_bytes();
                bytes.truncate(utf8.valid_up_to());
                String::from_utf8(bytes).unwrap_or_default()
            }
        };
        let end = p.offset + text.len() as u64;
        Ok(json!({
            "path": path,
            "size": size,
            "offset": p.offset,
            "bytes": text.len(),
            "truncated": end < size,
            "content": text,
        }))
    })
    .await
}

pub async fn write(config: &ActionsConfig, p: WriteFileParams) -> Result<Value, ActionError> {
    if p.content.len() > MAX_WRITE_BYTES {
        return Err(invalid(
            "write_file",
            format!(
                "content has {} bytes; at most {MAX_WRITE_BYTES}",
                p.content.len()
            ),
        ));
    }
    let path = confine(config, "write_file", &p.path, false)?;
    blocking(move || {
        let parent = path
            .parent()
            .ok_or_else(|| invalid("write_file", "cannot write to /"))?
            .to_path_buf();
        if p.create_dirs {
            std::fs::create_dir_all(&parent).map_err(|err| ActionError::io(&parent, err))?;
        }
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                return Err(ActionError::Conflict(format!(
                    "{} is a directory",
                    path.display()
                )));
            }
            Ok(_) if p.if_exists == IfExists::Fail => {
                return Err(ActionError::Conflict(format!(
                    "{} already exists (if_exists is fail)",
                    path.display()
                )));
            }
            _ => {}
        }
        match p.if_exists {
            IfExists::Append => {
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|err| ActionError::io(&path, err))?;
                file.write_all(p.content.as_bytes())
                    .and_then(|()| file.sync_all())
                    .map_err(|err| ActionError::io(&path, err))?;
            }
            IfExists::Fail | IfExists::Overwrite => {
                replace(&path, &parent, p.content.as_bytes(), p.if_exists)?
            }
        }
        let size = std::fs::metadata(&path).map(|m| m.len()).ok();
        Ok(json!({"path": path, "written_bytes": p.content.len(), "size": size}))
    })
    .await
}

/// Writes to a temporary file beside `path`, fsyncs, then renames over (or,
/// for `Fail`, links so an existing file is never replaced).
fn replace(path: &Path, parent: &Path, bytes: &[u8], mode: IfExists) -> Result<(), ActionError> {
    place(path, parent, mode != IfExists::Fail, |temp| {
        let mut file = std::fs::File::create(temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            // Keep the permissions of the file being replaced.
            std::fs::set_permissions(temp, meta.permissions())?;
        }
        Ok(())
    })
}

/// Has `fill` write a temporary file beside `path`, then moves it into
/// place: renamed over an existing file when `overwrite`, else linked, so an
/// existing file is never replaced. `path` is never left half written.
fn place<T>(
    path: &Path,
    parent: &Path,
    overwrite: bool,
    fill: impl FnOnce(&Path) -> std::io::Result<T>,
) -> Result<T, ActionError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let temp = parent.join(format!(
        ".{}.digios-{}.tmp",
        name.unwrap_or_default(),
        std::process::id()
    ));
    let result = fill(&temp).and_then(|filled| {
        if overwrite {
            std::fs::rename(&temp, path)?;
        } else {
            std::fs::hard_link(&temp, path)?;
        }
        Ok(filled)
    });
    let _ = std::fs::remove_file(&temp);
    result.map_err(|err| ActionError::io(path, err))
}

pub async fn rename(config: &ActionsConfig, p: MoveFileParams) -> Result<Value, ActionError> {
    let from = confine(config, "move_file", &p.from, false)?;
    let to = confine(config, "move_file", &p.to, false)?;
    if is_root(config, &from) {
        return Err(ActionError::Forbidden(format!(
            "{} is a file root; it cannot be moved",
            from.display()
        )));
    }
    blocking(move || {
        std::fs::symlink_metadata(&from).map_err(|err| ActionError::io(&from, err))?;
        if to.starts_with(&from) && to != from {
            return Err(invalid("move_file", "cannot move a directory into itself"));
        }
        if let Ok(meta) = std::fs::symlink_metadata(&to) {
            if !p.overwrite {
                return Err(ActionError::Conflict(format!(
                    "{} already exists; pass overwrite=true to replace it",
                    to.display()
                )));
            }
            if meta.is_dir() {
                return Err(ActionError::Conflict(format!(
                    "{} is a directory; it is never replaced",
                    to.display()
                )));
            }
        }
        match std::fs::rename(&from, &to) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::CrossesDevices => {
                copy_then_remove(&from, &to)?
            }
            Err(err) => return Err(ActionError::io(&from, err)),
        }
        Ok(json!({"from": from, "to": to}))
    })
    .await
}

/// Copies one plain file, placed like a written file (see [`place`]).
pub async fn copy(config: &ActionsConfig, p: CopyFileParams) -> Result<Value, ActionError> {
    let from = confine(config, "copy_file", &p.from, false)?;
    let to = confine(config, "copy_file", &p.to, false)?;
    blocking(move || {
        let meta = std::fs::metadata(&from).map_err(|err| ActionError::io(&from, err))?;
        if !meta.is_file() {
            return Err(ActionError::Conflict(format!(
                "{} is not a plain file; only files are copied",
                from.display()
            )));
        }
        if let Ok(existing) = std::fs::symlink_metadata(&to) {
            if existing.is_dir() {
                return Err(ActionError::Conflict(format!(
                    "{} is a directory; name the copy's file",
                    to.display()
                )));
            }
            if !p.overwrite {
                return Err(ActionError::Conflict(format!(
                    "{} already exists; pass overwrite=true to replace it",
                    to.display()
                )));
            }
        }
        let parent = to
            .parent()
            .ok_or_else(|| invalid("copy_file", "cannot copy to /"))?;
        let bytes = place(&to, parent, p.overwrite, |temp| {
            let bytes = std::fs::copy(&from, temp)?;
            std::fs::File::open(temp)?.sync_all()?;
            Ok(bytes)
        })?;
        Ok(json!({"from": from, "to": to, "bytes": bytes}))
    })
    .await
}

fn copy_then_remove(from: &Path, to: &Path) -> Result<(), ActionError> {
    let meta = std::fs::symlink_metadata(from).map_err(|err| ActionError::io(from, err))?;
    if !meta.is_file() {
        return Err(ActionError::Conflict(format!(
            "{} is not a plain file; it cannot be moved across file systems",
            from.display()
        )));
    }
    std::fs::copy(from, to).map_err(|err| ActionError::io(to, err))?;
    std::fs::File::open(to)
        .and_then(|f| f.sync_all())
        .map_err(|err| ActionError::io(to, err))?;
    std::fs::remove_file(from).map_err(|err| ActionError::io(from, err))
}

pub async fn delete(config: &ActionsConfig, p: DeleteFileParams) -> Result<Value, ActionError> {
    let path: PathBuf = confine(config, "delete_file", &p.path, false)?;
    if is_root(config, &path) {
        return Err(ActionError::Forbidden(format!(
            "{} is a file root; it cannot be deleted",
            path.display()
        )));
    }
    blocking(move || {
        let meta = std::fs::symlink_metadata(&path).map_err(|err| ActionError::io(&path, err))?;
        let kind = kind_of(meta.file_type());
        if meta.is_dir() {
            if p.recursive {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_dir(&path)
            }
        } else {
            std::fs::remove_file(&path)
        }
        .map_err(|err| ActionError::io(&path, err))?;
        Ok(json!({"path": path, "kind": kind}))
    })
    .await
}
