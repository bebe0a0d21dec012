//! Shared fixtures for the end-to-end tests: starting digiOS, serving files on loopback.

pub mod api_client;
pub mod browser;
pub mod digios;
pub mod file_server;
pub mod model_fixtures;
pub mod qemu;
pub mod round_trips;
pub mod screen;
pub mod scripted_model;
pub mod voice;
pub mod websocket;
