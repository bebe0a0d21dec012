//! One QuickJS runtime per call: nothing survives between calls, and the
//! only way out is the `digios` object built from [`PRELUDE`] over a single
//! host function that is never itself a global. Runs on the calling thread,
//! which must be a blocking thread (see `host`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rquickjs::{
    CatchResultExt, CaughtError, Context, Ctx, Function, Object, Runtime, Value as JsValue,
};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::host::HostCalls;
use super::{CompileError, SkillError, SkillLimits};

/// The file name QuickJS reports for skill code.
const FILE: &str = "skill.js";
/// Largest JSON a skill may return.
const RESULT_MAX_BYTES: usize = 1 << 20;

/// Builds the `digios` object (and `console.log`) over the host function
/// `host(op, argsJson) -> replyJson`. Evaluates to a function taking `host`.
const PRELUDE: &str = r#"(function (host) {
  "use strict";
  const call = (op, args) => {
    const reply = JSON.parse(host(op, JSON.stringify(args)));
    if (reply.error !== undefined) {
      const err = new Error(reply.error.message);
      err.code = reply.error.code;
      if (reply.error.action) err.action = reply.error.action;
      throw err;
    }
    return reply.ok;
  };
  const text = (v) => (typeof v === "string" ? v : JSON.stringify(v));
  const opt = (v, d) => (v === undefined ? d : v);
  const digios = Object.freeze({
    act: (actionType, params) => call("act", [String(actionType), opt(params, {})]),
    windows: () => call("windows", []),
    focusedWindow: () => call("focused_window", []),
    waitForWindow: (match, timeoutMs) => call("wait_for_window", [opt(match, {}), opt(timeoutMs, 5000)]),
    sleep: (ms) => call("sleep", [Number(ms) || 0]),
    memory: Object.freeze({
      search: (query, limit) => call("search", [String(query), opt(limit, 10)]),
      facts: (kind) => call("facts", [opt(kind, null)]),
    }),
    log: (...parts) => call("log", [parts.map(text).join(" ")]),
  });
  const fixed = { writable: false, configurable: false, enumerable: false };
  Object.defineProperty(globalThis, "digios", { value: digios, ...fixed });
  Object.defineProperty(globalThis, "console", { value: Object.freeze({ log: digios.log }), ...fixed });
})"#;

/// What the interrupt handler watches: CPU time spent in JavaScript, wall
/// time, cancellation, and a stop the host asked for.
pub struct Meter {
    limits: SkillLimits,
    cancel: CancellationToken,
    /// Set on the JS thread when the run starts.
    start: Mutex<Option<(Instant, Duration)>>,
    /// Time spent waiting for the user, which the wall-time limit does not count.
    paused: Mutex<(Duration, Option<Instant>)>,
    host_cpu_ns: AtomicU64,
    stop_requested: AtomicBool,
    reason: Mutex<Option<SkillError>>,
}

impl Meter {
    pub fn new(limits: SkillLimits, cancel: CancellationToken) -> Self {
        Self {
            limits,
            cancel,
            start: Mutex::new(None),
            paused: Mutex::new((Duration::ZERO, None)),
            host_cpu_ns: AtomicU64::new(0),
            stop_requested: AtomicBool::new(false),
            reason: Mutex::new(None),
        }
    }

    fn begin(&self) {
        *self.start.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((Instant::now(), thread_cpu()));
    }

    fn started(&self) -> (Instant, Duration) {
        self.start
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or((Instant::now(), thread_cpu()))
    }

    pub fn add_host_cpu(&self, spent: Duration) {
        self.host_cpu_ns
            .fetch_add(spent.as_nanos() as u64, Ordering::Relaxed);
    }

    pub fn stop_now(&self) {
        self.stop_requested.store(true, Ordering::Relaxed);
    }

