//! Skills: small JavaScript programs the model writes, run in an embedded
//! QuickJS with no ambient authority, versioned in the memory database, and
//! offered to the planner as tools.
//!
//! A skill is a manifest (name, description, params JSON schema, author model,
//! parent version, test cases) plus code that defines `function run(params)`.
//! The code sees only the ECMAScript built-ins and the `digios` object this
//! module registers ([`API_REFERENCE`]): actions through the same safety
//! policy and audit log as `/api/action`, observations of the desktop, and
//! memory reads. Each call gets a fresh runtime with a memory limit, a CPU
//! time limit (the interrupt handler) and a wall-time limit.
//!
//! Versions: every installed version is archived; one is active per skill.
//! `install` compiles, runs the skill's own tests, then activates the new
//! version (the planner sees it on its next step: no restart). `rollback`
//! reactivates the previous version. Live calls are counted per version, and
//! a version is rolled back by itself under the rule in [`auto_rollback_due`].

mod host;
mod reference;
mod sandbox;
mod store;

use std::sync::Arc;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;

/// The draft and its tests are the public API's request types.
pub use digios_api::{Expectation, SkillDraft, SkillTest};
pub use reference::{API_REFERENCE, api_reference};

use crate::gate::Gate;
use crate::memory::{Memory, MemoryError};

/// Longest skill name; names are `[a-z][a-z0-9_]*`, so they read as tool names.
pub const NAME_MAX: usize = 48;
/// Largest skill source accepted.
pub const CODE_MAX_BYTES: usize = 64 << 10;
/// Most test cases one skill may carry.
pub const TESTS_MAX: usize = 32;
/// A version needs this many live calls before its failure rate is judged.
pub const ROLLBACK_MIN_CALLS: i64 = 5;

/// Whether a version is the one in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VersionState {
    Active,
    /// Kept for rollback; replaced by a newer version.
    Archived,
    /// Taken out of use by a rollback (by hand or by the failure-rate rule).
    RolledBack,
}

impl VersionState {
    pub fn as_str(self) -> &'static str {
        match self {
            VersionState::Active => "active",
            VersionState::Archived => "archived",
            VersionState::RolledBack => "rolled_back",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(VersionState::Active),
            "archived" => Some(VersionState::Archived),
            "rolled_back" => Some(VersionState::RolledBack),
            _ => None,
        }
    }
}

/// One stored version of a skill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SkillVersion {
    pub name: String,
    /// 1, 2, 3 ... per skill.
    pub version: i64,
    pub description: String,
    #[schema(value_type = Object)]
    pub params: Value,
    pub code: String,
    pub author_model: Option<String>,
    pub parent_version: Option<i64>,
    pub tests: Vec<SkillTest>,
    /// The version that was active when this one was installed: the one the
    /// failure-rate rule compares against and a rollback returns to first.
    pub replaced_version: Option<i64>,
    pub state: VersionState,
    /// Why the state last changed (a rollback's reason).
    pub state_reason: Option<String>,
    /// Calls from the planner and the API (tests excluded).
    pub live_calls: i64,
    /// Live calls that ended in an error of the skill's own making.
    pub live_failures: i64,
    pub created_at_ms: i64,
}

impl SkillVersion {
    /// Failures per live call; 0 before the first call.
    pub fn failure_rate(&self) -> f64 {
        if self.live_calls == 0 {
            0.0
        } else {
            self.live_failures as f64 / self.live_calls as f64
        }
    }
}

/// A skill in a list: its active version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SkillSummary {
    pub name: String,
    pub description: String,
    pub version: i64,
    #[schema(value_type = Object)]
    pub params: Value,
    pub author_model: Option<String>,
    pub live_calls: i64,
    pub live_failures: i64,
    /// How many versions are stored.
    pub versions: i64,
}

/// A draft that did not make it in, kept with why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SkillRejection {
    pub id: i64,
    pub name: String,
    /// `invalid_manifest`, `compile_error` or `tests_failed`.
    pub reason: String,
    pub message: String,
    /// The source line of a compile error.
    pub line: Option<u32>,
    pub code: String,
    pub author_model: Option<String>,
    pub report: Option<SkillTestReport>,
    pub created_at_ms: i64,
}

