//! The public API: the one door into digiOS. REST and a WebSocket on
//! 127.0.0.1:8765 by default; the shell, voice, CLI and web console are its
//! clients.

mod action;
pub mod auth;
mod door;
pub mod error;
mod improve;
mod input;
mod memory;
mod models;
pub mod rate_limit;
pub mod screen;
pub mod services;
mod skills;
mod system;
mod tasks;
mod vision;
pub mod voice;
mod web;
mod windows;
mod ws;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use self::auth::Auth;
use self::error::ApiError;
use self::rate_limit::RateLimit;
use self::services::{ServiceState, Services};
use crate::actions::{Action, ActionOutcome, ActionsConfig};
use crate::desktop::Desktop;
use crate::events::EventBus;
use crate::gate::{Call, Confirm, Gate, Origin};
use crate::llm::ModelSlot;
use crate::memory::Memory;
use crate::models::ModelStore;
use crate::planner::{Planner, PlannerParts, PlannerSetup};
use crate::policy::{KillSwitch, Policy};

/// The `[api]` section of `digios.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    pub bind: SocketAddr,
    /// Where the bearer token lives. Default: `<data_dir>/api-token`.
    pub token_file: Option<PathBuf>,
    /// Demand the token even on loopback. Off-loopback binds always demand it.
    pub require_token_on_loopback: bool,
    /// Origins a browser console may call from (`*` for any), with CORS.
    /// They count as allowed origins too.
    pub cors_origins: Vec<String>,
    /// Web origins (`https://host[:port]`, `*` for any) whose pages may call
    /// the API besides the console's own; any other `Origin` is refused.
    pub allowed_origins: Vec<String>,
    /// Names the API answers to besides loopback and the bind address
    /// (`host` or `host:port`); any other `Host` is refused.
    pub allowed_hosts: Vec<String>,
    pub body_limit_bytes: usize,
    pub ws_message_limit_bytes: usize,
    pub rate_limit_per_second: u32,
    pub rate_limit_burst: u32,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8765)),
            token_file: None,
            require_token_on_loopback: false,
            cors_origins: Vec::new(),
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            body_limit_bytes: 1 << 20,
            ws_message_limit_bytes: 1 << 20,
            rate_limit_per_second: 200,
            rate_limit_burst: 400,
        }
    }
}

impl ApiConfig {
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.body_limit_bytes < 1024 {
            return Err(("body_limit_bytes", "must be at least 1024".into()));
        }
        if self.ws_message_limit_bytes < 1024 {
            return Err(("ws_message_limit_bytes", "must be at least 1024".into()));
        }
        if self.rate_limit_per_second == 0 {
            return Err(("rate_limit_per_second", "must be at least 1".into()));
        }
        for origin in &self.cors_origins {
            if origin != "*" && HeaderValue::from_str(origin).is_err() {
                return Err(("cors_origins", format!("{origin:?} is not a valid origin")));
            }
        }
        for origin in &self.allowed_origins {
            if !door::guard::valid_origin(origin) {
                return Err((
                    "allowed_origins",
                    format!("{origin:?} is not `*` or an origin like \"https://host:port\""),
                ));
            }
        }
        for host in &self.allowed_hosts {
            if !door::guard::valid_host(host) {
                return Err((
                    "allowed_hosts",
                    format!("{host:?} is not a host name or address, with or without a port"),
                ));
            }
        }
        Ok(())
    }

    /// Whether this bind needs a token: always off loopback.
    pub fn needs_token(&self) -> bool {
        self.require_token_on_loopback || !self.bind.ip().is_loopback()
    }
}

/// Everything handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<StateInner>);

pub struct StateInner {
    pub config: ApiConfig,
    pub started: Instant,
    pub events: Arc<EventBus>,
    pub services: Services,
    pub desktop: Desktop,
    pub actions: ActionsConfig,
    pub vision: crate::vision::Vision,
    pub memory: Memory,
    /// The language model in use; empty (with the reason) while none is loaded.
    pub model: ModelSlot,
    pub kill_switch: KillSwitch,
    pub planner: Planner,
    /// Judges every action the API and the planner carry out.
    pub policy: Arc<Policy>,
    /// The model store, when the agent has one configured.
    pub models: Option<ModelStore>,
    /// Model pulls under way, by id, so a second pull of one model is a 409.
    pub pulls: std::sync::Mutex<std::collections::HashSet<String>>,
    pub voice: voice::VoiceLink,
    /// Screen changes the compositor announces, for the live screen stream.
    pub screen: screen::ScreenFeed,
    /// The skill library; its skills are also the planner's tools.
    pub skills: crate::skills::Skills,
    /// Every action the API carries out passes here.
    pub gate: Gate,
    /// The evaluator and the improvement cycle, when the agent runs them.
    pub improvement: Option<crate::improve::Improver>,
    /// How to load a language model the API selects (`[llm]`).
    pub llm: crate::llm::LlmConfig,
    /// The manifest id of the model in the slot, when it came from the store.
    active_model: std::sync::Mutex<Option<String>>,
    /// The model being loaded, so a second selection is a 409.
    loading_model: std::sync::Mutex<Option<String>>,
    /// The finished router, for WebSocket commands dispatched through it.
    router: OnceLock<Router>,
}

