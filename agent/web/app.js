// The digiOS web console: a client of the public API like every other.

import { api, auth, EventSocket } from './api.js';
import { Chat } from './chat.js';
import { DesktopView } from './desktop.js';
import { StatusPane } from './status.js';
import { PushToTalk } from './voice.js';

const $ = (id) => document.getElementById(id);
const TOPICS = ['tasks', 'tokens', 'windows', 'downloads', 'services', 'vision'];

let started = false;

function showLogin(message = '') {
  $('console').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message;
  $('token').focus();
}

auth.onUnauthorized = () => {
  showLogin(auth.token ? 'That token was refused.' : '');
};

async function probe() {
  try {
    await api('/api/status');
    return true;
  } catch (err) {
    if (err.status !== 401) {
      // digiOS is not answering yet; the console shows that and reconnects.
      return true;
    }
    return false;
  }
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  auth.token = $('token').value.trim();
  if (await probe()) {
    // A console already running holds the old token in its sockets.
    if (started) location.reload();
    $('login').hidden = true;
    start();
  }
});

$('logout').addEventListener('click', () => {
  auth.token = null;
  location.reload();
});

function start() {
  $('console').hidden = false;
  $('logout').hidden = !auth.token;
  if (started) return;
  started = true;

  const connection = $('connection');
  let killEngaged = false;
  const killButton = $('kill-switch');
  const agentState = $('agent-state');

  const updateAgentState = () => {
    let state = 'idle';
    if (killEngaged) state = 'stopped by kill switch';
    else if (chat.waiting) state = 'waiting for you';
    else if (chat.running) state = 'working';
    agentState.textContent = state;
  };

  const socket = new EventSocket(TOPICS, {
    onState: (state, detail) => {
      connection.dataset.state = state;
      connection.textContent = state === 'online' ? 'connected' : `${state}${detail ? `: ${detail}` : ''}`;
    },
    onConnect: () => {
      // The evaluator's topic, where this digiOS has one.
      api('/api/capabilities').then((caps) => {
        if (caps.event_topics?.includes('improve')) {
          socket.sendRaw(JSON.stringify({ type: 'subscribe', topics: ['improve'] }));
        }
      }, () => {});
      chat.refresh();
      status.refresh();
    },
    onEvent: (event) => {
      switch (event.topic) {
        case 'tasks':
        case 'tokens':
          chat.onEvent(event);
          updateAgentState();
          break;
        case 'downloads':
          status.onDownload(event);
          break;
        case 'services':
          status.onService(event);
          break;
        case 'windows':
        case 'vision':
          desktop.onScreenChanged();
          break;
        case 'improve':
          status.refreshEval();
          if (event.kind.startsWith('cycle_')) status.refreshCycle();
          break;
        default:
          break;
      }
    },
    onProtocolError: (err) => {
      window.digiosConsole.protocolErrors.push({ code: err.code, message: err.message });
    },
  });

  const chat = new Chat({
    list: $('conversation'), form: $('goal-form'), input: $('goal'), history: $('history'),
    socket, onSpoken: (text) => talk.speak(text),
  });
  const desktop = new DesktopView({
    canvas: $('screen'), overlay: $('overlay'), stateEl: $('screen-state'), errorEl: $('input-error'),
    marksToggle: $('show-marks'), reticleToggle: $('show-reticle'), socket,
  });
  const status = new StatusPane({
    services: $('services'), model: $('model'), models: $('models'),
    plot: $('eval-plot'), caption: $('eval-caption'),
    cycle: { node: $('cycle'), text: $('cycle-text'), stop: $('cycle-stop') },
    onStatus: (s) => {
      killEngaged = Boolean(s.kill_switch?.engaged);
      killButton.setAttribute('aria-pressed', String(killEngaged));
      killButton.textContent = killEngaged ? 'Release kill switch' : 'Kill switch';
      updateAgentState();
    },
  });
  const talk = new PushToTalk({
    button: $('talk'), stateEl: $('voice-state'),
    onTranscript: (text) => chat.submit(text, { spoken: true }),
  });

  killButton.addEventListener('click', async () => {
    try {
      const state = await socket.request('POST', '/api/kill-switch', { engaged: !killEngaged });
      killEngaged = state.engaged;
    } catch { /* the status refresh shows the truth */ }
    status.refreshStatus();
  });

  // For people poking at the console and for the browser tests.
  window.digiosConsole = Object.assign(window.digiosConsole ?? {}, {
    socket, chat, desktop, status, talk, protocolErrors: [],
  });
  socket.start();
  desktop.start();
  setInterval(() => status.refreshEval(), 60000);
}

(async () => {
  if (await probe()) start();
  else showLogin();
})();
