//! The intent parser: simple commands in everyday words, mapped onto actions
//! without asking the model. It reads a goal as clauses ("open a terminal and
//! list my files"), strips politeness, knows verbs by their synonyms and apps
//! by what they are ("the terminal", "a console", "foot"), and grounds every
//! window it names in the compositor's window list ("this window", "it",
//! "the terminal"). File requests with a plain path ("write buy milk into
//! ~/notes.txt", "rename draft.txt to final.txt") map onto file actions.
//! Anything it cannot map with confidence returns `None`, and the model
//! takes the goal instead.

mod files;

use digios_ipc::Window;

pub use files::WriteMode;

use crate::actions::ActionsConfig;

/// Which window an intent acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowRef {
    /// An open window, by id.
    Window(u64),
    /// The window the plan's most recent launch opened.
    Launched,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowOp {
    Close,
    Focus,
    Maximize(bool),
    Minimize(bool),
    Fullscreen(bool),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// Start a configured app by its name in `[actions.apps]`.
    Launch {
        app: String,
    },
    Window {
        op: WindowOp,
        target: WindowRef,
    },
    /// Type text, into `target` (focused first) or the focused window;
    /// `submit` presses Return after it.
    Type {
        text: String,
        target: Option<WindowRef>,
        submit: bool,
    },
    /// Press a key or chord by keysym names.
    Key {
        keys: String,
        target: Option<WindowRef>,
    },
    /// Put `text` into a file (a path under `~/` or absolute).
    WriteFile {
        path: String,
        text: String,
        mode: WriteMode,
    },
    /// Rename or move a file.
    MoveFile {
        from: String,
        to: String,
    },
    CopyFile {
        from: String,
        to: String,
    },
    DeleteFile {
        path: String,
    },
}

/// Kinds of app, each with the words people use for it.
const APP_KINDS: &[&[&str]] = &[
    &[
        "terminal",
        "term",
        "console",
        "shell",
        "command line",
        "commandline",
        "command prompt",
        "prompt",
        "cli",
        "tty",
        "foot",
        "xterm",
        "alacritty",
        "kitty",
        "konsole",
        "gnome-terminal",
        "wezterm",
        "urxvt",
    ],
    &[
        "browser",
        "web browser",
        "web",
        "internet",
        "firefox",
        "chromium",
        "chrome",
        "epiphany",
    ],
    &[
        "editor",
        "text editor",
        "notepad",
        "gedit",
        "kate",
        "mousepad",
        "vim",
        "nano",
    ],
    &[
        "files",
        "file manager",
        "file browser",
        "explorer",
        "nautilus",
        "thunar",
        "dolphin",
        "pcmanfm",
    ],
    &["calculator", "calc", "gnome-calculator", "galculator"],
    &["settings", "preferences", "control panel"],
];

const POLITE_PREFIXES: &[&[&str]] = &[
    &["please"],
    &["pls"],
    &["kindly"],
    &["could", "you"],
    &["can", "you"],
    &["would", "you"],
    &["will", "you"],
    &["would", "you", "mind"],
    &["hey"],
    &["hi"],
    &["ok"],
    &["okay"],
    &["so"],
    &["digios"],
    &["computer"],
    &["i", "want", "you", "to"],
    &["i'd", "like", "you", "to"],
    &["i", "would", "like", "you", "to"],
    &["i", "need", "you", "to"],
    &["go", "ahead", "and"],
    &["just"],
    &["now"],
    &["quickly"],
    &["then"],
    &["also"],
    &["and"],
    &["try", "to"],
    &["let's"],
    &["lets"],
];

const POLITE_SUFFIXES: &[&[&str]] = &[
    &["please"],
    &["pls"],
    &["for", "me"],
    &["thanks"],
    &["thank", "you"],
    &["now"],
    &["right", "now"],
    &["quickly"],
    &["asap"],
    &["if", "you", "can"],
    &["if", "possible"],
    &["again"],
];

/// Words that join clauses.
const JOINERS: &[&str] = &["and", "then", "afterwards", "after", "also", "&"];

#[derive(Debug, Clone)]
struct Token {
    /// As written (quotes removed from a quoted span).
    text: String,
    /// Lower case, surrounding punctuation trimmed.
    norm: String,
    quoted: bool,
}

/// Parses `goal` into intents grounded in `windows`, or `None` when any part
/// of it is not understood with confidence.
pub fn parse_goal(goal: &str, actions: &ActionsConfig, windows: &[Window]) -> Option<Vec<Intent>> {
    match parse_prefix(goal, actions, windows) {
        (intents, None) if !intents.is_empty() => Some(intents),
        _ => None,
    }
}