    pub fn wall_remaining(&self) -> Duration {
        let (started, _) = self.started();
        let (paused, since) = *self.paused.lock().unwrap_or_else(|e| e.into_inner());
        let paused = paused + since.map(|s| s.elapsed()).unwrap_or_default();
        (Duration::from_millis(self.limits.wall_ms) + paused).saturating_sub(started.elapsed())
    }

    /// Resolves once the wall-time limit has run out (waits for the user not counted).
    pub async fn wall_expired(&self) {
        loop {
            let remaining = self.wall_remaining();
            if remaining.is_zero() {
                return;
            }
            tokio::time::sleep(remaining).await;
        }
    }

    /// Awaits `wait` (the user's answer) off the wall-time clock.
    pub async fn off_the_clock<F: std::future::Future>(&self, wait: F) -> F::Output {
        /// Restarts the clock however the wait ends, dropped included.
        struct Resume<'a>(&'a Meter);
        impl Drop for Resume<'_> {
            fn drop(&mut self) {
                let mut paused = self.0.paused.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(from) = paused.1.take() {
                    paused.0 += from.elapsed();
                }
            }
        }
        self.paused.lock().unwrap_or_else(|e| e.into_inner()).1 = Some(Instant::now());
        let _resume = Resume(self);
        wait.await
    }

    fn js_cpu(&self) -> Duration {
        let (_, cpu_start) = self.started();
        let host = Duration::from_nanos(self.host_cpu_ns.load(Ordering::Relaxed));
        thread_cpu().saturating_sub(cpu_start).saturating_sub(host)
    }

    /// The interrupt handler's question: stop now? Records why.
    fn should_stop(&self) -> bool {
        let reason = if self.cancel.is_cancelled() {
            Some(SkillError::Cancelled)
        } else if self.js_cpu() > Duration::from_millis(self.limits.cpu_ms) {
            Some(SkillError::CpuLimit {
                limit_ms: self.limits.cpu_ms,
            })
        } else if self.wall_remaining().is_zero() {
            Some(SkillError::WallLimit {
                limit_ms: self.limits.wall_ms,
            })
        } else if self.stop_requested.load(Ordering::Relaxed) {
            Some(SkillError::Internal("stopped by the host".into()))
        } else {
            None
        };
        match reason {
            Some(reason) => {
                let mut slot = self.reason.lock().unwrap_or_else(|e| e.into_inner());
                slot.get_or_insert(reason);
                true
            }
            None => false,
        }
    }

    fn reason(&self) -> Option<SkillError> {
        self.reason
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// CPU time of the calling thread.
pub fn thread_cpu() -> Duration {
    use nix::time::{ClockId, clock_gettime};
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(|t| Duration::new(t.tv_sec() as u64, t.tv_nsec() as u32))
        .unwrap_or_default()
}

/// One call to run.
pub struct Job {
    pub code: String,
    pub params: Value,
    pub limits: SkillLimits,
    pub host: HostCalls,
}

/// What a run gives back: the result, the actions taken, the log.
pub type RunOutput = (Value, Vec<String>, Vec<String>);

fn runtime(limits: SkillLimits, host: &HostCalls) -> Result<(Runtime, Context), SkillError> {
    let internal = |err: rquickjs::Error| SkillError::Internal(err.to_string());
    let runtime = Runtime::new().map_err(internal)?;
    runtime.set_memory_limit(limits.memory_bytes);
    runtime.set_max_stack_size(limits.stack_bytes);
    let meter = host.meter();
    meter.begin();
    runtime.set_interrupt_handler(Some(Box::new(move || meter.should_stop())));
    let context = Context::full(&runtime).map_err(internal)?;
    Ok((runtime, context))
}

/// Installs `digios` and evaluates the skill's top level; returns `run`.
fn load<'js>(ctx: &Ctx<'js>, code: &str, host: &HostCalls) -> Result<Function<'js>, Stop<'js>> {
    let install: Function = ctx.eval(PRELUDE).catch(ctx).map_err(Stop::Setup)?;
    let calls = host.clone();
    let host_fn = Function::new(ctx.clone(), move |op: String, args: String| {
        calls.dispatch(&op, &args)
    })
    .catch(ctx)
    .map_err(Stop::Setup)?;
    install
        .call::<_, ()>((host_fn,))
        .catch(ctx)
        .map_err(Stop::Setup)?;
    let mut options = rquickjs::context::EvalOptions::default();
    options.global = true;
    options.strict = true;
    options.filename = Some(FILE.to_string());
    ctx.eval_with_options::<(), _>(code.as_bytes().to_vec(), options)
        .catch(ctx)
        .map_err(Stop::Code)?;
    let run: JsValue = ctx
        .eval("typeof run === 'function' ? run : undefined")
        .catch(ctx)
        .map_err(Stop::Setup)?;
    match run.into_function() {
        Some(run) => Ok(run),
        None => Err(Stop::NoRun),
    }
}