impl std::ops::Deref for AppState {
    type Target = StateInner;
    fn deref(&self) -> &StateInner {
        &self.0
    }
}

impl AppState {
    pub fn new(
        config: ApiConfig,
        desktop: Desktop,
        actions: ActionsConfig,
        memory: Memory,
        planning: PlannerSetup,
    ) -> Self {
        let services = Services::default();
        services.set("api", ServiceState::Up, None);
        services.set("compositor", ServiceState::Starting, None);
        let events = Arc::new(EventBus::default());
        let kill_switch = KillSwitch::new();
        let policy = Arc::new(planning.policy);
        let vision = crate::vision::Vision::new(desktop.clone());
        let tools = crate::gate::Tools {
            desktop: desktop.clone(),
            actions: actions.clone(),
            policy: policy.clone(),
            kill_switch: kill_switch.clone(),
            memory: memory.clone(),
        };
        let gate = Gate::live(tools.clone());
        let skills = crate::skills::Skills::new(tools, crate::skills::SkillLimits::default());
        let planner = Planner::new(PlannerParts {
            config: planning.config,
            memory: memory.clone(),
            desktop: desktop.clone(),
            actions: actions.clone(),
            events: events.clone(),
            policy: policy.clone(),
            kill_switch: kill_switch.clone(),
            model: planning.model.clone(),
            vision: vision.clone(),
        });
        planner.use_skills(skills.clone());
        Self(Arc::new(StateInner {
            config,
            started: Instant::now(),
            events,
            services,
            vision,
            desktop,
            actions,
            memory,
            model: planning.model,
            kill_switch,
            planner,
            policy,
            models: None,
            pulls: Default::default(),
            voice: voice::VoiceLink::from_env(),
            screen: Default::default(),
            skills,
            gate,
            improvement: None,
            llm: crate::llm::LlmConfig::default(),
            active_model: Default::default(),
            loading_model: Default::default(),
            router: OnceLock::new(),
        }))
    }

    fn configure(&mut self) -> &mut StateInner {
        Arc::get_mut(&mut self.0).expect("configure the state before it is shared")
    }

    pub fn with_models(mut self, store: ModelStore) -> Self {
        self.configure().models = Some(store);
        self
    }

    /// The `[llm]` settings a selected model loads with; `active` is the
    /// manifest id of the model already in the slot, if it came from the store.
    pub fn with_llm(mut self, config: crate::llm::LlmConfig, active: Option<String>) -> Self {
        let inner = self.configure();
        inner.llm = config;
        inner.active_model = std::sync::Mutex::new(active);
        self
    }

