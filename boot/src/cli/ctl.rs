//! `digios ctl`: a client of the public API, like every other interface of
//! digiOS. Text for people by default, the API's own JSON with `--json`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use digios_api::{
    ActionRequest, ConfirmAnswer, ErrorBody, FactValue, LaunchRequest, NewTask, Position,
    SelectModel, Size, WindowStateChange,
};
use serde_json::{Value, json};

use crate::config::Config;

#[path = "ctl_improve.rs"]
mod improve;
mod skills;

#[derive(Debug, Args)]
pub struct CtlArgs {
    /// Print the API's JSON replies instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// The API's base URL (default: from `api.bind` in the configuration).
    #[arg(long, global = true, env = "DIGIOS_API_URL")]
    url: Option<String>,
    /// Bearer token (default: `DIGIOS_API_TOKEN`, else the token file, if any).
    #[arg(long, global = true, env = "DIGIOS_API_TOKEN", hide_env_values = true)]
    token: Option<String>,
    #[command(subcommand)]
    command: CtlCommand,
}

#[derive(Debug, Subcommand)]
enum CtlCommand {
    /// Health of digiOS and each service.
    Status,
    /// Action types, event topics and features.
    Capabilities,
    /// Carry out one action: `digios ctl action click '{"x": 500, "y": 300}'`.
    Action {
        action_type: String,
        /// Params as a JSON object.
        params: Option<String>,
        /// The user agrees to a confirm-tier action.
        #[arg(long)]
        confirm: bool,
    },
    /// Every action type with its risk tier and description.
    Actions,
    /// List windows (bottom of the stack first).
    Windows,
    /// Focus and raise a window.
    Focus { id: u64 },
    /// Ask a window to close.
    Close { id: u64 },
    /// Move a window's content to X Y.
    Move {
        id: u64,
        #[arg(allow_hyphen_values = true)]
        x: i32,
        #[arg(allow_hyphen_values = true)]
        y: i32,
    },
    /// Resize a window's content.
    Resize { id: u64, width: i32, height: i32 },
    /// Maximize, minimize or fullscreen a window (`--off` restores).
    State {
        id: u64,
        #[arg(value_parser = ["maximized", "minimized", "fullscreen"])]
        state: String,
        #[arg(long)]
        off: bool,
    },
    /// Start an app by name (see `[actions] apps`).
    Launch { app: String },
    /// Capture the screen (or a window, output or region) as PNG.
    Screenshot {
        /// Output file; `-` writes to stdout.
        #[arg(short, long)]
        out: PathBuf,
        #[arg(long)]
        window: Option<u64>,
        #[arg(long)]
        output: Option<String>,
        /// X,Y,WIDTH,HEIGHT
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        reticle: bool,
        #[arg(long)]
        grid: Option<u32>,
        #[arg(long)]
        marks: bool,
        #[arg(long)]
        scale: Option<f64>,
    },
    /// Tasks: goals in natural language that the planner carries out.
    #[command(subcommand)]
    Task(TaskCommand),
    /// What digiOS remembers.
    #[command(subcommand)]
    Memory(MemoryCommand),
    /// Models in the store, and the language model in use.
    #[command(subcommand, alias = "model")]
    Models(ModelsCommand),
    /// The desktop task suite: run it, see past runs.
    #[command(subcommand)]
    Eval(improve::EvalCommand),
    /// Self-improvement: start a cycle, see the history.
    #[command(subcommand)]
    Improve(improve::ImproveCommand),
    /// Skills: JavaScript procedures the planner can call.
    #[command(subcommand)]
    Skills(skills::SkillsCommand),
}

