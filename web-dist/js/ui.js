// Shared widgets: modal dialogs, confirmation, toasts, spinners, form fields and formatters.
import { html, useState, useEffect, useRef, render } from './lib.js';

// ---- toasts ----
let toastList = [];
let toastListener = null;
let toastSeq = 0;
export function toast(msg, kind = 'info', ms = 4000) {
  const id = ++toastSeq;
  toastList = [...toastList, { id, msg, kind }];
  toastListener && toastListener(toastList);
  setTimeout(() => {
    toastList = toastList.filter(t => t.id !== id);
    toastListener && toastListener(toastList);
  }, ms);
}
export function Toasts() {
  const [list, setList] = useState(toastList);
  useEffect(() => { toastListener = setList; return () => { toastListener = null; }; }, []);
  return html`<div class="toasts" role="status" aria-live="polite">
    ${list.map(t => html`<div key=${t.id} class=${'toast ' + t.kind}>${t.msg}</div>`)}
  </div>`;
}

// ---- modal ----
// Focus moves into the dialog, Tab stays inside it, Escape closes it, and focus
// returns to where it came from.
export function Modal({ title, onClose, children, wide, footer }) {
  const ref = useRef(null);
  useEffect(() => {
    const prev = document.activeElement;
    const el = ref.current;
    const first = el && el.querySelector('[autofocus], input, select, textarea, button:not(.close)');
    (first || el).focus();
    const onEsc = e => { if (e.key === 'Escape' && onClose) { e.stopPropagation(); onClose(); } };
    const onKey = e => {
      if (e.key === 'Tab' && el) {
        const items = [...el.querySelectorAll('a[href], button:not([disabled]), input:not([disabled]), select, textarea, video[controls], [tabindex]:not([tabindex="-1"])')];
        if (!items.length) return;
        const a = items[0], b = items[items.length - 1];
        if (e.shiftKey && document.activeElement === a) { b.focus(); e.preventDefault(); }
        else if (!e.shiftKey && document.activeElement === b) { a.focus(); e.preventDefault(); }
      }
    };
    el.addEventListener('keydown', onKey);
    // Escape works wherever focus is, also after the focused control went away.
    document.addEventListener('keydown', onEsc);
    return () => { el.removeEventListener('keydown', onKey); document.removeEventListener('keydown', onEsc); prev && prev.focus && prev.focus(); };
  }, []);
  const titleId = 'm-' + title.replace(/\W+/g, '-').toLowerCase();
  return html`<div class="modal-back" onClick=${e => { if (e.target === e.currentTarget && onClose) onClose(); }}>
    <div class=${'modal' + (wide ? ' wide' : '')} role="dialog" aria-modal="true" aria-labelledby=${titleId} ref=${ref} tabindex="-1">
      <header><h2 id=${titleId}>${title}</h2>
        ${onClose && html`<button class="small close" onClick=${onClose} aria-label="Close">✕</button>`}</header>
      ${children}
      ${footer && html`<footer>${footer}</footer>`}
    </div>
  </div>`;
}

// confirmDialog resolves true when the user confirms.
export function confirmDialog(title, message, confirmLabel = 'Delete', danger = true) {
  return new Promise(resolve => {
    const host = document.createElement('div');
    document.body.appendChild(host);
    const done = v => { render(null, host); host.remove(); resolve(v); };
    render(html`<${Modal} title=${title} onClose=${() => done(false)} footer=${html`
        <button onClick=${() => done(false)}>Cancel</button>
        <button class=${danger ? 'danger' : 'primary'} onClick=${() => done(true)}>${confirmLabel}</button>`}>
      <p>${message}</p>
    <//>`, host);
  });
}

export function Spinner({ label = 'Loading…' }) {
  return html`<span class="spinner" role="progressbar" aria-label=${label}></span>`;
}

export function Loading({ what = 'Loading' }) {
  return html`<p class="muted"><${Spinner} label=${what} /> ${what}…</p>`;
}

export function ErrorBanner({ error, retry }) {
  if (!error) return null;
  return html`<div class="banner error" role="alert">${String(error.message || error)}
    ${retry && html` <button class="small" onClick=${retry}>Retry</button>`}</div>`;
}

// Field renders a labelled input with its validation message.
let fieldSeq = 0;
export function Field({ label, hint, error, type = 'text', value, onInput, options, min, max, step, required, placeholder, autocomplete, id, disabled, name }) {
  const [gen] = useState(() => 'f' + (++fieldSeq));
  // The id prop wins on every render: one Field instance may be reused for another input.
  const fid = id || gen;
  const errId = fid + '-err';
  const common = { id: fid, name: name || fid, disabled, 'aria-invalid': error ? 'true' : undefined, 'aria-describedby': error ? errId : undefined };
  if (type === 'checkbox') {
    return html`<div class="field check">
      <input type="checkbox" ...${common} checked=${!!value} onChange=${e => onInput(e.target.checked)} />
      <label for=${fid}>${label}</label>
      ${hint && html`<span class="hint">${hint}</span>`}
      ${error && html`<div class="err" id=${errId}>${error}</div>`}
    </div>`;
  }
  let input;
  if (type === 'select') {
    input = html`<select ...${common} value=${value} onChange=${e => onInput(e.target.value)}>
      ${options.map(o => { const [v, l] = Array.isArray(o) ? o : [o, o]; return html`<option value=${v} selected=${String(v) === String(value)}>${l}</option>`; })}
    </select>`;
  } else if (type === 'textarea') {
    input = html`<textarea ...${common} rows="4" value=${value ?? ''} onInput=${e => onInput(e.target.value)} placeholder=${placeholder}></textarea>`;
  } else {
    input = html`<input type=${type} ...${common} value=${value ?? ''} min=${min} max=${max} step=${step} required=${required}
      placeholder=${placeholder} autocomplete=${autocomplete}
      onInput=${e => onInput(type === 'number' ? (e.target.value === '' ? '' : Number(e.target.value)) : e.target.value)} />`;
  }
  return html`<div class="field">
    <label for=${fid}>${label}</label>
    ${input}
    ${hint && html`<div class="hint">${hint}</div>`}
    ${error && html`<div class="err" id=${errId} role="alert">${error}</div>`}
  </div>`;
}

