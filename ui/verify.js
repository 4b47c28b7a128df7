/* SPDX-License-Identifier: Apache-2.0 */
// The verify page: drop or pick packages (.zip, .capz or JSON; several at once), each sent to
// POST /verify as it is (a zip by its signature, whatever its name; anything else as JSON),
// a summary list of the verdicts, and the selected package's report.
import * as api from './api.js';
import { h, badge, replace, table, notice, announce } from './dom.js';
import { renderReport } from './report.js';
import { gate, failure } from './session.js';

// {name, size, state: 'waiting'|'verifying'|'done'|'error', res, report, file (until verified:
// kept after an error for a retry)}
let items = [];
let selected = -1;
let listEl = null;
let detailEl = null;
let running = false;
let generation = 0; // bumped by forget(): the queue of the previous user stops
let maxBody = 0; // server.max_body_bytes from /ui/config.json (0: not known)

// The daemon's body limit: a larger file is refused here, not sent (the daemon would refuse
// it by its Content-Length and close the connection, which a browser reports as a network
// failure).
export function configure(config) {
  maxBody = Number.isSafeInteger(config.max_body_bytes) && config.max_body_bytes > 0 ? config.max_body_bytes : 0;
}

// Sign-out or another user (docs/ui.md, "Signing in"): the packages, their reports and the
// files still queued are forgotten; an answer still coming for them is dropped.
export function forget() {
  generation += 1;
  items = [];
  selected = -1;
  running = false;
}

function isZip(bytes) {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b &&
    ((bytes[2] === 3 && bytes[3] === 4) || (bytes[2] === 5 && bytes[3] === 6));
}

function failedChecks(report) {
  if (!report || !Array.isArray(report.checks)) return 0;
  const all = report.checks.concat(...(Array.isArray(report.units) ? report.units.map((u) => (u && Array.isArray(u.checks) ? u.checks : [])) : []));
  return all.filter((c) => c && c.status === 'fail').length;
}

function renderList() {
  if (!listEl) return;
  if (items.length === 0) {
    replace(listEl, h('p.muted', null, 'No package yet.'));
    return;
  }
  const rows = items.map((it, i) => {
    const verdict = it.state === 'done' ? badge(it.report && it.report.result)
      : it.state === 'error' ? badge('error') : h('span.muted', null, `${it.state}…`);
    return h('tr', { class: i === selected ? 'selected' : null, dataset: { index: i } },
      h('td.file-name', null, it.name),
      h('td', null, verdict),
      h('td', null, it.state === 'done' ? String(failedChecks(it.report)) : '—'),
      h('td', null, h('button.link', {
        type: 'button',
        'aria-pressed': i === selected ? 'true' : 'false',
        disabled: it.state === 'waiting' || it.state === 'verifying',
        on: { click: () => select(i) },
      }, 'Show', h('span.visually-hidden', null, ` ${it.name}`))));
  });
  replace(listEl, table(['File', 'Verdict', 'Failed checks', h('span.visually-hidden', null, 'Report')], rows, `${items.length} package(s)`));
}

// Why a package has no report, with a Retry while its file is still held. A 401 is told in
// one line: the page's sign-in panel is elsewhere (and only one may be on the page).
function itemFailure(it) {
  const retry = it.file ? h('button.retry', { type: 'button', on: { click: () => retryItem(it) } },
    'Retry', h('span.visually-hidden', null, ` ${it.name}`)) : null;
  if (it.res.unauthorized) {
    return notice('warn', h('strong', null, 'Refused: '),
      'the daemon did not accept the sign-in this package was sent with. Sign in and retry. ', retry);
  }
  return [failure(it.res, 'verify packages'), retry ? h('p', null, retry) : null];
}

function select(i, focus = true) {
  selected = i;
  renderList();
  const it = items[i];
  if (!detailEl || !it) return;
  if (it.state === 'error') {
    replace(detailEl, h('h2', null, it.name), itemFailure(it));
  } else if (it.state === 'done') {
    replace(detailEl, h('h2.report-title', null, it.name),
      renderReport(it.report, it.res.text, { name: it.name, requestId: it.res.requestId }));
  } else {
    replace(detailEl, h('h2', null, it.name), h('p.muted', null, `${it.state}…`));
  }
  if (focus) detailEl.focus();
}