/// A skill with every version (newest first) and its rejected drafts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SkillHistory {
    pub name: String,
    pub active_version: Option<i64>,
    pub versions: Vec<SkillVersion>,
    pub rejections: Vec<SkillRejection>,
}

/// Where and why the code does not compile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CompileError {
    pub message: String,
    /// 1-based line of the skill's source, when QuickJS names one.
    pub line: Option<u32>,
    pub column: Option<u32>,
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(f, "line {line}:{column}: {}", self.message),
            (Some(line), None) => write!(f, "line {line}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

/// How the skill's own tests went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SkillTestReport {
    pub name: String,
    /// Compiled and every case passed.
    pub passed: bool,
    pub compile_error: Option<CompileError>,
    pub cases: Vec<TestCaseReport>,
    pub duration_ms: u64,
}

impl SkillTestReport {
    /// `"2 of 3 passed; failing: a (expected ...)"`.
    pub fn summary(&self) -> String {
        if let Some(err) = &self.compile_error {
            return format!("does not compile: {err}");
        }
        let passed = self.cases.iter().filter(|c| c.passed).count();
        let failing: Vec<String> = self
            .cases
            .iter()
            .filter(|c| !c.passed)
            .map(|c| format!("{} ({})", c.name, c.detail))
            .collect();
        if failing.is_empty() {
            format!("{passed} of {} passed", self.cases.len())
        } else {
            format!(
                "{passed} of {} passed; failing: {}",
                self.cases.len(),
                failing.join("; ")
            )
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TestCaseReport {
    pub name: String,
    pub passed: bool,
    #[schema(value_type = Object)]
    pub returned: Option<Value>,
    pub error: Option<String>,
    /// What was expected and what happened, in words.
    pub detail: String,
    pub duration_ms: u64,
}

/// A finished call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SkillCall {
    pub name: String,
    pub version: i64,
    /// What `run(params)` returned, as JSON.
    #[schema(value_type = Object)]
    pub result: Value,
    /// Actions the skill carried out, in order (`action_type`s).
    pub actions: Vec<String>,
    /// What the skill wrote with `digios.log`.
    pub log: Vec<String>,
    pub duration_ms: u64,
}

/// Resource limits of one call.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SkillLimits {
    /// QuickJS heap.
    pub memory_bytes: usize,
    pub stack_bytes: usize,
    /// CPU time spent in JavaScript (host calls not counted).
    pub cpu_ms: u64,
    /// Wall time of the whole call, host calls included.
    pub wall_ms: u64,
    /// Most host calls (actions, observations, reads) per call.
    pub host_calls: u32,
}

impl Default for SkillLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 32 << 20,
            stack_bytes: 512 << 10,
            cpu_ms: 2_000,
            wall_ms: 60_000,
            host_calls: 200,
        }
    }
}

/// Where a skill's confirm-tier action is put to the user: the planner
/// pauses the task on it and sends the answer back.
pub type Confirmer = tokio::sync::mpsc::Sender<ConfirmAsk>;

