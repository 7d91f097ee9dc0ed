// Live view: a 1/4/9/16 grid of cameras, each playing through the go2rtc proxy
// (or lightnvr's live HLS), each with a manual record button.
import { html, useState, useEffect, useRef } from '../lib.js';
import { get, post, enc } from '../api.js';
import { Loading, ErrorBanner, Icon, toast } from '../ui.js';
import { LivePlayer } from '../player.js';
import { CameraPanel, hasControls } from '../camera.js';
import { allowed } from '../app.js';

const LAYOUTS = [1, 4, 9, 16];

function statusClass(s) {
  switch ((s || '').toLowerCase()) {
    case 'running': return 'ok';
    case 'starting': case 'reconnecting': return 'warn';
    case 'error': return 'bad';
    default: return 'off';
  }
}

// REC_POLL is how often (ms) a cell asks what its stream records: a manual
// recording ends by itself after an hour, or when another user stops it.
const REC_POLL = 10000;

const REC_REASON = {
  continuous_recording: 'This stream records continuously: there is nothing to start',
  read_only: 'Your role may not start recordings',
};

// RecordButton starts and stops a manual recording of the stream, and says
// why it cannot when the server does not allow it.
function RecordButton({ name }) {
  const [st, setSt] = useState(null);
  const [busy, setBusy] = useState(false);
  const path = `/api/streams/${enc(name)}/recording`;
  const load = () => get(path).then(setSt).catch(() => setSt(null));
  useEffect(() => {
    load();
    const t = setInterval(load, REC_POLL);
    return () => clearInterval(t);
  }, [name]);
  if (!st) return '';
  const manual = st.capture_method === 'manual' && st.recording_active;
  const toggle = async () => {
    setBusy(true);
    try {
      await post(path, { action: manual ? 'stop' : 'start' });
      toast(manual ? 'Recording stopped' : 'Recording started', 'ok');
    } catch (e) { toast(e.message, 'error'); }
    await load();
    setBusy(false);
  };
  const why = st.manual_control_allowed ? '' : (REC_REASON[st.manual_control_reason] || 'Manual recording is not available');
  const label = manual ? `Stop recording ${name}` : `Record ${name}`;
  return html`<button class=${'small' + (manual ? ' rec-on' : '')} onClick=${toggle} disabled=${busy || !st.manual_control_allowed}
    data-testid="live-record" data-state=${st.state} data-manual=${manual ? 'true' : 'false'} data-reason=${st.manual_control_reason || ''}
    aria-pressed=${manual ? 'true' : 'false'} aria-label=${why ? label + ' (' + why + ')' : label} title=${why || (manual ? 'Stop recording' : 'Record now')}>
    <${Icon} name="record" />${manual ? (st.state === 'starting' ? ' Starting' : ' REC') : ''}</button>`;
}

function LiveCell({ stream, small, mode, webrtcTimeoutMs, onControls }) {
  const video = useRef(null);
  const cell = useRef(null);
  const [state, setState] = useState({ s: 'connecting', detail: '' });
  const [gen, setGen] = useState(0);
  const src = small && stream.has_sub_stream ? stream.name + '_sub' : stream.name;
  useEffect(() => {
    const p = new LivePlayer(video.current, src, { mode, webrtcTimeoutMs, onState: (s, detail) => setState({ s, detail: detail || '' }) });
    p.start();
    return () => p.stop();
  }, [src, mode, gen]);

  const snapshot = async () => {
    try {
      const r = await fetch('/go2rtc/api/frame.jpeg?src=' + enc(stream.name) + '&t=' + Date.now(), { credentials: 'same-origin' });
      if (!r.ok) throw new Error('snapshot failed: ' + r.status);
      const url = URL.createObjectURL(await r.blob());
      const a = document.createElement('a');
      a.href = url;
      a.download = `${stream.name}-${new Date().toISOString().replace(/[:.]/g, '-')}.jpg`;
      document.body.appendChild(a); a.click(); a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 5000);
      toast('Snapshot saved', 'ok');
    } catch (e) { toast(e.message, 'error'); }
  };
  const fullscreen = () => {
    if (document.fullscreenElement) document.exitFullscreen();
    else if (cell.current.requestFullscreen) cell.current.requestFullscreen().catch(e => toast(e.message, 'error'));
  };
  const live = state.s === 'playing';
  const badge = live ? ['ok', 'Live · ' + state.detail] : state.s === 'error' ? ['bad', 'Error'] : ['warn', 'Connecting'];
  return html`<div class="cell" ref=${cell} data-stream=${stream.name} onDblClick=${fullscreen}>
    <video ref=${video} muted playsinline autoplay aria-label=${'Live video of ' + stream.name}></video>
    ${!live && html`<div class="center">${state.s === 'error' ? state.detail : 'Connecting…'}</div>`}
    <div class="overlay">
      <span class="name" title=${stream.name}>${stream.name}</span>
      <span class=${'badge ' + badge[0]} data-testid="live-badge" title=${'Stream status: ' + (stream.status || 'unknown')}>${badge[1]}</span>
      ${state.s === 'error' && html`<button class="small" onClick=${() => setGen(g => g + 1)} aria-label=${'Reconnect ' + stream.name} title="Reconnect"><${Icon} name="reload" /></button>`}
      <${RecordButton} name=${stream.name} />
      ${onControls && html`<button class="small" onClick=${onControls} aria-label=${'Camera controls of ' + stream.name} title="Camera controls" data-testid="live-controls"><${Icon} name="ptz" /></button>`}
      <button class="small" onClick=${snapshot} aria-label=${'Snapshot of ' + stream.name} title="Snapshot"><${Icon} name="camera" /></button>
      <button class="small" onClick=${fullscreen} aria-label=${'Fullscreen ' + stream.name} title="Fullscreen"><${Icon} name="fullscreen" /></button>
    </div>
  </div>`;
}

