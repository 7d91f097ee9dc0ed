// The signed-in user's own account: password change and two-factor setup.
import { html, useState } from '../lib.js';
import { put } from '../api.js';
import { Field, Spinner, toast } from '../ui.js';
import { TotpSetup } from './users.js';

export function AccountPage({ me }) {
  const [f, setF] = useState({ old: '', next: '', again: '' });
  const [errors, setErrors] = useState({});
  const [busy, setBusy] = useState(false);
  const [totp, setTotp] = useState(false);
  const set = k => v => setF(o => ({ ...o, [k]: v }));
  const save = async e => {
    e.preventDefault();
    const errs = {};
    if (!f.old) errs.old = 'Enter your current password';
    if (f.next.length < 8) errs.next = 'At least 8 characters';
    if (f.next !== f.again) errs.again = 'The passwords differ';
    setErrors(errs);
    if (Object.keys(errs).length) return;
    setBusy(true);
    try {
      await put(`/api/auth/users/${me.id}/password`, { old_password: f.old, new_password: f.next });
      toast('Password changed', 'ok');
      setF({ old: '', next: '', again: '' });
    } catch (err) {
      setErrors(err.status === 401 ? { old: 'The current password is wrong' } : { next: err.message });
    }
    setBusy(false);
  };
  return html`<h1>Your account</h1>
    <div class="cards">
      <section class="card" aria-labelledby="pw-h"><h2 id="pw-h">Change password</h2>
        <form onSubmit=${save}>
          <${Field} id="pw-old" label="Current password" type="password" value=${f.old} onInput=${set('old')} error=${errors.old} autocomplete="current-password" />
          <${Field} id="pw-new" label="New password" type="password" value=${f.next} onInput=${set('next')} error=${errors.next} autocomplete="new-password" />
          <${Field} id="pw-again" label="New password again" type="password" value=${f.again} onInput=${set('again')} error=${errors.again} autocomplete="new-password" />
          <button class="primary" type="submit" disabled=${busy || me.password_change_locked}>${busy && html`<${Spinner} />`} Change password</button>
          ${me.password_change_locked && html`<p class="muted">An administrator has locked password changes for this account.</p>`}
        </form></section>
      <section class="card" aria-labelledby="tfa-h"><h2 id="tfa-h">Two-factor authentication</h2>
        <p>Protect this account with a 6-digit code from an authenticator app.</p>
        <button onClick=${() => setTotp(true)}>Manage two-factor authentication</button></section>
    </div>
    ${totp && html`<${TotpSetup} user=${me} onClose=${() => setTotp(false)} />`}`;
}
