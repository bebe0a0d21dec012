//! Idempotent machine set-up: only what is missing is installed or fetched.

use std::process::Command;

use crate::cargo;
use crate::debian;
use crate::process::status;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Run,
    Test,
}

/// Models the test suite needs; `run` needs only the default LLM.
const TEST_MODELS: &[&str] = &[
    "smollm2-135m-instruct",
    "whisper-tiny-en",
    "piper-en-us-joe-medium",
    "onnxruntime",
];
const RUN_MODELS: &[&str] = &["smollm2-135m-instruct"];

pub fn parse_purpose(args: &[String]) -> Result<Purpose, String> {
    match args {
        [] => Ok(Purpose::Test),
        [flag, value] if flag == "--for" => match value.as_str() {
            "run" => Ok(Purpose::Run),
            "test" => Ok(Purpose::Test),
            other => Err(format!("--for takes run or test, not {other:?}")),
        },
        _ => Err("usage: cargo xtask setup [--for run|test]".into()),
    }
}

pub fn run(purpose: Purpose) -> Result<(), String> {
    let mut packages: Vec<&str> = debian::BUILD.to_vec();
    packages.extend(match purpose {
        Purpose::Run => debian::RUN,
        Purpose::Test => debian::TEST,
    });
    install_packages(&packages)?;
    if purpose == Purpose::Test {
        crate::image::prepare()?;
        crate::python::ensure(crate::python::TEST)?;
    }
    cargo::run(&["build", "--package", "digios-boot", "--bin", "digios"])?;
    let models = match purpose {
        Purpose::Run => RUN_MODELS,
        Purpose::Test => TEST_MODELS,
    };
    let digios = cargo::target_dir().join("debug/digios");
    let mut pull = Command::new(&digios);
    pull.args(["model", "pull"]).args(models);
    status(pull, "digios model pull")
}

fn install_packages(wanted: &[&str]) -> Result<(), String> {
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|package| !is_installed(package))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing Debian packages: {}", missing.join(" "));
    let root = is_root();
    let apt = |args: &[&str]| {
        let mut command = if root {
            Command::new("apt-get")
        } else {
            let mut sudo = Command::new("sudo");
            sudo.arg("apt-get");
            sudo
        };
        command.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        command
    };
    status(apt(&["update", "-q"]), "apt-get update")?;
    let mut install = apt(&["install", "-y", "-q", "--no-install-recommends"]);
    install.args(&missing);
    status(install, "apt-get install")
}

fn is_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| out.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}
