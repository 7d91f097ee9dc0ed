// Timeline: one day of a stream as a bar of its recordings with the detections
// marked on it; a click on the bar plays the recording at that moment, a drag
// selects a range to play or export as one MP4.
import { html, useState, useEffect, useRef } from '../lib.js';
import { get, enc } from '../api.js';
import { Loading, ErrorBanner, Spinner, toast, useAsync } from '../ui.js';

const DAY = 86400;

// dayStart is the unix second a local calendar day (YYYY-MM-DD) begins.
function dayStart(day) {
  const [y, m, d] = day.split('-').map(Number);
  return Math.floor(new Date(y, m - 1, d).getTime() / 1000);
}

function today() {
  const d = new Date();
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

// pct places a unix time on the day's bar.
const pct = (t, from) => Math.min(100, Math.max(0, (t - from) / DAY * 100));

// span is the style of a block from a to b on the bar (at least a sliver wide).
const span = (a, b, from) => ({ left: pct(a, from) + '%', width: Math.max(pct(b, from) - pct(a, from), 0.15) + '%' });

const HOURS = [0, 3, 6, 9, 12, 15, 18, 21];

// SNAP is how far (seconds) a click may land from a recording and still pick
// it: a short segment is drawn wider than it lasts.
const SNAP = DAY * 0.003;

// segmentAt is the recording covering t, else the nearest within SNAP.
function segmentAt(segs, t) {
  let best = null, dist = SNAP;
  for (const s of segs) {
    const d = Math.max(s.start_timestamp - t, t - s.end_timestamp, 0);
    if (d <= dist) { best = s; dist = d; }
  }
  return best;
}

// DRAG is how far (pixels) the pointer must move before a press on the bar
// selects a range instead of picking a moment.
const DRAG = 4;

function Scrubber({ from, data, at, sel, onPick, onSelect }) {
  const bar = useRef(null);
  const drag = useRef(null);
  const timeAt = x => {
    const r = bar.current.getBoundingClientRect();
    return from + Math.round(Math.min(1, Math.max(0, (x - r.left) / r.width)) * DAY);
  };
  const down = e => {
    if (e.button !== 0) return;
    drag.current = { x: e.clientX, t: timeAt(e.clientX), moved: false };
    bar.current.setPointerCapture && e.pointerId !== undefined && bar.current.setPointerCapture(e.pointerId);
  };
  const move = e => {
    const d = drag.current;
    if (!d || (!d.moved && Math.abs(e.clientX - d.x) < DRAG)) return;
    d.moved = true;
    const t = timeAt(e.clientX);
    onSelect({ start: Math.min(d.t, t), end: Math.max(d.t, t) });
  };
  const up = () => { if (drag.current) drag.current.done = drag.current.moved; };
  // A drag ends with a click on the bar: it must not also pick a moment.
  const click = e => {
    const d = drag.current;
    drag.current = null;
    if (d && d.done) return;
    onPick(timeAt(e.clientX));
  };
  return html`<div>
    <div ref=${bar} class="card" role="slider" aria-label="Time of day" aria-valuemin="0" aria-valuemax="86400" aria-valuenow=${at ? at - from : 0}
      data-testid="timeline-bar" onPointerDown=${down} onPointerMove=${move} onPointerUp=${up} onClick=${click}
      title="Click to play that moment; drag to select a range"
      style=${{ position: 'relative', height: '3rem', padding: 0, cursor: 'pointer', overflow: 'hidden', touchAction: 'none', userSelect: 'none' }}>
      ${data.segments.map(s => html`<div data-testid="timeline-segment" data-id=${s.id} title=${s.start_time + ' – ' + s.end_time}
        style=${{ position: 'absolute', top: '0.5rem', bottom: '0.5rem', background: 'var(--accent, #3b82f6)', opacity: 0.6, ...span(s.start_timestamp, s.end_timestamp, from) }}></div>`)}
      ${data.detection_intervals.map(d => html`<div data-testid="timeline-detection" title="Detection"
        style=${{ position: 'absolute', top: 0, height: '0.5rem', background: 'var(--bad, #dc2626)', ...span(d.start_timestamp, d.end_timestamp, from) }}></div>`)}
      ${sel && html`<div data-testid="timeline-selection" aria-hidden="true"
        style=${{ position: 'absolute', top: 0, bottom: 0, background: 'currentColor', opacity: 0.15, pointerEvents: 'none', ...span(sel.start, sel.end, from) }}></div>`}
      ${at ? html`<div aria-hidden="true" style=${{ position: 'absolute', top: 0, bottom: 0, width: '2px', background: 'currentColor', left: pct(at, from) + '%' }}></div>` : ''}
    </div>
    <div class="muted" style=${{ position: 'relative', height: '1.2rem' }} aria-hidden="true">
      ${HOURS.map(h => html`<span style=${{ position: 'absolute', left: (h / 24 * 100) + '%' }}>${String(h).padStart(2, '0')}:00</span>`)}
    </div>
  </div>`;
}

// exportURL is the address of one stream's range as one MP4.
const exportURL = (stream, sel, format) => `/api/export?stream=${enc(stream)}&start=${sel.start}&end=${sel.end}&format=${format}`;

const clock = iso => iso ? new Date(iso).toLocaleTimeString() : '–';

// coverage says what an export really holds, from its response headers.
function coverage(resp) {
  const gaps = (resp.headers.get('X-Export-Gaps') || '').split(',').filter(Boolean)
    .map(g => g.split('/').map(clock).join(' – '));
  return { start: resp.headers.get('X-Export-Start'), end: resp.headers.get('X-Export-End'), gaps };
}

// download fetches the progressive MP4, reporting bytes as they come, and
// hands it to the browser as a file.
async function download(url, name, onProgress) {
  const resp = await fetch(url, { credentials: 'same-origin' });
  if (!resp.ok) {
    let msg = resp.status + ' ' + resp.statusText;
    try { msg = (await resp.json()).error || msg; } catch { /* not JSON */ }
    throw new Error(msg);
  }
  const total = Number(resp.headers.get('Content-Length')) || 0;
  const info = coverage(resp);
  const reader = resp.body.getReader();
  const chunks = [];
  let got = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    got += value.length;
    onProgress({ phase: 'downloading', got, total, info });
  }
  const href = URL.createObjectURL(new Blob(chunks, { type: 'video/mp4' }));
  const a = document.createElement('a');
  a.href = href; a.download = name;
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10000);
  return info;
}

