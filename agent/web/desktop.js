// The desktop pane: the live picture on a canvas, pointer and keys from the
// page injected through the API, and optional overlays: the reticle (drawn
// into the frames by the server) and the numbered marks of a screen analysis.

import { api } from './api.js';
import { attachScreen } from './screen.js';

const SVG = 'http://www.w3.org/2000/svg';

// Browser key names → XKB keysym names the API takes.
const KEYSYMS = {
  Enter: 'Return', Backspace: 'BackSpace', Tab: 'Tab', Escape: 'Escape', Delete: 'Delete',
  Insert: 'Insert', Home: 'Home', End: 'End', PageUp: 'Prior', PageDown: 'Next',
  ArrowLeft: 'Left', ArrowRight: 'Right', ArrowUp: 'Up', ArrowDown: 'Down',
  ' ': 'space', CapsLock: 'Caps_Lock', ContextMenu: 'Menu', PrintScreen: 'Print',
};
const MODIFIER_KEYS = new Set(['Control', 'Alt', 'Shift', 'Meta', 'AltGraph', 'OS', 'Super', 'Hyper']);
const BUTTONS = ['left', 'middle', 'right'];
// A press that moves less than this (CSS pixels) is a click, not a drag.
const DRAG_THRESHOLD = 5;
// Wheel delta (pixels) per scroll step.
const WHEEL_STEP = 100;

export function keysymOf(key) {
  if (KEYSYMS[key]) return KEYSYMS[key];
  if (/^F\d{1,2}$/.test(key)) return key;
  if ([...key].length === 1) return key.toLowerCase();
  return null;
}

// What a keydown means: text to type, a chord to press, or nothing.
export function inputForKey(event) {
  if (MODIFIER_KEYS.has(event.key) || event.isComposing) return null;
  const chorded = event.ctrlKey || event.altKey || event.metaKey;
  if (!chorded && [...event.key].length === 1) return { text: event.key };
  const name = keysymOf(event.key);
  if (!name) return null;
  const parts = [];
  if (event.ctrlKey) parts.push('ctrl');
  if (event.altKey) parts.push('alt');
  if (event.shiftKey && chorded) parts.push('shift');
  if (event.shiftKey && !chorded && name.length > 1) parts.push('shift');
  if (event.metaKey) parts.push('super');
  parts.push(name);
  return { keys: parts.join('+') };
}

// Input requests run one at a time, in order; pointer moves coalesce (only
// the latest waits) and typed characters join the text still waiting.
class InputQueue {
  constructor(send, onError) {
    this.send = send;
    this.onError = onError;
    this.queue = [];
    this.running = false;
    // The latest requests and how they ended, for a person debugging.
    this.log = [];
  }

  push(path, body) {
    const last = this.queue[this.queue.length - 1];
    if (last && last.path === path && path === '/api/input/pointer') last.body = body;
    else if (last && last.path === path && path === '/api/input/text') last.body.text += body.text;
    else this.queue.push({ path, body });
    this.run();
  }

  async run() {
    if (this.running) return;
    this.running = true;
    while (this.queue.length) {
      const { path, body } = this.queue.shift();
      const entry = { path, body, result: 'pending' };
      this.log.push(entry);
      if (this.log.length > 50) this.log.shift();
      try {
        await this.send('POST', path, body);
        entry.result = 'ok';
        this.onError(null);
      } catch (err) {
        entry.result = err.code;
        this.onError(err);
      }
    }
    this.running = false;
  }

  get idle() {
    return !this.running && this.queue.length === 0;
  }
}

export class DesktopView {
  constructor({ canvas, overlay, stateEl, errorEl, marksToggle, reticleToggle, socket }) {
    this.canvas = canvas;
    this.overlay = overlay;
    this.stateEl = stateEl;
    this.errorEl = errorEl;
    this.marksToggle = marksToggle;
    this.reticleToggle = reticleToggle;
    this.socket = socket;
    // The logical rectangle of the desktop the canvas shows.
    this.area = { x: 0, y: 0, width: 0, height: 0 };
    this.marks = [];
    this.input = new InputQueue((m, p, b) => socket.request(m, p, b), (err) => this.showError(err));
    this.bindInput();
    marksToggle.addEventListener('change', () => this.refreshMarks());
    window.digiosConsole = Object.assign(window.digiosConsole ?? {}, { desktop: this });
  }

  setState(text) {
    this.stateEl.textContent = text;
  }

  showError(err) {
    this.errorEl.textContent = err ? `${err.code}: ${err.message}` : '';
    this.errorEl.dataset.code = err ? err.code : '';
  }

  // Called by a picture source when the shown rectangle changes.
  setArea(area) {
    this.area = area;
    this.canvas.dataset.area = `${area.x},${area.y},${area.width},${area.height}`;
    this.overlay.setAttribute('viewBox', `${area.x} ${area.y} ${area.width} ${area.height}`);
    this.drawOverlay();
  }

