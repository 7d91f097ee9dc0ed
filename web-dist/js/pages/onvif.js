// ONVIF discovery: scan the network, pick a camera, give its credentials,
// list its media profiles and add one as a stream.
import { html, useState, useEffect } from '../lib.js';
import { get, post } from '../api.js';
import { Field, Spinner, ErrorBanner, fmtTime } from '../ui.js';

// streamName suggests a stream name from a device and profile, in the
// characters the server takes.
function streamName(...parts) {
  return parts.filter(Boolean).join('_').replace(/[^A-Za-z0-9_-]+/g, '_').replace(/^_+|_+$/g, '').slice(0, 48);
}

function profileLabel(p) {
  const size = p.width && p.height ? `${p.width}×${p.height}` : 'size unknown';
  return `${p.name || p.token} · ${size} · ${p.encoding || 'codec unknown'}${p.fps ? ' @ ' + p.fps + ' fps' : ''}`;
}

function Scanner({ onPick }) {
  const [network, setNetwork] = useState('');
  const [devices, setDevices] = useState(null);
  const [scan, setScan] = useState(null); // {busy} | {found} | {error}
  const loadDevices = () => get('/api/onvif/devices').then(r => setDevices(r.devices || []));
  useEffect(() => {
    get('/api/onvif/discovery/status').then(s => setNetwork(s.network || 'auto')).catch(e => setScan({ error: e }));
    loadDevices().catch(e => setScan({ error: e }));
  }, []);
  const run = async e => {
    e.preventDefault();
    setScan({ busy: true });
    try {
      const r = await post('/api/onvif/discovery/discover', network.trim() ? { network: network.trim() } : {});
      await loadDevices();
      setScan({ found: (r.devices || []).length });
    } catch (err) { setScan({ error: err }); }
  };
  return html`<section class="card">
    <h2>Find cameras</h2>
    <form class="toolbar" onSubmit=${run}>
      <${Field} id="onvif-network" label="Network" value=${network} onInput=${setNetwork}
        hint="“auto” asks every camera on this box's networks; a range such as 192.168.1.0/24 asks each address" />
      <button type="submit" class="primary" disabled=${scan && scan.busy} data-testid="onvif-scan">
        ${scan && scan.busy && html`<${Spinner} label="Scanning" />`} Scan</button>
      <span role="status" data-testid="onvif-scan-status">${scan && scan.busy ? 'Scanning… (a few seconds)'
        : scan && scan.found !== undefined ? `Found ${scan.found} device${scan.found === 1 ? '' : 's'} in this scan` : ''}</span>
    </form>
    ${scan && scan.error && html`<div data-testid="onvif-scan-error"><${ErrorBanner} error=${scan.error} /></div>`}
    ${devices && html`<div class="table-wrap"><table data-testid="onvif-devices">
      <thead><tr><th>Device</th><th>Address</th><th class="opt">Found</th><th>State</th><th></th></tr></thead>
      <tbody>
        ${devices.length === 0 && html`<tr><td colspan="5" class="muted">No devices found yet. Scan, or type a camera's address below.</td></tr>`}
        ${devices.map(d => html`<tr key=${d.device_service} data-device=${d.device_service}>
          <td><strong>${d.name || d.model || 'ONVIF device'}</strong><div class="muted">${[d.manufacturer, d.model, d.firmware_version].filter(Boolean).join(' · ')}</div></td>
          <td><code class="key">${d.device_service}</code></td>
          <td class="opt">${fmtTime(d.discovery_time)}</td>
          <td><span class=${'badge ' + (d.online ? 'ok' : 'off')}>${d.online ? 'Online' : 'Not seen in the last scan'}</span></td>
          <td><button class="small" onClick=${() => onPick(d)} aria-label=${'Use ' + d.device_service}>Use</button></td>
        </tr>`)}
      </tbody></table></div>`}
  </section>`;
}

