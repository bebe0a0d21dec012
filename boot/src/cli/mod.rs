//! One module per `digios` subcommand; each is a thin entry into its crate.

pub mod agent;
pub mod compositor;
pub mod ctl;
pub mod model;
pub mod run;
pub mod supervised;
