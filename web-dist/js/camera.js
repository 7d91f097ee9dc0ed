// Controls of an ONVIF camera beside its live picture: the PTZ pad, zoom,
// home and presets, and the picture settings (imaging and day/night). They
// sit next to the video rather than in the stream editor, so a move or a
// slider is judged on the picture while it changes.
import { html, useState, useEffect, useRef } from './lib.js';
import { get, post, put, enc } from './api.js';
import { Spinner } from './ui.js';

// SPEED is the velocity of a held pad button, in ONVIF's generic space (−1..1).
const SPEED = 0.5;

// A camera takes one command at a time, in order: a stop sent while its
// move is still on the way must not overtake it.
function useSerial() {
  const chain = useRef(Promise.resolve());
  return fn => (chain.current = chain.current.then(fn, fn));
}

// HoldButton moves the camera while pressed (pointer, Enter or Space) and
// stops it on release, when the pointer is lost, or when it goes away.
function HoldButton({ label, velocity, send, children }) {
  const held = useRef(false);
  const start = () => {
    if (held.current) return;
    held.current = true;
    send('move', velocity);
  };
  const end = () => {
    if (!held.current) return;
    held.current = false;
    send('stop');
  };
  useEffect(() => end, []);
  const down = e => {
    if (e.button !== 0) return;
    e.preventDefault();
    e.currentTarget.setPointerCapture && e.currentTarget.setPointerCapture(e.pointerId);
    start();
  };
  const isKey = e => e.key === 'Enter' || e.key === ' ';
  return html`<button type="button" class="ptz-btn" aria-label=${label} title=${label} data-ptz=${label}
    onPointerDown=${down} onPointerUp=${end} onPointerCancel=${end} onLostPointerCapture=${end} onBlur=${end}
    onKeyDown=${e => { if (isKey(e)) { e.preventDefault(); if (!e.repeat) start(); } }}
    onKeyUp=${e => { if (isKey(e)) end(); }}
    onContextMenu=${e => e.preventDefault()}>${children}</button>`;
}

function Presets({ base, run }) {
  const [list, setList] = useState(null);
  const [sel, setSel] = useState('');
  const [name, setName] = useState('');
  const load = () => run(async () => {
    const r = await get(base + '/presets');
    const presets = r.presets || [];
    setList(presets);
    setSel(s => (presets.some(p => p.token === s) ? s : (presets[0] ? presets[0].token : '')));
  });
  useEffect(() => { load(); }, [base]);
  const save = async e => {
    e.preventDefault();
    const n = name.trim();
    if (!n) return;
    const r = await run(() => put(base + '/preset', { name: n }));
    if (r) { setName(''); await load(); if (r.token) setSel(r.token); }
  };
  return html`<div class="ptz-presets">
    <div class="toolbar">
      <label for="ptz-preset">Preset</label>
      <select id="ptz-preset" value=${sel} onChange=${e => setSel(e.target.value)} disabled=${!list || !list.length}>
        ${list && !list.length && html`<option value="">No presets</option>`}
        ${(list || []).map(p => html`<option value=${p.token} selected=${p.token === sel}>${p.name || p.token}</option>`)}
      </select>
      <button type="button" class="small" disabled=${!sel} onClick=${() => run(() => post(base + '/goto-preset', { token: sel }))} data-testid="ptz-goto">Go</button>
    </div>
    <form class="toolbar" onSubmit=${save}>
      <label class="sr-only" for="ptz-preset-name">New preset name</label>
      <input id="ptz-preset-name" value=${name} maxlength="64" placeholder="Name of this position" onInput=${e => setName(e.target.value)} />
      <button type="submit" class="small" disabled=${!name.trim()} data-testid="ptz-save-preset">Save preset</button>
    </form>
  </div>`;
}

