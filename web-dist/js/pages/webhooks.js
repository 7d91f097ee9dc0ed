// The webhook part of the settings page: a Test button that posts a test
// event to the saved URLs, and the last deliveries of each URL.
import { html, useState, useEffect } from '../lib.js';
import { get, post } from '../api.js';
import { Spinner, fmtTime, toast } from '../ui.js';

function ResultRows({ results }) {
  return results.map((r, i) => html`<tr key=${r.id + i}>
    <td>${fmtTime(r.time)}</td><td>${r.type}</td><td class="wrap">${r.url}</td>
    <td><span class=${'badge ' + (r.ok ? 'ok' : 'bad')} title=${r.error || ''}>${r.ok ? 'delivered' : 'failed'}</span></td>
    <td>${r.status || '–'}</td><td>${r.attempts}</td><td class="wrap">${r.error || ''}</td></tr>`);
}

function ResultTable({ results, testid }) {
  return html`<div class="table-wrap"><table data-testid=${testid}>
    <thead><tr><th>Time</th><th>Type</th><th>URL</th><th>Result</th><th>HTTP</th><th>Attempts</th><th>Error</th></tr></thead>
    <tbody>${results.length ? html`<${ResultRows} results=${results} />` : html`<tr><td colspan="7" class="muted">None yet.</td></tr>`}</tbody>
  </table></div>`;
}

// dirty: the form holds unsaved webhook changes, which the test would not use.
export function WebhookPanel({ dirty }) {
  const [status, setStatus] = useState(null);
  const [test, setTest] = useState(null);
  const [busy, setBusy] = useState(false);
  const load = () => get('/api/notify/webhooks/status').then(setStatus).catch(() => setStatus(null));
  useEffect(() => { load(); }, []);
  const run = async () => {
    setBusy(true);
    try {
      const r = await post('/api/notify/webhooks/test');
      setTest(r);
      toast(r.success ? 'Test delivered' : 'Test failed', r.success ? 'ok' : 'error');
    } catch (err) {
      setTest({ success: false, results: [], error: err.message });
      toast(err.message, 'error');
    }
    setBusy(false);
    load();
  };
  const recent = status ? Object.values(status.results || {}).flat().sort((a, b) => String(b.time).localeCompare(String(a.time))) : [];
  return html`<section class="card" aria-label="Webhook deliveries">
    <div class="toolbar"><h2 class="grow" style="margin:0">Deliveries</h2>
      <button onClick=${run} disabled=${busy} data-testid="webhook-test">${busy && html`<${Spinner} label="Testing" />`} Test</button></div>
    <p class="muted">Test posts a signed test event to every saved URL${dirty ? ' (save your changes first: the test uses the saved settings)' : ''}.</p>
    ${test && html`<div class=${'banner' + (test.success ? '' : ' error')} role="status" data-testid="webhook-test-result">
      ${test.error || (test.success ? 'Every receiver accepted the test event.' : 'A receiver did not accept the test event.')}</div>
      ${test.results.length > 0 && html`<${ResultTable} results=${test.results} testid="webhook-test-table" />`}`}
    ${status && html`<p class="muted">${status.enabled ? 'Enabled' : 'Disabled'} · ${status.delivered} delivered · ${status.failed} failed ·
      ${status.queued}/${status.queue_size} queued · ${status.dropped} dropped (queue full)</p>
      <${ResultTable} results=${recent} testid="webhook-status-table" />`}
  </section>`;
}
