/* SPDX-License-Identifier: Apache-2.0 */
// The web UI in headless chromium (puppeteer-core), against the daemons and the identity
// provider tests/ui/ui_test.sh started. Prints "ok   - …" / "FAIL - …" lines; exits 1 when
// anything failed. Screenshots (one per page) go to UI_OUT, with the browser's console log.
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import { createRequire } from 'node:module';

const env = (k) => {
  if (!process.env[k]) throw new Error(`${k} is not set (run tests/ui/ui_test.sh)`);
  return process.env[k];
};
const OPEN = env('UI_OPEN_URL');
const AUTH = env('UI_AUTH_URL');
const TOKENS = env('UI_TOKENS_URL');
const LIMITED = env('UI_LIMITED_URL');
const SMALL = env('UI_SMALL_URL');
const ISSUER = env('UI_ISSUER');
const CA = fs.readFileSync(env('UI_CA'));
const OUT = env('UI_OUT');
const PKG = env('UI_PACKAGES');
const AUDIT_LOG = env('UI_AUDIT_LOG'); // the peer's log, whose tip the sample's manifest names
const AXE = fs.readFileSync(env('UI_AXE'), 'utf8');
const require = createRequire(path.join(path.dirname(env('UI_AXE')), '..', '..', 'package.json'));
const puppeteer = require('puppeteer-core');

let failures = 0;
const ok = (name) => console.log(`ok   - ${name}`);
const bad = (name, why) => {
  failures++;
  console.log(`FAIL - ${name}${why ? `: ${why}` : ''}`);
};
const check = (name, cond, why = '') => (cond ? ok(name) : bad(name, why));
const eq = (name, got, want) => {
  const g = JSON.stringify(got);
  const w = JSON.stringify(want);
  check(name, g === w, `got ${g.slice(0, 300)}, want ${w.slice(0, 300)}`);
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const consoleLog = fs.createWriteStream(path.join(OUT, 'browser-console.log'));

const files = {
  ok: path.join(PKG, 'signed-ok.zip'),
  fail: path.join(PKG, 'tampered-fail.zip'),
  hostile: path.join(PKG, fs.readdirSync(PKG).find((f) => f.endsWith('.capz'))),
};

// The report the daemon gives for a file, asked without the browser.
async function reportOf(base, file) {
  const res = await fetch(`${base}/verify`, {
    method: 'POST', headers: { 'Content-Type': 'application/zip' }, body: fs.readFileSync(file),
  });
  return res.json();
}

// The report for a file and an audit log beside it, as a form of curl's would get it.
async function reportWithLog(base, file, log) {
  const form = new FormData();
  form.append('package', new Blob([fs.readFileSync(file)]), path.basename(file));
  form.append('audit_log', new Blob([fs.readFileSync(log)]), path.basename(log));
  const res = await fetch(`${base}/verify`, { method: 'POST', body: form });
  return res.json();
}

function checkRows(report) {
  const all = [...(report.checks || [])];
  for (const u of report.units || []) all.push(...(u.checks || []));
  return all.map((c) => ({ id: c.id, status: c.status, message: c.message }));
}

// POST to the provider's loopback admin routes (its own CA)
function idpAdmin(route, body) {
  return new Promise((resolve, reject) => {
    const req = https.request(`${ISSUER}${route}`, { method: 'POST', ca: CA }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${route}: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const args = [`--ignore-certificate-errors-spki-list=${env('UI_SPKI')}`, '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-gpu',
  '--disable-dev-shm-usage', '--lang=en-US'];
if (process.getuid && process.getuid() === 0) args.push('--no-sandbox'); // root in CI containers
const browser = await puppeteer.launch({ executablePath: env('UI_CHROMIUM'), headless: true, args, timeout: 60000 });

const events = { dialogs: [], errors: [] };
async function newPage(label) {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 800 });
  page.setDefaultTimeout(30000);
  page.on('dialog', async (d) => {
    events.dialogs.push(`${label}: ${d.type()} ${d.message()}`);
    await d.dismiss();
  });
  page.on('pageerror', (e) => events.errors.push(`${label}: ${e.message}`));
  page.on('console', (m) => consoleLog.write(`[${label}] ${m.type()}: ${m.text()}\n`));
  // anything the Content-Security-Policy stops is recorded: the UI itself never trips it
  await page.evaluateOnNewDocument(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation',
      (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return page;
}

async function shot(page, name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(OUT, `${name}.png`) });
}

async function axeScan(page, name) {
  await page.evaluate(AXE); // through DevTools: not an inline script of the page
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
  });
  const severe = result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  for (const v of result) consoleLog.write(`[axe ${name}] ${v.impact} ${v.id} (${v.nodes}): ${v.help}\n`);
  check(`axe-core on ${name}: no serious or critical violation`, severe.length === 0,
    severe.map((v) => `${v.impact} ${v.id} ×${v.nodes}: ${v.help}`).join('; '));
}

async function pageSafe(page, label) {
  const s = await page.evaluate(() => ({
    pwned: window.__pwned ?? null,
    csp: window.__csp,
    imgs: document.querySelectorAll('img:not([src$="favicon.svg"])').length,
    frames: document.querySelectorAll('iframe, svg, object, embed').length,
    scripts: document.querySelectorAll('script').length,
  }));
  eq(`${label}: no package content ran (window.__pwned unset)`, s.pwned, null);
  eq(`${label}: no element made from package content (img, iframe, svg, object)`, [s.imgs, s.frames], [0, 0]);
  eq(`${label}: only the UI's own module script`, s.scripts, 1);
  eq(`${label}: no Content-Security-Policy violation`, s.csp, []);
}

// A proxy on 127.0.0.1 in front of a daemon, for answers the daemon never gives on purpose:
// the network breaking off an answer while the browser reads its body, or an answer that
// comes late. Everything else passes as it is. The page is loaded through it (its origin is
// the page's, so the Content-Security-Policy's 'self').
//   fault(method, pathPrefix, { cut: true } | { delay: ms }): the next such request only
async function faultProxy(target) {
  const up = new URL(target);
  const faults = [];
  const server = http.createServer((req, res) => {
    const i = faults.findIndex((f) => f.method === req.method && req.url.startsWith(f.path));
    const f = i >= 0 ? faults.splice(i, 1)[0] : null;
    const fwd = http.request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      if (!f || !f.cut) {
        setTimeout(() => {
          res.writeHead(ur.statusCode, ur.headers);
          ur.pipe(res);
        }, f ? f.delay : 0);
        return;
      }
      // the head and half of the body, then the connection breaks
      const chunks = [];
      ur.on('data', (c) => chunks.push(c));
      ur.on('end', () => {
        const body = Buffer.concat(chunks);
        const hd = { ...ur.headers, 'content-length': String(body.length) };
        delete hd['transfer-encoding'];
        res.writeHead(ur.statusCode, hd);
        res.write(body.subarray(0, body.length >> 1), () => setTimeout(() => res.socket.destroy(), 50));
      });
    });
    fwd.on('error', () => res.destroy());
    req.pipe(fwd);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    fault: (method, p, how) => faults.push({ method, path: p, ...how }),
    close: () => { server.closeAllConnections(); server.close(); },
  };
}

// An unsigned JWT with these claims: what a pasted token says about its user (the daemon
// refuses it, with 401, as soon as it is sent).
const fakeToken = (claims) => ['{"alg":"none"}', JSON.stringify(claims), '']
  .map((p) => Buffer.from(p).toString('base64url')).join('.') + 'x';

async function pasteToken(page, tok) {
  await page.waitForSelector('#paste-token');
  await page.$eval('.signin details', (d) => { d.open = true; });
  await page.$eval('#paste-token', (el, v) => { el.value = v; }, tok);
  await page.click('form.paste button[type=submit]');
}

