// Chat with the agent: goals become tasks; their steps, tokens,
// confirmations and results stream in on the `tasks` and `tokens` topics.

import { api } from './api.js';

const FINISHED = new Set(['succeeded', 'failed', 'cancelled', 'stopped', 'interrupted']);
// Characters of streamed model text kept per task.
const TOKEN_TAIL = 400;
// Characters of a step shown; the whole step is its tooltip.
const STEP_CHARS = 240;
// Finished tasks shown in the conversation when the page opens.
const RECENT_ON_OPEN = 5;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function describeStep(step) {
  const call = step.tool_call;
  const action = call ? `${call.action ?? call.action_type ?? call.name ?? 'action'} ${JSON.stringify(call.params ?? call.arguments ?? {})}` : '';
  const parts = [step.thought, action, step.observation].filter(Boolean);
  return `${step.outcome ?? ''} · ${parts.join(' — ')}`;
}

export class Chat {
  constructor({ list, form, input, history, socket, onSpoken }) {
    this.list = list;
    this.history = history;
    this.socket = socket;
    this.onSpoken = onSpoken ?? (() => {});
    // id → { view, node }
    this.tasks = new Map();
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const goal = input.value.trim();
      if (!goal) return;
      input.value = '';
      this.submit(goal);
    });
  }

  async submit(goal, { spoken = false } = {}) {
    try {
      const view = await this.socket.request('POST', '/api/tasks', { goal });
      const entry = this.upsert(view);
      entry.spoken = spoken;
      return view;
    } catch (err) {
      const note = element('li', 'task', `${goal}: ${err.code}: ${err.message}`);
      note.dataset.state = 'failed';
      this.list.append(note);
      note.scrollIntoView({ block: 'end' });
      return null;
    }
  }

  // Every (re)connection: the recent tasks, so nothing missed while offline
  // stays missing.
  async refresh() {
    let recent;
    try {
      recent = await api('/api/tasks?limit=20');
    } catch {
      return;
    }
    this.renderHistory(recent);
    // The first time, the last few tasks give the conversation its context.
    const first = !this.loaded;
    this.loaded = true;
    for (const [index, task] of recent.slice().reverse().entries()) {
      const lastFew = first && index >= recent.length - RECENT_ON_OPEN;
      if (lastFew || this.tasks.has(task.id) || !FINISHED.has(task.state)) {
        try {
          this.upsert(await api(`/api/tasks/${task.id}`));
        } catch { /* gone */ }
      }
    }
  }

  renderHistory(tasks) {
    this.history.replaceChildren(...tasks.map((task) => {
      const item = element('li');
      const open = element('button', '', `${task.goal} — ${task.state}`);
      open.type = 'button';
      open.addEventListener('click', async () => {
        try { this.upsert(await api(`/api/tasks/${task.id}`)).node.scrollIntoView(); } catch { /* gone */ }
      });
      item.append(open);
      return item;
    }));
  }

  onEvent(event) {
    const data = event.data ?? {};
    switch (event.kind) {
      case 'task_created':
      case 'task_state':
        this.upsert(data);
        break;
      case 'task_finished':
        this.upsert(data);
        this.finished(data);
        break;
      case 'step_finished': {
        const entry = this.tasks.get(data.task_id);
        if (!entry) break;
        const steps = entry.view.steps ?? [];
        if (!steps.some((s) => s.index === data.index)) steps.push(data);
        steps.sort((a, b) => a.index - b.index);
        this.upsert({ ...entry.view, steps });
        break;
      }
      case 'confirmation_requested': {
        const entry = this.tasks.get(data.task_id);
        if (entry) {
          this.upsert({ ...entry.view, state: 'awaiting_confirmation', pending_confirmation: data.pending_confirmation });
        } else {
          api(`/api/tasks/${data.task_id}`).then((view) => this.upsert(view), () => {});
        }
        break;
      }
      case 'token': {
        const entry = this.tasks.get(data.task_id);
        if (!entry) break;
        entry.tokens = (entry.tokens + (data.text ?? '')).slice(-TOKEN_TAIL);
        entry.node.querySelector('.tokens').textContent = entry.tokens;
        break;
      }
      default:
        break;
    }
  }

  finished(view) {
    const entry = this.tasks.get(view.id);
    if (entry?.spoken && view.result) this.onSpoken(view.result);
    this.refreshHistorySoon();
  }

  refreshHistorySoon() {
    clearTimeout(this.historyTimer);
    this.historyTimer = setTimeout(() => api('/api/tasks?limit=20').then((t) => this.renderHistory(t), () => {}), 200);
  }

  // Merges what is known of a task and redraws its card.
  upsert(view) {
    if (view == null || view.id == null) return null;
    let entry = this.tasks.get(view.id);
    if (!entry) {
      const node = element('li', 'task');
      node.dataset.taskId = view.id;
      node.append(element('span', 'state'), element('div', 'goal'), element('ol', 'steps'),
        element('div', 'tokens'), element('div', 'confirm-slot'), element('div', 'result'), element('div', 'actions'));
      entry = { view: {}, node, tokens: '', spoken: false };
      this.tasks.set(view.id, entry);
      this.list.append(node);
      this.refreshHistorySoon();
    }
    const merged = { ...entry.view, ...view };
    if (!view.steps) merged.steps = entry.view.steps;
    if (merged.state !== 'awaiting_confirmation') merged.pending_confirmation = null;
    entry.view = merged;
    this.render(entry);
    entry.node.scrollIntoView({ block: 'end' });
    return entry;
  }

  render(entry) {
    const { view, node } = entry;
    node.dataset.state = view.state;
    node.querySelector('.state').textContent = view.state.replaceAll('_', ' ');
    node.querySelector('.goal').textContent = view.goal;
    const steps = view.steps ?? [];
    node.querySelector('.steps').replaceChildren(...steps.map((step) => {
      const text = describeStep(step);
      const item = element('li', 'step', text.length > STEP_CHARS ? `${text.slice(0, STEP_CHARS)}…` : text);
      item.title = text;
      item.dataset.outcome = step.outcome ?? '';
      return item;
    }));
    node.querySelector('.result').textContent = view.result ?? '';
    const slot = node.querySelector('.confirm-slot');
    const pending = view.pending_confirmation;
    if (pending && view.state === 'awaiting_confirmation') {
      const box = element('div', 'confirm');
      box.append(element('div', '', `Allow ${pending.action_type} ${JSON.stringify(pending.params)}? (${pending.risk} risk: ${pending.reason})`));
      const buttons = element('div', 'buttons');
      for (const [label, approve] of [['Approve', true], ['Deny', false]]) {
        const button = element('button', approve ? 'approve' : 'deny', label);
        button.type = 'button';
        button.addEventListener('click', () => this.answer(view.id, approve, box));
        buttons.append(button);
      }
      box.append(buttons, element('p', 'error'));
      slot.replaceChildren(box);
    } else {
      slot.replaceChildren();
    }
    const actions = node.querySelector('.actions');
    if (!FINISHED.has(view.state)) {
      const cancel = element('button', 'cancel', 'Cancel');
      cancel.type = 'button';
      cancel.addEventListener('click', () => this.socket.request('POST', `/api/tasks/${view.id}/cancel`).then((v) => this.upsert(v), () => {}));
      actions.replaceChildren(cancel);
    } else {
      actions.replaceChildren();
    }
  }

  async answer(id, approve, box) {
    for (const button of box.querySelectorAll('button')) button.disabled = true;
    try {
      this.upsert(await this.socket.request('POST', `/api/tasks/${id}/confirm`, { approve }));
    } catch (err) {
      box.querySelector('.error').textContent = `${err.code}: ${err.message}`;
      for (const button of box.querySelectorAll('button')) button.disabled = false;
    }
  }

  // Whether some task is waiting for the user, for the header.
  get waiting() {
    return [...this.tasks.values()].some((e) => e.view.state === 'awaiting_confirmation');
  }

  get running() {
    return [...this.tasks.values()].some((e) => e.view.state === 'running' || e.view.state === 'pending');
  }
}
