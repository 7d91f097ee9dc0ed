// Users (admin): add, edit, delete, roles, API keys, TOTP and passwords.
import { html, useState, useEffect } from '../lib.js';
import { get, post, put, del } from '../api.js';
import { Modal, Field, Loading, ErrorBanner, Spinner, Icon, toast, confirmDialog, useAsync, useForm, fmtTime } from '../ui.js';
import { QRCode } from '../qr.js';

export const ROLES = [[0, 'admin'], [1, 'user'], [2, 'viewer'], [3, 'api']];

function validateUser(f, isNew) {
  const e = {};
  if (isNew && !(f.username.length >= 3 && f.username.length <= 32)) e.username = '3 to 32 characters';
  if ((isNew || f.password) && f.password.length < 8) e.password = 'At least 8 characters';
  if (f.email && !/^[^@\s]+@[^@\s]+$/.test(f.email)) e.email = 'Not an e-mail address';
  return e;
}

function UserForm({ user, onClose, onSaved }) {
  const isNew = !user;
  const { f, set, errors, busy, save } = useForm({ username: user ? user.username : '', password: '', email: (user && user.email) || '', role: user ? user.role : 1, is_active: user ? user.is_active !== false : true }, {
    validate: f => validateUser(f, isNew),
    fields: ['username', 'password', 'email', 'role'],
    submit: async f => {
      const body = { username: f.username, email: f.email, role: Number(f.role), is_active: f.is_active };
      if (f.password) body.password = f.password;
      if (isNew) await post('/api/auth/users', body);
      else await put('/api/auth/users/' + user.id, body);
      toast(isNew ? `User ${f.username} created` : `User ${f.username} saved`, 'ok');
      onSaved();
    },
  });
  return html`<${Modal} title=${isNew ? 'Add user' : 'Edit ' + user.username} onClose=${onClose} footer=${html`
      <button onClick=${onClose}>Cancel</button>
      <button class="primary" onClick=${save} disabled=${busy} data-testid="user-save">${busy && html`<${Spinner} label="Saving" />`} Save</button>`}>
    <form onSubmit=${save}>
      ${errors._form && html`<div class="banner error" role="alert">${errors._form}</div>`}
      <${Field} id="user-name" label="Username" value=${f.username} onInput=${set('username')} error=${errors.username} autocomplete="off" />
      <${Field} id="user-password" label=${isNew ? 'Password' : 'New password (leave empty to keep)'} type="password" value=${f.password} onInput=${set('password')} error=${errors.password} autocomplete="new-password" />
      <${Field} id="user-email" label="E-mail" type="email" value=${f.email} onInput=${set('email')} error=${errors.email} />
      <${Field} id="user-role" label="Role" type="select" value=${f.role} onInput=${v => set('role')(Number(v))} options=${ROLES}
        hint="admin: everything · user: streams and recordings · viewer: watch only · api: scripts" />
      <${Field} id="user-active" type="checkbox" label="Active" value=${f.is_active} onInput=${set('is_active')} />
      <button type="submit" hidden></button>
    </form>
  <//>`;
}

// TotpSetup enrols a user: new secret → QR code → first code confirms it.
export function TotpSetup({ user, onClose }) {
  const [status, setStatus] = useState(null);
  const [setup, setSetup] = useState(null);
  const [code, setCode] = useState('');
  const [err, setErr] = useState(null);
  const [busy, setBusy] = useState(false);
  const base = `/api/auth/users/${user.id}/totp`;
  const refresh = () => get(base + '/status').then(setStatus).catch(setErr);
  useEffect(() => { refresh(); }, []);
  const begin = async () => {
    setBusy(true); setErr(null);
    try { setSetup(await post(base + '/setup')); } catch (e) { setErr(e); }
    setBusy(false);
  };
  const verify = async e => {
    e && e.preventDefault();
    if (!/^\d{6}$/.test(code.trim())) { setErr(new Error('Enter the 6-digit code')); return; }
    setBusy(true); setErr(null);
    try { await post(base + '/verify', { code: code.trim() }); toast('Two-factor authentication enabled', 'ok'); setSetup(null); setCode(''); await refresh(); }
    catch (e2) { setErr(e2); }
    setBusy(false);
  };
  const disable = async () => {
    if (!await confirmDialog('Disable two-factor authentication', `Log in as ${user.username} with the password alone?`, 'Disable')) return;
    setBusy(true);
    try { await post(base + '/disable'); toast('Two-factor authentication disabled', 'ok'); await refresh(); } catch (e) { setErr(e); }
    setBusy(false);
  };
  return html`<${Modal} title=${'Two-factor authentication · ' + user.username} onClose=${onClose} footer=${html`<button onClick=${onClose}>Close</button>`}>
    <${ErrorBanner} error=${err} />
    ${!status ? html`<${Loading} />` : setup ? html`
      <p>Scan this code with an authenticator app, then enter the 6-digit code it shows.</p>
      <${QRCode} text=${setup.otpauth_uri} label="TOTP enrolment QR code" />
      <p class="muted">Or enter this key by hand: <code class="key" data-testid="totp-secret">${setup.secret}</code></p>
      <form onSubmit=${verify} class="toolbar">
        <${Field} id="totp-verify-code" label="Code" value=${code} onInput=${setCode} autocomplete="one-time-code" />
        <button class="primary" type="submit" disabled=${busy} data-testid="totp-verify">${busy && html`<${Spinner} />`} Verify and enable</button>
      </form>` : html`
      <p>Status: <span class=${'badge ' + (status.totp_enabled ? 'ok' : 'off')} data-testid="totp-status">${status.totp_enabled ? 'enabled' : 'not enabled'}</span></p>
      <div class="toolbar">
        <button class="primary" onClick=${begin} disabled=${busy} data-testid="totp-begin">${status.totp_enabled ? 'Set up again' : 'Set up'}</button>
        ${status.totp_enabled && html`<button onClick=${disable} disabled=${busy}>Disable</button>`}
      </div>`}
  <//>`;
}