// ---- the verify page: three packages at once ------------------------------------------------
async function verifyPage() {
  const page = await newPage('verify');
  await page.goto(`${OPEN}/`, { waitUntil: 'networkidle0' });
  eq('/ lands on /ui/', new URL(page.url()).pathname, '/ui/');
  const input = await page.waitForSelector('#files');
  await input.uploadFile(files.ok, files.fail, files.hostile);
  await page.waitForFunction(() => {
    const rows = document.querySelectorAll('#results tbody tr');
    return rows.length === 3 && [...rows].every((r) => r.querySelector('.badge'));
  }, { timeout: 90000 });
  ok('three packages verified, one summary row each');
  const live = await page.evaluate(() => ({
    results: document.querySelector('#results').closest('[aria-live]') !== null,
    said: document.getElementById('announce').textContent,
  }));
  eq('the results table is no live region (it is drawn anew at every step)', live.results, false);
  check('... the live region says how the batch ended, in one line', /^Verified 3 package\(s\): /.test(live.said), live.said);
  const words = await page.evaluate(async () => {
    const { badge } = await import('/ui/dom.js');
    return ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'ok', 'fail'].map((w) => {
      try {
        return badge(w).className;
      } catch (e) {
        return `threw: ${e.message}`;
      }
    });
  });
  eq('a badge of a word named like an Object property is grey, like any unknown word', words,
    [...Array(4).fill('badge badge-skip'), 'badge badge-ok', 'badge badge-fail']);
  const summary = await page.$$eval('#results tbody tr', (rows) => rows.map((r) => [
    r.querySelector('.file-name').textContent, r.querySelector('.badge').textContent]));
  for (const [key, file] of Object.entries(files)) {
    const want = await reportOf(OPEN, file);
    const name = path.basename(file);
    const row = summary.findIndex(([n]) => n === name);
    check(`summary lists ${key}`, row >= 0, JSON.stringify(summary));
    eq(`summary verdict of ${key}`, summary[row] && summary[row][1], want.result);
    await page.click(`#results tbody tr:nth-child(${row + 1}) button`);
    await page.waitForFunction((n) => document.querySelector('#report .report-title')?.textContent === n, {}, name);
    const shown = await page.evaluate(() => ({
      verdict: document.querySelector('#report .verdict').dataset.verdict,
      rows: [...document.querySelectorAll('#report tr.check')].map((tr) => ({
        id: tr.querySelector('.check-id').textContent,
        status: tr.querySelector('.check-status').textContent,
        message: tr.querySelector('.check-message').textContent,
      })),
    }));
    eq(`${key}: the banner shows the report's result`, shown.verdict, want.result);
    eq(`${key}: the check rows are the report's checks (id, status, message)`, shown.rows, checkRows(want));
    if (key === 'ok') {
      const text = await page.$eval('#report .summary', (el) => el.textContent);
      const sig = want.checks.find((c) => c.id === 'manifest.signature').details.signatures[0];
      const ts = want.checks.find((c) => c.id === 'timestamp').details;
      for (const [what, v] of [['format', want.format], ['signer', sig.signer], ['trust', sig.trust],
        ['policy name', 'LkSG supplier screening'], ['proof backend', 'mock'], ['timestamp time', ts.gen_time],
        ['TSA', ts.tsa]]) {
        check(`ok: the manifest summary shows the ${what}`, text.includes(v), `${v} not in the summary`);
      }
      const kid = await page.$eval('#report .summary tbody code.hash', (el) => el.title);
      eq('ok: the signer\'s key id', kid, sig.kid);
      await shot(page, 'verify');
    }
    if (key === 'hostile') {
      // open every details box: the member names are in there, as text
      await page.$$eval('#report details', (ds) => ds.forEach((d) => { d.open = true; d.dispatchEvent(new Event('toggle')); }));
      await sleep(300);
      const text = await page.$eval('#report', (el) => el.textContent);
      const unlisted = want.checks.find((c) => c.id === 'package.integrity').details.unlisted;
      check('hostile: the report lists member names with markup', unlisted.length > 100 && unlisted[0].includes('<svg onload='), unlisted[0]);
      check('hostile: such a name is shown as text, markup and all', text.includes(unlisted[0]) && text.includes(unlisted[1]),
        `${unlisted[0]} is not in the report view`);
      const fileName = summary[row][0];
      check('hostile: the file name with markup is shown as text', fileName.startsWith('<img src=x onerror=window.__pwned=7>'), fileName);
      await pageSafe(page, 'hostile package');
    }
  }
  // the download is the daemon's answer, byte for byte
  const client = await page.createCDPSession();
  await client.send('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: OUT, eventsEnabled: true });
  const okRow = summary.findIndex(([n]) => n === path.basename(files.ok));
  await page.click(`#results tbody tr:nth-child(${okRow + 1}) button`);
  await page.waitForSelector('#report button.download');
  const target = path.join(OUT, 'signed-ok.zip.report.json');
  fs.rmSync(target, { force: true });
  await page.click('#report button.download');
  for (let i = 0; i < 50 && !fs.existsSync(target); i++) await sleep(100);
  const dl = fs.existsSync(target) ? JSON.parse(fs.readFileSync(target, 'utf8')) : null;
  eq('download JSON report: the report of the package', dl && dl.manifest_hash, (await reportOf(OPEN, files.ok)).manifest_hash);
  await axeScan(page, 'the verify page with a report');
  await page.close();
}

// ---- a file the browser cannot read: that one fails, the batch goes on -----------------------
async function unreadableFile() {
  // the first package's answer comes a second late (through the proxy): the second file is
  // read after it, and is gone by then
  const proxy = await faultProxy(OPEN);
  try {
    await unreadableThrough(proxy);
  } finally {
    proxy.close();
  }
}

async function unreadableThrough(proxy) {
  const page = await newPage('unreadable');
  await page.goto(`${proxy.url}/ui/`, { waitUntil: 'networkidle0' });
  const ghost = path.join(OUT, 'gone-before-read.zip');
  fs.copyFileSync(files.ok, ghost);
  const input = await page.waitForSelector('#files');
  proxy.fault('POST', '/verify', { delay: 1000 });
  await input.uploadFile(files.ok, ghost, files.fail);
  fs.rmSync(ghost); // read after the first package's verification: gone by then
  await page.waitForFunction(() => {
    const rows = document.querySelectorAll('#results tbody tr');
    return rows.length === 3 && [...rows].every((r) => r.querySelector('.badge'));
  }, { timeout: 60000 }).catch(() => {});
  const rows = await page.$$eval('#results tbody tr', (trs) => trs.map((r) => [
    r.querySelector('.file-name').textContent, r.querySelector('.badge') ? r.querySelector('.badge').textContent : r.textContent]));
  eq('a file gone before it was read: an error row, and the packages after it verified',
    rows.map(([, b]) => b), ['ok', 'error', (await reportOf(OPEN, files.fail)).result]);
  await page.click('#results tbody tr:nth-child(2) button');
  await page.waitForSelector('#report .notice');
  const said = await page.$eval('#report', (el) => el.textContent);
  check('... its report says the browser could not read it', said.includes('unreadable') && said.includes('could not read this file'), said);
  await page.close();
}