// PTZControls drives the stream's camera; every refusal shows in the panel.
function PTZControls({ name, setError }) {
  const base = `/api/streams/${enc(name)}/ptz`;
  const serial = useSerial();
  // run sends one command in turn and returns its answer, or null after
  // showing why it failed.
  const run = fn => serial(async () => {
    try { const r = await fn(); setError(null); return r; } catch (e) { setError(e); return null; }
  });
  const send = (what, body) => run(() => post(base + '/' + what, body));
  const pad = [
    ['', ''], ['Tilt up', { tilt: SPEED }, '▲'], ['', ''],
    ['Pan left', { pan: -SPEED }, '◀'], ['Home', null, '⌂'], ['Pan right', { pan: SPEED }, '▶'],
    ['', ''], ['Tilt down', { tilt: -SPEED }, '▼'], ['', ''],
  ];
  return html`<div class="ptz" data-testid="ptz">
    <div class="ptz-pad" role="group" aria-label="Pan and tilt">
      ${pad.map(([label, v, sym], i) => !label ? html`<span key=${i}></span>`
        : v ? html`<${HoldButton} key=${i} label=${label} velocity=${v} send=${send}>${sym}<//>`
        : html`<button key=${i} type="button" class="ptz-btn" aria-label="Go to the home position" title="Home" data-testid="ptz-home" onClick=${() => send('home')}>${sym}</button>`)}
    </div>
    <div class="ptz-zoom" role="group" aria-label="Zoom">
      <${HoldButton} label="Zoom in" velocity=${{ zoom: SPEED }} send=${send}>+<//>
      <${HoldButton} label="Zoom out" velocity=${{ zoom: -SPEED }} send=${send}>−<//>
    </div>
    <${Presets} base=${base} run=${run} />
  </div>`;
}

const LEVELS = [['brightness', 'Brightness'], ['contrast', 'Contrast'], ['color_saturation', 'Colour saturation'], ['sharpness', 'Sharpness']];
// IR cut filter modes as the day/night route names them.
const DAYNIGHT = { AUTO: ['auto', 'Automatic'], ON: ['day', 'Day (IR cut filter in)'], OFF: ['night', 'Night (IR cut filter out)'] };
// FALLBACK is what a server without the options route is taken to allow.
const FALLBACK = { brightness: { min: 0, max: 100 }, contrast: { min: 0, max: 100 }, color_saturation: { min: 0, max: 100 }, sharpness: { min: 0, max: 100 }, ir_cut_filter_modes: ['ON', 'OFF', 'AUTO'] };

async function imagingOptions(path) {
  try {
    const r = await get(path + '/imaging/options');
    return { ...FALLBACK, ...(r.options || {}) };
  } catch (e) {
    if (e.status === 404) return FALLBACK;
    throw e;
  }
}

function DayNight({ path, modes, setError }) {
  const [mode, setMode] = useState(null);
  const [why, setWhy] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    get(path + '/daynight').then(r => setMode(r.mode)).catch(e => setWhy(e.message));
  }, [path]);
  const change = async v => {
    setBusy(true);
    try { const r = await put(path + '/daynight', { mode: v }); setMode(r.mode || v); setError(null); } catch (e) { setError(e); }
    setBusy(false);
  };
  const options = modes.filter(m => DAYNIGHT[m]).map(m => DAYNIGHT[m]);
  return html`<div class="field">
    <label for="cam-daynight">Day / night</label>
    <select id="cam-daynight" value=${mode || ''} disabled=${mode === null || busy} onChange=${e => change(e.target.value)}>
      ${mode === null && html`<option value="">${why ? 'Not available' : 'Loading…'}</option>`}
      ${options.map(([v, l]) => html`<option value=${v} selected=${v === mode}>${l}</option>`)}
    </select>
    ${why && html`<div class="hint">${why}</div>`}
  </div>`;
}

function Imaging({ name, setError }) {
  const path = `/api/streams/${enc(name)}`;
  const [opts, setOpts] = useState(null);
  const [vals, setVals] = useState(null);
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState('');
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    Promise.all([imagingOptions(path), get(path + '/imaging/settings')])
      .then(([o, r]) => { setOpts(o); setVals(r.settings || {}); })
      .catch(e => { setFailed(true); setError(e); });
  }, [path]);
  if (failed) return html`<p class="muted">Picture settings are not available.</p>`;
  if (!vals) return html`<p class="muted"><${Spinner} label="Loading picture settings" /> Picture settings…</p>`;
  // Only the settings the camera reports are shown and written back.
  const levels = LEVELS.filter(([k]) => typeof vals[k] === 'number');
  const save = async e => {
    e.preventDefault();
    setBusy(true); setSaved('');
    const body = {};
    for (const [k] of levels) body[k] = vals[k];
    try { await put(path + '/imaging/settings', body); setSaved('Saved'); setError(null); } catch (err) { setError(err); }
    setBusy(false);
  };
  return html`<form class="imaging" onSubmit=${save} data-testid="imaging">
    ${levels.map(([k, label]) => {
      const r = opts[k] || FALLBACK[k];
      return html`<div class="field" key=${k}>
        <label for=${'cam-' + k}>${label} <output for=${'cam-' + k}>${vals[k]}</output></label>
        <input type="range" id=${'cam-' + k} min=${r.min} max=${r.max} step=${r.max - r.min > 10 ? 1 : 0.1} value=${vals[k]}
          onInput=${e => { setSaved(''); setVals(v => ({ ...v, [k]: Number(e.target.value) })); }} />
      </div>`;
    })}
    ${levels.length > 0 && html`<div class="toolbar">
      <button type="submit" class="small primary" disabled=${busy} data-testid="imaging-save">${busy && html`<${Spinner} label="Saving" />`} Save picture</button>
      <span role="status" data-testid="imaging-saved">${saved}</span></div>`}
    <${DayNight} path=${path} modes=${opts.ir_cut_filter_modes || FALLBACK.ir_cut_filter_modes} setError=${setError} />
  </form>`;
}

// CameraPanel holds the controls of one stream, for users who may change it.
export function CameraPanel({ stream, onClose }) {
  const [error, setError] = useState(null);
  return html`<section class="card camera-panel" data-testid="camera-panel" data-stream=${stream.name} aria-label=${'Camera controls of ' + stream.name}>
    <div class="toolbar"><h2 class="grow" style="margin:0">${stream.name}</h2>
      <button class="small" onClick=${onClose} aria-label="Close camera controls">✕</button></div>
    ${error && html`<div class="banner error" role="alert" data-testid="camera-error">${error.message || String(error)}</div>`}
    <div class="camera-cols">
      ${stream.ptz_enabled && html`<${PTZControls} name=${stream.name} setError=${setError} />`}
      <${Imaging} name=${stream.name} setError=${setError} />
    </div>
  </section>`;
}

// hasControls: the stream has a camera these controls can reach.
export const hasControls = s => !!(s.ptz_enabled || s.isOnvif || s.is_onvif);
