//! The public API's wire types: what `/api/*` accepts and answers, shared by
//! the agent that serves it and every client (the shell, the voice loop,
//! `digios ctl`, the end-to-end tests). One definition per shape, so a change
//! to the API is a change here that every side compiles against.
//!
//! Serde only by default; `openapi` adds `ToSchema` for the agent's OpenAPI
//! document, `client` a blocking HTTP client.

mod action;
mod bodies;
mod error;
mod event;
mod name;
mod skill;
mod task;

#[cfg(feature = "client")]
mod client;

pub use action::{ActionOutcome, ActionRequest, ActionSpec, Risk};
pub use bodies::{
    FactValue, LaunchRequest, NewEvalRun, Position, SelectModel, Size, WindowStateChange,
    WindowStateName,
};
pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use event::{Event, Topic};
pub use name::UnknownName;
pub use skill::{Expectation, SkillCallRequest, SkillDraft, SkillTest};
pub use task::{
    ConfirmAnswer, KillSwitchState, NewTask, PendingConfirmation, Step, StepOutcome, Task,
    TaskState, TaskView,
};

#[cfg(feature = "client")]
pub use client::{Client, ClientError};
