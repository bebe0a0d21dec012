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
  constructor({ services, model, models, plot, caption, cycle, onStatus }) {
    this.servicesEl = services;
    this.cycle = cycle;
    this.cycle?.stop.addEventListener('click', () => this.stopCycle());
    this.modelEl = model;
    this.modelsEl = models;
    this.plot = plot;
    this.caption = caption;
    this.onStatus = onStatus;
    // model id → its row
    this.rows = new Map();
  }

  async refresh() {
    await Promise.all([
      this.refreshStatus(), this.refreshModel(), this.refreshModels(), this.refreshEval(), this.refreshCycle(),
    ]);
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

  // The latest improvement cycle; while one runs, a button stops it.
  async refreshCycle() {
    if (!this.cycle) return;
    let cycles;
    try {
      cycles = await api('/api/improve/cycles?limit=1');
    } catch (err) {
      this.renderCycle(null, err.status === 503 ? 'this digiOS does not improve itself' : null);
      return;
    }
    this.renderCycle(cycles?.[0] ?? null, null);
  }

  renderCycle(cycle, why) {
    const { node, text, stop } = this.cycle;
    node.dataset.state = cycle?.state ?? 'none';
    node.dataset.cycle = cycle ? String(cycle.id) : '';
    stop.hidden = cycle?.state !== 'running';
    stop.disabled = false;
    if (!cycle) {
      text.textContent = why ?? 'no improvement cycles yet';
    } else if (cycle.state === 'running') {
      const targets = cycle.targets?.length ? ` on ${cycle.targets.join(', ')}` : '';
      text.textContent = `improvement cycle ${cycle.id} running${targets}`;
    } else {
      text.textContent = `last improvement cycle ${cycle.id}: ${cycle.state}${cycle.reason ? ` (${cycle.reason})` : ''}`;
    }
  }

  async stopCycle() {
    const id = this.cycle.node.dataset.cycle;
    if (!id) return;
    this.cycle.stop.disabled = true;
    try {
      this.renderCycle(await api(`/api/improve/cycles/${id}/cancel`, { method: 'POST', body: {} }), null);
    } catch {
      await this.refreshCycle();
    }
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

  // The manifest's models, each with its state and, while missing, a
  // download button; a pull's progress arrives on `downloads`.
  async refreshModels() {
    let models;
    try {
      models = await api('/api/models');
    } catch {
      return;
    }
    for (const model of models) {
      const row = this.row(model.id);
      row.state = model.state;
      row.pulling = model.pulling;
      this.renderRow(row);
    }
  }

  row(id) {
    let row = this.rows.get(id);
    if (!row) {
      const node = document.createElement('li');
      node.dataset.model = id;
      const label = document.createElement('span');
      label.className = 'label';
      const pull = document.createElement('button');
      pull.type = 'button';
      pull.className = 'pull';
      pull.textContent = 'Download';
      const bar = document.createElement('progress');
      node.append(label, pull, bar);
      row = { id, node, label, pull, bar, state: 'missing', pulling: false, progress: '' };
      pull.addEventListener('click', () => this.pull(row));
      this.modelsEl.append(node);
      this.rows.set(id, row);
    }
    return row;
  }

  renderRow(row) {
    row.node.dataset.state = row.pulling ? 'pulling' : row.state;
    row.label.textContent = `${row.id}: ${row.pulling ? row.progress || 'starting download' : row.state}`;
    row.pull.hidden = row.pulling || !(row.state === 'missing' || row.state.startsWith('failed'));
    row.bar.hidden = !row.pulling;
  }

  async pull(row) {
    row.pulling = true;
    row.progress = '';
    this.renderRow(row);
    try {
      await api(`/api/models/${encodeURIComponent(row.id)}/pull`, { method: 'POST' });
    } catch (err) {
      row.pulling = err.code === 'conflict';
      row.progress = err.message;
      row.label.textContent = `${row.id}: ${err.message}`;
    }
  }

  onDownload(event) {
    const data = event.data ?? {};
    if (!data.model) return;
    const row = this.row(data.model);
    switch (event.kind) {
      case 'download_started':
      case 'download_progress': {
        const done = data.downloaded ?? data.offset ?? 0;
        if (data.total) {
          row.bar.max = data.total;
          row.bar.value = done;
        } else row.bar.removeAttribute('value');
        row.pulling = true;
        row.progress = `${(done / 1e6).toFixed(1)}${data.total ? ` of ${(data.total / 1e6).toFixed(1)}` : ''} MB`;
        break;
      }
      case 'pull_finished':
        row.pulling = false;
        row.state = data.status?.state ?? 'present';
        this.refreshModel();
        break;
      case 'pull_failed':
        row.pulling = false;
        row.state = `failed: ${data.error}`;
        break;
      default:
        row.pulling = true;
        row.progress = event.kind.replaceAll('_', ' ');
        break;
    }
    this.renderRow(row);
  }

  onService() {
    this.refreshStatus();
  }
}
