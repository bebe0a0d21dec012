//! The catalogue: every action type in one table with its params type, risk
//! tier and the description the model reads.

use serde_json::Value;
use utoipa::PartialSchema;

use super::files::{
    CopyFileParams, DeleteFileParams, ListFilesParams, MoveFileParams, ReadFileParams,
    WriteFileParams,
};
use super::processes::{ListProcessesParams, SignalProcessParams, SpawnProcessParams};
use super::shell::RunShellParams;
use super::{ActionSpec, Risk};
use super::{
    ClickParams, DragParams, KeyParams, LaunchParams, MoveWindowParams, PointParams,
    ResizeWindowParams, ScrollParams, TextParams, ToggleWindowParams, WindowParams,
};

/// A typed action.
#[derive(Debug, Clone)]
pub enum Action {
    Click(ClickParams),
    DoubleClick(ClickParams),
    MovePointer(PointParams),
    Drag(DragParams),
    Scroll(ScrollParams),
    Key(KeyParams),
    TypeText(TextParams),
    LaunchApp(LaunchParams),
    FocusWindow(WindowParams),
    MoveWindow(MoveWindowParams),
    ResizeWindow(ResizeWindowParams),
    MaximizeWindow(ToggleWindowParams),
    MinimizeWindow(ToggleWindowParams),
    FullscreenWindow(ToggleWindowParams),
    CloseWindow(WindowParams),
    ListFiles(ListFilesParams),
    ReadFile(ReadFileParams),
    WriteFile(WriteFileParams),
    MoveFile(MoveFileParams),
    CopyFile(CopyFileParams),
    DeleteFile(DeleteFileParams),
    ListProcesses(ListProcessesParams),
    SpawnProcess(SpawnProcessParams),
    SignalProcess(SignalProcessParams),
    RunShell(RunShellParams),
}

/// The catalogue, built once: its schemas cost more to build than an action to parse.
static CATALOGUE: std::sync::LazyLock<Vec<ActionSpec>> = std::sync::LazyLock::new(build_catalogue);

/// The catalogue of actions, as offered to API clients and the model.
pub fn catalogue() -> Vec<ActionSpec> {
    CATALOGUE.clone()
}

/// The catalogue without a copy.
pub fn specs() -> &'static [ActionSpec] {
    &CATALOGUE
}

/// Every action type, in one table: name, description, risk, params type.
macro_rules! action_table {
    ($($name:literal => $variant:ident($params:ty), $risk:ident, $description:literal;)*) => {
        fn build_catalogue() -> Vec<ActionSpec> {
            vec![$(ActionSpec {
                action_type: $name,
                description: $description,
                risk: Risk::$risk,
                params_schema: serde_json::to_value(<$params as PartialSchema>::schema())
                    .unwrap_or(Value::Null),
            }),*]
        }

        impl Action {
            pub fn action_type(&self) -> &'static str {
                match self { $(Action::$variant(_) => $name),* }
            }

            pub fn risk(&self) -> Risk {
                match self { $(Action::$variant(_) => Risk::$risk),* }
            }

            /// The params as a client would send them (fields left unset
            /// are omitted).
            pub fn params(&self) -> Value {
                let value = match self { $(Action::$variant(p) => serde_json::to_value(p)),* };
                match value {
                    Ok(Value::Object(mut fields)) => {
                        fields.retain(|_, v| !v.is_null());
                        Value::Object(fields)
                    }
                    Ok(other) => other,
                    Err(err) => unreachable!("action params always serialize: {err}"),
                }
            }

            pub(super) fn from_params(name: &str, params: Value) -> Result<Action, serde_json::Error> {
                match name {
                    $($name => serde_json::from_value::<$params>(params).map(Action::$variant),)*
                    _ => Err(serde::de::Error::custom(format!("unknown action type {name}"))),
                }
            }
        }
    };
}

action_table! {
    "click" => Click(ClickParams), Medium, "Click a pointer button, at x,y or on a numbered mark of the latest screen analysis if given.";
    "double_click" => DoubleClick(ClickParams), Medium, "Double-click a pointer button, at x,y or on a numbered mark if given.";
    "move_pointer" => MovePointer(PointParams), Low, "Move the pointer to x,y.";
    "drag" => Drag(DragParams), Medium, "Press at from_x,from_y, move to to_x,to_y, release.";
    "scroll" => Scroll(ScrollParams), Low, "Scroll by dx,dy pixels (positive dy scrolls down), at x,y if given.";
    "key" => Key(KeyParams), Medium, "Press a key or chord by keysym names, e.g. Return or ctrl+c.";
    "type_text" => TypeText(TextParams), Medium, "Type text into the focused window.";
    "launch_app" => LaunchApp(LaunchParams), High, "Start an app by name (e.g. terminal) or a command line.";
    "focus_window" => FocusWindow(WindowParams), Low, "Focus and raise a window.";
    "move_window" => MoveWindow(MoveWindowParams), Medium, "Move a window's content to x,y.";
    "resize_window" => ResizeWindow(ResizeWindowParams), Medium, "Resize a window's content to width x height.";
    "maximize_window" => MaximizeWindow(ToggleWindowParams), Medium, "Maximize a window (on=false restores).";
    "minimize_window" => MinimizeWindow(ToggleWindowParams), Medium, "Minimize a window (on=false restores).";
    "fullscreen_window" => FullscreenWindow(ToggleWindowParams), Medium, "Make a window fullscreen (on=false restores).";
    "close_window" => CloseWindow(WindowParams), High, "Ask a window to close.";
    "list_files" => ListFiles(ListFilesParams), Low, "List the entries of a directory (absolute path or ~/...).";
    "read_file" => ReadFile(ReadFileParams), Low, "Read a text file, from offset, up to max_bytes.";
    "write_file" => WriteFile(WriteFileParams), High, "Write text to a file; if_exists is fail, overwrite or append.";
    "move_file" => MoveFile(MoveFileParams), High, "Move or rename a file or directory from one path to another.";
    "copy_file" => CopyFile(CopyFileParams), High, "Copy a file to another path (overwrite=true replaces an existing one).";
    "delete_file" => DeleteFile(DeleteFileParams), High, "Delete a file, or a directory with recursive=true.";
    "list_processes" => ListProcesses(ListProcessesParams), Low, "List running processes, optionally those whose name contains a word.";
    "spawn_process" => SpawnProcess(SpawnProcessParams), High, "Start a program (argv list) in the background; returns its pid.";
    "signal_process" => SignalProcess(SignalProcessParams), High, "Send a signal (TERM, KILL, INT, HUP, STOP, CONT, USR1, USR2) to a process.";
    "run_shell" => RunShell(RunShellParams), High, "Run a shell command and return its exit code and output.";
}
