//! Who may talk to the API from a browser. A page on any site can make the
//! browser open a WebSocket or send a simple POST to 127.0.0.1, and browsers
//! apply no CORS to WebSockets, so the door itself checks, for every request
//! and every handshake:
//!
//! - `Origin`: browsers send it on every cross-origin request, every POST and
//!   every WebSocket handshake. Only the console's own origin and the
//!   configured ones pass; a request without one (curl, `digios ctl`) does.
//! - `Host`: a rebound DNS name reaches 127.0.0.1 with its own name in `Host`,
//!   so only loopback names, the bind address and configured hosts pass.
//! - A state-changing body must be JSON, which a page can only send after a
//!   CORS preflight; the routes that take other bodies by design are read
//!   from the OpenAPI document.

use std::net::{IpAddr, SocketAddr};

use axum::body::HttpBody;
use axum::extract::Request;
use axum::http::header::{CONTENT_TYPE, HOST, ORIGIN};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};

use crate::api::ApiConfig;
use crate::api::error::{ApiError, ErrorCode};

/// A web origin, normalized: lowercase, the port always spelled out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebOrigin {
    scheme: String,
    host: String,
    port: u16,
}

impl WebOrigin {
    /// Parses `scheme://host[:port]` (http or https, no path), as browsers
    /// send it and as `allowed_origins` lists it.
    pub fn parse(text: &str) -> Option<Self> {
        let (scheme, rest) = text.split_once("://")?;
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let authority: Authority = rest.parse().ok()?;
        if authority.as_str() != rest || rest.contains('@') || authority.host().is_empty() {
            return None;
        }
        Some(Self {
            scheme,
            host: authority.host().to_ascii_lowercase(),
            port: authority.port_u16().unwrap_or(default_port),
        })
    }

    fn http(host: &str, port: u16) -> Self {
        Self {
            scheme: "http".into(),
            host: host.to_ascii_lowercase(),
            port,
        }
    }
}

/// A `Host` value, or an `allowed_hosts` entry: a name or address and,
/// optionally, a port.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HostName {
    host: String,
    port: Option<u16>,
}

impl HostName {
    fn parse(text: &str) -> Option<Self> {
        let authority: Authority = text.trim().parse().ok()?;
        if text.contains('@') || authority.host().is_empty() {
            return None;
        }
        Some(Self {
            host: authority.host().to_ascii_lowercase(),
            port: authority.port_u16(),
        })
    }

    /// The address it names literally (brackets stripped), if any.
    fn ip(&self) -> Option<IpAddr> {
        let bare = self.host.trim_start_matches('[').trim_end_matches(']');
        bare.parse().ok()
    }

    fn is_loopback(&self) -> bool {
        self.host == "localhost" || self.ip().is_some_and(|ip| ip.is_loopback())
    }

    /// Whether this `allowed_hosts` entry admits `host`.
    fn admits(&self, host: &HostName) -> bool {
        self.host == host.host && self.port.is_none_or(|port| host.port == Some(port))
    }
}

/// Checks `allowed_origins` entries: `*` or `http(s)://host[:port]`.
pub fn valid_origin(entry: &str) -> bool {
    entry == "*" || WebOrigin::parse(entry).is_some()
}

/// Checks `allowed_hosts` entries: a name or address, with or without port.
pub fn valid_host(entry: &str) -> bool {
    HostName::parse(entry).is_some()
}

/// One route template (`/api/skills/{name}`) of a given method.
#[derive(Debug, Clone)]
struct RouteTemplate {
    method: Method,
    segments: Vec<String>,
}

impl RouteTemplate {
    fn matches(&self, method: &Method, path: &str) -> bool {
        let mut parts = path.split('/');
        *method == self.method
            && self.segments.iter().all(|segment| {
                parts.next().is_some_and(|part| {
                    part == segment || (segment.starts_with('{') && !part.is_empty())
                })
            })
            && parts.next().is_none()
    }
}

/// The Origin, Host and body rules of one server.
#[derive(Debug, Clone)]
pub struct Guard {
    any_origin: bool,
    origins: Vec<WebOrigin>,
    hosts: Vec<HostName>,
    bind: IpAddr,
    /// Routes whose OpenAPI request body is not JSON (WAV uploads).
    raw_body_routes: Vec<RouteTemplate>,
}

