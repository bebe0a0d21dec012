// digiOS live screen: a dependency-free ES module that shows the desktop on a
// <canvas> from the agent's `GET /api/screen/ws`.
//
// Protocol (version 1)
// --------------------
// Connect: `ws[s]://HOST/api/screen/ws?fps=30&in_flight=2&reticle=false&marks=false`
//   fps        most frames per second, 1..60 (default 30)
//   in_flight  frames sent but not yet acknowledged at once, 1..8 (default 2)
//   reticle    draw the pointer's reticle and coordinates into the frames
//   marks      draw a numbered box around every window
// Out-of-range or unknown parameters: HTTP 422 / 400 with the API's error JSON.
// Auth: offer the subprotocol `digios` (the server selects it); with a token,
// also offer `digios.bearer.<TOKEN>` (never put the token in the URL). Non-browser
// clients may send `Authorization: Bearer <TOKEN>` instead.
//
// Server -> client
//   text   {"type":"hello","protocol":1,"encoding":"rgba+zlib","fps","in_flight","reticle","marks"}
//   text   {"type":"error","error":{"code","message"}}; codes: `bad_message`
//          (malformed JSON, unknown type, binary), `unknown_frame` (ack of a
//          frame not in flight), `unavailable` (compositor unreachable; frames
//          resume, starting full, once it answers), `message_too_large` (then
//          close 1009). The socket stays open after every error but the last.
//   binary a frame, little-endian:
//            0  u8   kind = 1
//            1  u8   flags: bit 0 = full (resize the canvas to the frame's
//                    screen size; the rectangles cover all of it)
//            2  u16  rectangle count N
//            4  u32  frame number (1, 2, ...)
//            8  u16  screen width, 10 u16 screen height (logical pixels)
//           12  N times: u16 x, u16 y, u16 width, u16 height
//         12+8N  one zlib stream (RFC 1950; DecompressionStream("deflate"))
//                    of every rectangle's pixels in order: straight RGBA,
//                    rows top to bottom, width*height*4 bytes each
//          Rectangles are relative to the screen's top-left corner. The first
//          frame on every connection is full. (Raw RGBA under zlib beat a PNG
//          per rectangle on size and encoding time: `cargo xtask bench web`.)
//
// Client -> server (text, at most 4096 bytes)
//   {"type":"ack","frame":N}  acknowledges every frame up to N, once drawn.
//
// Flow control: the server sends a frame only when the screen changed, no
// faster than `fps`, and never with more than `in_flight` frames
// unacknowledged. Meanwhile changes coalesce on the server, so the next frame
// carries all of them; a page that stops acknowledging receives nothing more
// and costs the desktop nothing.
//
// Use:
//   import { ScreenStream } from "./screen.js";
//   const stream = new ScreenStream(canvas, { token, reticle: true });
//   stream.addEventListener("status", (e) => console.log(e.detail));
//   stream.start();   ...   stream.stop();
// Events: "status" {state: "connecting"|"live"|"offline", error?},
//         "hello" (the server's hello), "frame" {number, full, rects, bytes},
//         "error" {code, message}.
// Canvas pixels are screen logical pixels, so a click at canvas (x, y) is a
// click at screen (x, y) (scale by canvas.width / clientWidth for CSS size).
// The stream shows the first output, whose top-left corner is (0, 0).
//
// For the console's desktop view ({canvas, setState(text), setArea(rect)}):
//   const stream = attachScreen(view);  ...  stream.stop();
// It reads the token the console keeps in localStorage at every (re)connect.

const FRAME_KIND = 1;
const FLAG_FULL = 1;

export class ScreenStream extends EventTarget {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {{url?: string, token?: string|null|(() => string|null), fps?: number, inFlight?: number,
   *          reticle?: boolean, marks?: boolean,
   *          minBackoffMs?: number, maxBackoffMs?: number}} options
   */
  constructor(canvas, options = {}) {
    super();
    this.canvas = canvas;
    this.context = canvas.getContext("2d");
    this.options = {
      url: null,
      token: null,
      fps: 30,
      inFlight: 2,
      reticle: false,
      marks: false,
      minBackoffMs: 250,
      maxBackoffMs: 8000,
      ...options,
    };
    this.socket = null;
    this.running = false;
    this.backoff = this.options.minBackoffMs;
    this.retryTimer = null;
    // Frames are drawn strictly in order; decoding is asynchronous.
    this.drawing = Promise.resolve();
    this.screen = { width: 0, height: 0 };
    this.framesDrawn = 0;
  }

  start() {
    if (this.running) return;
    this.running = true;
    this.connect();
  }

  stop() {
    this.running = false;
    clearTimeout(this.retryTimer);
    if (this.socket) this.socket.close(1000);
    this.socket = null;
  }

  /** Changes options (fps, reticle, marks, token, ...) and reconnects. */
  reconfigure(changes) {
    Object.assign(this.options, changes);
    if (this.socket) this.socket.close(1000);
  }

  url() {
    if (this.options.url) return this.options.url;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const query = new URLSearchParams({
      fps: String(this.options.fps),
      in_flight: String(this.options.inFlight),
      reticle: String(!!this.options.reticle),
      marks: String(!!this.options.marks),
    });
    return `${scheme}//${location.host}/api/screen/ws?${query}`;
  }

