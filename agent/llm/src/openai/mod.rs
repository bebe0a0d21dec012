//! The OpenAI chat-completions protocol: a client for any compatible server, and a server
//! for our own model.

mod client;
mod server;
mod sse;
mod wire;

pub use client::{OpenAiClient, RemoteSettings};
pub use server::openai_router;
