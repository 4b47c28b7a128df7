/* SPDX-License-Identifier: Apache-2.0 */
// The policy page: paste or upload a PolicyV2 YAML, compile it (POST /policy/compile), and
// see the IR and the lints at their lines; and the stored policies (GET /policies, the IR of
// one by GET /policy/{hash}).
import * as api from './api.js';
import { h, badge, dl, replace, shortHash, code, table, notice, announce } from './dom.js';
import * as paging from './paging.js';
import { gate, failure, signInNeeded } from './session.js';

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const draft = { text: '', mode: 'strict', persist: false };
const stored = paging.state();
// tickets only: the answer shown is that of the latest compile, the latest IR asked for
const compiles = paging.state();
const irs = paging.state();

// Sign-out or another user (docs/ui.md, "Signing in"): the draft is forgotten, and answers
// still coming for the previous user are not shown.
export function forget() {
  Object.assign(draft, { text: '', mode: 'strict', persist: false });
  for (const s of [stored, compiles, irs]) {
    paging.restart(s);
    paging.begin(s);
  }
}

function base64Utf8(text) {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

// The source with its line numbers and each lint under the line it is about.
function sourceView(text, lints) {
  const lines = text.split(/\r?\n/);
  const byLine = new Map();
  const unplaced = [];
  for (const l of lints) {
    if (Number.isInteger(l.line) && l.line >= 1 && l.line <= lines.length) {
      if (!byLine.has(l.line)) byLine.set(l.line, []);
      byLine.get(l.line).push(l);
    } else unplaced.push(l);
  }
  const lintEl = (l) => h(`div.lint.lint-${l.level === 'error' ? 'error' : 'warning'}`, { dataset: { code: String(l.code) } },
    badge(l.level === 'error' ? 'error' : 'warning'), ' ', code(l.code), ' ',
    Number.isInteger(l.line) ? h('span.muted', null, `line ${l.line}${Number.isInteger(l.column) ? `, column ${l.column}` : ''}: `) : null,
    String(l.message ?? ''));
  const items = lines.map((t, i) => h('li', { dataset: { line: i + 1 }, class: byLine.has(i + 1) ? 'has-lint' : null },
    h('span.ln', { 'aria-hidden': 'true' }, String(i + 1)),
    h('code.src', null, t || ' '),
    byLine.has(i + 1) ? byLine.get(i + 1).map(lintEl) : null));
  return h('div.source-wrap', null,
    unplaced.length ? h('div.lints-unplaced', null, unplaced.map(lintEl)) : null,
    h('ol.source', { 'aria-label': 'Policy source with lints', tabindex: '0' }, items));
}

function lintsOf(json) {
  return isObj(json) && Array.isArray(json.lints) ? json.lints.filter(isObj) : [];
}

// Compiles `text` into `out`; `button` (Compile) is marked disabled until the answer, and the
// form takes no second compile meanwhile (a double click with "Store" stores once). It keeps
// the focus: aria-disabled, not disabled, which would drop it.
async function compile(out, text, button) {
  const ticket = paging.begin(compiles);
  button.setAttribute('aria-disabled', 'true');
  replace(out, h('p.muted', null, 'Compiling…'));
  const res = await api.call('/policy/compile', {
    method: 'POST',
    type: 'application/json',
    body: JSON.stringify({ policy_yaml: base64Utf8(text), lint_mode: draft.mode, persist: draft.persist }),
  });
  button.removeAttribute('aria-disabled');
  if (!paging.current(compiles, ticket)) return;
  if (res.ok && isObj(res.json)) {
    const j = res.json;
    const lints = lintsOf(j);
    announce(`Compiled: ${lints.length} warning(s).${j.persisted ? ' Stored in the policy store.' : ''}`);
    replace(out,
      notice('ok', h('strong', null, 'Compiled. '), `${lints.length} warning(s).`, j.persisted ? ' Stored in the policy store.' : ''),
      dl([
        ['Policy', [code(j.policy_id), j.policy_version ? [' version ', code(j.policy_version)] : null]],
        ['Policy hash', code(j.policy_hash)],
        ['IR hash', code(j.ir_hash)],
      ]),
      h('h3', null, 'Source and lints'),
      sourceView(text, lints),
      h('h3', null, 'IR'),
      h('pre.ir', { tabindex: '0', 'aria-label': 'Compiled IR' }, JSON.stringify(j.ir, null, 2)));
    return;
  }
  if (res.status === 422) {
    const lints = lintsOf(res.json);
    const errors = lints.filter((l) => l.level === 'error').length;
    announce(`Does not compile: ${errors} error(s), ${lints.length - errors} warning(s).`);
    replace(out, notice('error', h('strong', null, 'Does not compile. '), `${errors} error(s), ${lints.length - errors} warning(s).`),
      h('h3', null, 'Source and lints'), sourceView(text, lints));
    return;
  }
  // a YAML error names its place: "line L, column C: …"
  const m = res.status === 400 ? /^line (\d+), column (\d+): (.*)$/s.exec(res.message || '') : null;
  if (m) {
    announce(`The YAML cannot be read: line ${m[1]}.`);
    replace(out, notice('error', h('strong', null, 'The YAML cannot be read. ')),
      sourceView(text, [{ code: res.code, level: 'error', line: Number(m[1]), column: Number(m[2]), message: m[3] }]));
    return;
  }
  announce(`Not compiled: ${res.code}.`);
  replace(out, failure(res, 'compile policies'));
}

function editor() {
  const area = h('textarea#policy-text.code', { rows: 18, spellcheck: 'false', autocomplete: 'off', wrap: 'off', 'aria-describedby': 'policy-help' });
  area.value = draft.text;
  const gutter = h('pre.gutter', { 'aria-hidden': 'true' });
  const numbers = () => {
    const n = Math.max(1, area.value.split('\n').length);
    gutter.textContent = Array.from({ length: n }, (_, i) => String(i + 1)).join('\n');
  };
  area.addEventListener('input', () => { draft.text = area.value; numbers(); });
  area.addEventListener('scroll', () => { gutter.scrollTop = area.scrollTop; });
  numbers();
  const file = h('input#policy-file', {
    type: 'file',
    accept: '.yml,.yaml,.json,text/yaml,application/json',
    on: {
      change: async () => {
        if (!file.files.length) return;
        area.value = await file.files[0].text();
        draft.text = area.value;
        numbers();
        file.value = '';
      },
    },
  });
  const mode = h('select#lint-mode', null, ['strict', 'relaxed'].map((m) => h('option', { value: m, selected: m === draft.mode }, m)));
  mode.addEventListener('change', () => { draft.mode = mode.value; });
  const persist = h('input#persist', { type: 'checkbox', checked: draft.persist });
  persist.addEventListener('change', () => { draft.persist = persist.checked; });
  // no live region: the outcome is announced in one line (#announce)
  const out = h('div#compile-result');
  const button = h('button.primary', { type: 'submit' }, 'Compile');
  const form = h('form.policy-form', {
    on: {
      submit: (ev) => {
        ev.preventDefault();
        if (area.value.trim() && button.getAttribute('aria-disabled') !== 'true') compile(out, area.value, button);
      },
    },
  },
  h('label', { for: 'policy-text' }, 'PolicyV2 YAML'),
  h('div.editor', null, gutter, area),
  h('p#policy-help.muted', null, 'Paste a policy or load a file; lints are shown at their lines.'),
  h('div.row', null,
    h('label', { for: 'policy-file' }, 'Load a file'), file,
    h('label', { for: 'lint-mode' }, 'Lint mode'), mode,
    h('label.check', null, persist, ' Store the compiled policy')),
  button);
  return [form, out];
}

async function loadStored(box, irBox, cursors = stored.cursors) {
  const after = paging.cursorOf(cursors);
  const q = new URLSearchParams({ limit: '25' });
  if (after) q.set('after', String(after));
  const ticket = paging.begin(stored);
  const res = await api.call(`/policies?${q}`);
  if (!paging.current(stored, ticket)) return;
  if (!res.ok) {
    replace(box, failure(res, 'list stored policies'), paging.retry(stored, () => loadStored(box, irBox, cursors), 'policies'));
    return;
  }
  paging.shown(stored, cursors);
  const list = isObj(res.json) && Array.isArray(res.json.policies) ? res.json.policies.filter(isObj) : [];
  const rows = list.map((p) => h('tr', null,
    h('td', null, code(p.policy_id)),
    h('td', null, String(p.policy_version ?? '—')),
    h('td', null, shortHash(p.policy_hash)),
    h('td', null, String(p.created_at ?? '—')),
    h('td', null, h('button.link', {
      type: 'button',
      on: {
        click: async () => {
          const ticket = paging.begin(irs);
          replace(irBox, h('p.muted', null, 'Loading…'));
          const ir = await api.call(`/policy/${api.seg(p.policy_hash)}`);
          if (!paging.current(irs, ticket)) return;
          replace(irBox, ir.ok ? [h('h3', null, 'IR of ', code(p.policy_id)), h('pre.ir', { tabindex: '0' }, JSON.stringify(ir.json, null, 2))]
            : failure(ir, 'read stored policies'));
        },
      },
    }, 'Show IR', h('span.visually-hidden', null, ` of ${p.policy_id}`)))));
  const next = res.json && res.json.next;
  replace(box,
    list.length ? table(['Policy', 'Version', 'Policy hash', 'Stored', h('span.visually-hidden', null, 'IR')], rows) : h('p.muted', null, 'No stored policy.'),
    paging.pager(stored, next, (c) => loadStored(box, irBox, c), 'policies'));
}

export function render(main) {
  const signIn = signInNeeded('compile and read policies');
  if (signIn) {
    replace(main, h('h1', null, 'Policies'), signIn);
    return;
  }
  const compileBlocked = gate('policy:compile', 'compile policies');
  const listBlocked = gate('policy:read', 'read stored policies');
  const box = h('div#policies');
  const irBox = h('div#policy-ir');
  replace(main,
    h('h1', null, 'Policies'),
    h('section', { 'aria-labelledby': 'compile-title' }, h('h2#compile-title', null, 'Compile a policy'), compileBlocked || editor()),
    h('section', { 'aria-labelledby': 'stored-title' }, h('h2#stored-title', null, 'Stored policies'), listBlocked || [box, irBox]));
  if (!listBlocked) loadStored(box, irBox);
}
