//! Bearer-token auth. Loopback binds need no token by default; any other bind
//! requires one, generated on first run and stored with mode 0600.
//!
//! A browser cannot set headers on a WebSocket, and a token in the URL ends up
//! in logs and history, so a WebSocket may carry it as a subprotocol instead:
//! `Sec-WebSocket-Protocol: digios, digios.bearer.<token>`. The server answers
//! with `digios`, never echoing the token.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, SEC_WEBSOCKET_PROTOCOL};

/// What the server demands of a caller; `None` admits everyone.
#[derive(Clone, Default)]
pub struct Auth {
    token: Option<Arc<str>>,
}

impl Auth {
    pub fn open() -> Self {
        Self { token: None }
    }

    pub fn with_token(token: impl Into<Arc<str>>) -> Self {
        Self {
            token: Some(token.into()),
        }
    }

    pub fn requires_token(&self) -> bool {
        self.token.is_some()
    }

    /// Whether a request's headers carry the token, in `Authorization` or,
    /// for a WebSocket handshake, as a subprotocol.
    pub fn admits_request(&self, headers: &HeaderMap) -> bool {
        if self.token.is_none() {
            return true;
        }
        let header = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        self.admits(header)
            || subprotocol_token(headers).is_some_and(|token| self.admits_token(Some(token)))
    }

    fn admits(&self, header: Option<&str>) -> bool {
        self.admits_token(header.and_then(|h| h.strip_prefix("Bearer ")))
    }

    fn admits_token(&self, presented: Option<&str>) -> bool {
        let Some(expected) = &self.token else {
            return true;
        };
        presented.is_some_and(|p| constant_time_eq(p.trim().as_bytes(), expected.as_bytes()))
    }
}

/// The WebSocket subprotocol of digiOS's own clients, answered when offered.
pub const WS_PROTOCOL: &str = "digios";
/// A subprotocol value carrying the bearer token: `digios.bearer.<token>`.
pub const WS_BEARER_PREFIX: &str = "digios.bearer.";

/// The subprotocols a WebSocket handshake offers.
fn offered_protocols(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
}

fn subprotocol_token(headers: &HeaderMap) -> Option<&str> {
    offered_protocols(headers).find_map(|p| p.strip_prefix(WS_BEARER_PREFIX))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Reads the token at `path`, creating a fresh random one (mode 0600) if absent.
pub fn load_or_create_token(path: &Path) -> std::io::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_string()),
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let token: String = {
        use rand::Rng;
        let bytes: [u8; 32] = rand::rng().random();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    };
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(token.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn token_file_is_private_and_stable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api-token");
        let first = load_or_create_token(&path).unwrap();
        assert_eq!(first.len(), 64);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load_or_create_token(&path).unwrap(), first);
    }

    #[test]
    fn only_the_right_bearer_is_admitted() {
        let auth = Auth::with_token("s3cret");
        assert!(auth.admits(Some("Bearer s3cret")));
        assert!(!auth.admits(Some("Bearer s3cre")));
        assert!(!auth.admits(Some("s3cret")));
        assert!(!auth.admits(None));
        assert!(Auth::open().admits(None));
    }

    #[test]
    fn a_websocket_may_carry_the_token_as_a_subprotocol() {
        let auth = Auth::with_token("s3cret");
        let mut headers = HeaderMap::new();
        headers.insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static("digios, digios.bearer.s3cret"),
        );
        assert_eq!(subprotocol_token(&headers), Some("s3cret"));
        assert!(auth.admits_request(&headers));
        headers.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("digios"));
        assert!(!auth.admits_request(&headers));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer s3cret"));
        assert!(auth.admits_request(&headers));
    }
}
