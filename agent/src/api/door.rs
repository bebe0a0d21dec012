//! The API's front door. Each accepted connection gets its own [`Door`]:
//! the request's Origin and Host ([`guard`]), the bearer token and the
//! connection's rate limit are checked there, before a request reaches the
//! router, instead of in a middleware stack that would box a future and
//! clone the route for every request. WebSocket handshakes are requests
//! like any other, so they pass the same checks.

pub mod guard;

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::future::RouteFuture;
use axum::serve::IncomingStream;
use futures_util::future::{Either, Ready, ready};
use tokio::net::TcpListener;
use tower::{Layer, Service};
use tower_http::cors::{Cors, CorsLayer};

use super::auth::Auth;
use super::error::ApiError;
use super::rate_limit::{Bucket, RateLimit};
use guard::Guard;

/// What a handler may know of the connection its request came on.
#[derive(Debug)]
pub struct Connection {
    /// Requests and WebSocket commands of this connection draw from it.
    pub bucket: Bucket,
}

/// Makes a [`Door`] for every accepted connection.
#[derive(Clone)]
pub struct Doors {
    router: Router,
    auth: Auth,
    guard: Arc<Guard>,
    limit: RateLimit,
    cors: Option<CorsLayer>,
}

impl Doors {
    pub fn new(
        router: Router,
        auth: Auth,
        guard: Guard,
        limit: RateLimit,
        cors: Option<CorsLayer>,
    ) -> Self {
        Self {
            router,
            auth,
            guard: Arc::new(guard),
            limit,
            cors,
        }
    }
}

impl Service<IncomingStream<'_, TcpListener>> for Doors {
    /// CORS wraps the door: a browser's preflight carries no token.
    type Response = tower::util::Either<Cors<Door>, Door>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: IncomingStream<'_, TcpListener>) -> Self::Future {
        let door = Door {
            router: self.router.clone(),
            auth: self.auth.clone(),
            guard: self.guard.clone(),
            connection: Arc::new(Connection {
                bucket: self.limit.bucket(),
            }),
        };
        ready(Ok(match &self.cors {
            Some(cors) => tower::util::Either::Left(cors.layer(door)),
            None => tower::util::Either::Right(door),
        }))
    }
}

/// One connection's way in.
#[derive(Clone)]
pub struct Door {
    router: Router,
    auth: Auth,
    guard: Arc<Guard>,
    connection: Arc<Connection>,
}

impl Service<Request> for Door {
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, RouteFuture<Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        // Before anything else, the console's page included: a foreign page
        // or a rebound name gets nothing.
        let auth = &self.auth;
        let checked = self.guard.check(&request, || {
            auth.requires_token() && auth.admits_request(request.headers())
        });
        if let Err(refusal) = checked {
            return Either::Left(ready(Ok(refusal.into_response())));
        }
        // The console's page and assets load before the user has given it
        // a token; everything they do afterwards goes through the checks.
        if !super::web::is_public(request.uri().path()) {
            if !self.auth.admits_request(request.headers()) {
                return Either::Left(ready(Ok(ApiError::unauthorized().into_response())));
            }
            if !self.connection.bucket.admit() {
                return Either::Left(ready(Ok(rate_limited().into_response())));
            }
        }
        request.extensions_mut().insert(self.connection.clone());
        Either::Right(self.router.call(request))
    }
}

pub fn rate_limited() -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
        "too many requests on this connection; slow down",
    )
}