/// One confirm-tier action a running skill waits on.
#[derive(Debug)]
pub struct ConfirmAsk {
    pub pending: crate::gate::PendingConfirmation,
    /// `Err` says why the action may not run (declined, no answer in time).
    pub answer: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// Who is calling, which decides what the policy lets through.
#[derive(Debug, Clone, Default)]
pub struct CallOptions {
    /// The user agreed to confirm-tier actions for this call (`?confirm=true`).
    /// Without it they are refused like `/api/action` refuses them.
    pub approve_confirm: bool,
    /// The planner task and step the call belongs to, for the audit log.
    pub task: Option<(i64, i64)>,
    /// Asks the user about a confirm-tier action while the call waits; with
    /// neither this nor `approve_confirm`, such actions are refused.
    pub confirm: Option<Confirmer>,
    /// Stops the call (its JavaScript and any host call under way).
    pub cancel: Option<CancellationToken>,
    /// Tests run on the same host but are not live calls.
    pub live: bool,
}

/// Everything that can go wrong with a skill, typed for the API's error shape.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SkillError {
    #[error("invalid skill: {0}")]
    InvalidManifest(String),
    #[error("the skill does not compile: {0}")]
    Compile(CompileError),
    #[error("the skill's tests fail: {}", .0.summary())]
    TestsFailed(Box<SkillTestReport>),
    #[error("no skill named {0:?}")]
    NotFound(String),
    #[error("skill {name:?} has no version {version}")]
    NoSuchVersion { name: String, version: i64 },
    #[error("skill {0:?} has no earlier version to roll back to")]
    NothingToRollBack(String),
    #[error("invalid params for skill {name:?}: {message}")]
    InvalidParams { name: String, message: String },
    /// The skill threw (or a host call it did not catch failed).
    #[error("the skill failed: {message}{}", .line.map(|l| format!(" (line {l})")).unwrap_or_default())]
    Failed { message: String, line: Option<u32> },
    /// The safety policy refused an action the skill asked for.
    #[error("the safety policy refused {action}: {reason}")]
    Refused {
        action: String,
        /// `denied`, `confirmation_required` or `declined` (the user said no).
        code: &'static str,
        reason: String,
    },
    #[error("the skill used more than its {limit_ms} ms of CPU time and was stopped")]
    CpuLimit { limit_ms: u64 },
    #[error("the skill ran longer than its {limit_ms} ms wall-time limit and was stopped")]
    WallLimit { limit_ms: u64 },
    #[error("the skill ran out of its {limit_bytes} bytes of memory and was stopped")]
    MemoryLimit { limit_bytes: usize },
    #[error("the skill made more than {limit} host calls and was stopped")]
    HostCallLimit { limit: u32 },
    #[error("the skill's result is not JSON: {0}")]
    BadResult(String),
    #[error("the kill switch is engaged; skills that act on the desktop are stopped")]
    KillSwitch,
    #[error("the call was cancelled")]
    Cancelled,
    #[error("{0}")]
    Memory(Arc<MemoryError>),
    #[error("skill runtime: {0}")]
    Internal(String),
}

impl From<MemoryError> for SkillError {
    fn from(err: MemoryError) -> Self {
        SkillError::Memory(Arc::new(err))
    }
}

impl From<sqlx::Error> for SkillError {
    fn from(err: sqlx::Error) -> Self {
        SkillError::Memory(Arc::new(MemoryError::Database(err)))
    }
}

impl SkillError {
    /// Whether this ends a live call as the skill's own failure, counted
    /// against its version. Bad params, a cancel or the kill switch are not
    /// the skill's fault.
    pub fn counts_as_failure(&self) -> bool {
        matches!(
            self,
            SkillError::Failed { .. }
                | SkillError::Refused { .. }
                | SkillError::CpuLimit { .. }
                | SkillError::WallLimit { .. }
                | SkillError::MemoryLimit { .. }
                | SkillError::HostCallLimit { .. }
                | SkillError::BadResult(_)
        )
    }
}

/// What skills act on: the same tools `/api/action` and the planner use,
/// behind the same gate.
pub use crate::gate::Tools as SkillHost;

/// The skill library: storage, the sandbox, and calls. Cheap to clone.
#[derive(Clone)]
pub struct Skills {
    inner: Arc<Inner>,
}

struct Inner {
    gate: Gate,
    limits: SkillLimits,
}

/// The failure-rate rule: an active version `v` that replaced `p` is rolled
/// back to `p` once `v` has at least [`ROLLBACK_MIN_CALLS`] live calls and
/// `failures(v) / calls(v) > failures(p) / calls(p)` (a predecessor with no
/// live calls counts as 0 %). A version with no predecessor is never rolled
/// back automatically.
pub fn auto_rollback_due(current: &SkillVersion, predecessor: &SkillVersion) -> bool {
    current.live_calls >= ROLLBACK_MIN_CALLS && current.failure_rate() > predecessor.failure_rate()
}

impl Skills {
    /// Skills stored in `host.memory`, acting on the user's desktop through
    /// the gate over `host`.
    pub fn new(host: SkillHost, limits: SkillLimits) -> Self {
        Self::behind(Gate::live(host), limits)
    }

    /// Skills acting on an evaluation sandbox's desktop.
    pub fn sandboxed(host: SkillHost, limits: SkillLimits) -> Self {
        Self::behind(Gate::eval(host), limits)
    }

