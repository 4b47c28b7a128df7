/* SPDX-License-Identifier: Apache-2.0 */
// The CAP Verifier web UI (docs/ui.md): a page per task, routed by the address's fragment
// (#/verify, #/registry, #/policy, #/status), so the daemon serves one document. Loaded as a
// module from this origin only (Content-Security-Policy: default-src 'self').
import * as auth from './auth.js';
import { h, replace, notice } from './dom.js';
import * as verify from './verify.js';
import * as registry from './registry.js';
import * as policy from './policy.js';
import * as status from './status.js';

let config = {
  auth_enabled: false, issuer: null, client_id: null, scopes: '', token_origin: null, version: '',
};
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

function render() {
  const { page, arg } = route();
  renderNav(page in PAGES ? page : (page === 'verification' ? 'registry' : ''));
  renderSession();
  document.title = `${PAGES[page] || 'Registry'} · CAP Verifier`;
  const view = h('div.view');
  replace(main, banner, view);
  if (page === 'verify') verify.render(view);
  else if (page === 'registry' && arg.startsWith('entry/')) registry.renderEntry(view, arg.slice(6));
  else if (page === 'registry' && arg.startsWith('search/')) registry.searchManifest(arg.slice(7));
  else if (page === 'registry') registry.render(view);
  else if (page === 'verification' && arg) registry.renderVerification(view, arg);
  else if (page === 'policy') policy.render(view);
  else if (page === 'status') status.render(view, config);
  else replace(view, h('h1', null, 'Not found'), h('p', null, 'No such page. ', h('a', { href: '#/verify' }, 'Verify packages')));
}

async function start() {
  main = document.getElementById('main');
  try {
    const res = await fetch('/ui/config.json', { cache: 'no-store', credentials: 'same-origin' });
    if (res.ok) config = await res.json();
  } catch {
    // the defaults: no authentication known
  }
  auth.configure(config);
  try {
    const msg = await auth.completeSignIn();
    if (msg) banner = notice('error', msg);
  } catch (e) {
    banner = notice('error', `Sign-in failed: ${e.message}`);
  }
  // Signed in, out, or the sign-in ended: the page is drawn anew, the control just used is
  // gone. The focus goes to the page, and a live region that was there before says what
  // happened (one inserted with its text is not read out).
  const announce = document.getElementById('announce');
  auth.onChange(() => {
    banner = null;
    render();
    main.focus();
    if (announce) {
      announce.textContent = auth.signedIn() ? 'Signed in.' : auth.reason() || 'Signed out.';
    }
  });
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
  render();
}

start();