/// Why a run stopped before returning, before it is typed.
enum Stop<'js> {
    Setup(CaughtError<'js>),
    Code(CaughtError<'js>),
    NoRun,
}

/// Compiles `code`: syntax, top level (no host access), and a `run` function.
pub fn compile(code: &str, limits: SkillLimits) -> Result<(), SkillError> {
    let host = HostCalls::unavailable(limits);
    let (_runtime, context) = runtime(limits, &host)?;
    context.with(|ctx| match load(&ctx, code, &host) {
        Ok(_) => Ok(()),
        Err(Stop::NoRun) => Err(SkillError::Compile(CompileError {
            message: "the code defines no function run(params)".into(),
            line: None,
            column: None,
        })),
        Err(Stop::Setup(err)) => Err(SkillError::Internal(describe(&err).0)),
        Err(Stop::Code(err)) => {
            if let Some(stopped) = host.meter().reason() {
                return Err(SkillError::Compile(CompileError {
                    message: format!("the top level did not finish: {stopped}"),
                    line: None,
                    column: None,
                }));
            }
            let (message, line, column) = describe(&err);
            Err(SkillError::Compile(CompileError {
                message,
                line,
                column,
            }))
        }
    })
}

/// Runs `run(params)` and returns its JSON result.
pub fn run(job: Job) -> Result<RunOutput, SkillError> {
    let Job {
        code,
        params,
        limits,
        host,
    } = job;
    let (runtime, context) = runtime(limits, &host)?;
    let result = context.with(|ctx| -> Result<Value, SkillError> {
        let run = match load(&ctx, &code, &host) {
            Ok(run) => run,
            Err(Stop::NoRun) => {
                return Err(SkillError::Failed {
                    message: "the code defines no function run(params)".into(),
                    line: None,
                });
            }
            Err(Stop::Setup(err)) => return Err(failure(&err, &host, limits)),
            Err(Stop::Code(err)) => return Err(failure(&err, &host, limits)),
        };
        let args = ctx
            .json_parse(params.to_string())
            .map_err(|err| SkillError::Internal(err.to_string()))?;
        let mut value: JsValue = run
            .call((args,))
            .catch(&ctx)
            .map_err(|err| failure(&err, &host, limits))?;
        // An async run settles by running the queued jobs (host calls are
        // synchronous, so nothing else can settle it).
        if let Some(promise) = value.as_promise().cloned() {
            value = promise
                .finish::<JsValue>()
                .catch(&ctx)
                .map_err(|err| match err {
                    CaughtError::Error(rquickjs::Error::WouldBlock) => SkillError::Failed {
                        message: "run(params) returned a promise that never settles".into(),
                        line: None,
                    },
                    err => failure(&err, &host, limits),
                })?;
        }
        let text = match ctx
            .json_stringify(value)
            .catch(&ctx)
            .map_err(|err| failure(&err, &host, limits))?
        {
            Some(text) => text
                .to_string()
                .map_err(|err| SkillError::BadResult(err.to_string()))?,
            None => "null".to_string(),
        };
        if text.len() > RESULT_MAX_BYTES {
            return Err(SkillError::BadResult(format!(
                "the result is {} bytes; the limit is {RESULT_MAX_BYTES}",
                text.len()
            )));
        }
        serde_json::from_str(&text).map_err(|err| SkillError::BadResult(err.to_string()))
    });
    drop(context);
    drop(runtime);
    let (actions, log) = host.take_outputs();
    result.map(|value| (value, actions, log))
}

/// Types a thrown error: a limit the meter or host recorded, an exhausted
/// heap, a policy refusal from `digios.act`, or the skill's own exception.
fn failure(err: &CaughtError<'_>, host: &HostCalls, limits: SkillLimits) -> SkillError {
    if let Some(stopped) = host.stopped() {
        return stopped;
    }
    if let Some(reason) = host.meter().reason() {
        return reason;
    }
    let (message, line, _) = describe(err);
    if message.contains("out of memory")
        || matches!(err, CaughtError::Error(rquickjs::Error::Allocation))
    {
        return SkillError::MemoryLimit {
            limit_bytes: limits.memory_bytes,
        };
    }
    if let CaughtError::Exception(exception) = err {
        let object: &Object = exception.as_object();
        let code: Option<String> = object.get("code").ok();
        let action: Option<String> = object.get("action").ok();
        match code.as_deref() {
            Some("denied") => {
                return SkillError::Refused {
                    action: action.unwrap_or_default(),
                    code: "denied",
                    reason: message,
                };
            }
            Some(code @ ("confirmation_required" | "declined")) => {
                return SkillError::Refused {
                    action: action.unwrap_or_default(),
                    code: if code == "declined" {
                        "declined"
                    } else {
                        "confirmation_required"
                    },
                    reason: message,
                };
            }
            Some("kill_switch") => return SkillError::KillSwitch,
            Some("cancelled") => return SkillError::Cancelled,
            Some("time_limit") => {
                return SkillError::WallLimit {
                    limit_ms: limits.wall_ms,
                };
            }
            _ => {}
        }
    }
    SkillError::Failed { message, line }
}

/// Message, line and column of a caught error, lines from `skill.js`.
fn describe(err: &CaughtError<'_>) -> (String, Option<u32>, Option<u32>) {
    match err {
        CaughtError::Exception(exception) => {
            let object: &Object = exception.as_object();
            let name: Option<String> = object.get("name").ok();
            let message = exception.message().unwrap_or_default();
            let message = match name {
                Some(name) if !name.is_empty() && name != "Error" => format!("{name}: {message}"),
                _ => message,
            };
            let mut line: Option<u32> = object.get::<_, Option<u32>>("lineNumber").ok().flatten();
            let mut column: Option<u32> =
                object.get::<_, Option<u32>>("columnNumber").ok().flatten();
            // The innermost frame in the skill's own file names the line.
            if let Some(stack) = exception.stack()
                && let Some((l, c)) = frame_in_skill(&stack)
            {
                line = Some(l);
                column = c.or(column);
            }
            (message, line, column)
        }
        CaughtError::Value(value) => (format!("the skill threw {}", js_text(value)), None, None),
        CaughtError::Error(err) => (err.to_string(), None, None),
    }
}

fn frame_in_skill(stack: &str) -> Option<(u32, Option<u32>)> {
    let at = stack.find(&format!("{FILE}:"))?;
    let rest = &stack[at + FILE.len() + 1..];
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    let line = parts.next()?.parse().ok()?;
    let column = parts.next().and_then(|c| c.parse().ok());
    Some((line, column))
}

fn js_text(value: &JsValue<'_>) -> String {
    if let Some(text) = value.as_string().and_then(|s| s.to_string().ok()) {
        return format!("{text:?}");
    }
    if let Some(n) = value.as_number() {
        return n.to_string();
    }
    format!("a {}", value.type_name())
}