// probe asks for the first byte of the fragmented export: enough to learn
// its size and what it covers before the player takes over.
async function probe(url) {
  const resp = await fetch(url, { credentials: 'same-origin', headers: { Range: 'bytes=0-0' } });
  if (!resp.ok) {
    let msg = resp.status + ' ' + resp.statusText;
    try { msg = (await resp.json()).error || msg; } catch { /* not JSON */ }
    throw new Error(msg);
  }
  const size = Number((resp.headers.get('Content-Range') || '').split('/')[1]) || 0;
  await resp.arrayBuffer();
  return { ...coverage(resp), size };
}

const mb = n => (n / 1048576).toFixed(1) + ' MB';

// RangeBar selects, plays and exports a range of the day.
function RangeBar({ stream, sel, onClear }) {
  const [state, setState] = useState({ phase: 'idle' });
  const [playing, setPlaying] = useState(null);
  useEffect(() => { setState({ phase: 'idle' }); setPlaying(null); }, [stream, sel.start, sel.end]);
  const name = `${stream}-${new Date(sel.start * 1000).toISOString().replace(/[:.]/g, '-')}.mp4`;
  const exp = async () => {
    setState({ phase: 'preparing' });
    try {
      const info = await download(exportURL(stream, sel, 'mp4'), name, setState);
      setState({ phase: 'done', info });
      toast('Export downloaded', 'ok');
    } catch (e) { setState({ phase: 'error', error: e.message }); }
  };
  const play = async () => {
    setState({ phase: 'preparing' });
    try {
      const info = await probe(exportURL(stream, sel, 'fmp4'));
      setState({ phase: 'ready', info });
      setPlaying(exportURL(stream, sel, 'fmp4'));
    } catch (e) { setState({ phase: 'error', error: e.message }); }
  };
  const busy = state.phase === 'preparing' || state.phase === 'downloading';
  const info = state.info;
  return html`<div class="card" data-testid="timeline-range" data-phase=${state.phase}>
    <div class="toolbar" style="margin:0">
      <span class="grow">Selected <strong>${new Date(sel.start * 1000).toLocaleTimeString()} – ${new Date(sel.end * 1000).toLocaleTimeString()}</strong></span>
      <button class="small primary" data-testid="range-play" disabled=${busy} onClick=${play}>Play range</button>
      <button class="small" data-testid="range-export" data-url=${exportURL(stream, sel, 'mp4')} disabled=${busy} onClick=${exp}>Export MP4</button>
      <button class="small" onClick=${onClear}>Clear</button>
    </div>
    <p class="muted" data-testid="range-state" role="status">
      ${state.phase === 'preparing' ? html`<${Spinner} label="Preparing the export" /> Preparing the export…`
        : state.phase === 'downloading' ? html`<progress max=${state.total || undefined} value=${state.got}></progress> ${mb(state.got)}${state.total ? ' of ' + mb(state.total) : ''}`
        : state.phase === 'error' ? html`<span class="range-bad">${state.error}</span>`
        : state.phase === 'ready' ? `Ready: ${mb(info.size)}.`
        : state.phase === 'done' ? 'Downloaded.' : 'Play the range here or export it as one MP4 file.'}
    </p>
    ${info && html`<p class="muted" data-testid="range-coverage" data-start=${info.start || ''} data-gaps=${info.gaps.length}>
      Covers ${clock(info.start)} – ${clock(info.end)} (cut at keyframes).
      ${info.gaps.length ? ' Gaps with nothing recorded: ' + info.gaps.join(', ') + '.' : ' No gaps.'}</p>`}
    ${playing && html`<div class="player"><video controls autoplay muted playsinline preload="auto" data-testid="range-video" src=${playing}
      onError=${e => setState({ phase: 'error', error: 'The range cannot be played (' + ((e.target.error && e.target.error.message) || 'error') + ')', info })}></video></div>`}
  </div>`;
}

