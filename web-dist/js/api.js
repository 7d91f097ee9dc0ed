// Thin fetch wrapper for LightNVR's REST API: JSON in and out, the session cookie
// carries authentication, and an expired session sends the user to the login page.

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export function loginRedirect(reason) {
  const back = location.pathname + location.search + location.hash;
  const q = new URLSearchParams({ auth_required: 'true' });
  if (reason) q.set('reason', reason);
  if (back && back !== '/' && !back.startsWith('/login')) q.set('next', back);
  location.assign('/login.html?' + q.toString());
}

export async function api(method, path, body, opts = {}) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json', 'X-Requested-With': 'XMLHttpRequest' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  if (opts.signal) init.signal = opts.signal;
  // Some routes take secrets in headers, so they stay out of URLs and logs.
  if (opts.headers) Object.assign(init.headers, opts.headers);
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'The server cannot be reached', null);
  }
  const text = await resp.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (resp.status === 401 && !opts.noRedirect) {
    loginRedirect('session_expired');
    throw new ApiError(401, 'Your session has ended', data);
  }
  if (!resp.ok) {
    const msg = (data && typeof data === 'object' && (data.error || data.message)) || `${resp.status} ${resp.statusText}`;
    throw new ApiError(resp.status, typeof msg === 'string' ? msg : (msg.message || JSON.stringify(msg)), data);
  }
  return data;
}

export const get = (p, o) => api('GET', p, undefined, o);
export const post = (p, b, o) => api('POST', p, b === undefined ? {} : b, o);
export const put = (p, b, o) => api('PUT', p, b === undefined ? {} : b, o);
export const del = (p, o) => api('DELETE', p, undefined, o);

export function enc(s) { return encodeURIComponent(s); }
