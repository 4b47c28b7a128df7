/* SPDX-License-Identifier: Apache-2.0 */
// The status page: readiness (/readyz) with each check, the version (/healthz), the state of
// the identity provider's key set, and this page's own sign-in.
import * as api from './api.js';
import * as auth from './auth.js';
import { h, badge, dl, replace, code, table } from './dom.js';
import { failure, signInPanel } from './session.js';

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

export async function render(main, config) {
  const ready = h('div#readiness', null, h('p.muted', null, 'Loading…'));
  const keys = h('div#key-set');
  replace(main, h('h1', null, 'Status'),
    h('section', { 'aria-labelledby': 'ready-title' }, h('h2#ready-title', null, 'Readiness'), ready),
    h('section', { 'aria-labelledby': 'keys-title' }, h('h2#keys-title', null, 'Identity provider keys'), keys),
    h('section', { 'aria-labelledby': 'about-title' }, h('h2#about-title', null, 'This daemon'),
      dl([
        ['Version', code(config.version)],
        ['Authentication', config.auth_enabled ? 'required (bearer tokens)' : 'off: every route is open'],
        ['Issuer', config.issuer ? code(config.issuer) : '—'],
        ['UI client id', config.client_id ? code(config.client_id) : '—'],
        ['Scopes asked for', config.scopes ? code(config.scopes) : '—'],
      ])),
    h('section', { 'aria-labelledby': 'session-title' }, h('h2#session-title', null, 'Your session'), sessionInfo()));
  const [health, readyz] = await Promise.all([api.call('/healthz'), api.call('/readyz')]);
  // /readyz answers 503 with the same body when not ready
  const body = isObj(readyz.json) && Array.isArray(readyz.json.checks) ? readyz.json : null;
  if (!body) {
    replace(ready, failure(readyz, 'see readiness'));
    return;
  }
  const checks = body.checks.filter(isObj);
  replace(ready,
    h('p', null, badge(String(body.status)), ' ', body.status === 'ready' ? 'Ready to serve.' : 'Not ready: see the checks below.',
      health.ok && isObj(health.json) ? h('span.muted', null, ` Library version ${health.json.version}.`) : null),
    table(['Check', 'State', 'Detail'], checks.map((c) => h('tr', null,
      h('td', null, code(c.name)), h('td', null, badge(c.ok ? 'ok' : 'fail')), h('td', null, String(c.detail ?? ''))))));
  const jwks = checks.find((c) => c.name === 'jwks');
  replace(keys, !config.auth_enabled ? h('p.muted', null, 'Authentication is off: no key set is used.')
    : jwks ? dl([
      ['State', badge(String(jwks.state ?? (jwks.ok ? 'ok' : 'fail')))],
      ['Age', Number.isFinite(jwks.key_set_age_seconds) && jwks.key_set_age_seconds >= 0 ? `${jwks.key_set_age_seconds} s` : '—'],
      ['Last fetch error', jwks.last_error ? String(jwks.last_error) : 'none'],
    ]) : h('p.muted', null, 'No key-set check reported.'));
}

function sessionInfo() {
  if (!auth.enabled()) return h('p.muted', null, 'No sign-in needed.');
  if (!auth.signedIn()) return signInPanel('use the daemon'); // the header's "Not signed in" leads here
  const c = auth.claims() || {};
  const s = auth.scopes();
  const exp = auth.expiresAt();
  return dl([
    ['Subject', c.sub ? String(c.sub) : '—'],
    ['Client', c.client_id ? String(c.client_id) : c.azp ? String(c.azp) : '—'],
    ['Scopes', s ? (s.length ? s.map((x) => [code(x), ' ']) : 'none') : 'unknown (not a JWT)'],
    ['Expires', exp ? new Date(exp).toISOString() : 'unknown'],
  ]);
}