impl Guard {
    /// The rules of `config`; `openapi` names the routes that take non-JSON
    /// bodies. The console's own origins follow from the port in
    /// [`Guard::serving_on`].
    pub fn new(config: &ApiConfig, openapi: &Value) -> Self {
        let listed = config.allowed_origins.iter().chain(&config.cors_origins);
        let mut guard = Self {
            any_origin: false,
            origins: Vec::new(),
            hosts: config
                .allowed_hosts
                .iter()
                .filter_map(|h| HostName::parse(h))
                .collect(),
            bind: config.bind.ip(),
            raw_body_routes: raw_body_routes(openapi),
        };
        for entry in listed {
            match entry.as_str() {
                "*" => guard.any_origin = true,
                _ => guard.origins.extend(WebOrigin::parse(entry)),
            }
        }
        guard.serving_on(config.bind)
    }

    /// Adds the console's own origins for the address actually listened on
    /// (a configured port 0 becomes a real one only then).
    pub fn serving_on(mut self, local: SocketAddr) -> Self {
        let port = local.port();
        for host in ["127.0.0.1", "localhost", "[::1]"] {
            self.origins.push(WebOrigin::http(host, port));
        }
        let ip = local.ip();
        if !ip.is_loopback() && !ip.is_unspecified() {
            let host = match ip {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            };
            self.origins.push(WebOrigin::http(&host, port));
        }
        self
    }

    /// Whether `request` may go on; `has_token` tells whether it carries a
    /// valid bearer token (asked only on all-interface binds).
    pub fn check(
        &self,
        request: &Request,
        has_token: impl FnOnce() -> bool,
    ) -> Result<(), ApiError> {
        let host = self.check_host(request, has_token)?;
        self.check_origin(request.headers(), host.as_ref())?;
        self.check_body(request)
    }

    /// The request's host, once admitted; `None` when it names none.
    fn check_host(
        &self,
        request: &Request,
        has_token: impl FnOnce() -> bool,
    ) -> Result<Option<HostName>, ApiError> {
        // HTTP/2 carries the host in the URI instead of the header.
        let text = match request.headers().get(HOST) {
            Some(value) => value.to_str().ok(),
            None => match request.uri().authority() {
                Some(authority) => Some(authority.as_str()),
                None => return Ok(None),
            },
        };
        let host = text.and_then(HostName::parse);
        let admitted = host.as_ref().is_some_and(|host| {
            host.is_loopback()
                || (!self.bind.is_unspecified() && host.ip() == Some(self.bind))
                || self.hosts.iter().any(|allowed| allowed.admits(host))
                // A client holding the token chose to connect by this name.
                || (self.bind.is_unspecified() && has_token())
        });
        if !admitted {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::ForbiddenHost,
                "this server does not answer to that Host; add it to [api] allowed_hosts",
            )
            .with_details(json!({"host": text})));
        }
        Ok(host)
    }

    fn check_origin(&self, headers: &HeaderMap, host: Option<&HostName>) -> Result<(), ApiError> {
        let mut values = headers.get_all(ORIGIN).iter();
        let Some(value) = values.next() else {
            return Ok(());
        };
        let text = value.to_str().ok();
        let origin = text
            .filter(|_| values.next().is_none())
            .and_then(WebOrigin::parse);
        let admitted = origin.as_ref().is_some_and(|origin| {
            self.any_origin
                || self.origins.contains(origin)
                // The console loaded by the (admitted) name this request uses.
                || host.is_some_and(|host| {
                    origin.scheme == "http"
                        && origin.host == host.host
                        && origin.port == host.port.unwrap_or(80)
                })
        });
        if admitted {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::ForbiddenOrigin,
            "requests from this web origin are refused; add it to [api] allowed_origins to trust it",
        )
        .with_details(json!({"origin": text})))
    }

    /// A state-changing body must be JSON, except on routes made for another type.
    fn check_body(&self, request: &Request) -> Result<(), ApiError> {
        let method = request.method();
        let changes_state =
            [Method::POST, Method::PUT, Method::DELETE, Method::PATCH].contains(method);
        let body = request.body();
        let empty = body.is_end_stream() || body.size_hint().exact() == Some(0);
        if !changes_state || empty || is_json(request.headers()) {
            return Ok(());
        }
        let path = request.uri().path();
        if self
            .raw_body_routes
            .iter()
            .any(|route| route.matches(method, path))
        {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "send the body as JSON (Content-Type: application/json)",
        ))
    }
}