// Player plays the segment covering the picked time from that moment.
function Player({ seg, at }) {
  const v = useRef(null);
  useEffect(() => {
    const el = v.current;
    if (!el || !seg) return;
    // A click beside a recording (snapped to it) plays it from its start.
    const off = at - seg.start_timestamp;
    const seek = () => { el.currentTime = off >= 0 && off < seg.duration ? off : 0; };
    el.addEventListener('loadedmetadata', seek, { once: true });
    if (el.readyState >= 1) seek();
  }, [seg && seg.id, at]);
  if (!seg) return html`<div class="card muted">${at ? 'No recording at ' + new Date(at * 1000).toLocaleTimeString() + '.' : 'Click the bar to play the recording at that time.'}</div>`;
  return html`<div class="player"><video ref=${v} controls autoplay muted playsinline data-testid="timeline-video"
    src=${'/api/recordings/play/' + seg.id}></video></div>`;
}

export function TimelinePage() {
  const [streams] = useAsync(() => get('/api/streams'), []);
  const [stream, setStream] = useState('');
  const [day, setDay] = useState(today());
  const [at, setAt] = useState(0);
  const [sel, setSel] = useState(null);
  const names = (streams.data || []).map(s => s.name);
  useEffect(() => { if (!stream && names.length) setStream(names[0]); }, [names.join()]);
  const from = dayStart(day);
  const [tl, reload] = useAsync(() => stream ? get(`/api/timeline/segments?stream=${enc(stream)}&start=${from}&end=${from + DAY - 1}`) : null, [stream, day]);
  useEffect(() => { setAt(0); setSel(null); }, [stream, day]);
  const data = tl.data;
  const seg = data && at ? segmentAt(data.segments, at) : null;
  return html`
    <div class="toolbar"><h1 style="margin:0" class="grow">Timeline</h1>
      <label class="sr-only" for="tl-stream">Stream</label>
      <select id="tl-stream" value=${stream} onChange=${e => setStream(e.target.value)}>
        ${names.map(n => html`<option value=${n}>${n}</option>`)}</select>
      <label class="sr-only" for="tl-day">Day</label>
      <input id="tl-day" type="date" value=${day} onChange=${e => e.target.value && setDay(e.target.value)} />
      <button class="small" onClick=${reload}>Refresh</button>
    </div>
    ${streams.error && html`<${ErrorBanner} error=${streams.error} />`}
    ${tl.error && html`<${ErrorBanner} error=${tl.error} retry=${reload} />`}
    ${!stream ? (streams.loading ? html`<${Loading} what="Loading streams" />` : html`<div class="card muted">No streams.</div>`)
      : !data ? html`<${Loading} what="Loading the timeline" />`
      : html`
        <p class="muted" data-testid="timeline-summary">${data.segment_count} recordings, ${data.detection_interval_count} detections on ${day}.</p>
        <${Scrubber} from=${from} data=${data} at=${at} sel=${sel} onPick=${t => { setAt(t); setSel(null); }} onSelect=${setSel} />
        ${sel ? html`<${RangeBar} stream=${stream} sel=${sel} onClear=${() => setSel(null)} />` : html`<${Player} seg=${seg} at=${at} />`}`}`;
}
