//! Per-service logs: each line a service writes goes to the console and to
//! `<dir>/<service>.log`, which is rotated (one previous file kept) when it
//! passes its size limit.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone, Copy)]
pub enum Stream {
    Stdout,
    Stderr,
}

#[derive(Clone)]
pub struct LogSink {
    inner: Arc<Inner>,
}

struct Inner {
    dir: Option<PathBuf>,
    /// Prefix console lines with the service's name (under init, where every
    /// service shares one console). Hosted, lines pass through unchanged.
    prefix_console: bool,
    max_bytes: u64,
    files: Mutex<HashMap<String, Rotating>>,
}

struct Rotating {
    path: PathBuf,
    file: Option<File>,
    written: u64,
}

/// A log file past this size is rotated.
pub const DEFAULT_MAX_BYTES: u64 = 1024 * 1024;

impl LogSink {
    pub fn new(dir: Option<PathBuf>, prefix_console: bool) -> Self {
        if let Some(dir) = &dir
            && let Err(err) = std::fs::create_dir_all(dir)
        {
            tracing::warn!("cannot create the log directory {}: {err}", dir.display());
        }
        Self {
            inner: Arc::new(Inner {
                dir,
                prefix_console,
                max_bytes: DEFAULT_MAX_BYTES,
                files: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Copies `reader`'s lines into the logs on a thread of its own, until EOF.
    pub fn follow(&self, service: &str, reader: impl Read + Send + 'static, stream: Stream) {
        let sink = self.clone();
        let name = service.to_string();
        let spawned = std::thread::Builder::new()
            .name(format!("log-{service}"))
            .spawn(move || {
                for line in BufReader::new(reader).split(b'\n').map_while(Result::ok) {
                    sink.line(&name, stream, &String::from_utf8_lossy(&line));
                }
            });
        if let Err(err) = spawned {
            tracing::error!("cannot follow {service}'s output: {err}");
        }
    }

    fn line(&self, service: &str, stream: Stream, line: &str) {
        let console = if self.inner.prefix_console {
            format!("{service:>10} | {line}\n")
        } else {
            format!("{line}\n")
        };
        let _ = match stream {
            Stream::Stdout => std::io::stdout().lock().write_all(console.as_bytes()),
            Stream::Stderr => std::io::stderr().lock().write_all(console.as_bytes()),
        };
        let Some(dir) = &self.inner.dir else {
            return;
        };
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        let text = format!("{stamp:.3} {line}\n");
        let mut files = self.inner.files.lock().unwrap_or_else(|e| e.into_inner());
        let log = files
            .entry(service.to_string())
            .or_insert_with(|| Rotating::open(dir.join(format!("{service}.log"))));
        log.append(text.as_bytes(), self.inner.max_bytes);
    }
}

impl Rotating {
    fn open(path: PathBuf) -> Self {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .ok();
        let written = file
            .as_ref()
            .and_then(|f| f.metadata().ok())
            .map_or(0, |m| m.len());
        Self {
            path,
            file,
            written,
        }
    }

    fn append(&mut self, bytes: &[u8], max_bytes: u64) {
        if self.written + bytes.len() as u64 > max_bytes {
            let mut previous = self.path.clone().into_os_string();
            previous.push(".1");
            let _ = std::fs::rename(&self.path, previous);
            *self = Self::open(self.path.clone());
        }
        if let Some(file) = self.file.as_mut()
            && file.write_all(bytes).is_ok()
        {
            self.written += bytes.len() as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_log_is_rotated_keeping_one_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let sink = LogSink::new(Some(dir.path().to_path_buf()), false);
        let line = "x".repeat(1000);
        for _ in 0..1100 {
            sink.line("svc", Stream::Stdout, &line);
        }
        let current = std::fs::metadata(dir.path().join("svc.log")).unwrap().len();
        let previous = std::fs::metadata(dir.path().join("svc.log.1"))
            .unwrap()
            .len();
        assert!(current <= DEFAULT_MAX_BYTES && previous <= DEFAULT_MAX_BYTES);
        assert!(current + previous > DEFAULT_MAX_BYTES);
    }
}