// A file larger than the daemon's server.max_body_bytes (1 KiB on "small") is refused by the
// page, never sent: the daemon would close the connection on it, which reads as "unreachable".
async function bodyLimit() {
  const page = await newPage('body limit');
  const posts = [];
  page.on('request', (r) => { if (r.method() === 'POST') posts.push(r.url()); });
  await page.goto(`${SMALL}/ui/`, { waitUntil: 'networkidle0' });
  const input = await page.waitForSelector('#files');
  const big = path.join(OUT, 'larger-than-the-limit.zip');
  fs.writeFileSync(big, Buffer.concat([fs.readFileSync(files.ok), Buffer.alloc(2048)]));
  await input.uploadFile(big);
  await page.waitForSelector('#results tbody tr .badge', { timeout: 20000 }).catch(() => {});
  const badge = await page.$eval('#results tbody tr', (r) => (r.querySelector('.badge') || r).textContent);
  eq('a file over server.max_body_bytes: an error row', badge, 'error');
  await page.click('#results tbody tr button');
  await page.waitForSelector('#report .notice');
  const said = await page.$eval('#report', (el) => el.textContent);
  check('... saying the daemon takes at most 1024 bytes', said.includes('at most 1024') && said.includes('server.max_body_bytes'), said);
  eq('... and nothing was sent', posts, []);
  fs.rmSync(big);
  await page.close();
}

// ---- without JavaScript: the plain form posts multipart/form-data ----------------------------
async function noScript() {
  const page = await newPage('noscript');
  await page.setJavaScriptEnabled(false);
  await page.goto(`${OPEN}/ui/`, { waitUntil: 'load' });
  const input = await page.waitForSelector('form[action="/verify"] input[type=file][name=package]');
  await input.uploadFile(files.ok);
  await Promise.all([page.waitForNavigation(), page.click('form[action="/verify"] button[type=submit]')]);
  const body = await page.evaluate(() => document.body.innerText);
  let report = null;
  try {
    report = JSON.parse(body);
  } catch {
    report = null;
  }
  // its audit log picker left empty went as an empty part with an empty file name: no log
  eq('without JavaScript the form gets the report', report && report.result, 'ok');
  // the same form with the optional audit log chosen
  await page.goto(`${OPEN}/ui/`, { waitUntil: 'load' });
  const form = 'form:has(input[name=audit_log])';
  await (await page.waitForSelector(`${form} input[name=package]`)).uploadFile(files.ok);
  await (await page.$(`${form} input[name=audit_log]`)).uploadFile(AUDIT_LOG);
  await Promise.all([page.waitForNavigation(), page.click(`${form} button[type=submit]`)]);
  let withLog = null;
  try {
    withLog = JSON.parse(await page.evaluate(() => document.body.innerText));
  } catch {
    withLog = null;
  }
  const audit = withLog && Array.isArray(withLog.checks) ? withLog.checks.find((c) => c.id === 'audit') : null;
  eq('without JavaScript the form with the peer audit log: the audit check passes', [withLog && withLog.result, audit && audit.status], ['ok', 'pass']);
  await page.close();
}

// ---- an audit log beside the packages ----------------------------------------------------------
// The peer's log with the sample package: the manifest names its tip, so the audit check
// passes; the log with one byte edited fails it; removed, packages go alone again (skip).
const shownChecks = (page) => page.evaluate(() => [...document.querySelectorAll('#report tr.check')].map((tr) => ({
  id: tr.querySelector('.check-id').textContent,
  status: tr.querySelector('.check-status').textContent,
  message: tr.querySelector('.check-message').textContent,
})));

async function auditLog() {
  const page = await newPage('audit log');
  const posts = [];
  page.on('request', (r) => {
    if (r.method() === 'POST' && r.url().endsWith('/verify')) posts.push(r.headers()['content-type'] || '');
  });
  await page.goto(`${OPEN}/ui/#/verify`, { waitUntil: 'networkidle0' });
  const edited = path.join(OUT, 'edited.audit.jsonl');
  const text = fs.readFileSync(AUDIT_LOG, 'utf8');
  check('the peer log has the byte the test edits', text.includes('"record_count":10'));
  fs.writeFileSync(edited, text.replace('"record_count":10', '"record_count":11'));
  // one row more in the results, its verdict shown, and its report open
  const verifyRow = async (n) => {
    const input = await page.waitForSelector('#files');
    await input.uploadFile(files.ok);
    await page.waitForFunction((k) => {
      const rows = document.querySelectorAll('#results tbody tr');
      return rows.length === k && rows[k - 1].querySelector('.badge');
    }, { timeout: 60000 }, n);
    await page.click(`#results tbody tr:nth-child(${n}) button`);
    await page.waitForFunction(() => document.querySelector('#report .verdict'));
    return page.evaluate((k) => ({
      note: document.querySelector(`#results tbody tr:nth-child(${k}) .log-note`)?.textContent ?? null,
      verdict: document.querySelector('#report .verdict').dataset.verdict,
      audit: [...document.querySelectorAll('#report tr.check')].filter((tr) => tr.querySelector('.check-id').textContent === 'audit')
        .map((tr) => tr.querySelector('.check-status').textContent),
    }), n);
  };
  // the log picker by keyboard: Tab from the package picker, Space opens the chooser
  await page.focus('#files');
  await page.keyboard.press('Tab');
  eq('audit log: Tab from the package picker reaches the audit log picker', await page.evaluate(() => document.activeElement.id), 'audit-log');
  eq('... which has a label', await page.$eval('#audit-log', (el) => [...el.labels].map((l) => l.textContent)), ['Choose an audit log…']);
  check('audit log: Space on its picker opens the file chooser', await chooseByKeyboard(page, AUDIT_LOG));
  await page.waitForFunction(() => document.querySelector('#audit-log-remove'));
  const chosen = await page.evaluate(() => ({
    text: document.getElementById('audit-log-chosen').textContent,
    focus: document.activeElement.id,
    said: document.getElementById('announce').textContent,
  }));
  check('... the page says which log is chosen', chosen.text.includes('agent.audit.jsonl'), chosen.text);
  eq('... the focus stays on the picker', chosen.focus, 'audit-log');
  check('... and the live region says so', chosen.said.includes('agent.audit.jsonl'), chosen.said);
  await axeScan(page, 'the verify page with an audit log chosen');

  const good = await verifyRow(1);
  const wantGood = await reportWithLog(OPEN, files.ok, AUDIT_LOG);
  eq('the peer log with the sample: the audit check passes', good.audit, ['pass']);
  eq('... the banner is the report\'s', good.verdict, wantGood.result);
  eq('... every check row equals the report of a form with package and audit_log', await shownChecks(page), checkRows(wantGood));
  eq('... the row says which log went with the package', good.note, 'with the audit log agent.audit.jsonl');
  check('... sent as multipart/form-data', /^multipart\/form-data; boundary=/.test(posts[0] || ''), posts[0]);

  await (await page.$('#audit-log')).uploadFile(edited);
  await page.waitForFunction(() => document.getElementById('audit-log-chosen').textContent.includes('edited.audit.jsonl'));
  const bad = await verifyRow(2);
  const wantBad = await reportWithLog(OPEN, files.ok, edited);
  eq('the log with one byte edited: the audit check fails', bad.audit, ['fail']);
  eq('... the banner is the report\'s (fail)', [bad.verdict, wantBad.result], ['fail', 'fail']);
  eq('... every check row equals the report of that form, the audit message too', await shownChecks(page), checkRows(wantBad));

  await page.click('#audit-log-remove');
  eq('removing the log: the focus goes to the picker', await page.evaluate(() => document.activeElement.id), 'audit-log');
  const none = await verifyRow(3);
  eq('without a log the package goes alone (application/zip) and the audit check skips',
    [posts[2], none.audit, none.note], ['application/zip', ['skip'], null]);
  eq('... the rows verified with a log still name it',
    await page.$$eval('#results tbody tr', (trs) => trs.map((r) => r.querySelector('.log-note')?.textContent ?? '')),
    ['with the audit log agent.audit.jsonl', 'with the audit log edited.audit.jsonl', '']);
  // an empty file is not taken as the log: the daemon would refuse every package with it
  const empty = path.join(OUT, 'empty.audit.jsonl');
  fs.writeFileSync(empty, '');
  await (await page.$('#audit-log')).uploadFile(empty);
  await page.waitForFunction(() => document.getElementById('audit-log-chosen').textContent.includes('empty'));
  eq('an empty log is not chosen', await page.$('#audit-log-remove'), null);
  await pageSafe(page, 'the verify page with audit logs');
  await page.close();

  // the body limit counts the package, the log and the form's framing
  const small = await newPage('audit log limit');
  const smallPosts = [];
  small.on('request', (r) => { if (r.method() === 'POST') smallPosts.push(r.url()); });
  await small.goto(`${SMALL}/ui/#/verify`, { waitUntil: 'networkidle0' });
  const tiny = path.join(OUT, 'tiny.json');
  fs.writeFileSync(tiny, '{}');
  await (await small.waitForSelector('#audit-log')).uploadFile(AUDIT_LOG);
  await small.waitForSelector('#audit-log-remove');
  await (await small.$('#files')).uploadFile(tiny);
  await small.waitForSelector('#results tbody tr .badge', { timeout: 20000 }).catch(() => {});
  await small.click('#results tbody tr button');
  await small.waitForSelector('#report .notice');
  const said = await small.$eval('#report', (el) => el.textContent);
  const size = fs.statSync(AUDIT_LOG).size;
  check('a package of 2 bytes and a log over server.max_body_bytes: refused on the page, naming the sizes',
    said.includes('at most 1024') && said.includes(`2 + ${size} + `) && said.includes('server.max_body_bytes'), said);
  eq('... and nothing was sent', smallPosts, []);
  await small.close();
}

