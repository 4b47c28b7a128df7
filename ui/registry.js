/* SPDX-License-Identifier: Apache-2.0 */
// The registry pages: entries (paged, searchable by manifest hash) and one entry with its
// signature; recorded verifications (newest first, by result) and one verification's report
// by request id.
import * as api from './api.js';
import { h, badge, dl, replace, shortHash, code, table, notice } from './dom.js';
import { renderReport } from './report.js';
import * as paging from './paging.js';
import { gate, failure, signInNeeded } from './session.js';

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

// where the lists are (kept while the user moves between pages, forgotten with the user)
const entries = paging.state({ manifest: '', limit: 25 });
const verifs = paging.state({ result: '', limit: 25 });

// Sign-out or another user (docs/ui.md, "Signing in"): the searches and places of the lists
// are forgotten, and an answer still coming for them is not shown.
export function forget() {
  for (const s of [entries, verifs]) {
    paging.restart(s);
    paging.begin(s);
  }
  entries.manifest = '';
  entries.limit = 25;
  verifs.result = '';
}

async function loadEntries(box, cursors = entries.cursors) {
  const after = paging.cursorOf(cursors);
  const q = new URLSearchParams({ limit: String(entries.limit) });
  if (after) q.set('after', String(after));
  if (entries.manifest) q.set('manifest_hash', entries.manifest);
  replace(box, h('p.muted', null, 'Loading…'));
  const ticket = paging.begin(entries);
  const res = await api.call(`/registry/entries?${q}`);
  if (!paging.current(entries, ticket)) return;
  if (!res.ok) {
    replace(box, failure(res, 'read the registry'), paging.retry(entries, () => loadEntries(box, cursors), 'entries'));
    return;
  }
  paging.shown(entries, cursors);
  const list = isObj(res.json) && Array.isArray(res.json.entries) ? res.json.entries.filter(isObj) : [];
  const rows = list.map((e) => h('tr', null,
    h('td', null, h('a', { href: `#/registry/entry/${api.seg(e.id)}` }, String(e.id))),
    h('td', null, shortHash(e.manifest_hash)),
    h('td', null, shortHash(e.proof_hash)),
    h('td', null, String(e.registered_at ?? '—')),
    h('td', null, e.signature ? ['signed', e.kid ? [' by ', code(e.kid)] : null] : badge('unsigned'))));
  replace(box,
    list.length ? table(['Entry', 'Manifest hash', 'Proof hash', 'Registered', 'Signature'], rows,
      entries.manifest ? 'Entries for this manifest hash' : 'Entries in registration order')
      : h('p.muted', null, entries.manifest ? 'No entry for this manifest hash.' : 'The registry has no entries.'),
    paging.pager(entries, res.json && res.json.next, (c) => loadEntries(box, c), 'entries'));
}

async function loadVerifications(box, cursors = verifs.cursors) {
  const before = paging.cursorOf(cursors);
  const q = new URLSearchParams({ limit: String(verifs.limit) });
  if (before) q.set('before', String(before));
  if (verifs.result) q.set('result', verifs.result);
  replace(box, h('p.muted', null, 'Loading…'));
  const ticket = paging.begin(verifs);
  const res = await api.call(`/registry/verifications?${q}`);
  if (!paging.current(verifs, ticket)) return;
  if (!res.ok) {
    replace(box, failure(res, 'list recorded verifications'),
      paging.retry(verifs, () => loadVerifications(box, cursors), 'verifications'));
    return;
  }
  paging.shown(verifs, cursors);
  const list = isObj(res.json) && Array.isArray(res.json.verifications) ? res.json.verifications.filter(isObj) : [];
  const rows = list.map((v) => h('tr', null,
    h('td', null, String(v.verified_at ?? '—')),
    h('td', null, badge(v.result)),
    h('td', null, h('a', { href: `#/verification/${api.seg(v.request_id)}` }, String(v.request_id))),
    h('td', null, shortHash(v.manifest_hash)),
    h('td', null, v.subject === null || v.subject === undefined ? h('span.muted', null, '—') : String(v.subject))));
  replace(box,
    list.length ? table(['Verified at', 'Result', 'Request', 'Manifest hash', 'Subject'], rows, 'Newest first')
      : h('p.muted', null, 'No recorded verification.'),
    paging.pager(verifs, res.json && res.json.next, (c) => loadVerifications(box, c), 'verifications'));
}