  connect() {
    const protocols = ["digios"];
    const token = typeof this.options.token === "function" ? this.options.token() : this.options.token;
    if (token) protocols.push(`digios.bearer.${token}`);
    this.status("connecting");
    let socket;
    try {
      socket = new WebSocket(this.url(), protocols);
    } catch (error) {
      this.scheduleReconnect(String(error));
      return;
    }
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    this.drawing = Promise.resolve();
    socket.onopen = () => {
      this.backoff = this.options.minBackoffMs;
      this.status("live");
    };
    socket.onmessage = (event) => {
      if (typeof event.data === "string") {
        this.onText(event.data);
      } else {
        const data = event.data;
        this.drawing = this.drawing
          .then(() => this.drawFrame(data, socket))
          .catch((error) => this.emit("error", { code: "decode_failed", message: String(error) }));
      }
    };
    socket.onclose = (event) => {
      if (this.socket === socket) this.socket = null;
      this.scheduleReconnect(event.reason || `closed (${event.code})`);
    };
  }

  scheduleReconnect(reason) {
    this.status("offline", reason);
    if (!this.running) return;
    clearTimeout(this.retryTimer);
    const wait = this.backoff * (0.75 + Math.random() * 0.5);
    this.backoff = Math.min(this.backoff * 2, this.options.maxBackoffMs);
    this.retryTimer = setTimeout(() => {
      if (this.running && !this.socket) this.connect();
    }, wait);
  }

  onText(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message.type === "error") this.emit("error", message.error);
    if (message.type === "hello") this.emit("hello", message);
  }

  async drawFrame(buffer, socket) {
    const view = new DataView(buffer);
    if (view.byteLength < 12 || view.getUint8(0) !== FRAME_KIND) {
      throw new Error("not a screen frame");
    }
    const full = (view.getUint8(1) & FLAG_FULL) !== 0;
    const count = view.getUint16(2, true);
    const number = view.getUint32(4, true);
    const width = view.getUint16(8, true);
    const height = view.getUint16(10, true);
    const rects = [];
    let total = 0;
    for (let i = 0; i < count; i++) {
      const at = 12 + i * 8;
      if (at + 8 > view.byteLength) throw new Error("truncated screen frame");
      const rect = {
        x: view.getUint16(at, true),
        y: view.getUint16(at + 2, true),
        width: view.getUint16(at + 4, true),
        height: view.getUint16(at + 6, true),
      };
      total += rect.width * rect.height * 4;
      rects.push(rect);
    }
    const compressed = new Blob([new Uint8Array(buffer, 12 + count * 8)]);
    const inflated = compressed.stream().pipeThrough(new DecompressionStream("deflate"));
    const pixels = new Uint8ClampedArray(await new Response(inflated).arrayBuffer());
    if (pixels.length !== total) throw new Error("screen frame pixels do not match its rectangles");
    // A frame of a socket since replaced must not paint over the new one's.
    if (socket !== this.socket) return;
    if (full && (this.canvas.width !== width || this.canvas.height !== height)) {
      this.canvas.width = width;
      this.canvas.height = height;
    }
    this.screen = { width, height };
    let offset = 0;
    for (const rect of rects) {
      const size = rect.width * rect.height * 4;
      if (size > 0) {
        const image = new ImageData(pixels.subarray(offset, offset + size), rect.width, rect.height);
        this.context.putImageData(image, rect.x, rect.y);
      }
      offset += size;
    }
    this.framesDrawn++;
    // Acknowledge only on the socket the frame came from.
    if (socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "ack", frame: number }));
    }
    this.emit("frame", { number, full, rects, bytes: buffer.byteLength });
  }

  status(state, error) {
    this.state = state;
    this.emit("status", error ? { state, error } : { state });
  }

  emit(name, detail) {
    this.dispatchEvent(new CustomEvent(name, { detail }));
  }
}

/** Where the console keeps the API token. */
const TOKEN_KEY = "digios.api-token";

/**
 * Streams into the console's desktop view: `view.canvas` is drawn, the
 * state goes to `view.setState(text)`, the shown rectangle to
 * `view.setArea({x, y, width, height})`, and `canvas.dataset.frames` counts
 * frames drawn. Returns the started stream.
 */
export function attachScreen(view, options = {}) {
  const stream = new ScreenStream(view.canvas, {
    token: () => {
      try {
        return localStorage.getItem(TOKEN_KEY);
      } catch {
        return null;
      }
    },
    ...options,
  });
  stream.addEventListener("status", (event) => {
    const { state, error } = event.detail;
    view.setState?.(error && state !== "live" ? `${state}: ${error}` : state);
  });
  stream.addEventListener("frame", (event) => {
    const { width, height } = stream.screen;
    const area = view.area;
    if (event.detail.full && (!area || area.x !== 0 || area.y !== 0 || area.width !== width || area.height !== height)) {
      view.setArea?.({ x: 0, y: 0, width, height });
    }
    const canvas = view.canvas;
    canvas.dataset.frames = String(Number(canvas.dataset.frames ?? 0) + 1);
  });
  stream.addEventListener("error", (event) => view.setState?.(`stream error: ${event.detail.code}`));
  stream.start();
  return stream;
}
