// Firmware update (System page, admin): both A/B slots, and a bundle installed
// from a file upload or pulled by the device from a URL (docs/ota.md).
import { html, useState, useEffect } from '../lib.js';
import { get, post } from '../api.js';
import { ErrorBanner, fmtBytes } from '../ui.js';

// upload sends the bundle as the raw body; fetch cannot report upload
// progress, XMLHttpRequest can.
function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const x = new XMLHttpRequest();
    x.open('POST', '/api/system/ota');
    x.setRequestHeader('Content-Type', 'application/octet-stream');
    x.setRequestHeader('X-Requested-With', 'XMLHttpRequest');
    x.upload.onprogress = e => e.lengthComputable && onProgress(e.loaded / e.total);
    x.onload = () => {
      let d = {};
      try { d = JSON.parse(x.responseText); } catch { /* not JSON: use the status */ }
      x.status === 200 ? resolve(d) : reject(new Error(d.error || `${x.status} ${x.statusText}`));
    };
    x.onerror = () => reject(new Error('The upload was cut off'));
    x.send(file);
  });
}

export function Firmware() {
  const [st, setSt] = useState(null);
  const [off, setOff] = useState(null);
  const [err, setErr] = useState(null);
  const [file, setFile] = useState(null);
  const [url, setUrl] = useState('');
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState(null);
  const [done, setDone] = useState(null);
  const load = () => get('/api/system/ota/status').then(s => { setSt(s); setErr(null); },
    e => e.status === 503 ? setOff(e.message) : setErr(e));
  useEffect(() => { load(); }, []);
  // The install runs while the bundle arrives: follow it on the status route.
  useEffect(() => { if (!busy) return; const t = setInterval(load, 1000); return () => clearInterval(t); }, [busy]);
  const run = async (start) => {
    setBusy(true); setDone(null); setSent(null);
    try { setDone({ ok: (await start()).version }); } catch (e) { setDone({ err: e.message }); }
    setBusy(false); load();
  };
  const head = html`<h2>Firmware update</h2>`;
  if (off) return html`<section class="card" data-testid="ota">${head}<p class="muted" data-testid="ota-off">${off}</p></section>`;
  const up = (st && st.upload) || {};
  // A rollback's result belongs to the slot it left, not the one it boots.
  const resultSlot = st && (st.result === 'rolled-back' ? (st.boot_slot === 'a' ? 'b' : 'a') : st.boot_slot);
  return html`<section class="card" data-testid="ota">${head}
    <${ErrorBanner} error=${err} retry=${load} />
    ${st && html`<table data-testid="ota-slots"><thead><tr><th>Slot</th><th>Version</th><th>State</th></tr></thead><tbody>
      ${['a', 'b'].map(s => html`<tr key=${s}><td>${s.toUpperCase()}</td><td>${(st.versions || {})[s] || '–'}</td>
        <td>${[s === st.running_slot && 'running', s === st.boot_slot && 'next boot', s === resultSlot && st.result].filter(Boolean).join(', ')}</td></tr>`)}
      </tbody></table>
      ${st.result === 'rolled-back' && html`<div class="banner error" role="alert" data-testid="ota-rolled-back">Version ${st.result_version} failed and was rolled back.</div>`}`}
    <p><input type="file" aria-label="Firmware bundle" onChange=${e => setFile(e.target.files[0])} disabled=${busy} />
      <button disabled=${!file || busy} onClick=${() => run(() => upload(file, setSent))}>Install</button></p>
    <p class="toolbar"><input type="url" class="grow" aria-label="Bundle URL" placeholder="https://…/lightnvr-update.bundle" value=${url} onInput=${e => setUrl(e.target.value)} disabled=${busy} />
      <button disabled=${!url || busy} onClick=${() => run(() => post('/api/system/ota/url', { url }))}>Download and install</button></p>
    ${busy && sent != null && html`<label>Upload <progress data-testid="ota-upload" value=${sent} max="1"></progress></label>`}
    ${busy && up.state === 'installing' && html`<label>Install ${fmtBytes(up.written)} of ${fmtBytes(up.total)} <progress data-testid="ota-install" value=${up.written} max=${up.total || 1}></progress></label>`}
    ${done && (done.err ? html`<div class="banner error" role="alert" data-testid="ota-result">${done.err}</div>`
      : done.msg ? html`<div class="banner ok" data-testid="ota-result">${done.msg}</div>`
      : html`<div class="banner ok" data-testid="ota-result">Installed: reboot to start version ${done.ok}.
          <button data-testid="ota-reboot" onClick=${() => post('/api/system/reboot').then(
            () => setDone({ msg: 'Rebooting: this page works again once the device is back.' }), e => setDone({ err: e.message }))}>Reboot now</button></div>`)}
  </section>`;
}
