//! Python tools the tests and benchmarks drive (schemathesis; the FastAPI
//! anchor of the API benchmark), in one virtual environment under the cache
//! directory, installed from the package registry only when missing.

use std::path::PathBuf;
use std::process::Command;

/// What `cargo xtask test` needs: the OpenAPI fuzzer.
pub const TEST: &[&str] = &["schemathesis==4.32.5"];
/// What `cargo xtask bench` adds: the seed's Python server shape.
pub const BENCH: &[&str] = &["fastapi==0.163.2", "uvicorn[standard]==0.54.0"];

/// `$DIGIOS_CACHE_DIR/venv`, else `~/.cache/digios/venv` (where the tests look).
pub fn venv_dir() -> Result<PathBuf, String> {
    let cache = std::env::var_os("DIGIOS_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/digios")))
        .ok_or("neither DIGIOS_CACHE_DIR nor HOME is set")?;
    Ok(cache.join("venv"))
}

/// Makes sure every requirement in `wanted` is installed; a second run does nothing.
pub fn ensure(wanted: &[&str]) -> Result<(), String> {
    let venv = venv_dir()?;
    let python = venv.join("bin/python");
    if !python.exists() {
        eprintln!("xtask: creating a Python environment in {}", venv.display());
        let status = Command::new("/usr/bin/python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .map_err(|err| {
                format!("python3 -m venv could not start: {err} (install python3-venv)")
            })?;
        if !status.success() {
            return Err(format!(
                "python3 -m venv {} failed ({status})",
                venv.display()
            ));
        }
    }
    let stamp = venv.join("digios-requirements.txt");
    let installed = std::fs::read_to_string(&stamp).unwrap_or_default();
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|req| !installed.lines().any(|line| line == *req))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing Python packages: {}", missing.join(" "));
    let status = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(&missing)
        .status()
        .map_err(|err| format!("pip could not start: {err}"))?;
    if !status.success() {
        return Err(format!(
            "pip install {} failed ({status})",
            missing.join(" ")
        ));
    }
    let mut lines: Vec<String> = installed.lines().map(str::to_string).collect();
    lines.extend(missing.iter().map(|req| req.to_string()));
    std::fs::write(&stamp, lines.join("\n") + "\n")
        .map_err(|err| format!("cannot write {}: {err}", stamp.display()))
}
