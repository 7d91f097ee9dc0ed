// System (admin): version, uptime, memory, storage chart, firmware update, per-stream health, logs, restart.
import { html, useState, useEffect, useRef } from '../lib.js';
import { get, post } from '../api.js';
import { Firmware } from './firmware.js';
import { Modal, Loading, ErrorBanner, Spinner, Sparkline, toast, confirmDialog, fmtBytes, fmtDuration, fmtBitrate } from '../ui.js';

// fps and bitrate_bps are measured by the stream's ingest, which also sets
// last_frame_ts once a frame arrived: before that show "–", not a "0 fps"
// that reads as a dead camera. The history arrays only feed the sparklines.
const measured = d => Number(d.last_frame_ts) > 0;

function Donut({ used, total, label }) {
  const frac = total > 0 ? Math.min(1, used / total) : 0;
  const r = 40, c = 2 * Math.PI * r;
  const cls = frac > 0.95 ? 'var(--bad)' : frac > 0.85 ? 'var(--warn)' : 'var(--accent)';
  return html`<svg viewBox="0 0 100 100" width="120" height="120" role="img" aria-label=${`${label}: ${Math.round(frac * 100)}% used`}>
    <circle cx="50" cy="50" r=${r} fill="none" stroke="var(--border)" stroke-width="14" />
    <circle cx="50" cy="50" r=${r} fill="none" stroke=${cls} stroke-width="14" stroke-dasharray=${`${c * frac} ${c}`} transform="rotate(-90 50 50)" />
    <text x="50" y="55" text-anchor="middle" font-size="16" fill="currentColor">${Math.round(frac * 100)}%</text></svg>`;
}

function Bar({ used, total }) {
  const pct = total > 0 ? Math.min(100, used / total * 100) : 0;
  return html`<div class="bar" role="meter" aria-valuemin="0" aria-valuemax="100" aria-valuenow=${Math.round(pct)}><span class=${pct > 95 ? 'bad' : pct > 85 ? 'warn' : ''} style=${`width:${pct}%`}></span></div>`;
}

// The HTTPS certificate: a user compares this fingerprint with the one the
// browser shows for the connection before trusting a self-signed certificate.
function Certificate({ tls }) {
  if (!tls || !tls.enabled) {
    return html`<section class="card" data-testid="tls"><h2>HTTPS</h2>
      <p class="muted">Off. Turn it on under Settings → Security ([web] https_enabled).</p></section>`;
  }
  const until = tls.not_after ? new Date(tls.not_after * 1000).toLocaleDateString() : '–';
  return html`<section class="card" data-testid="tls"><h2>HTTPS</h2>
    <div class="muted">${tls.self_signed ? 'Self-signed certificate' : 'Certificate'} for ${tls.subject || '–'}, valid until ${until}</div>
    <p>SHA-256 fingerprint:<br /><code class="key" data-testid="tls-fingerprint">${tls.fingerprint_sha256}</code></p>
    <p class="muted">It must match the fingerprint your browser shows for this site's certificate.</p>
    ${tls.names && tls.names.length > 0 && html`<p class="muted">Names: ${tls.names.join(', ')}</p>`}</section>`;
}

