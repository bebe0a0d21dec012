//! `cargo xtask tidy`: the architecture invariants of ARCHITECTURE.md,
//! checked on the real tree. The same check runs as a `#[test]` of this
//! crate, so `cargo test --workspace` enforces it.
//!
//! Crate rules read `cargo metadata --no-deps`; module rules read the `use`
//! lines and paths (`crate::x`, `super::x`, `digios_x::`) of `.rs` files.
//! A rule about a crate or module that does not exist is skipped, so a rule
//! can be written before the crate it governs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::cargo;

// Rule names, as reports and `KNOWN_VIOLATIONS` spell them.
const WIRE_CRATES_STAY_LIGHT: &str = "wire-crates-stay-light";
const AGENT_CORE_BELOW_AGENT: &str = "agent-core-below-agent";
const CLIENTS_USE_THE_API: &str = "clients-use-the-api";
const COMPOSITOR_BELOW_CLIENTS: &str = "compositor-below-clients";
const NOTHING_BELOW_IMPORTS_API: &str = "nothing-below-imports-api";
const SKILLS_BELOW_PLANNER: &str = "skills-below-planner";
const PLANNER_USES_SKILLS_SURFACE: &str = "planner-uses-skills-surface";
const NO_GRAB_BAG_MODULES: &str = "no-grab-bag-modules";

/// A crate every process links: its normal and build dependencies are
/// exactly these, so a client of the protocol stays light.
struct Light {
    krate: &'static str,
    allowed: &'static [Allowed],
}

struct Allowed {
    krate: &'static str,
    /// Allowed only behind a feature, never by default.
    optional: bool,
}

const fn any(krate: &'static str) -> Allowed {
    Allowed {
        krate,
        optional: false,
    }
}

const fn optional(krate: &'static str) -> Allowed {
    Allowed {
        krate,
        optional: true,
    }
}

const LIGHT: &[Light] = &[
    Light {
        krate: "digios-ipc",
        // base64 is the wire encoding of captures; thiserror is a derive.
        allowed: &[
            any("serde"),
            any("serde_json"),
            any("thiserror"),
            any("base64"),
        ],
    },
    Light {
        krate: "digios-voice-ipc",
        allowed: &[any("serde"), any("serde_json"), any("thiserror")],
    },
    Light {
        krate: "digios-api",
        // `openapi` and `client` features; the types alone are serde only.
        allowed: &[
            any("serde"),
            any("serde_json"),
            optional("utoipa"),
            optional("ureq"),
        ],
    },
];

/// `krates` never reach `forbidden` through normal or build dependencies,
/// directly or through other workspace crates; dev-dependencies (tests)
/// may.
struct Layer {
    name: &'static str,
    krates: &'static [&'static str],
    forbidden: &'static [&'static str],
    /// Edges `(from, to)` allowed although `to` is forbidden.
    except: &'static [(&'static str, &'static str)],
}

const AGENT_CORE: &[&str] = &[
    "digios-models",
    "digios-llm",
    "digios-memory",
    "digios-policy",
];

const LAYERS: &[Layer] = &[
    Layer {
        name: AGENT_CORE_BELOW_AGENT,
        krates: AGENT_CORE,
        forbidden: &[
            "digios-agent",
            "digios-models",
            "digios-llm",
            "digios-memory",
            "digios-policy",
            "digios-compositor",
            "digios-shell",
            "digios-voice",
            "digios-voice-ipc",
        ],
        // None yet: each core crate stands alone.
        except: &[],
    },
    Layer {
        name: CLIENTS_USE_THE_API,
        krates: &["digios-shell", "digios-voice"],
        forbidden: &["digios-agent"],
        except: &[],
    },
    Layer {
        name: COMPOSITOR_BELOW_CLIENTS,
        krates: &["digios-compositor", "digios-ipc"],
        forbidden: &[
            "digios-agent",
            "digios-api",
            "digios-models",
            "digios-llm",
            "digios-memory",
            "digios-policy",
            "digios-shell",
            "digios-voice",
            "digios-voice-ipc",
        ],
        except: &[],
    },
];

/// Files of one crate (`src`, where `crate::` starts) that never name the
/// `forbidden` modules.
struct ModuleRule {
    name: &'static str,
    src: &'static str,
    /// The module the rule covers, relative to `src` (`""`: all of it).
    within: &'static str,
    /// Modules or files under `within` the rule does not cover.
    except: &'static [&'static str],
    forbidden: &'static [&'static str],
}

