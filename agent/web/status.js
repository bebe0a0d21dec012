// Status: services, the model, downloads and the evaluator's scores.

import { api } from './api.js';

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag, attributes, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

export class StatusPane {
  constructor({ services, model, downloads, plot, caption, onStatus }) {
    this.servicesEl = services;
    this.modelEl = model;
    this.downloadsEl = downloads;
    this.plot = plot;
    this.caption = caption;
    this.onStatus = onStatus;
    // url or model → { label, downloaded, total, node }
    this.downloads = new Map();
  }

  async refresh() {
    await Promise.all([this.refreshStatus(), this.refreshModel(), this.refreshEval()]);
  }

  async refreshStatus() {
    try {
      const status = await api('/api/status');
      this.renderServices(status.services ?? []);
      this.onStatus(status);
    } catch { /* the socket's state says why */ }
  }

  renderServices(services) {
    this.servicesEl.replaceChildren(...services.map((s) => {
      const item = document.createElement('li');
      item.dataset.state = s.state;
      item.dataset.service = s.name;
      item.textContent = `${s.name}: ${s.state}${s.detail ? ` (${s.detail})` : ''}`;
      return item;
    }));
  }

  async refreshModel() {
    let text;
    try {
      const models = await api('/v1/models');
      text = (models.data ?? []).map((m) => m.id).join(', ') || 'none loaded';
    } catch (err) {
      text = `none loaded: ${err.message}`;
    }
    this.modelEl.textContent = text;
  }

  // `GET /api/eval/runs`, newest first; plotted oldest to newest.
  async refreshEval() {
    let runs;
    try {
      runs = await api('/api/eval/runs?limit=50');
    } catch (err) {
      this.renderEval([], err.status === 404 ? 'this digiOS has no evaluator' : `evaluator: ${err.message}`);
      return;
    }
    const finished = (runs ?? []).filter((r) => r.finished_at_ms != null && Number.isFinite(r.success_rate));
    this.renderEval(finished.reverse(), null);
  }

  renderEval(runs, why) {
    const plot = this.plot;
    plot.replaceChildren();
    const [w, h, left, bottom, top] = [240, 90, 22, 78, 6];
    for (const rate of [0, 0.5, 1]) {
      const y = bottom - rate * (bottom - top);
      plot.append(svg('line', { x1: left, y1: y, x2: w - 4, y2: y }),
        svg('text', { x: 2, y: y + 3 }, `${rate * 100}%`));
    }
    if (!runs.length) {
      this.caption.textContent = why ?? 'no evaluator runs yet';
      plot.dataset.points = '0';
      return;
    }
    const span = Math.max(runs.length - 1, 1);
    const points = runs.map((run, i) => {
      const x = left + (i / span) * (w - 4 - left);
      const y = bottom - run.success_rate * (bottom - top);
      return [x, y, run];
    });
    plot.append(svg('polyline', { points: points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ') }));
    for (const [x, y, run] of points) {
      const dot = svg('circle', { cx: x.toFixed(1), cy: y.toFixed(1), r: 2 });
      dot.append(svg('title', {}, `${new Date(run.started_at_ms).toLocaleString()}: ${(run.success_rate * 100).toFixed(0)}% (${run.model ?? 'model?'}, skills ${run.skills_version ?? '?'})`));
      plot.append(dot);
    }
    plot.dataset.points = String(points.length);
    const last = runs[runs.length - 1];
    this.caption.textContent = `latest ${(last.success_rate * 100).toFixed(0)}% of ${last.tasks?.length ?? '?'} tasks, ${runs.length} runs`;
  }

  onDownload(event) {
    const data = event.data ?? {};
    const key = data.model ?? 'model';
    let entry = this.downloads.get(key);
    if (!entry) {
      const node = document.createElement('li');
      node.append(document.createElement('span'), document.createElement('progress'));
      this.downloadsEl.append(node);
      entry = { node };
      this.downloads.set(key, entry);
    }
    const [label, bar] = entry.node.children;
    switch (event.kind) {
      case 'download_progress':
      case 'download_started': {
        const done = data.downloaded ?? data.offset ?? 0;
        if (data.total) { bar.max = data.total; bar.value = done; } else bar.removeAttribute('value');
        label.textContent = `${key}: ${(done / 1e6).toFixed(1)}${data.total ? ` / ${(data.total / 1e6).toFixed(1)}` : ''} MB`;
        break;
      }
      case 'pull_finished':
        label.textContent = `${key}: ${data.downloaded ? 'downloaded' : 'already present'}`;
        bar.max = 1; bar.value = 1;
        this.refreshModel();
        break;
      case 'pull_failed':
        label.textContent = `${key}: failed: ${data.error}`;
        bar.remove();
        break;
      default:
        label.textContent = `${key}: ${event.kind.replaceAll('_', ' ')}`;
        break;
    }
  }

  onService() {
    this.refreshStatus();
  }
}
