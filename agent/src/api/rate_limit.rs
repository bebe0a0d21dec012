//! A token bucket per connection, so one runaway client cannot starve the rest.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

#[derive(Clone)]
pub struct RateLimiter {
    inner: Arc<Mutex<HashMap<SocketAddr, Bucket>>>,
    per_second: f64,
    burst: f64,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Past this many tracked connections, idle buckets are dropped.
const MAX_TRACKED: usize = 4096;

impl RateLimiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            inner: Arc::default(),
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
        }
    }

    fn admit(&self, peer: SocketAddr) -> bool {
        let now = Instant::now();
        let mut buckets = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > MAX_TRACKED {
            let burst = self.burst;
            let rate = self.per_second;
            buckets
                .retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * rate < burst);
        }
        let bucket = buckets.entry(peer).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        let refill = now.duration_since(bucket.last).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

pub async fn limit(State(limiter): State<RateLimiter>, request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr);
    match peer {
        Some(peer) if !limiter.admit(peer) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many requests on this connection; slow down",
        )
        .into_response(),
        _ => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_admitted_then_refused() {
        let limiter = RateLimiter::new(1, 3);
        let peer: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert!((0..3).all(|_| limiter.admit(peer)));
        assert!(!limiter.admit(peer));
        let other: SocketAddr = "127.0.0.1:4001".parse().unwrap();
        assert!(limiter.admit(other));
    }
}
