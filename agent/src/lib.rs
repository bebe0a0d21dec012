//! The model core of digiOS: models, planner, actions, memory, skills and the public API.

pub mod actions;
pub mod api;
pub mod desktop;
pub mod eval;
pub mod improve;
pub mod llm;
pub mod memory;
pub mod models;
pub mod planner;
pub mod policy;
pub mod skills;
pub mod vision;
