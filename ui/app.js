/* SPDX-License-Identifier: Apache-2.0 */
// The CAP Verifier web UI (docs/ui.md): a page per task, routed by the address's fragment
// (#/verify, #/registry, #/policy, #/status), so the daemon serves one document. Loaded as a
// module from this origin only (Content-Security-Policy: default-src 'self').
import * as api from './api.js';
import * as auth from './auth.js';
import { h, replace, notice, announce } from './dom.js';
import * as verify from './verify.js';
import * as registry from './registry.js';
import * as policy from './policy.js';
import * as status from './status.js';

// /ui/config.json, once read: until then the page cannot know whether or how to sign in, so it
// shows nothing but why (never "authentication off")
let config = null;
let configError = null; // the failed answer for /ui/config.json
let main = null;
let banner = null; // a message above the page (sign-in result)

const PAGES = { verify: 'Verify', registry: 'Registry', policy: 'Policies', status: 'Status' };

function route() {
  const hash = location.hash.startsWith('#/') ? location.hash.slice(2) : 'verify';
  const parts = hash.split('/').map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { page: parts[0] || 'verify', arg: parts.slice(1).join('/') };
}

function renderNav(page) {
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.page === page) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function renderSession() {
  const box = document.getElementById('session');
  if (!box) return;
  if (!config) {
    replace(box, h('span.muted', null, configError ? 'Configuration not loaded' : ''));
    return;
  }
  if (!auth.enabled()) {
    replace(box, h('span.muted', null, 'Authentication off'));
    return;
  }
  if (!auth.signedIn()) {
    replace(box, h('a#nav-signin', { href: '#/status' }, 'Not signed in'));
    return;
  }
  const c = auth.claims();
  replace(box,
    h('span#who', null, 'Signed in', c && c.sub ? [' as ', h('strong', null, String(c.sub))] : null),
    ' ',
    h('button#signout', { type: 'button', on: { click: () => auth.signOut() } }, 'Sign out'));
}

// What the page shows while /ui/config.json cannot be read (a 429, the daemon away): why,
// and a Retry.
function renderConfigError(view) {
  const e = configError;
  const retry = h('button#config-retry', {
    type: 'button',
    on: {
      click: (ev) => {
        ev.currentTarget.disabled = true;
        boot(true);
      },
    },
  }, 'Retry');
  replace(view, h('h1', null, 'CAP Verifier'),
    notice('error', h('strong', null, 'The page\'s configuration could not be loaded: '),
      `${e.status ? `${e.status} ` : ''}${e.code}: ${String(e.message).replace(/\.$/, '')}. `,
      'Until it is, the page cannot tell whether or how to sign in.'),
    h('p', null, retry));
}

function render() {
  const { page, arg } = route();
  renderNav(page in PAGES ? page : (page === 'verification' ? 'registry' : ''));
  renderSession();
  document.title = `${PAGES[page] || 'Registry'} · CAP Verifier`;
  const view = h('div.view');
  replace(main, banner, view);
  if (!config) {
    if (configError) renderConfigError(view);
    else replace(view, h('p.muted', null, 'Loading…'));
  } else if (page === 'verify') verify.render(view);
  else if (page === 'registry' && arg.startsWith('entry/')) registry.renderEntry(view, arg.slice(6));
  else if (page === 'registry' && arg.startsWith('search/')) registry.searchManifest(arg.slice(7));
  else if (page === 'registry') registry.render(view);
  else if (page === 'verification' && arg) registry.renderVerification(view, arg);
  else if (page === 'policy') policy.render(view);
  else if (page === 'status') status.render(view, config);
  else replace(view, h('h1', null, 'Not found'), h('p', null, 'No such page. ', h('a', { href: '#/verify' }, 'Verify packages')));
}

const isConfig = (c) => c !== null && typeof c === 'object' && !Array.isArray(c) && typeof c.auth_enabled === 'boolean';

// Reads /ui/config.json, then finishes a sign-in on its way back and draws the page; on a
// failure, draws why with a Retry (`retried`: the Retry pressed keeps the focus on the next).
async function boot(retried = false) {
  const res = await api.call('/ui/config.json');
  if (!res.ok || !isConfig(res.json)) {
    configError = res.ok ? { status: res.status, code: 'unexpected', message: 'the answer is not the UI\'s configuration' } : res;
    render();
    if (retried) document.getElementById('config-retry')?.focus();
    return;
  }
  config = res.json;
  configError = null;
  auth.configure(config);
  verify.configure(config);
  try {
    const msg = await auth.completeSignIn();
    if (msg) banner = notice('error', msg);
  } catch (e) {
    banner = notice('error', `Sign-in failed: ${e.message}`);
  }
  // Signed in, out, or the sign-in ended: the page is drawn anew, the control just used is
  // gone. The focus goes to the page, and the live region says what happened. What the page
  // held for the previous user is forgotten first (auth.onForget).
  auth.onForget(() => {
    verify.forget();
    registry.forget();
    policy.forget();
  });
  auth.onChange(() => {
    banner = null;
    render();
    main.focus();
    announce(auth.signedIn() ? 'Signed in.' : auth.reason() || 'Signed out.');
  });
  render();
  if (retried) main.focus();
}

function start() {
  main = document.getElementById('main');
  // the issuer's answer (?code=…&state=…) leaves the address bar before anything is fetched
  auth.takeCallback();
  // The skip link's own target (#main) would replace the page's route in the fragment:
  // that would render the default page in place of this one. It moves the focus only.
  document.querySelector('.skip').addEventListener('click', (e) => {
    e.preventDefault();
    main.focus();
  });
  window.addEventListener('hashchange', () => {
    banner = null;
    render();
    main.focus();
  });
  document.body.classList.add('js');
  boot();
}

start();