/// Parses as many leading clauses of `goal` as it understands: their
/// intents, and the rest of the goal in the user's words (`None` when
/// nothing is left), for the model to take over.
pub fn parse_prefix(
    goal: &str,
    actions: &ActionsConfig,
    windows: &[Window],
) -> (Vec<Intent>, Option<String>) {
    let clauses = split_clauses(tokenize(goal));
    let mut parser = Parser {
        actions,
        windows,
        intents: Vec::new(),
        last_target: None,
        launched_kind: None,
    };
    for (index, clause) in clauses.iter().enumerate() {
        let clause = strip_politeness(clause.clone());
        if clause.is_empty() {
            continue;
        }
        let saved = (
            parser.intents.len(),
            parser.last_target.clone(),
            parser.launched_kind,
        );
        if parser.clause(&clause).is_none() {
            parser.intents.truncate(saved.0);
            let rest = clauses[index..]
                .iter()
                .map(|clause| written(clause))
                .collect::<Vec<_>>()
                .join(", ");
            return (parser.intents, Some(rest));
        }
    }
    if parser.intents.is_empty() {
        return (Vec::new(), Some(goal.trim().to_string()));
    }
    (parser.intents, None)
}

/// A clause as the user wrote it, quotes restored.
fn written(clause: &[Token]) -> String {
    clause
        .iter()
        .map(|token| {
            if token.quoted {
                format!("\"{}\"", token.text)
            } else {
                token.text.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn tokenize(goal: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut rest = goal.trim();
    while !rest.is_empty() {
        let first = rest.chars().next().unwrap_or(' ');
        if first.is_whitespace() {
            rest = rest.trim_start();
            continue;
        }
        let closing = match first {
            '"' => Some('"'),
            '“' => Some('”'),
            '\'' => Some('\''),
            '‘' => Some('’'),
            '`' => Some('`'),
            _ => None,
        };
        if let Some(closing) = closing {
            let inner = &rest[first.len_utf8()..];
            if let Some(end) = inner.find(closing) {
                let after = &inner[end + closing.len_utf8()..];
                // A closing quote ends a word, so "don't" is not a quote.
                if after.chars().next().is_none_or(|c| !c.is_alphanumeric()) {
                    let text = inner[..end].to_string();
                    tokens.push(Token {
                        norm: text.to_lowercase(),
                        text,
                        quoted: true,
                    });
                    rest = after;
                    // Punctuation right after a quote may end a clause.
                    if let Some(c) = rest.chars().next()
                        && matches!(c, ',' | ';')
                    {
                        tokens.push(Token {
                            text: c.to_string(),
                            norm: c.to_string(),
                            quoted: false,
                        });
                        rest = &rest[c.len_utf8()..];
                    }
                    continue;
                }
            }
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let word = &rest[..end];
        rest = &rest[end..];
        let trailing = word
            .chars()
            .last()
            .filter(|c| matches!(c, ',' | ';'))
            .map(|c| c.to_string());
        let norm = word
            .trim_matches(|c: char| !(c.is_alphanumeric() || "+-#'_".contains(c)))
            .to_lowercase();
        tokens.push(Token {
            text: word.trim_end_matches([',', ';']).to_string(),
            norm,
            quoted: false,
        });
        if let Some(mark) = trailing {
            tokens.push(Token {
                text: mark.clone(),
                norm: mark,
                quoted: false,
            });
        }
    }
    tokens
}

fn split_clauses(tokens: Vec<Token>) -> Vec<Vec<Token>> {
    let mut clauses = vec![Vec::new()];
    for token in tokens {
        let splits = !token.quoted
            && (JOINERS.contains(&token.norm.as_str()) || token.norm == "," || token.norm == ";");
        if splits {
            clauses.push(Vec::new());
        } else if (!token.norm.is_empty() || token.quoted)
            && let Some(last) = clauses.last_mut()
        {
            last.push(token);
        }
    }
    clauses.retain(|c| !c.is_empty());
    clauses
}

fn starts_with(words: &[Token], phrase: &[&str]) -> bool {
    words.len() >= phrase.len()
        && words
            .iter()
            .zip(phrase)
            .all(|(w, p)| !w.quoted && w.norm == *p)
}

fn ends_with(words: &[Token], phrase: &[&str]) -> bool {
    words.len() >= phrase.len() && starts_with(&words[words.len() - phrase.len()..], phrase)
}

fn strip_politeness(mut clause: Vec<Token>) -> Vec<Token> {
    loop {
        let before = clause.len();
        if let Some(prefix) = POLITE_PREFIXES.iter().find(|p| starts_with(&clause, p)) {
            clause.drain(..prefix.len());
        }
        if let Some(suffix) = POLITE_SUFFIXES.iter().find(|p| ends_with(&clause, p)) {
            clause.truncate(clause.len() - suffix.len());
        }
        if clause.len() == before {
            return clause;
        }
    }
}

fn norms(words: &[Token]) -> Vec<&str> {
    words.iter().map(|w| w.norm.as_str()).collect()
}

fn joined(words: &[Token]) -> String {
    norms(words).join(" ")
}

/// The kind of app a phrase or program names (an index into [`APP_KINDS`]).
fn app_kind(phrase: &str) -> Option<usize> {
    let phrase = phrase.trim();
    APP_KINDS.iter().position(|kind| kind.contains(&phrase))
}

fn program_name(command: &[String]) -> String {
    command
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or(p).to_lowercase())
        .unwrap_or_default()
}

/// Words that describe a window rather than name it.
const WINDOW_WORDS: &[&str] = &["window", "windows", "app", "application", "program", "one"];
/// Words that point at the window in context.
const DEICTIC: &[&str] = &[
    "it", "this", "that", "current", "focused", "active", "selected", "front", "top", "open",
    "opened", "same",
];

struct Parser<'a> {
    actions: &'a ActionsConfig,
    windows: &'a [Window],
    intents: Vec<Intent>,
    /// The window the previous clause acted on, for "it".
    last_target: Option<WindowRef>,
    /// The app kind the plan's latest launch started.
    launched_kind: Option<Option<usize>>,
}

/// A window phrase, before grounding.
enum Named {
    Context,
    /// "a terminal": a new one if none is open in this plan.
    Indefinite(String),
    Definite(String),
    Id(u64),
}

impl Parser<'_> {
    fn clause(&mut self, words: &[Token]) -> Option<()> {
        let text = joined(words);
        // Verbs with an object; longer phrases first.
        const LAUNCH: &[&[&str]] = &[
            &["open", "up"],
            &["open"],
            &["launch"],
            &["start", "up"],
            &["start"],
            &["bring", "up"],
            &["fire", "up"],
            &["spin", "up"],
            &["spawn"],
            &["give", "me"],
            &["get", "me"],
            &["i", "want"],
            &["i", "need"],
            &["i'd", "like"],
            &["load"],
            &["new"],
        ];
        const CLOSE: &[&[&str]] = &[
            &["get", "rid", "of"],
            &["close", "down"],
            &["shut", "down"],
            &["close"],
            &["quit"],
            &["exit"],
            &["kill"],
            &["dismiss"],
            &["shut"],
            &["terminate"],
        ];
        const FOCUS: &[&[&str]] = &[
            &["go", "back", "to"],
            &["switch", "back", "to"],
            &["switch", "to"],
            &["change", "to"],
            &["go", "to"],
            &["jump", "to"],
            &["focus", "on"],
            &["focus"],
            &["activate"],
            &["raise"],
            &["select"],
            &["show"],
        ];
        const TYPE: &[&[&str]] = &[
            &["type", "out"],
            &["type", "in"],
            &["type"],
            &["write"],
            &["input"],
            &["insert"],
            &["put"],
            &["enter"],
        ];
        const KEY: &[&[&str]] = &[&["press"], &["hit"], &["push"], &["tap"], &["strike"]];
        const RUN: &[&[&str]] = &[&["run"], &["execute"], &["exec"]];
        let op_verbs: &[(&[&str], WindowOp)] = &[
            (&["maximize"], WindowOp::Maximize(true)),
            (&["maximise"], WindowOp::Maximize(true)),
            (&["enlarge"], WindowOp::Maximize(true)),
            (&["expand"], WindowOp::Maximize(true)),
            (&["unmaximize"], WindowOp::Maximize(false)),
            (&["unmaximise"], WindowOp::Maximize(false)),
            (&["un-maximize"], WindowOp::Maximize(false)),
            (&["restore"], WindowOp::Maximize(false)),
            (&["minimize"], WindowOp::Minimize(true)),
            (&["minimise"], WindowOp::Minimize(true)),
            (&["hide"], WindowOp::Minimize(true)),
            (&["iconify"], WindowOp::Minimize(true)),
            (&["unminimize"], WindowOp::Minimize(false)),
            (&["unminimise"], WindowOp::Minimize(false)),
            (&["fullscreen"], WindowOp::Fullscreen(true)),
            (&["full-screen"], WindowOp::Fullscreen(true)),
            (&["full", "screen"], WindowOp::Fullscreen(true)),
        ];

        if let Some(intent) = files::file_intent(words) {
            self.intents.push(intent);
            return Some(());
        }
        let (head, target) = self.split_target_words(words);
        if let Some(command) = terminal_command(&joined(head)) {
            return self.command_into(command, target);
        }
        if let Some(keys) = shortcut(&text) {
            return self.key(keys, None);
        }
        if let Some(keys) = key_chord(words) {
            // A bare key name: "enter", "escape", "ctrl c".
            return self.key(keys, None);
        }
        // An app named on its own ("terminal, please") means open it.
        if self.app_named(&object_phrase(words)).is_some() {
            return self.launch(words);
        }
        if let Some(verb) = LAUNCH.iter().find(|v| starts_with(words, v)) {
            let rest = &words[verb.len()..];
            return self.launch(rest);
        }
        if let Some(verb) = CLOSE.iter().find(|v| starts_with(words, v)) {
            return self.window_op(WindowOp::Close, &words[verb.len()..]);
        }
        if let Some((verb, op)) = op_verbs.iter().find(|(v, _)| starts_with(words, v)) {
            return self.window_op(*op, &words[verb.len()..]);
        }
        if starts_with(words, &["make"]) || starts_with(words, &["set"]) {
            return self.make(&words[1..]);
        }
        if starts_with(words, &["bring"]) {
            // "bring the terminal to the front"
            let rest = &words[1..];
            let cut = rest
                .iter()
                .position(|w| matches!(w.norm.as_str(), "to" | "forward" | "back" | "up"))
                .unwrap_or(rest.len());
            return self.window_op(WindowOp::Focus, &rest[..cut]);
        }
        if let Some(verb) = FOCUS.iter().find(|v| starts_with(words, v)) {
            return self.window_op(WindowOp::Focus, &words[verb.len()..]);
        }
        if let Some(verb) = KEY.iter().find(|v| starts_with(words, v)) {
            let (keys, target) = self.split_target_words(&words[verb.len()..]);
            let keys = key_chord(keys)?;
            return self.key(keys, target);
        }
        if let Some(verb) = RUN.iter().find(|v| starts_with(words, v)) {
            let rest = &words[verb.len()..];
            if rest.is_empty()
                || (rest.len() == 1 && matches!(rest[0].norm.as_str(), "it" | "this" | "that"))
            {
                // "run it": submit what was just typed.
                return self.submit_last();
            }
            if self.app_named(&object_phrase(rest)).is_some() {
                return self.launch(rest);
            }
            let (command, target) = self.split_target_words(rest);
            let command = original(command)?;
            return self.command_into(command, target);
        }
        if let Some(verb) = TYPE.iter().find(|v| starts_with(words, v)) {
            let (text, target) = self.split_target_words(&words[verb.len()..]);
            // "write an email to Sam" describes text to compose: the model's job.
            if text.first().is_some_and(opens_a_description) {
                return None;
            }
            // "write buy milk into my notes": a destination that is no
            // window is for the model to find.
            if target.is_none()
                && text
                    .iter()
                    .any(|w| !w.quoted && matches!(w.norm.as_str(), "into" | "onto" | "inside"))
            {
                return None;
            }
            let text = original(text)?;
            let target = match target {
                Some(named) => Some(self.ground_or_launch(named)?),
                None => None,
            };
            return self.push_typing(text, target, false);
        }
        None
    }

    fn launch(&mut self, rest: &[Token]) -> Option<()> {
        let (count, rest) = quantity(rest)?;
        let phrase = object_phrase(rest);
        let definite = rest
            .first()
            .is_some_and(|w| w.norm == "the" || w.norm == "my");
        let app = match self.app_named(&phrase) {
            Some(app) => app,
            // "two terminals": the app by its singular.
            None if count > 1 => singulars(&phrase).find_map(|one| self.app_named(&one))?,
            None => return None,
        };
        let kind = self.kind_of_app(&app);
        // "open the terminal" when one is open means that one.
        if count == 1
            && definite
            && let Some(id) = self.open_window_of(&app)
        {
            return self.push_op(WindowOp::Focus, WindowRef::Window(id));
        }
        for _ in 0..count {
            self.intents.push(Intent::Launch { app: app.clone() });
        }
        self.launched_kind = Some(kind);
        self.last_target = Some(WindowRef::Launched);
        Some(())
    }

    fn window_op(&mut self, op: WindowOp, rest: &[Token]) -> Option<()> {
        let named = self.named(rest)?;
        let target = self.ground(named)?;
        self.push_op(op, target)
    }

    fn push_op(&mut self, op: WindowOp, target: WindowRef) -> Option<()> {
        self.intents.push(Intent::Window {
            op,
            target: target.clone(),
        });
        self.last_target = Some(target);
        Some(())
    }

    /// "make the terminal bigger", "make it full screen".
    fn make(&mut self, rest: &[Token]) -> Option<()> {
        let endings: &[(&[&str], WindowOp)] = &[
            (&["full", "screen"], WindowOp::Fullscreen(true)),
            (&["fullscreen"], WindowOp::Fullscreen(true)),
            (&["full", "size"], WindowOp::Maximize(true)),
            (&["fill", "the", "screen"], WindowOp::Maximize(true)),
            (&["maximized"], WindowOp::Maximize(true)),
            (&["maximised"], WindowOp::Maximize(true)),
            (&["bigger"], WindowOp::Maximize(true)),
            (&["larger"], WindowOp::Maximize(true)),
            (&["big"], WindowOp::Maximize(true)),
            (&["huge"], WindowOp::Maximize(true)),
            (&["normal", "size"], WindowOp::Maximize(false)),
            (&["normal"], WindowOp::Maximize(false)),
            (&["smaller"], WindowOp::Maximize(false)),
            (&["disappear"], WindowOp::Minimize(true)),
            (&["go", "away"], WindowOp::Minimize(true)),
        ];
        let (ending, op) = endings.iter().find(|(e, _)| ends_with(rest, e))?;
        self.window_op(*op, &rest[..rest.len() - ending.len()])
    }

    fn key(&mut self, keys: String, target: Option<Named>) -> Option<()> {
        let target = match target {
            Some(named) => Some(self.ground(named)?),
            None => None,
        };
        // "type hello and press enter" submits the typing.
        if keys == "Return"
            && target.is_none()
            && let Some(Intent::Type { submit, .. }) = self.intents.last_mut()
            && !*submit
        {
            *submit = true;
            return Some(());
        }
        if let Some(target) = &target {
            self.last_target = Some(target.clone());
        }
        self.intents.push(Intent::Key { keys, target });
        Some(())
    }

    fn submit_last(&mut self) -> Option<()> {
        match self.intents.last_mut() {
            Some(Intent::Type { submit, .. }) if !*submit => {
                *submit = true;
                Some(())
            }
            _ => None,
        }
    }

    fn command_into(&mut self, command: String, target: Option<Named>) -> Option<()> {
        let terminal = app_kind("terminal");
        let target = match target {
            Some(named) => self.ground_or_launch(named)?,
            None => self.terminal_in_context(terminal)?,
        };
        self.push_typing(command, Some(target), true)
    }

    /// The terminal a bare command is meant for: the one the plan just
    /// opened or used, the focused one, any open one, or a new one.
    fn terminal_in_context(&mut self, terminal: Option<usize>) -> Option<WindowRef> {
        if let Some(last) = &self.last_target {
            let is_terminal = match last {
                WindowRef::Launched => self.launched_kind == Some(terminal),
                WindowRef::Window(id) => self.window_kind(*id) == terminal,
            };
            if is_terminal {
                return Some(last.clone());
            }
        }
        if let Some(focused) = self.windows.iter().find(|w| w.focused)
            && self.window_kind(focused.id) == terminal
        {
            return Some(WindowRef::Window(focused.id));
        }
        if let Some(open) = self
            .windows
            .iter()
            .rev()
            .find(|w| self.window_kind(w.id) == terminal)
        {
            return Some(WindowRef::Window(open.id));
        }
        let app = self.app_named("terminal")?;
        self.intents.push(Intent::Launch { app });
        self.launched_kind = Some(terminal);
        Some(WindowRef::Launched)
    }

    fn push_typing(&mut self, text: String, target: Option<WindowRef>, submit: bool) -> Option<()> {
        if text.is_empty() {
            return None;
        }
        if let Some(target) = &target {
            self.last_target = Some(target.clone());
        }
        self.intents.push(Intent::Type {
            text,
            target,
            submit,
        });
        Some(())
    }

    /// Splits "hello into the terminal" at the last preposition whose
    /// remainder names a window.
    fn split_target_words<'w>(&self, words: &'w [Token]) -> (&'w [Token], Option<Named>) {
        for (index, word) in words.iter().enumerate().rev() {
            if word.quoted || !matches!(word.norm.as_str(), "into" | "in" | "on" | "inside" | "to")
            {
                continue;
            }
            let rest = &words[index + 1..];
            if rest.is_empty() {
                continue;
            }
            if let Some(named) = self.named(rest)
                && self.plausible(&named)
            {
                return (&words[..index], Some(named));
            }
        }
        (words, None)
    }

    /// Whether a phrase could name a window or app at all.
    fn plausible(&self, named: &Named) -> bool {
        match named {
            Named::Context | Named::Id(_) => true,
            Named::Indefinite(phrase) | Named::Definite(phrase) => {
                app_kind(phrase).is_some()
                    || self.app_named(phrase).is_some()
                    || self.window_titled(phrase).is_some()
            }
        }
    }

    /// Reads a window phrase.
    fn named(&self, words: &[Token]) -> Option<Named> {
        let indefinite = words
            .first()
            .is_some_and(|w| matches!(w.norm.as_str(), "a" | "an" | "another" | "new"));
        let content: Vec<&Token> = words
            .iter()
            .filter(|w| !matches!(w.norm.as_str(), "the" | "a" | "an" | "my" | "our" | "your"))
            .collect();
        let words_only: Vec<&str> = content
            .iter()
            .map(|w| w.norm.as_str())
            .filter(|w| !WINDOW_WORDS.contains(w))
            .collect();
        if words_only.is_empty() || words_only.iter().all(|w| DEICTIC.contains(w)) {
            return Some(Named::Context);
        }
        if let [number] = words_only.as_slice()
            && let Ok(id) = number.trim_start_matches('#').parse::<u64>()
        {
            return Some(Named::Id(id));
        }
        let phrase = words_only
            .iter()
            .filter(|w| !DEICTIC.contains(w))
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        if indefinite {
            Some(Named::Indefinite(phrase))
        } else {
            Some(Named::Definite(phrase))
        }
    }

    /// Grounds a window phrase in the window list and the plan so far.
    fn ground(&mut self, named: Named) -> Option<WindowRef> {
        match named {
            Named::Id(id) => self
                .windows
                .iter()
                .any(|w| w.id == id)
                .then_some(WindowRef::Window(id)),
            Named::Context => {
                if let Some(last) = &self.last_target {
                    return Some(last.clone());
                }
                if let Some(focused) = self.windows.iter().find(|w| w.focused) {
                    return Some(WindowRef::Window(focused.id));
                }
                match self.windows {
                    [only] => Some(WindowRef::Window(only.id)),
                    _ => None,
                }
            }
            Named::Indefinite(phrase) | Named::Definite(phrase) => {
                // The app the plan just launched?
                if let Some(kind) = self.launched_kind
                    && kind.is_some()
                    && app_kind(&phrase) == kind
                {
                    return Some(WindowRef::Launched);
                }
                if let Some(app) = self.app_named(&phrase)
                    && let Some(id) = self.open_window_of(&app)
                {
                    return Some(WindowRef::Window(id));
                }
                let kind = app_kind(&phrase);
                if kind.is_some()
                    && let Some(window) = self
                        .windows
                        .iter()
                        .rev()
                        .find(|w| self.window_kind(w.id) == kind)
                {
                    return Some(WindowRef::Window(window.id));
                }
                // A title or app id named outright: "close firefox", "the shell one".
                self.window_titled(&phrase).map(WindowRef::Window)
            }
        }
    }

    /// Like [`Parser::ground`], but "a terminal" with none open launches one
    /// first (for text and commands, which need somewhere to go).
    fn ground_or_launch(&mut self, named: Named) -> Option<WindowRef> {
        let Named::Indefinite(phrase) = named else {
            return self.ground(named);
        };
        if let Some(found) = self.ground(Named::Indefinite(phrase.clone())) {
            return Some(found);
        }
        let app = self.app_named(&phrase)?;
        let kind = self.kind_of_app(&app);
        self.intents.push(Intent::Launch { app });
        self.launched_kind = Some(kind);
        Some(WindowRef::Launched)
    }

    /// The configured app a phrase names: by its own name, or by kind.
    fn app_named(&self, phrase: &str) -> Option<String> {
        let phrase = phrase.trim();
        if phrase.is_empty() {
            return None;
        }
        if let Some(name) = self
            .actions
            .apps
            .keys()
            .find(|n| n.to_lowercase() == phrase)
        {
            return Some(name.clone());
        }
        let kind = app_kind(phrase)?;
        let apps = &self.actions.apps;
        // The app named for the kind itself ("terminal"), then one named like
        // the kind ("console"), then one whose program is of the kind ("foot").
        apps.keys()
            .find(|name| name.to_lowercase() == APP_KINDS[kind][0])
            .or_else(|| {
                apps.keys()
                    .find(|name| app_kind(&name.to_lowercase()) == Some(kind))
            })
            .or_else(|| {
                apps.iter()
                    .find(|(_, command)| app_kind(&program_name(command)) == Some(kind))
                    .map(|(name, _)| name)
            })
            .cloned()
    }

    fn kind_of_app(&self, app: &str) -> Option<usize> {
        app_kind(&app.to_lowercase()).or_else(|| {
            self.actions
                .apps
                .get(app)
                .and_then(|command| app_kind(&program_name(command)))
        })
    }

    /// The kind of app a window shows, from its app id.
    fn window_kind(&self, id: u64) -> Option<usize> {
        let window = self.windows.iter().find(|w| w.id == id)?;
        let app_id = window.app_id.as_deref().unwrap_or("").to_lowercase();
        app_kind(&app_id).or_else(|| {
            // An app configured under a kind's name (`terminal = ["foot", ...]`).
            self.actions
                .apps
                .iter()
                .find(|(_, command)| program_name(command) == app_id)
                .and_then(|(name, _)| app_kind(&name.to_lowercase()))
        })
    }

    /// The topmost open window of a configured app; the focused one first.
    fn open_window_of(&self, app: &str) -> Option<u64> {
        let program = self
            .actions
            .apps
            .get(app)
            .map(|c| program_name(c))
            .unwrap_or_default();
        let kind = self.kind_of_app(app);
        let matches = |w: &&Window| {
            let app_id = w.app_id.as_deref().unwrap_or("").to_lowercase();
            (!program.is_empty() && app_id == program)
                || app_id == app.to_lowercase()
                || (kind.is_some() && self.window_kind(w.id) == kind)
        };
        self.windows
            .iter()
            .find(|w| w.focused && matches(w))
            .or_else(|| self.windows.iter().rev().find(matches))
            .map(|w| w.id)
    }

    fn window_titled(&self, phrase: &str) -> Option<u64> {
        if phrase.len() < 2 {
            return None;
        }
        let field = |v: &Option<String>| v.as_deref().unwrap_or("").to_lowercase();
        self.windows
            .iter()
            .rev()
            .find(|w| field(&w.app_id) == phrase || field(&w.title) == phrase)
            .or_else(|| {
                self.windows
                    .iter()
                    .rev()
                    .find(|w| field(&w.app_id).contains(phrase) || field(&w.title).contains(phrase))
            })
            .map(|w| w.id)
    }
}

/// The object of a verb as an app phrase: articles and "window"/"app" dropped.
fn object_phrase(words: &[Token]) -> String {
    words
        .iter()
        .map(|w| w.norm.as_str())
        .filter(|w| {
            !matches!(
                *w,
                "a" | "an" | "the" | "my" | "new" | "another" | "up" | "fresh" | "please"
            ) && !WINDOW_WORDS.contains(w)
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Most windows one goal may open at once; a larger number is more likely
/// a misheard word than a wish, and goes to the model.
const MAX_LAUNCHES: usize = 5;

/// How many of something a launch asks for ("two", "3", "a couple of"), and
/// the words after the number. One when no number leads; `None` past
/// [`MAX_LAUNCHES`].
fn quantity(words: &[Token]) -> Option<(usize, &[Token])> {
    let norms: Vec<&str> = words.iter().map(|w| w.norm.as_str()).collect();
    for (phrase, count) in [
        (&["a", "couple", "of"][..], 2),
        (&["couple", "of"][..], 2),
        (&["a", "pair", "of"][..], 2),
    ] {
        if norms.starts_with(phrase) {
            return Some((count, &words[phrase.len()..]));
        }
    }
    const NUMBERS: &[&str] = &[
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
    ];
    let Some(first) = norms.first() else {
        return Some((1, words));
    };
    let count = first
        .parse::<usize>()
        .ok()
        .or_else(|| NUMBERS.iter().position(|n| n == first));
    match count {
        // "one" alone is a window word ("open another one").
        Some(1) if words.len() == 1 => Some((1, words)),
        Some(count @ 1..=MAX_LAUNCHES) => Some((count, &words[1..])),
        Some(_) => None,
        None => Some((1, words)),
    }
}

/// The singulars a plural phrase may stand for: "terminals" → "terminal",
/// "command lines" → "command line", "boxes" → "box".
fn singulars(phrase: &str) -> impl Iterator<Item = String> + '_ {
    ["s", "es"].into_iter().filter_map(move |ending| {
        phrase
            .strip_suffix(ending)
            .filter(|one| !one.is_empty())
            .map(str::to_string)
    })
}

/// Whether text to type or write starts by describing what to compose
/// ("an email to Sam", "something nice") rather than giving it.
fn opens_a_description(word: &Token) -> bool {
    !word.quoted
        && matches!(
            word.norm.as_str(),
            "a" | "an" | "the" | "some" | "something" | "me" | "my" | "about"
        )
}

/// The words as written, a quoted span without its quotes.
fn original(words: &[Token]) -> Option<String> {
    if words.is_empty() {
        return None;
    }
    if let [only] = words
        && only.quoted
    {
        return Some(only.text.clone());
    }
    let text = words
        .iter()
        .map(|w| w.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let text = text.trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// Everyday requests that mean one shell command.
fn terminal_command(text: &str) -> Option<String> {
    let words: Vec<&str> = text.split(' ').collect();
    // "show the file manager" is about an app, not a command.
    if [
        "manager",
        "browser",
        "explorer",
        "app",
        "application",
        "window",
    ]
    .iter()
    .any(|w| words.contains(w))
    {
        return None;
    }
    let has = |w: &str| words.contains(&w);
    let about_files = [
        "file",
        "files",
        "directory",
        "folder",
        "contents",
        "directories",
    ]
    .iter()
    .any(|w| has(w));
    let hidden = has("hidden") || has("all");
    let lists = has("list") || (has("show") && about_files) || text.starts_with("what files");
    if lists && about_files {
        return Some(if hidden { "ls -a" } else { "ls" }.into());
    }
    if (has("clear") || has("wipe")) && (has("screen") || has("terminal") || has("console")) {
        return Some("clear".into());
    }
    if text == "where am i"
        || ((has("current") || has("working")) && (has("directory") || has("folder")))
    {
        return Some("pwd".into());
    }
    if has("disk") && (has("space") || has("usage") || has("free")) {
        return Some("df -h".into());
    }
    if text == "who am i" || text == "whoami" {
        return Some("whoami".into());
    }
    if (has("date") || text.contains("what time")) && !has("type") && !has("write") {
        return Some("date".into());
    }
    None
}

/// Editing shortcuts by name.
fn shortcut(text: &str) -> Option<String> {
    let keys = match text {
        "copy" | "copy it" | "copy that" | "copy the selection" | "copy the text" => "ctrl+c",
        "paste" | "paste it" | "paste that" | "paste the clipboard" => "ctrl+v",
        "cut" | "cut it" | "cut that" | "cut the selection" => "ctrl+x",
        "undo" | "undo it" | "undo that" => "ctrl+z",
        "redo" | "redo it" | "redo that" => "ctrl+shift+z",
        "save" | "save it" | "save that" | "save the file" | "save the document" => "ctrl+s",
        "select all" | "select everything" | "select all the text" => "ctrl+a",
        _ => return None,
    };
    Some(keys.into())
}

/// A key or chord in words ("enter", "the escape key", "control c",
/// "ctrl+shift+t") as keysym names joined by `+`.
fn key_chord(words: &[Token]) -> Option<String> {
    let mut parts: Vec<String> = Vec::new();
    for word in words {
        if word.quoted {
            return None;
        }
        for piece in word.norm.split(['+', '-']) {
            match piece {
                "" | "the" | "key" | "keys" | "button" | "arrow" | "on" | "keyboard" | "once"
                | "a" => {}
                _ => parts.push(piece.to_string()),
            }
        }
    }
    // Two-word names.
    let mut merged: Vec<String> = Vec::new();
    let mut index = 0;
    while index < parts.len() {
        let pair = parts
            .get(index + 1)
            .map(|next| format!("{} {next}", parts[index]));
        match pair.as_deref() {
            Some("page up") => {
                merged.push("page_up".into());
                index += 2;
            }
            Some("page down") => {
                merged.push("page_down".into());
                index += 2;
            }
            Some("space bar") => {
                merged.push("space".into());
                index += 2;
            }
            _ => {
                merged.push(parts[index].clone());
                index += 1;
            }
        }
    }
    let mut modifiers = Vec::new();
    let mut key = None;
    for part in merged {
        let modifier = match part.as_str() {
            "ctrl" | "control" | "ctl" => Some("ctrl"),
            "alt" | "option" => Some("alt"),
            "shift" => Some("shift"),
            "super" | "windows" | "win" | "meta" | "logo" | "cmd" | "command" => Some("super"),
            _ => None,
        };
        if let Some(modifier) = modifier {
            modifiers.push(modifier.to_string());
            continue;
        }
        if key.is_some() {
            return None;
        }
        key = Some(key_name(&part)?);
    }
    match (key, modifiers.as_slice()) {
        (None, [only]) if only == "super" => Some("super".into()),
        (None, _) => None,
        (Some(key), _) => {
            modifiers.push(key);
            Some(modifiers.join("+"))
        }
    }
}

fn key_name(word: &str) -> Option<String> {
    let name = match word {
        "enter" | "return" | "newline" => "Return",
        "esc" | "escape" => "Escape",
        "tab" => "Tab",
        "space" | "spacebar" => "space",
        "backspace" => "BackSpace",
        "delete" | "del" => "Delete",
        "up" => "Up",
        "down" => "Down",
        "left" => "Left",
        "right" => "Right",
        "home" => "Home",
        "end" => "End",
        "pageup" | "pgup" | "page_up" => "Page_Up",
        "pagedown" | "pgdn" | "page_down" => "Page_Down",
        "insert" => "Insert",
        _ => {
            if let Some(n) = word.strip_prefix('f')
                && let Ok(n) = n.parse::<u8>()
                && (1..=12).contains(&n)
            {
                return Some(format!("F{n}"));
            }
            let mut chars = word.chars();
            return match (chars.next(), chars.next()) {
                (Some(c), None) if c.is_ascii_alphanumeric() => Some(c.to_string()),
                _ => None,
            };
        }
    };
    Some(name.into())
}

#[cfg(test)]
mod tests;
