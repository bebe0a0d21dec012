//! Where file and process actions may reach: paths are expanded (`~/`),
//! cleaned of `.` and `..`, resolved through symlinks, and must land under
//! one of the configured roots.

use std::path::{Component, Path, PathBuf};

use super::{ActionError, ActionsConfig};

pub fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .filter(|home| home.is_absolute())
}

/// `~` and `~/x` against `home`; anything else must already be absolute.
/// `.` and `..` are resolved without touching the file system.
pub fn expand(raw: &str, home: Option<&Path>) -> Option<PathBuf> {
    let raw = raw.trim();
    let path = if raw == "~" {
        home?.to_path_buf()
    } else if let Some(rest) = raw.strip_prefix("~/") {
        home?.join(rest)
    } else {
        PathBuf::from(raw)
    };
    if !path.is_absolute() {
        return None;
    }
    let mut clean = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::ParentDir => {
                clean.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Some(clean)
}

pub fn expand_all(roots: &[String]) -> Vec<PathBuf> {
    let home = home();
    roots
        .iter()
        .filter_map(|root| expand(root, home.as_deref()))
        .collect()
}

/// The path with every existing ancestor's symlinks resolved; the part that
/// does not exist yet is appended as written.
fn resolve_existing(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut missing = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            let mut full = real;
            for part in missing.iter().rev() {
                full.push(part);
            }
            return full;
        }
        match (
            existing.file_name().map(|n| n.to_os_string()),
            existing.parent(),
        ) {
            (Some(name), Some(parent)) => {
                missing.push(name);
                existing = parent.to_path_buf();
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// What the policy judges: the real path where it can be found, else the
/// text as given (a relative path, which the policy refuses to judge).
pub fn real_path(raw: &str, home: Option<&Path>) -> PathBuf {
    match expand(raw, home) {
        Some(path) => resolve_existing(&path),
        None => PathBuf::from(raw),
    }
}

/// Resolves `raw` for an action and checks it lies under a root.
/// `follow_final` follows a symlink in the last component (reading, listing);
/// without it the link itself is the target (deleting, moving, writing over).
pub fn confine(
    config: &ActionsConfig,
    action_type: &'static str,
    raw: &str,
    follow_final: bool,
) -> Result<PathBuf, ActionError> {
    let home = home();
    let expanded = expand(raw, home.as_deref()).ok_or_else(|| ActionError::InvalidParams {
        action_type,
        message: format!("path {raw:?} must be absolute or start with ~/"),
    })?;
    let real = if follow_final {
        resolve_existing(&expanded)
    } else {
        match (expanded.parent(), expanded.file_name()) {
            (Some(parent), Some(name)) => resolve_existing(parent).join(name),
            _ => expanded.clone(),
        }
    };
    let roots: Vec<PathBuf> = config
        .roots()
        .iter()
        .map(|root| resolve_existing(root))
        .collect();
    if roots.iter().any(|root| real.starts_with(root)) {
        Ok(real)
    } else {
        let shown: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
        Err(ActionError::Forbidden(format!(
            "{} is outside the file roots ({}); see [actions] file_roots",
            real.display(),
            if shown.is_empty() {
                "none configured".to_string()
            } else {
                shown.join(", ")
            }
        )))
    }
}

/// Whether `path` is one of the roots itself, which no action may delete or move.
pub fn is_root(config: &ActionsConfig, path: &Path) -> bool {
    config
        .roots()
        .iter()
        .any(|root| resolve_existing(root) == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_expand_and_lose_dot_dot() {
        let home = Path::new("/home/ada");
        assert_eq!(
            expand("~/a/../b", Some(home)),
            Some(PathBuf::from("/home/ada/b"))
        );
        assert_eq!(expand("~", Some(home)), Some(PathBuf::from("/home/ada")));
        assert_eq!(
            expand("/home/ada/../../etc", Some(home)),
            Some(PathBuf::from("/etc"))
        );
        assert_eq!(expand("relative/x", Some(home)), None);
        assert_eq!(expand("~/x", None), None);
    }

    #[test]
    fn symlinks_cannot_leave_the_roots() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("link")).unwrap();
        let config = ActionsConfig {
            file_roots: vec![root.path().display().to_string()],
            ..ActionsConfig::default()
        };
        let through = format!("{}/link/secret", root.path().display());
        assert!(matches!(
            confine(&config, "read_file", &through, true),
            Err(ActionError::Forbidden(_))
        ));
        let link = format!("{}/link", root.path().display());
        assert!(confine(&config, "delete_file", &link, false).is_ok());
        assert!(matches!(
            confine(&config, "read_file", &link, true),
            Err(ActionError::Forbidden(_))
        ));
    }
}
