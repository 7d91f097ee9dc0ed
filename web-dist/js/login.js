// Login with the optional TOTP step: password first; when the account has TOTP,
// the server answers with a short-lived token and we ask for the 6-digit code.
import { html, render, useState, useEffect, useRef } from './lib.js';
import { api } from './api.js';
import { Field, Spinner } from './ui.js';

const params = new URLSearchParams(location.search);

// GET /logout only leads here: the session ends with this POST. A login
// waits for it, so its cookie-clearing answer cannot undo the new session.
const loggedOut = params.get('logout') === 'true'
  ? api('POST', '/api/auth/logout', undefined, { noRedirect: true }).catch(() => {})
  : Promise.resolve();

function notice() {
  if (params.get('logout') === 'true') return ['ok', 'You have been logged out.'];
  if (params.get('reason') === 'session_expired') return ['info', 'Your session has expired. Please log in again.'];
  if (params.get('auth_required') === 'true') return ['info', 'Please log in to continue.'];
  if (params.get('error') === 'rate_limited') return ['error', 'Too many login attempts. Please try again later.'];
  if (params.get('error')) return ['error', 'Invalid username or password.'];
  return null;
}

function destination(serverRedirect) {
  const next = params.get('next');
  // Only same-site paths: an open redirect would turn the login page into a phishing aid.
  if (next && next.startsWith('/') && !next.startsWith('//')) return next;
  if (serverRedirect && serverRedirect.startsWith('/') && !serverRedirect.startsWith('//')) return serverRedirect;
  return '/';
}

function Login() {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [remember, setRemember] = useState(false);
  const [totpToken, setTotpToken] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [cfg, setCfg] = useState({});
  const codeRef = useRef(null);
  const n = notice();

  useEffect(() => { api('GET', '/api/auth/login/config', undefined, { noRedirect: true }).then(setCfg).catch(() => {}); }, []);
  useEffect(() => { if (totpToken) { const el = document.getElementById('totp-code'); el && el.focus(); } }, [totpToken]);

  const submit = async e => {
    e.preventDefault();
    await loggedOut;
    setBusy(true); setError(null);
    try {
      let res;
      if (!totpToken) {
        const body = { username, password };
        if (cfg.remember_device_enabled) body.remember_device = remember;
        res = await api('POST', '/api/auth/login', body, { noRedirect: true });
        if (res && res.totp_required) {
          setTotpToken(res.totp_token);
          setBusy(false);
          return;
        }
      } else {
        res = await api('POST', '/api/auth/login/totp', { totp_token: totpToken, code: code.trim(), remember_device: remember }, { noRedirect: true });
      }
      location.assign(destination(res && res.redirect));
    } catch (err) {
      if (totpToken && err.status === 401 && /expired|login again/i.test(err.message)) {
        setTotpToken(null); setCode('');
      }
      setError(err.status === 401 && !totpToken ? 'Invalid username or password.' : err.message);
      setBusy(false);
    }
  };

  return html`<div class="login-wrap"><main class="card login-card">
    <h1>LightNVR</h1>
    ${n && html`<div class=${'banner ' + n[0]} role="status">${n[1]}</div>`}
    ${error && html`<div class="banner error" role="alert" data-testid="login-error">${error}</div>`}
    <form onSubmit=${submit} novalidate>
      ${!totpToken ? html`
        <${Field} id="username" label="Username" value=${username} onInput=${setUsername} autocomplete="username" required />
        <${Field} id="password" label="Password" type="password" value=${password} onInput=${setPassword} autocomplete="current-password" required />
      ` : html`
        <p>Enter the 6-digit code from your authenticator app.</p>
        <${Field} id="totp-code" label="Authentication code" value=${code} onInput=${setCode} autocomplete="one-time-code" required placeholder="123456" />
      `}
      ${cfg.remember_device_enabled && html`<${Field} type="checkbox" id="remember" label="Remember this device" value=${remember} onInput=${setRemember} />`}
      <button class="primary" type="submit" disabled=${busy} style="width:100%;justify-content:center">
        ${busy && html`<${Spinner} label="Signing in" />`} ${totpToken ? 'Verify' : 'Log in'}</button>
      ${totpToken && html`<p><button type="button" class="small" onClick=${() => { setTotpToken(null); setCode(''); setError(null); }}>Back</button></p>`}
    </form>
  </main></div>`;
}

render(html`<${Login} />`, document.getElementById('app'));
