//! Shared fixtures for the end-to-end tests: starting digiOS, serving files on loopback.
