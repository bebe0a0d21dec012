use super::*;
use digios_ipc::Rect;

fn window(id: u64, app_id: &str, focused: bool) -> Window {
    Window {
        id,
        app_id: Some(app_id.into()),
        title: Some(format!("{app_id} window")),
        geometry: Rect::new(0, 0, 100, 100),
        title_bar: None,
        focused,
        maximized: false,
        minimized: false,
        fullscreen: false,
        pid: None,
        output: None,
    }
}

fn apps() -> ActionsConfig {
    ActionsConfig::default()
}

fn parse(goal: &str, windows: &[Window]) -> Option<Vec<Intent>> {
    parse_goal(goal, &apps(), windows)
}

fn launch_terminal() -> Intent {
    Intent::Launch {
        app: "terminal".into(),
    }
}

#[test]
fn ways_to_ask_for_a_terminal() {
    for goal in [
        "open a terminal",
        "Open a terminal.",
        "please open a terminal",
        "Could you open a new terminal window for me?",
        "launch the terminal",
        "start a console",
        "fire up a shell please",
        "I need a terminal",
        "new terminal",
        "open up a command line",
        "hey digiOS, start a terminal, thanks",
    ] {
        assert_eq!(parse(goal, &[]), Some(vec![launch_terminal()]), "{goal}");
    }
    // "foot" names the app itself.
    assert_eq!(
        parse("run foot", &[]),
        Some(vec![Intent::Launch { app: "foot".into() }])
    );
}

#[test]
fn the_open_terminal_is_focused_not_duplicated() {
    let windows = [window(4, "foot", false), window(5, "firefox", true)];
    assert_eq!(
        parse("open the terminal", &windows),
        Some(vec![Intent::Window {
            op: WindowOp::Focus,
            target: WindowRef::Window(4)
        }])
    );
    assert_eq!(
        parse("open a terminal", &windows),
        Some(vec![launch_terminal()])
    );
}

#[test]
fn windows_are_named_by_context_app_or_title() {
    let windows = [window(4, "foot", false), window(5, "firefox", true)];
    let op = |op, id| {
        Some(vec![Intent::Window {
            op,
            target: WindowRef::Window(id),
        }])
    };
    assert_eq!(parse("close this window", &windows), op(WindowOp::Close, 5));
    assert_eq!(parse("close it", &windows), op(WindowOp::Close, 5));
    assert_eq!(
        parse("close the focused window", &windows),
        op(WindowOp::Close, 5)
    );
    assert_eq!(
        parse("close the terminal window", &windows),
        op(WindowOp::Close, 4)
    );
    assert_eq!(parse("quit the console", &windows), op(WindowOp::Close, 4));
    assert_eq!(
        parse("get rid of firefox", &windows),
        op(WindowOp::Close, 5)
    );
    assert_eq!(parse("kill the browser", &windows), op(WindowOp::Close, 5));
    assert_eq!(parse("close window 4", &windows), op(WindowOp::Close, 4));
    assert_eq!(
        parse("maximize the window", &windows),
        op(WindowOp::Maximize(true), 5)
    );
    assert_eq!(
        parse("Maximise the terminal.", &windows),
        op(WindowOp::Maximize(true), 4)
    );
    assert_eq!(
        parse("make the terminal bigger", &windows),
        op(WindowOp::Maximize(true), 4)
    );
    assert_eq!(
        parse("make it full screen", &windows),
        op(WindowOp::Fullscreen(true), 5)
    );
    assert_eq!(
        parse("minimize firefox", &windows),
        op(WindowOp::Minimize(true), 5)
    );
    assert_eq!(
        parse("switch to the terminal", &windows),
        op(WindowOp::Focus, 4)
    );
    assert_eq!(
        parse("bring the terminal to the front", &windows),
        op(WindowOp::Focus, 4)
    );
    assert_eq!(
        parse("restore the window", &windows),
        op(WindowOp::Maximize(false), 5)
    );
}