// ---- the policy page ----------------------------------------------------------------------
const POLICY = `id: "ui.test.policy"
version: "1.0"
legal_basis:
  - directive: "LkSG"
    article: "§3 Abs. 1"
description: "UI test policy"
inputs:
  supplier_hashes:
    type: "array"
    items: "string"
  sanctions_root:
    type: "string"
  unused_root:
    type: "string"
rules:
  - id: "supplier_count_check"
    op: "range_min"
    lhs:
      var: "supplier_hashes"
    rhs: 1
  - id: "not_sanctioned"
    op: "non_membership"
    lhs:
      var: "supplier_hashes"
    rhs:
      var: "sanctions_root"
`;
const lineOf = (text, s) => text.split('\n').findIndex((l) => l.includes(s)) + 1;

async function setPolicy(page, text) {
  await page.$eval('#policy-text', (el, v) => {
    el.value = v;
    el.dispatchEvent(new Event('input'));
  }, text);
}

async function policyPage() {
  const page = await newPage('policy');
  await page.goto(`${OPEN}/ui/#/policy`, { waitUntil: 'networkidle0' });
  await page.waitForSelector('#policy-text');
  // a warning on a policy that compiles: the unused input, at its line
  await setPolicy(page, POLICY);
  await page.click('.policy-form button[type=submit]');
  await page.waitForSelector('#compile-result pre.ir');
  const ir = JSON.parse(await page.$eval('#compile-result pre.ir', (el) => el.textContent));
  eq('policy compiles: the IR is shown', ir.policy_id, 'ui.test.policy');
  const plive = await page.evaluate(() => ({
    out: document.querySelector('#compile-result').closest('[aria-live]') !== null,
    said: document.getElementById('announce').textContent,
  }));
  eq('the compile output is no live region', plive.out, false);
  check('... the live region says the outcome in one line', plive.said.startsWith('Compiled'), plive.said);
  const wline = lineOf(POLICY, 'unused_root:');
  const w = await page.$$eval(`#compile-result ol.source li[data-line="${wline}"] .lint`, (ls) => ls.map((l) => l.dataset.code));
  eq(`the unused-input warning is shown at line ${wline}`, w, ['W2001']);
  // stored: then listed, with its IR
  await page.click('#persist');
  await page.click('.policy-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#compile-result .notice')?.textContent.includes('Stored'));
  await page.reload({ waitUntil: 'networkidle0' });
  await page.waitForSelector('#policies table');
  const listed = await page.$$eval('#policies tbody tr', (rows) => rows.map((r) => r.cells[0].textContent));
  eq('the stored policy is listed', listed, ['ui.test.policy']);
  await page.click('#policies tbody tr button');
  await page.waitForSelector('#policy-ir pre.ir');
  const storedIr = JSON.parse(await page.$eval('#policy-ir pre.ir', (el) => el.textContent));
  eq('its IR is the compiled one', storedIr.ir_hash, ir.ir_hash);
  await page.waitForSelector('#policy-text');
  // an error: an unknown op, at the line of its "op:"
  const broken = POLICY.replace('op: "non_membership"', 'op: "at_least"');
  await setPolicy(page, broken);
  await page.click('.policy-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#compile-result .lint-error'));
  const eline = lineOf(broken, 'op: "at_least"');
  const e = await page.$$eval(`#compile-result ol.source li[data-line="${eline}"] .lint-error`, (ls) => ls.map((l) => [l.dataset.code, l.textContent]));
  check(`the unknown-op lint E2001 is shown at line ${eline}`, e.length === 1 && e[0][0] === 'E2001' && e[0][1].includes('at_least'), JSON.stringify(e));
  await page.$eval('#compile-result', (el) => el.scrollIntoView());
  await page.screenshot({ path: path.join(OUT, 'policy.png') });
  await axeScan(page, 'the policy page with lints');
  // a YAML error names its line too
  await setPolicy(page, 'id: "x"\nversion: [1\n');
  await page.click('.policy-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#compile-result .lint-error'));
  const y = await page.$$eval('#compile-result ol.source li.has-lint', (ls) => ls.map((l) => l.dataset.line));
  check('a YAML syntax error is shown at a line of the source', y.length === 1 && Number(y[0]) >= 2, JSON.stringify(y));
  await page.close();
}

// ---- registry and status without authentication ----------------------------------------------
async function registryAndStatus() {
  const page = await newPage('registry');
  await page.goto(`${OPEN}/ui/#/registry`, { waitUntil: 'networkidle0' });
  await page.waitForSelector('#verifications table');
  const results = await page.$$eval('#verifications tbody tr', (rows) => rows.map((r) => r.querySelector('.badge').textContent));
  check('recent verifications are listed', results.length >= 4, JSON.stringify(results));
  await page.select('#result-filter', 'fail');
  await page.waitForFunction(() => {
    const rows = [...document.querySelectorAll('#verifications tbody tr')];
    return rows.length > 0 && rows.every((r) => r.querySelector('.badge').textContent === 'fail');
  });
  ok('filtered by result: only fail');
  const rid = await page.$eval('#verifications tbody tr a', (a) => a.textContent);
  await page.click('#verifications tbody tr a');
  await page.waitForSelector('.report .verdict');
  eq('a verification by request id shows its stored report', await page.$eval('.report .verdict', (el) => el.dataset.verdict), 'fail');
  eq('… under its request id', decodeURIComponent(new URL(page.url()).hash), `#/verification/${rid}`);
  await page.goto(`${OPEN}/ui/#/registry`, { waitUntil: 'networkidle0' });
  await page.waitForSelector('#entries p, #entries table');
  await axeScan(page, 'the registry page');
  await page.goto(`${OPEN}/ui/#/status`, { waitUntil: 'networkidle0' });
  await page.waitForSelector('#readiness table');
  const checks = await page.$$eval('#readiness tbody tr', (rows) => rows.map((r) => r.cells[0].textContent));
  const readyz = await (await fetch(`${OPEN}/readyz`)).json();
  eq('status: the /readyz checks', checks, readyz.checks.map((c) => c.name));
  const health = await (await fetch(`${OPEN}/healthz`)).json();
  check('status: the version', (await page.$eval('main', (m) => m.textContent)).includes(health.version));
  await shot(page, 'status');
  await axeScan(page, 'the status page');
  await page.close();
}

