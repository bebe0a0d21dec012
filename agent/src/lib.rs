//! The model core of digiOS: models, planner, actions, memory, skills and the public API.

pub mod actions;
pub mod api;
pub mod desktop;
pub mod eval;
pub mod events;
pub mod gate;
pub mod improve;
pub use digios_llm as llm;
pub use digios_memory as memory;
pub use digios_models as models;
pub mod planner;
pub use digios_policy as policy;
pub mod skills;
pub mod vision;
