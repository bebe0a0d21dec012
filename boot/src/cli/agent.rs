//! `digios agent`: the agent service and its public API.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use std::sync::Arc;

use digios_agent::api::services::ServiceState;
use digios_agent::api::{self, AppState, auth::Auth};
use digios_agent::llm::{BackendKind, LanguageModel, ModelSlot};
use digios_agent::memory::Memory;
use digios_agent::models::ModelStore;
use digios_agent::planner::PlannerSetup;
use digios_agent::policy::Policy;

use crate::config::Config;

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Address to serve the API on (overrides `api.bind`); port 0 picks a free port.
    #[arg(long)]
    pub bind: Option<SocketAddr>,
}

pub fn run(args: AgentArgs, config: &Config) -> anyhow::Result<()> {
    let mut api_config = config.api.clone();
    if let Some(bind) = args.bind {
        api_config.bind = bind;
    }
    let auth = if api_config.needs_token() {
        let path = api_config
            .token_file
            .clone()
            .unwrap_or_else(|| token_path(config));
        let token = api::auth::load_or_create_token(&path)
            .map_err(|err| anyhow::anyhow!("API token file {}: {err}", path.display()))?;
        tracing::info!("API demands the bearer token in {}", path.display());
        Auth::with_token(token)
    } else {
        Auth::open()
    };
    let actions = config.actions.clone();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let policy = Policy::new(&config.policy, home.as_deref())
        .map_err(|err| anyhow::anyhow!("policy: {err}"))?;
    let memory_path = config.data_dir().join("memory.db");
    let planner_config = config.planner.clone();
    let improve_config = config.improve.clone();
    let voice_socket = config.voice.socket_path();
    let model = load_model(config);
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let memory = Memory::open(&memory_path)
            .await
            .map_err(|err| anyhow::anyhow!("memory {}: {err}", memory_path.display()))?;
        let interrupted = memory.mark_interrupted_tasks().await?;
        if !interrupted.is_empty() {
            tracing::warn!(
                "{} task(s) were unfinished when digiOS last stopped; marked interrupted",
                interrupted.len()
            );
        }
        digios_agent::improve::recover(&memory).await?;
        let listener = tokio::net::TcpListener::bind(api_config.bind)
            .await
            .map_err(|err| anyhow::anyhow!("cannot listen on {}: {err}", api_config.bind))?;
        let local = listener.local_addr()?;
        let desktop = digios_agent::desktop::Desktop::from_env();
        tracing::info!("compositor control socket: {}", desktop.socket().display());
        let slot = match &model {
            Ok(model) => ModelSlot::new(model.clone()),
            Err(reason) => ModelSlot::empty(reason.clone()),
        };
        let planning = PlannerSetup {
            model: slot,
            policy,
            config: planner_config.clone(),
        };
        let active = match (&model, &config.llm.backend, &config.llm.local.path) {
            (Ok(_), BackendKind::Local, None) => Some(
                config
                    .llm
                    .local
                    .model
                    .clone()
                    .unwrap_or_else(|| config.models.default_llm.clone()),
            ),
            _ => None,
        };
        let mut state = AppState::new(api_config, desktop, actions, memory, planning)
            .with_llm(config.llm.clone(), active);
        // Each suite task starts its own compositor from this same binary.
        match std::env::current_exe() {
            Ok(binary) => {
                state = state.with_improvement(improve_config, planner_config, binary);
            }
            Err(err) => tracing::warn!("no evaluator: cannot find the digios binary: {err}"),
        }
        match ModelStore::from_config(&config.models, config.models_dir()) {
            Ok(store) => state = state.with_models(store),
            Err(err) => tracing::warn!("no model store: {err}"),
        }
        state.follow_compositor();
        if let Some(improver) = &state.improvement {
            improver.spawn_schedule(state.memory.clone(), state.desktop.clone());
        }
        state.voice.set_socket(voice_socket);
        state.follow_voice();
        super::supervised::follow_status(&state);
        match &model {
            Ok(_) => state.services.set("model", ServiceState::Up, None),
            Err(reason) => {
                tracing::warn!("no language model: {reason}");
                state
                    .services
                    .set("model", ServiceState::Down, Some(reason.clone()));
            }
        }
        // `/v1` serves whatever the slot holds, so a model selected later is served too.
        let v1 = digios_agent::llm::openai_router(state.model.clone());
        let app = api::router(state, auth, v1.merge(super::supervised::power_routes()));
        // One machine-readable line on stdout tells supervisors and tests where to connect.
        println!("digios-agent listening on http://{local}");
        tracing::info!("API on http://{local}");
        api::serve(listener, app, shutdown_signal()).await?;
        Ok(())
    })
}

/// Loads the configured language model: a local GGUF from the model store
/// (or `llm.local.path`), or a remote OpenAI-compatible server.
fn load_model(config: &Config) -> Result<Arc<dyn LanguageModel>, String> {
    let path = match (&config.llm.backend, &config.llm.local.path) {
        (BackendKind::Local, Some(path)) => path.clone(),
        (BackendKind::Local, None) => {
            let id = config
                .llm
                .local
                .model
                .clone()
                .unwrap_or_else(|| config.models.default_llm.clone());
            let store = ModelStore::from_config(&config.models, config.models_dir())
                .map_err(|err| err.to_string())?;
            store.resolve(&id).map_err(|err| err.to_string())?
        }
        (BackendKind::Remote, _) => PathBuf::new(),
    };
    digios_agent::llm::open_backend(&config.llm, &path).map_err(|err| err.to_string())
}

pub(crate) fn token_path(config: &Config) -> PathBuf {
    config.data_dir().join("api-token")
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down the API");
}
