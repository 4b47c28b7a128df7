/* SPDX-License-Identifier: Apache-2.0 */
// DOM building without HTML parsing: every text goes in as a text node, so member names,
// messages and other package content can never become markup (docs/ui.md, "Safety").
// Nothing in the UI uses innerHTML, insertAdjacentHTML, document.write or eval.

// links go to the UI's own pages and to downloads of reports it holds; nothing else
const SAFE_URL = /^(#|\/ui\/|blob:)/;

// h('tag#id.class1.class2', {attr: value, on: {event: fn}}, ...children)
// Children: nodes, strings (text), numbers, arrays, null/false (skipped).
export function h(spec, attrs, ...children) {
  const m = /^([a-z0-9]*)(?:#([A-Za-z0-9_-]+))?((?:\.[A-Za-z0-9_-]+)*)$/.exec(spec);
  if (!m) throw new Error(`bad element spec ${spec}`);
  const el = document.createElement(m[1] || 'div');
  if (m[2]) el.id = m[2];
  if (m[3]) el.className = m[3].slice(1).split('.').join(' ');
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'on') {
        for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
      } else if (k === 'class') {
        el.className += (el.className ? ' ' : '') + v;
      } else if (k === 'dataset') {
        for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
      } else if (k === 'href' || k === 'src' || k === 'action') {
        const s = String(v);
        if (!SAFE_URL.test(s)) throw new Error(`refusing URL ${s.slice(0, 40)}`);
        el.setAttribute(k, s);
      } else if (k.startsWith('on')) {
        throw new Error('event handlers go in attrs.on');
      } else if (v === true) {
        el.setAttribute(k, '');
      } else {
        el.setAttribute(k, String(v));
      }
    }
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  return append(el, children);
}

// A hash or digest shortened for tables, the whole value in the title and for copying.
export function shortHash(s) {
  if (typeof s !== 'string') return h('span.muted', null, '—');
  const t = s.length > 22 ? `${s.slice(0, 12)}…${s.slice(-8)}` : s;
  return h('code.hash', { title: s }, t);
}

export function code(s) {
  return h('code', null, s === null || s === undefined ? '—' : String(s));
}

// A status badge: ok/pass green, warn amber, fail red, skip grey. The word is always shown:
// colour is never the only carrier of meaning. `tone` (ok, warn, fail, skip) sets the colour
// of a word the map does not know (a phrase of the report's).
const TONES = {
  ok: 'ok', pass: 'ok', valid: 'ok', ready: 'ok', true: 'ok', known: 'ok', trusted: 'ok', active: 'ok',
  unknown: 'warn', untrusted: 'fail', retired: 'warn', revoked: 'fail',
  warn: 'warn', warning: 'warn', skip: 'skip', unsigned: 'skip',
  fail: 'fail', error: 'fail', invalid: 'fail', malformed: 'fail', not_ready: 'fail', false: 'fail',
};

export function badge(word, tone = '') {
  const w = String(word || 'unknown');
  // the word is the daemon's or a package's: only the map's own keys (not "constructor")
  const cls = tone || (Object.hasOwn(TONES, w) ? TONES[w] : 'skip');
  return h(`span.badge.badge-${cls}`, null, w);
}

// A definition list from [label, value] pairs (values: nodes or text; null rows skipped).
export function dl(rows) {
  const el = h('dl.kv');
  for (const row of rows) {
    if (!row) continue;
    append(el, [h('dt', null, row[0]), h('dd', null, row[1] === null || row[1] === undefined ? '—' : row[1])]);
  }
  return el;
}

// Says `text` in the page's live region (#announce, there from the start: a region inserted
// with its text is not read out). Views drawn anew are no live regions: they would be read
// out whole at every step. The same text twice is still said again.
export function announce(text) {
  const el = document.getElementById('announce');
  if (el) el.textContent = el.textContent === text ? `${text}\u00a0` : text;
}

export function notice(kind, ...children) {
  return h(`div.notice.notice-${kind}`, { role: kind === 'error' ? 'alert' : 'status' }, ...children);
}

export function table(headers, rows, caption) {
  return h('div.table-wrap', null,
    h('table', null,
      caption ? h('caption', null, caption) : null,
      h('thead', null, h('tr', null, headers.map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', null, rows)));
}
