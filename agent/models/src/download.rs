//! HTTP downloads that survive interruptions: stream to a `.part` file, resume
//! with a Range request, retry with exponential backoff.

use std::error::Error as _;
use std::io::SeekFrom;
use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, RANGE};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::error::StoreError;
use super::progress::{ProgressFn, PullEvent};

/// How hard a download tries before giving up on a mirror.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Consecutive failed attempts (without new bytes) before the mirror is given up.
    pub attempts: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// A connection that delivers nothing for this long is dropped and retried.
    pub stall_timeout: Duration,
    pub connect_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            stall_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(20),
        }
    }
}

pub(crate) struct Downloader {
    client: reqwest::Client,
    policy: RetryPolicy,
}

/// Whether one attempt ended the download or should be retried.
type Attempt = Result<u64, StoreError>;

/// Reason text with the whole cause chain: reqwest's own message is terse.
fn describe(err: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut cause = err.source();
    while let Some(inner) = cause {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    if text.is_empty() {
        err.to_string()
    } else {
        text
    }
}

fn request_error(url: &str, err: reqwest::Error) -> StoreError {
    if err.is_builder() {
        return StoreError::Unsupported(format!("invalid URL {url}: {}", describe(&err)));
    }
    if err.is_connect() {
        let reason = describe(&err);
        if reason.contains("certificate") {
            return StoreError::Tls {
                url: url.into(),
                reason,
            };
        }
        return StoreError::Unreachable {
            url: url.into(),
            reason,
        };
    }
    StoreError::Interrupted {
        url: url.into(),
        reason: describe(&err),
    }
}

/// Parses `bytes START-END/TOTAL` (TOTAL may be `*`).
fn parse_content_range(value: &str) -> Option<(u64, u64, Option<u64>)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let start = start.trim().parse().ok()?;
    let end = end.trim().parse().ok()?;
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    (start <= end).then_some((start, end, total))
}