function ApiKey({ user, onClose }) {
  const [key, setKey] = useState(user.api_key || '');
  const [busy, setBusy] = useState(false);
  const [err, setErr] = useState(null);
  const regen = async () => {
    if (key && !await confirmDialog('New API key', 'The current key stops working at once.', 'Generate', false)) return;
    setBusy(true);
    try { const r = await post(`/api/auth/users/${user.id}/api-key`); setKey(r.api_key); toast('New API key generated', 'ok'); } catch (e) { setErr(e); }
    setBusy(false);
  };
  return html`<${Modal} title=${'API key · ' + user.username} onClose=${onClose} footer=${html`<button onClick=${onClose}>Close</button>`}>
    <${ErrorBanner} error=${err} />
    <p>${key ? html`<code class="key" data-testid="api-key">${key}</code>` : html`<span class="muted">No key yet.</span>`}</p>
    <p class="muted">Send it as the <code>X-API-Key</code> header.</p>
    <button class="primary" onClick=${regen} disabled=${busy}>${busy && html`<${Spinner} />`} ${key ? 'Generate a new key' : 'Generate key'}</button>
  <//>`;
}

export function UsersPage({ me }) {
  const [{ data, loading, error }, reload] = useAsync(() => get('/api/auth/users'));
  const [dialog, setDialog] = useState(null); // {kind, user}
  const users = (data && data.users) || [];
  const remove = async u => {
    if (!await confirmDialog('Delete user', `Delete ${u.username}? Their sessions end at once.`)) return;
    try { await del('/api/auth/users/' + u.id); toast(`${u.username} deleted`, 'ok'); reload(); } catch (e) { toast(e.message, 'error'); }
  };
  const close = () => { setDialog(null); reload(); };
  return html`
    <div class="toolbar"><h1 style="margin:0" class="grow">Users</h1>
      ${loading && html`<${Spinner} label="Refreshing" />`}
      <button class="primary" onClick=${() => setDialog({ kind: 'edit' })} data-testid="user-add"><${Icon} name="plus" /> Add user</button></div>
    <${ErrorBanner} error=${error} retry=${reload} />
    ${!data && loading ? html`<${Loading} what="Loading users" />` : html`
    <div class="table-wrap"><table data-testid="users-table">
      <thead><tr><th>User</th><th>Role</th><th class="opt">Last login</th><th class="opt">2FA</th><th>Actions</th></tr></thead>
      <tbody>${users.map(u => html`<tr key=${u.id} data-user=${u.username}>
        <td><strong>${u.username}</strong>${u.email && html`<div class="muted">${u.email}</div>`}${u.is_active === false && html` <span class="badge off">inactive</span>`}</td>
        <td>${u.role_name || (ROLES[u.role] || [0, '?'])[1]}</td>
        <td class="opt">${u.last_login ? fmtTime(u.last_login) : 'never'}</td>
        <td class="opt">${u.totp_enabled ? html`<span class="badge ok">on</span>` : html`<span class="badge off">off</span>`}</td>
        <td><div class="actions">
          <button class="small" onClick=${() => setDialog({ kind: 'edit', user: u })} aria-label=${'Edit ' + u.username}>Edit</button>
          <button class="small" onClick=${() => setDialog({ kind: 'key', user: u })} aria-label=${'API key of ' + u.username}>API key</button>
          <button class="small" onClick=${() => setDialog({ kind: 'totp', user: u })} aria-label=${'Two-factor setup of ' + u.username}>2FA</button>
          ${u.id !== me.id && html`<button class="small" onClick=${() => remove(u)} aria-label=${'Delete ' + u.username}>Delete</button>`}
        </div></td></tr>`)}</tbody></table></div>`}
    ${dialog && dialog.kind === 'edit' && html`<${UserForm} user=${dialog.user} onClose=${() => setDialog(null)} onSaved=${close} />`}
    ${dialog && dialog.kind === 'key' && html`<${ApiKey} user=${dialog.user} onClose=${close} />`}
    ${dialog && dialog.kind === 'totp' && html`<${TotpSetup} user=${dialog.user} onClose=${close} />`}`;
}