export function LivePage({ me }) {
  const [streams, setStreams] = useState(null);
  const [error, setError] = useState(null);
  const [layout, setLayout] = useState(() => Number(localStorage.getItem('lightnvr.layout')) || 4);
  const [mode, setMode] = useState(() => localStorage.getItem('lightnvr.livemode') || 'auto');
  const [page, setPage] = useState(0);
  const [timeoutMs, setTimeoutMs] = useState(8000);
  const [controls, setControls] = useState(null); // the stream whose camera panel is open
  // Viewers see no controls: moving a camera or changing its picture takes a writer.
  const canControl = allowed(me && me.role, 'writer');

  const load = () => get('/api/streams').then(list => { setStreams(Array.isArray(list) ? list : (list.streams || [])); setError(null); }).catch(setError);
  useEffect(() => {
    load();
    // Status badges follow the server; the players themselves keep running.
    const t = setInterval(load, 15000);
    get('/api/settings').then(s => { if (s && s.webrtc_connection_timeout_ms >= 1000) setTimeoutMs(Math.min(s.webrtc_connection_timeout_ms, 15000)); }).catch(() => {});
    return () => clearInterval(t);
  }, []);
  useEffect(() => { localStorage.setItem('lightnvr.layout', layout); setPage(0); }, [layout]);
  useEffect(() => { localStorage.setItem('lightnvr.livemode', mode); }, [mode]);

  if (!streams) return html`<h1>Live view</h1>${error ? html`<${ErrorBanner} error=${error} retry=${load} />` : html`<${Loading} what="Loading cameras" />`}`;
  const live = streams.filter(s => s.enabled !== false && s.streaming_enabled !== false);
  const pages = Math.max(1, Math.ceil(live.length / layout));
  const shown = live.slice(page * layout, page * layout + layout);
  const panel = canControl && controls && live.find(s => s.name === controls && hasControls(s));
  return html`
    <div class="toolbar">
      <h1 style="margin:0" class="grow">Live view</h1>
      <div role="group" aria-label="Grid layout">
        ${LAYOUTS.map(n => html`<button class="small" aria-pressed=${layout === n ? 'true' : 'false'} onClick=${() => setLayout(n)} title=${n + ' cameras'}>${n === 1 ? '1' : Math.sqrt(n) + '×' + Math.sqrt(n)}</button>`)}
      </div>
      <label class="sr-only" for="livemode">Transport</label>
      <select id="livemode" value=${mode} onChange=${e => setMode(e.target.value)} title="Transport">
        <option value="auto">Auto (WebRTC, then MSE, then HLS)</option>
        <option value="webrtc">WebRTC only</option>
        <option value="mse">MSE only</option>
        <option value="hls">HLS only</option>
      </select>
      ${pages > 1 && html`<span class="pager" style="margin:0">
        <button class="small" disabled=${page === 0} onClick=${() => setPage(page - 1)} aria-label="Previous cameras">‹</button>
        <span>${page + 1} / ${pages}</span>
        <button class="small" disabled=${page >= pages - 1} onClick=${() => setPage(page + 1)} aria-label="Next cameras">›</button></span>`}
    </div>
    <${ErrorBanner} error=${error} />
    ${live.length === 0 ? html`<div class="card"><p>No cameras yet.</p><a class="btn primary" href="#/streams">Add a stream</a></div>` : html`
      <div class=${'live-grid g' + layout}>
        ${shown.map(s => html`<${LiveCell} key=${s.name + mode} stream=${s} small=${layout > 1} mode=${mode} webrtcTimeoutMs=${timeoutMs}
          onControls=${canControl && hasControls(s) ? () => setControls(c => (c === s.name ? null : s.name)) : null} />`)}
        ${Array.from({ length: Math.max(0, Math.min(layout, live.length > layout ? layout : 0) - shown.length) }).map((_, i) => html`<div key=${'e' + i} class="cell empty">–</div>`)}
      </div>`}
    ${panel && html`<${CameraPanel} key=${panel.name} stream=${panel} onClose=${() => setControls(null)} />`}`;
}