// ---- keyboard only --------------------------------------------------------------------------
async function tabTo(page, pred, max = 25) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(pred)) return true;
  }
  return false;
}

// Space on the focused file picker opens the browser's file chooser; the chosen file is given
// to it. False when no chooser opened within 10 s.
async function chooseByKeyboard(page, file) {
  // the chooser's interception is switched on asynchronously: let it settle before the key
  const waiting = page.waitForFileChooser({ timeout: 10000 }).catch(() => null);
  await sleep(300);
  await page.keyboard.press('Space');
  const chooser = await waiting;
  if (chooser) await chooser.accept([file]);
  return chooser !== null;
}

async function keyboard() {
  const page = await newPage('keyboard');
  await page.goto(`${OPEN}/ui/#/verify`, { waitUntil: 'networkidle0' });
  await page.keyboard.press('Tab');
  eq('keyboard: the first Tab reaches the skip link', await page.evaluate(() => document.activeElement.className), 'skip');
  await page.keyboard.press('Enter');
  eq('keyboard: the skip link moves focus to the page', await page.evaluate(() => document.activeElement.id), 'main');
  eq('keyboard: the skip link leaves the page where it is', new URL(page.url()).hash, '#/verify');
  check('keyboard: Tab reaches the file picker', await tabTo(page, () => document.activeElement.id === 'files'));
  check('keyboard: Space on the file picker opens the file chooser', await chooseByKeyboard(page, files.ok),
    `no chooser; the focus is on ${await page.evaluate(() => document.activeElement.outerHTML.slice(0, 80))}`);
  await page.waitForFunction(() => document.activeElement.id === 'report' && document.querySelector('#report .verdict'));
  ok('keyboard: a chosen package is verified and its report gets the focus');
  check('keyboard: Tab reaches "Download JSON report"', await tabTo(page, () => document.activeElement.classList.contains('download'), 3));
  // the navigation, then a form, without the mouse
  await page.keyboard.down('Shift');
  const back = await tabTo(page, () => document.activeElement.matches('#nav a[data-page="policy"]'), 40);
  await page.keyboard.up('Shift');
  check('keyboard: Shift+Tab reaches the Policies link', back);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#policy-text');
  eq('keyboard: Enter on a link opens its page', new URL(page.url()).hash, '#/policy');
  check('keyboard: Tab reaches the policy editor', await tabTo(page, () => document.activeElement.id === 'policy-text'));
  await page.keyboard.type('id: "k"\nversion: "1"\n');
  check('keyboard: Tab reaches Compile', await tabTo(page, () => document.activeElement.textContent === 'Compile'));
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('#compile-result .notice'));
  ok('keyboard: Enter on Compile compiles');
  await page.close();
}

// ---- signing in -----------------------------------------------------------------------------
async function throughProvider(page, login) {
  // the provider's own pages: its login form, then consent when it asks for it
  for (let step = 0; step < 6; step++) {
    if (page.url().startsWith(`${AUTH}/ui/`)) return true;
    if (await page.$('input[name=login]')) {
      await page.type('input[name=login]', login);
      await page.type('input[name=password]', 'any password');
      await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    } else if (await page.$('button[type=submit]')) {
      await Promise.all([page.waitForNavigation(), page.click('button[type=submit]')]);
    } else {
      await sleep(250);
    }
  }
  return page.url().startsWith(`${AUTH}/ui/`);
}

