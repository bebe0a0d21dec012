//! What the API knows of each digiOS service's health, for `/api/status`.

use std::collections::BTreeMap;
use std::sync::RwLock;

use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    Starting,
    Up,
    Down,
    Disabled,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ServiceStatus {
    pub name: String,
    pub state: ServiceState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

#[derive(Default)]
pub struct Services {
    by_name: RwLock<BTreeMap<String, ServiceStatus>>,
}

impl Services {
    pub fn set(&self, name: &str, state: ServiceState, detail: Option<String>) {
        let mut map = self.by_name.write().unwrap_or_else(|e| e.into_inner());
        map.insert(
            name.to_string(),
            ServiceStatus {
                name: name.to_string(),
                state,
                detail,
            },
        );
    }

    pub fn all(&self) -> Vec<ServiceStatus> {
        let map = self.by_name.read().unwrap_or_else(|e| e.into_inner());
        map.values().cloned().collect()
    }

    pub fn state(&self, name: &str) -> Option<ServiceState> {
        let map = self.by_name.read().unwrap_or_else(|e| e.into_inner());
        map.get(name).map(|s| s.state)
    }
}
