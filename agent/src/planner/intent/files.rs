//! File requests the planner can carry out without the model: writing text
//! into a file, creating, renaming or moving, and deleting one. A clause
//! counts only when its file is unmistakably a path ("~/notes.txt",
//! "/tmp/a.log", "notes.txt", a quoted name after "file"); anything vaguer
//! is left to the model.

use super::{Intent, Token, opens_a_description, original, starts_with};

/// How a write treats the file already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Replace what it held.
    Replace,
    /// Add to its end.
    Append,
    /// Make a new file; an existing one is left alone (the action refuses).
    Create,
}

/// Verbs that put given text into a file.
const WRITE: &[(&[&str], WriteMode)] = &[
    (&["write", "down"], WriteMode::Replace),
    (&["write"], WriteMode::Replace),
    (&["save"], WriteMode::Replace),
    (&["store"], WriteMode::Replace),
    (&["put"], WriteMode::Replace),
    (&["type"], WriteMode::Replace),
    (&["append"], WriteMode::Append),
    (&["add"], WriteMode::Append),
];
const CREATE: &[&[&str]] = &[&["create"], &["make"], &["touch"], &["new"]];
const RENAME: &[&[&str]] = &[&["rename"]];
const MOVE: &[&[&str]] = &[&["move"], &["mv"]];
const COPY: &[&[&str]] = &[
    &["make", "a", "copy", "of"],
    &["copy"],
    &["cp"],
    &["duplicate"],
    &["back", "up"],
];
const DELETE: &[&[&str]] = &[
    &["delete"],
    &["remove"],
    &["erase"],
    &["trash"],
    &["rm"],
    &["get", "rid", "of"],
];
/// Words that introduce what to write: "write the text buy milk".
const TEXT_WORDS: &[&[&str]] = &[
    &["the", "text"],
    &["the", "words"],
    &["the", "word"],
    &["the", "line"],
    &["the", "phrase"],
    &["the", "sentence"],
    &["the", "note"],
    &["a", "note"],
    &["a", "line"],
    &["text"],
    &["words"],
    &["line"],
    &["note"],
];
/// Words that introduce a file's content after its name.
const CONTENT_WORDS: &[&[&str]] = &[
    &["containing"],
    &["that", "says"],
    &["which", "says"],
    &["saying"],
    &["with", "the", "text"],
    &["with", "the", "content"],
    &["with", "the", "contents"],
    &["with", "text"],
    &["with", "content"],
    &["with"],
];

/// A file clause, if `words` is one.
pub(super) fn file_intent(words: &[Token]) -> Option<Intent> {
    if let Some(verb) = DELETE.iter().find(|v| starts_with(words, v)) {
        let path = file_phrase(&words[verb.len()..])?.path;
        return Some(Intent::DeleteFile { path });
    }
    if let Some(verb) = RENAME.iter().find(|v| starts_with(words, v)) {
        let (from, to) = split_at_last(&words[verb.len()..], &["to", "as", "into"])?;
        let from = file_phrase(from)?.path;
        let to = file_phrase(to)?;
        // A bare new name stays in the file's own folder.
        let to = match (to.bare, from.rsplit_once('/')) {
            (true, Some((folder, _))) => format!("{folder}/{}", file_name(&to.path)),
            _ => to.path,
        };
        return Some(Intent::MoveFile { from, to });
    }
    if let Some(verb) = MOVE.iter().find(|v| starts_with(words, v)) {
        let (from, to) = from_and_to(&words[verb.len()..], false)?;
        return Some(Intent::MoveFile { from, to });
    }
    if let Some(verb) = COPY.iter().find(|v| starts_with(words, v)) {
        let (from, to) = from_and_to(&words[verb.len()..], true)?;
        return Some(Intent::CopyFile { from, to });
    }
    if let Some(verb) = CREATE.iter().find(|v| starts_with(words, v)) {
        let rest = &words[verb.len()..];
        // "create a file notes.txt containing buy milk"
        let (name, text) = match CONTENT_WORDS
            .iter()
            .filter_map(|phrase| {
                (0..rest.len())
                    .rev()
                    .find(|&i| starts_with(&rest[i..], phrase))
                    .map(|i| (i, phrase.len()))
            })
            .max_by_key(|&(i, len)| (i, len))
        {
            Some((at, len)) => (&rest[..at], Some(written_text(&rest[at + len..])?)),
            None => (rest, None),
        };
        if !mentions_file(name) {
            return None;
        }
        let path = file_phrase(name)?.path;
        return Some(Intent::WriteFile {
            path,
            text: text.unwrap_or_default(),
            mode: WriteMode::Create,
        });
    }
    let (verb, mode) = WRITE.iter().find(|(v, _)| starts_with(words, v))?;
    let (text, file) = split_at_last(
        &words[verb.len()..],
        &["into", "to", "in", "inside", "onto"],
    )?;
    let path = file_phrase(file)?.path;
    let text = written_text(text)?;
    Some(Intent::WriteFile {
        path,
        text,
        mode: *mode,
    })
}

/// "a.txt to the backup folder", "a.txt into ~/logs/", "a.txt to b.txt":
/// the file and where it goes. For a copy, a bare new name stays beside the
/// original ("copy ~/docs/a.txt as b.txt").
fn from_and_to(words: &[Token], copy: bool) -> Option<(String, String)> {
    let (from, to) = split_at_last(words, &["to", "into", "in", "as"])?;
    let from = file_phrase(from)?.path;
    let to = match folder_phrase(to) {
        Some(folder) => format!("{}/{}", folder.trim_end_matches('/'), file_name(&from)),
        None => {
            let to = file_phrase(to)?;
            match (copy && to.bare, from.rsplit_once('/')) {
                (true, Some((folder, _))) => format!("{folder}/{}", file_name(&to.path)),
                _ => to.path,
            }
        }
    };
    Some((from, to))
}