    fn behind(gate: Gate, limits: SkillLimits) -> Self {
        Self {
            inner: Arc::new(Inner { gate, limits }),
        }
    }

    pub fn limits(&self) -> SkillLimits {
        self.inner.limits
    }

    pub fn host(&self) -> &SkillHost {
        &self.inner.gate.tools
    }

    fn memory(&self) -> &Memory {
        &self.inner.gate.tools.memory
    }

    /// Checks the manifest and compiles the code (top level evaluated with no
    /// host access; `run` must be a function). Nothing is stored.
    pub async fn compile(&self, draft: &SkillDraft) -> Result<(), SkillError> {
        validate_manifest(draft)?;
        let code = draft.code.clone();
        let limits = self.inner.limits;
        tokio::task::spawn_blocking(move || sandbox::compile(&code, limits))
            .await
            .map_err(|err| SkillError::Internal(format!("the compile thread failed: {err}")))?
    }

    /// Compiles the draft and runs its test cases against this host. Live
    /// counters are not touched. Nothing is stored.
    pub async fn test(&self, draft: &SkillDraft) -> SkillTestReport {
        let started = Instant::now();
        let mut report = SkillTestReport {
            name: draft.name.clone(),
            passed: false,
            compile_error: None,
            cases: Vec::new(),
            duration_ms: 0,
        };
        match self.compile(draft).await {
            Ok(()) => {}
            Err(SkillError::Compile(err)) => {
                report.compile_error = Some(err);
                report.duration_ms = started.elapsed().as_millis() as u64;
                return report;
            }
            Err(other) => {
                report.compile_error = Some(CompileError {
                    message: other.to_string(),
                    line: None,
                    column: None,
                });
                report.duration_ms = started.elapsed().as_millis() as u64;
                return report;
            }
        }
        for case in &draft.tests {
            report.cases.push(self.run_case(draft, case).await);
        }
        report.passed = report.cases.iter().all(|c| c.passed);
        report.duration_ms = started.elapsed().as_millis() as u64;
        report
    }

    async fn run_case(&self, draft: &SkillDraft, case: &SkillTest) -> TestCaseReport {
        let started = Instant::now();
        let outcome = match check_params(&draft.name, &draft.params, &case.params) {
            Ok(()) => {
                self.execute(
                    &draft.name,
                    0,
                    &draft.code,
                    case.params.clone(),
                    CallOptions::default(),
                )
                .await
            }
            Err(err) => Err(err),
        };
        let (passed, returned, error, detail) = judge(&case.expect, &outcome);
        TestCaseReport {
            name: case.name.clone(),
            passed,
            returned,
            error,
            detail,
            duration_ms: started.elapsed().as_millis() as u64,
        }
    }

    /// Compiles and tests the draft, then stores it as the next version and
    /// makes it active; the version it replaces is archived. A draft that
    /// fails is recorded as a rejection (with its compile error or test
    /// report) and returned as the error.
    pub async fn install(&self, draft: SkillDraft) -> Result<SkillVersion, SkillError> {
        if let Err(err) = validate_manifest(&draft) {
            store::reject(self.memory(), &draft, &err).await?;
            return Err(err);
        }
        let report = self.test(&draft).await;
        if let Some(err) = report.compile_error.clone() {
            let err = SkillError::Compile(err);
            store::reject(self.memory(), &draft, &err).await?;
            return Err(err);
        }
        if !report.passed {
            let err = SkillError::TestsFailed(Box::new(report));
            store::reject(self.memory(), &draft, &err).await?;
            return Err(err);
        }
        let version = store::insert_active(self.memory(), &draft).await?;
        tracing::info!(
            skill = %version.name,
            version = version.version,
            "skill installed and active"
        );
        Ok(version)
    }

    /// Takes the active version out of use and reactivates the previous one:
    /// the version it replaced if that is still archived, else the newest
    /// archived version older than it.
    pub async fn rollback(&self, name: &str) -> Result<SkillVersion, SkillError> {
        store::rollback(self.memory(), name, None, "rolled back by request").await
    }

    /// Every skill's active version, by name.
    pub async fn list(&self) -> Result<Vec<SkillSummary>, SkillError> {
        store::list(self.memory()).await
    }

