//! `digios model ...`: the model store from the command line.

use std::path::PathBuf;
use std::sync::Mutex;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use digios_agent::models::{
    FileState, ModelStore, PullEvent, PullOutcome, VerifyOutcome, ct2_whisper,
};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Config;

#[derive(Debug, Args)]
pub struct ModelArgs {
    #[command(subcommand)]
    pub command: ModelCommand,
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Every manifest entry and whether it is missing, present or verified.
    List,
    /// Download models (resuming, verifying, trying mirrors in order).
    Pull {
        /// Model ids from `digios model list`.
        #[arg(required_unless_present = "all")]
        ids: Vec<String>,
        /// Pull every model in the manifest.
        #[arg(long, conflicts_with_all = ["ids", "from"])]
        all: bool,
        /// Download this one artifact instead of the manifest's sources: a zip
        /// yields the model's members, anything else is the model file itself.
        #[arg(long, value_name = "URL")]
        from: Option<String>,
    },
    /// Rehash model files against the manifest (all models if none named).
    Verify { ids: Vec<String> },
    /// Delete a model's files and unfinished downloads.
    Remove { id: String },
    /// Print the path of a model's file (fails unless it is in the store).
    Path { id: String },
    /// Convert a CTranslate2 Whisper model directory into a whisper.cpp ggml file.
    ConvertCt2 { ct2_dir: PathBuf, output: PathBuf },
}

pub fn run(args: ModelArgs, config: &Config) -> anyhow::Result<()> {
    if let ModelCommand::ConvertCt2 { ct2_dir, output } = &args.command {
        let summary = ct2_whisper::convert(ct2_dir, output)
            .with_context(|| format!("converting {}", ct2_dir.display()))?;
        println!(
            "{}: {} tensors, {} bytes",
            output.display(),
            summary.tensors,
            summary.bytes
        );
        return Ok(());
    }
    let store = ModelStore::from_config(&config.models, config.models_dir())?;
    match args.command {
        ModelCommand::List => list(&store),
        ModelCommand::Pull { ids, all, from } => pull(&store, ids, all, from),
        ModelCommand::Verify { ids } => verify(&store, ids),
        ModelCommand::Remove { id } => {
            let removed = store.remove(&id)?;
            if removed.is_empty() {
                println!("{id}: nothing to remove");
            }
            for path in removed {
                println!("removed {}", path.display());
            }
            Ok(())
        }
        ModelCommand::Path { id } => {
            println!("{}", store.resolve(&id)?.display());
            Ok(())
        }
        ModelCommand::ConvertCt2 { .. } => unreachable!("handled above"),
    }
}

fn human_size(bytes: Option<u64>) -> String {
    let Some(bytes) = bytes else {
        return "?".into();
    };
    match bytes {
        b if b >= 1_000_000_000 => format!("{:.2} GB", b as f64 / 1e9),
        b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b if b >= 1_000 => format!("{:.1} kB", b as f64 / 1e3),
        b => format!("{b} B"),
    }
}

fn list(store: &ModelStore) -> anyhow::Result<()> {
    println!("models in {}", store.dir().display());
    let rows: Vec<[String; 5]> = store
        .list()
        .into_iter()
        .flat_map(|entry| {
            entry.files.into_iter().map(move |file| {
                let state = match file.state {
                    FileState::Present if !file.checksum_known => {
                        "present (no checksum in manifest)".to_string()
                    }
                    other => other.to_string(),
                };
                [
                    entry.id.clone(),
                    entry.kind.to_string(),
                    file.name,
                    human_size(file.size),
                    state,
                ]
            })
        })
        .collect();
    let header = ["ID", "KIND", "FILE", "SIZE", "STATE"].map(String::from);
    let mut widths = [0usize; 5];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        println!("{}", line.join("  ").trim_end());
    }
    Ok(())
}

fn verify(store: &ModelStore, ids: Vec<String>) -> anyhow::Result<()> {
    let named = !ids.is_empty();
    let ids = if named {
        ids
    } else {
        store
            .manifest()
            .entries
            .iter()
            .map(|e| e.id.clone())
            .collect()
    };
    let mut failed = 0;
    for id in &ids {
        for result in store.verify(id)? {
            println!("{}  {}  {}", result.id, result.file, result.outcome);
            let acceptable = result.outcome.is_verified()
                || (!named && result.outcome == VerifyOutcome::Missing);
            if !acceptable {
                failed += 1;
            }
        }
    }
    if failed > 0 {
        bail!("{failed} file(s) failed verification");
    }
    Ok(())
}

