// The console's client of the public API: fetch with the bearer token, and
// one `/api/ws` connection that carries events and requests and comes back
// after the agent restarts.

const TOKEN_KEY = 'digios.api-token';

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

export const auth = {
  get token() { return localStorage.getItem(TOKEN_KEY); },
  set token(value) {
    if (value) localStorage.setItem(TOKEN_KEY, value);
    else localStorage.removeItem(TOKEN_KEY);
  },
  // Called with no arguments whenever the API answers 401.
  onUnauthorized: () => {},
};

function headers(extra = {}) {
  const out = { ...extra };
  if (auth.token) out.Authorization = `Bearer ${auth.token}`;
  return out;
}

async function errorOf(response) {
  let body = null;
  try { body = await response.json(); } catch { /* not JSON */ }
  const error = body && body.error;
  return new ApiError(response.status, error?.code ?? `http_${response.status}`,
    error?.message ?? response.statusText, error?.details);
}

// Calls the API; resolves to the parsed JSON body (or the Response when
// `raw`), rejects with an ApiError carrying the API's error code.
export async function api(path, { method = 'GET', body, raw = false, contentType } = {}) {
  const init = { method, headers: headers() };
  if (body !== undefined) {
    if (body instanceof Blob || body instanceof ArrayBuffer) {
      init.body = body;
      init.headers['Content-Type'] = contentType ?? 'application/octet-stream';
    } else {
      init.body = JSON.stringify(body);
      init.headers['Content-Type'] = 'application/json';
    }
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, 'unreachable', `digiOS is not answering (${err.message})`);
  }
  if (response.status === 401) auth.onUnauthorized();
  if (!response.ok) throw await errorOf(response);
  if (raw) return response;
  const type = response.headers.get('content-type') ?? '';
  return type.startsWith('application/json') ? response.json() : null;
}

// WebSocket subprotocols: `digios`, which the server answers, and the token,
// which never appears in a URL.
export function socketProtocols() {
  return auth.token ? ['digios', `digios.bearer.${auth.token}`] : ['digios'];
}

export function socketUrl(path) {
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${path}`;
}

// `/api/ws`: subscribes to `topics` on every (re)connection, calls
// `onEvent(event)` per event and `onState(state, detail)` as the link comes
// and goes; `request()` sends a REST call over the socket (falling back to
// fetch while it is down). Reconnects with backoff, 250 ms doubling to 8 s.
export class EventSocket {
  constructor(topics, { onEvent, onState, onConnect, onProtocolError }) {
    this.topics = topics;
    this.onEvent = onEvent;
    this.onState = onState;
    this.onConnect = onConnect;
    this.onProtocolError = onProtocolError ?? (() => {});
    this.pending = new Map();
    this.nextId = 1;
    this.backoff = 250;
    this.attempt = 0;
    this.socket = null;
    this.timer = null;
    this.stopped = false;
    // How many times the socket has opened.
    this.connections = 0;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.close(1000);
  }

  connect() {
    clearTimeout(this.timer);
    this.onState(this.attempt ? 'reconnecting' : 'connecting', `attempt ${this.attempt + 1}`);
    let socket;
    try {
      socket = new WebSocket(socketUrl('/api/ws'), socketProtocols());
    } catch (err) {
      this.retry(err.message);
      return;
    }
    this.socket = socket;
    socket.onopen = () => {
      this.connections += 1;
      this.backoff = 250;
      this.attempt = 0;
      socket.send(JSON.stringify({ type: 'subscribe', topics: this.topics }));
      this.onState('online', '');
      this.onConnect();
    };
    socket.onmessage = (message) => this.receive(message.data);
    socket.onclose = (close) => {
      if (this.socket !== socket) return;
      this.socket = null;
      for (const [, waiter] of this.pending) {
        waiter.reject(new ApiError(0, 'disconnected', 'the connection to digiOS dropped'));
      }
      this.pending.clear();
      if (!this.stopped) this.retry(close.reason || `closed (${close.code})`);
    };
  }

  retry(why) {
    this.attempt += 1;
    const delay = this.backoff;
    this.backoff = Math.min(this.backoff * 2, 8000);
    this.onState('reconnecting', `${why}; again in ${(delay / 1000).toFixed(1)} s`);
    // A refused handshake looks like any other drop; ask over HTTP whether
    // the token is the reason.
    api('/api/status').catch(() => {});
    this.timer = setTimeout(() => this.connect(), delay);
  }

  receive(text) {
    let message;
    try { message = JSON.parse(text); } catch { return; }
    switch (message.type) {
      case 'event':
        this.onEvent(message);
        break;
      case 'reply': {
        const waiter = this.pending.get(message.id);
        if (!waiter) break;
        this.pending.delete(message.id);
        if (message.ok) waiter.resolve(message.body);
        else {
          const error = message.body?.error ?? {};
          waiter.reject(new ApiError(message.status, error.code ?? `http_${message.status}`,
            error.message ?? 'request failed', error.details));
        }
        break;
      }
      case 'error': {
        const error = new ApiError(400, message.error?.code ?? 'bad_message', message.error?.message ?? 'error');
        const waiter = message.id != null && this.pending.get(message.id);
        if (waiter) {
          this.pending.delete(message.id);
          waiter.reject(error);
        } else this.onProtocolError(error);
        break;
      }
      case 'lagged':
        // Events were dropped: what is shown may be stale, so refresh it.
        this.onConnect();
        break;
      default:
        break;
    }
  }

  // A REST call over the socket: same routes, same errors.
  request(method, path, body) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) {
      return api(path, { method, body });
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ type: 'request', id, method, path, body }));
    });
  }

  // Sends raw text, for tests of the server's handling of bad messages.
  sendRaw(text) {
    this.socket?.send(text);
  }
}
