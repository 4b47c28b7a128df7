/* SPDX-License-Identifier: Apache-2.0 */
// The verify page: drop or pick packages (.zip, .capz or JSON; several at once), each sent to
// POST /verify as it is (a zip by its signature, whatever its name; anything else as JSON),
// a summary list of the verdicts, and the selected package's report. An audit log chosen on
// the page goes with every package added while it is chosen, in a multipart/form-data body
// with the fields `package` and `audit_log` (docs/ui.md, "Pages").
import * as api from './api.js';
import { h, badge, replace, table, notice, announce } from './dom.js';
import { renderReport } from './report.js';
import { gate, failure } from './session.js';

// {name, size, state: 'waiting'|'verifying'|'done'|'error', res, report, file (until verified:
// kept after an error for a retry), log (the audit log chosen when it was added, held like
// file), logName}
let items = [];
let auditLog = null; // the chosen audit log (a File), sent with each package added from now on
let logRefused = ''; // why the last file chosen as the audit log was not taken
let logEl = null;
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
  auditLog = null;
  logRefused = '';
  selected = -1;
  running = false;
}

function isZip(bytes) {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b &&
    ((bytes[2] === 3 && bytes[3] === 4) || (bytes[2] === 5 && bytes[3] === 6));
}

// A multipart/form-data body (RFC 7578) of the fields `package` and `audit_log`, built here
// rather than by FormData: its framing, and so the body's size, is then known before a file
// is read, for the check against server.max_body_bytes. No file names (the browser's would be
// package content in a header) and one media type for both: the daemon tells a zip by its
// bytes. The boundary is 144 random bits, as unlikely in the content as a browser's own.
const CRLF = '\r\n';
function formParts(boundary) {
  const head = (name) => `--${boundary}${CRLF}Content-Disposition: form-data; name="${name}"${CRLF}` +
    `Content-Type: application/octet-stream${CRLF}${CRLF}`;
  return [head('package'), `${CRLF}${head('audit_log')}`, `${CRLF}--${boundary}--${CRLF}`];
}
const FRAMING = formParts('x'.repeat(41)).reduce((n, t) => n + t.length, 0); // ASCII: chars = bytes

function newBoundary() {
  const r = crypto.getRandomValues(new Uint8Array(18));
  return `capv-${Array.from(r, (b) => b.toString(16).padStart(2, '0')).join('')}`; // 41 characters
}

// The bytes of a file, or the reason the browser could not read it (a folder, or a file gone or
// unreadable since it was chosen).
async function readFile(file) {
  try {
    return { bytes: new Uint8Array(await file.arrayBuffer()) };
  } catch (e) {
    return { why: e && e.message ? e.message : 'no reason given' };
  }
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
      h('td.file-name', null, it.name, it.logName ? h('span.log-note', null, 'with the audit log ', it.logName) : null),
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
      'the daemon did not accept the sign-in this package was sent with. Paste a new token of the same ' +
      'user and retry; signing in through the identity provider, or as someone else, starts a new page: ' +
      'choose the file again. ', retry);
  }
  return [failure(it.res, 'verify packages'), retry ? h('p', null, retry) : null];
}

function select(i, focus = true) {
  selected = i;
  renderList();
  const it = items[i];
  if (!detailEl || !it) return;
  const sentWith = it.logName ? h('p.muted', null, 'Sent with the audit log ', h('strong', null, it.logName), '.') : null;
  if (it.state === 'error') {
    replace(detailEl, h('h2', null, it.name), sentWith, itemFailure(it));
  } else if (it.state === 'done') {
    replace(detailEl, h('h2.report-title', null, it.name),
      sentWith,
      renderReport(it.report, it.res.text, { name: it.name, requestId: it.res.requestId }));
  } else {
    replace(detailEl, h('h2', null, it.name), sentWith, h('p.muted', null, `${it.state}…`));
  }
  if (focus) detailEl.focus();
}

