//! A token bucket per connection, so one runaway client cannot starve the
//! rest. Each accepted connection owns its bucket; HTTP requests and
//! WebSocket commands on that connection draw from it.

use std::sync::Mutex;
use std::time::Instant;

/// The configured rate: tokens per second and the bucket's size.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    per_second: f64,
    burst: f64,
}

impl RateLimit {
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
        }
    }

    /// A full bucket for a new connection.
    pub fn bucket(self) -> Bucket {
        Bucket {
            limit: self,
            state: Mutex::new(Tokens {
                tokens: self.burst,
                last: Instant::now(),
            }),
        }
    }
}

/// One connection's bucket. Only its own connection touches it, so its lock
/// is never contended.
#[derive(Debug)]
pub struct Bucket {
    limit: RateLimit,
    state: Mutex<Tokens>,
}

#[derive(Debug)]
struct Tokens {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// Takes a token if there is one.
    pub fn admit(&self) -> bool {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let refill = now.duration_since(state.last).as_secs_f64() * self.limit.per_second;
        state.tokens = (state.tokens + refill).min(self.limit.burst);
        state.last = now;
        if state.tokens >= 1.0 {
            state.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_admitted_then_refused() {
        let limit = RateLimit::new(1, 3);
        let bucket = limit.bucket();
        assert!((0..3).all(|_| bucket.admit()));
        assert!(!bucket.admit());
        let other = limit.bucket();
        assert!(other.admit());
    }
}