#[test]
fn the_only_window_needs_no_focus_to_be_meant() {
    let windows = [window(9, "foot", false)];
    assert_eq!(
        parse("maximize the window", &windows),
        Some(vec![Intent::Window {
            op: WindowOp::Maximize(true),
            target: WindowRef::Window(9)
        }])
    );
}

#[test]
fn what_cannot_be_grounded_goes_to_the_model() {
    let windows = [window(4, "foot", false), window(5, "foot", false)];
    // Two windows, none focused: "the window" is ambiguous.
    assert_eq!(parse("maximize the window", &windows), None);
    // No such window.
    assert_eq!(parse("close the browser", &[window(4, "foot", true)]), None);
    assert_eq!(parse("close window 99", &windows), None);
    // Not a simple command at all.
    for goal in [
        "write an email to Sam about the meeting",
        "what is the weather like",
        "organise my desktop",
        "open the pod bay doors",
        "",
    ] {
        assert_eq!(parse(goal, &windows), None, "{goal}");
    }
}

#[test]
fn typing_into_a_window() {
    let windows = [window(4, "foot", false), window(5, "firefox", true)];
    assert_eq!(
        parse("type hello into the terminal", &windows),
        Some(vec![Intent::Type {
            text: "hello".into(),
            target: Some(WindowRef::Window(4)),
            submit: false
        }])
    );
    assert_eq!(
        parse("Please write \"Hello, World\" in the terminal", &windows),
        Some(vec![Intent::Type {
            text: "Hello, World".into(),
            target: Some(WindowRef::Window(4)),
            submit: false
        }])
    );
    assert_eq!(
        parse("type ls -la and press enter", &windows),
        Some(vec![Intent::Type {
            text: "ls -la".into(),
            target: None,
            submit: true
        }])
    );
    assert_eq!(
        parse("press ctrl+c in the terminal", &windows),
        Some(vec![Intent::Key {
            keys: "ctrl+c".into(),
            target: Some(WindowRef::Window(4))
        }])
    );
    assert_eq!(
        parse("hit the escape key", &windows),
        Some(vec![Intent::Key {
            keys: "Escape".into(),
            target: None
        }])
    );
    assert_eq!(
        parse("press control shift t", &windows),
        Some(vec![Intent::Key {
            keys: "ctrl+shift+t".into(),
            target: None
        }])
    );
    assert_eq!(
        parse("undo that", &windows),
        Some(vec![Intent::Key {
            keys: "ctrl+z".into(),
            target: None
        }])
    );
}

#[test]
fn compound_goals_chain_through_the_launched_window() {
    let expected = Some(vec![
        launch_terminal(),
        Intent::Type {
            text: "ls".into(),
            target: Some(WindowRef::Launched),
            submit: true,
        },
    ]);
    assert_eq!(parse("open a terminal and list my files", &[]), expected);
    assert_eq!(
        parse("Open a terminal, then show me my files", &[]),
        expected
    );
    assert_eq!(parse("list my files in a terminal", &[]), expected);
    assert_eq!(
        parse("open a terminal and run uname -a", &[]),
        Some(vec![
            launch_terminal(),
            Intent::Type {
                text: "uname -a".into(),
                target: Some(WindowRef::Launched),
                submit: true
            }
        ])
    );
    assert_eq!(
        parse("open a terminal and maximize it", &[]),
        Some(vec![
            launch_terminal(),
            Intent::Window {
                op: WindowOp::Maximize(true),
                target: WindowRef::Launched
            }
        ])
    );
    assert_eq!(
        parse("start a terminal and type hello into it", &[]),
        Some(vec![
            launch_terminal(),
            Intent::Type {
                text: "hello".into(),
                target: Some(WindowRef::Launched),
                submit: false
            }
        ])
    );
}