const MODULE_RULES: &[ModuleRule] = &[
    ModuleRule {
        name: NOTHING_BELOW_IMPORTS_API,
        src: "agent/src",
        within: "",
        except: &["api", "lib.rs"],
        forbidden: &["crate::api"],
    },
    ModuleRule {
        name: SKILLS_BELOW_PLANNER,
        src: "agent/src",
        within: "skills",
        except: &[],
        forbidden: &["crate::planner"],
    },
    ModuleRule {
        name: PLANNER_USES_SKILLS_SURFACE,
        src: "agent/src",
        within: "planner",
        except: &[],
        forbidden: &[
            "crate::skills::sandbox",
            "crate::skills::host",
            "crate::skills::store",
        ],
    },
];

/// Module names that say nothing about what they hold.
const GRAB_BAG_NAMES: &[&str] = &["utils", "util", "helpers"];
/// Files allowed those names anyway (paths from the workspace root).
const GRAB_BAG_ALLOWED: &[&str] = &[];

/// A violation of today, tolerated until its fix lands; each must still
/// be one, so a fixed one has to leave this list.
struct Known {
    rule: &'static str,
    /// The file (a source file, or a crate's `Cargo.toml`).
    file: &'static str,
    /// The module path or crate the violation reaches, as a prefix.
    subject: &'static str,
    #[allow(dead_code)] // read by people, not by the check
    reason: &'static str,
}

const KNOWN_VIOLATIONS: &[Known] = &[];

/// One broken rule, at a file (and line, for source).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    pub file: String,
    pub line: Option<usize>,
    pub rule: &'static str,
    /// What was reached: a module path or a crate.
    pub subject: String,
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}", self.file)?,
            None => write!(f, "{}", self.file)?,
        }
        write!(f, ": [{}] {}", self.rule, self.detail)
    }
}

/// `cargo xtask tidy`.
pub fn run() -> Result<(), String> {
    let (new, stale) = check(&cargo::workspace_root())?;
    if new.is_empty() && stale.is_empty() {
        eprintln!("xtask: tidy: every architecture invariant holds");
        return Ok(());
    }
    eprintln!("{}", report(&new, &stale));
    Err("tidy found problems".into())
}

/// Every violation of the tree at `root` not in `KNOWN_VIOLATIONS`, and
/// every entry there that is no longer a violation.
fn check(root: &Path) -> Result<(Vec<Violation>, Vec<String>), String> {
    let metadata = metadata(root)?;
    let mut found = crate_violations(&metadata);
    found.extend(module_violations(root, MODULE_RULES)?);
    found.extend(grab_bag_violations(root)?);
    Ok(judge(found, KNOWN_VIOLATIONS))
}

fn report(new: &[Violation], stale: &[String]) -> String {
    let mut text = String::new();
    for violation in new {
        text.push_str(&format!("{violation}\n"));
    }
    for entry in stale {
        text.push_str(&format!(
            "{entry}: listed in KNOWN_VIOLATIONS (xtask/src/tidy.rs) but no longer a violation; remove it\n"
        ));
    }
    text
}

/// Subtracts the known violations; names the known ones not found.
fn judge(found: Vec<Violation>, known: &[Known]) -> (Vec<Violation>, Vec<String>) {
    let matches = |k: &Known, v: &Violation| {
        k.rule == v.rule && k.file == v.file && has_prefix(&v.subject, k.subject)
    };
    let stale = known
        .iter()
        .filter(|k| !found.iter().any(|v| matches(k, v)))
        .map(|k| format!("{}: [{}] {}", k.file, k.rule, k.subject))
        .collect();
    let mut new: Vec<Violation> = found
        .into_iter()
        .filter(|v| !known.iter().any(|k| matches(k, v)))
        .collect();
    new.sort();
    new.dedup();
    (new, stale)
}

/// Whether `path` is `prefix` or below it, `::`- or segment-wise.
fn has_prefix(path: &str, prefix: &str) -> bool {
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with("::"))
}