/// `application/json` or any `+json` type, parameters aside.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        || essence
            .rsplit_once('+')
            .is_some_and(|(kind, suffix)| kind.contains('/') && suffix.eq_ignore_ascii_case("json"))
}

/// The operations of `openapi` whose request body has a non-JSON media type.
fn raw_body_routes(openapi: &Value) -> Vec<RouteTemplate> {
    let Some(paths) = openapi["paths"].as_object() else {
        return Vec::new();
    };
    let mut routes = Vec::new();
    for (path, operations) in paths {
        let Some(operations) = operations.as_object() else {
            continue;
        };
        for (method, operation) in operations {
            let Ok(method) = method.to_ascii_uppercase().parse::<Method>() else {
                continue;
            };
            let Some(content) = operation["requestBody"]["content"].as_object() else {
                continue;
            };
            let raw = content.keys().any(|media| {
                let mut headers = HeaderMap::new();
                headers.insert(CONTENT_TYPE, media.parse().expect("a media type"));
                !is_json(&headers)
            });
            if raw {
                routes.push(RouteTemplate {
                    method,
                    segments: path.split('/').map(str::to_string).collect(),
                });
            }
        }
    }
    routes
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn config(bind: &str) -> ApiConfig {
        ApiConfig {
            bind: bind.parse().unwrap(),
            ..ApiConfig::default()
        }
    }

    fn openapi() -> Value {
        json!({"paths": {
            "/api/voice/transcribe": {"post": {"requestBody": {"content": {"audio/wav": {}}}}},
            "/api/action": {"post": {"requestBody": {"content": {"application/json": {}}}}},
            "/api/skills/{name}/call": {"post": {"requestBody": {"content": {"application/json": {}}}}},
        }})
    }

    fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Request {
        let mut builder = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::from(body.to_string())).unwrap()
    }

    fn code(result: Result<(), ApiError>) -> Option<&'static str> {
        result.err().map(|err| err.code)
    }

    #[test]
    fn only_the_consoles_own_and_listed_origins_pass() {
        let mut config = config("127.0.0.1:0");
        config.allowed_origins = vec!["https://console.example".into()];
        let guard = Guard::new(&config, &openapi()).serving_on("127.0.0.1:8765".parse().unwrap());
        let get = |origin: &str| {
            code(guard.check(
                &request(
                    "GET",
                    "/api/status",
                    &[("host", "127.0.0.1:8765"), ("origin", origin)],
                    "",
                ),
                || false,
            ))
        };
        for own in [
            "http://127.0.0.1:8765",
            "http://localhost:8765",
            "http://[::1]:8765",
            "HTTPS://Console.Example:443",
        ] {
            assert_eq!(get(own), None, "{own}");
        }
        for foreign in [
            "https://evil.example",
            "null",
            "http://127.0.0.1:8766",
            "https://127.0.0.1:8765",
            "http://127.0.0.1:8765/",
            "file://",
        ] {
            assert_eq!(get(foreign), Some("forbidden_origin"), "{foreign}");
        }
        let none = request("POST", "/api/action", &[("host", "localhost")], "");
        assert_eq!(code(guard.check(&none, || false)), None);
    }

    #[test]
    fn cors_origins_count_and_a_star_admits_any() {
        let mut config = config("127.0.0.1:8765");
        config.cors_origins = vec!["http://dev.example:3000".into()];
        let guard = Guard::new(&config, &openapi());
        let from = |guard: &Guard, origin: &str| {
            code(guard.check(
                &request(
                    "GET",
                    "/",
                    &[("host", "localhost:8765"), ("origin", origin)],
                    "",
                ),
                || false,
            ))
        };
        assert_eq!(from(&guard, "http://dev.example:3000"), None);
        assert_eq!(from(&guard, "http://dev.example"), Some("forbidden_origin"));
        config.cors_origins = vec!["*".into()];
        let guard = Guard::new(&config, &openapi());
        assert_eq!(from(&guard, "https://anything.example"), None);
        assert_eq!(from(&guard, "null"), Some("forbidden_origin"));
    }

    #[test]
    fn a_foreign_host_is_refused_unless_listed() {
        let mut config = config("127.0.0.1:8765");
        config.allowed_hosts = vec!["digios.lan".into(), "box.lan:9000".into()];
        let guard = Guard::new(&config, &openapi());
        let host = |host: &str| {
            code(guard.check(
                &request("GET", "/api/status", &[("host", host)], ""),
                || true,
            ))
        };
        for ok in [
            "localhost",
            "localhost:8765",
            "127.0.0.1:1",
            "[::1]:8765",
            "DIGIOS.lan:80",
            "box.lan:9000",
        ] {
            assert_eq!(host(ok), None, "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8765",
            "box.lan",
            "box.lan:9001",
            "localhost.evil.example",
            "a@localhost",
        ] {
            assert_eq!(host(bad), Some("forbidden_host"), "{bad}");
        }
        // No Host at all is not a browser.
        let bare = request("GET", "/api/status", &[], "");
        assert_eq!(code(guard.check(&bare, || false)), None);
    }

    #[test]
    fn all_interface_binds_admit_any_host_with_a_token() {
        let guard = Guard::new(&config("0.0.0.0:8765"), &openapi());
        let lan = request("GET", "/api/status", &[("host", "192.168.1.5:8765")], "");
        assert_eq!(code(guard.check(&lan, || true)), None);
        assert_eq!(code(guard.check(&lan, || false)), Some("forbidden_host"));
        let local = request("GET", "/", &[("host", "127.0.0.1:8765")], "");
        assert_eq!(code(guard.check(&local, || false)), None);
        // The console it served by that name may call it.
        let console = request(
            "POST",
            "/api/action",
            &[
                ("host", "192.168.1.5:8765"),
                ("origin", "http://192.168.1.5:8765"),
            ],
            "",
        );
        assert_eq!(code(guard.check(&console, || true)), None);
        let bound = Guard::new(&config("192.168.1.5:8765"), &openapi());
        assert_eq!(code(bound.check(&console, || false)), None);
    }

    #[test]
    fn state_changing_bodies_must_be_json_except_on_raw_routes() {
        let guard = Guard::new(&config("127.0.0.1:8765"), &openapi());
        let post = |path: &str, content_type: Option<&str>, body: &str| {
            let mut headers = vec![("host", "127.0.0.1:8765")];
            headers.extend(content_type.map(|t| ("content-type", t)));
            code(guard.check(&request("POST", path, &headers, body), || false))
        };
        assert_eq!(
            post("/api/action", Some("text/plain"), "{}"),
            Some("unsupported_media_type")
        );
        assert_eq!(
            post("/api/action", None, "{}"),
            Some("unsupported_media_type")
        );
        assert_eq!(
            post(
                "/api/action",
                Some("application/x-www-form-urlencoded"),
                "a=b"
            ),
            Some("unsupported_media_type")
        );
        assert_eq!(
            post("/api/action", Some("application/json; charset=utf-8"), "{}"),
            None
        );
        assert_eq!(
            post(
                "/api/skills/x/call",
                Some("application/merge-patch+json"),
                "{}"
            ),
            None
        );
        assert_eq!(
            post("/api/skills/x/call", Some("text/plain"), "{}"),
            Some("unsupported_media_type")
        );
        assert_eq!(
            post("/api/voice/transcribe", Some("audio/wav"), "RIFF"),
            None
        );
        assert_eq!(
            post("/api/voice/transcribe/x", Some("audio/wav"), "RIFF"),
            Some("unsupported_media_type")
        );
        // No body: nothing to decode, whatever the type says.
        assert_eq!(post("/api/improve/cycles", Some("text/plain"), ""), None);
        let get = request("GET", "/api/status", &[("content-type", "text/plain")], "x");
        assert_eq!(code(guard.check(&get, || false)), None);
    }

    #[test]
    fn config_entries_are_checked() {
        assert!(valid_origin("*"));
        assert!(valid_origin("https://console.example"));
        assert!(valid_origin("http://[::1]:8765"));
        assert!(!valid_origin("console.example"));
        assert!(!valid_origin("https://console.example/"));
        assert!(!valid_origin("ftp://console.example"));
        assert!(valid_host("digios.lan"));
        assert!(valid_host("10.0.0.2:8765"));
        assert!(!valid_host("http://digios.lan"));
        assert!(!valid_host(""));
    }
}
