//! The model the agent is using right now, shared by the planner and the API.
//! Empty (with the reason) while no model is loaded, so callers can answer
//! with that reason instead of failing obscurely.

use std::sync::{Arc, RwLock};

use super::LanguageModel;

#[derive(Clone)]
pub struct ModelSlot {
    inner: Arc<RwLock<Result<Arc<dyn LanguageModel>, String>>>,
}

impl Default for ModelSlot {
    fn default() -> Self {
        Self::empty("no language model is configured")
    }
}

impl std::fmt::Debug for ModelSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.get() {
            Ok(model) => write!(f, "ModelSlot({})", model.describe().id),
            Err(reason) => write!(f, "ModelSlot(empty: {reason})"),
        }
    }
}

impl From<Arc<dyn LanguageModel>> for ModelSlot {
    fn from(model: Arc<dyn LanguageModel>) -> Self {
        Self::new(model)
    }
}

impl ModelSlot {
    pub fn new(model: Arc<dyn LanguageModel>) -> Self {
        Self {
            inner: Arc::new(RwLock::new(Ok(model))),
        }
    }

    /// A slot without a model; `reason` says why and how to fix it.
    pub fn empty(reason: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(RwLock::new(Err(reason.into()))),
        }
    }

    /// The loaded model, or why there is none.
    pub fn get(&self) -> Result<Arc<dyn LanguageModel>, String> {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn set(&self, model: Arc<dyn LanguageModel>) {
        *self.inner.write().unwrap_or_else(|e| e.into_inner()) = Ok(model);
    }

    pub fn clear(&self, reason: impl Into<String>) {
        *self.inner.write().unwrap_or_else(|e| e.into_inner()) = Err(reason.into());
    }
}
