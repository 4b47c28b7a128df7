/* SPDX-License-Identifier: Apache-2.0 */
// Calls to the daemon's API, on this origin, with the bearer token when signed in. Every
// answer comes back as one object; nothing here throws, for an HTTP status or for a
// connection that fails (before the answer, or while its body is read: code "unreachable").
import * as auth from './auth.js';

export async function call(path, { method = 'GET', body = undefined, type = undefined } = {}) {
  const headers = { Accept: 'application/json' };
  if (type) headers['Content-Type'] = type;
  const tok = auth.token();
  if (tok) headers.Authorization = `Bearer ${tok}`;
  const unreachable = (message) => ({ status: 0, ok: false, code: 'unreachable', message, json: null, text: '', requestId: '' });
  let res;
  try {
    res = await fetch(path, { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
  } catch {
    return unreachable('the daemon could not be reached');
  }
  let text;
  try {
    text = await res.text();
  } catch {
    return unreachable(`the connection broke while the daemon's answer (HTTP ${res.status}) was read`);
  }
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  const out = { status: res.status, ok: res.ok, json, text, requestId: res.headers.get('X-Request-Id') || '' };
  if (!res.ok) {
    const e = json && typeof json === 'object' && json.error && typeof json.error === 'object' ? json.error : {};
    out.code = typeof e.code === 'string' ? e.code : `http_${res.status}`;
    out.message = typeof e.message === 'string' ? e.message : `HTTP ${res.status}`;
    if (res.status === 401) {
      out.unauthorized = true;
      // the daemon is the judge of a token: one it refuses is gone (expired, revoked keys, …)
      // (only the token this request carried: a late answer never ends a newer sign-in)
      if (tok && auth.token() === tok) auth.expire(`The daemon no longer accepts your sign-in (${out.message}): sign in again.`);
    }
    if (res.status === 403) {
      const m = /scope="([^"]*)"/.exec(res.headers.get('WWW-Authenticate') || '');
      out.forbidden = true;
      out.scope = m ? m[1] : '';
    }
  }
  return out;
}

// A path segment from user or registry text. The daemon takes canonical paths only (no
// percent-encoding: docs/hardening.md), so ids of these characters go as they are; anything
// else is encoded and the daemon answers 400, which is shown. "." and ".." too, as "%252E":
// the browser removes them, and "%2E" alike, and would ask for another path.
export function seg(s) {
  const t = String(s);
  if (t === '.' || t === '..') return t.replace(/\./g, '%252E');
  return /^[A-Za-z0-9._:~-]+$/.test(t) ? t : encodeURIComponent(t);
}