fn metadata(root: &Path) -> Result<Value, String> {
    let output = cargo::command()
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--no-deps", "--quiet"])
        .output()
        .map_err(|e| format!("cargo metadata could not start: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "cargo metadata failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| format!("cargo metadata: {e}"))
}

/// One dependency edge of a workspace crate, as `cargo metadata` gives it.
struct Dep {
    krate: String,
    /// `normal` or `build`; dev-dependencies are left out.
    kind: &'static str,
    optional: bool,
}

struct Package {
    /// Its `Cargo.toml`, relative to the workspace root.
    manifest: String,
    deps: Vec<Dep>,
}

fn packages(metadata: &Value) -> BTreeMap<String, Package> {
    let root = metadata["workspace_root"].as_str().unwrap_or("");
    let mut packages = BTreeMap::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let Some(name) = package["name"].as_str() else {
            continue;
        };
        let manifest = package["manifest_path"].as_str().unwrap_or(name);
        let manifest = Path::new(manifest)
            .strip_prefix(root)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| manifest.to_string());
        let deps = package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|dep| {
                let kind = match dep["kind"].as_str() {
                    None => "normal",
                    Some("build") => "build",
                    Some(_) => return None,
                };
                Some(Dep {
                    krate: dep["name"].as_str()?.to_string(),
                    kind,
                    optional: dep["optional"].as_bool().unwrap_or(false),
                })
            })
            .collect();
        packages.insert(name.to_string(), Package { manifest, deps });
    }
    packages
}

/// The crate rules (`LIGHT`, `LAYERS`) against `cargo metadata` output.
fn crate_violations(metadata: &Value) -> Vec<Violation> {
    let packages = packages(metadata);
    let mut found = Vec::new();
    for light in LIGHT {
        let Some(package) = packages.get(light.krate) else {
            continue;
        };
        for dep in &package.deps {
            let allowed = light.allowed.iter().find(|a| a.krate == dep.krate);
            let detail = match allowed {
                None => format!(
                    "{} depends on {} ({}), outside its allowed set: {}",
                    light.krate,
                    dep.krate,
                    dep.kind,
                    light
                        .allowed
                        .iter()
                        .map(|a| a.krate)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Some(a) if a.optional && !dep.optional => format!(
                    "{} depends on {} ({}) unconditionally; it is allowed only as an optional feature",
                    light.krate, dep.krate, dep.kind
                ),
                Some(_) => continue,
            };
            found.push(Violation {
                file: package.manifest.clone(),
                line: None,
                rule: WIRE_CRATES_STAY_LIGHT,
                subject: dep.krate.clone(),
                detail,
            });
        }
    }
    for layer in LAYERS {
        for &krate in layer.krates {
            let Some(package) = packages.get(krate) else {
                continue;
            };
            for (reached, chain) in forbidden_reached(&packages, krate, layer) {
                found.push(Violation {
                    file: package.manifest.clone(),
                    line: None,
                    rule: layer.name,
                    subject: reached,
                    detail: format!("{krate} must not depend on it: {chain}"),
                });
            }
        }
    }
    found
}

/// The forbidden crates `start` reaches, each with the chain of edges
/// (`a → b (normal) → c (build)`) that reaches it first.
fn forbidden_reached(
    packages: &BTreeMap<String, Package>,
    start: &str,
    layer: &Layer,
) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut seen = BTreeSet::from([start.to_string()]);
    let mut queue = std::collections::VecDeque::from([(start.to_string(), start.to_string())]);
    while let Some((krate, chain)) = queue.pop_front() {
        let Some(package) = packages.get(&krate) else {
            continue;
        };
        for dep in &package.deps {
            if !seen.insert(dep.krate.clone()) {
                continue;
            }
            let chain = format!("{chain} → {} ({})", dep.krate, dep.kind);
            let excepted = layer.except.contains(&(krate.as_str(), dep.krate.as_str()));
            if layer.forbidden.contains(&dep.krate.as_str()) && !excepted {
                found.push((dep.krate.clone(), chain));
            } else if packages.contains_key(&dep.krate) {
                queue.push_back((dep.krate.clone(), chain));
            }
        }
    }
    found
}

/// The module rules against the `.rs` files under `root`.
fn module_violations(root: &Path, rules: &[ModuleRule]) -> Result<Vec<Violation>, String> {
    let mut found = Vec::new();
    for rule in rules {
        let src = root.join(rule.src);
        let scope = src.join(rule.within);
        if !scope.is_dir() && !scope.with_extension("rs").is_file() {
            continue; // the module does not exist (yet, or any more)
        }
        for file in rust_files(&src)? {
            let rel = file.strip_prefix(&src).expect("walked from src");
            if !covers(rule, rel) {
                continue;
            }
            let source =
                std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            let mut lines = BTreeMap::<usize, BTreeSet<String>>::new();
            for (line, path) in paths(&source, &module_of(rel)) {
                let path = path.join("::");
                if rule.forbidden.iter().any(|f| has_prefix(&path, f)) {
                    lines.entry(line).or_default().insert(path);
                }
            }
            for (line, paths) in lines {
                let paths: Vec<String> = paths.into_iter().collect();
                found.push(Violation {
                    file: file
                        .strip_prefix(root)
                        .expect("walked from root")
                        .display()
                        .to_string(),
                    line: Some(line),
                    rule: rule.name,
                    subject: paths[0].clone(),
                    detail: format!("imports {} ({})", paths.join(", "), describe(rule)),
                });
            }
        }
    }
    Ok(found)
}

