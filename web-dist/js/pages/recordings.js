// Recordings: filter, page through, play with seeking (Range), download, protect,
// delete; a thumbnail per row and the recording's tags.
import { html, useState, useEffect, useRef } from '../lib.js';
import { allowed } from '../app.js';
import { get, put, del, enc } from '../api.js';
import { Modal, Loading, ErrorBanner, Spinner, Icon, toast, confirmDialog, fmtTime, fmtDuration } from '../ui.js';

const TYPES = [['', 'All types'], ['continuous', 'Continuous'], ['detection', 'Detection'], ['motion', 'Motion'], ['manual', 'Manual'], ['scheduled', 'Scheduled']];
const TYPE_NAME = Object.fromEntries(TYPES);

function isoDay(d, endOfDay) {
  // Local calendar day → UTC instant, the form LightNVR's filters take.
  const [y, m, day] = d.split('-').map(Number);
  const t = endOfDay ? new Date(y, m - 1, day, 23, 59, 59) : new Date(y, m - 1, day, 0, 0, 0);
  return t.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// A segment still being written has no final size yet: say so instead of "0 B".
function sizeOf(r) {
  return r.is_complete === false ? html`<span class="badge warn" title="Still being written">recording</span>` : (r.size || '');
}

function Player({ rec, onClose }) {
  const [err, setErr] = useState(null);
  return html`<${Modal} title=${`${rec.stream} · ${fmtTime(rec.start_time_unix || rec.start_time)}`} onClose=${onClose} wide footer=${html`
      <a class="btn" href=${'/api/recordings/download/' + rec.id} download>Download</a>
      <button onClick=${onClose}>Close</button>`}>
    <div class="player">
      <video controls autoplay muted playsinline preload="metadata" data-testid="recording-video"
        src=${'/api/recordings/play/' + rec.id}
        onError=${e => setErr(e.target.error ? 'This recording cannot be played (' + (e.target.error.message || e.target.error.code) + ')' : 'Playback failed')}></video>
    </div>
    ${err && html`<div class="banner error" role="alert">${err}</div>`}
    <p class="muted">${fmtDuration(rec.duration)} · ${sizeOf(rec)} · ${rec.capture_method || ''}${rec.protected ? ' · protected' : ''}</p>
  <//>`;
}

// Kind says what wrote the recording (a detection clip or continuous
// recording) and what was detected during it.
function Kind({ r }) {
  const clip = r.trigger_type === 'detection';
  const labels = r.detection_labels || [];
  return html`${clip ? html`<span class="badge clip" title="Recorded around detection events">Detection clip</span>` : (TYPE_NAME[r.capture_method] || r.capture_method || '')}
    ${labels.length > 0 ? html` <span class="labels" data-testid="rec-labels">${labels.map(l => html`<span class="badge label" title=${l.count + ' detections'}>${l.label}${l.count > 1 ? ' ×' + l.count : ''}</span>`)}</span>`
      : r.has_detection && html` <span class="badge label">detections</span>`}`;
}

// THUMB_TRIES bounds how often a thumbnail still being made is asked for again.
const THUMB_TRIES = 8;

// Thumb shows a recording's first frame once its row is on screen. The server
// answers 503 with Retry-After while it makes the picture, and 404 when there
// is none to make (file gone, thumbnails off): then a placeholder stays.
function Thumb({ rec }) {
  const box = useRef(null);
  const [st, setSt] = useState({ s: rec.is_complete === false ? 'writing' : 'waiting' });
  useEffect(() => {
    if (rec.is_complete === false) return;
    let url = '', timer = 0, stopped = false;
    const ctl = new AbortController();
    const load = async tries => {
      try {
        const r = await fetch(`/api/recordings/thumbnail/${rec.id}/0`, { credentials: 'same-origin', signal: ctl.signal });
        if (r.status === 503 && tries > 1) {
          const wait = Math.min(Math.max(Number(r.headers.get('Retry-After')) || 2, 1), 30);
          setSt({ s: 'making' });
          timer = setTimeout(() => load(tries - 1), wait * 1000);
          return;
        }
        if (!r.ok) { setSt({ s: r.status === 404 ? 'none' : 'failed' }); return; }
        const blob = await r.blob();
        if (stopped) return;
        url = URL.createObjectURL(blob);
        setSt({ s: 'ok', url });
      } catch (e) { if (!stopped) setSt({ s: 'failed' }); }
    };
    const seen = new IntersectionObserver(es => {
      if (es.some(e => e.isIntersecting)) { seen.disconnect(); load(THUMB_TRIES); }
    });
    seen.observe(box.current);
    return () => { stopped = true; seen.disconnect(); ctl.abort(); clearTimeout(timer); if (url) URL.revokeObjectURL(url); };
  }, [rec.id, rec.is_complete]);
  if (st.s === 'ok') return html`<img ref=${box} class="rec-thumb" data-testid="rec-thumb" src=${st.url} alt=${'First frame of recording ' + rec.id} />`;
  const text = { writing: 'recording', making: '…', none: 'no preview', failed: 'no preview' }[st.s] || '';
  return html`<div ref=${box} class="rec-thumb" data-testid="rec-thumb-placeholder" data-state=${st.s} aria-hidden="true">${text}</div>`;
}

// Tags lists a recording's tags as chips; a writer adds and removes them,
// each change saved as the recording's whole list.
function Tags({ rec, canEdit, onSaved }) {
  const [tags, setTags] = useState(rec.tags || []);
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => setTags(rec.tags || []), [rec.id, (rec.tags || []).join()]);
  const save = async next => {
    setBusy(true);
    try {
      const r = await put(`/api/recordings/${rec.id}/tags`, { tags: next });
      setTags(r.tags || []);
      setText('');
      onSaved();
    } catch (e) { toast(e.message, 'error'); }
    setBusy(false);
  };
  const add = e => {
    e.preventDefault();
    const t = text.trim();
    if (t && !tags.includes(t)) save([...tags, t]);
  };
  if (!canEdit && tags.length === 0) return '';
  return html`<div class="chips" data-testid="rec-tags">
    ${tags.map(t => html`<span class="chip" data-tag=${t}>${t}${canEdit && html`<button type="button" disabled=${busy}
      onClick=${() => save(tags.filter(x => x !== t))} aria-label=${`Remove tag ${t} from recording ${rec.id}`}>×</button>`}</span>`)}
    ${canEdit && html`<form onSubmit=${add} style="display:contents">
      <input value=${text} onInput=${e => setText(e.target.value)} placeholder="+ tag" maxlength="64" disabled=${busy}
        data-testid="rec-tag-input" aria-label=${'Add a tag to recording ' + rec.id} /></form>`}
  </div>`;
}