fn pull(
    store: &ModelStore,
    ids: Vec<String>,
    all: bool,
    from: Option<String>,
) -> anyhow::Result<()> {
    let ids: Vec<String> = if all {
        store
            .manifest()
            .entries
            .iter()
            .map(|e| e.id.clone())
            .collect()
    } else {
        ids
    };
    if from.is_some() && ids.len() != 1 {
        bail!("--from takes exactly one model id");
    }
    for id in &ids {
        store.entry(id)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let reporter = Reporter::default();
    let report = |event| reporter.event(event);
    let mut failures = Vec::new();
    for id in &ids {
        let outcome = runtime.block_on(async {
            match &from {
                Some(url) => store.pull_from(id, url, &report).await,
                None => store.pull(id, &report).await,
            }
        });
        reporter.clear();
        match outcome {
            Ok(PullOutcome::Downloaded) => println!("{id}: downloaded and verified"),
            Ok(PullOutcome::AlreadyPresent) => println!("{id}: already present"),
            Err(err) => {
                eprintln!("digios: {id}: {err}");
                failures.push(id.clone());
            }
        }
    }
    if !failures.is_empty() {
        bail!("could not pull: {}", failures.join(", "));
    }
    Ok(())
}

/// Draws pull events: a progress bar per download, a line per other event.
#[derive(Default)]
struct Reporter {
    bar: Mutex<Option<ProgressBar>>,
}

impl Reporter {
    fn say(&self, message: String) {
        match &*self.bar.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(bar) => bar.suspend(|| eprintln!("{message}")),
            None => eprintln!("{message}"),
        }
    }

    fn clear(&self) {
        if let Some(bar) = self.bar.lock().unwrap_or_else(|p| p.into_inner()).take() {
            bar.finish_and_clear();
        }
    }

    fn event(&self, event: PullEvent) {
        match event {
            PullEvent::WaitingForLock { id } => {
                self.say(format!("{id}: another pull is under way; waiting for it"))
            }
            PullEvent::Checking { file } => self.say(format!("checking sha256 of {file}")),
            PullEvent::SourceStarted { id, index, count } if count > 1 => {
                self.say(format!("{id}: mirror {} of {count}", index + 1))
            }
            PullEvent::DownloadStarted { url, offset, total } => {
                self.clear();
                let bar = match total {
                    Some(total) => ProgressBar::new(total),
                    None => ProgressBar::no_length(),
                };
                let style = ProgressStyle::with_template(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
                )
                .map(|s| s.progress_chars("=> "))
                .unwrap_or_else(|_| ProgressStyle::default_bar());
                bar.set_style(style);
                bar.set_message(url.rsplit('/').next().unwrap_or(&url).to_string());
                bar.set_position(offset);
                if offset > 0 {
                    bar.suspend(|| eprintln!("resuming {url} at byte {offset}"));
                } else {
                    bar.suspend(|| eprintln!("downloading {url}"));
                }
                *self.bar.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar);
            }
            PullEvent::DownloadProgress { downloaded, .. } => {
                if let Some(bar) = &*self.bar.lock().unwrap_or_else(|p| p.into_inner()) {
                    bar.set_position(downloaded);
                }
            }
            PullEvent::DownloadFinished { .. } => self.clear(),
            PullEvent::Retrying {
                url,
                attempt,
                delay,
                error,
            } => self.say(format!(
                "retry {attempt} of {url} in {:.1} s: {error}",
                delay.as_secs_f64()
            )),
            PullEvent::SourceFailed { id, index, error } => {
                self.say(format!("{id}: mirror {} failed: {error}", index + 1))
            }
            PullEvent::Assembling { file } => self.say(format!("assembling {file}")),
            PullEvent::Installed { file: _, path } => {
                self.say(format!("installed {}", path.display()))
            }
            PullEvent::SourceStarted { .. }
            | PullEvent::AlreadyPresent { .. }
            | PullEvent::Done { .. } => {}
        }
    }
}
