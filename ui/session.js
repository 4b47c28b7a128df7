/* SPDX-License-Identifier: Apache-2.0 */
// What a page shows instead of its content when the user must sign in, may not use it, or
// the daemon answered an error: a notice, never an exception.
import * as auth from './auth.js';
import { h, notice } from './dom.js';

// The sign-in panel: the issuer's sign-in (with a client id) and a pasted token.
export function signInPanel(what) {
  const why = auth.reason();
  const paste = h('textarea#paste-token', { rows: 3, spellcheck: 'false', autocomplete: 'off', 'aria-describedby': 'paste-help' });
  const pasteForm = h('form.paste', {
    on: {
      submit: (ev) => {
        ev.preventDefault();
        const t = paste.value.trim();
        if (t) auth.setToken(t);
      },
    },
  },
  h('label', { for: 'paste-token' }, 'Access token'),
  paste,
  h('p#paste-help.muted', null, 'For development: a bearer token for this daemon, kept in this page\'s memory only.'),
  h('button', { type: 'submit' }, 'Use this token'));
  const status = h('p.signin-status', { role: 'status' });
  return h('section.signin', { 'aria-labelledby': 'signin-title' },
    h('h2#signin-title', null, 'Sign in'),
    why ? notice('warn', why) : null,
    h('p', null, `Sign in to ${what}.`),
    auth.canSignIn()
      ? h('button#signin.primary', {
        type: 'button',
        on: {
          click: async () => {
            status.textContent = 'Contacting the identity provider…';
            try {
              await auth.signIn();
            } catch (e) {
              status.textContent = `Sign-in failed: ${e.message}`;
            }
          },
        },
      }, 'Sign in with the identity provider')
      : h('p.muted', null, 'No sign-in client is configured (ui.client_id): paste a token.'),
    status,
    h('details', { open: !auth.canSignIn() }, h('summary', null, 'Paste a token instead'), pasteForm));
}

export function notAllowed(scope, what) {
  return h('section.not-allowed', null,
    notice('info', h('strong', null, 'Not allowed. '),
      `Your sign-in does not include the scope `, h('code', null, scope), `, which ${what} needs. `,
      'Ask your administrator for it, or sign in as someone who has it.'));
}

// The sign-in panel when authentication is on and nobody is signed in, else null: a page
// with several sections shows it once.
export function signInNeeded(what) {
  return auth.enabled() && !auth.signedIn() ? signInPanel(what) : null;
}

// null when the user may go on; else what to show instead.
export function gate(scope, what) {
  if (!auth.enabled()) return null;
  if (!auth.signedIn()) return signInPanel(what);
  return auth.allows(scope) === false ? notAllowed(scope, what) : null;
}

// The answer of a failed call, as the user should see it.
export function failure(res, what) {
  if (res.unauthorized) return signInPanel(what);
  if (res.forbidden) return notAllowed(res.scope || 'another scope', what);
  return notice('error', h('strong', null, `${res.status ? `${res.status} ` : ''}${res.code}: `), res.message,
    res.requestId ? h('span.muted', null, ` (request ${res.requestId})`) : null);
}
