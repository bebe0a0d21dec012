//! What the voice loop says and how it reads what it hears: the wake phrase,
//! "yes" and "no", and spoken summaries of tasks.

use serde_json::Value;

use super::tasks::{PendingConfirmation, TaskView};

/// Words said before the wake word that carry no meaning ("hey digiOS").
const WAKE_FILLERS: &[&str] = &["hey", "hi", "ok", "okay", "hello", "yo", "so"];
/// Longest reply spoken in full; longer results are cut at a sentence.
const MAX_SPOKEN_CHARS: usize = 300;

/// If `normalized` (normalised and name-corrected) starts with a wake word,
/// the command after it (possibly empty); `None` if the speech was not for digiOS.
pub fn strip_wake_phrase(normalized: &str, wake_words: &[String]) -> Option<String> {
    let words: Vec<&str> = normalized.split_whitespace().collect();
    let skip = words
        .iter()
        .take_while(|w| WAKE_FILLERS.contains(w))
        .count();
    let rest = &words[skip.min(words.len())..];
    for wake in wake_words {
        let wake_words: Vec<String> = wake.split_whitespace().map(|w| w.to_lowercase()).collect();
        let n = wake_words.len();
        if n > 0
            && rest.len() >= n
            && rest[..n]
                .iter()
                .zip(&wake_words)
                .all(|(heard, wanted)| heard.to_lowercase() == *wanted)
        {
            return Some(rest[n..].join(" "));
        }
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Yes,
    No,
    Unclear,
}

/// Reads a spoken answer to a yes-or-no question.
pub fn answer(normalized: &str) -> Answer {
    const YES: &[&str] = &[
        "yes",
        "yeah",
        "yep",
        "yup",
        "sure",
        "ok",
        "okay",
        "confirm",
        "confirmed",
        "affirmative",
        "absolutely",
        "correct",
        "proceed",
    ];
    const NO: &[&str] = &[
        "no", "nope", "nah", "dont", "stop", "cancel", "negative", "abort", "never", "not",
    ];
    // The first word that decides wins: "don't do it" is a no.
    let words: Vec<&str> = normalized.split_whitespace().collect();
    for (i, word) in words.iter().enumerate() {
        let next = words.get(i + 1).copied();
        if NO.contains(word) {
            return Answer::No;
        }
        if YES.contains(word)
            || (*word == "go" && next == Some("ahead"))
            || (*word == "do" && next == Some("it"))
        {
            return Answer::Yes;
        }
    }
    Answer::Unclear
}

/// "Delete 3 files? Say yes or no." from the action awaiting confirmation.
pub fn confirmation_question(pending: &PendingConfirmation) -> String {
    let mut words: Vec<String> = pending
        .action_type
        .split(['_', '.', '-'])
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect();
    if words.is_empty() {
        words.push("do this".into());
    }
    // "delete_files" with three paths → "Delete 3 files".
    let count = match &pending.params {
        Value::Object(map) => map.values().find_map(|v| v.as_array().map(Vec::len)),
        _ => None,
    };
    if let Some(n) = count
        && words.len() >= 2
    {
        let noun = words.pop().unwrap_or_default();
        let noun = if n == 1 {
            noun.strip_suffix('s').unwrap_or(&noun).to_string()
        } else {
            noun
        };
        words.push(n.to_string());
        words.push(noun);
    } else if let Some(target) = main_target(&pending.params) {
        words.push(target);
    }
    // The policy's reason names rules and patterns: for reading, not hearing.
    let mut question = capitalise(&words.join(" "));
    question.push('?');
    format!("{question} Say yes or no.")
}

/// A short string parameter that names what an action acts on (a path, an app).
fn main_target(params: &Value) -> Option<String> {
    let map = params.as_object()?;
    ["path", "name", "app", "command", "title", "url", "text"]
        .iter()
        .find_map(|key| map.get(*key)?.as_str())
        .filter(|s| s.len() <= 60)
        .map(str::to_string)
}

/// What to say once a task has finished.
pub fn task_summary(task: &TaskView) -> String {
    let result = task
        .task
        .result
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());
    match task.task.state.as_str() {
        "succeeded" => match result {
            // "done: open terminal" said alone is one short word Whisper
            // and people both mishear; "All done." carries.
            Some(result) => match strip_prefix_ignore_case(result, "done") {
                Some("") => "All done.".into(),
                Some(rest) => shorten(&format!("All done: {rest}")),
                None => shorten(result),
            },
            None => "All done.".into(),
        },
        "failed" => match result {
            Some(reason) => format!("Sorry, that did not work. {}", shorten(reason)),
            None => "Sorry, that did not work.".into(),
        },
        "cancelled" => "Cancelled.".into(),
        "stopped" => "Stopped.".into(),
        "interrupted" => "The task was interrupted.".into(),
        other => format!("The task is {}.", other.replace('_', " ")),
    }
}

