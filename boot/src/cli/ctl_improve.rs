//! `digios ctl eval` and `digios ctl improve`: the task suite's runs and the
//! improvement cycle's history, through the public API.

use std::time::Duration;

use clap::Subcommand;
use digios_api::NewEvalRun;
use serde_json::Value;

use super::{Api, empty};

/// How often `--wait` asks whether a run or cycle has finished.
const POLL: Duration = Duration::from_secs(2);

#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Run the task suite headless with the current model and skills.
    Run {
        /// Only these tasks (repeatable); all by default.
        #[arg(long = "task")]
        tasks: Vec<String>,
        /// Wait for the run to finish and print each task's result.
        #[arg(long)]
        wait: bool,
    },
    /// Recent runs, newest first, with each task's result.
    Runs {
        #[arg(long, default_value_t = 5)]
        limit: u32,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImproveCommand {
    /// Start an improvement cycle.
    Run {
        /// Wait for the cycle's decision.
        #[arg(long)]
        wait: bool,
    },
    /// Recent cycles, newest first.
    History {
        #[arg(long, default_value_t = 10)]
        limit: u32,
    },
    /// One cycle in full: prompts, replies, code, errors, scores, decision.
    Show { id: i64 },
    /// Stop a running cycle; nothing it made is installed.
    Cancel { id: i64 },
}

pub async fn eval(
    api: &Api,
    command: EvalCommand,
) -> anyhow::Result<(Value, fn(&Value) -> String)> {
    Ok(match command {
        EvalCommand::Run { tasks, wait } => {
            let run = api.post("/api/eval/runs", NewEvalRun { tasks }).await?;
            let run = if wait {
                let id = run["id"].as_i64().unwrap_or_default();
                poll(api, &format!("/api/eval/runs/{id}"), |v| {
                    v["state"] != "running"
                })
                .await?
            } else {
                run
            };
            (run, run_text)
        }
        EvalCommand::Runs { limit } => (
            api.get(&format!("/api/eval/runs?limit={limit}")).await?,
            |v| {
                v.as_array()
                    .map(|runs| runs.iter().map(run_text).collect::<Vec<_>>().join("\n\n"))
                    .unwrap_or_default()
            },
        ),
    })
}

pub async fn improve(
    api: &Api,
    command: ImproveCommand,
) -> anyhow::Result<(Value, fn(&Value) -> String)> {
    Ok(match command {
        ImproveCommand::Run { wait } => {
            let cycle = api.post("/api/improve/cycles", empty()).await?;
            let cycle = if wait {
                let id = cycle["id"].as_i64().unwrap_or_default();
                poll(api, &format!("/api/improve/cycles/{id}"), |v| {
                    v["state"] != "running"
                })
                .await?
            } else {
                cycle
            };
            (cycle, cycle_line)
        }
        ImproveCommand::History { limit } => (
            api.get(&format!("/api/improve/cycles?limit={limit}"))
                .await?,
            |v| {
                v.as_array()
                    .map(|c| c.iter().map(cycle_line).collect::<Vec<_>>().join("\n"))
                    .unwrap_or_default()
            },
        ),
        ImproveCommand::Show { id } => (
            api.get(&format!("/api/improve/cycles/{id}")).await?,
            cycle_text,
        ),
        ImproveCommand::Cancel { id } => (
            api.post(&format!("/api/improve/cycles/{id}/cancel"), empty())
                .await?,
            cycle_line,
        ),
    })
}

async fn poll(api: &Api, path: &str, done: fn(&Value) -> bool) -> anyhow::Result<Value> {
    loop {
        let value = api.get(path).await?;
        if done(&value) {
            return Ok(value);
        }
        tokio::time::sleep(POLL).await;
    }
}

fn percent(value: &Value) -> String {
    value
        .as_f64()
        .map(|r| format!("{:.0} %", r * 100.0))
        .unwrap_or_else(|| "-".into())
}

fn run_text(v: &Value) -> String {
    let mut text = format!(
        "run {} ({}, {}): {}, model {}, skills {}, success {}",
        v["id"],
        v["purpose"].as_str().unwrap_or(""),
        v["state"].as_str().unwrap_or(""),
        v["tasks"].as_array().map(Vec::len).unwrap_or(0),
        v["model"].as_str().unwrap_or(""),
        v["skills_version"].as_str().unwrap_or(""),
        percent(&v["success_rate"]),
    );
    if let Some(error) = v["error"].as_str() {
        text.push_str(&format!("\n  error: {error}"));
    }
    for task in v["tasks"].as_array().into_iter().flatten() {
        text.push_str(&format!(
            "\n  {:<22} {:<4} {:>2} step(s) {:>7} ms  {}",
            task["task"].as_str().unwrap_or(""),
            if task["success"] == true {
                "pass"
            } else {
                "FAIL"
            },
            task["steps"],
            task["duration_ms"],
            task["error"].as_str().unwrap_or("")
        ));
    }
    text
}

fn cycle_line(v: &Value) -> String {
    format!(
        "cycle {} {:<10} {} → {}  skill {}  targets {}  model {}: {}",
        v["id"],
        v["state"].as_str().unwrap_or(""),
        percent(&v["score_before"]),
        percent(&v["score_after"]),
        match (v["skill_name"].as_str(), v["skill_version"].as_i64()) {
            (Some(name), Some(version)) => format!("{name}@{version}"),
            (Some(name), None) => name.to_string(),
            _ => "-".into(),
        },
        v["targets"]
            .as_array()
            .map(|t| t
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(","))
            .unwrap_or_default(),
        v["model"].as_str().unwrap_or(""),
        v["reason"].as_str().unwrap_or("")
    )
}

fn cycle_text(v: &Value) -> String {
    let mut text = cycle_line(v);
    for (index, attempt) in v["attempts"].as_array().into_iter().flatten().enumerate() {
        text.push_str(&format!(
            "\n\nattempt {} ({} ms){}",
            index + 1,
            attempt["duration_ms"],
            attempt["error"]
                .as_str()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ));
        for message in attempt["prompt"].as_array().into_iter().flatten() {
            text.push_str(&format!(
                "\n--- {}:\n{}",
                message["role"].as_str().unwrap_or(""),
                message["content"].as_str().unwrap_or("")
            ));
        }
        text.push_str(&format!(
            "\n--- reply:\n{}",
            attempt["reply"].as_str().unwrap_or("")
        ));
    }
    if !v["test_report"].is_null() {
        text.push_str(&format!("\n\ntests: {}", v["test_report"]));
    }
    text
}
