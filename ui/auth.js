/* SPDX-License-Identifier: Apache-2.0 */
// Signing in (docs/ui.md, "Signing in"): the OAuth 2.0 authorization-code flow with PKCE
// (RFC 7636, S256) against the configured issuer, found through its discovery document. The
// access token lives in this module's memory only: never in localStorage, sessionStorage or a
// cookie, so a reload or a new tab signs in again (quickly, while the issuer's session lasts).
// Only the PKCE verifier and state cross the redirect, in sessionStorage, and are removed at
// once. A pasted token (development) is kept the same way.

const PKCE_KEY = 'capv.signin';

const state = {
  config: null, // /ui/config.json
  discovery: null,
  token: null,
  claims: null, // the token's payload when it is a JWT (for display; the daemon decides)
  expiresAt: 0, // ms
  timer: 0,
  reason: '', // why the user is signed out ("" = never signed in)
  listeners: [],
  // whose data the page holds: the subject of the last token (null: a token without one;
  // undefined: nobody's yet, or forgotten at sign-out)
  owner: undefined,
  forgetters: [],
  callback: null, // the issuer's answer (its query), taken from the address at start
};

export function configure(config) {
  state.config = config;
}

export function enabled() {
  return Boolean(state.config && state.config.auth_enabled);
}

export function canSignIn() {
  return enabled() && Boolean(state.config.issuer && state.config.client_id);
}

export function token() {
  return state.token;
}

export function signedIn() {
  return state.token !== null;
}

export function reason() {
  return state.reason;
}

export function claims() {
  return state.claims;
}

export function expiresAt() {
  return state.expiresAt;
}

export function onChange(fn) {
  state.listeners.push(fn);
}

function changed() {
  for (const fn of state.listeners) fn();
}

// `fn` empties what the page holds for a user (results, drafts, searches): called at
// sign-out, and when a token of another subject (or of none) replaces one that expired or
// was refused, before the page is drawn for the new one.
export function onForget(fn) {
  state.forgetters.push(fn);
}

function forget() {
  for (const fn of state.forgetters) fn();
}

function subjectOf(claims) {
  return claims && typeof claims.sub === 'string' && claims.sub !== '' ? claims.sub : null;
}

// The scopes of the token, or null when they cannot be read (an opaque token).
export function scopes() {
  const c = state.claims;
  if (!c) return null;
  if (typeof c.scope === 'string') return c.scope.split(' ').filter(Boolean);
  if (Array.isArray(c.scp)) return c.scp.map(String);
  if (typeof c.scp === 'string') return c.scp.split(' ').filter(Boolean);
  return [];
}

// Whether the user may call a route needing `scope`: true without authentication, null when
// unknown (not signed in, or the token does not say), else whether the token carries it.
export function allows(scope) {
  if (!enabled()) return true;
  if (!signedIn()) return null;
  const s = scopes();
  return s === null ? null : s.includes(scope);
}

function b64urlDecode(s) {
  const t = s.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(t + '='.repeat((4 - (t.length % 4)) % 4));
  return new TextDecoder().decode(Uint8Array.from(bin, (ch) => ch.charCodeAt(0)));
}

