/* SPDX-License-Identifier: Apache-2.0 */
// The verify page: drop or pick packages (.zip, .capz or JSON; several at once), each sent to
// POST /verify as it is (a zip by its signature, whatever its name; anything else as JSON),
// a summary list of the verdicts, and the selected package's report.
import * as api from './api.js';
import { h, badge, replace, table } from './dom.js';
import { renderReport } from './report.js';
import { gate, failure } from './session.js';

const items = []; // {name, size, state: 'waiting'|'verifying'|'done'|'error', res, report, file (until sent)}
let selected = -1;
let listEl = null;
let detailEl = null;

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

function select(i) {
  selected = i;
  renderList();
  const it = items[i];
  if (!detailEl || !it) return;
  if (it.state === 'error') {
    replace(detailEl, h('h2', null, it.name), failure(it.res, 'verify packages'));
  } else {
    replace(detailEl, h('h2.report-title', null, it.name),
      renderReport(it.report, it.res.text, { name: it.name, requestId: it.res.requestId }));
  }
  detailEl.focus();
}

async function verifyOne(it, file) {
  it.state = 'verifying';
  renderList();
  let bytes;
  try {
    bytes = new Uint8Array(await file.arrayBuffer());
  } catch (e) {
    // a folder, or a file gone or unreadable since it was chosen: this one fails, the
    // others go on
    it.state = 'error';
    it.res = { status: 0, code: 'unreadable', message: `the browser could not read this file (${e && e.message ? e.message : 'no reason given'})`, requestId: '' };
    return;
  }
  const zip = isZip(bytes);
  const res = await api.call('/verify', { method: 'POST', body: bytes, type: zip ? 'application/zip' : 'application/json' });
  it.res = res;
  if (res.ok && res.json && typeof res.json === 'object' && typeof res.json.result === 'string') {
    it.state = 'done';
    it.report = res.json;
  } else {
    it.state = 'error';
    if (res.ok) {
      res.code = 'unexpected';
      res.message = 'the daemon did not answer a report';
    }
  }
}

let running = false;

async function addFiles(files) {
  const start = items.length;
  for (const f of Array.from(files)) items.push({ name: f.name, size: f.size, state: 'waiting', res: null, report: null, file: f });
  renderList();
  // One after the other, files dropped during a batch too: the daemon's memory budget is
  // shared by every client. The loop running takes them in turn.
  if (running) return;
  running = true;
  const shown = selected;
  for (let it = items.find((x) => x.state === 'waiting'); it; it = items.find((x) => x.state === 'waiting')) {
    await verifyOne(it, it.file);
    it.file = null;
  }
  running = false;
  renderList();
  // the first report of the batch, unless the user has chosen one meanwhile
  if (selected === shown) select(start);
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
  listEl = h('div#results.results', { 'aria-live': 'polite' });
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
