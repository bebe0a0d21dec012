//! `digios agent`: the agent service and its public API.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use digios_agent::api::{self, AppState, auth::Auth};

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
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(api_config.bind)
            .await
            .map_err(|err| anyhow::anyhow!("cannot listen on {}: {err}", api_config.bind))?;
        let local = listener.local_addr()?;
        let desktop = digios_agent::desktop::Desktop::from_env();
        tracing::info!("compositor control socket: {}", desktop.socket().display());
        let state = AppState::new(api_config, desktop, actions);
        state.follow_compositor();
        let app = api::router(state, auth);
        // One machine-readable line on stdout tells supervisors and tests where to connect.
        println!("digios-agent listening on http://{local}");
        tracing::info!("API on http://{local}");
        api::serve(listener, app, shutdown_signal()).await?;
        Ok(())
    })
}

fn token_path(config: &Config) -> PathBuf {
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