async function signIn() {
  const page = await newPage('auth');
  await page.goto(`${AUTH}/ui/#/registry`, { waitUntil: 'networkidle0' });
  await page.waitForSelector('#signin');
  ok('signed out, the registry page offers sign-in (not an error)');
  check('no error notice before signing in', !(await page.$('.notice-error')));
  await axeScan(page, 'the sign-in panel');
  const asked = [];
  const onRequest = (r) => { if (r.isNavigationRequest() && r.url().startsWith(ISSUER)) asked.push(r.url()); };
  page.on('request', onRequest);
  const configReferers = []; // the UI's configuration, fetched on the way back with the code
  page.on('request', (r) => {
    if (r.url().startsWith(AUTH) && new URL(r.url()).pathname === '/ui/config.json') configReferers.push(r.headers().referer || '(none)');
  });
  await Promise.all([page.waitForNavigation(), page.click('#signin')]);
  page.off('request', onRequest);
  check('sign-in goes to the issuer', page.url().startsWith(`${ISSUER}/`), page.url());
  const q = new URL(asked[0] || ISSUER).searchParams;
  eq('the authorization request: code flow with PKCE S256', [q.get('response_type'), q.get('code_challenge_method'), q.get('client_id')],
    ['code', 'S256', 'capv-ui']);
  check('back from the issuer', await throughProvider(page, 'auditor@example'), page.url());
  await page.waitForSelector('#entries table');
  eq('the code and state are gone from the address bar', new URL(page.url()).search, '');
  check('... before anything was fetched: /ui/config.json carried no code in its Referer',
    configReferers.length > 0 && configReferers.every((r) => !r.includes('code=')), JSON.stringify(configReferers));
  check('signed in as the provider\'s subject', (await page.$eval('#who', (el) => el.textContent)).includes('auditor@example'));
  const store = await page.evaluate(() => JSON.stringify([{ ...localStorage }, { ...sessionStorage }, document.cookie]));
  eq('no token in localStorage, sessionStorage or cookies', store, JSON.stringify([{}, {}, '']));
  const rows = await page.$$eval('#entries tbody tr', (r) => r.length);
  eq('registry: the first page has 25 of the 30 entries', rows, 25);
  // the pager is drawn anew with its page: the focus stays on it
  const focused = () => page.evaluate(() => (document.activeElement && document.activeElement.closest('#entries .pager')
    ? document.activeElement.textContent : `not on the pager: ${document.activeElement && document.activeElement.outerHTML.slice(0, 60)}`));
  await page.focus('#entries .pager button:last-child');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('#entries tbody tr').length === 5);
  ok('registry: Next shows the other 5');
  eq('... and the focus is on the new pager (Previous: Next is off on the last page)', await focused(), '← Previous');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('#entries tbody tr').length === 25);
  eq('... Previous back to the first page: the focus on Next', await focused(), 'Next →');
  const first = await page.$eval('#entries tbody tr td code.hash', (c) => c.title);
  await page.type('#manifest-search', first);
  await page.click('form.search[role=search] button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('#entries tbody tr').length === 1);
  ok('registry: search by manifest hash finds its one entry');
  await shot(page, 'registry');
  await axeScan(page, 'the registry page, signed in');
  await page.click('#entries tbody tr a');
  await page.waitForSelector('dl.kv .badge');
  const badges = await page.$$eval('dl.kv .badge', (b) => b.map((x) => x.textContent));
  eq('entry detail: the signature verifies and its key is trusted', badges, ['valid', 'trusted']);
  // scopes: this sign-in may read policies but not compile them
  await page.goto(`${AUTH}/ui/#/policy`);
  await page.waitForSelector('.not-allowed');
  const na = await page.$eval('.not-allowed', (el) => el.textContent);
  check('policy compile is shown as not allowed (scope policy:compile), not as an error', na.includes('policy:compile') && !(await page.$('.notice-error')), na);
  await page.waitForSelector('#policies p, #policies table');
  ok('stored policies are listed (policy:read)');
  // verify with the token, then see it recorded
  await page.goto(`${AUTH}/ui/#/verify`);
  const input = await page.waitForSelector('#files');
  await input.uploadFile(files.ok);
  await page.waitForSelector('#report .verdict');
  eq('verify with the token', await page.$eval('#report .verdict', (el) => el.dataset.verdict), 'ok');
  // a report over registry.max_report_bytes (1024 here) is recorded as its summary: shown as
  // such, with the count of the checks that did not fit
  await input.uploadFile(files.fail);
  await page.waitForFunction(() => document.querySelectorAll('#results tbody tr .badge').length === 2);
  await page.click('#results tbody tr:nth-child(2) button');
  await page.waitForFunction(() => document.querySelector('#report .verdict')?.dataset.verdict === 'fail');
  await sleep(300); // the record is written within registry.record_flush_ms
  await page.click('#report .meta a');
  await page.waitForSelector('.report .verdict');
  const stored = await page.$eval('.report', (el) => el.textContent);
  check('the recorded summary says it is one', stored.includes('kept a summary of this report'), stored.slice(0, 200));
  // a summary that left checks out says how many (this package's failing checks all fit:
  // the page's own renderer, given such a summary)
  const omitted = await page.evaluate(async () => {
    const m = await import('/ui/report.js');
    return m.renderReport({ summary: true, result: 'fail', checks: [{ id: 'x', status: 'fail', message: 'm' }], checks_omitted: 7 }, '{}').textContent;
  });
  check('... and a summary that left checks out says how many', omitted.includes('… and 7 more check(s) that did not pass'), omitted);
  // a signer's trust is the report's phrase, coloured by whether the key is trusted
  const trust = await page.evaluate(async () => {
    const m = await import('/ui/report.js');
    const sig = (trusted, trust) => ({ signer: 's', kid: 'k', valid: true, trusted, trust, key_status: 'revoked' });
    const el = m.renderReport({ result: 'fail', checks: [{ id: 'manifest.signature', status: 'fail', message: 'm',
      details: { signatures: [sig(false, 'key revoked'), sig(true, 'trusted')] } }] }, '{}');
    return [...el.querySelectorAll('.summary .badge')].filter((b) => /revoked|trusted/.test(b.textContent))
      .map((b) => `${b.textContent}:${b.className}`);
  });
  eq('a revoked signer\'s trust is red, a trusted one green', trust, ['key revoked:badge badge-fail', 'trusted:badge badge-ok']);
  // a token's time and TSA from a failed timestamp check are marked as not verified
  const tsRows = await page.evaluate(async () => {
    const m = await import('/ui/report.js');
    const rows = (status) => [...m.renderReport({ result: status === 'pass' ? 'ok' : 'fail', checks: [{ id: 'timestamp', status, message: 'm',
      details: { gen_time: '2026-01-02T03:04:05.000Z', tsa: 'CN=Claimed TSA' } }] }, '{}').querySelectorAll('.summary dd')]
      .map((dd) => dd.textContent).filter((t) => /2026-01-02|Claimed TSA/.test(t));
    return { fail: rows('fail'), pass: rows('pass') };
  });
  eq('a failed timestamp check\'s time and TSA say they are not verified', tsRows.fail,
    ['2026-01-02T03:04:05.000Z not verified', 'CN=Claimed TSA not verified']);
  eq('... a passed one\'s are shown as they are', tsRows.pass, ['2026-01-02T03:04:05.000Z', 'CN=Claimed TSA']);
  check('... one that left none out says nothing of it', !stored.includes('more check(s) that did not pass'), stored.slice(0, 300));
  // sign out
  await page.click('#signout');
  await page.waitForSelector('#signin');
  check('sign-out forgets the token', (await page.$eval('.signin', (el) => el.textContent)).includes('You signed out'));
  eq('... the focus goes to the page, not lost with the button', await page.evaluate(() => document.activeElement.id), 'main');
  check('... and the live region says so', (await page.$eval('#announce', (el) => el.textContent)).includes('signed out'),
    await page.$eval('#announce', (el) => el.textContent));
  // an expired token leads back to sign-in
  await idpAdmin('/admin/ui-ttl', { seconds: 3 });
  await page.goto(`${AUTH}/ui/#/registry`, { waitUntil: 'networkidle0' });
  await Promise.all([page.waitForNavigation(), page.click('#signin')]);
  check('signed in again (short-lived token)', await throughProvider(page, 'auditor@example'), page.url());
  await page.waitForSelector('#entries table');
  await page.waitForSelector('#signin', { timeout: 15000 });
  check('the expired token leads back to sign-in', (await page.$eval('.signin', (el) => el.textContent)).includes('expired'));
  check('... and the live region says it expired', (await page.$eval('#announce', (el) => el.textContent)).includes('expired'),
    await page.$eval('#announce', (el) => el.textContent));
  await shot(page, 'signin');
  await idpAdmin('/admin/ui-ttl', { seconds: 600 });
  await pageSafe(page, 'signed-in pages');
  await page.close();
}

