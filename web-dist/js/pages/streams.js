// Streams: add, edit, test, enable/disable and delete cameras (LightNVR's stream object).
import { html, useState, useEffect } from '../lib.js';
import { get, post, put, del, enc } from '../api.js';
import { Modal, Field, Loading, ErrorBanner, Spinner, Icon, toast, confirmDialog, useAsync, useForm } from '../ui.js';
import { DetectionFields, DETECTION_DEFAULTS, validateDetection, modeOf, MODE_LABEL } from '../detection.js';
import { ZoneEditor } from '../zones.js';

const NAME_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

const DEFAULTS = {
  name: '', url: '', enabled: true, streaming_enabled: true, priority: 5, record: true, segment_duration: 30,
  record_audio: true, detection_based_recording: false, pre_detection_buffer: 5, post_detection_buffer: 5,
  protocol: 0, retention_days: -1, sub_stream_url: '', tags: '', ...DETECTION_DEFAULTS,
  // isOnvif left unset: the server guesses it from the URL until it is ticked.
  isOnvif: undefined, ptz_enabled: false, onvif_port: 0, onvif_username: '', onvif_password: '', onvif_profile: '',
};
const EDITABLE = Object.keys(DEFAULTS);

function statusBadge(s) {
  const st = s.enabled === false ? 'Disabled' : (s.status || 'Unknown');
  const cls = { running: 'ok', starting: 'warn', reconnecting: 'warn', error: 'bad' }[st.toLowerCase()] || 'off';
  return html`<span class=${'badge ' + cls} title=${s.error_message || ''}>${st}</span>`;
}

function validate(f, isNew) {
  const e = {};
  if (isNew) {
    if (!f.name) e.name = 'A name is required';
    else if (!NAME_RE.test(f.name)) e.name = 'Letters, digits, ".", "-" and "_" only; not starting with "."';
  }
  if (!f.url) e.url = 'A source URL is required';
  else if (!/^[a-z][a-z0-9+.-]*:/i.test(f.url)) e.url = 'Use a URL such as rtsp://camera/stream';
  if (!(f.priority >= 1 && f.priority <= 10)) e.priority = 'Between 1 and 10';
  if (!(f.segment_duration >= 5 && f.segment_duration <= 3600)) e.segment_duration = 'Between 5 and 3600 seconds';
  if (!(f.retention_days >= -1 && f.retention_days <= 365)) e.retention_days = '-1 (inherit), 0 (keep) or up to 365 days';
  if (!(f.pre_detection_buffer >= 0 && f.pre_detection_buffer <= 60)) e.pre_detection_buffer = '0–60 seconds';
  if (!(f.post_detection_buffer >= 0 && f.post_detection_buffer <= 300)) e.post_detection_buffer = '0–300 seconds';
  if (!(f.onvif_port >= 0 && f.onvif_port <= 65535)) e.onvif_port = '0 (port 80) up to 65535';
  return validateDetection(f, e);
}