function Logs() {
  const [level, setLevel] = useState('info');
  const [lines, setLines] = useState([]);
  const [paused, setPaused] = useState(false);
  const [err, setErr] = useState(null);
  const box = useRef(null);
  const last = useRef('');
  useEffect(() => {
    last.current = '';
    setLines([]);
    let stop = false, timer = null;
    const poll = async () => {
      if (stop) return;
      if (!paused) {
        try {
          const q = new URLSearchParams({ level, count: 500 });
          if (last.current) q.set('since', last.current);
          const r = await get('/api/system/logs?' + q);
          const fresh = (r && r.logs) || [];
          if (r && r.last_seq != null) last.current = String(r.last_seq);
          if (fresh.length) setLines(l => [...l, ...fresh].slice(-1000));
          setErr(null);
        } catch (e) { setErr(e); }
      }
      timer = setTimeout(poll, 3000);
    };
    poll();
    return () => { stop = true; clearTimeout(timer); };
  }, [level, paused]);
  useEffect(() => { const b = box.current; if (b && !paused) b.scrollTop = b.scrollHeight; }, [lines]);
  return html`<section class="card" aria-labelledby="logs-h">
    <div class="toolbar"><h2 id="logs-h" style="margin:0" class="grow">Log</h2>
      <label for="log-level" class="sr-only">Level</label>
      <select id="log-level" value=${level} onChange=${e => setLevel(e.target.value)}>
        ${['error', 'warning', 'info', 'debug'].map(l => html`<option value=${l}>${l}</option>`)}</select>
      <button class="small" aria-pressed=${paused ? 'true' : 'false'} onClick=${() => setPaused(!paused)}>${paused ? 'Resume' : 'Pause'}</button>
      <button class="small" onClick=${() => setLines([])}>Clear view</button></div>
    <${ErrorBanner} error=${err} />
    <div class="logs" ref=${box} tabindex="0" aria-label="Log lines" aria-live="off" data-testid="logs">
      ${lines.length === 0 ? html`<span class="l-debug">No log lines yet.</span>` : lines.map((l, i) => html`<div key=${i} class=${'l-' + String(l.level).toLowerCase()}>${l.timestamp} [${l.level}] ${l.message}</div>`)}
    </div></section>`;
}

function Restart({ onClose }) {
  const [phase, setPhase] = useState('asking');
  const [err, setErr] = useState(null);
  const go = async () => {
    setPhase('restarting');
    try { await post('/api/system/restart'); } catch (e) { setErr(e); setPhase('failed'); return; }
    // Wait for the old process to go away and the new one to answer.
    const started = Date.now();
    await new Promise(r => setTimeout(r, 2000));
    while (Date.now() - started < 120000) {
      try { await get('/api/health', { noRedirect: true }); setPhase('done'); toast('LightNVR restarted', 'ok'); setTimeout(() => location.reload(), 800); return; }
      catch { await new Promise(r => setTimeout(r, 1500)); }
    }
    setErr(new Error('LightNVR did not come back within 2 minutes')); setPhase('failed');
  };
  return html`<${Modal} title="Restart LightNVR" onClose=${phase === 'restarting' ? null : onClose} footer=${phase === 'asking' ? html`
      <button onClick=${onClose}>Cancel</button><button class="danger" onClick=${go}>Restart</button>` : phase === 'failed' ? html`<button onClick=${onClose}>Close</button>` : null}>
    ${phase === 'asking' && html`<p>Live view and recording stop for a few seconds while LightNVR restarts.</p>`}
    ${phase === 'restarting' && html`<p><${Spinner} label="Restarting" /> Restarting… waiting for LightNVR to answer again.</p><progress aria-label="Restarting"></progress>`}
    ${phase === 'done' && html`<p>Back online.</p>`}
    <${ErrorBanner} error=${err} />
  <//>`;
}

