// Events: what the detectors see, live, from the server-sent event feed (GET /api/events).
import { html, useState, useEffect, useRef } from '../lib.js';
import { enc } from '../api.js';
import { fmtTime } from '../ui.js';

// KEEP bounds the events a page holds, however long it stays open.
const KEEP = 100;
// A held trigger or ongoing motion publishes about every second: events of the
// same stream, source and labels this close together are shown as one.
const MERGE_S = 3;
const RETRY_MIN_MS = 2000;
const RETRY_MAX_MS = 30000;

const labelsOf = e => [...new Set((e.detections || []).map(d => d.label).filter(Boolean))].sort();

// merge adds event e to the newest-first list, joining it to the newest entry
// when it continues it.
function merge(list, e, seq) {
  const labels = labelsOf(e);
  const top = list[0];
  if (top && top.stream === e.stream && top.source === e.source && top.labels.join() === labels.join() && e.timestamp - top.last <= MERGE_S) {
    return [{ ...top, last: Math.max(top.last, e.timestamp), count: top.count + 1, snapshot: top.snapshot || e.snapshot }, ...list.slice(1)];
  }
  const item = { id: seq, stream: e.stream, source: e.source, labels, first: e.timestamp, last: e.timestamp, count: 1, snapshot: e.snapshot || '' };
  return [item, ...list].slice(0, KEEP);
}

// useEventFeed subscribes to the feed while the component lives and returns
// [events, setEvents, state]. The browser retries a dropped feed by itself; a feed it gave
// up on (the server refused or went away) is opened again here, with a growing wait.
function useEventFeed() {
  const [events, setEvents] = useState([]);
  const [state, setState] = useState('connecting');
  useEffect(() => {
    let es = null, timer = 0, wait = RETRY_MIN_MS, seq = 0, gone = false;
    const open = () => {
      es = new EventSource('/api/events');
      es.onopen = () => { wait = RETRY_MIN_MS; setState('open'); };
      es.addEventListener('detection', m => {
        let e;
        try { e = JSON.parse(m.data); } catch { return; }
        setEvents(list => merge(list, e, ++seq));
      });
      es.onerror = () => {
        if (gone) return;
        if (es.readyState !== EventSource.CLOSED) { setState('reconnecting'); return; }
        setState('reconnecting');
        es.close();
        timer = setTimeout(open, wait);
        wait = Math.min(wait * 2, RETRY_MAX_MS);
      };
    };
    open();
    return () => { gone = true; clearTimeout(timer); es && es.close(); };
  }, []);
  return [events, setEvents, state];
}

// Thumb shows the event's snapshot. The feed sends an event before its frame is
// stored (about a second later, named by the event's time), so without a URL
// the stored name is tried after a moment.
function Thumb({ ev }) {
  const guess = '/api/snapshots/' + enc(ev.stream) + '/' + ev.first + '.jpg';
  const [src, setSrc] = useState(ev.snapshot || '');
  const [failed, setFailed] = useState(false);
  const tries = useRef(0);
  useEffect(() => {
    if (src) return undefined;
    const t = setTimeout(() => setSrc(guess), 2500);
    return () => clearTimeout(t);
  }, [src]);
  useEffect(() => { if (ev.snapshot && ev.snapshot !== src) { setFailed(false); setSrc(ev.snapshot); } }, [ev.snapshot]);
  const onError = () => {
    if (++tries.current < 2 && !ev.snapshot) { setSrc(''); return; } // stored late: once more
    setFailed(true);
  };
  if (!src || failed) return html`<div class="thumb" aria-hidden="true">${failed ? 'No picture' : '…'}</div>`;
  return html`<a href=${src} target="_blank" rel="noopener"><img class="thumb" src=${src} onError=${onError} alt=${'Snapshot of ' + ev.stream + ' at ' + fmtTime(ev.first)} data-testid="event-snapshot" /></a>`;
}

const SOURCES = { motion: 'Motion', detector: 'Detector', onvif: 'ONVIF', api: 'Trigger API' };

function EventItem({ ev }) {
  return html`<li class="card" data-testid="event-item" data-stream=${ev.stream} data-labels=${ev.labels.join(',')}>
    <${Thumb} ev=${ev} />
    <div class="what">
      <div><strong>${ev.stream}</strong> <span class="labels">${ev.labels.map(l => html`<span class="badge label">${l}</span>`)}</span></div>
      <div class="muted">${fmtTime(ev.first)}${ev.last > ev.first ? ' – ' + new Date(ev.last * 1000).toLocaleTimeString() : ''}${' · '}${SOURCES[ev.source] || ev.source || 'Detector'}${ev.count > 1 ? ` · ${ev.count} events` : ''}</div>
    </div>
  </li>`;
}

const STATE = { open: ['ok', 'Live'], connecting: ['warn', 'Connecting'], reconnecting: ['bad', 'Reconnecting'] };

export function EventsPage() {
  const [events, setEvents, state] = useEventFeed();
  const [stream, setStream] = useState('');
  const streams = [...new Set(events.map(e => e.stream))].sort();
  const shown = stream ? events.filter(e => e.stream === stream) : events;
  const [cls, label] = STATE[state] || STATE.connecting;
  return html`
    <div class="toolbar"><h1 style="margin:0" class="grow">Events</h1>
      <span class=${'badge ' + cls} data-testid="feed-state" data-state=${state}>${label}</span>
      <label class="sr-only" for="ev-stream">Stream</label>
      <select id="ev-stream" value=${stream} onChange=${e => setStream(e.target.value)}>
        <option value="">All streams</option>${streams.map(s => html`<option value=${s}>${s}</option>`)}</select>
      <button class="small" onClick=${() => setEvents([])} data-testid="events-clear">Clear</button>
    </div>
    <p class="muted">Events appear here as the detectors report them, while this page is open (the newest ${KEEP} are kept).
      Recordings of past events are on the <a href="#/recordings">Recordings</a> page.</p>
    ${shown.length === 0 ? html`<div class="card muted">No events yet.</div>`
      : html`<ul class="events" data-testid="events">${shown.map(ev => html`<${EventItem} key=${ev.id} ev=${ev} />`)}</ul>`}`;
}