export function RecordingsPage({ me }) {
  const [streams, setStreams] = useState([]);
  const [filters, setFilters] = useState({ stream: '', from: '', to: '', type: '', detection: '', label: '', protected: '', tag: '' });
  const [labels, setLabels] = useState([]);
  const [tagList, setTagList] = useState([]);
  const [page, setPage] = useState(1);
  const [limit, setLimit] = useState(20);
  const [state, setState] = useState({ loading: true, data: null, error: null });
  const [playing, setPlaying] = useState(null);
  const [busy, setBusy] = useState(0);
  const canDelete = me.role === 'admin' || me.role === 'user';
  const canTag = allowed(me.role, 'writer');
  const loadTags = () => get('/api/recordings/tags').then(r => setTagList((r && r.tags) || [])).catch(() => {});

  useEffect(() => {
    get('/api/streams').then(l => setStreams(Array.isArray(l) ? l : [])).catch(() => {});
    get('/api/recordings/detection-labels').then(r => setLabels((r && r.labels) || [])).catch(() => {});
    loadTags();
  }, []);
  const load = async () => {
    setState(s => ({ ...s, loading: true, error: null }));
    const q = new URLSearchParams({ page, limit, sort: 'start_time', order: 'desc' });
    if (filters.stream) q.set('stream', filters.stream);
    if (filters.from) q.set('start', isoDay(filters.from, false));
    if (filters.to) q.set('end', isoDay(filters.to, true));
    if (filters.type) q.set('capture_method', filters.type);
    if (filters.detection) q.set('has_detection', filters.detection);
    if (filters.label) q.set('detection_label', filters.label);
    if (filters.protected) q.set('protected', filters.protected);
    if (filters.tag) q.set('tag', filters.tag);
    try {
      const data = await get('/api/recordings?' + q);
      setState({ loading: false, data, error: null });
    } catch (e) { setState({ loading: false, data: null, error: e }); }
  };
  useEffect(() => { load(); }, [page, limit, filters]);
  const setFilter = k => e => { setPage(1); setFilters(f => ({ ...f, [k]: e.target.value })); };

  const protect = async r => {
    setBusy(r.id);
    try { await put(`/api/recordings/${r.id}/protect`, { protected: !r.protected }); toast(r.protected ? 'Protection removed' : 'Recording protected', 'ok'); await load(); }
    catch (e) { toast(e.message, 'error'); }
    setBusy(0);
  };
  const remove = async r => {
    if (r.protected) { toast('Unprotect the recording before deleting it', 'error'); return; }
    if (!await confirmDialog('Delete recording', `Delete the ${r.stream} recording from ${fmtTime(r.start_time_unix || r.start_time)}? This cannot be undone.`)) return;
    setBusy(r.id);
    try { await del('/api/recordings/' + r.id); toast('Recording deleted', 'ok'); await load(); }
    catch (e) { toast(e.message, 'error'); }
    setBusy(0);
  };

  const recs = (state.data && state.data.recordings) || [];
  const pg = (state.data && state.data.pagination) || { page, pages: 1, total: recs.length };
  return html`
    <div class="toolbar"><h1 style="margin:0" class="grow">Recordings</h1>${state.loading && html`<${Spinner} label="Loading recordings" />`}</div>
    <form class="card grid-form" onSubmit=${e => e.preventDefault()} aria-label="Filters">
      <div class="field"><label for="rf-stream">Stream</label>
        <select id="rf-stream" value=${filters.stream} onChange=${setFilter('stream')}>
          <option value="">All streams</option>${streams.map(s => html`<option value=${s.name}>${s.name}</option>`)}</select></div>
      <div class="field"><label for="rf-from">From</label><input id="rf-from" type="date" value=${filters.from} onChange=${setFilter('from')} /></div>
      <div class="field"><label for="rf-to">To</label><input id="rf-to" type="date" value=${filters.to} onChange=${setFilter('to')} /></div>
      <div class="field"><label for="rf-type">Type</label>
        <select id="rf-type" value=${filters.type} onChange=${setFilter('type')}>${TYPES.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select></div>
      <div class="field"><label for="rf-det">Detections</label>
        <select id="rf-det" value=${filters.detection} onChange=${setFilter('detection')}>
          <option value="">Any</option><option value="1">With detections</option><option value="0">Without</option></select></div>
      <div class="field"><label for="rf-label">Detected</label>
        <select id="rf-label" value=${filters.label} onChange=${setFilter('label')}>
          <option value="">Any label</option>${labels.map(l => html`<option value=${l}>${l}</option>`)}</select></div>
      <div class="field"><label for="rf-prot">Protected</label>
        <select id="rf-prot" value=${filters.protected} onChange=${setFilter('protected')}>
          <option value="">Any</option><option value="1">Protected only</option><option value="0">Unprotected</option></select></div>
      <div class="field"><label for="rf-tag">Tag</label>
        <select id="rf-tag" value=${filters.tag} onChange=${setFilter('tag')}>
          <option value="">Any tag</option>${tagList.map(t => html`<option value=${t}>${t}</option>`)}</select></div>
    </form>
    <${ErrorBanner} error=${state.error && (state.error.status === 404 ? new Error('The recordings API is not available on this server (' + state.error.message + ')') : state.error)} retry=${load} />
    ${!state.data && state.loading ? html`<${Loading} what="Loading recordings" />` : state.data && html`
    <div class="table-wrap"><table data-testid="recordings-table">
      <thead><tr><th class="opt"><span class="sr-only">Preview</span></th><th>Stream</th><th>Start</th><th class="opt">Duration</th><th class="opt">Size</th><th class="opt">Type</th><th>Actions</th></tr></thead>
      <tbody>
        ${recs.length === 0 && html`<tr><td colspan="7" class="muted">No recordings match these filters.</td></tr>`}
        ${recs.map(r => html`<tr key=${r.id} data-recording=${r.id} data-complete=${r.is_complete === false ? 'false' : 'true'} data-trigger=${r.trigger_type || ''}>
          <td class="opt"><${Thumb} rec=${r} /></td>
          <td>${r.stream}${r.protected && html` <span class="badge warn" title="Protected from retention"><${Icon} name="lock" /> protected</span>`}
            <${Tags} rec=${r} canEdit=${canTag} onSaved=${loadTags} /></td>
          <td>${fmtTime(r.start_time_unix || r.start_time)}</td>
          <td class="opt">${fmtDuration(r.duration)}</td>
          <td class="opt">${sizeOf(r)}</td>
          <td class="opt"><${Kind} r=${r} /></td>
          <td><div class="actions">
            <button class="small primary" onClick=${() => setPlaying(r)} aria-label=${'Play recording ' + r.id}><${Icon} name="play" /> Play</button>
            <a class="btn small" href=${'/api/recordings/download/' + r.id} download aria-label=${'Download recording ' + r.id}>Download</a>
            <button class="small" onClick=${() => protect(r)} disabled=${busy === r.id} aria-pressed=${r.protected ? 'true' : 'false'}>${r.protected ? 'Unprotect' : 'Protect'}</button>
            ${canDelete && html`<button class="small" onClick=${() => remove(r)} disabled=${busy === r.id} aria-label=${'Delete recording ' + r.id}>Delete</button>`}
          </div></td></tr>`)}
      </tbody></table></div>
    <div class="pager">
      <span class="muted">${pg.total} recordings</span>
      <label class="sr-only" for="rf-limit">Per page</label>
      <select id="rf-limit" value=${limit} onChange=${e => { setPage(1); setLimit(Number(e.target.value)); }}>${[20, 50, 100].map(n => html`<option value=${n}>${n} / page</option>`)}</select>
      <button class="small" disabled=${page <= 1} onClick=${() => setPage(page - 1)} aria-label="Previous page">‹</button>
      <span>Page ${pg.page || page} of ${Math.max(1, pg.pages || 1)}</span>
      <button class="small" disabled=${page >= (pg.pages || 1)} onClick=${() => setPage(page + 1)} aria-label="Next page">›</button>
    </div>`}
    ${playing && html`<${Player} rec=${playing} onClose=${() => setPlaying(null)} />`}`;
}
