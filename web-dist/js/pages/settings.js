// Settings (admin): the INI-backed settings, grouped as LightNVR groups them.
// Only changed keys are sent; errors are shown next to the field they concern.
import { html, useState, useEffect } from '../lib.js';
import { get, post } from '../api.js';
import { Field, Loading, ErrorBanner, Spinner, toast } from '../ui.js';
import { WebhookPanel } from './webhooks.js';
import { MQTTPanel } from './mqtt.js';

// [key, label, type, {min, max, options, hint}]
const GROUPS = [
  ['General', [
    ['log_level', 'Log level', 'select', { options: [[0, 'Error'], [1, 'Warning'], [2, 'Info'], [3, 'Debug']] }],
    ['log_file', 'Log file', 'text'], ['pid_file', 'PID file', 'text'],
    ['syslog_enabled', 'Also log to syslog', 'checkbox'], ['syslog_ident', 'Syslog ident', 'text'], ['syslog_facility', 'Syslog facility', 'text'],
    ['web_port', 'Web port', 'number', { min: 1, max: 65535, restart: true }], ['web_bind_ip', 'Listen address', 'text', { restart: true }],
    ['web_root', 'Web root', 'text'], ['max_streams', 'Maximum streams', 'number', { min: 1, max: 256, restart: true }],
  ]],
  ['Storage', [
    ['storage_path', 'Recordings directory', 'text'], ['storage_path_hls', 'HLS directory', 'text', { hint: 'Empty: same as recordings' }],
    ['max_storage_size', 'Maximum size (bytes, 0 = unlimited)', 'number', { min: 0 }],
    ['retention_days', 'Retention (days)', 'number', { min: 0, max: 3650 }], ['auto_delete_oldest', 'Delete oldest when full', 'checkbox'],
    ['storage_min_free_pct', 'Keep free (%)', 'number', { min: 0, max: 90 }],
    ['storage_pressure_warning_pct', 'Warning below (% free)', 'number', { min: 0, max: 100, step: 0.5 }],
    ['storage_pressure_critical_pct', 'Critical below (% free)', 'number', { min: 0, max: 100, step: 0.5 }],
    ['storage_pressure_emergency_pct', 'Emergency below (% free)', 'number', { min: 0, max: 100, step: 0.5 }],
    ['mp4_directory_format', 'Directory layout', 'select', { options: [['flat', 'flat'], ['year_month', 'year/month'], ['year_month_day', 'year/month/day']] }],
    ['generate_thumbnails', 'Thumbnails', 'checkbox'], ['thumbnails_per_recording', 'Thumbnails per recording', 'select', { options: [[1, '1'], [3, '3']] }],
    ['db_path', 'Database file', 'text'], ['db_backup_interval_minutes', 'Database backup every (min)', 'number', { min: 0 }],
    ['db_backup_retention_count', 'Database backups kept', 'number', { min: 0 }], ['db_post_backup_script', 'After-backup script', 'text'],
  ]],
  ['Streams', [
    ['buffer_size', 'Buffer per stream (KB)', 'number', { min: 1 }], ['use_swap', 'Use swap file', 'checkbox'],
    ['swap_file', 'Swap file', 'text'], ['swap_size', 'Swap size (MB)', 'number', { min: 0 }],
    ['hw_accel_enabled', 'Hardware acceleration', 'checkbox'], ['hw_accel_device', 'Acceleration device', 'text'],
  ]],
  ['Detection', [
    ['models_path', 'Models directory', 'text'], ['api_detection_url', 'Detector API URL', 'text'],
    ['api_detection_backend', 'Detector backend', 'select', { options: [['onnx', 'onnx'], ['tflite', 'tflite'], ['opencv', 'opencv']] }],
    ['default_detection_threshold', 'Default confidence (%)', 'number', { min: 0, max: 100 }],
    ['pre_detection_buffer', 'Pre-event buffer (s)', 'number', { min: 0, max: 60 }], ['post_detection_buffer', 'Post-event buffer (s)', 'number', { min: 0, max: 300 }],
    ['buffer_strategy', 'Buffer strategy', 'text'], ['detection_grace_period', 'Grace period (s)', 'number', { min: 0, max: 60 }],
  ]],
  ['go2rtc', [
    ['go2rtc_enabled', 'Use go2rtc', 'checkbox', { restart: true }], ['go2rtc_binary_path', 'go2rtc binary', 'text'], ['go2rtc_config_dir', 'Config directory', 'text'],
    ['go2rtc_api_port', 'API port', 'number', { min: 1, max: 65535 }], ['go2rtc_rtsp_port', 'RTSP port', 'number', { min: 1, max: 65535 }],
    ['go2rtc_webrtc_enabled', 'WebRTC', 'checkbox'], ['go2rtc_webrtc_listen_port', 'WebRTC port', 'number', { min: 1, max: 65535 }],
    ['go2rtc_stun_enabled', 'STUN', 'checkbox'], ['go2rtc_stun_server', 'STUN server', 'text'], ['go2rtc_external_ip', 'External IP', 'text'],
    ['go2rtc_ice_servers', 'ICE servers', 'text'], ['webrtc_connection_timeout_ms', 'WebRTC connect timeout (ms)', 'number', { min: 1000, max: 600000 }],
    ['webrtc_ice_recovery_timeout_ms', 'ICE recovery timeout (ms)', 'number', { min: 0, max: 600000 }],
    ['turn_enabled', 'TURN relay', 'checkbox'], ['turn_server_url', 'TURN server', 'text'], ['turn_username', 'TURN user', 'text'], ['turn_password', 'TURN password', 'password'],
  ]],
  ['MQTT', [
    ['mqtt_enabled', 'MQTT', 'checkbox'], ['mqtt_broker_host', 'Broker host', 'text'], ['mqtt_broker_port', 'Broker port', 'number', { min: 1, max: 65535 }],
    ['mqtt_username', 'User', 'text'], ['mqtt_password', 'Password', 'password'], ['mqtt_client_id', 'Client ID', 'text'], ['mqtt_topic_prefix', 'Topic prefix', 'text'],
    ['mqtt_tls_enabled', 'TLS', 'checkbox'], ['mqtt_keepalive', 'Keepalive (s)', 'number', { min: 5, max: 3600 }], ['mqtt_qos', 'QoS', 'select', { options: [[0, '0'], [1, '1'], [2, '2']] }],
    ['mqtt_retain', 'Retain', 'checkbox'], ['mqtt_ha_discovery', 'Home Assistant discovery', 'checkbox'], ['mqtt_ha_discovery_prefix', 'Discovery prefix', 'text'],
    ['mqtt_ha_snapshot_interval', 'Snapshot interval (s)', 'number', { min: 0, max: 300 }],
  ]],
  ['Webhooks', [
    ['webhooks_enabled', 'Webhooks', 'checkbox', { restart: true }],
    ['webhooks_detection_url', 'Detection URL', 'text', { hint: 'http(s); every detection event' }],
    ['webhooks_storage_url', 'Storage pressure URL', 'text', { hint: 'http(s); storage pressure level changes' }],
    ['webhooks_stream_url', 'Stream state URL', 'text', { hint: 'http(s); streams going online/offline, recording starting/stopping' }],
    ['webhooks_secret', 'Signing secret', 'password', { hint: 'At least 16 characters; signs the X-LightNVR-Signature header' }],
    ['webhooks_timeout', 'Timeout (s)', 'number', { min: 1, max: 60 }], ['webhooks_retries', 'Retries', 'number', { min: 0, max: 10 }],
    ['webhooks_queue_size', 'Queue size', 'number', { min: 1, max: 10000 }],
  ]],
  ['Security', [
    ['web_auth_enabled', 'Require login', 'checkbox'], ['auth_timeout_hours', 'Idle timeout (h)', 'number', { min: 1 }],
    ['auth_absolute_timeout_hours', 'Session lifetime (h)', 'number', { min: 1 }], ['trusted_device_days', 'Remember device (days)', 'number', { min: 0 }],
    ['force_mfa_on_login', 'Code with password', 'checkbox'], ['login_rate_limit_enabled', 'Login rate limit', 'checkbox'],
    ['login_rate_limit_max_attempts', 'Attempts', 'number', { min: 1 }], ['login_rate_limit_window_seconds', 'Window (s)', 'number', { min: 10 }],
    ['trusted_proxy_cidrs', 'Trusted proxies (CIDRs)', 'text'], ['demo_mode', 'Demo mode (anyone may watch)', 'checkbox'],
    ['web_https_enabled', 'HTTPS on the web port', 'checkbox'],
  ]],
  ['ONVIF', [
    ['onvif_discovery_enabled', 'Discovery', 'checkbox'], ['onvif_discovery_interval', 'Interval (s)', 'number', { min: 30, max: 3600 }],
    ['onvif_discovery_network', 'Network', 'text'],
  ]],
];
const KNOWN = new Set(GROUPS.flatMap(([, fs]) => fs.map(f => f[0])));
const READ_ONLY = new Set(['max_streams_ceiling', 'go2rtc_config_override_disabled_reason', 'go2rtc_config_override_quarantined']);

