// The MQTT part of the settings page: a Test button that tries the settings
// on screen against the broker once, and the running connection's state.
import { html, useState, useEffect } from '../lib.js';
import { get, post } from '../api.js';
import { Spinner, toast } from '../ui.js';

// settings: the mqtt_* values on screen (the masked password keeps the saved one).
export function MQTTPanel({ settings }) {
  const [health, setHealth] = useState(null);
  const [test, setTest] = useState(null);
  const [busy, setBusy] = useState(false);
  const load = () => get('/api/health').then(h => setHealth(h && h.mqtt)).catch(() => setHealth(null));
  useEffect(() => { load(); }, []);
  const run = async () => {
    setBusy(true);
    try {
      const r = await post('/api/notify/mqtt/test', settings);
      setTest(r);
      toast(r.success ? 'Broker reached' : 'Broker test failed', r.success ? 'ok' : 'error');
    } catch (err) {
      setTest({ success: false, message: err.message });
      toast(err.message, 'error');
    }
    setBusy(false);
    load();
  };
  return html`<section class="card" aria-label="MQTT connection">
    <div class="toolbar"><h2 class="grow" style="margin:0">Connection</h2>
      <button onClick=${run} disabled=${busy} data-testid="mqtt-test">${busy && html`<${Spinner} label="Testing" />`} Test connection</button></div>
    <p class="muted">Test connects once with the settings above (saved or not), publishes to &lt;prefix&gt;/test and disconnects.</p>
    ${test && html`<div class=${'banner' + (test.success ? '' : ' error')} role="status" data-testid="mqtt-test-result">${test.message}</div>`}
    ${health && html`<p class="muted" data-testid="mqtt-state">Broker ${health.state}${health.broker ? ' (' + health.broker + ')' : ''} ·
      ${health.outbox} waiting in the outbox · ${health.dropped} dropped${health.error ? ' · ' + health.error : ''}</p>`}
  </section>`;
}