async function verifyOne(it) {
  it.state = 'verifying';
  renderList();
  if (maxBody > 0 && it.file.size > maxBody) {
    it.state = 'error';
    it.file = null;
    it.res = { status: 0, code: 'too_large', message: `this file has ${it.size} bytes; the daemon takes at most ${maxBody} (server.max_body_bytes): not sent`, requestId: '' };
    return;
  }
  try {
    let bytes;
    try {
      bytes = new Uint8Array(await it.file.arrayBuffer());
    } catch (e) {
      // a folder, or a file gone or unreadable since it was chosen: this one fails, the
      // others go on
      it.state = 'error';
      it.file = null;
      it.res = { status: 0, code: 'unreadable', message: `the browser could not read this file (${e && e.message ? e.message : 'no reason given'})`, requestId: '' };
      return;
    }
    const zip = isZip(bytes);
    const res = await api.call('/verify', { method: 'POST', body: bytes, type: zip ? 'application/zip' : 'application/json' });
    it.res = res;
    if (res.ok && res.json && typeof res.json === 'object' && typeof res.json.result === 'string') {
      it.state = 'done';
      it.report = res.json;
      it.file = null;
    } else {
      it.state = 'error';
      if (res.ok) {
        res.code = 'unexpected';
        res.message = 'the daemon did not answer a report';
      }
    }
  } catch (e) {
    it.state = 'error';
    it.res = { status: 0, code: 'internal', message: `the page failed: ${e && e.message ? e.message : e}`, requestId: '' };
  }
}

// One after the other, files dropped during a batch too: the daemon's memory budget is
// shared by every client. The loop running takes them in turn; `first` is the item to show
// at the end, unless the user has chosen one meanwhile.
async function run(first) {
  renderList();
  if (running) return;
  running = true;
  const gen = generation;
  const shown = selected;
  const done = [];
  try {
    for (let it = items.find((x) => x.state === 'waiting'); it; it = items.find((x) => x.state === 'waiting')) {
      await verifyOne(it);
      if (gen !== generation) return; // forgotten meanwhile: not a word of it shown
      done.push(it);
      if (items[selected] === it) select(selected, false); // a retried one, shown while it waited
    }
  } finally {
    if (gen === generation) running = false;
  }
  renderList();
  const count = (st) => done.filter((it) => (it.state === 'done' ? it.report.result : 'error') === st).length;
  const outcomes = ['ok', 'warn', 'fail', 'error'].filter((st) => count(st) > 0).map((st) => `${count(st)} ${st}`);
  const other = done.length - ['ok', 'warn', 'fail', 'error'].reduce((n, st) => n + count(st), 0);
  if (other > 0) outcomes.push(`${other} other`);
  announce(`Verified ${done.length} package(s): ${outcomes.join(', ')}.`);
  if (selected === shown) select(first);
}

function addFiles(files) {
  const start = items.length;
  for (const f of Array.from(files)) items.push({ name: f.name, size: f.size, state: 'waiting', res: null, report: null, file: f });
  run(start);
}

function retryItem(it) {
  const i = items.indexOf(it);
  if (i < 0 || it.state !== 'error' || !it.file) return;
  it.state = 'waiting';
  it.res = null;
  select(i); // "waiting…" in place of the error; the focus on the report view, not lost
  run(i);
}

export function render(main) {
  const blocked = gate('verify:run', 'verify packages');
  const input = h('input#files.file-input', {
    type: 'file',
    multiple: true,
    accept: '.zip,.capz,.json,application/zip,application/json',
    on: { change: () => { if (input.files.length) addFiles(input.files); input.value = ''; } },
  });
  const drop = h('div#drop.drop', {
    on: {
      dragover: (ev) => { ev.preventDefault(); drop.classList.add('drag'); },
      dragleave: () => drop.classList.remove('drag'),
      drop: (ev) => {
        ev.preventDefault();
        drop.classList.remove('drag');
        if (ev.dataTransfer && ev.dataTransfer.files.length) addFiles(ev.dataTransfer.files);
      },
    },
  },
  h('p.drop-title', null, 'Drop packages here'),
  h('p.muted', null, '.zip or .capz bundles and JSON packages, several at once'),
  h('label.button', { for: 'files' }, 'Choose files…'),
  input);
  // no live region: it is drawn anew at every step; a batch's end is announced in one line
  listEl = h('div#results.results');
  detailEl = h('div#report.report-view', { tabindex: '-1' });
  replace(main,
    h('h1', null, 'Verify packages'),
    blocked || [drop, h('h2', null, 'Results'), listEl, detailEl]);
  if (blocked) {
    listEl = null;
    detailEl = null;
    return;
  }
  renderList();
  if (selected >= 0 && items[selected]) select(selected);
}