fn describe(rule: &ModuleRule) -> String {
    let within = if rule.within.is_empty() {
        rule.src.to_string()
    } else {
        format!("{}/{}", rule.src, rule.within)
    };
    let except = if rule.except.is_empty() {
        String::new()
    } else {
        format!(" except {}", rule.except.join(", "))
    };
    format!(
        "nothing in {within}{except} may name {}",
        rule.forbidden.join(" or ")
    )
}

/// Whether `rel` (a file relative to the rule's `src`) is in its scope.
fn covers(rule: &ModuleRule, rel: &Path) -> bool {
    let under = |module: &str| {
        module.is_empty()
            || rel == Path::new(module)
            || rel == Path::new(&format!("{module}.rs"))
            || rel.starts_with(module)
    };
    under(rule.within) && !rule.except.iter().any(|e| under(e))
}

/// The module a file holds, from its path below `src`:
/// `lib.rs` → `crate`, `a/mod.rs` and `a.rs` → `crate::a`.
fn module_of(rel: &Path) -> Vec<String> {
    let mut module = vec!["crate".to_string()];
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if !last {
            module.push(part.clone());
        } else if let Some(stem) = part.strip_suffix(".rs")
            && !matches!(stem, "mod" | "lib" | "main")
        {
            module.push(stem.to_string());
        }
    }
    module
}

/// `.rs` files named like grab-bags, outside `GRAB_BAG_ALLOWED`.
fn grab_bag_violations(root: &Path) -> Result<Vec<Violation>, String> {
    let mut found = Vec::new();
    for file in rust_files(root)? {
        let rel = file.strip_prefix(root).expect("walked from root");
        let stem = file.file_stem().unwrap_or_default().to_string_lossy();
        let module = if stem == "mod" {
            rel.parent()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        } else {
            stem.into_owned()
        };
        let rel = rel.display().to_string();
        if GRAB_BAG_NAMES.contains(&module.as_str()) && !GRAB_BAG_ALLOWED.contains(&rel.as_str()) {
            found.push(Violation {
                detail: format!(
                    "a module named `{module}` says nothing about what it holds; name it after its job"
                ),
                file: rel,
                line: None,
                rule: NO_GRAB_BAG_MODULES,
                subject: module,
            });
        }
    }
    Ok(found)
}

/// Every `.rs` file under `dir`, leaving out hidden directories and build
/// output.
fn rust_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                let skip = name.starts_with('.')
                    || name == "target"
                    || name == "node_modules"
                    || path.join("CACHEDIR.TAG").exists();
                if !skip {
                    pending.push(path);
                }
            } else if kind.is_file() && name.ends_with(".rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// `::`
    PathSep,
    Punct(char),
}