async function verifyOne(it) {
  it.state = 'verifying';
  renderList();
  const error = (code, message) => {
    it.state = 'error';
    it.file = null;
    it.log = null;
    it.res = { status: 0, code, message, requestId: '' };
  };
  const size = it.log ? it.file.size + it.log.size + FRAMING : it.file.size;
  if (maxBody > 0 && size > maxBody) {
    error('too_large', it.log
      ? `this file and its audit log make a body of ${size} bytes (${it.file.size} + ${it.log.size} + ${FRAMING} of form); the daemon takes at most ${maxBody} (server.max_body_bytes): not sent`
      : `this file has ${it.size} bytes; the daemon takes at most ${maxBody} (server.max_body_bytes): not sent`);
    return;
  }
  try {
    // one that cannot be read fails, the others go on
    const pkg = await readFile(it.file);
    if (!pkg.bytes) {
      error('unreadable', `the browser could not read this file (${pkg.why})`);
      return;
    }
    let req;
    if (it.log) {
      const log = await readFile(it.log);
      if (!log.bytes) {
        error('unreadable', `the browser could not read the audit log ${it.logName} (${log.why})`);
        return;
      }
      if (log.bytes.length === 0) {
        error('empty', `the audit log ${it.logName} is empty: not sent`);
        return;
      }
      const boundary = newBoundary();
      const [head, between, tail] = formParts(boundary);
      req = { body: new Blob([head, pkg.bytes, between, log.bytes, tail]), type: `multipart/form-data; boundary=${boundary}` };
    } else {
      req = { body: pkg.bytes, type: isZip(pkg.bytes) ? 'application/zip' : 'application/json' };
    }
    const res = await api.call('/verify', { method: 'POST', ...req });
    it.res = res;
    if (res.ok && res.json && typeof res.json === 'object' && typeof res.json.result === 'string') {
      it.state = 'done';
      it.report = res.json;
      it.file = null;
      it.log = null;
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
  for (const f of Array.from(files)) {
    items.push({ name: f.name, size: f.size, state: 'waiting', res: null, report: null, file: f,
      log: auditLog, logName: auditLog ? auditLog.name : '' });
  }
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

// The optional audit log: a file picker and what is chosen, with a way to remove it. Choosing
// or removing one changes what goes with the packages added next, not with those already
// listed (each keeps the log it was added with, for a retry too).
function renderLog(focus = false) {
  if (!logEl) return;
  const input = h('input#audit-log.file-input', {
    type: 'file',
    accept: '.jsonl,.json,.log,.txt,application/x-ndjson,application/json,text/plain',
    'aria-describedby': 'audit-log-help audit-log-chosen',
    on: { change: () => { if (input.files.length) chooseLog(input.files[0]); } },
  });
  const chosen = auditLog
    ? h('span#audit-log-chosen', null, 'Chosen: ', h('strong', null, auditLog.name), ` (${auditLog.size} bytes)`)
    : h('span#audit-log-chosen.muted', null, logRefused || 'None: packages are sent alone.');
  replace(logEl,
    h('p.audit-log-title', null, h('strong', null, 'Audit log'), ' (optional)'),
    h('p#audit-log-help.muted', null, 'An audit log kept beside the packages (agent.audit.jsonl, audit_chain.jsonl): it is sent with each package added while it is chosen, and the audit check compares it with the manifest.'),
    h('div.row', null, input, h('label.button', { for: 'audit-log' }, auditLog ? 'Choose another audit log…' : 'Choose an audit log…'),
      chosen,
      auditLog ? h('button#audit-log-remove', { type: 'button', on: { click: () => chooseLog(null) } }, 'Remove the audit log') : null));
  if (focus) input.focus();
}

function chooseLog(file) {
  // the daemon refuses an empty audit_log: said now, not once per package
  logRefused = file && file.size === 0 ? `${file.name} is empty: not chosen. Packages are sent alone.` : '';
  auditLog = file && file.size > 0 ? file : null;
  renderLog(true); // drawn anew: the focus goes back to the picker
  announce(auditLog ? `Audit log ${auditLog.name} chosen: it is sent with each package added from now on.`
    : logRefused || 'Audit log removed: packages are sent alone.');
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
  logEl = h('div#audit.audit-log');
  listEl = h('div#results.results');
  detailEl = h('div#report.report-view', { tabindex: '-1' });
  replace(main,
    h('h1', null, 'Verify packages'),
    blocked || [drop, logEl, h('h2', null, 'Results'), listEl, detailEl]);
  if (blocked) {
    logEl = null;
    listEl = null;
    detailEl = null;
    return;
  }
  renderLog();
  renderList();
  if (selected >= 0 && items[selected]) select(selected);
}