function entriesSection() {
  const box = h('div#entries');
  const blocked = gate('registry:read', 'read the registry');
  const input = h('input#manifest-search', { type: 'search', value: entries.manifest, placeholder: '0x… (64 hex digits)', spellcheck: 'false', autocomplete: 'off' });
  const limit = h('select#entries-limit', null, [10, 25, 50, 100].map((n) => h('option', { value: n, selected: n === entries.limit }, String(n))));
  const form = h('form.search', {
    role: 'search',
    on: {
      submit: (ev) => {
        ev.preventDefault();
        entries.manifest = input.value.trim();
        entries.limit = Number(limit.value);
        paging.restart(entries);
        loadEntries(box);
      },
    },
  },
  h('label', { for: 'manifest-search' }, 'Manifest hash'), input,
  h('label', { for: 'entries-limit' }, 'Per page'), limit,
  h('button', { type: 'submit' }, 'Search'));
  const section = h('section', { 'aria-labelledby': 'entries-title' }, h('h2#entries-title', null, 'Entries'));
  if (blocked) section.appendChild(blocked);
  else {
    section.append(form, box);
    loadEntries(box);
  }
  return section;
}

function verificationsSection() {
  const box = h('div#verifications');
  const blocked = gate('verifications:read', 'read recorded verifications');
  const result = h('select#result-filter', null, [['', 'all results'], ['ok', 'ok'], ['warn', 'warn'], ['fail', 'fail']]
    .map(([v, t]) => h('option', { value: v, selected: v === verifs.result }, t)));
  result.addEventListener('change', () => {
    verifs.result = result.value;
    paging.restart(verifs);
    loadVerifications(box);
  });
  const rid = h('input#request-id', { type: 'text', spellcheck: 'false', autocomplete: 'off', pattern: '[A-Za-z0-9._-]{1,64}' });
  const find = h('form.search', {
    on: {
      submit: (ev) => {
        ev.preventDefault();
        const v = rid.value.trim();
        if (v) location.hash = `#/verification/${api.seg(v)}`;
      },
    },
  }, h('label', { for: 'request-id' }, 'Request id'), rid, h('button', { type: 'submit' }, 'Show'));
  const section = h('section', { 'aria-labelledby': 'verifications-title' }, h('h2#verifications-title', null, 'Recent verifications'));
  if (blocked) section.appendChild(blocked);
  else {
    section.append(h('div.filters', null, h('label', { for: 'result-filter' }, 'Result'), result), box,
      h('h3', null, 'Find a verification'), find);
    loadVerifications(box);
  }
  return section;
}

export function render(main) {
  const signIn = signInNeeded('read the registry');
  replace(main, h('h1', null, 'Registry'), signIn || [entriesSection(), verificationsSection()]);
}

export async function renderEntry(main, id) {
  replace(main, h('p', null, h('a', { href: '#/registry' }, '← Registry')), h('h1', null, 'Registry entry'));
  const blocked = gate('registry:read', 'read the registry');
  if (blocked) {
    main.appendChild(blocked);
    return;
  }
  const [res, sig] = await Promise.all([
    api.call(`/registry/entries/${api.seg(id)}`),
    api.call(`/registry/entries/${api.seg(id)}/signature`),
  ]);
  if (!res.ok) {
    main.appendChild(failure(res, 'read the registry'));
    return;
  }
  const e = isObj(res.json) ? res.json : {};
  const s = sig.ok && isObj(sig.json) ? sig.json : null;
  main.appendChild(dl([
    ['Id', code(e.id)],
    ['Manifest hash', code(e.manifest_hash)],
    ['Proof hash', code(e.proof_hash)],
    ['Policy hash', e.policy_hash ? code(e.policy_hash) : '—'],
    ['Timestamp file', e.timestamp_file ? code(e.timestamp_file) : '—'],
    ['Registered at', String(e.registered_at ?? '—')],
    ['Signature', s ? badge(s.status) : sig.ok ? '—' : failure(sig, 'check the signature')],
    ['Signing key', e.kid ? code(e.kid) : '—'],
    ['Key trusted', s && s.trusted !== null ? [badge(s.trusted ? 'trusted' : 'untrusted'),
      s.key_owner ? ` (${s.key_owner})` : null, s.key_status ? ` ${s.key_status}` : null] : '—'],
  ]));
  main.appendChild(h('p', null, h('a', { href: `#/registry/search/${api.seg(e.manifest_hash ?? '')}` }, 'Other entries for this manifest')));
}

export function searchManifest(hash) {
  entries.manifest = hash;
  paging.restart(entries);
  location.replace('#/registry'); // the search route is not kept in the history: Back leaves it
}

export async function renderVerification(main, requestId) {
  replace(main, h('p', null, h('a', { href: '#/registry' }, '← Registry')), h('h1', null, 'Verification ', code(requestId)));
  const blocked = gate('verifications:read', 'read recorded verifications');
  if (blocked) {
    main.appendChild(blocked);
    return;
  }
  const res = await api.call(`/registry/verifications/${api.seg(requestId)}`);
  if (!res.ok) {
    main.appendChild(res.status === 404 ? notice('info', `No verification is recorded under ${requestId}.`) : failure(res, 'read recorded verifications'));
    return;
  }
  main.appendChild(renderReport(res.json, res.text, { name: requestId }));
}
