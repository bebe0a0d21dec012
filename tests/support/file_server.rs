//! A real HTTP/1.1 file server on 127.0.0.1 for download tests. It honours
//! `Range: bytes=N-` (and `N-M`), and can be told to cut the connection at
//! given offsets, to hold a response mid-body until released, or to ignore
//! Range. Every request is logged. Unknown paths get 404.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub path: String,
    /// The first byte asked for with a Range header, if any.
    pub range_start: Option<u64>,
    pub status: u16,
    /// Body bytes actually written to the socket.
    pub body_bytes: u64,
}

#[derive(Default)]
struct Route {
    body: Arc<Vec<u8>>,
    /// Absolute offsets at which a response is cut once each.
    cuts: BTreeSet<u64>,
    /// Absolute offset at which a response waits for `release`, once.
    hold_at: Option<u64>,
    ignore_range: bool,
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Route>,
    log: Vec<RequestRecord>,
}

pub struct FileServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    release: Arc<Notify>,
    held: Arc<Notify>,
    accept_loop: JoinHandle<()>,
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.accept_loop.abort();
    }
}

impl FileServer {
    /// Binds an ephemeral port on 127.0.0.1 and serves until dropped.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(State::default()));
        let release = Arc::new(Notify::new());
        let held = Arc::new(Notify::new());
        let accept_loop = {
            let (state, release, held) = (state.clone(), release.clone(), held.clone());
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let (state, release, held) = (state.clone(), release.clone(), held.clone());
                    tokio::spawn(async move {
                        let _ = serve_connection(stream, state, release, held).await;
                    });
                }
            })
        };
        Self {
            addr,
            state,
            release,
            held,
            accept_loop,
        }
    }

    /// The full URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn with_route(&self, path: &str, change: impl FnOnce(&mut Route)) {
        let mut state = self.state.lock().unwrap();
        change(state.routes.entry(path.to_string()).or_default());
    }

    pub fn serve(&self, path: &str, body: Vec<u8>) {
        self.with_route(path, |route| route.body = Arc::new(body));
    }

    /// Each response covering one of `offsets` stops there and closes the connection.
    pub fn cut_at(&self, path: &str, offsets: impl IntoIterator<Item = u64>) {
        self.with_route(path, |route| route.cuts.extend(offsets));
    }

    /// The next response reaching `offset` waits there until `release`.
    pub fn hold_at(&self, path: &str, offset: u64) {
        self.with_route(path, |route| route.hold_at = Some(offset));
    }

    /// Waits until a response is being held.
    pub async fn wait_until_held(&self) {
        self.held.notified().await;
    }

    pub fn release(&self) {
        self.release.notify_one();
    }

    pub fn ignore_range(&self, path: &str) {
        self.with_route(path, |route| route.ignore_range = true);
    }

    pub fn requests(&self, path: &str) -> Vec<RequestRecord> {
        let state = self.state.lock().unwrap();
        state
            .log
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    pub fn body_bytes_sent(&self, path: &str) -> u64 {
        self.requests(path).iter().map(|r| r.body_bytes).sum()
    }
}

struct Request {
    path: String,
    range: Option<(u64, Option<u64>)>,
}

async fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 || buffer.len() > 64 * 1024 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    }
    let text = String::from_utf8_lossy(&buffer);
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let _method = request_line.next()?;
    let path = request_line.next()?.to_string();
    let mut range = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("range") {
            let spec = value.trim().strip_prefix("bytes=")?;
            let (start, end) = spec.split_once('-')?;
            let end = if end.is_empty() {
                None
            } else {
                Some(end.parse().ok()?)
            };
            range = Some((start.parse().ok()?, end));
        }
    }
    Some(Request { path, range })
}

async fn serve_connection(
    mut stream: TcpStream,
    state: Arc<Mutex<State>>,
    release: Arc<Notify>,
    held: Arc<Notify>,
) -> std::io::Result<()> {
    let Some(request) = read_request(&mut stream).await else {
        return Ok(());
    };
    let route = {
        let state = state.lock().unwrap();
        state
            .routes
            .get(&request.path)
            .map(|r| (r.body.clone(), r.ignore_range))
    };
    let Some((body, ignore_range)) = route else {
        let record = RequestRecord {
            path: request.path.clone(),
            range_start: request.range.map(|r| r.0),
            status: 404,
            body_bytes: 0,
        };
        state.lock().unwrap().log.push(record);
        let message = b"not found\n";
        let head = format!(
            "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            message.len()
        );
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(message).await?;
        return stream.shutdown().await;
    };
    let total = body.len() as u64;
    let range = if ignore_range { None } else { request.range };
    let (status, start, end) = match range {
        Some((start, _)) if start >= total => {
            let head = format!(
                "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{total}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            state.lock().unwrap().log.push(RequestRecord {
                path: request.path.clone(),
                range_start: Some(start),
                status: 416,
                body_bytes: 0,
            });
            stream.write_all(head.as_bytes()).await?;
            return stream.shutdown().await;
        }
        Some((start, end)) => (206, start, end.map_or(total, |e| (e + 1).min(total))),
        None => (200, 0, total),
    };
    let mut head = if status == 206 {
        format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes {start}-{}/{total}\r\n",
            end - 1
        )
    } else {
        "HTTP/1.1 200 OK\r\n".to_string()
    };
    head.push_str(&format!(
        "Content-Length: {}\r\nAccept-Ranges: bytes\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        end - start
    ));
    stream.write_all(head.as_bytes()).await?;

    // Decide (and consume) this response's cut and hold up front.
    let (cut, hold) = {
        let mut state = state.lock().unwrap();
        let route = state.routes.get_mut(&request.path).expect("route exists");
        let cut = route.cuts.range(start + 1..end).next().copied();
        if let Some(offset) = cut {
            route.cuts.remove(&offset);
        }
        let hold = route.hold_at.filter(|h| (start..end).contains(h));
        if hold.is_some() {
            route.hold_at = None;
        }
        (cut, hold)
    };
    let stop = cut.unwrap_or(end);
    let mut position = start;
    let mut sent = 0u64;
    let result = async {
        if let Some(hold) = hold.filter(|h| *h < stop) {
            stream
                .write_all(&body[position as usize..hold as usize])
                .await?;
            sent += hold - position;
            position = hold;
            stream.flush().await?;
            held.notify_one();
            release.notified().await;
        }
        for piece in body[position as usize..stop as usize].chunks(64 * 1024) {
            stream.write_all(piece).await?;
            sent += piece.len() as u64;
        }
        stream.flush().await?;
        stream.shutdown().await
    }
    .await;
    state.lock().unwrap().log.push(RequestRecord {
        path: request.path.clone(),
        range_start: request.range.map(|r| r.0),
        status,
        body_bytes: sent,
    });
    result
}
