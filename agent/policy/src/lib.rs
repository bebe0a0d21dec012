//! The safety policy: for every action the planner or an API client wants to
//! take, allow it, ask the user first, or refuse; and the kill switch that
//! stops everything at once.
//!
//! Rules are tried in order (the user's from `[policy]`, then the built-in
//! ones) and the first whose action pattern and path pattern both match
//! decides; if none does, `default` decides. An action touching several paths
//! (a move) is judged per path and the strictest verdict wins, so an allowed
//! source cannot smuggle in a denied destination.

mod glob;
mod kill_switch;

use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use glob::Glob;
pub use kill_switch::{KillSwitch, KillSwitchEngaged};

/// What the policy says about one action. Ordered from least to most strict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Allow,
    /// Pause the task until the user answers.
    Confirm,
    Deny,
}

/// The `[policy]` section of `digios.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyConfig {
    /// The verdict for an action no rule matches.
    pub default: Verdict,
    /// Whether the built-in rules (see [`builtin_rules`]) follow the user's.
    pub builtin_rules: bool,
    /// The user's rules, tried first, in order.
    pub rules: Vec<RuleConfig>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            default: Verdict::Confirm,
            builtin_rules: true,
            rules: Vec::new(),
        }
    }
}

/// One rule: `{ action = "delete_file", path = "~/Downloads/**", verdict = "allow" }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// A pattern over action names (`*` for every action).
    #[serde(default = "any_action")]
    pub action: String,
    /// A pattern over absolute paths (`~/` is the user's home). A rule with a
    /// path applies only to actions that touch a matching path.
    #[serde(default)]
    pub path: Option<String>,
    pub verdict: Verdict,
}

fn any_action() -> String {
    "*".into()
}

impl RuleConfig {
    fn new(action: &str, path: Option<&str>, verdict: Verdict) -> Self {
        Self {
            action: action.into(),
            path: path.map(Into::into),
            verdict,
        }
    }
}

/// The rules that apply unless `builtin_rules = false`: secrets and kernel
/// interfaces are off limits, system files need a yes, looking and ordinary
/// desktop work are free, and anything that deletes, overwrites, runs shell
/// commands or signals processes asks first.
pub fn builtin_rules() -> Vec<RuleConfig> {
    use Verdict::*;
    let mut rules = Vec::new();
    for secret in ["~/.ssh/**", "~/.gnupg/**", "/proc/**", "/sys/**", "/dev/**"] {
        rules.push(RuleConfig::new("*", Some(secret), Deny));
    }
    for system in [
        "/etc/**", "/boot/**", "/usr/**", "/bin/**", "/sbin/**", "/lib/**",
    ] {
        rules.push(RuleConfig::new("*", Some(system), Confirm));
    }
    for read in [
        "read_*",
        "list_*",
        "get_*",
        "observe*",
        "capture*",
        "screenshot*",
        "search*",
    ] {
        rules.push(RuleConfig::new(read, None, Allow));
    }
    for desktop in [
        "click",
        "double_click",
        "move_pointer",
        "drag",
        "scroll",
        "key",
        "type_text",
        "launch_app",
        "*_window",
    ] {
        rules.push(RuleConfig::new(desktop, None, Allow));
    }
    for risky in [
        "delete_*", "remove_*", "write_*", "move_*", "copy_*", "*shell*", "run_*", "spawn_*",
        "signal_*", "kill_*",
    ] {
        rules.push(RuleConfig::new(risky, None, Confirm));
    }
    rules
}

impl PolicyConfig {
    /// Checks every pattern; the error names the offending key and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        for (index, rule) in self.rules.iter().enumerate() {
            check_rule(rule)
                .map_err(|reason| ("rules", format!("rule {}: {reason}", index + 1)))?;
        }
        Ok(())
    }
}

fn check_rule(rule: &RuleConfig) -> Result<(), String> {
    if rule.action.trim().is_empty() {
        return Err("action pattern is empty (use \"*\" for every action)".into());
    }
    if let Some(path) = &rule.path
        && !(path.starts_with('/') || path.starts_with("~/") || path.starts_with("**"))
    {
        return Err(format!(
            "path pattern {path:?} must be absolute, start with ~/ or with **"
        ));
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("policy rule {index}: {reason}")]
    InvalidRule { index: usize, reason: String },
    #[error("policy rule {index} uses ~/ but the user's home directory is unknown")]
    NoHome { index: usize },
}

/// Which rule decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "source", content = "index")]
pub enum DecidedBy {
    /// The user's rule at this position (from 0).
    UserRule(usize),
    /// The built-in rule at this position (from 0).
    BuiltinRule(usize),
    /// No rule matched.
    Default,
    /// A relative or unreadable path: the policy refuses what it cannot judge.
    UnjudgeablePath,
}

/// A verdict with the reason, for the audit log and the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyDecision {
    pub verdict: Verdict,
    pub decided_by: DecidedBy,
    pub reason: String,
}