// ---- what the page holds belongs to who signed in ------------------------------------------
function idpRequest(method, route, body = null, headers = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(`${ISSUER}${route}`, { method, ca: CA, headers }, (res) => {
      let data = '';
      res.on('data', (c) => { data += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

// A token the auth daemon accepts, for pasting: the provider's confidential client's
// (client credentials), with verify:run.
async function serviceToken() {
  const c = JSON.parse((await idpRequest('GET', '/admin/client')).body);
  const r = await idpRequest('POST', '/token',
    new URLSearchParams({ grant_type: 'client_credentials', scope: 'verify:run', resource: 'urn:capv:eddsa' }).toString(),
    { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString('base64')}` });
  const tok = JSON.parse(r.body).access_token;
  return { tok, sub: JSON.parse(Buffer.from(tok.split('.')[1], 'base64url').toString()).sub };
}

async function signInData() {
  const page = await newPage('forget');
  const real = await serviceToken();
  check('the provider gives a service token with a subject', typeof real.sub === 'string' && real.sub !== '', JSON.stringify(real.sub));
  const claimed = (sub) => fakeToken({ sub, scope: 'verify:run policy:compile' });
  const rows = () => page.$$eval('#results tbody tr', (trs) => trs.map((r) => (r.querySelector('.badge') || r.cells[1]).textContent));
  const results = () => page.$eval('#results', (el) => el.textContent);
  const go = async (hash, sel) => {
    await page.evaluate((hh) => { location.hash = hh; }, hash);
    await page.waitForSelector(sel);
  };
  const refused = async () => {
    const input = await page.waitForSelector('#files');
    await input.uploadFile(files.ok);
    await page.waitForSelector('#signin'); // the daemon refused the token (401): signed out
  };
  // a package refused (401) under a token of subject S, then a token of S the daemon takes
  await page.goto(`${AUTH}/ui/#/verify`, { waitUntil: 'networkidle0' });
  await pasteToken(page, claimed(real.sub));
  await refused();
  ok('a token the daemon refuses (401) leads back to sign-in');
  await pasteToken(page, real.tok);
  await page.waitForSelector('#results tbody tr');
  eq('signed in again as the same subject: the refused package is listed, as an error', await rows(), ['error']);
  await page.waitForSelector('#report .notice');
  const view = await page.evaluate(() => ({
    text: document.querySelector('#report').textContent,
    panel: document.querySelector('#report .signin') !== null,
    ids: document.querySelectorAll('#signin-title, #paste-token').length,
    retry: document.querySelector('#report button.retry') !== null,
  }));
  check('... its report says it was refused, and what keeps its Retry', /refused/i.test(view.text) && /paste a new token of the same user and retry/i.test(view.text), view.text.slice(0, 200));
  eq('... and shows no sign-in panel (no second #paste-token, #signin-title)', [view.panel, view.ids], [false, 0]);
  check('... but a Retry button', view.retry);
  if (view.retry) {
    await page.click('#report button.retry');
    await page.waitForFunction(() => document.querySelector('#report .verdict'), { timeout: 30000 }).catch(() => {});
    eq('... which verifies it with the new sign-in', await rows(), ['ok']);
  }
  // sign-out forgets the packages and the chosen audit log, even for the same subject
  await (await page.waitForSelector('#audit-log')).uploadFile(AUDIT_LOG);
  await page.waitForSelector('#audit-log-remove');
  await page.click('#signout');
  await pasteToken(page, real.tok);
  await page.waitForSelector('#results');
  eq('after sign-out, the same subject signing in again sees no earlier package', await results(), 'No package yet.');
  eq('... and no audit log chosen', await page.$eval('#audit-log-chosen', (el) => el.textContent), 'None: packages are sent alone.');
  // another subject after an expiry (not a sign-out): packages and the policy draft forgotten
  await page.click('#signout');
  await pasteToken(page, claimed('alice@example'));
  await go('#/policy', '#policy-text');
  await setPolicy(page, 'id: "alice-draft"\n');
  await go('#/verify', '#files');
  await refused();
  await pasteToken(page, claimed('alice@example'));
  await page.waitForSelector('#results tbody tr');
  eq('the same subject after a refusal keeps its packages', (await rows()).length, 1);
  await go('#/policy', '#policy-text');
  eq('... and its policy draft', await page.$eval('#policy-text', (el) => el.value), 'id: "alice-draft"\n');
  await go('#/verify', '#files');
  await refused();
  await pasteToken(page, claimed('bob@example'));
  await page.waitForSelector('#results');
  eq('another subject signing in on the tab sees none of the earlier packages', await results(), 'No package yet.');
  await go('#/policy', '#policy-text');
  eq('... nor the earlier policy draft', await page.$eval('#policy-text', (el) => el.value), '');
  // sign-out forgets the draft too
  await setPolicy(page, 'id: "bob-draft"\n');
  await page.click('#signout');
  await pasteToken(page, claimed('bob@example'));
  await page.waitForSelector('#policy-text');
  eq('after sign-out, the same subject finds no earlier draft', await page.$eval('#policy-text', (el) => el.value), '');
  await page.close();
  // sign-out while a package is verified and another waits: the waiting one is never sent
  const proxy = await faultProxy(AUTH);
  const p2 = await newPage('forget-queue');
  try {
    await p2.goto(`${proxy.url}/ui/#/verify`, { waitUntil: 'networkidle0' });
    await pasteToken(p2, real.tok);
    let sent = 0;
    p2.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/verify')) sent++; });
    proxy.fault('POST', '/verify', { delay: 1500 });
    const input = await p2.waitForSelector('#files');
    await input.uploadFile(files.ok, files.fail);
    await p2.waitForFunction(() => document.querySelector('#results tbody tr')?.textContent.includes('verifying'));
    await p2.click('#signout');
    await sleep(2500);
    eq('sign-out while a queue runs: the packages still waiting are not sent', sent, 1);
    await pasteToken(p2, real.tok);
    await p2.waitForSelector('#results');
    eq('... and none of them is listed after signing in again', await p2.$eval('#results', (el) => el.textContent), 'No package yet.');
  } finally {
    await p2.close();
    proxy.close();
  }
}

// ---- an answer without iss from a provider that always sends it (RFC 9207) -------------------
async function issRequired() {
  const page = await newPage('iss');
  await page.goto(`${AUTH}/ui/#/status`, { waitUntil: 'networkidle0' });
  const said = await page.evaluate(async (iss) => (await (await fetch(`${iss}/.well-known/openid-configuration`)).json())
    .authorization_response_iss_parameter_supported, ISSUER);
  eq('the provider says its answers name their issuer', said, true);
  await page.evaluate(() => sessionStorage.setItem('capv.signin', JSON.stringify({ verifier: 'v'.repeat(43), state: 'st-1', back: '#/status' })));
  const tokenCalls = [];
  page.on('request', (r) => { if (r.url().startsWith(ISSUER) && r.method() === 'POST') tokenCalls.push(r.url()); });
  await page.goto(`${AUTH}/ui/?code=made-up&state=st-1`, { waitUntil: 'networkidle0' });
  const msg = await page.waitForFunction(() => document.querySelector('#main > .notice-error')?.textContent, { timeout: 15000 })
    .then((hd) => hd.jsonValue(), () => '');
  check('a sign-in answer without iss is refused for it', msg.includes('issuer'), msg);
  eq('... before its code is sent to the token endpoint', tokenCalls, []);
  eq('... and the code is gone from the address bar', new URL(page.url()).search, '');
  await page.close();
}

// ---- /ui/config.json refused: an error with a retry, never "authentication off" ---------------
async function limitedConfig() {
  // the page's requests and these share the address 127.0.0.1: its bucket stays empty
  let draining = true;
  const drain = (async () => {
    while (draining) {
      await fetch(`${LIMITED}/ui/config.json`).then((r) => r.arrayBuffer()).catch(() => {});
      await sleep(20);
    }
  })();
  const page = await newPage('limited');
  try {
    await sleep(200);
    await page.goto(`${LIMITED}/ui/#/registry`, { waitUntil: 'load' });
    const shown = await page.waitForSelector('#config-retry', { timeout: 10000 }).then(() => true, () => false);
    const text = await page.evaluate(() => document.body.textContent);
    check('/ui/config.json refused (429): the page says its configuration could not be loaded, with Retry',
      shown && text.includes('429'), text.slice(0, 300));
    const off = /Authentication off|every route is open|No sign-in client/;
    check('... and not that authentication is off', !off.test(text), text.slice(0, 300));
    await page.evaluate(() => { location.hash = '#/status'; });
    await sleep(300);
    const status = await page.evaluate(() => document.body.textContent);
    check('... on another page neither', !off.test(status) && status.includes('429'), status.slice(0, 300));
  } finally {
    draining = false;
    await drain;
  }
  await sleep(1500); // a token is back in the bucket
  await page.click('#config-retry');
  await page.waitForSelector('#signin', { timeout: 10000 });
  check('Retry loads it: not signed in, with the provider\'s sign-in', (await page.$eval('#session', (el) => el.textContent)).includes('Not signed in'));
  await page.close();
}

// ---- faults the daemon does not make: an answer broken off, an answer late --------------------
async function storePolicy(base, yaml) {
  const res = await fetch(`${base}/policy/compile`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ policy_yaml: Buffer.from(yaml).toString('base64'), lint_mode: 'relaxed', persist: true }),
  });
  return res.json();
}

async function faults() {
  const proxy = await faultProxy(OPEN);
  try {
    await faultsThrough(proxy);
  } finally {
    proxy.close();
  }
}

async function faultsThrough(proxy) {
  const page = await newPage('faults');
  // verify: the first answer breaks off while the browser reads it
  await page.goto(`${proxy.url}/ui/#/verify`, { waitUntil: 'networkidle0' });
  proxy.fault('POST', '/verify', { cut: true });
  const input = await page.waitForSelector('#files');
  await input.uploadFile(files.ok, files.fail);
  const settled = (n) => page.waitForFunction((k) => {
    const rows = document.querySelectorAll('#results tbody tr');
    return rows.length === k && [...rows].every((r) => r.querySelector('.badge'));
  }, { timeout: 20000 }, n).then(() => true, () => false);
  const verdicts = () => page.$$eval('#results tbody tr', (trs) => trs.map((r) => (r.querySelector('.badge') || r.cells[1]).textContent));
  const failResult = (await reportOf(OPEN, files.fail)).result;
  await settled(2);
  eq('an answer broken off while the browser reads it: an error row, and the next package verified', await verdicts(), ['error', failResult]);
  await page.click('#results tbody tr:nth-child(1) button');
  const said = await page.waitForSelector('#report .notice', { timeout: 5000 }).then(() => page.$eval('#report', (el) => el.textContent), () => '');
  check('... its report says the daemon could not be reached (unreachable)', said.includes('unreachable'), said);
  const retry = await page.$('#report button.retry');
  check('... with a Retry button', retry !== null);
  if (retry) {
    await retry.click();
    await page.waitForFunction(() => document.querySelector('#results tbody tr:nth-child(1) .badge')?.textContent === 'ok', { timeout: 20000 }).catch(() => {});
    eq('... which verifies it', await verdicts(), ['ok', failResult]);
  }
  await input.uploadFile(files.ok);
  await settled(3);
  eq('... and a package dropped after it is verified (the queue goes on)', (await verdicts())[2], 'ok');

  // registry: a page turn whose answer breaks off
  await page.goto(`${proxy.url}/ui/#/registry`, { waitUntil: 'networkidle0' });
  await page.select('#entries-limit', '10');
  await page.click('form.search[role=search] button[type=submit]');
  await page.waitForFunction(() => document.querySelectorAll('#entries tbody tr').length === 10);
  proxy.fault('GET', '/registry/entries', { cut: true });
  await page.focus('#entries .pager button:last-child');
  await page.keyboard.press('Enter');
  const failed = await page.waitForSelector('#entries .notice-error', { timeout: 10000 }).then(() => true, () => false);
  check('a page turn whose answer breaks off: the error is shown', failed, await page.$eval('#entries', (el) => el.textContent.slice(0, 200)));
  const after = await page.evaluate(() => ({
    buttons: [...document.querySelectorAll('#entries button')].map((b) => b.textContent),
    focus: document.activeElement.textContent,
  }));
  check('... with a Retry button under it', after.buttons.some((t) => t.startsWith('Retry')), JSON.stringify(after.buttons));
  check('... which has the focus (not lost with the pager)', after.focus.startsWith('Retry'), after.focus);
  await page.focus('#manifest-search');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('#entries tbody tr').length === 10);
  await sleep(200);
  eq('... a search after it keeps the focus in the search field (the failed turn does not take it)',
    await page.evaluate(() => document.activeElement.id), 'manifest-search');
  proxy.fault('GET', '/registry/entries', { cut: true });
  await page.focus('#entries .pager button:last-child');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#entries .notice-error', { timeout: 10000 });
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('#entries tbody tr').length === 2, { timeout: 10000 });
  const turned = await page.evaluate(() => [document.querySelector('#entries .pager').textContent, document.activeElement.textContent]);
  eq('... Retry turns the page that failed, the focus on the new pager', turned, ['← Previous page 2 Next →', '← Previous']);

  // policies: Show IR of one, then of another whose answer comes first
  await storePolicy(OPEN, POLICY.replace('ui.test.policy', 'ui.test.second'));
  await page.goto(`${proxy.url}/ui/#/policy`, { waitUntil: 'networkidle0' });
  await page.waitForFunction(() => document.querySelectorAll('#policies tbody tr').length >= 2);
  const pol = await page.$$eval('#policies tbody tr', (trs) => trs.map((r) => [r.cells[0].textContent, r.cells[2].querySelector('code').title]));
  proxy.fault('GET', `/policy/${pol[0][1]}`, { delay: 1500 });
  await page.click('#policies tbody tr:nth-child(1) button');
  await page.click('#policies tbody tr:nth-child(2) button');
  await sleep(2500);
  eq('Show IR twice: the IR shown is the one asked for last, though the other answer came later',
    await page.$eval('#policy-ir h3 code', (el) => el.textContent).catch(() => ''), pol[1][0]);
  // a double click on Compile with "Store" on, the answer slow: one compile, one store
  await setPolicy(page, POLICY);
  await page.click('#persist');
  let compiles = 0;
  page.on('request', (r) => { if (r.url().endsWith('/policy/compile')) compiles++; });
  proxy.fault('POST', '/policy/compile', { delay: 1000 });
  await page.click('.policy-form button[type=submit]', { count: 2 });
  const during = await page.evaluate(() => [document.activeElement.textContent,
    document.querySelector('.policy-form button[type=submit]').getAttribute('aria-disabled')]);
  eq('... while a compile runs, Compile is marked disabled and keeps the focus', during, ['Compile', 'true']);
  await page.waitForFunction(() => document.querySelector('#compile-result pre.ir'));
  await sleep(500);
  eq('a double click on Compile sends one compile (the policy is stored once)', compiles, 1);
  await page.close();
}

// ---- the UI's headers on a page load ----------------------------------------------------------
async function headers() {
  const res = await fetch(`${AUTH}/ui/`);
  const csp = res.headers.get('content-security-policy') || '';
  check('CSP: default-src \'none\'', csp.includes("default-src 'none'"), csp);
  check('CSP: connect-src allows the issuer\'s origin', csp.includes(`connect-src 'self' ${ISSUER}`), csp);
  check('CSP: frame-ancestors \'none\'', csp.includes("frame-ancestors 'none'"), csp);
  check('CSP: no unsafe-inline or unsafe-eval', !/unsafe-(inline|eval)/.test(csp), csp);
}

// A token endpoint elsewhere than ui.token_origin: refused on the page, which stays.
async function tokenOrigin() {
  const page = await newPage('tokens');
  await page.goto(`${TOKENS}/ui/#/registry`, { waitUntil: 'networkidle0' });
  await page.waitForSelector('#signin');
  await page.click('#signin');
  await page.waitForFunction(() => document.querySelector('.signin-status')?.textContent.startsWith('Sign-in failed'));
  const text = await page.$eval('.signin-status', (el) => el.textContent);
  check('a token endpoint on another origin than ui.token_origin: the message names the key',
    text.includes(`token endpoint is on ${ISSUER}`) && text.includes('ui.token_origin'), text);
  check('… and the page stays', page.url().startsWith(`${TOKENS}/ui/`), page.url());
  await page.close();
}

const steps = [['headers', headers], ['verify page', verifyPage], ['unreadable file', unreadableFile], ['body limit', bodyLimit], ['audit log', auditLog], ['no JavaScript', noScript],
  ['policy page', policyPage], ['registry and status', registryAndStatus], ['keyboard', keyboard],
  ['sign-in', signIn], ['data of a sign-in', signInData], ['iss required', issRequired],
  ['configuration refused', limitedConfig], ['faults', faults], ['token origin', tokenOrigin]];
for (const [name, fn] of steps) {
  try {
    await fn();
  } catch (e) {
    bad(`${name} ran to its end`, e.stack.split('\n').slice(0, 3).join(' | '));
  }
}
eq('no dialog opened (alert, confirm, prompt)', events.dialogs, []);
eq('no uncaught error in the pages', events.errors, []);
await browser.close();
consoleLog.end();
// the screenshots exist and are PNGs
for (const s of ['verify', 'policy', 'status', 'registry', 'signin']) {
  const f = path.join(OUT, `${s}.png`);
  check(`screenshot ${s}.png written`, fs.existsSync(f) && fs.readFileSync(f).subarray(1, 4).toString() === 'PNG');
}
process.exit(failures ? 1 : 0);