// AddForm asks the chosen device for its profiles with the user's
// credentials and adds one as a stream. Every refusal shows beside it.
function AddForm({ device }) {
  const [f, setF] = useState({ url: '', username: '', password: '', name: '' });
  const [profiles, setProfiles] = useState(null);
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState('');
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null); // the message of the last success
  const set = k => v => setF(o => ({ ...o, [k]: v }));
  useEffect(() => {
    if (!device) return;
    setF(o => ({ ...o, url: device.device_service, name: '' }));
    setProfiles(null); setError(null); setDone(null);
  }, [device]);

  const act = async (what, fn) => {
    setBusy(what); setError(null); setDone(null);
    try { await fn(); } catch (e) { setError(e); }
    setBusy('');
  };
  const load = () => act('profiles', async () => {
    setProfiles(null);
    // The device and its credentials travel in headers, not in the URL.
    const r = await get('/api/onvif/device/profiles', { headers: { 'X-Device-URL': f.url.trim(), 'X-Username': f.username, 'X-Password': f.password } });
    const list = r.profiles || [];
    setProfiles(list);
    if (!list.length) throw new Error('The camera lists no media profiles');
    setToken(list[0].token);
    if (!f.name) set('name')(streamName(device && (device.name || device.model), list[0].name) || 'camera');
  });
  const test = () => act('test', async () => {
    const r = await post('/api/onvif/device/test', { url: f.url.trim(), username: f.username, password: f.password });
    if (!r.success) throw new Error(r.message || 'Connection failed');
    setDone(r.message || 'Connected');
  });
  const add = e => {
    e.preventDefault();
    return act('add', async () => {
      const r = await post('/api/onvif/device/add', { device_url: f.url.trim(), profile_token: token, stream_name: f.name.trim(), username: f.username, password: f.password });
      setDone(`Stream ${r.stream_name || f.name} added.`);
    });
  };
  const profile = profiles && profiles.find(p => p.token === token);
  return html`<section class="card">
    <h2>Add a camera</h2>
    <form onSubmit=${add} autocomplete="off">
      <div class="grid-form">
        <${Field} id="onvif-url" label="Device service URL" value=${f.url} onInput=${set('url')} placeholder="http://192.168.1.20/onvif/device_service" required />
        <${Field} id="onvif-user" label="Username" value=${f.username} onInput=${set('username')} autocomplete="off" />
        <${Field} id="onvif-pass" label="Password" type="password" value=${f.password} onInput=${set('password')} autocomplete="new-password" />
      </div>
      <div class="toolbar">
        <button type="button" onClick=${load} disabled=${!f.url.trim() || !!busy} data-testid="onvif-load">
          ${busy === 'profiles' && html`<${Spinner} label="Loading profiles" />`} Load profiles</button>
        <button type="button" onClick=${test} disabled=${!f.url.trim() || !!busy} data-testid="onvif-test">
          ${busy === 'test' && html`<${Spinner} label="Testing" />`} Test connection</button>
      </div>
      ${profiles && profiles.length > 0 && html`<div class="grid-form">
        <${Field} id="onvif-profile" label="Profile" type="select" value=${token} onInput=${setToken} options=${profiles.map(p => [p.token, profileLabel(p)])} />
        <${Field} id="onvif-name" label="Stream name" value=${f.name} onInput=${set('name')} required hint="Letters, digits, “-” and “_”" />
      </div>
      ${profile && profile.stream_uri && html`<p class="muted">Stream: <code class="key">${profile.stream_uri}</code></p>`}
      <div class="toolbar">
        <button type="submit" class="primary" disabled=${!!busy || !f.name.trim()} data-testid="onvif-add">
          ${busy === 'add' && html`<${Spinner} label="Adding" />`} Add</button>
      </div>`}
    </form>
    <div aria-live="polite">
      ${error && html`<div class="banner error" role="alert" data-testid="onvif-error">${error.message || String(error)}</div>`}
      ${done && html`<div class="banner ok" data-testid="onvif-done">${done} ${busy === '' && done.startsWith('Stream ') && html`<a href="#/streams">Streams</a> · <a href="#/live">Live view</a>`}</div>`}
    </div>
  </section>`;
}

export function OnvifPage() {
  const [device, setDevice] = useState(null);
  return html`<h1>ONVIF cameras</h1>
    <${Scanner} onPick=${setDevice} />
    <${AddForm} device=${device} />`;
}
