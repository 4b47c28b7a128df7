/* SPDX-License-Identifier: Apache-2.0 */
// A verification report (docs/formats.md, "Verification report") as a page: the verdict, the
// manifest summary, every check with its status, message and details, and the report itself
// to download. Everything shown comes from the report; package content (member names,
// signer names, messages) is hostile input and only ever becomes text nodes.
import { h, badge, dl, shortHash, code, table } from './dom.js';

const VERDICT = {
  ok: 'Verified: every check passed',
  warn: 'Verified with warnings',
  fail: 'Not verified: a check failed',
};
const DETAILS_MAX = 5000; // values shown of one check's details; the download has everything
const ITEMS_MAX = 500; // items shown of one list

const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v) => (typeof v === 'string' ? v : null);

function checksOf(report) {
  const top = Array.isArray(report.checks) ? report.checks.filter(isObj) : [];
  const units = Array.isArray(report.units) ? report.units.filter(isObj) : [];
  return top.concat(...units.map((u) => (Array.isArray(u.checks) ? u.checks.filter(isObj) : [])));
}

function detailsOf(checks, id) {
  const c = checks.find((x) => x.id === id);
  return c && isObj(c.details) ? c.details : {};
}

export function verdictBanner(result, extra) {
  const r = ['ok', 'warn', 'fail'].includes(result) ? result : 'fail';
  return h(`div.verdict.verdict-${r}`, { role: 'status', dataset: { verdict: String(result) } },
    h('span.verdict-word', null, String(result || 'unknown').toUpperCase()),
    h('span.verdict-text', null, VERDICT[r]),
    extra || null);
}

function signersTable(sigs) {
  if (!Array.isArray(sigs) || sigs.length === 0) return h('span.muted', null, 'no signature');
  const rows = sigs.filter(isObj).map((s) => h('tr', null,
    h('td', null, str(s.signer) ?? '—'),
    h('td', null, s.kid ? shortHash(String(s.kid)) : '—'),
    h('td', null, badge(s.valid === true ? 'valid' : s.valid === false ? 'invalid' : 'unknown')),
    // the report's phrase ("key revoked", …), coloured by whether the key is trusted
    h('td', null, badge(str(s.trust) ?? (s.trusted ? 'trusted' : 'untrusted'),
      s.trusted === true ? 'ok' : s.trusted === false ? 'fail' : '')),
    h('td', null, str(s.key_status) ?? '—')));
  return table(['Signer', 'Key id', 'Signature', 'Trust', 'Key status'], rows);
}

export function manifestSummary(report) {
  const checks = checksOf(report);
  const sig = detailsOf(checks, 'manifest.signature');
  const pol = detailsOf(checks, 'policy.binding');
  const proof = detailsOf(checks, 'proof.container');
  const backend = detailsOf(checks, 'proof.backend');
  const ts = detailsOf(checks, 'timestamp');
  // a token's time and TSA are what it claims: beside them, whether the check passed
  const tsStatus = str((checks.find((x) => x.id === 'timestamp') || {}).status);
  const claimed = (v) => (tsStatus === 'pass' ? v
    : h('span', null, v, ' ', badge(tsStatus ? 'not verified' : 'unknown', 'fail')));
  const policyName = [str(pol.policy_name), str(pol.policy_version) ? `(${pol.policy_version})` : null]
    .filter(Boolean).join(' ');
  return h('section.summary', { 'aria-labelledby': 'summary-title' },
    h('h3#summary-title', null, 'Manifest'),
    dl([
      ['Format', code(str(report.format) ?? 'unknown')],
      ['Manifest hash', shortHash(str(report.manifest_hash))],
      ['Proof hash', shortHash(str(report.proof_hash))],
      ['Policy', policyName || h('span.muted', null, 'not named')],
      ['Policy hash', shortHash(str(report.policy_hash) ?? str(pol.policy_hash))],
      ['Policy known', 'known' in pol ? badge(pol.known ? 'known' : 'unknown') : '—'],
      ['Proof backend', str(proof.backend) ?? str(backend.backend) ?? '—'],
      ['Proof container', str(proof.container) ?? '—'],
      ['Timestamp', str(ts.gen_time) ? claimed(ts.gen_time) : h('span.muted', null, 'none')],
      ['Time-stamping authority', str(ts.tsa) ? claimed(ts.tsa) : '—'],
    ]),
    h('h4', null, 'Signers'),
    signersTable(sig.signatures));
}

// A details value as nested lists: names and messages appear exactly as they are, as text.
// At most ITEMS_MAX items of a list and DETAILS_MAX nodes in all; the download has the rest.
function valueView(v, budget, depth) {
  if (budget.left-- <= 0) return null;
  if (v === null || typeof v !== 'object') return h('code.value', null, v === null ? 'null' : String(v));
  if (depth > 6) return h('span.muted', null, '…');
  if (Array.isArray(v)) {
    if (v.length === 0) return h('span.muted', null, 'none');
    const shown = v.slice(0, ITEMS_MAX);
    return h('ul.value-list', null,
      shown.map((x) => h('li', null, valueView(x, budget, depth + 1))),
      v.length > shown.length ? h('li.muted', null, `… and ${v.length - shown.length} more (download the report)`) : null);
  }
  return h('dl.value-obj', null, Object.entries(v).map(([k, x]) => [h('dt', null, k), h('dd', null, valueView(x, budget, depth + 1))]));
}

