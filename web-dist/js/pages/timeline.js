// Timeline: one day of a stream as a bar of its recordings with the detections
// marked on it; a click on the bar plays the recording at that moment.
import { html, useState, useEffect, useRef } from '../lib.js';
import { get, enc } from '../api.js';
import { Loading, ErrorBanner, useAsync } from '../ui.js';

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

function Scrubber({ from, data, at, onPick }) {
  const bar = useRef(null);
  const pick = e => {
    const r = bar.current.getBoundingClientRect();
    onPick(from + Math.round((e.clientX - r.left) / r.width * DAY));
  };
  return html`<div>
    <div ref=${bar} class="card" role="slider" aria-label="Time of day" aria-valuemin="0" aria-valuemax="86400" aria-valuenow=${at ? at - from : 0}
      data-testid="timeline-bar" onClick=${pick}
      style=${{ position: 'relative', height: '3rem', padding: 0, cursor: 'pointer', overflow: 'hidden' }}>
      ${data.segments.map(s => html`<div data-testid="timeline-segment" data-id=${s.id} title=${s.start_time + ' – ' + s.end_time}
        style=${{ position: 'absolute', top: '0.5rem', bottom: '0.5rem', background: 'var(--accent, #3b82f6)', opacity: 0.6, ...span(s.start_timestamp, s.end_timestamp, from) }}></div>`)}
      ${data.detection_intervals.map(d => html`<div data-testid="timeline-detection" title="Detection"
        style=${{ position: 'absolute', top: 0, height: '0.5rem', background: 'var(--bad, #dc2626)', ...span(d.start_timestamp, d.end_timestamp, from) }}></div>`)}
      ${at ? html`<div aria-hidden="true" style=${{ position: 'absolute', top: 0, bottom: 0, width: '2px', background: 'currentColor', left: pct(at, from) + '%' }}></div>` : ''}
    </div>
    <div class="muted" style=${{ position: 'relative', height: '1.2rem' }} aria-hidden="true">
      ${HOURS.map(h => html`<span style=${{ position: 'absolute', left: (h / 24 * 100) + '%' }}>${String(h).padStart(2, '0')}:00</span>`)}
    </div>
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
  const names = (streams.data || []).map(s => s.name);
  useEffect(() => { if (!stream && names.length) setStream(names[0]); }, [names.join()]);
  const from = dayStart(day);
  const [tl, reload] = useAsync(() => stream ? get(`/api/timeline/segments?stream=${enc(stream)}&start=${from}&end=${from + DAY - 1}`) : null, [stream, day]);
  useEffect(() => setAt(0), [stream, day]);
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
        <${Scrubber} from=${from} data=${data} at=${at} onPick=${setAt} />
        <${Player} seg=${seg} at=${at} />`}`;
}