/// The tokens of Rust source that paths are made of, each with its line;
/// comments and literals are dropped, so a path in a doc comment or a
/// string is not an import.
fn tokens(source: &str) -> Vec<(Tok, usize)> {
    let chars: Vec<char> = source.chars().collect();
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    // Skips to just past the closing `"` of a string whose body starts at
    // `i`; `raw` is the number of `#`s of a raw string, if it is one.
    let skip_string = |mut i: usize, raw: Option<usize>, line: &mut usize| -> usize {
        while i < chars.len() {
            match chars[i] {
                '\n' => *line += 1,
                '\\' if raw.is_none() => {
                    if at(i + 1) == '\n' {
                        *line += 1;
                    }
                    i += 1;
                }
                '"' => {
                    let hashes = raw.unwrap_or(0);
                    if (1..=hashes).all(|k| at(i + k) == '#') {
                        return i + 1 + hashes;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        i
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            '/' if at(i + 1) == '/' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if at(i + 1) == '*' => {
                let mut depth = 0;
                while i < chars.len() {
                    if chars[i] == '/' && at(i + 1) == '*' {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && at(i + 1) == '/' {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        if chars[i] == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                }
            }
            '"' => i = skip_string(i + 1, None, &mut line),
            '\'' => {
                if at(i + 1) == '\\' {
                    // An escaped char: skip to its closing quote.
                    i += 3;
                    while i < chars.len() && chars[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                } else if at(i + 2) == '\'' {
                    i += 3;
                } else {
                    i += 1; // a lifetime or a label
                }
            }
            ':' if at(i + 1) == ':' => {
                out.push((Tok::PathSep, line));
                i += 2;
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let raw_prefix = matches!(word.as_str(), "r" | "br" | "cr");
                if raw_prefix && (at(i) == '"' || at(i) == '#') {
                    let mut hashes = 0;
                    while at(i + hashes) == '#' {
                        hashes += 1;
                    }
                    if at(i + hashes) == '"' {
                        i = skip_string(i + hashes + 1, Some(hashes), &mut line);
                        continue;
                    }
                    if word == "r" && hashes == 1 {
                        // A raw identifier, `r#type`: the word after `#`.
                        i += 1;
                        continue;
                    }
                }
                out.push((Tok::Ident(word), line));
            }
            c if c.is_ascii_digit() => {
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
            }
            c if c.is_whitespace() => i += 1,
            c => {
                out.push((Tok::Punct(c), line));
                i += 1;
            }
        }
    }
    out
}

/// The paths a file names, each with its line, resolved from `crate`,
/// `self` and `super` against `module` (the file's module) and the inline
/// `mod x { .. }` blocks around them. Other paths (`digios_ipc::..`,
/// `std::..`) are kept as written.
fn paths(source: &str, module: &[String]) -> Vec<(usize, Vec<String>)> {
    let toks = tokens(source);
    let ident = |i: usize| match toks.get(i) {
        Some((Tok::Ident(s), _)) => Some(s.as_str()),
        _ => None,
    };
    let is = |i: usize, t: &Tok| toks.get(i).is_some_and(|(x, _)| x == t);
    let mut found = Vec::new();
    let mut depth = 0usize;
    // Inline modules open around the current token: name and brace depth.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        let here = || {
            let mut m = module.to_vec();
            m.extend(inline.iter().map(|(name, _)| name.clone()));
            m
        };
        match &toks[i].0 {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Tok::Ident(word) if word == "mod" => {
                if let Some(name) = ident(i + 1)
                    && is(i + 2, &Tok::Punct('{'))
                {
                    depth += 1;
                    inline.push((name.to_string(), depth));
                    i += 3;
                    continue;
                }
            }
            Tok::Ident(word) if word == "use" => {
                let current = here();
                let mut leaves = Vec::new();
                i += 1;
                use_tree(&toks, &mut i, Vec::new(), &mut leaves);
                for (line, path) in leaves {
                    found.push((line, resolve(&path, &current)));
                }
                while i < toks.len() && !is(i, &Tok::Punct(';')) {
                    i += 1;
                }
                continue;
            }
            Tok::Ident(word)
                if (matches!(word.as_str(), "crate" | "self" | "super")
                    || word.starts_with("digios_"))
                    && is(i + 1, &Tok::PathSep)
                    && !(i > 0 && is(i - 1, &Tok::PathSep)) =>
            {
                let line = toks[i].1;
                let mut path = vec![word.clone()];
                i += 1;
                while is(i, &Tok::PathSep)
                    && let Some(next) = ident(i + 1)
                {
                    path.push(next.to_string());
                    i += 2;
                }
                found.push((line, resolve(&path, &here())));
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// The leaves of the use tree at `*i`, each a path after `prefix`, with
/// the line of its last segment; `*i` ends past the tree.
fn use_tree(
    toks: &[(Tok, usize)],
    i: &mut usize,
    prefix: Vec<String>,
    leaves: &mut Vec<(usize, Vec<String>)>,
) {
    let mut path = prefix;
    let mut line = toks.get(*i).map_or(0, |t| t.1);
    if toks.get(*i).is_some_and(|t| t.0 == Tok::PathSep) {
        *i += 1;
    }
    while let Some((tok, at)) = toks.get(*i) {
        match tok {
            Tok::Ident(word) => {
                path.push(word.clone());
                line = *at;
                *i += 1;
                if toks.get(*i).is_some_and(|t| t.0 == Tok::PathSep) {
                    *i += 1;
                    continue;
                }
                if matches!(toks.get(*i), Some((Tok::Ident(w), _)) if w == "as") {
                    *i += 2;
                }
                leaves.push((line, path));
                return;
            }
            Tok::Punct('*') => {
                *i += 1;
                leaves.push((line, path));
                return;
            }
            Tok::Punct('{') => {
                *i += 1;
                while let Some((tok, _)) = toks.get(*i) {
                    match tok {
                        Tok::Punct('}') => {
                            *i += 1;
                            return;
                        }
                        Tok::Punct(',') => *i += 1,
                        _ => {
                            let before = *i;
                            use_tree(toks, i, path.clone(), leaves);
                            if *i == before {
                                *i += 1; // not a tree: step over it
                            }
                        }
                    }
                }
                return;
            }
            _ => return,
        }
    }
}

/// `path` from the crate root when it starts at `crate`, `self` or `super`.
fn resolve(path: &[String], module: &[String]) -> Vec<String> {
    let mut resolved = match path.first().map(String::as_str) {
        Some("self") => {
            let mut m = module.to_vec();
            m.extend(path[1..].iter().cloned());
            m
        }
        Some("super") => {
            let mut m = module.to_vec();
            let supers = path.iter().take_while(|s| *s == "super").count();
            for _ in 0..supers {
                if m.len() > 1 {
                    m.pop();
                }
            }
            m.extend(path[supers..].iter().cloned());
            m
        }
        _ => path.to_vec(),
    };
    // `use a::{self, ..}` names `a` itself.
    if resolved.len() > 1 && resolved.last().is_some_and(|s| s == "self") {
        resolved.pop();
    }
    resolved
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The real workspace keeps every invariant, apart from the known
    /// violations, and each known violation is still one.
    #[test]
    fn workspace_keeps_its_architecture_invariants() {
        let (new, stale) = check(&cargo::workspace_root()).expect("tidy ran");
        assert!(
            new.is_empty() && stale.is_empty(),
            "architecture invariants (ARCHITECTURE.md) broken:\n{}",
            report(&new, &stale)
        );
    }

    #[test]
    fn known_violations_name_rules_that_exist() {
        let mut rules: Vec<&str> = LAYERS.iter().map(|l| l.name).collect();
        rules.extend(MODULE_RULES.iter().map(|r| r.name));
        rules.extend([WIRE_CRATES_STAY_LIGHT, NO_GRAB_BAG_MODULES]);
        for known in KNOWN_VIOLATIONS {
            assert!(rules.contains(&known.rule), "{}", known.rule);
            assert!(!known.reason.is_empty(), "{}: give a reason", known.file);
        }
    }

    fn dep(name: &str, kind: Option<&str>, optional: bool) -> Value {
        json!({"name": name, "kind": kind, "optional": optional})
    }

    fn fake_metadata(packages: &[(&str, &str, Vec<Value>)]) -> Value {
        let packages: Vec<Value> = packages
            .iter()
            .map(|(name, dir, deps)| {
                json!({
                    "name": name,
                    "manifest_path": format!("/ws/{dir}/Cargo.toml"),
                    "dependencies": deps,
                })
            })
            .collect();
        json!({"workspace_root": "/ws", "packages": packages})
    }

    /// A tree laid out as today's intended one, breaking nothing.
    fn clean_metadata() -> Vec<(&'static str, &'static str, Vec<Value>)> {
        vec![
            (
                "digios-ipc",
                "compositor/ipc",
                vec![dep("serde", None, false), dep("base64", None, false)],
            ),
            (
                "digios-api",
                "agent/wire",
                vec![
                    dep("serde_json", None, false),
                    dep("utoipa", None, true),
                    dep("ureq", None, true),
                    dep("tempfile", Some("dev"), false),
                ],
            ),
            (
                "digios-compositor",
                "compositor",
                vec![dep("digios-ipc", None, false)],
            ),
            (
                "digios-shell",
                "shell",
                vec![
                    dep("digios-api", None, false),
                    // Tests may start a whole agent.
                    dep("digios-agent", Some("dev"), false),
                ],
            ),
            (
                "digios-memory",
                "agent/memory",
                vec![dep("sqlx", None, false)],
            ),
            (
                "digios-agent",
                "agent",
                vec![
                    dep("digios-memory", None, false),
                    dep("digios-api", None, false),
                    dep("digios-ipc", None, false),
                ],
            ),
        ]
    }

    #[test]
    fn a_clean_crate_graph_passes() {
        assert_eq!(crate_violations(&fake_metadata(&clean_metadata())), []);
    }

    #[test]
    fn a_wire_crate_with_an_extra_dependency_is_reported() {
        let mut packages = clean_metadata();
        packages[1].2.push(dep("tokio", None, false));
        packages[1].2.push(dep("cc", Some("build"), false));
        let found = crate_violations(&fake_metadata(&packages));
        let subjects: Vec<&str> = found.iter().map(|v| v.subject.as_str()).collect();
        assert_eq!(subjects, ["tokio", "cc"]);
        assert!(found.iter().all(|v| v.rule == WIRE_CRATES_STAY_LIGHT));
        assert_eq!(found[0].file, "agent/wire/Cargo.toml");
        assert!(found[1].detail.contains("(build)"), "{}", found[1]);
    }

    #[test]
    fn an_optional_only_dependency_made_default_is_reported() {
        let mut packages = clean_metadata();
        packages[1].2[1] = dep("utoipa", None, false);
        let found = crate_violations(&fake_metadata(&packages));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].detail.contains("optional"), "{}", found[0]);
    }

    #[test]
    fn a_client_depending_on_the_agent_is_reported_with_its_kind() {
        let mut packages = clean_metadata();
        packages[3].2.push(dep("digios-agent", None, false));
        let found = crate_violations(&fake_metadata(&packages));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule, CLIENTS_USE_THE_API);
        assert_eq!(found[0].file, "shell/Cargo.toml");
        assert!(
            found[0]
                .detail
                .ends_with("digios-shell → digios-agent (normal)"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn a_forbidden_crate_reached_through_another_is_reported_with_the_chain() {
        let mut packages = clean_metadata();
        packages.push((
            "digios-boot",
            "boot",
            vec![dep("digios-agent", None, false)],
        ));
        packages[2].2.push(dep("digios-boot", Some("build"), false));
        let found = crate_violations(&fake_metadata(&packages));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule, COMPOSITOR_BELOW_CLIENTS);
        assert!(
            found[0]
                .detail
                .ends_with("digios-compositor → digios-boot (build) → digios-agent (normal)"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn agent_core_crates_depend_on_none_of_each_other() {
        let mut packages = clean_metadata();
        packages.push(("digios-llm", "agent/llm", vec![]));
        packages[4].2.push(dep("digios-llm", None, false));
        let found = crate_violations(&fake_metadata(&packages));
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule, AGENT_CORE_BELOW_AGENT);
        assert_eq!(found[0].subject, "digios-llm");
    }

    #[test]
    fn a_rule_about_a_missing_crate_is_skipped() {
        // No digios-voice, digios-policy or digios-voice-ipc in the graph.
        let packages = vec![("digios-shell", "shell", vec![])];
        assert_eq!(crate_violations(&fake_metadata(&packages)), []);
    }

    fn crate_path(s: &str) -> Vec<String> {
        s.split("::").map(String::from).collect()
    }

    fn named(source: &str, module: &str) -> Vec<(usize, String)> {
        paths(source, &crate_path(module))
            .into_iter()
            .map(|(line, path)| (line, path.join("::")))
            .collect()
    }

    #[test]
    fn paths_are_found_in_use_trees_and_expressions() {
        let source = "\
use crate::{api::events::{EventBus, Topic}, planner};
use super::sandbox as sb;
use self::inner::*;
fn f() {
    let e = crate::api::error::ApiError::from(x);
    digios_ipc::Request::Ping;
}
";
        assert_eq!(
            named(source, "crate::skills::host"),
            [
                (1, "crate::api::events::EventBus".into()),
                (1, "crate::api::events::Topic".into()),
                (1, "crate::planner".into()),
                (2, "crate::skills::sandbox".into()),
                (3, "crate::skills::host::inner".into()),
                (5, "crate::api::error::ApiError::from".into()),
                (6, "digios_ipc::Request::Ping".into()),
            ]
        );
    }

    #[test]
    fn super_resolves_through_inline_modules() {
        let source = "\
use super::super::api;
mod tests {
    use super::*;
    use super::super::planner::{self, X};
}
use super::y;
";
        assert_eq!(
            named(source, "crate::skills::host"),
            [
                (1, "crate::api".into()),
                (3, "crate::skills::host".into()),
                (4, "crate::skills::planner".into()),
                (4, "crate::skills::planner::X".into()),
                (6, "crate::skills::y".into()),
            ]
        );
    }

    #[test]
    fn comments_and_literals_name_no_paths() {
        let source = r###"
//! See `crate::api::events`.
/* crate::api /* nested crate::api */ still a comment crate::api */
/// [`crate::planner`]
fn f<'a>(x: &'a str) -> char {
    let s = "use crate::api;";
    let r = r#"crate::api "quoted" "#;
    let c = '"';
    let e = '\'';
    let b = b"crate::api";
    crate::ok::Fine
}
"###;
        assert_eq!(named(source, "crate"), [(11, "crate::ok::Fine".into())]);
    }

    #[test]
    fn module_paths_come_from_file_paths() {
        let m = |p: &str| module_of(Path::new(p)).join("::");
        assert_eq!(m("lib.rs"), "crate");
        assert_eq!(m("planner/mod.rs"), "crate::planner");
        assert_eq!(m("planner/run.rs"), "crate::planner::run");
        assert_eq!(m("skills.rs"), "crate::skills");
    }

    /// A temporary directory removed when dropped.
    struct Planted(PathBuf);

    impl Planted {
        fn new(name: &str, files: &[(&str, &str)]) -> Self {
            let root =
                std::env::temp_dir().join(format!("digios-tidy-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            for (path, text) in files {
                let path = root.join(path);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, text).unwrap();
            }
            Planted(root)
        }
    }

    impl Drop for Planted {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const CLEAN_AGENT: &[(&str, &str)] = &[
        (
            "agent/src/lib.rs",
            "pub mod api;\npub mod planner;\npub mod skills;\nuse crate::api::Router;\n",
        ),
        (
            "agent/src/api/mod.rs",
            "use crate::api::events::Topic;\nuse crate::planner::Planner;\n",
        ),
        (
            "agent/src/planner/mod.rs",
            "use crate::skills::{Skills, SkillVersion};\n",
        ),
        (
            "agent/src/skills/mod.rs",
            "mod host;\nuse crate::memory::Memory;\n",
        ),
        ("agent/src/skills/host.rs", "use super::sandbox::Meter;\n"),
    ];

    #[test]
    fn a_clean_tree_passes() {
        let tree = Planted::new("clean", CLEAN_AGENT);
        assert_eq!(module_violations(&tree.0, MODULE_RULES).unwrap(), []);
        assert_eq!(grab_bag_violations(&tree.0).unwrap(), []);
    }

    #[test]
    fn planted_violations_are_reported_with_file_line_and_rule() {
        let mut files = CLEAN_AGENT.to_vec();
        files.extend([
            ("agent/src/planner/run.rs", "\n\nuse super::super::api::events::Topic;\nfn f() { crate::skills::host::call(); }\n"),
            ("agent/src/skills/store.rs", "fn f() -> crate::planner::PendingConfirmation { todo!() }\n"),
            ("voice/src/utils.rs", ""),
            ("shell/src/helpers/mod.rs", ""),
        ]);
        let tree = Planted::new("broken", &files);
        let found: Vec<String> = module_violations(&tree.0, MODULE_RULES)
            .unwrap()
            .into_iter()
            .chain(grab_bag_violations(&tree.0).unwrap())
            .map(|v| {
                let line = v.line.map(|l| format!(":{l}")).unwrap_or_default();
                format!("{}{line} {} {}", v.file, v.rule, v.subject)
            })
            .collect();
        assert_eq!(
            found,
            [
                "agent/src/planner/run.rs:3 nothing-below-imports-api crate::api::events::Topic",
                "agent/src/skills/store.rs:1 skills-below-planner crate::planner::PendingConfirmation",
                "agent/src/planner/run.rs:4 planner-uses-skills-surface crate::skills::host::call",
                "shell/src/helpers/mod.rs no-grab-bag-modules helpers",
                "voice/src/utils.rs no-grab-bag-modules utils",
            ]
        );
    }

    #[test]
    fn a_rule_about_a_missing_module_is_skipped() {
        let tree = Planted::new("missing", &[("agent/src/lib.rs", "use crate::api::x;\n")]);
        // No `planner` or `skills`; lib.rs may name the API.
        assert_eq!(module_violations(&tree.0, MODULE_RULES).unwrap(), []);
    }

    fn violation(file: &str, subject: &str) -> Violation {
        Violation {
            file: file.into(),
            line: Some(7),
            rule: NOTHING_BELOW_IMPORTS_API,
            subject: subject.into(),
            detail: String::new(),
        }
    }

    #[test]
    fn known_violations_are_subtracted_and_stale_ones_reported() {
        let known = [
            Known {
                rule: NOTHING_BELOW_IMPORTS_API,
                file: "agent/src/eval/mod.rs",
                subject: "crate::api::events",
                reason: "still there",
            },
            Known {
                rule: NOTHING_BELOW_IMPORTS_API,
                file: "agent/src/improve/mod.rs",
                subject: "crate::api::events",
                reason: "fixed since",
            },
        ];
        let found = vec![
            violation("agent/src/eval/mod.rs", "crate::api::events::Topic"),
            // Same file, another module: not covered by the entry.
            violation("agent/src/eval/mod.rs", "crate::api::eventsource"),
        ];
        let (new, stale) = judge(found, &known);
        assert_eq!(
            new,
            [violation(
                "agent/src/eval/mod.rs",
                "crate::api::eventsource"
            )]
        );
        assert_eq!(
            stale,
            ["agent/src/improve/mod.rs: [nothing-below-imports-api] crate::api::events"]
        );
    }
}
