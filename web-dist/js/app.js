// The single-page app: session check, header, hash routes and role-gated pages.
import { html, render, useState, useEffect } from './lib.js';
import { get, post, loginRedirect } from './api.js';
import { Toasts, Loading } from './ui.js';
import { LivePage } from './pages/live.js';
import { RecordingsPage } from './pages/recordings.js';
import { TimelinePage } from './pages/timeline.js';
import { EventsPage } from './pages/events.js';
import { StreamsPage } from './pages/streams.js';
import { OnvifPage } from './pages/onvif.js';
import { UsersPage } from './pages/users.js';
import { SettingsPage } from './pages/settings.js';
import { SystemPage } from './pages/system.js';
import { AccountPage } from './pages/account.js';

// need: who may open the page (mirrors the API's access levels).
const PAGES = [
  { id: 'live', title: 'Live', comp: LivePage, need: 'viewer' },
  { id: 'recordings', title: 'Recordings', comp: RecordingsPage, need: 'viewer' },
  { id: 'timeline', title: 'Timeline', comp: TimelinePage, need: 'viewer' },
  { id: 'events', title: 'Events', comp: EventsPage, need: 'viewer' },
  { id: 'streams', title: 'Streams', comp: StreamsPage, need: 'writer' },
  { id: 'onvif', title: 'ONVIF', comp: OnvifPage, need: 'admin' },
  { id: 'users', title: 'Users', comp: UsersPage, need: 'admin' },
  { id: 'settings', title: 'Settings', comp: SettingsPage, need: 'admin' },
  { id: 'system', title: 'System', comp: SystemPage, need: 'admin' },
  { id: 'account', title: 'Account', comp: AccountPage, need: 'viewer', hidden: true },
];

export function allowed(role, need) {
  if (need === 'viewer') return true;
  if (need === 'writer') return role === 'admin' || role === 'user' || role === 'api';
  if (need === 'admin') return role === 'admin';
  return false;
}

// LightNVR's page names (/streams.html …) land on the same routes.
function currentRoute() {
  const h = location.hash.replace(/^#\/?/, '').split('?')[0];
  if (h) return h;
  const m = location.pathname.match(/^\/([a-z]+)\.html$/);
  if (m && m[1] !== 'index') return m[1];
  return 'live';
}

function ThemeToggle() {
  const [theme, setTheme] = useState(() => localStorage.getItem('lightnvr.theme') || 'system');
  const next = { system: 'dark', dark: 'light', light: 'system' };
  const apply = t => {
    setTheme(t);
    if (t === 'system') { localStorage.removeItem('lightnvr.theme'); document.documentElement.removeAttribute('data-theme'); }
    else { localStorage.setItem('lightnvr.theme', t); document.documentElement.setAttribute('data-theme', t); }
  };
  const icon = { system: '◐', dark: '☾', light: '☀' }[theme];
  return html`<button class="small" onClick=${() => apply(next[theme])} title=${'Theme: ' + theme} aria-label=${'Theme: ' + theme + ' (change)'}>${icon}</button>`;
}

async function logout() {
  try { await post('/api/auth/logout', undefined, { noRedirect: true }); } catch { /* the cookie is cleared either way */ }
  location.assign('/login.html?logout=true');
}

function App() {
  const [me, setMe] = useState(null);
  const [err, setErr] = useState(null);
  const [route, setRoute] = useState(currentRoute());
  useEffect(() => {
    const on = () => setRoute(currentRoute());
    addEventListener('hashchange', on);
    get('/api/auth/verify', { noRedirect: true }).then(setMe).catch(e => {
      if (e.status === 401) loginRedirect();
      else setErr(e);
    });
    return () => removeEventListener('hashchange', on);
  }, []);
  useEffect(() => {
    const p = PAGES.find(p => p.id === route);
    document.title = (p ? p.title + ' · ' : '') + 'LightNVR';
    const m = document.getElementById('main');
    if (m && me) m.focus({ preventScroll: true });
  }, [route, me]);
  if (err) return html`<main><div class="banner error" role="alert">Cannot reach LightNVR: ${err.message}</div></main>`;
  if (!me) return html`<main><${Loading} what="Checking your session" /></main>`;
  const role = me.role || 'viewer';
  const page = PAGES.find(p => p.id === route) || PAGES[0];
  const Comp = page.comp;
  return html`
    <a class="skip" href="#main" onClick=${e => { e.preventDefault(); document.getElementById('main').focus(); }}>Skip to content</a>
    <header class="top">
      <a class="brand" href="#/live">LightNVR</a>
      <nav class="main" aria-label="Main">
        ${PAGES.filter(p => !p.hidden && allowed(role, p.need)).map(p => html`
          <a href=${'#/' + p.id} aria-current=${p.id === page.id ? 'page' : undefined}>${p.title}</a>`)}
      </nav>
      <div class="userbox">
        <a href="#/account" title="Your account">${me.username}</a> <span class="badge off">${role}</span>
        <${ThemeToggle} />
        <button class="small" onClick=${logout}>Log out</button>
      </div>
    </header>
    <main id="main" tabindex="-1">
      ${allowed(role, page.need)
        ? html`<${Comp} me=${me} key=${page.id} />`
        : html`<h1>${page.title}</h1><div class="banner error" role="alert" data-testid="forbidden">You do not have access to this page (${page.need} role required).</div>`}
    </main>
    <${Toasts} />`;
}

render(html`<${App} />`, document.getElementById('app'));
