//! The web console: static files from `agent/web/`, embedded at build time,
//! served at `/` (the page) and `/web/{file}` (its modules and styles). They
//! sit outside auth: the page itself holds nothing secret and shows a login
//! form when the API answers 401.

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::error::ApiError;

/// Every file of `agent/web/`, by name.
static FILES: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// What the page may load and talk to: only this server.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src 'self' ws: wss:; \
     img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self'; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

struct Asset {
    bytes: &'static [u8],
    etag: HeaderValue,
    content_type: &'static str,
}

fn assets() -> &'static HashMap<&'static str, Asset> {
    static ASSETS: OnceLock<HashMap<&'static str, Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        FILES
            .iter()
            .map(|&(name, bytes)| {
                let etag = format!("\"{:016x}\"", fnv1a(bytes));
                let asset = Asset {
                    bytes,
                    etag: HeaderValue::from_str(&etag).expect("hex is a valid header"),
                    content_type: content_type(name),
                };
                (name, asset)
            })
            .collect()
    })
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// The console's page and assets, served to anyone who can reach the port:
/// they hold no data, and the page asks for the token before it calls the API.
pub fn is_public(path: &str) -> bool {
    path == "/" || path.starts_with("/web/")
}

pub fn routes() -> Router {
    Router::new()
        .route("/", get(index))
        .route("/web/{file}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    serve(&file, &headers)
}

fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some(asset) = assets().get(name) else {
        return ApiError::not_found(format!("the web console has no file {name:?}"))
            .into_response();
    };
    // Revalidated every time, so a new digiOS build is picked up at once;
    // an unchanged file costs a 304.
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tag| tag == asset.etag)
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, asset.content_type)], asset.bytes).into_response()
    };
    let out = response.headers_mut();
    out.insert(header::ETAG, asset.etag.clone());
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    out.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_modules_are_embedded_with_their_types() {
        let assets = assets();
        assert_eq!(
            assets["index.html"].content_type,
            "text/html; charset=utf-8"
        );
        assert_eq!(
            assets["app.js"].content_type,
            "text/javascript; charset=utf-8"
        );
        assert!(assets.contains_key("style.css"));
    }
}