function StreamForm({ initial, onClose, onSaved }) {
  const isNew = !initial;
  const { f, set, setMany, errors, busy, save } = useForm(() => { const o = { ...DEFAULTS }; if (initial) for (const k of EDITABLE) if (initial[k] !== undefined && initial[k] !== null) o[k] = initial[k]; return o; }, {
    validate: f => validate(f, isNew),
    fields: EDITABLE,
    submit: async f => {
      const body = { ...f, protocol: Number(f.protocol) };
      if (isNew) await post('/api/streams', body);
      else { delete body.name; await put('/api/streams/' + enc(initial.name), body); }
      toast(isNew ? `Stream ${f.name} added` : `Stream ${initial.name} saved`, 'ok');
      onSaved();
    },
  });
  const [test, setTest] = useState(null);

  const runTest = async () => {
    setTest({ busy: true });
    try {
      const r = await post('/api/streams/test', { url: f.url, protocol: Number(f.protocol) });
      setTest({ ok: !!r.success, msg: r.success ? (r.info ? `Connected: ${r.info.codec || ''} ${r.info.width || '?'}×${r.info.height || '?'} @ ${r.info.fps || '?'} fps` : 'Connected') : (r.message || 'Connection failed') });
    } catch (e) { setTest({ ok: false, msg: e.message }); }
  };
  return html`<${Modal} title=${isNew ? 'Add stream' : 'Edit ' + initial.name} onClose=${onClose} wide footer=${html`
      <button onClick=${onClose}>Cancel</button>
      <button class="primary" onClick=${save} disabled=${busy} data-testid="stream-save">${busy && html`<${Spinner} label="Saving" />`} Save</button>`}>
    <form onSubmit=${save}>
      ${errors._form && html`<div class="banner error" role="alert">${errors._form}</div>`}
      <div class="grid-form">
        <${Field} id="stream-name" label="Name" value=${f.name} onInput=${set('name')} error=${errors.name} disabled=${!isNew} required />
        <${Field} id="stream-url" label="Source URL" value=${f.url} onInput=${set('url')} error=${errors.url} placeholder="rtsp://user:pass@camera/stream" required />
        <${Field} id="stream-protocol" label="Transport" type="select" value=${f.protocol} onInput=${v => set('protocol')(Number(v))} options=${[[0, 'TCP'], [1, 'UDP']]} />
        <${Field} id="stream-priority" label="Priority (1–10)" type="number" min="1" max="10" value=${f.priority} onInput=${set('priority')} error=${errors.priority} hint="Higher starts first" />
        <${Field} id="stream-sub" label="Sub-stream URL" value=${f.sub_stream_url} onInput=${set('sub_stream_url')} hint="Optional low-resolution stream for the grid" />
        <${Field} id="stream-tags" label="Tags" value=${f.tags} onInput=${set('tags')} hint="Comma-separated" />
      </div>
      <div class="toolbar">
        <button type="button" onClick=${runTest} disabled=${!f.url || (test && test.busy)} data-testid="stream-test">
          ${test && test.busy && html`<${Spinner} label="Testing" />`} Test connection</button>
        ${test && !test.busy && html`<span class=${test.ok ? 'badge ok' : 'error-text'} role="status">${test.msg}</span>`}
      </div>
      <h2>Streaming and recording</h2>
      <div class="grid-form">
        <${Field} type="checkbox" id="stream-enabled" label="Enabled" value=${f.enabled} onInput=${set('enabled')} />
        <${Field} type="checkbox" id="stream-live" label="Live streaming" value=${f.streaming_enabled} onInput=${set('streaming_enabled')} />
        <${Field} type="checkbox" id="stream-audio" label="Record audio" value=${f.record_audio} onInput=${set('record_audio')} />
      </div>
      <div class="grid-form">
        <${Field} id="stream-segment" label="Segment length (s)" type="number" min="5" max="3600" value=${f.segment_duration} onInput=${set('segment_duration')} error=${errors.segment_duration} />
        <${Field} id="stream-retention" label="Retention (days)" type="number" min="-1" max="365" value=${f.retention_days} onInput=${set('retention_days')} error=${errors.retention_days} hint="-1 = global setting, 0 = keep forever" />
      </div>
      <${DetectionFields} f=${f} set=${set} setMany=${setMany} errors=${errors} />
      <h2>ONVIF and PTZ</h2>
      <div class="grid-form">
        <${Field} type="checkbox" id="stream-onvif" label="ONVIF camera" value=${f.isOnvif} onInput=${set('isOnvif')} hint="Picture settings on the live view" />
        <${Field} type="checkbox" id="stream-ptz" label="PTZ (pan, tilt, zoom)" value=${f.ptz_enabled} onInput=${set('ptz_enabled')} hint="Camera controls on the live view" />
      </div>
      <div class="grid-form">
        <${Field} id="stream-onvif-port" label="ONVIF port" type="number" min="0" max="65535" value=${f.onvif_port} onInput=${set('onvif_port')} error=${errors.onvif_port} hint="0 = port 80 on the camera's host" />
        <${Field} id="stream-onvif-user" label="ONVIF username" value=${f.onvif_username} onInput=${set('onvif_username')} autocomplete="off" hint="Empty: the source URL's" />
        <${Field} id="stream-onvif-pass" label="ONVIF password" type="password" value=${f.onvif_password} onInput=${set('onvif_password')} autocomplete="new-password" />
        <${Field} id="stream-onvif-profile" label="ONVIF profile token" value=${f.onvif_profile} onInput=${set('onvif_profile')} hint="Empty: the camera's first" />
      </div>
      <button type="submit" hidden></button>
    </form>
  <//>`;
}

