// Push-to-talk: the microphone while the button is held, as 16 kHz mono
// 16-bit WAV to `/api/voice/transcribe`; the transcript becomes a goal and
// the task's result is spoken back through `/api/voice/speak`.

import { api } from './api.js';

const RATE = 16000;
// Longer holds are cut here; the API refuses more than 30 s of audio.
const MAX_SECONDS = 28;

// Averages blocks of input samples down to `to` Hz (from ≥ to).
export function downsample(samples, from, to = RATE) {
  if (from === to) return samples;
  const ratio = from / to;
  const out = new Float32Array(Math.floor(samples.length / ratio));
  for (let i = 0; i < out.length; i++) {
    const start = Math.floor(i * ratio);
    const end = Math.min(Math.floor((i + 1) * ratio), samples.length);
    let sum = 0;
    for (let j = start; j < end; j++) sum += samples[j];
    out[i] = sum / Math.max(end - start, 1);
  }
  return out;
}

// A RIFF/WAVE file of 16-bit mono PCM.
export function encodeWav(samples, rate = RATE) {
  const buffer = new ArrayBuffer(44 + samples.length * 2);
  const view = new DataView(buffer);
  const text = (offset, s) => [...s].forEach((c, i) => view.setUint8(offset + i, c.charCodeAt(0)));
  text(0, 'RIFF');
  view.setUint32(4, 36 + samples.length * 2, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  text(36, 'data');
  view.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i]));
    view.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  return new Blob([buffer], { type: 'audio/wav' });
}

export class PushToTalk {
  constructor({ button, stateEl, onTranscript }) {
    this.button = button;
    this.stateEl = stateEl;
    this.onTranscript = onTranscript;
    this.recording = null;
    const start = (e) => { e.preventDefault(); this.start(); };
    const stop = (e) => { e.preventDefault(); this.stop(); };
    // Captured, the button hears its release wherever the pointer went.
    button.addEventListener('pointerdown', (e) => {
      button.setPointerCapture(e.pointerId);
      start(e);
    });
    button.addEventListener('pointerup', stop);
    button.addEventListener('lostpointercapture', () => this.stop());
    button.addEventListener('keydown', (e) => { if ((e.key === ' ' || e.key === 'Enter') && !e.repeat) start(e); });
    button.addEventListener('keyup', (e) => { if (e.key === ' ' || e.key === 'Enter') stop(e); });
    if (!navigator.mediaDevices?.getUserMedia) {
      button.disabled = true;
      button.title = 'The browser offers no microphone here (it needs https or localhost)';
    }
  }

  say(text) {
    this.stateEl.textContent = text;
  }

  async start() {
    if (this.recording) return;
    const recording = { chunks: [], length: 0, stopped: false };
    this.recording = recording;
    this.button.setAttribute('aria-pressed', 'true');
    this.say('listening… release to send');
    try {
      recording.stream = await navigator.mediaDevices.getUserMedia({
        // The raw signal: Whisper copes with it, and Chromium's processing
        // (echo cancellation, noise suppression) crashes its headless renderer.
        audio: { channelCount: 1, echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
    } catch (err) {
      this.recording = null;
      this.button.setAttribute('aria-pressed', 'false');
      this.say(`no microphone: ${err.message}`);
      return;
    }
    if (recording.stopped) {
      recording.stream.getTracks().forEach((t) => t.stop());
      this.say('released before the microphone opened');
      return;
    }
    const context = new AudioContext();
    recording.context = context;
    const source = context.createMediaStreamSource(recording.stream);
    // ScriptProcessor keeps this one file; a worklet would be a second.
    const processor = context.createScriptProcessor(4096, 1, 1);
    processor.onaudioprocess = (e) => {
      if (recording.length / context.sampleRate >= MAX_SECONDS) return;
      const chunk = new Float32Array(e.inputBuffer.getChannelData(0));
      recording.chunks.push(chunk);
      recording.length += chunk.length;
    };
    source.connect(processor);
    processor.connect(context.destination);
  }

  async stop() {
    const recording = this.recording;
    if (!recording) return;
    this.recording = null;
    recording.stopped = true;
    this.button.setAttribute('aria-pressed', 'false');
    recording.stream?.getTracks().forEach((t) => t.stop());
    if (!recording.context) return;
    const rate = recording.context.sampleRate;
    await recording.context.close();
    const samples = new Float32Array(recording.length);
    let offset = 0;
    for (const chunk of recording.chunks) { samples.set(chunk, offset); offset += chunk.length; }
    if (samples.length < rate * 0.2) {
      this.say('too short: hold the button while you speak');
      return;
    }
    await this.send(encodeWav(downsample(samples, rate)));
  }

  async send(wav) {
    this.say('transcribing…');
    try {
      const transcript = await api('/api/voice/transcribe', { method: 'POST', body: wav, contentType: 'audio/wav' });
      if (transcript.silent || !transcript.text.trim()) {
        this.say('heard nothing');
        return;
      }
      this.say(`heard: “${transcript.text.trim()}”`);
      this.onTranscript(transcript.text.trim());
    } catch (err) {
      this.say(err.status === 503 ? 'voice is not running on this digiOS' : `voice: ${err.message}`);
    }
  }

  // Plays `text` spoken by digiOS, when its voice service runs.
  async speak(text) {
    try {
      const response = await api('/api/voice/speak', { method: 'POST', body: { text: text.slice(0, 4000) }, raw: true });
      const wav = await response.blob();
      this.spoken = { text, bytes: wav.size };
      const url = URL.createObjectURL(wav);
      const audio = new Audio(url);
      audio.onended = () => URL.revokeObjectURL(url);
      await audio.play();
    } catch {
      // No voice service, or the page may not play sound yet: the text is on screen.
    }
  }
}