  start() {
    this.stream = startPicture(this);
  }

  // Page coordinates → the desktop's logical coordinates.
  toDesktop(event) {
    const rect = this.canvas.getBoundingClientRect();
    const fx = (event.clientX - rect.left) / rect.width;
    const fy = (event.clientY - rect.top) / rect.height;
    const clamp = (v) => Math.min(Math.max(v, 0), 1);
    return {
      x: Math.round(this.area.x + clamp(fx) * this.area.width),
      y: Math.round(this.area.y + clamp(fy) * this.area.height),
    };
  }

  bindInput() {
    const canvas = this.canvas;
    let press = null;
    canvas.addEventListener('contextmenu', (e) => e.preventDefault());
    canvas.addEventListener('pointerdown', (e) => {
      e.preventDefault();
      press = { client: [e.clientX, e.clientY], at: this.toDesktop(e), button: BUTTONS[e.button] ?? 'left' };
      // Scrolling the canvas into view now would shift it under the pointer.
      canvas.focus({ preventScroll: true });
      canvas.setPointerCapture(e.pointerId);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (!this.area.width) return;
      if (!press) this.input.push('/api/input/pointer', this.toDesktop(e));
    });
    canvas.addEventListener('pointerup', (e) => {
      if (!press || !this.area.width) return;
      const at = this.toDesktop(e);
      const moved = Math.hypot(e.clientX - press.client[0], e.clientY - press.client[1]);
      if (moved < DRAG_THRESHOLD) {
        this.input.push('/api/input/click', { x: press.at.x, y: press.at.y, button: press.button });
      } else {
        this.input.push('/api/input/drag', {
          from_x: press.at.x, from_y: press.at.y, to_x: at.x, to_y: at.y, button: press.button,
        });
      }
      press = null;
    });
    canvas.addEventListener('pointercancel', () => { press = null; });
    let wheel = 0;
    canvas.addEventListener('wheel', (e) => {
      e.preventDefault();
      const unit = e.deltaMode === 1 ? 40 : e.deltaMode === 2 ? 800 : 1;
      wheel += e.deltaY * unit;
      const steps = Math.trunc(wheel / WHEEL_STEP);
      if (!steps) return;
      wheel -= steps * WHEEL_STEP;
      this.input.push('/api/input/scroll', { ...this.toDesktop(e), dx: 0, dy: steps });
    }, { passive: false });
    canvas.addEventListener('keydown', (e) => {
      const input = inputForKey(e);
      if (!input) return;
      e.preventDefault();
      if (input.text !== undefined) this.input.push('/api/input/text', { text: input.text });
      else this.input.push('/api/input/key', { keys: input.keys });
    });
    // Pasted text is typed.
    canvas.addEventListener('paste', (e) => {
      const text = e.clipboardData?.getData('text/plain');
      if (text) this.input.push('/api/input/text', { text });
    });
  }

  get inputIdle() {
    return this.input.idle;
  }

  async refreshMarks() {
    if (!this.marksToggle.checked) {
      this.marks = [];
      this.drawOverlay();
      return;
    }
    try {
      const analysis = await api('/api/vision/analyze');
      this.marks = analysis.marks ?? [];
    } catch (err) {
      this.marks = [];
      this.showError(err);
    }
    this.drawOverlay();
  }

  // Screen changes arrive on `vision` and `windows`; marks follow them.
  onScreenChanged() {
    if (!this.marksToggle.checked) return;
    clearTimeout(this.marksTimer);
    this.marksTimer = setTimeout(() => this.refreshMarks(), 300);
  }

  drawOverlay() {
    const svg = this.overlay;
    svg.replaceChildren();
    for (const mark of this.marks) {
      const { x, y, width, height } = mark.bbox;
      const rect = document.createElementNS(SVG, 'rect');
      rect.setAttribute('x', x); rect.setAttribute('y', y);
      rect.setAttribute('width', width); rect.setAttribute('height', height);
      const label = document.createElementNS(SVG, 'text');
      label.setAttribute('x', x + 2); label.setAttribute('y', y + 12);
      label.textContent = String(mark.number);
      const title = document.createElementNS(SVG, 'title');
      title.textContent = `${mark.number}: ${mark.kind} ${mark.label}`;
      rect.append(title);
      svg.append(rect, label);
    }
  }
}

// The picture: `screen.js`'s live stream of `/api/screen/ws`, which draws
// damaged rectangles straight onto the canvas and reports the screen's size.
function startPicture(view) {
  const stream = attachScreen(view, { reticle: view.reticleToggle.checked });
  view.reticleToggle.addEventListener('change', () => stream.reconfigure({ reticle: view.reticleToggle.checked }));
  return stream;
}