#[test]
fn commands_go_to_the_terminal_in_view() {
    let windows = [window(4, "foot", false), window(5, "firefox", true)];
    assert_eq!(
        parse("list my files", &windows),
        Some(vec![Intent::Type {
            text: "ls".into(),
            target: Some(WindowRef::Window(4)),
            submit: true
        }])
    );
    assert_eq!(
        parse("clear the screen", &windows),
        Some(vec![Intent::Type {
            text: "clear".into(),
            target: Some(WindowRef::Window(4)),
            submit: true
        }])
    );
}

/// A plan in a few words, for the table below.
fn describe(intents: &[Intent]) -> String {
    let target = |t: &WindowRef| match t {
        WindowRef::Window(id) => id.to_string(),
        WindowRef::Launched => "new".into(),
    };
    intents
        .iter()
        .map(|intent| match intent {
            Intent::Launch { app } => format!("launch {app}"),
            Intent::Window { op, target: t } => format!("{op:?} {}", target(t)),
            Intent::Type {
                text,
                target: t,
                submit,
            } => format!(
                "type {text:?}{}{}",
                t.as_ref()
                    .map(|t| format!(" > {}", target(t)))
                    .unwrap_or_default(),
                if *submit { " +Return" } else { "" }
            ),
            Intent::Key { keys, target: t } => format!(
                "key {keys}{}",
                t.as_ref()
                    .map(|t| format!(" > {}", target(t)))
                    .unwrap_or_default()
            ),
            Intent::WriteFile { path, text, mode } => format!("{mode:?} {text:?} > {path}"),
            Intent::MoveFile { from, to } => format!("move {from} > {to}"),
            Intent::CopyFile { from, to } => format!("copy {from} > {to}"),
            Intent::DeleteFile { path } => format!("delete {path}"),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Phrasings as data: goal → plan, on a desktop with a terminal (4) and a
/// focused browser (5). `-` means the model takes it.
const PHRASINGS: &str = "
open a terminal                                   | launch terminal
Open a terminal please!                           | launch terminal
can you launch a new console                      | launch terminal
terminal please                                   | launch terminal
the terminal                                      | Focus 4
bring up the terminal                             | Focus 4
go back to the terminal                           | Focus 4
show the browser                                  | Focus 5
close this window                                 | Close 5
close that                                        | Close 5
please close the terminal window                  | Close 4
shut the console                                  | Close 4
exit firefox                                      | Close 5
dismiss window 4                                  | Close 4
maximise it                                       | Maximize(true) 5
make the browser full screen                      | Fullscreen(true) 5
make the terminal window smaller                  | Maximize(false) 4
hide the terminal                                 | Minimize(true) 4
full screen the terminal                          | Fullscreen(true) 4
type hello into the terminal                      | type \"hello\" > 4
type hello world in the console                   | type \"hello world\" > 4
write 'echo hi' into the terminal and press enter | type \"echo hi\" > 4 +Return
enter \"pwd\" in the terminal                       | type \"pwd\" > 4
type hello                                        | type \"hello\"
press enter                                       | key Return
press alt+f4                                      | key alt+F4
hit page down                                     | key Page_Down
press the super key                               | key super
escape                                            | key Escape
copy that                                         | key ctrl+c
save the file                                     | key ctrl+s
list my files                                     | type \"ls\" > 4 +Return
show hidden files in the terminal                 | type \"ls -a\" > 4 +Return
where am i                                        | type \"pwd\" > 4 +Return
run git status in the terminal                    | type \"git status\" > 4 +Return
open a terminal and list my files                 | launch terminal; type \"ls\" > new +Return
open a terminal and then type ls into it and press enter | launch terminal; type \"ls\" > new +Return
start a shell, maximize it and run top            | launch terminal; Maximize(true) new; type \"top\" > new +Return
switch to the terminal and clear the screen       | Focus 4; type \"clear\" > 4 +Return
open a terminal and close the browser             | launch terminal; Close 5
write a poem about the sea                        | -
type something nice                               | -
open the pod bay doors                            | -
close the calculator                              | -
what time is it in Tokyo                          | type \"date\" > 4 +Return
tidy up my desktop                                | -
write buy milk into notes.txt                     | Replace \"buy milk\" > ~/notes.txt
jot down 'call mum' in ~/todo.txt                 | -
save the text hello to /tmp/x/hello.txt           | Replace \"hello\" > /tmp/x/hello.txt
add eggs to shopping.txt and open a terminal      | Append \"eggs\" > ~/shopping.txt; launch terminal
rename draft.txt to final.txt                     | move ~/draft.txt > ~/final.txt
move ~/a.txt to the backup folder                 | move ~/a.txt > ~/backup/a.txt
delete the file ~/old.txt                         | delete ~/old.txt
copy notes.txt to backup.txt                      | copy ~/notes.txt > ~/backup.txt
make a copy of ~/docs/plan.md as plan-v2.md       | copy ~/docs/plan.md > ~/docs/plan-v2.md
back up ~/thesis.tex to the archive folder        | copy ~/thesis.tex > ~/archive/thesis.tex
remove the terminal                               | -
write hello into the terminal                     | type \"hello\" > 4
";

#[test]
fn phrasings_map_to_plans() {
    let windows = [window(4, "foot", false), window(5, "firefox", true)];
    let mut wrong = Vec::new();
    for line in PHRASINGS.lines().filter(|l| !l.trim().is_empty()) {
        let (goal, expected) = line.split_once('|').unwrap();
        let (goal, expected) = (goal.trim(), expected.trim());
        let got = parse(goal, &windows)
            .map(|intents| describe(&intents))
            .unwrap_or_else(|| "-".into());
        if got != expected {
            wrong.push(format!("{goal:?}: expected {expected}, got {got}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn what_is_understood_first_runs_and_the_rest_goes_to_the_model() {
    let (intents, rest) = parse_prefix("open a terminal and write a poem in it", &apps(), &[]);
    assert_eq!(intents, vec![launch_terminal()]);
    assert_eq!(rest.as_deref(), Some("write a poem in it"));
    let (intents, rest) = parse_prefix("tidy up, then open a terminal", &apps(), &[]);
    assert!(intents.is_empty());
    assert_eq!(rest.as_deref(), Some("tidy up, open a terminal"));
    let (intents, rest) = parse_prefix("open a terminal", &apps(), &[]);
    assert_eq!((intents, rest), (vec![launch_terminal()], None));
}

#[test]
fn a_number_of_windows_opens_that_many() {
    for (goal, count) in [
        ("open two terminals", 2),
        ("Open 3 terminals please", 3),
        ("launch a couple of terminals", 2),
        ("start two new terminal windows", 2),
        ("open up a pair of consoles", 2),
        ("open one terminal", 1),
    ] {
        assert_eq!(
            parse(goal, &[]),
            Some(vec![launch_terminal(); count]),
            "{goal}"
        );
    }
    // Even with one open, "two terminals" means two more.
    let windows = [window(4, "foot", true)];
    assert_eq!(
        parse("open two terminals", &windows),
        Some(vec![launch_terminal(); 2])
    );
    // More than a desktop plausibly wants goes to the model.
    assert_eq!(parse("open nine terminals", &[]), None);
    assert_eq!(parse("open 40 terminals", &[]), None);
}

fn write(path: &str, text: &str, mode: WriteMode) -> Vec<Intent> {
    vec![Intent::WriteFile {
        path: path.into(),
        text: text.into(),
        mode,
    }]
}

#[test]
fn ways_to_write_text_into_a_file() {
    for (goal, path, text) in [
        (
            "write the text buy milk into the file /tmp/h/notes.txt",
            "/tmp/h/notes.txt",
            "buy milk",
        ),
        ("write buy milk into notes.txt", "~/notes.txt", "buy milk"),
        ("Write 'Buy milk!' to ~/todo.md.", "~/todo.md", "Buy milk!"),
        (
            "please save \"call Sam at 5\" in the file ~/reminders.txt",
            "~/reminders.txt",
            "call Sam at 5",
        ),
        (
            "put hello world into ./greeting.txt",
            "~/greeting.txt",
            "hello world",
        ),
        (
            "write go to the store to list.txt",
            "~/list.txt",
            "go to the store",
        ),
        (
            "Could you write the line 42 into the file 'answer'?",
            "~/answer",
            "42",
        ),
    ] {
        assert_eq!(
            parse(goal, &[]),
            Some(write(path, text, WriteMode::Replace)),
            "{goal}"
        );
    }
    assert_eq!(
        parse("add eggs to ~/shopping.txt", &[]),
        Some(write("~/shopping.txt", "eggs", WriteMode::Append))
    );
    assert_eq!(
        parse("append 'one more line' to /var/tmp/log.txt", &[]),
        Some(write(
            "/var/tmp/log.txt",
            "one more line",
            WriteMode::Append
        ))
    );
    assert_eq!(
        parse("create a file called plan.md containing step one", &[]),
        Some(write("~/plan.md", "step one", WriteMode::Create))
    );
    assert_eq!(
        parse("create an empty file ~/empty.txt", &[]),
        Some(write("~/empty.txt", "", WriteMode::Create))
    );
}

#[test]
fn ways_to_rename_move_and_delete_a_file() {
    let moved = |from: &str, to: &str| {
        Some(vec![Intent::MoveFile {
            from: from.into(),
            to: to.into(),
        }])
    };
    assert_eq!(
        parse("rename the file /tmp/h/draft.txt to /tmp/h/final.txt", &[]),
        moved("/tmp/h/draft.txt", "/tmp/h/final.txt")
    );
    // A bare new name stays beside the old one.
    assert_eq!(
        parse("rename ~/docs/draft.txt to final.txt", &[]),
        moved("~/docs/draft.txt", "~/docs/final.txt")
    );
    assert_eq!(
        parse("move notes.txt to the archive folder", &[]),
        moved("~/notes.txt", "~/archive/notes.txt")
    );
    assert_eq!(
        parse("move /tmp/a.log into ~/logs/", &[]),
        moved("/tmp/a.log", "~/logs/a.log")
    );
    for goal in [
        "delete the file ~/old.txt",
        "remove old.txt",
        "please get rid of ~/old.txt",
        "trash the file 'old.txt'",
    ] {
        assert_eq!(
            parse(goal, &[]),
            Some(vec![Intent::DeleteFile {
                path: "~/old.txt".into()
            }]),
            "{goal}"
        );
    }
    // With window commands in one goal.
    let goal = "delete ~/old.txt and open a terminal";
    assert_eq!(
        parse(goal, &[]),
        Some(vec![
            Intent::DeleteFile {
                path: "~/old.txt".into()
            },
            launch_terminal()
        ])
    );
}

#[test]
fn vague_file_requests_and_window_phrases_are_not_file_intents() {
    // Text to compose, a file not named as a path, an edit inside a file.
    for goal in [
        "write a poem about cats into poem.txt",
        "write buy milk into my notes",
        "remove the last line from notes.txt",
        "delete everything in my downloads",
        "rename the report",
        "count the lines of ~/list.txt and write the number into ~/count.txt",
    ] {
        assert_eq!(parse(goal, &[]), None, "{goal}");
    }
    let terminal = [window(7, "foot", true)];
    // Window requests that share the verbs stay window requests.
    assert!(matches!(
        parse("type hello into the terminal", &terminal).as_deref(),
        Some([Intent::Type { .. }])
    ));
    assert!(matches!(
        parse("make the terminal fullscreen", &terminal).as_deref(),
        Some([Intent::Window { .. }])
    ));
    assert!(matches!(
        parse("move the terminal to the left", &terminal).as_deref(),
        None | Some([Intent::Window { .. }])
    ));
}