#[derive(Debug, Clone)]
struct Rule {
    action: Glob,
    path: Option<Glob>,
    verdict: Verdict,
    decided_by: DecidedBy,
}

impl Rule {
    fn describe(&self) -> String {
        let origin = match self.decided_by {
            DecidedBy::UserRule(i) => format!("rule {}", i + 1),
            DecidedBy::BuiltinRule(i) => format!("built-in rule {}", i + 1),
            DecidedBy::Default | DecidedBy::UnjudgeablePath => "policy".into(),
        };
        match &self.path {
            Some(path) => format!(
                "{origin} (action {}, path {})",
                self.action.as_str(),
                path.as_str()
            ),
            None => format!("{origin} (action {})", self.action.as_str()),
        }
    }
}

/// A compiled policy, cheap to share behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: Vec<Rule>,
    default: Verdict,
}

impl Policy {
    /// Compiles `config`; `home` expands `~/` in path patterns.
    pub fn new(config: &PolicyConfig, home: Option<&Path>) -> Result<Self, PolicyError> {
        let builtin = if config.builtin_rules {
            builtin_rules()
        } else {
            Vec::new()
        };
        let user = config
            .rules
            .iter()
            .enumerate()
            .map(|(i, rule)| (rule, DecidedBy::UserRule(i)));
        let builtin = builtin
            .iter()
            .enumerate()
            .map(|(i, rule)| (rule, DecidedBy::BuiltinRule(i)));
        let mut rules = Vec::new();
        for (rule, decided_by) in user.chain(builtin) {
            let index = match decided_by {
                DecidedBy::UserRule(i) | DecidedBy::BuiltinRule(i) => i + 1,
                _ => 0,
            };
            check_rule(rule).map_err(|reason| PolicyError::InvalidRule { index, reason })?;
            let path = match rule.path.as_deref() {
                None => None,
                Some(pattern) => match pattern.strip_prefix("~/") {
                    Some(rest) => match home {
                        Some(home) => Some(Glob::new(&format!(
                            "{}/{rest}",
                            home.to_string_lossy().trim_end_matches('/')
                        ))),
                        // A built-in rule about a home that does not exist cannot match.
                        None if matches!(decided_by, DecidedBy::BuiltinRule(_)) => continue,
                        None => return Err(PolicyError::NoHome { index }),
                    },
                    None => Some(Glob::new(pattern)),
                },
            };
            rules.push(Rule {
                action: Glob::new(&rule.action),
                path,
                verdict: rule.verdict,
                decided_by,
            });
        }
        Ok(Self {
            rules,
            default: config.default,
        })
    }

    /// Judges `action` touching `paths` (none for desktop actions).
    pub fn decide(&self, action: &str, paths: &[&Path]) -> PolicyDecision {
        if paths.is_empty() {
            return self.first_match(action, None);
        }
        let mut strictest: Option<PolicyDecision> = None;
        for path in paths {
            let decision = match normalize(path) {
                Some(path) => self.first_match(action, Some(&path)),
                None => PolicyDecision {
                    verdict: Verdict::Deny,
                    decided_by: DecidedBy::UnjudgeablePath,
                    reason: format!(
                        "{action}: path {} is not absolute UTF-8, so no rule can judge it",
                        path.display()
                    ),
                },
            };
            if strictest
                .as_ref()
                .is_none_or(|current| decision.verdict > current.verdict)
            {
                strictest = Some(decision);
            }
        }
        strictest.unwrap_or_else(|| self.first_match(action, None))
    }

    fn first_match(&self, action: &str, path: Option<&str>) -> PolicyDecision {
        let matched = self.rules.iter().find(|rule| match (&rule.path, path) {
            (None, _) => rule.action.matches(action),
            (Some(pattern), Some(path)) => rule.action.matches(action) && pattern.matches(path),
            (Some(_), None) => false,
        });
        let target = match path {
            Some(path) => format!("{action} on {path}"),
            None => action.to_string(),
        };
        match matched {
            Some(rule) => PolicyDecision {
                verdict: rule.verdict,
                decided_by: rule.decided_by,
                reason: format!("{target}: {} says {:?}", rule.describe(), rule.verdict),
            },
            None => PolicyDecision {
                verdict: self.default,
                decided_by: DecidedBy::Default,
                reason: format!("{target}: no rule matches; default is {:?}", self.default),
            },
        }
    }
}

/// Resolves `.` and `..` without touching the file system, so `/home/a/../../etc`
/// is judged as `/etc`. `None` for relative or non-UTF-8 paths.
fn normalize(path: &Path) -> Option<String> {
    if !path.is_absolute() {
        return None;
    }
    let mut clean = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
            Component::ParentDir => {
                clean.pop();
            }
            Component::Normal(part) => clean.push(part),
        }
    }
    clean.to_str().map(str::to_string)
}

#[cfg(test)]
mod tests;
