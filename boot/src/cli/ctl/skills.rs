//! `digios ctl skills`: the skill library through `/api/skills`: bodies are
//! `digios-api`'s, replies read into the agent's own skill types.

use anyhow::Context;
use clap::Subcommand;
use digios_agent::skills::{SkillCall, SkillHistory, SkillSummary, SkillVersion};
use digios_api::{SkillCallRequest, SkillDraft};
use serde_json::Value;

use super::{Api, empty, encode};

#[derive(Debug, Subcommand)]
pub enum SkillsCommand {
    /// Every skill's active version.
    List,
    /// One skill: every version (newest first) and rejected drafts.
    Show {
        name: String,
        /// Print the active version's code too.
        #[arg(long)]
        code: bool,
    },
    /// Call a skill: `digios ctl skills call open_and_type '{"text": "hi"}'`.
    Call {
        name: String,
        /// Params as a JSON object.
        params: Option<String>,
        /// The user agrees to the confirm-tier actions the skill may take.
        #[arg(long)]
        confirm: bool,
    },
    /// Install a skill from a JSON draft file (`-` reads stdin).
    Install { file: std::path::PathBuf },
    /// Reactivate the previous version.
    Rollback { name: String },
}

/// The reply and how to print it for people.
pub async fn execute(
    api: &Api,
    command: SkillsCommand,
) -> anyhow::Result<(Value, fn(&Value) -> String)> {
    Ok(match command {
        SkillsCommand::List => (api.get("/api/skills").await?, list_text),
        SkillsCommand::Show { name, code } => (
            api.get(&format!("/api/skills/{}", encode(&name))).await?,
            if code {
                history_with_code
            } else {
                history_text
            },
        ),
        SkillsCommand::Call {
            name,
            params,
            confirm,
        } => {
            let params: Value = match params {
                Some(text) => serde_json::from_str(&text)
                    .with_context(|| format!("params are not JSON: {text}"))?,
                None => empty(),
            };
            let path = format!("/api/skills/{}/call?confirm={confirm}", encode(&name));
            (
                api.post(&path, SkillCallRequest { params }).await?,
                call_text,
            )
        }
        SkillsCommand::Install { file } => {
            let text = if file.as_os_str() == "-" {
                std::io::read_to_string(std::io::stdin())?
            } else {
                std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?
            };
            let draft: SkillDraft = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a skill draft", file.display()))?;
            (api.post("/api/skills", draft).await?, version_text)
        }
        SkillsCommand::Rollback { name } => (
            api.post(&format!("/api/skills/{}/rollback", encode(&name)), empty())
                .await?,
            version_text,
        ),
    })
}

fn parse<T: serde::de::DeserializeOwned>(v: &Value) -> Option<T> {
    serde_json::from_value(v.clone()).ok()
}

fn rate(calls: i64, failures: i64) -> String {
    if calls == 0 {
        "no live calls".into()
    } else {
        format!(
            "{failures}/{calls} failed ({:.0} %)",
            failures as f64 * 100.0 / calls as f64
        )
    }
}

fn list_text(v: &Value) -> String {
    let Some(skills) = parse::<Vec<SkillSummary>>(v) else {
        return v.to_string();
    };
    if skills.is_empty() {
        return "no skills".into();
    }
    skills
        .iter()
        .map(|s| {
            format!(
                "{} v{} ({} versions, {}): {}",
                s.name,
                s.version,
                s.versions,
                rate(s.live_calls, s.live_failures),
                s.description
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn history_text(v: &Value) -> String {
    history(v, false)
}

fn history_with_code(v: &Value) -> String {
    history(v, true)
}

fn history(v: &Value, code: bool) -> String {
    let Some(history) = parse::<SkillHistory>(v) else {
        return v.to_string();
    };
    let mut lines = vec![format!(
        "{}: active version {}",
        history.name,
        history
            .active_version
            .map(|v| v.to_string())
            .unwrap_or_else(|| "none".into())
    )];
    for version in &history.versions {
        lines.push(format!(
            "  v{} {} by {} (parent {}), {}{}",
            version.version,
            version.state.as_str(),
            version.author_model.as_deref().unwrap_or("a person"),
            version
                .parent_version
                .map(|p| format!("v{p}"))
                .unwrap_or_else(|| "none".into()),
            rate(version.live_calls, version.live_failures),
            version
                .state_reason
                .as_deref()
                .map(|r| format!("; {r}"))
                .unwrap_or_default()
        ));
    }
    for rejection in &history.rejections {
        lines.push(format!(
            "  rejected ({}): {}",
            rejection.reason, rejection.message
        ));
    }
    if code
        && let Some(active) = history
            .versions
            .iter()
            .find(|v| Some(v.version) == history.active_version)
    {
        lines.push(String::new());
        lines.push(active.code.clone());
    }
    lines.join("\n")
}

fn call_text(v: &Value) -> String {
    let Some(call) = parse::<SkillCall>(v) else {
        return v.to_string();
    };
    let mut text = format!(
        "{} v{} -> {} ({} ms",
        call.name, call.version, call.result, call.duration_ms
    );
    if !call.actions.is_empty() {
        text.push_str(&format!("; actions: {}", call.actions.join(", ")));
    }
    text.push(')');
    for line in &call.log {
        text.push_str(&format!("\n  log: {line}"));
    }
    text
}

fn version_text(v: &Value) -> String {
    let Some(version) = parse::<SkillVersion>(v) else {
        return v.to_string();
    };
    format!(
        "{} v{} is active: {}",
        version.name, version.version, version.description
    )
}