/// `text` without a leading `word` (any case) and the punctuation after it.
fn strip_prefix_ignore_case<'a>(text: &'a str, word: &str) -> Option<&'a str> {
    let head = text.get(..word.len())?;
    if !head.eq_ignore_ascii_case(word) {
        return None;
    }
    let rest = &text[word.len()..];
    if rest.starts_with(|c: char| c.is_alphanumeric()) {
        return None;
    }
    Some(rest.trim_start_matches([':', '.', ',', ';', '!', ' ']))
}

/// Cuts long text at a sentence end so a reply stays short to listen to.
fn shorten(text: &str) -> String {
    let text = speakable(text);
    if text.len() <= MAX_SPOKEN_CHARS {
        return text;
    }
    let mut spoken = String::new();
    for piece in crate::sentences(&text) {
        if !spoken.is_empty() && spoken.len() + piece.len() > MAX_SPOKEN_CHARS {
            break;
        }
        if !spoken.is_empty() {
            spoken.push(' ');
        }
        spoken.push_str(piece);
    }
    if spoken.len() > MAX_SPOKEN_CHARS {
        let cut = spoken
            .char_indices()
            .take_while(|(i, _)| *i < MAX_SPOKEN_CHARS)
            .last()
            .map_or(0, |(i, c)| i + c.len_utf8());
        spoken.truncate(cut);
        spoken.push('.');
    }
    spoken
}

/// Text written for reading made fit to hear: "done: open terminal" runs
/// together when spoken, "Done. Open terminal." does not.
fn speakable(text: &str) -> String {
    let text = text.trim().replace(": ", ". ").replace(":\n", ". ");
    crate::sentences(&text)
        .into_iter()
        .map(sentence)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Capitalised and ending in a stop, so TTS reads it as a sentence.
fn sentence(text: &str) -> String {
    let mut text = capitalise(text.trim());
    if !text.ends_with(['.', '!', '?']) {
        text.push('.');
    }
    text
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wake() -> Vec<String> {
        vec!["digiOS".into()]
    }

    #[test]
    fn the_wake_phrase_starts_an_utterance() {
        assert_eq!(
            strip_wake_phrase("digiOS open the terminal", &wake()).as_deref(),
            Some("open the terminal")
        );
        assert_eq!(
            strip_wake_phrase("hey digiOS", &wake()).as_deref(),
            Some("")
        );
        assert_eq!(strip_wake_phrase("open the terminal", &wake()), None);
        assert_eq!(strip_wake_phrase("i like digiOS", &wake()), None);
        assert_eq!(strip_wake_phrase("", &wake()), None);
    }

    #[test]
    fn answers_are_read_as_yes_or_no() {
        assert_eq!(answer("yes"), Answer::Yes);
        assert_eq!(answer("yes please go ahead"), Answer::Yes);
        assert_eq!(answer("no"), Answer::No);
        assert_eq!(answer("dont do it"), Answer::No);
        assert_eq!(answer("please do it"), Answer::Yes);
        assert_eq!(answer("nope"), Answer::No);
        assert_eq!(answer("banana"), Answer::Unclear);
    }

    #[test]
    fn confirmation_questions_name_the_action() {
        let pending = PendingConfirmation {
            action_type: "delete_files".into(),
            params: json!({"paths": ["a", "b", "c"]}),
            risk: String::new(),
            reason: String::new(),
        };
        assert_eq!(
            confirmation_question(&pending),
            "Delete 3 files? Say yes or no."
        );
        let pending = PendingConfirmation {
            action_type: "close_window".into(),
            params: json!({"id": 4}),
            risk: "high".into(),
            reason: "it has unsaved work".into(),
        };
        assert_eq!(
            confirmation_question(&pending),
            "Close window? Say yes or no."
        );
    }

    #[test]
    fn summaries_are_short_sentences() {
        let mut task: TaskView = serde_json::from_value(json!({
            "id": 1, "goal": "open the terminal", "state": "succeeded", "result": "opened foot"
        }))
        .unwrap();
        assert_eq!(task_summary(&task), "Opened foot.");
        task.task.result = Some("done: open terminal, focus firefox".into());
        assert_eq!(
            task_summary(&task),
            "All done. Open terminal, focus firefox."
        );
        task.task.result = Some("done".into());
        assert_eq!(task_summary(&task), "All done.");
        task.task.result = Some("doneness checked".into());
        assert_eq!(task_summary(&task), "Doneness checked.");
        task.task.result = Some("One. ".repeat(200));
        assert!(task_summary(&task).len() <= MAX_SPOKEN_CHARS + 1);
        task.task.state = digios_api::TaskState::Failed;
        task.task.result = None;
        assert_eq!(task_summary(&task), "Sorry, that did not work.");
    }
}