#[derive(Debug, Subcommand)]
enum TaskCommand {
    /// Submit a goal, e.g. `digios ctl task submit "open a terminal"`.
    Submit {
        goal: String,
    },
    /// Recent tasks, newest first.
    List {
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// One task with its steps.
    Show {
        id: i64,
    },
    Cancel {
        id: i64,
    },
    /// Answer a pending confirmation (`--deny` refuses).
    Confirm {
        id: i64,
        #[arg(long)]
        deny: bool,
    },
}

#[derive(Debug, Subcommand)]
enum MemoryCommand {
    /// Full-text search.
    Search {
        query: String,
        #[arg(long, default_value_t = 10)]
        limit: u32,
    },
    /// Facts and preferences.
    Facts,
    /// Remember a fact or preference: `set preference terminal foot`.
    Set {
        #[arg(value_parser = ["fact", "preference"])]
        kind: String,
        key: String,
        value: String,
    },
    /// Forget a fact or preference.
    Forget {
        #[arg(value_parser = ["fact", "preference"])]
        kind: String,
        key: String,
    },
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Every model: missing, present or verified.
    List,
    /// Start pulling a model; progress goes to the `downloads` event topic.
    Pull { id: String },
    /// Load a language model from the store for the planner and `/v1`.
    Select {
        id: String,
        /// A built-in chat template for a model file without one (e.g. `gemma`).
        #[arg(long)]
        chat_template: Option<String>,
    },
}

/// An API reply that is not a success, in the API's error shape.
#[derive(Debug, thiserror::Error)]
#[error("{status} {code}: {message}")]
struct ApiFailure {
    status: u16,
    code: String,
    message: String,
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    fn new(args: &CtlArgs, config: &Config) -> anyhow::Result<Self> {
        let base = match &args.url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => {
                let mut bind = config.api.bind;
                if bind.ip().is_unspecified() {
                    bind.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
                }
                format!("http://{bind}")
            }
        };
        let token = args.token.clone().or_else(|| {
            let path = config
                .api
                .token_file
                .clone()
                .unwrap_or_else(|| config.data_dir().join("api-token"));
            std::fs::read_to_string(path)
                .ok()
                .map(|t| t.trim().to_string())
        });
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()?;
        Ok(Self { http, base, token })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<reqwest::Response> {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.with_context(|| {
            format!(
                "cannot reach the digiOS API at {} (is `digios run` or `digios agent` up?)",
                self.base
            )
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let (code, message) = match response.json::<ErrorBody>().await {
            Ok(body) => (body.error.code.to_string(), body.error.message),
            Err(_) => ("error".to_string(), String::new()),
        };
        Err(ApiFailure {
            status,
            code,
            message,
        }
        .into())
    }

    async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let response = self.send(method, path, body).await?;
        if response.status() == reqwest::StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        Ok(response.json().await?)
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.json(reqwest::Method::GET, path, None).await
    }

    /// POST `body`, one of the API's request types (or a `Value`).
    async fn post(&self, path: &str, body: impl serde::Serialize) -> anyhow::Result<Value> {
        let body = serde_json::to_value(body)?;
        self.json(reqwest::Method::POST, path, Some(body)).await
    }
}

pub fn run(args: CtlArgs, config: &Config) -> anyhow::Result<()> {
    let api = Api::new(&args, config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(execute(&api, args.command, args.json))
}

/// Percent-encodes a path segment or query value.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

async fn execute(api: &Api, command: CtlCommand, json: bool) -> anyhow::Result<()> {
    use reqwest::Method;
    let (value, text): (Value, fn(&Value) -> String) = match command {
        CtlCommand::Status => (api.get("/api/status").await?, status_text),
        CtlCommand::Capabilities => (api.get("/api/capabilities").await?, pretty),
        CtlCommand::Actions => (api.get("/api/actions").await?, actions_text),
        CtlCommand::Action {
            action_type,
            params,
            confirm,
        } => {
            let params = match params {
                Some(text) => serde_json::from_str(&text)
                    .with_context(|| format!("params are not JSON: {text}"))?,
                None => empty(),
            };
            let request = ActionRequest {
                action_type,
                params,
            };
            let path = format!("/api/action?confirm={confirm}");
            (api.post(&path, request).await?, outcome_text)
        }
        CtlCommand::Windows => (api.get("/api/windows").await?, windows_text),
        CtlCommand::Focus { id } => (
            api.post(&format!("/api/windows/{id}/focus"), empty())
                .await?,
            outcome_text,
        ),
        CtlCommand::Close { id } => (
            api.post(&format!("/api/windows/{id}/close"), empty())
                .await?,
            outcome_text,
        ),
        CtlCommand::Move { id, x, y } => (
            api.post(&format!("/api/windows/{id}/move"), Position { x, y })
                .await?,
            outcome_text,
        ),
        CtlCommand::Resize { id, width, height } => (
            api.post(&format!("/api/windows/{id}/resize"), Size { width, height })
                .await?,
            outcome_text,
        ),
        CtlCommand::State { id, state, off } => (
            api.post(
                &format!("/api/windows/{id}/state"),
                WindowStateChange {
                    state: state.parse().map_err(anyhow::Error::msg)?,
                    on: !off,
                },
            )
            .await?,
            outcome_text,
        ),
        CtlCommand::Launch { app } => (
            api.post("/api/apps/launch", LaunchRequest::app(app))
                .await?,
            outcome_text,
        ),
        CtlCommand::Screenshot {
            out,
            window,
            output,
            region,
            reticle,
            grid,
            marks,
            scale,
        } => {
            let mut query = vec![format!("reticle={reticle}"), format!("marks={marks}")];
            if let Some(window) = window {
                query.push(format!("window={window}"));
            }
            if let Some(output) = output {
                query.push(format!("output={}", encode(&output)));
            }
            if let Some(region) = region {
                query.push(format!("region={}", encode(&region)));
            }
            if let Some(grid) = grid {
                query.push(format!("grid={grid}"));
            }
            if let Some(scale) = scale {
                query.push(format!("scale={scale}"));
            }
            let path = format!("/api/vision/screenshot?{}", query.join("&"));
            let response = api.send(Method::GET, &path, None).await?;
            let area = response
                .headers()
                .get("x-digios-area")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let bytes = response.bytes().await?;
            if out.as_os_str() == "-" {
                std::io::stdout().write_all(&bytes)?;
                return Ok(());
            }
            std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
            let summary = json!({"path": out, "bytes": bytes.len(), "area": area});
            (summary, |v| {
                format!(
                    "{} bytes -> {}",
                    v["bytes"],
                    v["path"].as_str().unwrap_or("")
                )
            })
        }
        CtlCommand::Task(task) => match task {
            TaskCommand::Submit { goal } => {
                (api.post("/api/tasks", NewTask::new(goal)).await?, task_text)
            }
            TaskCommand::List { limit } => (
                api.get(&format!("/api/tasks?limit={limit}")).await?,
                tasks_text,
            ),
            TaskCommand::Show { id } => (api.get(&format!("/api/tasks/{id}")).await?, task_text),
            TaskCommand::Cancel { id } => (
                api.post(&format!("/api/tasks/{id}/cancel"), empty())
                    .await?,
                task_text,
            ),
            TaskCommand::Confirm { id, deny } => (
                api.post(
                    &format!("/api/tasks/{id}/confirm"),
                    ConfirmAnswer { approve: !deny },
                )
                .await?,
                task_text,
            ),
        },
        CtlCommand::Memory(memory) => match memory {
            MemoryCommand::Search { query, limit } => (
                api.get(&format!(
                    "/api/memory/search?q={}&limit={limit}",
                    encode(&query)
                ))
                .await?,
                hits_text,
            ),
            MemoryCommand::Facts => (api.get("/api/memory/facts").await?, facts_text),
            MemoryCommand::Set { kind, key, value } => (
                api.json(
                    Method::PUT,
                    &format!("/api/memory/facts/{kind}/{}", encode(&key)),
                    Some(serde_json::to_value(FactValue { value })?),
                )
                .await?,
                |v| {
                    format!(
                        "{} {} = {}",
                        v["kind"].as_str().unwrap_or(""),
                        v["key"].as_str().unwrap_or(""),
                        v["value"].as_str().unwrap_or("")
                    )
                },
            ),
            MemoryCommand::Forget { kind, key } => (
                api.json(
                    Method::DELETE,
                    &format!("/api/memory/facts/{kind}/{}", encode(&key)),
                    None,
                )
                .await?,
                |_| "forgotten".to_string(),
            ),
        },
        CtlCommand::Eval(command) => improve::eval(api, command).await?,
        CtlCommand::Improve(command) => improve::improve(api, command).await?,
        CtlCommand::Skills(command) => skills::execute(api, command).await?,
        CtlCommand::Models(models) => match models {
            ModelsCommand::List => (api.get("/api/models").await?, models_text),
            ModelsCommand::Pull { id } => (
                api.post(&format!("/api/models/{}/pull", encode(&id)), empty())
                    .await?,
                |v| {
                    format!(
                        "pulling {}; progress on the `downloads` event topic",
                        v["model"].as_str().unwrap_or("")
                    )
                },
            ),
            ModelsCommand::Select { id, chat_template } => (
                api.post(
                    &format!("/api/models/{}/select", encode(&id)),
                    SelectModel { chat_template },
                )
                .await?,
                |v| {
                    format!(
                        "{} loaded ({})",
                        v["model"].as_str().unwrap_or(""),
                        v["description"]["id"].as_str().unwrap_or("")
                    )
                },
            ),
        },
    };
    if json {
        println!("{value}");
    } else {
        let text = text(&value);
        if !text.is_empty() {
            println!("{text}");
        }
    }
    Ok(())
}

/// The body of a route that takes none: an empty object.
fn empty() -> Value {
    Value::Object(Default::default())
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or("-")
}

fn status_text(v: &Value) -> String {
    let mut lines = vec![format!(
        "digiOS {} {} (up {:.0} s)",
        str_of(v, "version"),
        str_of(v, "status"),
        v["uptime_seconds"].as_f64().unwrap_or(0.0)
    )];
    for service in v["services"].as_array().into_iter().flatten() {
        let detail = service["detail"]
            .as_str()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        lines.push(format!(
            "  {}: {}{detail}",
            str_of(service, "name"),
            str_of(service, "state")
        ));
    }
    lines.join("\n")
}

fn actions_text(v: &Value) -> String {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            format!(
                "{}\t{}\t{}",
                str_of(a, "action_type"),
                str_of(a, "risk"),
                str_of(a, "description")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn outcome_text(v: &Value) -> String {
    format!("{}: {}", str_of(v, "action_type"), v["result"])
}

fn windows_text(v: &Value) -> String {
    let windows: Vec<digios_ipc::Window> = serde_json::from_value(v.clone()).unwrap_or_default();
    windows
        .iter()
        .map(super::compositor_msg::window_line)
        .collect::<Vec<_>>()
        .join("\n")
}

fn task_text(v: &Value) -> String {
    let mut lines = vec![format!(
        "task {} [{}] {}",
        v["id"],
        str_of(v, "state"),
        str_of(v, "goal")
    )];
    if let Some(result) = v["result"].as_str() {
        lines.push(format!("  result: {result}"));
    }
    for step in v["steps"].as_array().into_iter().flatten() {
        lines.push(format!("  step: {step}"));
    }
    if v["pending_confirmation"].is_object() {
        let pending = &v["pending_confirmation"];
        lines.push(format!(
            "  awaiting confirmation: {} ({}) — answer with `digios ctl task confirm {}` or `--deny`",
            str_of(pending, "action_type"),
            str_of(pending, "reason"),
            v["id"]
        ));
    }
    lines.join("\n")
}

fn tasks_text(v: &Value) -> String {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|t| format!("{}\t{}\t{}", t["id"], str_of(t, "state"), str_of(t, "goal")))
        .collect::<Vec<_>>()
        .join("\n")
}

fn hits_text(v: &Value) -> String {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|h| {
            format!(
                "{} {}\t{}",
                str_of(h, "kind"),
                h["id"],
                str_of(h, "snippet")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn facts_text(v: &Value) -> String {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            format!(
                "{}\t{}\t{}",
                str_of(f, "kind"),
                str_of(f, "key"),
                str_of(f, "value")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn models_text(v: &Value) -> String {
    v.as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let pulling = if m["pulling"] == true {
                " (pulling)"
            } else {
                ""
            };
            let active = if m["active"] == true { " (active)" } else { "" };
            format!(
                "{}\t{}{pulling}{active}\t{}",
                str_of(m, "id"),
                str_of(m, "state"),
                str_of(m, "description")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}