export function StreamsPage() {
  const [{ data, loading, error }, reload] = useAsync(() => get('/api/streams'));
  const [editing, setEditing] = useState(null); // null | 'new' | stream
  const [busy, setBusy] = useState('');
  const [zones, setZones] = useState(null); // the stream whose zones are open
  const list = Array.isArray(data) ? data : (data && data.streams) || [];
  // Status changes (Starting → Running) show up without a manual reload.
  useEffect(() => { const t = setInterval(reload, 5000); return () => clearInterval(t); }, []);

  const toggle = async s => {
    setBusy(s.name);
    try {
      if (s.enabled === false) await put('/api/streams/' + enc(s.name), { enabled: true, enable_disabled: true });
      else await put('/api/streams/' + enc(s.name), { enabled: false });
      toast(`${s.name} ${s.enabled === false ? 'enabled' : 'disabled'}`, 'ok');
      setTimeout(reload, 300);
    } catch (e) { toast(e.message, 'error'); }
    setBusy('');
  };
  const remove = async s => {
    if (!await confirmDialog('Delete stream', `Delete ${s.name} permanently? Its recordings stay on disk until retention removes them.`)) return;
    setBusy(s.name);
    try { await del('/api/streams/' + enc(s.name) + '?permanent=true'); toast(`${s.name} deleted`, 'ok'); setTimeout(reload, 300); }
    catch (e) { toast(e.message, 'error'); }
    setBusy('');
  };
  const edit = async s => {
    // The list may blank some fields; the single GET has them all.
    try { const full = await get('/api/streams/' + enc(s.name) + '/full'); setEditing(full.stream || full); }
    catch { setEditing(s); }
  };

  return html`
    <div class="toolbar"><h1 style="margin:0" class="grow">Streams</h1>
      ${loading && html`<${Spinner} label="Refreshing" />`}
      <button class="primary" onClick=${() => setEditing('new')} data-testid="stream-add"><${Icon} name="plus" /> Add stream</button></div>
    <${ErrorBanner} error=${error} retry=${reload} />
    ${!data && loading ? html`<${Loading} what="Loading streams" />` : html`
    <div class="table-wrap"><table>
      <thead><tr><th>Name</th><th>Status</th><th class="opt">Source</th><th class="opt">Priority</th><th class="opt">Recording</th><th>Actions</th></tr></thead>
      <tbody>
        ${list.length === 0 && html`<tr><td colspan="6" class="muted">No streams yet. Add one to start.</td></tr>`}
        ${list.map(s => html`<tr key=${s.name} data-stream=${s.name}>
          <td><strong>${s.name}</strong></td>
          <td>${statusBadge(s)}</td>
          <td class="opt"><code class="key">${s.url}</code></td>
          <td class="opt">${s.priority}</td>
          <td class="opt" data-mode=${modeOf(s)}>${MODE_LABEL[modeOf(s)]}</td>
          <td><div class="actions">
            <button class="small" onClick=${() => edit(s)} aria-label=${'Edit ' + s.name}>Edit</button>
            <button class="small" onClick=${() => setZones(s)} aria-label=${'Detection zones of ' + s.name}>Zones</button>
            <button class="small" onClick=${() => toggle(s)} disabled=${busy === s.name} aria-label=${(s.enabled === false ? 'Enable ' : 'Disable ') + s.name}>${s.enabled === false ? 'Enable' : 'Disable'}</button>
            <button class="small" onClick=${() => remove(s)} disabled=${busy === s.name} aria-label=${'Delete ' + s.name}>Delete</button>
          </div></td>
        </tr>`)}
      </tbody></table></div>`}
    ${editing && html`<${StreamForm} initial=${editing === 'new' ? null : editing} onClose=${() => setEditing(null)} onSaved=${() => { setEditing(null); reload(); }} />`}
    ${zones && html`<${ZoneEditor} stream=${zones} onClose=${() => setZones(null)} />`}`;
}