    /// Every version of `name`, newest first, and its rejected drafts.
    pub async fn history(&self, name: &str) -> Result<SkillHistory, SkillError> {
        store::history(self.memory(), name).await
    }

    /// The active version of `name`.
    pub async fn active(&self, name: &str) -> Result<SkillVersion, SkillError> {
        store::active(self.memory(), name)
            .await?
            .ok_or_else(|| SkillError::NotFound(name.to_string()))
    }

    /// Every active version, for the planner's tools.
    pub async fn active_versions(&self) -> Result<Vec<SkillVersion>, SkillError> {
        store::all_active(self.memory()).await
    }

    /// Calls the active version of `name` as a live call with no
    /// pre-approval, returning what `run` returned.
    pub async fn call(&self, name: &str, params: Value) -> Result<Value, SkillError> {
        let options = CallOptions {
            live: true,
            ..CallOptions::default()
        };
        self.call_with(name, params, options)
            .await
            .map(|call| call.result)
    }

    /// Calls the active version of `name`: params checked against its schema,
    /// run in a fresh sandbox, the outcome counted against the version when
    /// `options.live`, and the failure-rate rule applied afterwards.
    pub async fn call_with(
        &self,
        name: &str,
        params: Value,
        options: CallOptions,
    ) -> Result<SkillCall, SkillError> {
        let version = self.active(name).await?;
        let params = if params.is_null() {
            Value::Object(Default::default())
        } else {
            params
        };
        check_params(name, &version.params, &params)?;
        let live = options.live;
        let outcome = self
            .execute(name, version.version, &version.code, params, options)
            .await;
        if live {
            let failed = match &outcome {
                Ok(_) => Some(false),
                Err(err) if err.counts_as_failure() => Some(true),
                Err(_) => None,
            };
            if let Some(failed) = failed
                && let Err(err) = self.count_outcome(&version, failed).await
            {
                tracing::warn!(skill = name, "cannot count a live outcome: {err}");
            }
        }
        outcome
    }

    /// Counts one live outcome and applies the failure-rate rule.
    async fn count_outcome(&self, version: &SkillVersion, failed: bool) -> Result<(), SkillError> {
        let current =
            store::count_call(self.memory(), &version.name, version.version, failed).await?;
        if current.state != VersionState::Active {
            return Ok(());
        }
        let Some(previous) = current.replaced_version else {
            return Ok(());
        };
        let Some(predecessor) = store::version(self.memory(), &current.name, previous).await?
        else {
            return Ok(());
        };
        if predecessor.state == VersionState::Archived && auto_rollback_due(&current, &predecessor)
        {
            let reason = format!(
                "live failure rate {:.0} % ({} of {}) rose above version {}'s {:.0} % ({} of {})",
                current.failure_rate() * 100.0,
                current.live_failures,
                current.live_calls,
                predecessor.version,
                predecessor.failure_rate() * 100.0,
                predecessor.live_failures,
                predecessor.live_calls
            );
            tracing::warn!(skill = %current.name, version = current.version, "{reason}; rolling back");
            // Only if still active: concurrent calls may judge it together.
            let only = Some(current.version);
            store::rollback(self.memory(), &current.name, only, &reason).await?;
        }
        Ok(())
    }

    /// Runs `code` in a fresh sandbox on a blocking thread.
    async fn execute(
        &self,
        name: &str,
        version: i64,
        code: &str,
        params: Value,
        options: CallOptions,
    ) -> Result<SkillCall, SkillError> {
        let started = Instant::now();
        // The JavaScript stops when this call is dropped (a planner timeout).
        let cancel = options.cancel.clone().unwrap_or_default();
        let _stop_on_drop = cancel.clone().drop_guard();
        let job = sandbox::Job {
            code: code.to_string(),
            params,
            limits: self.inner.limits,
            host: host::HostCalls::new(
                self.inner.gate.clone(),
                tokio::runtime::Handle::current(),
                options.approve_confirm,
                options.task,
                options.confirm,
                cancel,
                name.to_string(),
                self.inner.limits,
            ),
        };
        let ran = tokio::task::spawn_blocking(move || sandbox::run(job))
            .await
            .map_err(|err| SkillError::Internal(format!("the skill thread failed: {err}")))?;
        let (result, actions, log) = ran?;
        Ok(SkillCall {
            name: name.to_string(),
            version,
            result,
            actions,
            log,
            duration_ms: started.elapsed().as_millis() as u64,
        })
    }
}