impl Downloader {
    pub fn new(policy: RetryPolicy) -> Result<Self, StoreError> {
        let client = reqwest::Client::builder()
            .connect_timeout(policy.connect_timeout)
            .user_agent(concat!("digios/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| StoreError::Unsupported(format!("HTTP client: {}", describe(&e))))?;
        Ok(Self { client, policy })
    }

    /// Downloads `url` into `part`, resuming what is already there. Returns the
    /// final length. `expected` is the size when known.
    pub async fn fetch(
        &self,
        url: &str,
        expected: Option<u64>,
        part: &Path,
        progress: ProgressFn<'_>,
    ) -> Result<u64, StoreError> {
        let mut failures = 0u32;
        let mut delay = self.policy.initial_backoff;
        loop {
            let before = current_len(part).await;
            let error = match self.attempt(url, expected, part, progress).await {
                Ok(length) => return Ok(length),
                Err(err) if !err.is_transient() => return Err(err),
                Err(err) => err,
            };
            if current_len(part).await > before {
                // Progress was made: this is a fresh run of bad luck, not the same wall again.
                failures = 0;
                delay = self.policy.initial_backoff;
            }
            failures += 1;
            if failures >= self.policy.attempts {
                return Err(error);
            }
            tracing::debug!("retrying {url} in {delay:?}: {error}");
            progress(PullEvent::Retrying {
                url: url.into(),
                attempt: failures,
                delay,
                error: error.to_string(),
            });
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(self.policy.max_backoff);
        }
    }

    async fn attempt(
        &self,
        url: &str,
        expected: Option<u64>,
        part: &Path,
        progress: ProgressFn<'_>,
    ) -> Attempt {
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(part)
            .await
            .map_err(|e| StoreError::io(part, e))?;
        let mut offset = file
            .metadata()
            .await
            .map_err(|e| StoreError::io(part, e))?
            .len();
        if let Some(size) = expected {
            if offset == size {
                return Ok(size);
            }
            if offset > size {
                offset = truncate(&mut file, part).await?;
            }
        }

        let mut request = self.client.get(url);
        if offset > 0 {
            request = request.header(RANGE, format!("bytes={offset}-"));
        }
        let response = request.send().await.map_err(|e| request_error(url, e))?;
        let status = response.status();
        let mut total = expected;
        match status {
            StatusCode::PARTIAL_CONTENT if offset > 0 => {
                let range = response
                    .headers()
                    .get(CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_content_range);
                let valid = range.is_some_and(|(start, _, whole)| {
                    start == offset && (expected.is_none() || whole.is_none() || whole == expected)
                });
                if !valid {
                    truncate(&mut file, part).await?;
                    return Err(StoreError::Interrupted {
                        url: url.into(),
                        reason: format!(
                            "resume at byte {offset} answered with a mismatched Content-Range; restarting from zero"
                        ),
                    });
                }
                if let Some((_, _, Some(whole))) = range {
                    total = Some(whole);
                }
            }
            StatusCode::OK => {
                if offset > 0 {
                    // The server ignored the Range header: start over.
                    offset = truncate(&mut file, part).await?;
                }
                if let Some(length) = response.content_length() {
                    match expected {
                        Some(size) if size != length => {
                            return Err(StoreError::SizeMismatch {
                                what: url.into(),
                                expected: size,
                                actual: length,
                            });
                        }
                        _ => total = Some(length),
                    }
                }
            }
            StatusCode::RANGE_NOT_SATISFIABLE => {
                truncate(&mut file, part).await?;
                return Err(StoreError::Interrupted {
                    url: url.into(),
                    reason: format!("the server cannot resume at byte {offset}; restarting"),
                });
            }
            StatusCode::NOT_FOUND | StatusCode::GONE => {
                return Err(StoreError::NotFound { url: url.into() });
            }
            other => {
                return Err(StoreError::Http {
                    url: url.into(),
                    status: other.as_u16(),
                });
            }
        }

        progress(PullEvent::DownloadStarted {
            url: url.into(),
            offset,
            total,
        });
        file.seek(SeekFrom::Start(offset))
            .await
            .map_err(|e| StoreError::io(part, e))?;
        let mut written = offset;
        let report_every = total.map_or(1 << 20, |t| (t / 200).max(256 << 10));
        let mut last_report = written;
        let mut body = response.bytes_stream();
        let outcome = loop {
            let next = match tokio::time::timeout(self.policy.stall_timeout, body.next()).await {
                Ok(next) => next,
                Err(_) => {
                    break Err(StoreError::Interrupted {
                        url: url.into(),
                        reason: format!("no data for {:?}", self.policy.stall_timeout),
                    });
                }
            };
            let chunk = match next {
                None => break Ok(()),
                Some(Ok(chunk)) => chunk,
                Some(Err(err)) => {
                    break Err(StoreError::Interrupted {
                        url: url.into(),
                        reason: describe(&err),
                    });
                }
            };
            let after = written + chunk.len() as u64;
            if let Some(size) = total
                && after > size
            {
                break Err(StoreError::SizeMismatch {
                    what: url.into(),
                    expected: size,
                    actual: after,
                });
            }
            if let Err(e) = file.write_all(&chunk).await {
                break Err(StoreError::io(part, e));
            }
            written = after;
            if written - last_report >= report_every {
                last_report = written;
                progress(PullEvent::DownloadProgress {
                    url: url.into(),
                    downloaded: written,
                    total,
                });
            }
        };
        // Keep what arrived, even after an error: the next attempt resumes from it.
        let flushed = async {
            file.flush().await?;
            file.sync_data().await
        }
        .await;
        if let Err(err @ StoreError::SizeMismatch { .. }) = outcome {
            let _ = tokio::fs::remove_file(part).await;
            return Err(err);
        }
        outcome?;
        flushed.map_err(|e| StoreError::io(part, e))?;
        if let Some(size) = total
            && written < size
        {
            return Err(StoreError::Interrupted {
                url: url.into(),
                reason: format!("connection closed after {written} of {size} bytes"),
            });
        }
        progress(PullEvent::DownloadProgress {
            url: url.into(),
            downloaded: written,
            total,
        });
        progress(PullEvent::DownloadFinished {
            url: url.into(),
            bytes: written,
        });
        Ok(written)
    }
}

async fn current_len(path: &Path) -> u64 {
    tokio::fs::metadata(path)
        .await
        .map(|m| m.len())
        .unwrap_or(0)
}

async fn truncate(file: &mut tokio::fs::File, path: &Path) -> Result<u64, StoreError> {
    file.set_len(0).await.map_err(|e| StoreError::io(path, e))?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::parse_content_range;

    #[test]
    fn content_range_forms() {
        assert_eq!(
            parse_content_range("bytes 10-19/20"),
            Some((10, 19, Some(20)))
        );
        assert_eq!(parse_content_range("bytes 0-9/*"), Some((0, 9, None)));
        assert_eq!(parse_content_range("bytes 9-3/20"), None);
        assert_eq!(parse_content_range("items 0-9/20"), None);
        assert_eq!(parse_content_range("bytes x-9/20"), None);
    }
}
