//! For the language models tests put in the planner's slot to answer from a
//! script instead of a real model.

use digios_agent::llm::ModelDescription;

/// What every scripted model tells the agent it is.
pub fn description() -> ModelDescription {
    ModelDescription {
        id: "scripted".into(),
        backend: "test".into(),
        context_length: None,
    }
}