    /// The manifest id of the language model in use, if it came from the store.
    pub fn active_model(&self) -> Option<String> {
        self.active_model
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_active_model(&self, id: &str) {
        *self.active_model.lock().unwrap_or_else(|e| e.into_inner()) = Some(id.to_string());
    }

    /// Carries out an action through the action engine, if the policy allows
    /// it without asking.
    pub async fn perform(&self, action: Action) -> Result<ActionOutcome, ApiError> {
        self.perform_checked(action, serde_json::Value::Null, false)
            .await
    }

    /// Carries out an action through the gate: `deny` is a 403 `denied`;
    /// `confirm` is a 403 `confirmation_required` unless the caller says the
    /// user agreed (`confirmed`); a 423 while the kill switch is engaged.
    pub async fn perform_checked(
        &self,
        action: Action,
        params: serde_json::Value,
        confirmed: bool,
    ) -> Result<ActionOutcome, ApiError> {
        // Once the screen has been analyzed, what the action changed follows
        // as a `vision` event.
        let token = match self.vision.latest().is_some() {
            true => self.vision.quick_change_token().await.ok(),
            false => None,
        };
        let outcome = self
            .gate
            .run(Call {
                action,
                params,
                origin: Origin::Api,
                confirm: if confirmed {
                    Confirm::PreApproved
                } else {
                    Confirm::Refuse
                },
                timeout: None,
            })
            .await?;
        if let Some(token) = token {
            vision::publish_changes(self.clone(), token, outcome.action_type.clone());
        }
        Ok(outcome)
    }

    /// Follows the compositor's event stream on a dedicated thread for the
    /// life of the process: every event feeds the desktop's mirror (which
    /// window reads and the planner's checks use), window events go onto the
    /// bus, and the compositor's service state tracks whether the stream is
    /// connected.
    pub fn follow_compositor(&self) {
        let state = self.clone();
        let spawned = std::thread::Builder::new()
            .name("compositor-events".into())
            .spawn(move || {
                let mut backoff = std::time::Duration::from_millis(100);
                loop {
                    let result = state.desktop.follow_events(|event| {
                        state.services.set("compositor", ServiceState::Up, None);
                        if let digios_ipc::Event::ScreenChanged { damage_seq, x, y } = event {
                            let pointer = (x, y);
                            state.screen.publish(screen::ScreenTick {
                                damage_seq,
                                pointer,
                            });
                            return;
                        }
                        let data = serde_json::to_value(&event).unwrap_or_default();
                        let kind = data
                            .get("event")
                            .and_then(|v| v.as_str())
                            .unwrap_or("unknown")
                            .to_string();
                        state
                            .events
                            .publish(crate::events::Topic::Windows, kind, data);
                        backoff = std::time::Duration::from_millis(100);
                    });
                    let detail = result.err().map(|err| err.to_string());
                    state.services.set("compositor", ServiceState::Down, detail);
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(std::time::Duration::from_secs(5));
                }
            });
        if let Err(err) = spawned {
            tracing::error!("cannot follow the compositor's events: {err}");
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "digiOS API",
        description = "The one door into digiOS: REST and WebSocket."
    ),
    components(schemas(error::ErrorBody, crate::events::Event))
)]
struct ApiDoc;

/// The whole API: its routes behind the per-connection door (auth and rate
/// limit) and, when configured, CORS.
pub struct Api {
    router: Router,
    auth: Auth,
    guard: door::guard::Guard,
    limit: RateLimit,
    cors: Option<CorsLayer>,
}

/// Builds the whole API: routes, OpenAPI document, body limit and CORS.
/// `extra` holds routes outside `/api` (the OpenAI-compatible `/v1`), put
/// behind the same auth and limits.
pub fn router(state: AppState, auth: Auth, extra: Router) -> Api {
    let (api, openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(system::routes())
        .merge(action::routes())
        .merge(windows::routes())
        .merge(input::routes())
        .merge(vision::routes())
        .merge(tasks::routes())
        .merge(memory::routes())
        .merge(models::routes())
        .merge(voice::routes())
        .merge(screen::routes())
        .merge(improve::routes())
        .merge(skills::routes())
        .split_for_parts();
    let openapi = Arc::new(openapi_json(&openapi));
    let guard = door::guard::Guard::new(&state.config, &openapi);
    let router = api
        .route(
            "/api/openapi.json",
            axum::routing::get(move || {
                let doc = openapi.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .route("/api/ws", axum::routing::get(ws::upgrade))
        .fallback(|| async { ApiError::not_found("no such route").into_response() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
            .into_response()
        })
        .with_state(state.clone())
        .merge(extra)
        .layer(DefaultBodyLimit::max(state.config.body_limit_bytes))
        .merge(web::routes());
    // WebSocket commands are dispatched past the door: their connection
    // passed it at the handshake and draws on the same bucket.
    let _ = state.router.set(router.clone());
    Api {
        router,
        auth,
        guard,
        limit: RateLimit::new(
            state.config.rate_limit_per_second,
            state.config.rate_limit_burst,
        ),
        cors: cors_layer(&state.config.cors_origins),
    }
}

/// The OpenAPI document as JSON. utoipa writes link objects' fields in
/// snake case; OpenAPI spells them `operationId`, `operationRef` and
/// `requestBody`, so they are renamed here.
fn openapi_json(doc: &utoipa::openapi::OpenApi) -> serde_json::Value {
    fn fix(value: &mut serde_json::Value, in_links: bool) {
        match value {
            serde_json::Value::Object(map) => {
                if in_links {
                    for link in map.values_mut() {
                        if let serde_json::Value::Object(link) = link {
                            for (from, to) in [
                                ("operation_id", "operationId"),
                                ("operation_ref", "operationRef"),
                                ("request_body", "requestBody"),
                            ] {
                                if let Some(v) = link.remove(from) {
                                    link.insert(to.into(), v);
                                }
                            }
                        }
                    }
                }
                for (key, child) in map.iter_mut() {
                    fix(child, key == "links");
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| fix(v, false)),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(doc).unwrap_or_default();
    fix(&mut value, false);
    value
}

fn cors_layer(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
            .allow_headers([
                axum::http::header::AUTHORIZATION,
                axum::http::header::CONTENT_TYPE,
            ]),
    )
}

/// Serves `api` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(
    listener: tokio::net::TcpListener,
    api: Api,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let guard = api.guard.serving_on(listener.local_addr()?);
    let doors = door::Doors::new(api.router, api.auth, guard, api.limit, api.cors);
    axum::serve(listener, doors)
        .with_graceful_shutdown(shutdown)
        .await
}
