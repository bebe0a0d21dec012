//! What the launcher offers: the configured apps and every application
//! `.desktop` entry in the XDG data directories, filtered as the user types.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How the API is asked to start an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launch {
    /// A name from the agent's configured app list (`actions.apps`).
    App(String),
    /// A command line, from a desktop entry's `Exec`.
    Command(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppEntry {
    pub name: String,
    pub comment: String,
    /// Extra words the filter matches: keywords, categories, the program.
    pub keywords: String,
    pub launch: Launch,
}

impl AppEntry {
    pub fn configured(name: &str, comment: &str) -> Self {
        Self {
            name: name.to_string(),
            comment: comment.to_string(),
            keywords: String::new(),
            launch: Launch::App(name.to_string()),
        }
    }

    /// Whether every word of `filter` appears in the name, comment or keywords.
    pub fn matches(&self, filter: &str) -> bool {
        let haystack = format!("{} {} {}", self.name, self.comment, self.keywords).to_lowercase();
        filter
            .to_lowercase()
            .split_whitespace()
            .all(|word| haystack.contains(word))
    }
}

/// The apps digiOS configures by default (`actions.apps`): foot as the terminal.
pub fn configured_apps() -> Vec<AppEntry> {
    vec![AppEntry::configured("foot", "Terminal")]
}

/// `$XDG_DATA_HOME/applications` then each `$XDG_DATA_DIRS/applications`.
pub fn application_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    match std::env::var_os("XDG_DATA_HOME") {
        Some(home) if !home.is_empty() => dirs.push(PathBuf::from(home)),
        _ => {
            if let Some(home) = std::env::var_os("HOME") {
                dirs.push(PathBuf::from(home).join(".local/share"));
            }
        }
    }
    let data_dirs = std::env::var("XDG_DATA_DIRS")
        .ok()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| "/usr/local/share:/usr/share".into());
    dirs.extend(
        data_dirs
            .split(':')
            .filter(|d| !d.is_empty())
            .map(PathBuf::from),
    );
    dirs.into_iter().map(|d| d.join("applications")).collect()
}

/// Every app to offer: configured apps first, then desktop entries by name.
/// An entry in an earlier directory hides one with the same file name in a
/// later one, as the XDG spec says; a configured app hides an entry of the
/// same name.
pub fn discover(configured: Vec<AppEntry>, dirs: &[PathBuf]) -> Vec<AppEntry> {
    let mut by_id: BTreeMap<String, Option<AppEntry>> = BTreeMap::new();
    for dir in dirs {
        let mut files = Vec::new();
        collect_desktop_files(dir, dir, &mut files);
        for (id, path) in files {
            by_id.entry(id).or_insert_with(|| {
                std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|text| parse_desktop_entry(&text))
            });
        }
    }
    let mut entries: Vec<AppEntry> = by_id.into_values().flatten().collect();
    entries.retain(|e| {
        !configured
            .iter()
            .any(|c| c.name.eq_ignore_ascii_case(&e.name))
    });
    entries.sort_by_key(|e| e.name.to_lowercase());
    entries.dedup_by(|a, b| a.name == b.name && a.launch == b.launch);
    let mut all = configured;
    all.extend(entries);
    all
}

fn collect_desktop_files(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in read.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_desktop_files(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "desktop") {
            // The desktop file id: the relative path with `/` turned into `-`.
            let id = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('/', "-");
            out.push((id, path));
        }
    }
}

/// Reads the `[Desktop Entry]` group; `None` for entries a launcher must not
/// show (hidden, NoDisplay, not an Application, no Exec, terminal-only).
pub fn parse_desktop_entry(text: &str) -> Option<AppEntry> {
    let mut in_entry = false;
    let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_entry = line == "[Desktop Entry]";
            continue;
        }
        if !in_entry || line.starts_with('#') {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            fields.entry(key.trim()).or_insert(value.trim());
        }
    }
    let yes = |key: &str| fields.get(key).is_some_and(|v| *v == "true");
    if fields.get("Type") != Some(&"Application")
        || yes("NoDisplay")
        || yes("Hidden")
        || yes("Terminal")
    {
        return None;
    }
    let name = fields.get("Name")?.to_string();
    let argv = split_exec(fields.get("Exec")?)?;
    let mut keywords = String::new();
    for key in ["GenericName", "Keywords", "Categories"] {
        if let Some(value) = fields.get(key) {
            keywords.push_str(&value.replace(';', " "));
            keywords.push(' ');
        }
    }
    keywords.push_str(&argv[0]);
    Some(AppEntry {
        name,
        comment: fields.get("Comment").unwrap_or(&"").to_string(),
        keywords,
        launch: Launch::Command(argv),
    })
}

/// Splits an `Exec` value into argv: quoting per the desktop entry spec,
/// field codes (`%f`, `%U`, ...) dropped since nothing is being opened.
fn split_exec(exec: &str) -> Option<Vec<String>> {
    let mut argv = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut has_arg = false;
    let mut chars = exec.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                has_arg = true;
            }
            '\\' if quoted => current.extend(chars.next()),
            ' ' | '\t' if !quoted => {
                if has_arg {
                    argv.push(std::mem::take(&mut current));
                    has_arg = false;
                }
            }
            '%' => {
                // `%%` is a literal percent; any other field code is dropped.
                if chars.next() == Some('%') {
                    current.push('%');
                    has_arg = true;
                }
            }
            c => {
                current.push(c);
                has_arg = true;
            }
        }
    }
    if has_arg && !current.is_empty() {
        argv.push(current);
    }
    argv.retain(|a| !a.is_empty());
    (!argv.is_empty()).then_some(argv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_lines_split_like_the_spec_says() {
        assert_eq!(split_exec("foot"), Some(vec!["foot".into()]));
        assert_eq!(
            split_exec(r#"env "A B" prog --x=%% %U"#),
            Some(vec![
                "env".into(),
                "A B".into(),
                "prog".into(),
                "--x=%".into()
            ])
        );
        assert_eq!(split_exec("%F"), None);
    }

    #[test]
    fn hidden_and_terminal_entries_are_left_out() {
        let entry =
            "[Desktop Entry]\nType=Application\nName=Foot\nExec=foot\nKeywords=shell;prompt;\n";
        let app = parse_desktop_entry(entry).unwrap();
        assert_eq!(app.launch, Launch::Command(vec!["foot".into()]));
        assert!(app.matches("PROMPT"));
        assert!(app.matches("foo sh"));
        assert!(!app.matches("browser"));
        assert!(parse_desktop_entry(&format!("{entry}NoDisplay=true\n")).is_none());
        assert!(parse_desktop_entry(&entry.replace("Application", "Link")).is_none());
        assert!(parse_desktop_entry("[Other]\nType=Application\nName=x\nExec=x\n").is_none());
    }

    #[test]
    fn earlier_directories_hide_later_ones() {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        let write =
            |dir: &Path, name: &str, body: &str| std::fs::write(dir.join(name), body).unwrap();
        write(
            first.path(),
            "editor.desktop",
            "[Desktop Entry]\nType=Application\nName=Mine\nExec=mine\n",
        );
        write(
            second.path(),
            "editor.desktop",
            "[Desktop Entry]\nType=Application\nName=System\nExec=sys\n",
        );
        write(
            second.path(),
            "foot.desktop",
            "[Desktop Entry]\nType=Application\nName=foot\nExec=foot\n",
        );
        let apps = discover(
            configured_apps(),
            &[first.path().into(), second.path().into()],
        );
        let names: Vec<&str> = apps.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["foot", "Mine"]);
    }
}