function detailsCell(details) {
  if (!isObj(details) || Object.keys(details).length === 0) return h('span.muted', null, '—');
  const body = h('div.details', { tabindex: '0', role: 'region', 'aria-label': 'Check details' });
  const box = h('details', {
    on: {
      // built when opened: a hostile report may carry thousands of names
      toggle: () => {
        if (!box.open || body.firstChild) return;
        body.appendChild(valueView(details, { left: DETAILS_MAX }, 0));
      },
    },
  }, h('summary', null, `${Object.keys(details).length} field(s)`), body);
  return box;
}

export function checksTable(checks, caption) {
  const rows = checks.filter(isObj).map((c) => h('tr.check', { dataset: { status: String(c.status) } },
    h('td.check-id', null, code(str(c.id) ?? '?')),
    h('td.check-status', null, badge(str(c.status) ?? 'unknown')),
    h('td.check-message', null, str(c.message) ?? ''),
    h('td.check-details', null, detailsCell(c.details))));
  return table(['Check', 'Status', 'Message', 'Details'], rows, caption);
}

function downloadButton(raw, name) {
  return h('button.download', {
    type: 'button',
    on: {
      click: () => {
        const url = URL.createObjectURL(new Blob([raw], { type: 'application/json' }));
        const a = h('a', { href: url, download: name });
        document.body.appendChild(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      },
    },
  }, 'Download JSON report');
}

function reportName(name) {
  const base = String(name || 'package').replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80);
  return `${base}.report.json`;
}

// The summary the registry keeps of a report larger than registry.max_report_bytes.
function storedSummary(report) {
  const checks = Array.isArray(report.checks) ? report.checks.filter(isObj) : [];
  return h('div', null,
    h('p.notice.notice-info', null, 'The registry kept a summary of this report (it was larger than registry.max_report_bytes): the failing and warning checks.'),
    dl([
      ['Manifest hash', shortHash(str(report.manifest_hash))],
      ['Proof hash', shortHash(str(report.proof_hash))],
      ['Policy hash', shortHash(str(report.policy_hash))],
      ['Verified at', str(report.verified_at) ?? '—'],
      ['Report size', Number.isFinite(report.report_bytes) ? `${report.report_bytes} bytes` : '—'],
      ['Report SHA3-256', shortHash(str(report.report_sha3_256))],
    ]),
    checksTable(checks.map((c) => ({ ...c, id: c.unit ? `${c.unit}: ${c.id}` : c.id })), 'Checks that did not pass'),
    // checks that did not fit under the cap: the list above is not all of them
    Number.isInteger(report.checks_omitted) && report.checks_omitted > 0
      ? h('p.notice.notice-warn.checks-omitted', null,
        `… and ${report.checks_omitted} more check(s) that did not pass, left out of the summary to keep it under the size cap.`)
      : null);
}

// The whole report. `raw` is the JSON exactly as the daemon answered it (for download).
export function renderReport(report, raw, { name = '', requestId = '' } = {}) {
  if (!isObj(report)) return h('p.notice.notice-error', null, 'The answer is not a report.');
  const meta = h('p.meta.muted', null,
    requestId ? ['Request ', h('a', { href: `#/verification/${encodeURIComponent(requestId)}` }, requestId), '. '] : null,
    isObj(report.verifier) ? `${str(report.verifier.name) ?? ''} ${str(report.verifier.version) ?? ''}. ` : null,
    str(report.verified_at) ? `Verified at ${report.verified_at}` : null,
    Number.isFinite(report.duration_ms) ? ` in ${report.duration_ms} ms.` : null);
  const out = h('article.report', null,
    verdictBanner(report.result),
    h('div.report-actions', null, downloadButton(raw, reportName(name))),
    meta);
  if (report.summary === true) {
    out.appendChild(storedSummary(report));
    return out;
  }
  out.appendChild(manifestSummary(report));
  const top = Array.isArray(report.checks) ? report.checks : [];
  out.appendChild(h('h3', null, 'Checks'));
  out.appendChild(checksTable(top, null));
  const units = Array.isArray(report.units) ? report.units.filter(isObj) : [];
  for (const u of units) {
    out.appendChild(h('section.unit', null,
      h('h3', null, 'Proof unit ', code(str(u.id) ?? '?'), ' ', badge(str(u.result) ?? 'unknown')),
      dl([
        ['Manifest hash', shortHash(str(u.manifest_hash))],
        ['Proof hash', shortHash(str(u.proof_hash))],
        ['Policy hash', shortHash(str(u.policy_hash))],
      ]),
      checksTable(Array.isArray(u.checks) ? u.checks : [], null)));
  }
  return out;
}