// useAsync loads data and reloads on demand: [state, reload].
export function useAsync(fn, deps = []) {
  const [state, setState] = useState({ loading: true, data: null, error: null });
  const seq = useRef(0);
  const load = async () => {
    const my = ++seq.current;
    setState(s => ({ ...s, loading: true, error: null }));
    try {
      const data = await fn();
      if (my === seq.current) setState({ loading: false, data, error: null });
    } catch (e) {
      if (my === seq.current) setState(s => ({ loading: false, data: s.data, error: e }));
    }
  };
  useEffect(() => { load(); }, deps);
  return [state, load];
}

// useForm holds a modal form's values and its save: validate(f) returns the
// field errors that stop the save; submit(f) does the save, and any error it
// throws is shown next to the field it names (one of fields, "_" read as
// space) or else above the form. Busy stays set on success: the form closes.
export function useForm(initial, { validate, submit, fields }) {
  const [f, setF] = useState(initial);
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  const set = k => v => setF(o => ({ ...o, [k]: v }));
  const setMany = vals => setF(o => ({ ...o, ...vals }));
  const save = async e => {
    e && e.preventDefault();
    const errs = validate(f);
    setErrors(errs);
    if (Object.keys(errs).length) return;
    setBusy(true);
    try {
      await submit(f);
    } catch (err) {
      // The longest name wins: "record_audio ..." names record_audio, not record.
      const k = [...fields].sort((a, b) => b.length - a.length)
        .find(k => err.message.toLowerCase().includes(k.replace(/_/g, ' ')) || err.message.includes(k));
      setErrors(k ? { [k]: err.message } : { _form: err.message });
      setBusy(false);
    }
  };
  return { f, set, setMany, errors, busy, save };
}

// ---- formatting ----
export function fmtBytes(n) {
  if (n == null || isNaN(n)) return '–';
  n = Number(n);
  const u = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + ' ' + u[i];
}
export function fmtDuration(s) {
  s = Math.max(0, Math.floor(Number(s) || 0));
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
  if (d) return `${d}d ${h}h ${m}m`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${sec}s`;
  return `${sec}s`;
}
export function fmtTime(v) {
  if (!v) return '–';
  const d = typeof v === 'number' ? new Date(v * 1000) : new Date(v);
  if (isNaN(d)) return String(v);
  return d.toLocaleString();
}
export function fmtBitrate(bps) {
  if (!bps) return '0 kbit/s';
  return bps >= 1e6 ? (bps / 1e6).toFixed(1) + ' Mbit/s' : Math.round(bps / 1000) + ' kbit/s';
}

export function Sparkline({ values, label }) {
  if (!values || values.length < 2) return html`<span class="muted">–</span>`;
  const max = Math.max(...values, 1e-9), min = Math.min(...values, 0);
  const w = 120, hgt = 28;
  const pts = values.map((v, i) => `${(i / (values.length - 1) * w).toFixed(1)},${(hgt - 2 - (v - min) / (max - min || 1) * (hgt - 4)).toFixed(1)}`).join(' ');
  return html`<svg class="spark" viewBox="0 0 ${w} ${hgt}" role="img" aria-label=${label}><polyline points=${pts} /></svg>`;
}

// Icons drawn as strokes, so they look the same with any system font (no emoji fonts on many boxes).
const ICONS = {
  camera: 'M4 8h3l2-3h6l2 3h3v11H4z M12 17a4 4 0 1 0 0-8 4 4 0 0 0 0 8',
  fullscreen: 'M4 9V4h5 M20 9V4h-5 M4 15v5h5 M20 15v5h-5',
  reload: 'M20 12a8 8 0 1 1-2.3-5.7 M20 4v5h-5',
  plus: 'M12 5v14 M5 12h14',
  lock: 'M6 11h12v9H6z M8 11V8a4 4 0 0 1 8 0v3',
  play: 'M7 5l12 7-12 7z',
  record: 'M12 6a6 6 0 1 0 0 12 6 6 0 0 0 0-12z',
  ptz: 'M12 3l3 3h-6z M12 21l3-3h-6z M3 12l3-3v6z M21 12l-3-3v6z M12 9a3 3 0 1 0 0 6 3 3 0 0 0 0-6',
};
export function Icon({ name }) {
  return html`<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d=${ICONS[name]} /></svg>`;
}