/// Checks name, description, params schema, tests and code size.
pub fn validate_manifest(draft: &SkillDraft) -> Result<(), SkillError> {
    let invalid = |message: String| Err(SkillError::InvalidManifest(message));
    let name = draft.name.as_str();
    let mut chars = name.chars();
    let name_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= NAME_MAX;
    if !name_ok {
        return invalid(format!(
            "name {name:?} must be [a-z][a-z0-9_]*, at most {NAME_MAX} characters"
        ));
    }
    if draft.description.trim().is_empty() {
        return invalid("description is empty".into());
    }
    if draft.code.len() > CODE_MAX_BYTES {
        return invalid(format!(
            "code is {} bytes; the limit is {CODE_MAX_BYTES}",
            draft.code.len()
        ));
    }
    if draft.params.get("type").and_then(Value::as_str) != Some("object") {
        return invalid("params must be a JSON schema of \"type\": \"object\"".into());
    }
    if let Err(err) = jsonschema::validator_for(&draft.params) {
        return invalid(format!("params is not a valid JSON schema: {err}"));
    }
    if draft.tests.len() > TESTS_MAX {
        return invalid(format!("at most {TESTS_MAX} tests"));
    }
    let mut names = std::collections::HashSet::new();
    for case in &draft.tests {
        if !names.insert(case.name.as_str()) {
            return invalid(format!("two tests are named {:?}", case.name));
        }
    }
    Ok(())
}

/// Validates `params` against the skill's schema.
fn check_params(name: &str, schema: &Value, params: &Value) -> Result<(), SkillError> {
    let validator = jsonschema::validator_for(schema).map_err(|err| SkillError::InvalidParams {
        name: name.to_string(),
        message: format!("the skill's params schema is invalid: {err}"),
    })?;
    let problems: Vec<String> = validator
        .iter_errors(params)
        .take(5)
        .map(|err| {
            let at = err.instance_path().to_string();
            if at.is_empty() {
                err.to_string()
            } else {
                format!("{at}: {err}")
            }
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(SkillError::InvalidParams {
            name: name.to_string(),
            message: problems.join("; "),
        })
    }
}

/// Whether a test's outcome meets its expectation: (passed, returned, error, detail).
fn judge(
    expect: &Expectation,
    outcome: &Result<SkillCall, SkillError>,
) -> (bool, Option<Value>, Option<String>, String) {
    match (expect, outcome) {
        (Expectation::Returns(want), Ok(call)) => {
            let passed = &call.result == want;
            let detail = if passed {
                "returned as expected".to_string()
            } else {
                format!("expected {want}, returned {}", call.result)
            };
            (passed, Some(call.result.clone()), None, detail)
        }
        (Expectation::Matches(want), Ok(call)) => {
            let passed = contains(&call.result, want);
            let detail = if passed {
                "matched".to_string()
            } else {
                format!(
                    "expected a value containing {want}, returned {}",
                    call.result
                )
            };
            (passed, Some(call.result.clone()), None, detail)
        }
        (Expectation::Throws(text), Ok(call)) => (
            false,
            Some(call.result.clone()),
            None,
            format!(
                "expected an error containing {text:?}, returned {}",
                call.result
            ),
        ),
        (Expectation::Throws(text), Err(err)) => {
            let message = err.to_string();
            let passed = message.contains(text.as_str());
            let detail = if passed {
                "failed as expected".to_string()
            } else {
                format!("expected an error containing {text:?}, got: {message}")
            };
            (passed, None, Some(message), detail)
        }
        (_, Err(err)) => {
            let message = err.to_string();
            let detail = format!("expected a value, got: {message}");
            (false, None, Some(message), detail)
        }
    }
}

/// Whether `have` contains `want`: objects by `want`'s keys, recursively.
fn contains(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(have), Value::Object(want)) => want
            .iter()
            .all(|(key, value)| have.get(key).is_some_and(|h| contains(h, value))),
        _ => have == want,
    }
}

#[cfg(test)]
mod tests;
