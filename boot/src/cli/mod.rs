//! One module per `digios` subcommand; each is a thin entry into its crate.

pub mod agent;
pub mod compositor;
mod compositor_msg;
pub mod ctl;
pub mod model;
pub mod run;
