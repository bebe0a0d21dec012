//! `digios compositor msg`: talk to a running compositor over its control
//! socket, for debugging the compositor itself. Everything else (people,
//! scripts, `digios ctl`) goes through the public API.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use digios_ipc::{
    Button, CaptureRequest, CaptureTarget, Client, ImageFormat, KeyState, Rect, Request, Response,
};

#[derive(Debug, Args)]
pub struct MsgArgs {
    /// Print replies as JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Control socket (default: $DIGIOS_COMPOSITOR_SOCKET, else from $WAYLAND_DISPLAY).
    #[arg(long, global = true)]
    socket: Option<PathBuf>,
    #[command(subcommand)]
    command: MsgCommand,
}

#[derive(Debug, Subcommand)]
enum MsgCommand {
    /// Compositor and protocol version.
    Version,
    /// List outputs.
    Outputs,
    /// List windows (bottom of the stack first).
    Windows,
    /// Where the pointer is.
    Pointer,
    /// How long since input last arrived.
    Activity,
    /// How many requests the compositor has served.
    Stats,
    /// Focus and raise a window.
    Focus { id: u64 },
    /// Move a window's content to X Y.
    Move { id: u64, x: i32, y: i32 },
    /// Resize a window's content.
    Resize { id: u64, width: i32, height: i32 },
    /// Maximize a window (`--off` restores).
    Maximize {
        id: u64,
        #[arg(long)]
        off: bool,
    },
    /// Minimize a window (`--off` restores).
    Minimize {
        id: u64,
        #[arg(long)]
        off: bool,
    },
    /// Make a window fullscreen (`--off` leaves fullscreen).
    Fullscreen {
        id: u64,
        #[arg(long)]
        off: bool,
    },
    /// Ask a window to close.
    Close { id: u64 },
    /// Start a program on this compositor.
    Spawn {
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        command: Vec<String>,
    },
    /// Move the pointer.
    MoveTo { x: f64, y: f64 },
    /// Click (at X Y if given).
    Click {
        x: Option<f64>,
        y: Option<f64>,
        #[arg(long, value_enum, default_value = "left")]
        button: ButtonArg,
        #[arg(long, default_value_t = 1)]
        count: u32,
    },
    /// Double-click (at X Y if given).
    DoubleClick { x: Option<f64>, y: Option<f64> },
    /// Press at X1 Y1, move to X2 Y2, release.
    Drag {
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
        #[arg(long, default_value_t = 8)]
        steps: u32,
    },
    /// Scroll by DX DY logical pixels (positive DY scrolls down).
    Scroll {
        #[arg(allow_hyphen_values = true)]
        dx: f64,
        #[arg(allow_hyphen_values = true)]
        dy: f64,
    },
    /// Press and release a key chord, such as `Return` or `ctrl+shift+t`.
    Key { keys: String },
    /// Press (or `--release`) one key by keysym name.
    KeyDown {
        keysym: String,
        #[arg(long)]
        release: bool,
    },
    /// Type text through the keymap.
    Type { text: String },
    /// Capture the screen (or a window, output or region) to a file.
    Capture {
        /// Output file (PNG unless --rgba); `-` writes to stdout.
        #[arg(short, long)]
        out: PathBuf,
        #[arg(long, conflicts_with_all = ["region", "output"])]
        window: Option<u64>,
        /// X,Y,WIDTH,HEIGHT
        #[arg(long, conflicts_with = "output")]
        region: Option<String>,
        #[arg(long)]
        output: Option<String>,
        #[arg(long)]
        reticle: bool,
        /// Grid spacing in logical pixels.
        #[arg(long)]
        grid: Option<u32>,
        #[arg(long)]
        marks: bool,
        /// Raw RGBA instead of PNG.
        #[arg(long)]
        rgba: bool,
    },
    /// Wait until no client has drawn for QUIET_MS (default 100), at most TIMEOUT_MS.
    WaitIdle {
        #[arg(long, default_value_t = 100)]
        quiet_ms: u32,
        #[arg(long, default_value_t = 5000)]
        timeout_ms: u32,
    },
    /// Where the screen changed since damage sequence number SINCE (0: since the start).
    Damage {
        #[arg(default_value_t = 0)]
        since: u64,
    },
    /// Print events (the full state, then changes) until interrupted.
    Events,
    /// Send one raw JSON request line and print the reply line.
    Raw { line: String },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ButtonArg {
    Left,
    Right,
    Middle,
}

impl From<ButtonArg> for Button {
    fn from(button: ButtonArg) -> Self {
        match button {
            ButtonArg::Left => Button::Left,
            ButtonArg::Right => Button::Right,
            ButtonArg::Middle => Button::Middle,
        }
    }
}

pub fn run(args: MsgArgs) -> anyhow::Result<()> {
    let path = args.socket.unwrap_or_else(digios_ipc::socket_path);
    let mut client = Client::connect(&path)?;
    let request = match args.command {
        MsgCommand::Events => {
            let mut stdout = std::io::stdout();
            for event in client.event_stream()? {
                writeln!(stdout, "{}", serde_json::to_string(&event?)?)?;
                stdout.flush()?;
            }
            return Ok(());
        }
        MsgCommand::Raw { line } => {
            client.send_line(&line)?;
            let reply = client.read_reply();
            return print_raw(reply);
        }
        MsgCommand::Capture {
            out,
            window,
            region,
            output,
            reticle,
            grid,
            marks,
            rgba,
        } => {
            let target = match (window, region, output) {
                (Some(id), _, _) => CaptureTarget::Window { id },
                (_, Some(region), _) => CaptureTarget::Region {
                    rect: parse_region(&region)?,
                },
                (_, _, Some(name)) => CaptureTarget::Output { name },
                _ => CaptureTarget::Screen,
            };
            let request = Request::Capture(CaptureRequest {
                target,
                format: if rgba {
                    ImageFormat::Rgba
                } else {
                    ImageFormat::Png
                },
                reticle,
                grid,
                marks,
            });
            let Response::Image(image) = client.request(&request)? else {
                anyhow::bail!("the compositor answered a capture with something else");
            };
            if out.as_os_str() == "-" {
                std::io::stdout().write_all(&image.data)?;
            } else {
                std::fs::write(&out, &image.data)
                    .with_context(|| format!("writing {}", out.display()))?;
            }
            if args.json {
                let mut summary = serde_json::to_value(&image)?;
                summary["data"] = serde_json::Value::String(out.display().to_string());
                println!("{summary}");
            } else if out.as_os_str() != "-" {
                println!("{}x{} -> {}", image.width, image.height, out.display());
            }
            return Ok(());
        }
        other => to_request(other),
    };
    let response = client.request(&request)?;
    print_response(&response, args.json)
}

fn to_request(command: MsgCommand) -> Request {
    match command {
        MsgCommand::Version => Request::Version,
        MsgCommand::Outputs => Request::Outputs,
        MsgCommand::Windows => Request::Windows,
        MsgCommand::Pointer => Request::Pointer,
        MsgCommand::Activity => Request::Activity,
        MsgCommand::Stats => Request::Stats,
        MsgCommand::Focus { id } => Request::Focus { id },
        MsgCommand::Move { id, x, y } => Request::Move { id, x, y },
        MsgCommand::Resize { id, width, height } => Request::Resize { id, width, height },
        MsgCommand::Maximize { id, off } => Request::Maximize { id, on: !off },
        MsgCommand::Minimize { id, off } => Request::Minimize { id, on: !off },
        MsgCommand::Fullscreen { id, off } => Request::Fullscreen { id, on: !off },
        MsgCommand::Close { id } => Request::Close { id },
        MsgCommand::Spawn { command } => Request::Spawn {
            command,
            env: Vec::new(),
        },
        MsgCommand::MoveTo { x, y } => Request::PointerMove { x, y },
        MsgCommand::Click {
            x,
            y,
            button,
            count,
        } => Request::Click {
            x,
            y,
            button: button.into(),
            count,
        },
        MsgCommand::DoubleClick { x, y } => Request::Click {
            x,
            y,
            button: Button::Left,
            count: 2,
        },
        MsgCommand::Drag {
            x1,
            y1,
            x2,
            y2,
            steps,
        } => Request::Drag {
            from: (x1, y1),
            to: (x2, y2),
            button: Button::Left,
            steps,
        },
        MsgCommand::Scroll { dx, dy } => Request::Scroll {
            x: None,
            y: None,
            dx,
            dy,
        },
        MsgCommand::Key { keys } => Request::KeyChord { keys },
        MsgCommand::KeyDown { keysym, release } => Request::Key {
            keysym,
            state: if release {
                KeyState::Released
            } else {
                KeyState::Pressed
            },
        },
        MsgCommand::Type { text } => Request::Type { text },
        MsgCommand::WaitIdle {
            quiet_ms,
            timeout_ms,
        } => Request::WaitIdle {
            quiet_ms,
            timeout_ms,
        },
        MsgCommand::Damage { since } => Request::Damage { since },
        MsgCommand::Events | MsgCommand::Raw { .. } | MsgCommand::Capture { .. } => {
            unreachable!("handled before")
        }
    }
}

fn parse_region(text: &str) -> anyhow::Result<Rect> {
    let parts: Vec<i32> = text
        .split(',')
        .map(|part| part.trim().parse::<i32>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("`{text}` is not X,Y,WIDTH,HEIGHT"))?;
    let [x, y, width, height] = parts[..] else {
        anyhow::bail!("`{text}` is not X,Y,WIDTH,HEIGHT");
    };
    Ok(Rect::new(x, y, width, height))
}

fn print_raw(reply: Result<Response, digios_ipc::ClientError>) -> anyhow::Result<()> {
    match reply {
        Ok(response) => println!("{}", serde_json::to_string(&response)?),
        Err(digios_ipc::ClientError::Compositor(error)) => {
            println!("{}", serde_json::to_string(&error)?);
            std::process::exit(1);
        }
        Err(other) => return Err(other.into()),
    }
    Ok(())
}

fn print_response(response: &Response, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(response)?);
        return Ok(());
    }
    match response {
        Response::Handled | Response::EventStream => {}
        Response::Version {
            compositor,
            protocol,
        } => println!("digiOS compositor {compositor}, protocol {protocol}"),
        Response::Outputs { outputs } => {
            for output in outputs {
                let area = output.logical;
                println!(
                    "{}: {}x{} @ {} at {},{} ({}x{} logical)",
                    output.name,
                    output.width,
                    output.height,
                    output.scale,
                    area.x,
                    area.y,
                    area.width,
                    area.height
                );
            }
        }
        Response::Windows { windows } => windows
            .iter()
            .for_each(|window| println!("{}", window_line(window))),
        Response::Window { window } => println!("{}", window_line(window)),
        Response::Closing { id } => println!("{id} closing"),
        Response::Pointer { x, y } => println!("{x},{y}"),
        Response::Activity { input_idle_ms } => println!("input idle for {input_idle_ms} ms"),
        Response::Stats { requests } => println!("{requests} requests served"),
        Response::Batch { replies } => {
            for reply in replies {
                println!("{}", serde_json::to_string(reply)?);
            }
        }
        Response::Spawned { pid } => println!("{pid}"),
        Response::Image(image) => println!("{}x{} image", image.width, image.height),
        Response::Idle { idle } => println!("{}", if *idle { "idle" } else { "busy" }),
        Response::Damage(report) => {
            for rect in &report.rects {
                println!("{},{} {}x{}", rect.x, rect.y, rect.width, rect.height);
            }
            println!(
                "seq {}{}",
                report.seq,
                if report.full { " full" } else { "" }
            );
        }
    }
    Ok(())
}

/// One window as a tab-separated line: id, app id, title, geometry, flags.
/// `digios ctl windows` prints the API's windows the same way.
pub(super) fn window_line(window: &digios_ipc::Window) -> String {
    let geometry = window.geometry;
    let flags: Vec<&str> = [
        (window.focused, "focused"),
        (window.maximized, "maximized"),
        (window.minimized, "minimized"),
        (window.fullscreen, "fullscreen"),
    ]
    .into_iter()
    .filter_map(|(on, name)| on.then_some(name))
    .collect();
    format!(
        "{}\t{}\t{}\t{},{} {}x{}\t{}",
        window.id,
        window.app_id.as_deref().unwrap_or("-"),
        window.title.as_deref().unwrap_or("-"),
        geometry.x,
        geometry.y,
        geometry.width,
        geometry.height,
        flags.join(",")
    )
}