function checkField([key, , type, o = {}], v, all) {
  if (type === 'number') {
    if (v === '' || v === null || isNaN(v)) return 'A number is required';
    if (o.min !== undefined && v < o.min) return `At least ${o.min}`;
    if (o.max !== undefined && v > o.max) return `At most ${o.max}`;
  }
  if (key === 'auth_absolute_timeout_hours' && v < all.auth_timeout_hours) return 'Must be at least the idle timeout';
  if (key === 'storage_pressure_critical_pct' && !(v < all.storage_pressure_warning_pct)) return 'Must be below the warning level';
  if (key === 'storage_pressure_emergency_pct' && !(v < all.storage_pressure_critical_pct)) return 'Must be below the critical level';
  return null;
}

export function SettingsPage() {
  const [orig, setOrig] = useState(null);
  const [vals, setVals] = useState({});
  const [errors, setErrors] = useState({});
  const [loadErr, setLoadErr] = useState(null);
  const [tab, setTab] = useState('General');
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState(null);
  const load = () => get('/api/settings').then(d => { setOrig(d); setVals(d); setErrors({}); setLoadErr(null); }).catch(setLoadErr);
  useEffect(() => { load(); }, []);
  if (!orig) return html`<h1>Settings</h1>${loadErr ? html`<${ErrorBanner} error=${loadErr} retry=${load} />` : html`<${Loading} what="Loading settings" />`}`;

  const extra = Object.keys(orig).filter(k => !KNOWN.has(k) && !READ_ONLY.has(k) && (typeof orig[k] !== 'object' || orig[k] === null))
    .map(k => [k, k, typeof orig[k] === 'boolean' ? 'checkbox' : typeof orig[k] === 'number' ? 'number' : 'text']);
  const groups = [...GROUPS.map(([g, fs]) => [g, fs.filter(f => f[0] in orig)]), ['Advanced', extra]].filter(([, fs]) => fs.length);
  const allFields = groups.flatMap(([, fs]) => fs);
  const changed = Object.keys(vals).filter(k => JSON.stringify(vals[k]) !== JSON.stringify(orig[k]));

  const save = async e => {
    e.preventDefault();
    const errs = {};
    for (const f of allFields) { const m = checkField(f, vals[f[0]], vals); if (m) errs[f[0]] = m; }
    setErrors(errs);
    if (Object.keys(errs).length) {
      const first = groups.find(([, fs]) => fs.some(f => errs[f[0]]));
      if (first) setTab(first[0]);
      return;
    }
    if (!changed.length) { toast('Nothing to save'); return; }
    setBusy(true); setNotice(null);
    const body = {};
    for (const k of changed) body[k] = vals[k];
    try {
      const r = await post('/api/settings', body);
      setOrig({ ...orig, ...body });
      toast('Settings saved', 'ok');
      if (r && r.restart_required) setNotice(r.restart_required_message || 'Some changes take effect after a restart (System → Restart).');
    } catch (err) {
      // Map the server's message to a field: by per-field errors, else by the key it names.
      const fieldErrs = (err.body && typeof err.body.fields === 'object' && err.body.fields) || null;
      const named = fieldErrs || (() => { const k = changed.find(k => err.message.includes(k)); return k ? { [k]: err.message } : null; })();
      if (named) {
        setErrors(named);
        const g = groups.find(([, fs]) => fs.some(f => named[f[0]]));
        if (g) setTab(g[0]);
      } else setNotice(null);
      toast(err.message, 'error');
      if (!named) setErrors({ _form: err.message });
    }
    setBusy(false);
  };
  const cur = groups.find(([g]) => g === tab) || groups[0];
  return html`
    <div class="toolbar"><h1 style="margin:0" class="grow">Settings</h1>
      ${changed.length > 0 && html`<span class="muted">${changed.length} unsaved change${changed.length > 1 ? 's' : ''}</span>`}
      <button onClick=${() => { setVals(orig); setErrors({}); }} disabled=${!changed.length}>Revert</button>
      <button class="primary" onClick=${save} disabled=${busy} data-testid="settings-save">${busy && html`<${Spinner} label="Saving" />`} Save</button></div>
    ${notice && html`<div class="banner" role="status">${notice}</div>`}
    ${errors._form && html`<div class="banner error" role="alert">${errors._form}</div>`}
    <div class="tabs" role="tablist">${groups.map(([g, fs]) => html`<button role="tab" aria-selected=${g === cur[0] ? 'true' : 'false'} onClick=${() => setTab(g)}>
      ${g}${fs.some(f => errors[f[0]]) ? ' ⚠' : ''}</button>`)}</div>
    <form class="card grid-form" role="tabpanel" aria-label=${cur[0]} onSubmit=${save}>
      ${cur[1].map(f => {
        const [key, label, type, o = {}] = f;
        const v = vals[key];
        return html`<${Field} key=${key} id=${'set-' + key} label=${label} type=${type} value=${type === 'select' ? String(v) : v}
          options=${o.options} min=${o.min} max=${o.max} step=${o.step} error=${errors[key]} hint=${o.hint || (o.restart ? 'Takes effect after a restart' : undefined)}
          onInput=${nv => { if (type === 'select' && typeof orig[key] === 'number') nv = Number(nv); setVals(x => ({ ...x, [key]: nv })); setErrors(x => ({ ...x, [key]: undefined })); }} />`;
      })}
      <button type="submit" hidden></button>
    </form>
    ${cur[0] === 'Webhooks' && html`<${WebhookPanel} dirty=${changed.some(k => k.startsWith('webhooks_'))} />`}
    ${cur[0] === 'MQTT' && html`<${MQTTPanel} settings=${Object.fromEntries(cur[1].map(f => [f[0], vals[f[0]]]))} />`}`;
}