function b64url(bytes) {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function randomString(n) {
  return b64url(crypto.getRandomValues(new Uint8Array(n)));
}

function readClaims(tok) {
  const parts = tok.split('.');
  if (parts.length !== 3) return null;
  try {
    const c = JSON.parse(b64urlDecode(parts[1]));
    return c && typeof c === 'object' && !Array.isArray(c) ? c : null;
  } catch {
    return null;
  }
}

// Keeps `tok` in memory; `lifetime` (seconds) from the token response, else the JWT's exp.
export function setToken(tok, lifetime) {
  clearTimeout(state.timer);
  state.token = tok;
  state.claims = readClaims(tok);
  state.reason = '';
  // a token that does not name its subject may be anyone's
  const sub = subjectOf(state.claims);
  if (state.owner !== undefined && (sub === null || sub !== state.owner)) forget();
  state.owner = sub;
  let exp = 0;
  if (Number.isFinite(lifetime) && lifetime > 0) exp = Date.now() + lifetime * 1000;
  else if (state.claims && Number.isFinite(state.claims.exp)) exp = state.claims.exp * 1000;
  state.expiresAt = exp;
  if (exp > 0) {
    // setTimeout's delay is at most 2^31-1 ms
    const wait = Math.min(Math.max(exp - Date.now(), 0), 2147483647);
    state.timer = setTimeout(() => expire('Your session has expired: sign in again.'), wait);
  }
  changed();
}

// Forgets the token (sign-out, expiry, a token the daemon refused).
export function expire(why) {
  if (state.token === null && state.reason === why) return;
  clearTimeout(state.timer);
  state.token = null;
  state.claims = null;
  state.expiresAt = 0;
  state.reason = why;
  changed();
}

export function signOut() {
  forget();
  state.owner = undefined;
  expire('You signed out.');
}

async function discovery() {
  if (state.discovery) return state.discovery;
  const issuer = state.config.issuer.replace(/\/+$/, '');
  const res = await fetch(`${issuer}/.well-known/openid-configuration`, {
    headers: { Accept: 'application/json' },
    credentials: 'omit',
    referrerPolicy: 'no-referrer',
  });
  if (!res.ok) throw new Error(`the identity provider's discovery document answered ${res.status}`);
  const doc = await res.json();
  if (doc.issuer !== state.config.issuer) {
    throw new Error('the discovery document names another issuer than the daemon trusts');
  }
  if (typeof doc.authorization_endpoint !== 'string' || typeof doc.token_endpoint !== 'string') {
    throw new Error('the discovery document has no authorization or token endpoint');
  }
  // the page's Content-Security-Policy lets it fetch tokens from this origin only
  // (both as the browser writes origins: no default port, the host in lower case)
  const tokenOrigin = new URL(doc.token_endpoint).origin;
  const allowed = state.config.token_origin ? new URL(state.config.token_origin).origin : null;
  if (tokenOrigin !== allowed) {
    throw new Error(`the identity provider's token endpoint is on ${tokenOrigin}, ` +
      'which this page may not connect to: set ui.token_origin to that origin');
  }
  if (Array.isArray(doc.code_challenge_methods_supported) &&
      !doc.code_challenge_methods_supported.includes('S256')) {
    throw new Error('the identity provider does not support PKCE with S256');
  }
  state.discovery = doc;
  return doc;
}

function redirectUri() {
  return `${location.origin}/ui/`;
}

// Starts the authorization-code flow: the browser leaves for the issuer.
export async function signIn() {
  const doc = await discovery();
  const verifier = randomString(32);
  const challenge = b64url(new Uint8Array(
    await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));
  const st = randomString(16);
  const back = location.hash.startsWith('#/') ? location.hash : '#/verify';
  sessionStorage.setItem(PKCE_KEY, JSON.stringify({ verifier, state: st, back }));
  const url = new URL(doc.authorization_endpoint);
  const q = url.searchParams;
  q.set('response_type', 'code');
  q.set('client_id', state.config.client_id);
  q.set('redirect_uri', redirectUri());
  q.set('scope', state.config.scopes);
  q.set('state', st);
  q.set('code_challenge', challenge);
  q.set('code_challenge_method', 'S256');
  location.assign(url.toString());
}

// On the way back from the issuer (/ui/?code=…&state=…), first thing, before the page
// fetches anything (its address would be the Referer): the answer and the saved verifier
// move into this module's memory, and the address bar and sessionStorage lose them.
export function takeCallback() {
  const q = new URLSearchParams(location.search);
  if (!q.has('code') && !q.has('error')) return;
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(PKCE_KEY) || 'null');
  } catch {
    saved = null;
  }
  sessionStorage.removeItem(PKCE_KEY);
  const back = saved && typeof saved.back === 'string' && saved.back.startsWith('#/') ? saved.back : '#/verify';
  history.replaceState(null, '', `/ui/${back}`);
  state.callback = { q, saved };
}

// Exchanges the code takeCallback() took for a token. Returns null when this page load is no
// callback, else a message for the user ("" = signed in).
export async function completeSignIn() {
  if (!state.callback) return null;
  const { q, saved } = state.callback;
  state.callback = null;
  if (!saved || q.get('state') !== saved.state) {
    return 'The sign-in answer does not belong to this page (its state differs): sign in again.';
  }
  if (q.has('error')) {
    return `The identity provider refused the sign-in: ${q.get('error')}${q.get('error_description') ? ` (${q.get('error_description')})` : ''}`;
  }
  const doc = await discovery();
  // RFC 9207: an issuer that names itself must be ours, and one that says it always does
  // must have (else the answer may be another issuer's, sent here: a mix-up)
  if (q.has('iss') && q.get('iss') !== doc.issuer) {
    return 'The sign-in answer comes from another issuer: sign in again.';
  }
  if (!q.has('iss') && doc.authorization_response_iss_parameter_supported === true) {
    return 'The sign-in answer does not name its issuer, which this identity provider always does: sign in again.';
  }
  const body = new URLSearchParams({
    grant_type: 'authorization_code',
    code: q.get('code'),
    redirect_uri: redirectUri(),
    client_id: state.config.client_id,
    code_verifier: saved.verifier,
  });
  const res = await fetch(doc.token_endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body,
    credentials: 'omit',
    referrerPolicy: 'no-referrer',
  });
  let answer = null;
  try {
    answer = await res.json();
  } catch {
    answer = null;
  }
  if (!res.ok || !answer || typeof answer.access_token !== 'string') {
    const why = answer && typeof answer.error === 'string' ? answer.error : `HTTP ${res.status}`;
    return `The identity provider did not give a token: ${why}`;
  }
  setToken(answer.access_token, Number(answer.expires_in));
  return '';
}