/// What to write, as the user wrote it; `None` for a description of text
/// to compose ("a poem about cats"), which is the model's job.
fn written_text(words: &[Token]) -> Option<String> {
    let words = match TEXT_WORDS.iter().find(|p| starts_with(words, p)) {
        Some(prefix) if words.len() > prefix.len() => &words[prefix.len()..],
        _ => words,
    };
    if words.first().is_some_and(|w| {
        opens_a_description(w) || (!w.quoted && matches!(w.norm.as_str(), "it" | "this"))
    }) {
        return None;
    }
    let text = original(words)?;
    // Sentence punctuation ends the request, not the text; a quote keeps its own.
    if words.last().is_some_and(|w| w.quoted) {
        return Some(text);
    }
    Some(text.trim_end_matches(['.', '!', '?']).to_string())
}

/// Splits at the last of `prepositions` whose remainder names a file.
fn split_at_last<'w>(
    words: &'w [Token],
    prepositions: &[&str],
) -> Option<(&'w [Token], &'w [Token])> {
    (1..words.len())
        .rev()
        .filter(|&i| !words[i].quoted && prepositions.contains(&words[i].norm.as_str()))
        .find(|&i| {
            file_phrase(&words[i + 1..]).is_some() || folder_phrase(&words[i + 1..]).is_some()
        })
        .map(|i| (&words[..i], &words[i + 1..]))
}

/// Words that call something a file.
const FILE_WORDS: &[&str] = &["file", "document", "textfile"];

fn is_file_word(word: &Token) -> bool {
    !word.quoted && FILE_WORDS.contains(&word.norm.as_str())
}

/// Whether the phrase calls its object a file.
fn mentions_file(words: &[Token]) -> bool {
    words.iter().any(is_file_word) || words.last().is_some_and(|w| path_text(w).is_some())
}

/// A file the user named.
struct FilePath {
    /// Absolute or under `~/`.
    path: String,
    /// Named without a folder ("notes.txt"), so placed in the home folder.
    bare: bool,
}

/// "the file ~/notes.txt", "notes.txt", "a new file called 'to do.md'".
fn file_phrase(words: &[Token]) -> Option<FilePath> {
    let (last, before) = words.split_last()?;
    let filler = |w: &Token| {
        is_file_word(w)
            || (!w.quoted
                && matches!(
                    w.norm.as_str(),
                    "the"
                        | "a"
                        | "an"
                        | "my"
                        | "new"
                        | "empty"
                        | "blank"
                        | "text"
                        | "called"
                        | "named"
                        | "at"
                ))
    };
    if !before.iter().all(filler) {
        return None;
    }
    let says_file = before.iter().any(is_file_word);
    match path_text(last) {
        Some(path) => Some(path),
        // A quoted name after "file": "the file 'shopping list'".
        None if last.quoted && says_file && is_plain_name(&last.text) => Some(FilePath {
            path: format!("~/{}", last.text),
            bare: true,
        }),
        None => None,
    }
}

/// "the Documents folder", "~/archive/", "the folder /tmp/out".
fn folder_phrase(words: &[Token]) -> Option<String> {
    let says_folder = words
        .iter()
        .any(|w| !w.quoted && matches!(w.norm.as_str(), "folder" | "directory" | "dir"));
    let named: Vec<&Token> = words
        .iter()
        .filter(|w| {
            w.quoted
                || !matches!(
                    w.norm.as_str(),
                    "the" | "a" | "my" | "folder" | "directory" | "dir" | "called" | "named"
                )
        })
        .collect();
    let [name] = named.as_slice() else {
        return None;
    };
    let text = name.text.trim_end_matches(['.', '!', '?']);
    if text.starts_with('/') || text.starts_with("~/") || text == "~" {
        if says_folder || text.ends_with('/') {
            return Some(text.to_string());
        }
        return None;
    }
    if name.norm == "home" {
        return Some("~".into());
    }
    (says_folder && is_plain_name(text)).then(|| format!("~/{text}"))
}

/// A path as written: absolute, under `~/`, or a bare file name with an
/// extension ("notes.txt"), taken as one in the home folder.
fn path_text(word: &Token) -> Option<FilePath> {
    let text = if word.quoted {
        word.text.trim()
    } else {
        word.text.trim_end_matches(['.', '!', '?', ':'])
    };
    if text.is_empty() || (!word.quoted && text.contains(char::is_whitespace)) {
        return None;
    }
    let placed = |path: String| Some(FilePath { path, bare: false });
    if let Some(rest) = text.strip_prefix("./") {
        return if rest.is_empty() {
            None
        } else {
            placed(format!("~/{rest}"))
        };
    }
    if (text.starts_with('/') && text.len() > 1) || (text.starts_with("~/") && text.len() > 2) {
        return placed(text.to_string());
    }
    let (stem, extension) = text.rsplit_once('.')?;
    let extension_ok = (1..=8).contains(&extension.len())
        && extension.chars().all(|c| c.is_ascii_alphanumeric())
        && extension.chars().any(|c| c.is_ascii_alphabetic());
    (extension_ok && is_plain_name(stem)).then(|| FilePath {
        path: format!("~/{text}"),
        bare: true,
    })
}

/// A single file name: no separators, not a dot name.
fn is_plain_name(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with('.')
        && !text.contains('/')
        && !text.chars().any(|c| c.is_control())
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}