export function SystemPage() {
  const [info, setInfo] = useState(null);
  const [health, setHealth] = useState(null);
  const [err, setErr] = useState(null);
  const [restart, setRestart] = useState(false);
  const load = async () => {
    const [i, h] = await Promise.allSettled([get('/api/system/info'), get('/api/health?sparklines=1')]);
    if (i.status === 'fulfilled') setInfo(i.value);
    if (h.status === 'fulfilled') setHealth(h.value);
    const bad = [i, h].find(x => x.status === 'rejected');
    setErr(bad ? bad.reason : null);
  };
  useEffect(() => { load(); const t = setInterval(load, 10000); return () => clearInterval(t); }, []);
  if (!info && !health) return html`<h1>System</h1>${err ? html`<${ErrorBanner} error=${err} retry=${load} />` : html`<${Loading} what="Loading system status" />`}`;
  const mem = (info && (info.memory || info.systemMemory)) || {};
  const disk = (info && info.disk) || {};
  const st = (health && health.storage) || {};
  const diskTotal = disk.total || ((st.used_bytes || 0) + (st.available_bytes || 0));
  const diskUsed = disk.used || st.used_bytes || 0;
  const detail = (health && health.streams_detail) || [];
  return html`
    <div class="toolbar"><h1 style="margin:0" class="grow">System</h1>
      <button class="danger" onClick=${() => setRestart(true)}>Restart…</button></div>
    <${ErrorBanner} error=${err} retry=${load} />
    <div class="cards">
      <section class="card"><h2>LightNVR</h2>
        <div class="stat" data-testid="version">${(info && info.version) || '–'}</div>
        <div class="muted">${info && info.git_commit ? 'commit ' + info.git_commit : ''}</div>
        <p>Up ${fmtDuration((info && info.uptime) || (health && health.uptime))} · status <span class=${'badge ' + ({ healthy: 'ok', degraded: 'warn', critical: 'bad' }[health && health.status] || 'off')}>${(health && health.status) || '–'}</span></p>
        ${info && info.cpu && html`<p class="muted">${info.cpu.model || ''} · ${info.cpu.cores || '?'} cores${info.cpu.usage != null ? ` · ${Math.round(info.cpu.usage)}% CPU` : ''}</p>`}
      </section>
      <section class="card"><h2>Memory</h2>
        <div class="stat">${fmtBytes(mem.used)}</div><div class="muted">of ${fmtBytes(mem.total)}</div>
        <${Bar} used=${mem.used || 0} total=${mem.total || 0} />
        ${info && info.go2rtcMemory && info.go2rtcMemory.used != null && html`<p class="muted">go2rtc: ${fmtBytes(info.go2rtcMemory.used)}</p>`}
      </section>
      <section class="card"><h2>Storage</h2>
        <div class="toolbar" style="margin:0"><${Donut} used=${diskUsed} total=${diskTotal} label="Recording disk" />
          <div><div class="stat">${fmtBytes(diskUsed)}</div><div class="muted">used of ${fmtBytes(diskTotal)}</div>
          <div class="muted">${fmtBytes(disk.free != null ? disk.free : st.available_bytes)} free</div>
          ${info && info.recordings && html`<div class="muted">${info.recordings.count} recordings · ${fmtBytes(info.recordings.size)}</div>`}</div></div>
      </section>
      ${info && html`<${Certificate} tls=${info.tls} />`}
      ${health && html`<section class="card"><h2>Streams</h2>
        <div class="stat">${health.streams ? health.streams.up : 0} / ${health.streams ? health.streams.total : 0} up</div>
        <div class="muted">${health.streams ? `${health.streams.degraded} degraded · ${health.streams.down} down` : ''}</div></section>`}
    </div>
    <div style="margin-top:1rem"><${Firmware} /></div>
    <h2>Stream health</h2>
    <div class="table-wrap"><table data-testid="health-table">
      <thead><tr><th>Stream</th><th>Status</th><th>FPS</th><th class="opt">FPS history</th><th>Bitrate</th><th class="opt">Bitrate history</th><th class="opt">Uptime</th><th class="opt">Reconnects</th></tr></thead>
      <tbody>
        ${detail.length === 0 && html`<tr><td colspan="8" class="muted">No streams.</td></tr>`}
        ${detail.map(d => html`<tr key=${d.name}>
          <td>${d.name}</td>
          <td><span class=${'badge ' + ({ up: 'ok', degraded: 'warn', down: 'bad' }[d.status] || 'off')} title=${d.last_error || ''}>${d.status}</span></td>
          <td data-testid=${'fps-' + d.name}>${measured(d) ? Number(d.fps || 0).toFixed(1) : '–'}</td>
          <td class="opt"><${Sparkline} values=${d.sparkline_fps} label=${'FPS history of ' + d.name} /></td>
          <td data-testid=${'bitrate-' + d.name}>${measured(d) ? fmtBitrate(d.bitrate_bps) : '–'}</td>
          <td class="opt"><${Sparkline} values=${d.sparkline_bitrate} label=${'Bitrate history of ' + d.name} /></td>
          <td class="opt">${fmtDuration(d.uptime_seconds)}</td>
          <td class="opt">${d.reconnects}</td></tr>`)}
      </tbody></table></div>
    <h2 class="sr-only">Log</h2>
    <div style="margin-top:1rem"><${Logs} /></div>
    ${restart && html`<${Restart} onClose=${() => setRestart(false)} />`}`;
}

export { confirmDialog };
